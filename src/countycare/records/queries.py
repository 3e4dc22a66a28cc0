"""Scoped reads of the shared record. Residents are filtered through the one scope (`core.scope`, via
`registry.queries.visible_residents`); every function that hands out patient data writes the audit trail.

An organisation also sees the encounters that took place at it (a lead-hospital clinician sees the
hospital's own patients of the day); the record beyond that — the timeline across every member — needs the
resident in scope.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Case, F, IntegerField, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from countycare.core import audit
from countycare.core.codes import AGGREGATE_ONLY_ROLES, CLINICAL_ROLES
from countycare.core.errors import InvalidInput, NotFound
from countycare.registry import queries as registry_queries
from countycare.registry.models import Resident
from countycare.registry.scope import posted_organization_ids

from . import vitals
from .icd10 import normalize_code
from .models import (
    Diagnosis,
    Encounter,
    EncounterKind,
    EncounterStatus,
    Icd10Code,
    Observation,
    Problem,
    ProblemStatus,
)

MAX_TIMELINE = 500
CODE_PREFIX = re.compile(r"^[A-Za-z][0-9][0-9A-Za-z.]*$")
LATIN = re.compile(r"^[A-Za-z]+$")


@dataclass(frozen=True)
class TimelineItem:
    """One line of a resident's timeline. `obj` is the model instance it shows (Encounter, Diagnosis, Problem,
    Observation, or an upper app's own: a Referral, a CarePlan)."""

    at: dt.datetime
    kind: str  # "encounter" | "diagnosis" | "problem" | "observation" | "referral" | ...
    title: str
    detail: str = ""
    organization: str = ""
    url: str | None = None
    obj: Any = None


TimelineSource = Callable[[Resident, "dt.datetime | None", int], list[TimelineItem]]
_sources: list[TimelineSource] = []
# Items at the same moment: the encounter before what was recorded at it.
KIND_ORDER = {"encounter": 0, "diagnosis": 1, "observation": 2, "problem": 3}


def register_timeline_source(source: TimelineSource) -> TimelineSource:
    """Add an upper app's items (referrals, care plans) to every timeline: `source(resident, before, limit)`
    returns at most `limit` items dated before `before` (all when None), newest first. Keep it to a fixed
    number of indexed queries: the timeline has a speed target."""
    if source not in _sources:
        _sources.append(source)
    return source


# --- scope ------------------------------------------------------------------------------------------------

def resident_for_record(user: Any, resident_uuid: object) -> Resident:
    """A resident in the user's scope, to read or write their record (403 for the bureau, 404 outside scope).
    Not audited: the caller audits what it then shows or writes."""
    registry_queries.require_patient_access(user)
    resident = (registry_queries.visible_residents(user).select_related("home_organization")
                .filter(uuid=registry_queries.parse_uuid(resident_uuid)).first())
    if resident is None:
        raise NotFound("未找到该居民，或不在您的管辖范围内 (resident not found or outside your scope)")
    return resident


def _check_visible(user: Any, resident: Resident) -> None:
    registry_queries.require_patient_access(user)
    if not registry_queries.visible_residents(user).filter(pk=resident.pk).exists():
        raise NotFound("未找到该居民，或不在您的管辖范围内 (resident not found or outside your scope)")


def visible_encounters(user: Any) -> QuerySet[Encounter]:
    """Encounters of residents in the user's scope, and (for clinicians) those at organisations they are
    posted to. Not audited: callers audit the rows they hand out."""
    if user is None or not getattr(user, "is_authenticated", False) or user.role in AGGREGATE_ONLY_ROLES:
        return Encounter.objects.none()
    condition = Q(resident__in=registry_queries.visible_residents(user).values("pk"))
    if user.role in CLINICAL_ROLES:
        condition |= Q(organization_id__in=sorted(posted_organization_ids(user)))
    return Encounter.objects.filter(condition)


def audit_encounters(user: Any, encounters: Iterable[Encounter], *, channel: str, reason: str = "",
                     action: str = "read") -> None:
    """Audit a list of encounters shown (a day list, a search)."""
    audit.record_many(audit.Actor.of(user, channel), [
        audit.Entry(action, "Encounter", str(e.uuid), str(e.resident.uuid), reason=reason) for e in encounters
    ])


def get_encounter(user: Any, encounter_uuid: object, *, channel: str, reason: str = "") -> Encounter:
    """One encounter with its diagnoses, observations and orders; 404 outside scope; the read is audited."""
    registry_queries.require_patient_access(user)
    try:
        wanted = registry_queries.parse_uuid(encounter_uuid)
    except NotFound:
        raise NotFound("未找到该就诊记录 (encounter not found)") from None
    encounter = (
        visible_encounters(user)
        .select_related("resident", "organization", "department", "practitioner")
        .prefetch_related(
            "diagnoses",
            Prefetch("observations", queryset=Observation.objects.order_by("effective_at", "code")),
            "orders",
        )
        .filter(uuid=wanted)
        .first()
    )
    if encounter is None:
        raise NotFound("未找到该就诊记录，或不在您的管辖范围内 (encounter not found or outside your scope)")
    audit.record(audit.Actor.of(user, channel), "read", "Encounter", encounter.uuid,
                 resident_id=encounter.resident.uuid, reason=reason)
    return encounter


def todays_encounters(user: Any, day: dt.date | None = None) -> QuerySet[Encounter]:
    """The encounters of a day (Asia/Shanghai) at the organisations the user is posted to, and their
    inpatients still in the ward, oldest first. Not audited: audit what you show (`audit_encounters`)."""
    registry_queries.require_patient_access(user)
    day = day or timezone.localdate()
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    end = start + dt.timedelta(days=1)
    orgs = sorted(posted_organization_ids(user, day))
    that_day = Q(started_at__gte=start, started_at__lt=end)
    still_in = Q(kind=EncounterKind.INPATIENT, status=EncounterStatus.IN_PROGRESS, started_at__lt=end)
    return (
        Encounter.objects.filter(organization_id__in=orgs)
        .filter(that_day | still_in)
        .exclude(status=EncounterStatus.CANCELLED)
        .select_related("resident", "organization", "department", "practitioner")
        .prefetch_related(Prefetch("diagnoses", queryset=Diagnosis.objects.filter(is_primary=True)))
        .order_by("started_at", "id")
    )


# --- the problem list -------------------------------------------------------------------------------------

def active_problems(user: Any, resident: Resident, *, channel: str = "web") -> list[Problem]:
    _check_visible(user, resident)
    problems = list(
        Problem.objects.filter(resident=resident, status=ProblemStatus.ACTIVE)
        .select_related("organization", "practitioner")
        .order_by("recorded_at", "id")
    )
    audit.record(audit.Actor.of(user, channel), "read", "ProblemList", resident.uuid, resident_id=resident.uuid,
                 detail={"problems": len(problems)})
    return problems


def get_problem(user: Any, problem_uuid: object) -> Problem:
    """A problem-list entry of a resident in scope (for resolving it); 404 otherwise."""
    registry_queries.require_patient_access(user)
    try:
        wanted = registry_queries.parse_uuid(problem_uuid)
    except NotFound:
        raise NotFound("未找到该问题 (problem not found)") from None
    problem = (Problem.objects.filter(uuid=wanted, resident__in=registry_queries.visible_residents(user).values("pk"))
               .select_related("resident").first())
    if problem is None:
        raise NotFound("未找到该问题 (problem not found)")
    return problem


# --- the timeline -----------------------------------------------------------------------------------------

def timeline(user: Any, resident: Resident, *, channel: str, before: dt.datetime | None = None,
             limit: int = 100, reason: str = "") -> list[TimelineItem]:
    """The resident's record across every member organisation, newest first: encounters (with the vital
    signs taken at them), diagnoses, problems, results recorded on their own, and what upper apps register
    (referrals, care plans). `before` pages back. A fixed number of indexed queries, whatever the history
    (one more when a diagnosis or result on the page belongs to a visit that is not)."""
    _check_visible(user, resident)
    limit = max(1, min(int(limit), MAX_TIMELINE))
    before = _utc(before) if before is not None else None
    page = _Page(before, limit)
    encounters = page.read(_encounters(resident, page, limit), "started_at")
    diagnoses = page.read(_diagnoses(resident, page, limit), "recorded_at")
    results = page.read(_results(resident, page, limit), "effective_at")
    problems = page.read(_problems(resident, page, limit), "recorded_at")
    by_id = _with_their_encounters(encounters, [*diagnoses, *results])
    items = [
        *_encounter_items(encounters),
        *_diagnosis_items(diagnoses, by_id),
        *_result_items(results),
        *_problem_items(problems),
    ]
    for source in _sources:
        items.extend(source(resident, before, limit))
    items.sort(key=lambda item: (-item.at.timestamp(), KIND_ORDER.get(item.kind, 9)))
    items = items[:limit]
    audit.record(audit.Actor.of(user, channel), "read", "Timeline", resident.uuid, resident_id=resident.uuid,
                 reason=reason, detail={"items": len(items), "before": before.isoformat() if before else None})
    return items


def _utc(moment: dt.datetime) -> dt.datetime:
    """In UTC as the database compares it; a bound beyond what UTC can hold becomes the earliest or latest."""
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:
        return (dt.datetime.min if moment.year < 1000 else dt.datetime.max).replace(tzinfo=dt.UTC)


class _Page:
    """The time window one page of the timeline can hold: before `before`, and — once `limit` rows have been
    read — not older than the limit-th newest of them, since nothing older can make the page."""

    def __init__(self, before: dt.datetime | None, limit: int) -> None:
        self.before = before
        self.since: dt.datetime | None = None
        self.limit = limit
        self.times: list[dt.datetime] = []

    def within(self, field: str) -> Q:
        q = Q(**{f"{field}__lt": self.before}) if self.before is not None else Q()
        return q & Q(**{f"{field}__gte": self.since}) if self.since is not None else q

    def read(self, rows: Iterable[Any], field: str) -> list[Any]:
        rows = list(rows)
        self.times.extend(getattr(row, field) for row in rows)
        if len(self.times) >= self.limit:
            self.times = sorted(self.times, reverse=True)[: self.limit]
            self.since = self.times[-1]
        return rows


def _number(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def vital_signs_summary(observations: Iterable[Any]) -> str:
    """"血压 150/95 mmHg，心率 72 次/分": the measurements of a visit in one line."""
    by_code = {o.code: o for o in observations}
    parts = []
    systolic, diastolic = by_code.pop(vitals.SYSTOLIC, None), by_code.pop(vitals.DIASTOLIC, None)
    if systolic and diastolic:
        label = _("Blood pressure")
        parts.append(f"{label} {_number(systolic.value_quantity)}/{_number(diastolic.value_quantity)} mmHg")
    else:
        by_code.update({o.code: o for o in (systolic, diastolic) if o})
    parts.extend(f"{o.display} {observation_value(o)}" for o in by_code.values())
    return "，".join(parts)


def observation_value(observation: Any) -> str:
    """"7.8 mmol/L", "阴性": the value as a clinician writes it."""
    measure = vitals.MEASURES.get(observation.code)
    unit = measure.unit_display if measure else observation.unit
    if observation.value_quantity is None:
        return observation.value_text
    return f"{_number(observation.value_quantity)} {unit}".strip()


# What the timeline reads of each row: building model instances is most of its time, so long texts (the
# clinical note) and columns no item shows stay in the database until someone asks for them, and a
# diagnosis's or result's encounter is the one already read for the page.
ENCOUNTER_FIELDS = ("uuid", "community", "resident", "organization__name", "department__name", "practitioner",
                    "kind", "status", "source", "started_at", "ended_at", "ward", "chief_complaint", "is_tcm",
                    "version")
DIAGNOSIS_FIELDS = ("uuid", "community", "resident", "encounter", "code", "display", "is_primary", "recorded_at",
                    "practitioner")
PROBLEM_FIELDS = ("uuid", "community", "resident", "code", "display", "status", "onset_date", "recorded_at",
                  "resolved_at", "organization__name", "practitioner", "source_diagnosis", "version")
RESULT_FIELDS = ("uuid", "community", "resident", "encounter", "category", "code", "display", "value_quantity",
                 "unit", "value_text", "reference_low", "reference_high", "interpretation", "status", "effective_at",
                 "practitioner", "organization")


def _encounters(resident: Resident, page: _Page, limit: int) -> QuerySet[Encounter]:
    return (
        Encounter.objects.filter(page.within("started_at"), resident=resident)
        .exclude(status=EncounterStatus.CANCELLED)
        .select_related("organization", "department")
        .only(*ENCOUNTER_FIELDS)
        .order_by("-started_at", "-id")[:limit]
    )


def _diagnoses(resident: Resident, page: _Page, limit: int) -> QuerySet[Diagnosis]:
    return (
        Diagnosis.objects.filter(page.within("recorded_at"), resident=resident)
        .exclude(encounter__status=EncounterStatus.CANCELLED)
        .only(*DIAGNOSIS_FIELDS)
        .order_by("-recorded_at", "-is_primary", "id")[:limit]
    )


def _results(resident: Resident, page: _Page, limit: int) -> QuerySet[Observation]:
    """Results on their own: not measured at a visit's start (those are shown with the visit)."""
    return (
        Observation.objects.filter(page.within("effective_at"), resident=resident)
        .exclude(encounter__isnull=False, effective_at=F("encounter__started_at"))
        .exclude(status="cancelled")
        .only(*RESULT_FIELDS)
        .annotate(organization_name=F("organization__name"))
        .order_by("-effective_at", "-id")[:limit]
    )


def _problems(resident: Resident, page: _Page, limit: int) -> QuerySet[Problem]:
    return (
        Problem.objects.filter(page.within("recorded_at"), resident=resident)
        .select_related("organization")
        .only(*PROBLEM_FIELDS)
        .order_by("-recorded_at", "-id")[:limit]
    )


def _with_their_encounters(encounters: list[Encounter], entries: list[Any]) -> dict[int, Encounter]:
    """Encounters by id, and each diagnosis's or result's encounter set on it (read in one query if the page
    does not hold it), so showing `entry.encounter` costs nothing more."""
    by_id = {e.pk: e for e in encounters}
    missing = {entry.encounter_id for entry in entries if entry.encounter_id and entry.encounter_id not in by_id}
    if missing:
        by_id.update((e.pk, e) for e in Encounter.objects.filter(pk__in=sorted(missing))
                     .select_related("organization", "department").only(*ENCOUNTER_FIELDS))
    for entry in entries:
        if entry.encounter_id:
            entry.encounter = by_id[entry.encounter_id]
    return by_id


@dataclass(frozen=True)
class _Measure:
    """A measurement taken at a visit, as much of it as the visit's line shows."""

    code: str
    display: str
    value_quantity: Decimal | None
    unit: str
    value_text: str


def _visit_measures(encounters: list[Encounter]) -> dict[int, list[_Measure]]:
    """The measurements taken at each visit's start (one query, no model instances)."""
    started = {e.pk: e.started_at for e in encounters}
    if not started:
        return {}
    rows = (Observation.objects.filter(encounter_id__in=list(started)).exclude(status="cancelled")
            .values_list("encounter_id", "effective_at", "code", "display", "value_quantity", "unit", "value_text")
            .order_by("code"))
    measures: dict[int, list[_Measure]] = {}
    for encounter_id, effective_at, *values in rows:
        if effective_at == started[encounter_id]:
            measures.setdefault(encounter_id, []).append(_Measure(*values))
    return measures


def _encounter_items(encounters: list[Encounter]) -> list[TimelineItem]:
    measures = _visit_measures(encounters)
    kinds = {kind: str(label) for kind, label in EncounterKind.choices}  # get_kind_display translates them all
    items = []
    for e in encounters:
        details = [e.chief_complaint, vital_signs_summary(measures.get(e.pk, []))]
        if e.kind == EncounterKind.INPATIENT:
            details.append(_("Ward %(ward)s") % {"ward": e.ward} if e.ward else "")
            if e.ended_at is not None:
                details.append(_("discharged %(date)s after %(days)d day(s)") % {
                    "date": timezone.localtime(e.ended_at).strftime("%Y-%m-%d"), "days": e.length_of_stay_days})
            else:
                details.append(_("in hospital"))
        items.append(TimelineItem(e.started_at, "encounter", kinds.get(e.kind, e.kind),
                                  "；".join(d for d in details if d), _place(e), None, e))
    return items


def _place(encounter: Encounter) -> str:
    return encounter.organization.name + (f" {encounter.department.name}" if encounter.department_id else "")


def _diagnosis_items(diagnoses: list[Diagnosis], encounters: dict[int, Encounter]) -> list[TimelineItem]:
    primary, secondary = _("Primary diagnosis"), _("Secondary diagnosis")
    return [
        TimelineItem(d.recorded_at, "diagnosis", f"{d.code} {d.display}", primary if d.is_primary else secondary,
                     encounters[d.encounter_id].organization.name, None, d)
        for d in diagnoses
    ]


def _result_items(results: list[Observation]) -> list[TimelineItem]:
    items = []
    for o in results:
        value = observation_value(o)
        flag = {"H": "↑", "L": "↓", "HH": "↑↑", "LL": "↓↓"}.get(o.interpretation, "")
        items.append(TimelineItem(o.effective_at, "observation", o.display, f"{value} {flag}".strip(),
                                  o.organization_name or "", None, o))
    return items


def _problem_items(problems: list[Problem]) -> list[TimelineItem]:
    active = _("On the problem list")
    return [
        TimelineItem(p.recorded_at, "problem", f"{p.code} {p.display}",
                     active if p.status == ProblemStatus.ACTIVE
                     else _("Resolved %(date)s") % {"date": timezone.localtime(p.resolved_at).strftime("%Y-%m-%d")}
                     if p.resolved_at else _("Resolved"),
                     p.organization.name if p.organization_id else "", None, p)
        for p in problems
    ]


# --- ICD-10 -----------------------------------------------------------------------------------------------

def search_icd10(q: str, limit: int = 20) -> list[Icd10Code]:
    """Active codes matching a code prefix ("I1"), a Chinese name part ("高血压") or pinyin initials ("gxy"),
    the exact code first, then code prefixes, then an exact name, then the rest, each by code."""
    text = "".join((q or "").split())
    if not text:
        return []
    if "\x00" in text:
        raise InvalidInput("搜索内容含空字符 (the search text contains a NUL character)", field="q")
    limit = max(1, min(int(limit), 100))
    code = normalize_code(text)
    condition = Q()
    if CODE_PREFIX.match(text) or LATIN.match(text) and len(text) == 1:
        condition |= Q(code__startswith=code)
    if LATIN.match(text):
        condition |= Q(initials__contains=text.lower())
    if not CODE_PREFIX.match(text) and not LATIN.match(text):
        condition |= Q(name__contains=text)
    rank = Case(
        When(code=code, then=Value(0)),
        When(code__startswith=code, then=Value(1)),
        When(name=text, then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )
    return list(Icd10Code.objects.filter(condition, active=True).annotate(rank=rank).order_by("rank", "code")[:limit])
