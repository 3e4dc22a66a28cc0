"""Facts: the set-based aggregates indicators are formed from. Each fact is one SQL statement over the
platform's tables for one community and one period, grouped by the organisations it can be attributed to, so the
database does the counting and Python only sees a few hundred aggregate rows. A computation reads each fact at most
once (`Period` caches them), however many indicators use it.

Periods are half-open [start, end) in local (Asia/Shanghai) dates; an encounter belongs to the period it started
in (an admission to the period of admission), a discharge to the period it ended in, a referral to the period it
was requested in, an exam to the period its first report was published in.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.db import connection
from django.db.models import Count, Q, Sum
from django.utils import timezone

from countycare.core import percentiles
from countycare.core.codes import (
    BRANCH_TYPES,
    GRASSROOTS_TYPES,
    InsuranceScheme,
    Level,
    OrganizationType,
    PostingKind,
    Title,
)
from countycare.diagnostics import queries as diagnostics_queries
from countycare.diagnostics.models import Centre, CentreKind, ExamRequest, ExamStatus, RecognitionCheck
from countycare.records.models import Encounter, EncounterKind, EncounterSource, EncounterStatus
from countycare.referrals.models import Referral
from countycare.registry.models import Organization, Posting, Resident

# Titles of attending rank or above (主治医师及以上).
SENIOR_TITLES = (Title.CHIEF_PHYSICIAN, Title.ASSOCIATE_CHIEF_PHYSICIAN, Title.ATTENDING_PHYSICIAN)


@dataclass(frozen=True)
class Turnaround:
    reported: int
    p50_minutes: float | None
    p95_minutes: float | None
    within_target: int


def _minutes(value: object) -> float | None:
    return None if value is None else round(float(value), 2)


@dataclass(frozen=True)
class Org:
    id: int
    name: str
    org_type: str
    level: str
    parent_id: int | None
    is_member: bool
    active: bool

    @property
    def is_village(self) -> bool:
        return self.org_type == OrganizationType.VILLAGE_CLINIC

    @property
    def is_branch(self) -> bool:
        return self.org_type in BRANCH_TYPES


def local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_default_timezone())


def year_earlier(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


@dataclass
class Period:
    """One community and one period [start, end) with the facts read for it so far."""

    community_id: int
    start: dt.date
    end: dt.date
    _prior: Period | None = field(default=None, repr=False)

    @property
    def since(self) -> dt.datetime:
        return local_midnight(self.start)

    @property
    def until(self) -> dt.datetime:
        return local_midnight(self.end)

    def prior_year(self) -> Period:
        """The same period a year earlier (for changes and growth)."""
        if self._prior is None:
            self._prior = Period(self.community_id, year_earlier(self.start), year_earlier(self.end))
        return self._prior

    @cached_property
    def first_activity(self) -> dt.datetime | None:
        """When the platform's clinical record of this community begins (its first encounter recorded at a member;
        claims may reach further back than the record and would make a part-recorded year look complete)."""
        return (Encounter.objects.filter(community_id=self.community_id, source=EncounterSource.CLINICAL)
                .exclude(status=EncounterStatus.CANCELLED).order_by("started_at")
                .values_list("started_at", flat=True).first())

    def fully_recorded(self) -> bool:
        """Whether the platform holds the whole period: its record began on or before the period's start."""
        return self.first_activity is not None and self.first_activity < self.since + dt.timedelta(days=1)

    # --- organisations -------------------------------------------------------------------------------------

    @cached_property
    def orgs(self) -> dict[int, Org]:
        return {row[0]: Org(*row) for row in Organization.objects.filter(community_id=self.community_id).order_by()
                .values_list("id", "name", "org_type", "level", "parent_id", "is_member", "active")}

    # --- encounters ----------------------------------------------------------------------------------------

    @cached_property
    def encounters(self) -> list[dict[str, Any]]:
        """Encounters started in the period (not entered in error), by the resident's home organisation and the
        organisation that gave the care: visits (every kind, an admission counts once), of which in the county,
        at the grassroots, TCM; admissions of insured residents (the national indicator's population), of which in
        the county."""
        in_county = ~Q(organization__level=Level.OUTSIDE)
        inpatient = Q(kind=EncounterKind.INPATIENT) & ~Q(resident__insurance_scheme=InsuranceScheme.NONE)
        return list(
            Encounter.objects.filter(community_id=self.community_id, started_at__gte=self.since,
                                     started_at__lt=self.until)
            .exclude(status=EncounterStatus.CANCELLED)
            .values("resident__home_organization_id", "organization_id")
            .annotate(visits=Count("id"),
                      in_county=Count("id", filter=in_county),
                      grassroots=Count("id", filter=Q(organization__org_type__in=GRASSROOTS_TYPES)),
                      tcm=Count("id", filter=Q(is_tcm=True) & in_county),
                      admissions=Count("id", filter=inpatient),
                      admissions_in_county=Count("id", filter=inpatient & in_county))
            .order_by())

    def encounters_by(self, attribution: str, num: str, den: str) -> dict[int, tuple[Decimal, Decimal]]:
        key = "resident__home_organization_id" if attribution == "residence" else "organization_id"
        out: dict[int, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
        for row in self.encounters:
            pair = out[row[key]]
            pair[0] += row[num]
            pair[1] += row[den]
        return {org: (n, d) for org, (n, d) in out.items()}

    @cached_property
    def discharges(self) -> dict[int, tuple[int, Decimal]]:
        """Inpatient stays discharged in the period at in-county organisations: {org: (stays, total cost)}."""
        rows = (Encounter.objects.filter(community_id=self.community_id, kind=EncounterKind.INPATIENT,
                                         status=EncounterStatus.FINISHED, ended_at__gte=self.since,
                                         ended_at__lt=self.until)
                .exclude(organization__level=Level.OUTSIDE)
                .values_list("organization_id").annotate(n=Count("id"), cost=Sum("cost_total")).order_by())
        return {org: (n, cost or Decimal(0)) for org, n, cost in rows}

    # --- people --------------------------------------------------------------------------------------------

    @cached_property
    def population(self) -> dict[int, int]:
        """Residents by home organisation (the registry as it stands: it keeps no history of moves)."""
        return dict(Resident.objects.filter(community_id=self.community_id, merged_into__isnull=True)
                    .values_list("home_organization_id").annotate(n=Count("id")).order_by())

    def per_population(self, numerators: dict[int, Decimal | int]) -> dict[int, tuple[Decimal, Decimal]]:
        """Numerators by organisation over the population homed there (every populated unit gets a row)."""
        keys = set(numerators) | set(self.population)
        return {org: (Decimal(numerators.get(org, 0)), Decimal(self.population.get(org, 0))) for org in keys}

    # --- referrals -----------------------------------------------------------------------------------------

    @cached_property
    def referrals(self) -> list[tuple[int, int, str, str, int]]:
        """Referrals requested in the period: (from organisation, to organisation, kind, status, count)."""
        return list(Referral.objects.filter(community_id=self.community_id, requested_at__gte=self.since,
                                            requested_at__lt=self.until)
                    .values_list("from_organization_id", "to_organization_id", "kind", "status")
                    .annotate(n=Count("id")).order_by())

    def referral_counts(self, *, by: str = "from", where: Any = None, of: Any = None
                        ) -> dict[int, tuple[Decimal, Decimal]]:
        """Referrals by sending (`by="from"`) or receiving organisation: numerator those matching `where`,
        denominator those matching `of` (all, when None). Both are predicates over (from org, to org, kind,
        status)."""
        out: dict[int, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
        for from_org, to_org, kind, status, n in self.referrals:
            row = (self.orgs[from_org], self.orgs[to_org], kind, status)
            if of is not None and not of(*row):
                continue
            pair = out[from_org if by == "from" else to_org]
            pair[1] += n
            if where is None or where(*row):
                pair[0] += n
        return {org: (n, d) for org, (n, d) in out.items()}

    # --- diagnostic centres --------------------------------------------------------------------------------

    @cached_property
    def centres(self) -> list[Centre]:
        return list(Centre.objects.filter(community_id=self.community_id).order_by("kind", "id"))

    @cached_property
    def turnaround(self) -> dict[int, Turnaround]:
        """Each centre's turnaround (acquired → first report, minutes) for reports published in the period: how
        many, p50, p95 and how many within the centre's target for the priority the worklist used — the
        definitions of the centre's own board (`diagnostics.queries.turnaround`), for every centre in one
        statement. PostgreSQL's percentile_cont; on SQLite the same interpolation with window functions."""
        vendor = "postgresql" if connection.vendor == "postgresql" else "sqlite"
        ops = connection.ops
        rank = "e." + ops.quote_name("rank")
        minutes = diagnostics_queries.MINUTES[vendor].replace("reported_at", "e.reported_at").replace(
            "acquired_at", "e.acquired_at")
        base = (f"SELECT e.centre_id AS grp, {minutes} AS m, CASE WHEN {rank} >= 2000 THEN c.target_stat_minutes "
                f"WHEN {rank} >= 1000 THEN c.target_urgent_minutes ELSE c.target_routine_minutes END AS target "
                f"FROM {ExamRequest._meta.db_table} e JOIN {Centre._meta.db_table} c ON c.id = e.centre_id "
                f"WHERE e.community_id = %s AND e.reported_at >= %s AND e.reported_at < %s "
                f"AND e.acquired_at IS NOT NULL")
        with connection.cursor() as cursor:
            cursor.execute(percentiles.sql(base, vendor), [self.community_id, ops.adapt_datetimefield_value(self.since),
                                 ops.adapt_datetimefield_value(self.until)])
            found = {row[0]: row[1:] for row in cursor.fetchall()}
        out = {}
        for centre in self.centres:
            n, p50, p95, within = found.get(centre.pk, (0, None, None, 0))
            out[centre.pk] = Turnaround(int(n or 0), _minutes(p50), _minutes(p95), int(within or 0))
        return out

    @cached_property
    def remote_reports(self) -> dict[int, int]:
        """Exams first reported in the period by a centre hosted elsewhere than the requesting organisation
        (远程诊断), by requesting organisation."""
        from django.db.models import F

        return dict(ExamRequest.objects.filter(community_id=self.community_id, reported_at__gte=self.since,
                                               reported_at__lt=self.until)
                    .exclude(requesting_organization_id=F("centre__organization_id"))
                    .values_list("requesting_organization_id").annotate(n=Count("id")).order_by())

    @cached_property
    def village_ecg(self) -> set[int]:
        """Village clinics that requested at least one ECG in the period (not cancelled)."""
        return set(ExamRequest.objects.filter(
            community_id=self.community_id, requested_at__gte=self.since, requested_at__lt=self.until,
            centre__kind=CentreKind.ECG, requesting_organization__org_type=OrganizationType.VILLAGE_CLINIC)
            .exclude(status=ExamStatus.CANCELLED).values_list("requesting_organization_id", flat=True).distinct())

    @cached_property
    def recognition(self) -> dict[int, tuple[int, int]]:
        """Recognised results met when ordering, by ordering organisation: (used instead of a repeat, all)."""
        rows = (RecognitionCheck.objects.filter(community_id=self.community_id, at__gte=self.since,
                                                at__lt=self.until)
                .values_list("organization_id").annotate(avoided=Count("id", filter=Q(decision="avoided")),
                                                         n=Count("id")).order_by())
        return {org: (avoided, n) for org, avoided, n in rows}

    # --- people posted down --------------------------------------------------------------------------------

    @cached_property
    def posted_seniors(self) -> dict[int, int]:
        """Lead-hospital doctors of attending rank or above posted to each branch (县管乡用, multi-site) for
        any part of the period: {branch: distinct doctors}."""
        lead_home = Posting.objects.filter(kind=PostingKind.HOME,
                                           organization__org_type=OrganizationType.LEAD_HOSPITAL,
                                           organization__community_id=self.community_id)
        return dict(
            Posting.objects.filter(organization__community_id=self.community_id,
                                   organization__org_type__in=BRANCH_TYPES,
                                   kind__in=(PostingKind.COUNTY_TO_TOWNSHIP, PostingKind.MULTI_SITE),
                                   practitioner__title__in=SENIOR_TITLES,
                                   practitioner_id__in=lead_home.values("practitioner_id"),
                                   start__lt=self.end)
            .filter(Q(end__isnull=True) | Q(end__gte=self.start))
            .values_list("organization_id").annotate(n=Count("practitioner_id", distinct=True)).order_by())
