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
    (referrals, care plans). `before` pages back. A fixed number of indexed queries, whatever the history."""
    _check_visible(user, resident)
    limit = max(1, min(int(limit), MAX_TIMELINE))
    before = _utc(before) if before is not None else None
    items = [
        *_encounter_items(resident, before, limit),
        *_diagnosis_items(resident, before, limit),
        *_problem_items(resident, before, limit),
        *_observation_items(resident, before, limit),
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


def _before(field: str, before: dt.datetime | None) -> Q:
    return Q(**{f"{field}__lt": before}) if before is not None else Q()


def _number(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def vital_signs_summary(observations: Iterable[Observation]) -> str:
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


def observation_value(observation: Observation) -> str:
    """"7.8 mmol/L", "阴性": the value as a clinician writes it."""
    measure = vitals.MEASURES.get(observation.code)
    unit = measure.unit_display if measure else observation.unit
    if observation.value_quantity is None:
        return observation.value_text
    return f"{_number(observation.value_quantity)} {unit}".strip()


def _encounter_items(resident: Resident, before: dt.datetime | None, limit: int) -> list[TimelineItem]:
    encounters = (
        Encounter.objects.filter(_before("started_at", before), resident=resident)
        .exclude(status=EncounterStatus.CANCELLED)
        .select_related("organization", "department", "practitioner")
        .prefetch_related(Prefetch("observations", queryset=Observation.objects.order_by("code")))
        .order_by("-started_at", "-id")[:limit]
    )
    items = []
    for e in encounters:
        at_visit = [o for o in e.observations.all() if o.effective_at == e.started_at]
        details = [e.chief_complaint, vital_signs_summary(at_visit)]
        if e.kind == EncounterKind.INPATIENT:
            details.append(_("Ward %(ward)s") % {"ward": e.ward} if e.ward else "")
            if e.ended_at is not None:
                details.append(_("discharged %(date)s after %(days)d day(s)") % {
                    "date": timezone.localtime(e.ended_at).strftime("%Y-%m-%d"), "days": e.length_of_stay_days})
            else:
                details.append(_("in hospital"))
        place = e.organization.name + (f" {e.department.name}" if e.department_id else "")
        items.append(TimelineItem(e.started_at, "encounter", str(e.get_kind_display()),
                                  "；".join(d for d in details if d), place, None, e))
    return items


def _diagnosis_items(resident: Resident, before: dt.datetime | None, limit: int) -> list[TimelineItem]:
    diagnoses = (
        Diagnosis.objects.filter(_before("recorded_at", before), resident=resident)
        .exclude(encounter__status=EncounterStatus.CANCELLED)
        .select_related("encounter__organization")
        .defer("encounter__note")  # a long text the item does not show
        .order_by("-recorded_at", "-is_primary", "id")[:limit]
    )
    return [
        TimelineItem(d.recorded_at, "diagnosis", f"{d.code} {d.display}",
                     _("Primary diagnosis") if d.is_primary else _("Secondary diagnosis"),
                     d.encounter.organization.name, None, d)
        for d in diagnoses
    ]


def _problem_items(resident: Resident, before: dt.datetime | None, limit: int) -> list[TimelineItem]:
    problems = (
        Problem.objects.filter(_before("recorded_at", before), resident=resident)
        .select_related("organization")
        .order_by("-recorded_at", "-id")[:limit]
    )
    return [
        TimelineItem(p.recorded_at, "problem", f"{p.code} {p.display}",
                     _("On the problem list") if p.status == ProblemStatus.ACTIVE
                     else _("Resolved %(date)s") % {"date": timezone.localtime(p.resolved_at).strftime("%Y-%m-%d")}
                     if p.resolved_at else _("Resolved"),
                     p.organization.name if p.organization_id else "", None, p)
        for p in problems
    ]


def _observation_items(resident: Resident, before: dt.datetime | None, limit: int) -> list[TimelineItem]:
    """Results on their own: not measured at a visit's start (those are shown with the visit)."""
    observations = (
        Observation.objects.filter(_before("effective_at", before), resident=resident)
        .exclude(encounter__isnull=False, effective_at=F("encounter__started_at"))
        .exclude(status="cancelled")
        .select_related("organization")
        .order_by("-effective_at", "-id")[:limit]
    )
    items = []
    for o in observations:
        value = observation_value(o)
        flag = {"H": "↑", "L": "↓", "HH": "↑↑", "LL": "↓↓"}.get(o.interpretation, "")
        items.append(TimelineItem(o.effective_at, "observation", o.display, f"{value} {flag}".strip(),
                                  o.organization.name if o.organization_id else "", None, o))
    return items


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
