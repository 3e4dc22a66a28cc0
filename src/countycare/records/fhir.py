"""The shared record as FHIR R4 resources: Encounter, Condition (encounter diagnoses and the problem list) and
Observation.

`CombinedHandler` serves one resource type from the tables of several apps (ServiceRequest: referrals and exam
requests; Observation: these observations and the ECG pre-read's measurements): an app adds its part with
`register_part`.

Reads and searches go through the scope (`core.scope.resident_filter`, via the registry's and this app's
queries) and every row handed out is audited on the `fhir` channel. Creates are mapped onto the records
services (`record_encounter`, `add_diagnoses`, `record_observations`), which keep every rule; this module
only translates. Every code system, identifier system and extension used here is listed in docs/fhir.md.
The helpers at the top are shared with the referral resources (`countycare.referrals.fhir`).
"""

from __future__ import annotations

import datetime as dt
import uuid as uuid_lib
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, ClassVar

from django.db import transaction
from django.db.models import CharField, F, Q, QuerySet, Value
from django.utils import timezone
from fhir.resources.R4B.condition import Condition as FhirCondition
from fhir.resources.R4B.encounter import Encounter as FhirEncounter
from fhir.resources.R4B.observation import Observation as FhirObservation

from countycare.core import audit, fhir
from countycare.core.codes import Role, system_url
from countycare.core.errors import NotFound, PermissionDenied
from countycare.registry import fhir as registry_fhir
from countycare.registry import queries as registry_queries
from countycare.registry.models import Department, Organization, Practitioner, Resident

from . import queries, services, vitals
from .icd10 import normalize_code
from .models import (
    Diagnosis,
    Encounter,
    EncounterKind,
    EncounterStatus,
    Icd10Code,
    Observation,
    ObservationCategory,
    Problem,
    ProblemStatus,
)

ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10"
LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"
SNOMED_SYSTEM = "http://snomed.info/sct"
ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PARTICIPATION_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
CONDITION_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION_CLINICAL_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
OBSERVATION_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"

EXTENSION_BASE = registry_fhir.EXTENSION_BASE
EXT_DEPARTMENT = registry_fhir.EXT_DEPARTMENT
EXT_ENCOUNTER_COST = EXTENSION_BASE + "encounter-cost"
EXT_CLINICAL_NOTE = EXTENSION_BASE + "clinical-note"
EXT_TCM = EXTENSION_BASE + "tcm"
EXT_RECORD_SOURCE = EXTENSION_BASE + "record-source"
EXT_PRIMARY_DIAGNOSIS = EXTENSION_BASE + "primary-diagnosis"
COST_PARTS = ("drugs", "exams", "treatment", "beds", "other")

# Encounter.class (v3 ActCode) of each kind of encounter; the kind itself is Encounter.type.
CLASS_OF_KIND = {
    EncounterKind.OUTPATIENT: ("AMB", "ambulatory"),
    EncounterKind.EMERGENCY: ("EMER", "emergency"),
    EncounterKind.INPATIENT: ("IMP", "inpatient encounter"),
    EncounterKind.HOME_VISIT: ("HH", "home health"),
}
KIND_OF_CLASS = {code: kind for kind, (code, _) in CLASS_OF_KIND.items()}
# Encounter.status: our statuses are FHIR codes, except 作废 which FHIR calls entered-in-error.
ENCOUNTER_STATUS_OUT = {
    EncounterStatus.IN_PROGRESS: "in-progress",
    EncounterStatus.FINISHED: "finished",
    EncounterStatus.CANCELLED: "entered-in-error",
}
ENCOUNTER_STATUS_IN = {fhir_code: status for status, fhir_code in ENCOUNTER_STATUS_OUT.items()}

OBSERVATION_CATEGORY_DISPLAY = {
    ObservationCategory.VITAL_SIGNS: "Vital Signs",
    ObservationCategory.LABORATORY: "Laboratory",
    ObservationCategory.EXAM: "Exam",
    ObservationCategory.IMAGING: "Imaging",
    ObservationCategory.PROCEDURE: "Procedure",
}
INTERPRETATION_DISPLAY = {
    "N": "Normal", "L": "Low", "H": "High", "LL": "Critical low", "HH": "Critical high", "A": "Abnormal",
}

# Required bindings (FHIR R4) of the codes in these resources, checked by us: fhir.resources does not.
ENCOUNTER_STATUSES = frozenset({"planned", "arrived", "triaged", "in-progress", "onleave", "finished",
                                "cancelled", "entered-in-error", "unknown"})
OBSERVATION_STATUSES = frozenset({"registered", "preliminary", "final", "amended", "corrected", "cancelled",
                                  "entered-in-error", "unknown"})
CLINICAL_STATUSES = frozenset({"active", "recurrence", "relapse", "inactive", "remission", "resolved"})
VERIFICATION_STATUSES = frozenset({"unconfirmed", "provisional", "differential", "confirmed", "refuted",
                                   "entered-in-error"})

CLINICIANS = frozenset({Role.VILLAGE_DOCTOR, Role.TOWNSHIP_DOCTOR, Role.COUNTY_SPECIALIST})

compact = registry_fhir.compact
uuid_or_none = registry_fhir.uuid_or_none
NOTHING = Q(pk__in=[])
EVERYTHING = Q(pk__isnull=False)  # not Q(): `Q() | x` is simplified to `x`


# --------------------------------------------------------------------------------------------- shared helpers


def code_invalid(expression: str, value: Any, allowed: Iterable[str] | None = None) -> fhir.FhirError:
    """422 naming the element: a code outside its required value set (or one CountyCare does not take)."""
    listed = f"; allowed: {', '.join(sorted(allowed))}" if allowed is not None else ""
    return fhir.FhirError(
        422,
        f"{expression}: 代码 {str(value)[:40]!r} 无效或不被支持 (code not valid or not supported here{listed})",
        code="code-invalid",
        expression=expression,
    )


def unprocessable(expression: str, message: str, *, code: str = "invalid") -> fhir.FhirError:
    """422 naming the element, for content that is valid FHIR but cannot be taken as it is."""
    return fhir.FhirError(422, f"{expression}: {message}", code=code, expression=expression)


def check_code(value: Any, allowed: frozenset[str], expression: str) -> str | None:
    """A code of a required binding: None when absent, 422 when outside the value set."""
    if value is None:
        return None
    if value not in allowed:
        raise code_invalid(expression, value, allowed)
    return str(value)


def reference_to(obj: Any, resource_type: str, display: str | None = None) -> dict[str, str]:
    return compact({"reference": f"{resource_type}/{obj.uuid}", "display": display})


def patient_reference(resident: Resident) -> dict[str, str]:
    return reference_to(resident, "Patient", resident.name)


def organization_reference(organization: Organization | None) -> dict[str, str] | None:
    return reference_to(organization, "Organization", organization.name) if organization is not None else None


def practitioner_reference(practitioner: Practitioner | None) -> dict[str, str] | None:
    return reference_to(practitioner, "Practitioner", practitioner.name) if practitioner is not None else None


def moment(value: dt.datetime | None) -> str | None:
    return fhir.instant(value) if value is not None else None


def number(value: Decimal | None) -> int | float | None:
    """A stored Decimal as a JSON number: whole values without a fraction, others exactly as stored."""
    if value is None:
        return None
    value = value.normalize()
    return int(value) if value == value.to_integral_value() else float(value)


def money(value: Decimal) -> dict[str, Any]:
    return {"value": number(value) or 0, "currency": "CNY"}


def coding_of(concept: Any, system: str) -> Any:
    """The first Coding of a CodeableConcept from this system, or None."""
    if concept is None:
        return None
    return next((c for c in concept.coding or [] if c.system == system), None)


def target_id(value: Any, resource_type: str, expression: str, *, required: bool = True) -> str | None:
    """The uuid a Reference points at (`<Type>/<uuid>`); 422 naming the element when it is not one."""
    target = getattr(value, "reference", None) if value is not None else None
    if not target:
        if required:
            raise unprocessable(expression, f"缺少引用 (a reference to a {resource_type} is required)",
                                code="required")
        return None
    parts = str(target).rstrip("/").split("/")
    found = uuid_or_none(parts[-1]) if len(parts) >= 2 and parts[-2] == resource_type else None
    if found is None:
        raise unprocessable(expression, f"引用须为 {resource_type}/<id> (reference must be {resource_type}/<id>, "
                                        f"got {str(target)[:80]})")
    return found


def resident_of(user: Any, value: Any, expression: str) -> Resident:
    """The resident a subject reference names, in the user's scope; 422 otherwise (no existence leak)."""
    found = target_id(value, "Patient", expression)
    resident = registry_queries.visible_residents(user).filter(uuid=found).first()
    if resident is None:
        raise unprocessable(expression, "未找到该居民，或不在您的管辖范围内 (patient not found or outside your "
                                        "scope)")
    return resident


def organization_of(user: Any, value: Any, expression: str, *, required: bool = False) -> Organization | None:
    found = target_id(value, "Organization", expression, required=required)
    if found is None:
        return None
    organization = Organization.objects.filter(community_id=user.community_id, uuid=found).first()
    if organization is None:
        raise unprocessable(expression, "不是本医共体的机构 (not an organisation of this community)")
    return organization


def practitioner_of(user: Any, value: Any, expression: str, *, required: bool = False) -> Practitioner | None:
    found = target_id(value, "Practitioner", expression, required=required)
    if found is None:
        return None
    practitioner = Practitioner.objects.filter(community_id=user.community_id, uuid=found).first()
    if practitioner is None:
        raise unprocessable(expression, "不是本医共体的人员 (not a practitioner of this community)")
    return practitioner


def department_of(organization: Organization | None, code: str, expression: str) -> Department | None:
    if not code:
        return None
    department = Department.objects.filter(organization=organization, code=code).first()
    if department is None:
        raise unprocessable(expression, f"该机构没有科室 {code[:20]} (no such department at this organisation)")
    return department


def aware(value: Any, expression: str) -> dt.datetime | None:
    """A FHIR dateTime as an aware datetime: a full date is midnight in Asia/Shanghai; partial dates are
    refused (422), since the record keeps a time."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    if isinstance(value, dt.date):
        return timezone.make_aware(dt.datetime.combine(value, dt.time()))
    raise unprocessable(expression, f"须为完整日期或时间 (a full date or date-time is required, got {value})")


def extension_value(resource: Any, url: str, attribute: str) -> Any:
    return next((getattr(ext, attribute) for ext in resource.extension or [] if ext.url == url), None)


def datetime_condition(field: str, value: str) -> Q:
    """A FHIR date search value (prefixes eq/ne/lt/le/gt/ge, YYYY[-MM[-DD]]) over a DateTimeField, with the days
    taken in Asia/Shanghai and bounds that let an index on the column apply. The first and the last day
    Python can hold are open bounds (their local midnight does not exist in UTC)."""
    prefix = value[:2] if value[:2] in fhir.DATE_PREFIXES else "eq"
    first, last = fhir.date_range(value[2:] if value[:2] in fhir.DATE_PREFIXES else value)
    start = None if first == dt.date.min else timezone.make_aware(dt.datetime.combine(first, dt.time()))
    end = None if last == dt.date.max else timezone.make_aware(
        dt.datetime.combine(last + dt.timedelta(days=1), dt.time())
    )
    from_start = Q(**{f"{field}__gte": start}) if start is not None else Q()
    before_start = Q(**{f"{field}__lt": start}) if start is not None else NOTHING
    before_end = Q(**{f"{field}__lt": end}) if end is not None else Q()
    from_end = Q(**{f"{field}__gte": end}) if end is not None else NOTHING
    within = from_start & before_end
    return {
        "eq": within,
        "ne": ~within,
        "lt": before_start,
        "le": before_end,
        "gt": from_end,
        "ge": from_start,
    }[prefix]


def reference_condition(field: str, value: str, resource_type: str) -> Q:
    found = uuid_or_none(fhir.reference_id(value, resource_type))
    return Q(**{field: found}) if found else NOTHING


def token_code(value: str, system: str) -> str | None:
    """The code of a token search value when its system (if given) is `system`; None when it cannot match."""
    return registry_fhir.token(value, system)


def uuid_condition(value: str) -> Q:
    found = uuid_or_none(value)
    return Q(uuid=found) if found else NOTHING


def visible_resident_ids(user: Any) -> QuerySet[Resident]:
    # merged records stay reachable: their rows are moved to the survivor, but an old link may still point here
    return registry_queries.visible_residents(user, include_merged=True).values("pk")


def visible_record(user: Any) -> Q:
    """Rows of an encounter the user may see (the residents in scope, and a clinician's own organisations'
    visits, as `records.queries.visible_encounters` decides) or of a resident in scope."""
    encounters = queries.visible_encounters(user).values("pk")
    return Q(resident_id__in=visible_resident_ids(user)) | Q(encounter__in=encounters)


def audit_handed_out(user: Any, rows: Iterable[Any], *, object_type: str, action: str, query: str = "") -> None:
    """One audit entry per patient-data row a read or a search handed out (channel fhir)."""
    detail = {"query": query[:200]} if action == "search" else {}
    audit.record_many(
        audit.Actor.of(user, "fhir"),
        [
            audit.Entry(action, object_type, str(row.uuid), resident_id=str(row.resident.uuid), detail=detail)
            for row in rows
        ],
    )


def lookup_uuid(resource_id: str, message: str) -> uuid_lib.UUID:
    found = uuid_or_none(resource_id)
    if found is None:
        raise NotFound(message)
    return uuid_lib.UUID(found)


class PatientDataHandler(fhir.ResourceHandler):
    """A resource type holding patient data: scoped, audited, 403 for the bureau, created by clinicians and
    never replaced by PUT (changes go through their own interactions)."""

    object_type: ClassVar[str]
    not_found: ClassVar[str] = "未找到该记录，或不在您的管辖范围内 (not found or outside your scope)"
    write_roles: ClassVar[frozenset[str]] = CLINICIANS
    ordering: ClassVar[tuple[str, ...]] = ("-id",)
    interactions: ClassVar[tuple[str, ...]] = ("read", "vread", "search-type", "create")
    # the table behind the type (a part of a CombinedHandler says which objects are its own by it)
    row_model: ClassVar[type[Any] | None] = None

    def scoped(self, user: Any) -> QuerySet[Any]:
        """The rows the user may see, with what `to_fhir` needs joined (no audit)."""
        raise NotImplementedError

    def read(self, user: Any, resource_id: str) -> Any:
        registry_queries.require_patient_access(user)
        found = self.scoped(user).filter(uuid=lookup_uuid(resource_id, self.not_found)).first()
        if found is None:
            raise NotFound(self.not_found)
        audit_handed_out(user, [found], object_type=self.object_type, action="read")
        return found

    def version(self, obj: Any) -> str:
        return str(getattr(obj, "version", 1))

    def search(self, user: Any, condition: Q, *, offset: int, count: int, query: str) -> tuple[list[Any], int]:
        registry_queries.require_patient_access(user)
        matches = self.scoped(user).filter(condition)
        total = matches.count()
        rows = list(matches.order_by(*self.ordering)[offset : offset + count]) if count else []
        audit_handed_out(user, rows, object_type=self.object_type, action="search", query=query)
        return rows, total

    def check_can_write(self, user: Any) -> None:
        if user.role not in self.write_roles:
            raise PermissionDenied(f"您的角色不能新建 {self.resource_type} (your role cannot create a "
                                   f"{self.resource_type})")

    def update(self, user: Any, obj: Any, resource: Any, *, expected_version: str | None,
               headers: Mapping[str, str]) -> Any:
        raise fhir.method_not_allowed(["GET"])

    def created(self, user: Any, write: Callable[[], Any], within: Callable[[Any], None]) -> Any:
        """Run a records service and store the idempotent answer in the same transaction."""
        with transaction.atomic():
            obj = write()
            within(obj)
        return obj

    # --- as a part of a CombinedHandler ---

    def owns(self, obj: Any) -> bool:
        return self.row_model is not None and isinstance(obj, self.row_model)

    def claim(self, resource: Any) -> int:
        """How surely a resource sent to create is this part's: 2 by its code, 1 by its category, 0 not."""
        return 0

    def key_sets(self, user: Any, condition: Q, tag: str) -> list[QuerySet[Any]]:
        """The matches in the user's scope as (time, tag, id) rows, for one page over every part; each set's
        count() adds to the total."""
        field = self.ordering[0].lstrip("-")
        return [
            self.scoped(user).filter(condition).order_by().annotate(
                combined_at=F(field), combined_part=Value(tag, output_field=CharField()), combined_row=F("id"),
            ).values_list("combined_at", "combined_part", "combined_row")
        ]

    def rows_for(self, user: Any, keys: list[tuple[str, int]]) -> dict[tuple[str, int], Any]:
        """The objects behind (tag, id) keys of `key_sets`."""
        tags = {row: tag for tag, row in keys}
        return {(tags[obj.id], obj.id): obj for obj in self.scoped(user).filter(id__in=list(tags))}

    def audit_rows(self, user: Any, rows: list[Any], *, action: str, query: str = "") -> None:
        audit_handed_out(user, rows, object_type=self.object_type, action=action, query=query)


COMBINED = "combined_part"  # the leaf of a CombinedHandler's search condition: one Q per part


class CombinedHandler(fhir.ResourceHandler):
    """One FHIR resource type served from the tables of several apps, each a PatientDataHandler `part`:

    - read asks each part in turn (ids are uuids of different tables, or of a form only one part takes);
    - search runs the same parameters over every part (a parameter a part does not know matches none of its
      rows) and pages over all of them newest first with one UNION ALL of (time, part, id); each part audits
      the rows it handed out;
    - create goes to the part that claims the resource most surely (by its code, else its category); when
      none does, to the first part, whose refusal says what it expected;
    - everything about one object (id, version, mapping) is asked of the part that owns it."""

    def __init__(self, *parts: PatientDataHandler) -> None:
        self.parts = list(parts)

    @property
    def resource_type(self) -> str:  # type: ignore[override]
        return self.parts[0].resource_type

    @property
    def model(self) -> Any:  # type: ignore[override]
        return self.parts[0].model

    @property
    def documentation(self) -> str:  # type: ignore[override]
        return " — ".join(part.documentation for part in self.parts if part.documentation)

    @property
    def search_params(self) -> dict[str, fhir.SearchParam]:  # type: ignore[override]
        merged: dict[str, fhir.SearchParam] = {}
        for part in self.parts:
            for name, param in part.search_params.items():
                if name in merged and param.documentation not in merged[name].documentation:
                    param = fhir.SearchParam(param.type, f"{merged[name].documentation}; {param.documentation}")
                merged[name] = param
        return merged

    @property
    def field_expressions(self) -> dict[str, str]:  # type: ignore[override]
        merged: dict[str, str] = {}
        for part in reversed(self.parts):
            merged |= part.field_expressions
        return merged

    @property
    def interactions(self) -> tuple[str, ...]:  # type: ignore[override]
        offered = {code for part in self.parts for code in part.interactions}
        order = ("read", "vread", "history-instance", "search-type", "create", "update")
        return tuple(code for code in order if code in offered)

    @property
    def not_found(self) -> str:
        return (f"未找到该 {self.resource_type}，或不在您的管辖范围内 ({self.resource_type} not found or outside "
                "your scope)")

    def add(self, part: PatientDataHandler) -> None:
        if not any(type(existing) is type(part) for existing in self.parts):
            self.parts.append(part)

    def part_of(self, obj: Any) -> PatientDataHandler:
        for part in self.parts:
            if part.owns(obj):
                return part
        raise TypeError(f"no part of {self.resource_type} owns {type(obj).__name__}")

    def read(self, user: Any, resource_id: str) -> Any:
        for part in self.parts:
            try:
                return part.read(user, resource_id)
            except NotFound:
                continue
        raise NotFound(self.not_found)

    def read_for_update(self, user: Any, resource_id: str) -> Any:
        for part in self.parts:
            try:
                return part.read_for_update(user, resource_id)
            except NotFound:
                continue
        raise NotFound(self.not_found)

    def resource_id(self, obj: Any) -> str:
        return self.part_of(obj).resource_id(obj)

    def version(self, obj: Any) -> str:
        return self.part_of(obj).version(obj)

    def last_updated(self, obj: Any) -> dt.datetime | None:
        return self.part_of(obj).last_updated(obj)

    def to_fhir(self, obj: Any) -> dict[str, Any]:
        return self.part_of(obj).to_fhir(obj)

    def condition(self, user: Any, name: str, value: str) -> Q:
        # every part checks the value now (a bad one is a 400 before anything runs); the Q of each is kept
        return Q(**{COMBINED: tuple(
            part.condition(user, name, value) if name in part.search_params else NOTHING for part in self.parts
        )})

    def search(self, user: Any, condition: Q, *, offset: int, count: int, query: str) -> tuple[list[Any], int]:
        registry_queries.require_patient_access(user)
        sets: list[QuerySet[Any]] = []
        for index, part in enumerate(self.parts):
            sets += part.key_sets(user, for_part(condition, index), str(index))
        total = sum(keys.count() for keys in sets)
        rows: list[Any] = []
        if count:
            first, *rest = sets
            union = first.union(*rest, all=True) if rest else first
            page = list(union.order_by("-combined_at", "-combined_part", "-combined_row")[offset : offset + count])
            found: dict[tuple[str, int], Any] = {}
            for index, part in enumerate(self.parts):
                keys = [(tag, row) for _, tag, row in page if tag.partition(":")[0] == str(index)]
                if keys:
                    found |= part.rows_for(user, keys)
            rows = [found[(tag, row)] for _, tag, row in page if (tag, row) in found]
        for part in self.parts:
            part.audit_rows(user, [row for row in rows if part.owns(row)], action="search", query=query)
        return rows, total

    def check_can_write(self, user: Any) -> None:
        refusals = []
        for part in self.parts:
            if "create" not in part.interactions:
                continue
            try:
                part.check_can_write(user)
                return
            except PermissionDenied as refusal:
                refusals.append(refusal)
        if refusals:
            raise refusals[0]
        raise fhir.method_not_allowed(["GET"])

    def claimant(self, resource: Any) -> PatientDataHandler:
        creators = [part for part in self.parts if "create" in part.interactions]
        best = max(creators, key=lambda part: part.claim(resource))
        return best if best.claim(resource) > 0 else creators[0]

    def create(self, user: Any, resource: Any, *, headers: Mapping[str, str],
               within: Callable[[Any], None]) -> Any:
        part = self.claimant(resource)
        part.check_can_write(user)
        return part.create(user, resource, headers=headers, within=within)

    def update(self, user: Any, obj: Any, resource: Any, *, expected_version: str | None,
               headers: Mapping[str, str]) -> Any:
        return self.part_of(obj).update(user, obj, resource, expected_version=expected_version, headers=headers)


def for_part(condition: Q, index: int) -> Q:
    """A CombinedHandler's search condition as the Q over one part's table."""

    def leaf(lookup: str, value: Any) -> Q | tuple[str, Any]:
        return value[index] if lookup == COMBINED else (lookup, value)

    return _translate(condition, leaf)


def register_part(part: PatientDataHandler) -> None:
    """Serve `part.resource_type` with `part` as well as with the handler registered for it (if any)."""
    existing = next((h for h in fhir.registered_resources() if h.resource_type == part.resource_type), None)
    if existing is None:
        fhir.register_resource(part)
    elif isinstance(existing, CombinedHandler):
        existing.add(part)
    elif type(existing) is not type(part):
        fhir.register_resource(CombinedHandler(existing, part))  # type: ignore[arg-type]


# -------------------------------------------------------------------------------------------------- Encounter


def icd10_coding(code: str, display: str) -> dict[str, str]:
    return {"system": ICD10_SYSTEM, "code": code, "display": display}


def encounter_kind_coding(kind: str) -> dict[str, str]:
    return {"system": system_url("encounter-kind"), "code": kind, "display": str(EncounterKind(kind).label)}


class EncounterHandler(PatientDataHandler):
    resource_type = "Encounter"
    model = FhirEncounter
    object_type = "Encounter"
    documentation = (
        "Visits at any member: outpatient (class AMB), emergency (EMER), inpatient (IMP: admission to discharge, "
        f"ward as location, length of stay in days) and home visits (HH); type from {system_url('encounter-kind')}. "
        "Diagnoses are Condition resources (rank 1 is the primary one), vital signs Observation resources. "
        "Create records a visit (with contained Conditions as its diagnoses); reads and searches are scoped "
        "and audited."
    )
    search_params = {
        "_id": fhir.SearchParam("token", "The logical id"),
        "patient": fhir.SearchParam("reference", "The resident: Patient/<id>"),
        "subject": fhir.SearchParam("reference", "The resident: Patient/<id>"),
        "status": fhir.SearchParam("token", "in-progress | finished | entered-in-error"),
        "class": fhir.SearchParam("token", "AMB | EMER | IMP | HH (v3 ActCode)"),
        "type": fhir.SearchParam("token", f"Kind of visit from {system_url('encounter-kind')}"),
        "service-provider": fhir.SearchParam("reference", "The organisation of the visit: Organization/<id>"),
        "practitioner": fhir.SearchParam("reference", "The attending practitioner: Practitioner/<id>"),
        "date": fhir.SearchParam("date", "The start (admission) time, days in Asia/Shanghai, with prefixes"),
    }
    field_expressions = {
        "kind": "Encounter.type",
        "organization": "Encounter.serviceProvider",
        "department": "Encounter.extension",
        "practitioner": "Encounter.participant",
        "started_at": "Encounter.period.start",
        "ended_at": "Encounter.period.end",
        "ward": "Encounter.location",
        "chief_complaint": "Encounter.reasonCode",
        "note": "Encounter.extension",
        "costs": "Encounter.extension",
        "diagnoses": "Encounter.diagnosis",
        "resident": "Encounter.subject",
    }
    ordering = ("-started_at", "-id")

    def scoped(self, user: Any) -> QuerySet[Encounter]:
        return queries.visible_encounters(user).select_related(
            "resident", "organization", "department", "practitioner"
        ).prefetch_related("diagnoses")

    def read(self, user: Any, resource_id: str) -> Encounter:
        registry_queries.require_patient_access(user)
        found = queries.get_encounter(user, lookup_uuid(resource_id, self.not_found), channel="fhir")
        return self.scoped(user).get(pk=found.pk)

    def last_updated(self, obj: Encounter) -> dt.datetime | None:
        return obj.updated_at

    def to_fhir(self, obj: Encounter) -> dict[str, Any]:
        class_code, class_display = CLASS_OF_KIND[EncounterKind(obj.kind)]
        costs = [{"url": part, "valueMoney": money(getattr(obj, f"cost_{part}"))} for part in COST_PARTS]
        costs.append({"url": "total", "valueMoney": money(obj.cost_total)})
        extensions: list[dict[str, Any]] = [
            {"url": EXT_RECORD_SOURCE, "valueCode": obj.source},
            {"url": EXT_TCM, "valueBoolean": obj.is_tcm},
            {"url": EXT_ENCOUNTER_COST, "extension": costs},
        ]
        if obj.department_id:
            extensions.append({"url": EXT_DEPARTMENT, "valueString": obj.department.code})
        if obj.note:
            extensions.append({"url": EXT_CLINICAL_NOTE, "valueString": obj.note})
        diagnoses = sorted(obj.diagnoses.all(), key=lambda d: (not d.is_primary, d.id))
        days = obj.length_of_stay_days
        length = {"value": days, "unit": "天", "system": UCUM_SYSTEM, "code": "d"} if days is not None else None
        return compact({
            "resourceType": "Encounter",
            "id": str(obj.uuid),
            "meta": {"versionId": str(obj.version), "lastUpdated": fhir.instant(obj.updated_at)},
            "extension": extensions,
            "status": ENCOUNTER_STATUS_OUT.get(EncounterStatus(obj.status), "unknown"),
            "class": {"system": ACT_CODE_SYSTEM, "code": class_code, "display": class_display},
            "type": [{"coding": [encounter_kind_coding(obj.kind)]}],
            "subject": patient_reference(obj.resident),
            "participant": [
                {
                    "type": [{"coding": [{"system": PARTICIPATION_TYPE_SYSTEM, "code": "ATND",
                                          "display": "attender"}]}],
                    "individual": practitioner_reference(obj.practitioner),
                }
            ] if obj.practitioner_id else [],
            "period": compact({"start": moment(obj.started_at), "end": moment(obj.ended_at)}),
            "length": length,
            "reasonCode": [{"text": obj.chief_complaint}] if obj.chief_complaint else [],
            "diagnosis": [
                {"condition": {"reference": f"Condition/{d.uuid}", "display": f"{d.code} {d.display}"},
                 "rank": rank}
                for rank, d in enumerate(diagnoses, start=1)
            ],
            "location": [{"location": {"display": obj.ward}}] if obj.ward else [],
            "serviceProvider": organization_reference(obj.organization),
        })

    def condition(self, user: Any, name: str, value: str) -> Q:
        if name == "_id":
            return uuid_condition(value)
        if name in ("patient", "subject"):
            return reference_condition("resident__uuid", value, "Patient")
        if name == "status":
            status = ENCOUNTER_STATUS_IN.get(value)
            fhir.require_choice("status", value, ENCOUNTER_STATUSES)
            return Q(status=status) if status else NOTHING
        if name == "class":
            code = token_code(value, ACT_CODE_SYSTEM)
            kind = KIND_OF_CLASS.get(code or "")
            return Q(kind=kind) if kind else NOTHING
        if name == "type":
            code = token_code(value, system_url("encounter-kind"))
            return Q(kind=code) if code in EncounterKind.values else NOTHING
        if name == "service-provider":
            return reference_condition("organization__uuid", value, "Organization")
        if name == "practitioner":
            return reference_condition("practitioner__uuid", value, "Practitioner")
        if name == "date":
            return datetime_condition("started_at", value)
        raise fhir.FhirError(400, f"unknown search parameter {name}")

    def create(self, user: Any, resource: Any, *, headers: Mapping[str, str],
               within: Callable[[Any], None]) -> Encounter:
        resident, data = encounter_data(user, resource)
        return services.record_encounter(user=user, resident=resident, data=data, channel="fhir", within=within)


def encounter_data(user: Any, resource: Any) -> tuple[Resident, dict[str, Any]]:
    """The record_encounter arguments from a validated Encounter; 422 naming the element at fault."""
    if resource.subject is None:
        raise unprocessable("Encounter.subject", "缺少患者 (the patient is required)", code="required")
    resident = resident_of(user, resource.subject, "Encounter.subject")
    status = check_code(resource.status, ENCOUNTER_STATUSES, "Encounter.status")
    class_coding = resource.class_fhir
    if class_coding.system not in (None, ACT_CODE_SYSTEM) or class_coding.code not in KIND_OF_CLASS:
        raise code_invalid("Encounter.class", class_coding.code, KIND_OF_CLASS)
    kind = KIND_OF_CLASS[str(class_coding.code)]
    for index, concept in enumerate(resource.type or []):
        typed = coding_of(concept, system_url("encounter-kind"))
        if typed is None:
            continue
        if typed.code not in EncounterKind.values:
            raise code_invalid(f"Encounter.type[{index}]", typed.code, EncounterKind.values)
        if CLASS_OF_KIND[EncounterKind(typed.code)][0] != class_coding.code:
            raise unprocessable(f"Encounter.type[{index}]", f"与 class {class_coding.code} 不符 (does not agree "
                                                           f"with the class)")
        kind = EncounterKind(typed.code)
    organization = organization_of(user, resource.serviceProvider, "Encounter.serviceProvider")
    data: dict[str, Any] = {"kind": kind, "organization": organization or user.organization}
    department_code = extension_value(resource, EXT_DEPARTMENT, "valueString")
    data["department"] = department_of(data["organization"], str(department_code or ""), "Encounter.extension")
    for index, participant in enumerate(resource.participant or []):
        if participant.individual is not None:
            data["practitioner"] = practitioner_of(
                user, participant.individual, f"Encounter.participant[{index}].individual"
            )
            break
    period = resource.period
    started = aware(period.start, "Encounter.period.start") if period else None
    ended = aware(period.end, "Encounter.period.end") if period else None
    if started is not None:
        data["started_at"] = started
    # Only an admission stays open until its discharge; every other visit is recorded when it is over.
    if kind == EncounterKind.INPATIENT:
        if status not in ("in-progress", "finished"):
            raise code_invalid("Encounter.status", status, {"in-progress", "finished"})
        if status == "finished" and ended is None:
            raise unprocessable("Encounter.period.end", "出院须有出院时间 (a finished stay needs its discharge time)",
                                code="required")
        if status == "in-progress" and ended is not None:
            raise unprocessable("Encounter.period.end", "在院患者不能有出院时间 (a stay in progress has no end)")
    elif status != "finished":
        raise code_invalid("Encounter.status", status, {"finished"})
    data["ended_at"] = ended
    data["ward"] = next((str(loc.location.display or "") for loc in resource.location or []), "")
    data["chief_complaint"] = next((str(reason.text or "") for reason in resource.reasonCode or []), "")
    data["note"] = str(extension_value(resource, EXT_CLINICAL_NOTE, "valueString") or "")
    data["is_tcm"] = bool(extension_value(resource, EXT_TCM, "valueBoolean"))
    data["costs"] = encounter_costs(resource)
    data["diagnoses"] = contained_diagnoses(resource, resident)
    return resident, data


def encounter_costs(resource: Any) -> dict[str, Decimal]:
    costs: dict[str, Decimal] = {}
    for ext in resource.extension or []:
        if ext.url != EXT_ENCOUNTER_COST:
            continue
        for part in ext.extension or []:
            if part.url == "total":  # derived: the sum of the parts
                continue
            where = f"Encounter.extension({EXT_ENCOUNTER_COST}).extension({part.url})"
            if part.url not in COST_PARTS:
                raise code_invalid(where, part.url, COST_PARTS)
            value = part.valueMoney
            if value is None or value.value is None or value.currency not in (None, "CNY"):
                raise unprocessable(where, "须为人民币金额 valueMoney (a valueMoney in CNY is required)")
            costs[part.url] = Decimal(value.value)
    return costs


def contained_diagnoses(resource: Any, resident: Resident) -> list[dict[str, Any]]:
    """Encounter.diagnosis pointing at contained Conditions (`#id`) with an ICD-10 code; rank 1 is primary."""
    contained = {item.id: item for item in resource.contained or [] if item.get_resource_type() == "Condition"}
    diagnoses: list[tuple[int, dict[str, Any]]] = []
    for index, entry in enumerate(resource.diagnosis or []):
        where = f"Encounter.diagnosis[{index}].condition"
        target = str(entry.condition.reference or "")
        if not target.startswith("#") or target[1:] not in contained:
            raise unprocessable(where, "新建就诊时诊断须为内含的 Condition (#id) (when creating an encounter, a "
                                       "diagnosis must reference a contained Condition)")
        code = icd10_code_of(contained[target[1:]].code, f"Encounter.contained({target[1:]}).code")
        diagnoses.append((entry.rank or 10_000 + index, {"code": code}))
    diagnoses.sort(key=lambda pair: pair[0])
    return [dict(d, primary=(position == 0)) for position, (_, d) in enumerate(diagnoses)]


def icd10_code_of(concept: Any, expression: str) -> str:
    """The ICD-10 code of a CodeableConcept; 422 naming the element when missing or unknown."""
    found = coding_of(concept, ICD10_SYSTEM)
    if found is None or not found.code:
        raise unprocessable(expression, f"须有 {ICD10_SYSTEM} 编码 (an ICD-10 coding with system {ICD10_SYSTEM} is "
                                        "required)", code="required")
    code = normalize_code(str(found.code))
    if not Icd10Code.objects.filter(code=code, active=True).exists():
        raise code_invalid(expression, code)
    return code


# -------------------------------------------------------------------------------------------------- Condition


CATEGORY_DISPLAY = {"encounter-diagnosis": "Encounter Diagnosis", "problem-list-item": "Problem List Item"}


def condition_category(code: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": CONDITION_CATEGORY_SYSTEM, "code": code, "display": CATEGORY_DISPLAY[code]}]}]


def confirmed() -> dict[str, Any]:
    return {"coding": [{"system": CONDITION_VERIFICATION_SYSTEM, "code": "confirmed", "display": "Confirmed"}]}


class ConditionHandler(PatientDataHandler):
    """Two tables behind one resource type: diagnoses made at an encounter (category encounter-diagnosis) and
    the problem list (problem-list-item, with a clinical status). A search runs over both, newest first."""

    resource_type = "Condition"
    model = FhirCondition
    object_type = "Diagnosis"
    documentation = (
        f"Diagnoses coded in ICD-10 ({ICD10_SYSTEM}, Chinese names as display): encounter diagnoses (category "
        "encounter-diagnosis, with the primary-diagnosis extension) and the problem list (problem-list-item, "
        "clinicalStatus active or resolved). Create adds a diagnosis to an encounter; a chronic code also "
        "goes on the problem list."
    )
    search_params = {
        "_id": fhir.SearchParam("token", "The logical id"),
        "patient": fhir.SearchParam("reference", "The resident: Patient/<id>"),
        "subject": fhir.SearchParam("reference", "The resident: Patient/<id>"),
        "code": fhir.SearchParam("token", f"ICD-10 code ({ICD10_SYSTEM}|I10)"),
        "category": fhir.SearchParam("token", "encounter-diagnosis | problem-list-item"),
        "clinical-status": fhir.SearchParam("token", "active | resolved (problem-list items only)"),
        "encounter": fhir.SearchParam("reference", "The encounter of the diagnosis: Encounter/<id>"),
        "recorded-date": fhir.SearchParam("date", "When recorded, days in Asia/Shanghai, with prefixes"),
    }
    field_expressions = {
        "code": "Condition.code",
        "diagnoses": "Condition.code",
        "encounter": "Condition.encounter",
        "resident": "Condition.subject",
        "primary": "Condition.extension",
    }

    # Search conditions are written over the diagnosis fields; problems translate them (see `for_problems`).
    def condition(self, user: Any, name: str, value: str) -> Q:
        if name == "_id":
            return uuid_condition(value)
        if name in ("patient", "subject"):
            return reference_condition("resident__uuid", value, "Patient")
        if name == "code":
            code = token_code(value, ICD10_SYSTEM)
            return Q(code=normalize_code(code)) if code else NOTHING
        if name == "category":
            code = token_code(value, CONDITION_CATEGORY_SYSTEM)
            if code not in CATEGORY_DISPLAY:
                return NOTHING
            return Q(category=code)
        if name == "clinical-status":
            code = token_code(value, CONDITION_CLINICAL_SYSTEM)
            fhir.require_choice("clinical-status", code, CLINICAL_STATUSES, got=value)
            return Q(clinical_status=code)
        if name == "encounter":
            return reference_condition("encounter__uuid", value, "Encounter")
        if name == "recorded-date":
            return datetime_condition("recorded_at", value)
        raise fhir.FhirError(400, f"unknown search parameter {name}")

    def scoped(self, user: Any) -> QuerySet[Diagnosis]:
        return Diagnosis.objects.filter(visible_record(user)).select_related(
            "resident", "encounter", "practitioner"
        )

    def scoped_problems(self, user: Any) -> QuerySet[Problem]:
        return Problem.objects.filter(resident_id__in=visible_resident_ids(user)).select_related(
            "resident", "practitioner", "source_diagnosis__encounter"
        )

    def read(self, user: Any, resource_id: str) -> Diagnosis | Problem:
        registry_queries.require_patient_access(user)
        found_uuid = lookup_uuid(resource_id, self.not_found)
        found: Diagnosis | Problem | None = self.scoped(user).filter(uuid=found_uuid).first()
        if found is None:
            found = self.scoped_problems(user).filter(uuid=found_uuid).first()
        if found is None:
            raise NotFound(self.not_found)
        audit_handed_out(user, [found], object_type=type(found).__name__, action="read")
        return found

    def search(self, user: Any, condition: Q, *, offset: int, count: int, query: str) -> tuple[list[Any], int]:
        registry_queries.require_patient_access(user)
        diagnoses = self.scoped(user).filter(for_diagnoses(condition))
        problems = self.scoped_problems(user).filter(for_problems(condition))
        total = diagnoses.count() + problems.count()
        rows: list[Any] = []
        if count:
            # one ordered page over both tables: (recorded_at, table, id) of each, newest first
            page = list(
                _keys(diagnoses, "d").union(_keys(problems, "p"), all=True)
                .order_by("-recorded_at", "-table", "-id")[offset : offset + count]
            )
            diagnosis_ids = [row_id for _, table, row_id in page if table == "d"]
            problem_ids = [row_id for _, table, row_id in page if table == "p"]
            by_key = {("d", d.id): d for d in Diagnosis.objects.filter(id__in=diagnosis_ids)
                      .select_related("resident", "encounter", "practitioner")}
            by_key |= {("p", p.id): p for p in Problem.objects.filter(id__in=problem_ids)
                       .select_related("resident", "practitioner", "source_diagnosis__encounter")}
            rows = [by_key[(table, row_id)] for _, table, row_id in page]
        audit_handed_out(user, [r for r in rows if isinstance(r, Diagnosis)], object_type="Diagnosis",
                         action="search", query=query)
        audit_handed_out(user, [r for r in rows if isinstance(r, Problem)], object_type="Problem",
                         action="search", query=query)
        return rows, total

    def to_fhir(self, obj: Diagnosis | Problem) -> dict[str, Any]:
        common = {
            "resourceType": "Condition",
            "id": str(obj.uuid),
            "meta": {"versionId": self.version(obj)},
            "verificationStatus": confirmed(),
            "code": {"coding": [icd10_coding(obj.code, obj.display)], "text": obj.display},
            "subject": patient_reference(obj.resident),
            "recordedDate": moment(obj.recorded_at),
            "recorder": practitioner_reference(obj.practitioner),
        }
        if isinstance(obj, Diagnosis):
            return compact(common | {
                "extension": [{"url": EXT_PRIMARY_DIAGNOSIS, "valueBoolean": obj.is_primary}],
                "category": condition_category("encounter-diagnosis"),
                "encounter": {"reference": f"Encounter/{obj.encounter.uuid}"},
            })
        source = obj.source_diagnosis
        return compact(common | {
            "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL_SYSTEM, "code": obj.status,
                                           "display": obj.status.capitalize()}]},
            "category": condition_category("problem-list-item"),
            "encounter": {"reference": f"Encounter/{source.encounter.uuid}"} if source is not None else None,
            "onsetDateTime": obj.onset_date.isoformat() if obj.onset_date else None,
            "abatementDateTime": moment(obj.resolved_at),
        })

    def create(self, user: Any, resource: Any, *, headers: Mapping[str, str],
               within: Callable[[Any], None]) -> Diagnosis:
        encounter, diagnosis = condition_data(user, resource)
        return self.created(
            user,
            lambda: services.add_diagnoses(user=user, encounter=encounter, diagnoses=[diagnosis],
                                           channel="fhir")[0],
            within,
        )


def _keys(rows: QuerySet[Any], table: str) -> QuerySet[Any]:
    return rows.order_by().annotate(table=Value(table, output_field=CharField())).values_list(
        "recorded_at", "table", "id"
    )


def _translate(condition: Q, leaf: Callable[[str, Any], Q | tuple[str, Any]]) -> Q:
    """The same tree of conditions with each (lookup, value) leaf replaced by `leaf(lookup, value)`."""
    children = [
        _translate(child, leaf) if isinstance(child, Q) else leaf(*child) for child in condition.children
    ]
    translated = Q(*children, _connector=condition.connector, _negated=condition.negated)
    return translated


def for_diagnoses(condition: Q) -> Q:
    def leaf(lookup: str, value: Any) -> Q | tuple[str, Any]:
        if lookup == "category":
            return Q() if value == "encounter-diagnosis" else NOTHING
        if lookup == "clinical_status":  # encounter diagnoses carry no clinical status
            return NOTHING
        return (lookup, value)

    return _translate(condition, leaf)


def for_problems(condition: Q) -> Q:
    def leaf(lookup: str, value: Any) -> Q | tuple[str, Any]:
        if lookup == "category":
            return Q() if value == "problem-list-item" else NOTHING
        if lookup == "clinical_status":
            return Q(status=value) if value in ProblemStatus.values else NOTHING
        if lookup.startswith("encounter__"):
            return ("source_diagnosis__" + lookup, value)
        return (lookup, value)

    return _translate(condition, leaf)


def condition_data(user: Any, resource: Any) -> tuple[Encounter, dict[str, Any]]:
    """The encounter and the add_diagnoses entry from a validated Condition; 422 naming the element at fault."""
    resident = resident_of(user, resource.subject, "Condition.subject")
    for index, concept in enumerate(resource.category or []):
        category = coding_of(concept, CONDITION_CATEGORY_SYSTEM)
        if category is not None and category.code != "encounter-diagnosis":
            raise code_invalid(f"Condition.category[{index}]", category.code, {"encounter-diagnosis"})
    if resource.clinicalStatus is not None:
        status = coding_of(resource.clinicalStatus, CONDITION_CLINICAL_SYSTEM)
        check_code(status.code if status else None, CLINICAL_STATUSES, "Condition.clinicalStatus")
    if resource.verificationStatus is not None:
        verification = coding_of(resource.verificationStatus, CONDITION_VERIFICATION_SYSTEM)
        code = check_code(verification.code if verification else None, VERIFICATION_STATUSES,
                          "Condition.verificationStatus")
        if code not in (None, "confirmed"):
            raise code_invalid("Condition.verificationStatus", code, {"confirmed"})
    encounter_id = target_id(resource.encounter, "Encounter", "Condition.encounter")
    encounter = queries.visible_encounters(user).filter(uuid=encounter_id).select_related("resident").first()
    if encounter is None:
        raise unprocessable("Condition.encounter", "未找到该就诊，或不在您的管辖范围内 (encounter not found or "
                                                   "outside your scope)")
    if encounter.resident_id != resident.pk:
        raise unprocessable("Condition.encounter", "该就诊不属于此患者 (the encounter is not this patient's)")
    code = icd10_code_of(resource.code, "Condition.code")
    primary = extension_value(resource, EXT_PRIMARY_DIAGNOSIS, "valueBoolean")
    return encounter, {"code": code, "primary": bool(primary)}


# ------------------------------------------------------------------------------------------------ Observation


class ObservationHandler(PatientDataHandler):
    resource_type = "Observation"
    model = FhirObservation
    object_type = "Observation"
    row_model = Observation
    write_roles = CLINICIANS | {Role.CENTRE_READER}
    documentation = (
        f"Vital signs and results, coded in LOINC ({LOINC_SYSTEM}) where known; category from the FHIR "
        "observation-category code system. Create records one measurement (valueQuantity or valueString), "
        "optionally at an encounter of the same patient."
    )
    search_params = {
        "_id": fhir.SearchParam("token", "The logical id"),
        "patient": fhir.SearchParam("reference", "The resident: Patient/<id>"),
        "subject": fhir.SearchParam("reference", "The resident: Patient/<id>"),
        "code": fhir.SearchParam("token", f"LOINC code ({LOINC_SYSTEM}|8480-6)"),
        "category": fhir.SearchParam("token", "vital-signs | laboratory | exam | imaging | procedure"),
        "encounter": fhir.SearchParam("reference", "Encounter/<id>"),
        "status": fhir.SearchParam("token", "final | amended | cancelled"),
        "date": fhir.SearchParam("date", "The effective time, days in Asia/Shanghai, with prefixes"),
        "performer": fhir.SearchParam("reference", "Who measured or verified it (Practitioner/<id>) or where "
                                                   "(Organization/<id>)"),
    }
    field_expressions = {
        "code": "Observation.code",
        "observations": "Observation.value[x]",
        "unit": "Observation.valueQuantity.unit",
        "category": "Observation.category",
        "effective_at": "Observation.effectiveDateTime",
        "encounter": "Observation.encounter",
        "resident": "Observation.subject",
    }
    ordering = ("-effective_at", "-id")

    def scoped(self, user: Any) -> QuerySet[Observation]:
        return Observation.objects.filter(visible_record(user)).select_related(
            "resident", "encounter", "organization", "practitioner"
        )

    def to_fhir(self, obj: Observation) -> dict[str, Any]:
        reference_range = compact({
            "low": compact({"value": number(obj.reference_low), "unit": obj.unit or None})
            if obj.reference_low is not None else None,
            "high": compact({"value": number(obj.reference_high), "unit": obj.unit or None})
            if obj.reference_high is not None else None,
        })
        value: dict[str, Any] = {}
        if obj.value_quantity is not None:
            measured = obj.code in vitals.MEASURES and obj.unit == vitals.MEASURES[obj.code].unit
            value["valueQuantity"] = compact({
                "value": number(obj.value_quantity),
                "unit": obj.unit or None,
                "system": UCUM_SYSTEM if measured else None,
                "code": obj.unit if measured else None,
            })
        else:
            value["valueString"] = obj.value_text
        return compact({
            "resourceType": "Observation",
            "id": str(obj.uuid),
            "meta": {"versionId": "1", "lastUpdated": fhir.instant(obj.created_at)},
            "status": obj.status,
            "category": [{"coding": [{
                "system": OBSERVATION_CATEGORY_SYSTEM,
                "code": obj.category,
                "display": OBSERVATION_CATEGORY_DISPLAY.get(ObservationCategory(obj.category), obj.category),
            }]}],
            "code": {"coding": [{"system": LOINC_SYSTEM, "code": obj.code, "display": obj.display}],
                     "text": obj.display},
            "subject": patient_reference(obj.resident),
            "encounter": {"reference": f"Encounter/{obj.encounter.uuid}"} if obj.encounter_id else None,
            "effectiveDateTime": moment(obj.effective_at),
            "performer": [r for r in (practitioner_reference(obj.practitioner),
                                      organization_reference(obj.organization)) if r],
            **value,
            "interpretation": [{"coding": [{
                "system": INTERPRETATION_SYSTEM,
                "code": obj.interpretation,
                "display": INTERPRETATION_DISPLAY.get(obj.interpretation, obj.interpretation),
            }]}] if obj.interpretation else [],
            "referenceRange": [reference_range] if reference_range else [],
        })

    def condition(self, user: Any, name: str, value: str) -> Q:
        if name == "_id":
            return uuid_condition(value)
        if name in ("patient", "subject"):
            return reference_condition("resident__uuid", value, "Patient")
        if name == "code":
            code = token_code(value, LOINC_SYSTEM)
            return Q(code=code) if code else NOTHING
        if name == "category":
            code = token_code(value, OBSERVATION_CATEGORY_SYSTEM)
            return Q(category=code) if code in ObservationCategory.values else NOTHING
        if name == "encounter":
            return reference_condition("encounter__uuid", value, "Encounter")
        if name == "status":
            fhir.require_choice("status", value, OBSERVATION_STATUSES)
            return Q(status=value)
        if name == "date":
            return datetime_condition("effective_at", value)
        if name == "performer":
            parts = value.rstrip("/").split("/")
            kind = parts[-2] if len(parts) >= 2 else None
            if kind not in (None, "Practitioner", "Organization"):
                raise fhir.FhirError(400, "引用须指向 Practitioner 或 Organization (reference must point to a "
                                          "Practitioner or an Organization)")
            found = uuid_or_none(parts[-1])
            if found is None:
                return NOTHING
            by_practitioner = Q(practitioner__uuid=found) if kind in (None, "Practitioner") else NOTHING
            return by_practitioner | (Q(organization__uuid=found) if kind in (None, "Organization") else NOTHING)
        raise fhir.FhirError(400, f"unknown search parameter {name}")

    def create(self, user: Any, resource: Any, *, headers: Mapping[str, str],
               within: Callable[[Any], None]) -> Observation:
        resident, encounter, observation = observation_data(user, resource)
        return self.created(
            user,
            lambda: services.record_observations(
                user=user, resident=resident, observations=[observation], encounter=encounter, channel="fhir"
            )[0],
            within,
        )


def observation_data(user: Any, resource: Any) -> tuple[Resident, Encounter | None, dict[str, Any]]:
    """The record_observations arguments from a validated Observation; 422 naming the element at fault."""
    if resource.subject is None:
        raise unprocessable("Observation.subject", "缺少患者 (the patient is required)", code="required")
    resident = resident_of(user, resource.subject, "Observation.subject")
    status = check_code(resource.status, OBSERVATION_STATUSES, "Observation.status")
    if status != "final":
        raise code_invalid("Observation.status", status, {"final"})
    loinc = coding_of(resource.code, LOINC_SYSTEM)
    if loinc is None or not loinc.code:
        raise unprocessable("Observation.code", f"须有 LOINC 编码 (a coding with system {LOINC_SYSTEM} is required)",
                            code="required")
    observation: dict[str, Any] = {"code": str(loinc.code).strip()}
    if loinc.display or resource.code.text:
        observation["display"] = str(loinc.display or resource.code.text)
    for index, concept in enumerate(resource.category or []):
        category = coding_of(concept, OBSERVATION_CATEGORY_SYSTEM)
        if category is None:
            continue
        if category.code not in ObservationCategory.values:
            raise code_invalid(f"Observation.category[{index}]", category.code, ObservationCategory.values)
        observation["category"] = str(category.code)
    if observation["code"] not in vitals.MEASURES and observation.get("category", "vital-signs") == "vital-signs":
        raise code_invalid("Observation.code", observation["code"], vitals.MEASURES)
    if resource.valueQuantity is not None:
        quantity = resource.valueQuantity
        if quantity.value is None:
            raise unprocessable("Observation.valueQuantity.value", "缺少数值 (the value is required)",
                                code="required")
        observation["value"] = Decimal(quantity.value)
        observation["unit"] = str(quantity.unit or quantity.code or "")
    elif resource.valueString is not None:
        observation["value_text"] = str(resource.valueString)
    else:
        present = [name for name in ("valueCodeableConcept", "valueBoolean", "valueInteger", "valueRange",
                                     "valueRatio", "valueSampledData", "valueTime", "valueDateTime",
                                     "valuePeriod") if getattr(resource, name, None) is not None]
        raise unprocessable(f"Observation.{present[0]}" if present else "Observation.value[x]",
                            "只接受 valueQuantity 或 valueString (only valueQuantity or valueString is taken)",
                            code="not-supported" if present else "required")
    effective = aware(resource.effectiveDateTime, "Observation.effectiveDateTime")
    if resource.effectivePeriod is not None or resource.effectiveInstant is not None:
        raise unprocessable("Observation.effective[x]", "只接受 effectiveDateTime (only effectiveDateTime is taken)",
                            code="not-supported")
    if effective is not None:
        observation["effective_at"] = effective
    for reference_range in resource.referenceRange or []:
        if reference_range.low is not None and reference_range.low.value is not None:
            observation["reference_low"] = Decimal(reference_range.low.value)
        if reference_range.high is not None and reference_range.high.value is not None:
            observation["reference_high"] = Decimal(reference_range.high.value)
        break
    encounter = None
    encounter_id = target_id(resource.encounter, "Encounter", "Observation.encounter", required=False)
    if encounter_id is not None:
        encounter = queries.visible_encounters(user).filter(uuid=encounter_id).first()
        if encounter is None:
            raise unprocessable("Observation.encounter", "未找到该就诊，或不在您的管辖范围内 (encounter not found or "
                                                         "outside your scope)")
        if encounter.resident_id != resident.pk:
            raise unprocessable("Observation.encounter", "该就诊不属于此患者 (the encounter is not this patient's)")
    return resident, encounter, observation


for handler in (EncounterHandler(), ConditionHandler(), ObservationHandler()):
    fhir.register_resource(handler)
