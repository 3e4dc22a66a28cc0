"""Referrals as FHIR R4 resources: ServiceRequest (the referral), Task (its workflow state) and CarePlan (the plan a
down-referral carries).

One referral is published twice under the same id: `ServiceRequest/<uuid>` says what was asked (who refers whom
to whom, why, how urgently) and `Task/<uuid>` where the request stands (requested, accepted, arrived, …). The
status changes only through Task: `PUT Task/<uuid>` with a new status runs `services.transition`, so the state
machine of `workflow.py` decides, as for the pages and the JSON API. A down-referral's care plan is created with
it, contained in the ServiceRequest, and read back as `CarePlan/<uuid>` based on the referral.

The mapping follows, where they fit, the Chinese referral profiles (HL7 China / CHIMA ReferralRequest on
ServiceRequest; HospitalReferral / HospitalReferralResponse and their workflow Tasks in the public-health
guide CN-Public-Health-Core-R4); docs/fhir.md says what was taken from each and what differs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from fhir.resources.R4B.careplan import CarePlan as FhirCarePlan
from fhir.resources.R4B.servicerequest import ServiceRequest as FhirServiceRequest
from fhir.resources.R4B.task import Task as FhirTask

from countycare.core import fhir
from countycare.core.codes import system_url
from countycare.core.errors import NotFound, PermissionDenied, PreconditionFailed
from countycare.records import fhir as records_fhir
from countycare.records import queries as records_queries
from countycare.records.fhir import (
    EVERYTHING,
    EXTENSION_BASE,
    ICD10_SYSTEM,
    NOTHING,
    SNOMED_SYSTEM,
    UCUM_SYSTEM,
    PatientDataHandler,
    check_code,
    code_invalid,
    coding_of,
    compact,
    department_of,
    extension_value,
    icd10_code_of,
    lookup_uuid,
    moment,
    organization_of,
    organization_reference,
    patient_reference,
    practitioner_of,
    practitioner_reference,
    reference_to,
    resident_of,
    target_id,
    token_code,
    unprocessable,
    uuid_condition,
    uuid_or_none,
    visible_resident_ids,
)
from countycare.records.models import Icd10Code
from countycare.registry import queries as registry_queries
from countycare.registry.fhir import FHIR_BASE

from . import queries, services, workflow
from .models import CarePlan, CarePlanStatus, Referral, ReferralKind, ReferralStatus, Slot

REFERRAL_CATEGORY = {"system": SNOMED_SYSTEM, "code": "3457005", "display": "Patient referral"}
TASK_CODE_SYSTEM = "http://hl7.org/fhir/CodeSystem/task-code"
REFERRAL_KIND_SYSTEM = system_url("referral-kind")
REFERRAL_STATUS_SYSTEM = system_url("referral-status")
CARE_PLAN_CATEGORY_SYSTEM = system_url("care-plan-category")
TASK_PARAMETER_SYSTEM = system_url("referral-task-parameter")
REFERRAL_SLIP_SYSTEM = FHIR_BASE + "sid/referral-slip"  # 转诊单号 of an out-of-county referral
SLOT_SYSTEM = FHIR_BASE + "sid/slot"  # published capacity; Slot is not (yet) a FHIR resource here

EXT_REFERRING_PRACTITIONER = EXTENSION_BASE + "referring-practitioner"
EXT_REFERRING_DEPARTMENT = EXTENSION_BASE + "referring-department"
EXT_RECEIVING_DEPARTMENT = EXTENSION_BASE + "receiving-department"

# ServiceRequest.status (request-status) of each referral status
REQUEST_STATUS = {
    ReferralStatus.REQUESTED: "active",
    ReferralStatus.ACCEPTED: "active",
    ReferralStatus.ARRIVED: "active",
    ReferralStatus.COMPLETED: "completed",
    ReferralStatus.REJECTED: "revoked",
    ReferralStatus.CANCELLED: "revoked",
    ReferralStatus.EXPIRED: "revoked",
}
REQUEST_STATUSES = frozenset({"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"})
REQUEST_INTENTS = frozenset({"proposal", "plan", "directive", "order", "original-order", "reflex-order",
                             "filler-order", "instance-order", "option"})
REQUEST_PRIORITIES = frozenset({"routine", "urgent", "asap", "stat"})
# Task.status (task-status) of each referral status, and back
TASK_STATUS = {
    ReferralStatus.REQUESTED: "requested",
    ReferralStatus.ACCEPTED: "accepted",
    ReferralStatus.ARRIVED: "in-progress",
    ReferralStatus.COMPLETED: "completed",
    ReferralStatus.REJECTED: "rejected",
    ReferralStatus.CANCELLED: "cancelled",
    ReferralStatus.EXPIRED: "failed",
}
REFERRAL_STATUS_OF_TASK = {task: status for status, task in TASK_STATUS.items()}
TASK_STATUSES = frozenset({"draft", "requested", "received", "accepted", "rejected", "ready", "cancelled",
                           "in-progress", "on-hold", "failed", "completed", "entered-in-error"})
TASK_INTENTS = frozenset({"unknown", "proposal", "plan", "order", "original-order", "reflex-order", "filler-order",
                          "instance-order", "option"})
CARE_PLAN_STATUSES = frozenset({"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"})
CARE_PLAN_INTENTS = frozenset({"proposal", "plan", "order", "option"})
ACTIVITY_KINDS = frozenset({"Appointment", "CommunicationRequest", "DeviceRequest", "MedicationRequest",
                            "NutritionOrder", "Task", "ServiceRequest", "VisionPrescription"})
ACTIVITY_STATUSES = frozenset({"not-started", "scheduled", "in-progress", "on-hold", "completed", "cancelled",
                               "stopped", "unknown", "entered-in-error"})
# the action that takes a referral to each status (workflow.TRANSITIONS, looked up by target)
ACTION_TO = {transition.target: transition.action for transition in workflow.TRANSITIONS}


def referral_kind_coding(kind: str) -> dict[str, str]:
    return {"system": REFERRAL_KIND_SYSTEM, "code": kind, "display": str(ReferralKind(kind).label)}


def referral_status_coding(status: str) -> dict[str, str]:
    return {"system": REFERRAL_STATUS_SYSTEM, "code": status, "display": str(ReferralStatus(status).label)}


def reference_condition(value: str, fields: Mapping[str, str]) -> Q:
    """A reference search value that may name one of several types (`Organization/<id>`, `Practitioner/<id>`);
    a bare id matches any of them."""
    parts = value.rstrip("/").split("/")
    if len(parts) >= 2:
        if parts[-2] not in fields:
            raise fhir.FhirError(400, f"引用须指向 {' 或 '.join(fields)} (reference must point to "
                                      f"{' or '.join(fields)})", code="invalid")
        chosen = {parts[-2]: fields[parts[-2]]}
    else:
        chosen = dict(fields)
    found = uuid_or_none(parts[-1])
    if found is None:
        return NOTHING
    condition = NOTHING
    for field in chosen.values():
        condition |= Q(**{field: found})
    return condition


class ReferralHandler(PatientDataHandler):
    """What ServiceRequest and Task share: the referral rows the user may see, read audited as a Referral."""

    object_type = "Referral"
    ordering = ("-requested_at", "-id")

    def scoped(self, user: Any) -> QuerySet[Referral]:
        return queries.visible_referrals(user).select_related(
            "resident", "from_organization", "from_department", "from_practitioner", "to_organization",
            "to_department", "to_practitioner", "source_encounter", "arrival_encounter", "booking__slot",
            "bed_booking__slot", "care_plan",
        )

    def read(self, user: Any, resource_id: str) -> Referral:
        registry_queries.require_patient_access(user)
        found = queries.get_referral(user, lookup_uuid(resource_id, self.not_found), channel="fhir")
        return self.scoped(user).get(pk=found.pk)

    def read_for_update(self, user: Any, resource_id: str) -> Referral:
        # no audit of its own: the transition that follows is audited, and nothing is handed out before it
        registry_queries.require_patient_access(user)
        found = self.scoped(user).filter(uuid=lookup_uuid(resource_id, self.not_found)).first()
        if found is None:
            raise NotFound(self.not_found)
        return found

    def version(self, obj: Referral) -> str:
        return str(obj.version)

    def last_updated(self, obj: Referral) -> dt.datetime | None:
        return obj.updated_at

    def common_condition(self, name: str, value: str) -> Q | None:
        if name == "_id":
            return uuid_condition(value)
        if name in ("patient", "subject"):
            return records_fhir.reference_condition("resident__uuid", value, "Patient")
        if name == "priority":
            fhir.require_choice("priority", value, REQUEST_PRIORITIES)
            return Q(urgent=value != "routine")
        if name == "requester":
            return reference_condition(value, {"Organization": "from_organization__uuid",
                                               "Practitioner": "from_practitioner__uuid"})
        return None


# --------------------------------------------------------------------------------------------- ServiceRequest


class ServiceRequestHandler(ReferralHandler):
    resource_type = "ServiceRequest"
    model = FhirServiceRequest
    row_model = Referral  # ServiceRequest also serves the exam requests of diagnostics (records.fhir.CombinedHandler)
    not_found = "未找到该转诊，或不在您的管辖范围内 (referral not found or outside your scope)"
    documentation = (
        f"Referrals (category SNOMED CT 3457005 Patient referral; code from {REFERRAL_KIND_SYSTEM}: up, down, "
        "out_of_county). requester is the sending organisation, performer the receiving organisation (and "
        "doctor), reasonCode the ICD-10 diagnoses (first = primary) and the reason as text, priority urgent the "
        "green channel. Create accepts an Idempotency-Key; a down-referral contains its CarePlan. The status "
        "changes through Task/<same id>; PUT on ServiceRequest is not supported."
    )
    search_params = {
        "_id": fhir.SearchParam("token", "The logical id"),
        "patient": fhir.SearchParam("reference", "The resident: Patient/<id>"),
        "subject": fhir.SearchParam("reference", "The resident: Patient/<id>"),
        "status": fhir.SearchParam("token", "active (requested, accepted, arrived) | completed | revoked "
                                            "(rejected, cancelled, expired)"),
        "code": fhir.SearchParam("token", f"Kind of referral from {REFERRAL_KIND_SYSTEM}: up | down | "
                                          "out_of_county"),
        "priority": fhir.SearchParam("token", "routine | urgent (green channel; asap and stat match urgent)"),
        "requester": fhir.SearchParam("reference", "Sending organisation (Organization/<id>) or referring doctor "
                                                   "(Practitioner/<id>)"),
        "performer": fhir.SearchParam("reference", "Receiving organisation (Organization/<id>) or doctor "
                                                   "(Practitioner/<id>)"),
        "authored": fhir.SearchParam("date", "When requested, days in Asia/Shanghai, with prefixes"),
        "category": fhir.SearchParam("token", f"{SNOMED_SYSTEM}|3457005 (Patient referral) for referrals"),
    }
    field_expressions = {
        "kind": "ServiceRequest.code",
        "to_organization": "ServiceRequest.performer",
        "to_department": "ServiceRequest.extension",
        "to_practitioner": "ServiceRequest.performer",
        "from_organization": "ServiceRequest.requester",
        "urgent": "ServiceRequest.priority",
        "reason": "ServiceRequest.reasonCode",
        "clinical_summary": "ServiceRequest.note",
        "diagnoses": "ServiceRequest.reasonCode",
        "source_encounter": "ServiceRequest.encounter",
        "slip_number": "ServiceRequest.identifier",
        "from_department": "ServiceRequest.extension",
        "care_plan": "ServiceRequest.contained",
        "treatment_summary": "ServiceRequest.contained",
        "warning_signs": "ServiceRequest.contained",
        "care_plan.medicines": "ServiceRequest.contained",
        "care_plan.follow_up": "ServiceRequest.contained",
        "care_plan.responsible_practitioner": "ServiceRequest.contained",
        "care_plan.period_end": "ServiceRequest.contained",
        "resident": "ServiceRequest.subject",
    }

    def to_fhir(self, obj: Referral) -> dict[str, Any]:
        extensions: list[dict[str, Any]] = []
        if obj.from_practitioner_id:
            extensions.append({"url": EXT_REFERRING_PRACTITIONER,
                               "valueReference": practitioner_reference(obj.from_practitioner)})
        if obj.from_department_id:
            extensions.append({"url": EXT_REFERRING_DEPARTMENT, "valueString": obj.from_department.code})
        if obj.to_department_id:
            extensions.append({"url": EXT_RECEIVING_DEPARTMENT, "valueString": obj.to_department.code})
        diagnoses = sorted(obj.diagnoses or [], key=lambda d: not d.get("primary"))
        reasons: list[dict[str, Any]] = [
            {"coding": [compact({"system": ICD10_SYSTEM, "code": d["code"], "display": d.get("display")})],
             "text": d.get("display") or None}
            for d in diagnoses
        ]
        if obj.reason:
            reasons.append({"text": obj.reason})
        care_plan = getattr(obj, "care_plan", None) if obj.kind == ReferralKind.DOWN else None
        return compact({
            "resourceType": "ServiceRequest",
            "id": str(obj.uuid),
            "meta": {"versionId": str(obj.version), "lastUpdated": fhir.instant(obj.updated_at)},
            "extension": extensions,
            "identifier": [{"system": REFERRAL_SLIP_SYSTEM, "value": obj.slip_number}] if obj.slip_number else [],
            "status": REQUEST_STATUS[ReferralStatus(obj.status)],
            "intent": "order",
            "category": [{"coding": [REFERRAL_CATEGORY], "text": "转诊"}],
            "code": {"coding": [referral_kind_coding(obj.kind)]},
            "priority": "urgent" if obj.urgent else "routine",
            "subject": patient_reference(obj.resident),
            "encounter": reference_to(obj.source_encounter, "Encounter") if obj.source_encounter_id else None,
            "occurrencePeriod": {"start": moment(obj.requested_at), "end": moment(obj.due_at)},
            "authoredOn": moment(obj.requested_at),
            "requester": organization_reference(obj.from_organization),
            "performer": [r for r in (organization_reference(obj.to_organization),
                                      practitioner_reference(obj.to_practitioner)) if r],
            "reasonCode": [compact(r) for r in reasons],
            "supportingInfo": [reference_to(care_plan, "CarePlan", "下转康复计划")] if care_plan else [],
            "note": [{"text": obj.clinical_summary}] if obj.clinical_summary else [],
        })

    def condition(self, user: Any, name: str, value: str) -> Q:
        common = self.common_condition(name, value)
        if common is not None:
            return common
        if name == "status":
            fhir.require_choice("status", value, REQUEST_STATUSES)
            statuses = [status for status, code in REQUEST_STATUS.items() if code == value]
            return Q(status__in=statuses) if statuses else NOTHING
        if name == "code":
            code = token_code(value, REFERRAL_KIND_SYSTEM)
            return Q(kind=code) if code in ReferralKind.values else NOTHING
        if name == "performer":
            return reference_condition(value, {"Organization": "to_organization__uuid",
                                               "Practitioner": "to_practitioner__uuid"})
        if name == "authored":
            return records_fhir.datetime_condition("requested_at", value)
        if name == "category":
            return EVERYTHING if token_code(value, SNOMED_SYSTEM) == REFERRAL_CATEGORY["code"] else NOTHING
        raise fhir.FhirError(400, f"unknown search parameter {name}")

    def claim(self, resource: Any) -> int:
        if coding_of(resource.code, REFERRAL_KIND_SYSTEM) is not None:
            return 2
        categories = [c for concept in resource.category or [] for c in concept.coding or []]
        return 1 if any(c.system == SNOMED_SYSTEM and c.code == REFERRAL_CATEGORY["code"] for c in categories) else 0

    def create(self, user: Any, resource: Any, *, headers: Mapping[str, str],
               within: Callable[[Any], None]) -> Referral:
        resident, data = referral_data(user, resource)
        referral = services.create_referral(user=user, resident=resident, data=data, channel="fhir", within=within)
        return referral

    def update(self, user: Any, obj: Any, resource: Any, *, expected_version: str | None,
               headers: Mapping[str, str]) -> Any:
        raise fhir.FhirError(
            405, "转诊状态请通过 Task 修改 (change a referral's status with PUT Task/<same id>)",
            code="not-supported", headers={"Allow": "GET"},
        )


def referral_data(user: Any, resource: Any) -> tuple[Any, dict[str, Any]]:
    """The create_referral arguments from a validated ServiceRequest; 422 naming the element at fault."""
    resident = resident_of(user, resource.subject, "ServiceRequest.subject")
    status = check_code(resource.status, REQUEST_STATUSES, "ServiceRequest.status")
    if status != "active":
        raise code_invalid("ServiceRequest.status", status, {"active"})
    intent = check_code(resource.intent, REQUEST_INTENTS, "ServiceRequest.intent")
    if intent != "order":
        raise code_invalid("ServiceRequest.intent", intent, {"order"})
    if resource.category and not any(
        c.system == SNOMED_SYSTEM and c.code == REFERRAL_CATEGORY["code"]
        for concept in resource.category for c in concept.coding or []
    ):
        raise unprocessable("ServiceRequest.category", f"须为 SNOMED CT {REFERRAL_CATEGORY['code']} Patient "
                                                       "referral (the category must be Patient referral)",
                            code="code-invalid")
    kind_coding = coding_of(resource.code, REFERRAL_KIND_SYSTEM)
    if kind_coding is None:
        raise unprocessable("ServiceRequest.code", f"须有转诊类型 {REFERRAL_KIND_SYSTEM} (the kind of referral is "
                                                   "required)", code="required")
    if kind_coding.code not in ReferralKind.values:
        raise code_invalid("ServiceRequest.code", kind_coding.code, ReferralKind.values)
    priority = check_code(resource.priority, REQUEST_PRIORITIES, "ServiceRequest.priority")
    data: dict[str, Any] = {"kind": ReferralKind(kind_coding.code), "urgent": priority not in (None, "routine")}
    if resource.requester is not None:
        data["from_organization"] = organization_of(user, resource.requester, "ServiceRequest.requester")
    sending_department = extension_value(resource, EXT_REFERRING_DEPARTMENT, "valueString")
    data["from_department"] = department_of(data.get("from_organization") or user.organization,
                                            str(sending_department or ""), "ServiceRequest.extension")
    organizations = [(i, p) for i, p in enumerate(resource.performer or [])
                     if str(p.reference or "").startswith("Organization/")]
    practitioners = [(i, p) for i, p in enumerate(resource.performer or [])
                     if str(p.reference or "").startswith("Practitioner/")]
    others = [i for i, p in enumerate(resource.performer or []) if (i, p) not in organizations + practitioners]
    if others:
        raise unprocessable(f"ServiceRequest.performer[{others[0]}]", "接收方须为 Organization 或 Practitioner "
                                                                      "(the receiver must be an Organization or a "
                                                                      "Practitioner)")
    if len(organizations) != 1:
        raise unprocessable("ServiceRequest.performer", "须有且只有一个接收机构 (exactly one receiving "
                                                        "Organization is required)", code="required")
    index, receiver = organizations[0]
    data["to_organization"] = organization_of(user, receiver, f"ServiceRequest.performer[{index}]", required=True)
    if practitioners:
        index, doctor = practitioners[0]
        data["to_practitioner"] = practitioner_of(user, doctor, f"ServiceRequest.performer[{index}]")
    department = extension_value(resource, EXT_RECEIVING_DEPARTMENT, "valueString")
    data["to_department"] = department_of(data["to_organization"], str(department or ""),
                                          "ServiceRequest.extension")
    diagnoses: list[dict[str, Any]] = []
    reasons: list[str] = []
    for index, concept in enumerate(resource.reasonCode or []):
        if coding_of(concept, ICD10_SYSTEM) is not None:
            code = icd10_code_of(concept, f"ServiceRequest.reasonCode[{index}]")
            diagnoses.append({"code": code, "primary": not diagnoses})
        elif concept.coding:
            raise unprocessable(f"ServiceRequest.reasonCode[{index}]", f"编码须为 ICD-10 {ICD10_SYSTEM} (coded "
                                                                        "reasons must be ICD-10)",
                                code="code-invalid")
        elif concept.text:
            reasons.append(str(concept.text))
    data["diagnoses"] = diagnoses
    data["reason"] = "\n".join(reasons)
    data["clinical_summary"] = "\n".join(str(note.text) for note in resource.note or [] if note.text)
    encounter_id = target_id(resource.encounter, "Encounter", "ServiceRequest.encounter", required=False)
    if encounter_id is not None:
        encounter = records_queries.visible_encounters(user).filter(uuid=encounter_id).first()
        if encounter is None or encounter.resident_id != resident.pk:
            raise unprocessable("ServiceRequest.encounter", "未找到该患者的此次就诊 (no such encounter of this "
                                                            "patient in your scope)")
        data["source_encounter"] = encounter
    data["slip_number"] = next(
        (str(i.value or "") for i in resource.identifier or [] if i.system == REFERRAL_SLIP_SYSTEM), ""
    )
    plans = [item for item in resource.contained or [] if item.get_resource_type() == "CarePlan"]
    if any(item.get_resource_type() != "CarePlan" for item in resource.contained or []):
        raise unprocessable("ServiceRequest.contained", "只能内含 CarePlan (only a CarePlan may be contained)",
                            code="not-supported")
    if len(plans) > 1:
        raise unprocessable("ServiceRequest.contained", "最多一个康复计划 (at most one CarePlan)")
    if plans:
        if data["kind"] != ReferralKind.DOWN:
            raise unprocessable("ServiceRequest.contained", "只有下转可带康复计划 (only a down-referral carries a "
                                                            "care plan)")
        data["care_plan"] = care_plan_data(user, plans[0], resident)
    return resident, data


def care_plan_data(user: Any, plan: Any, resident: Any) -> dict[str, Any]:
    """The care_plan dict of create_referral from a contained CarePlan."""
    where = f"ServiceRequest.contained({plan.id or 'CarePlan'})"
    status = check_code(plan.status, CARE_PLAN_STATUSES, f"{where}.status")
    if status != "active":
        raise code_invalid(f"{where}.status", status, {"active"})
    intent = check_code(plan.intent, CARE_PLAN_INTENTS, f"{where}.intent")
    if intent != "plan":
        raise code_invalid(f"{where}.intent", intent, {"plan"})
    if target_id(plan.subject, "Patient", f"{where}.subject") != str(resident.uuid):
        raise unprocessable(f"{where}.subject", "康复计划须为同一患者 (the care plan must be for the referred "
                                                "patient)")
    responsible = practitioner_of(user, plan.author, f"{where}.author", required=True)
    period_end = plan.period.end if plan.period is not None else None
    if period_end is None:
        raise unprocessable(f"{where}.period.end", "须写明随访截止日期 (the end of the follow-up period is "
                                                   "required)", code="required")
    if isinstance(period_end, dt.datetime):
        period_end = timezone.localdate(period_end) if timezone.is_aware(period_end) else period_end.date()
    medicines: list[dict[str, Any]] = []
    follow_up: list[dict[str, Any]] = []
    for index, activity in enumerate(plan.activity or []):
        detail = activity.detail
        at = f"{where}.activity[{index}].detail"
        if detail is None:
            raise unprocessable(f"{where}.activity[{index}]", "须有 detail (an activity needs its detail)",
                                code="required")
        check_code(detail.kind, ACTIVITY_KINDS, f"{at}.kind")
        check_code(detail.status, ACTIVITY_STATUSES, f"{at}.status")
        timing = detail.scheduledTiming
        if detail.kind == "MedicationRequest":
            product = detail.productCodeableConcept
            name = str((product.text if product else None) or next(
                (c.display for c in (product.coding or []) if c.display), "") if product else "")
            if not name:
                raise unprocessable(f"{at}.productCodeableConcept", "须写药名 (the medicine's name is required)",
                                    code="required")
            bounds = timing.repeat.boundsDuration if timing is not None and timing.repeat is not None else None
            medicines.append(compact({
                "name": name,
                "dose": str(detail.description or ""),
                "frequency": str(timing.code.text or "") if timing is not None and timing.code is not None else "",
                "days": int(bounds.value) if bounds is not None and bounds.value is not None else None,
            }))
        elif detail.kind == "Appointment":
            events = timing.event if timing is not None else None
            if not events:
                raise unprocessable(f"{at}.scheduledTiming.event", "须写随访日期 (the follow-up date is required)",
                                    code="required")
            due = events[0]
            due_date = (timezone.localdate(due) if isinstance(due, dt.datetime) and timezone.is_aware(due)
                        else due.date() if isinstance(due, dt.datetime) else due)
            follow_up.append({
                "due": due_date.isoformat() if isinstance(due_date, dt.date) else str(due_date),
                "what": str((detail.code.text if detail.code else None) or detail.description or ""),
            })
        else:
            raise code_invalid(f"{at}.kind", detail.kind, {"MedicationRequest", "Appointment"})
    return {
        "treatment_summary": str(plan.description or ""),
        "medicines": medicines,
        "follow_up": follow_up,
        "warning_signs": "\n".join(str(note.text) for note in plan.note or [] if note.text),
        "responsible_practitioner": responsible,
        "period_end": period_end,
    }


# ------------------------------------------------------------------------------------------------------- Task


class TaskHandler(ReferralHandler):
    resource_type = "Task"
    model = FhirTask
    interactions = ("read", "vread", "search-type", "update")
    not_found = "未找到该转诊任务，或不在您的管辖范围内 (referral task not found or outside your scope)"
    documentation = (
        "The workflow state of a referral, one Task per ServiceRequest with the same id (focus). status: "
        "requested → accepted → in-progress (arrived) → completed, or rejected, cancelled, failed (expired); "
        f"businessStatus carries the referral status ({REFERRAL_STATUS_SYSTEM}), statusReason the reason. "
        "PUT Task/<id> with a new status moves the referral (If-Match or meta.versionId: the version seen; stale "
        "412, impossible transition 409, wrong side 403). Created with its ServiceRequest, never on its own."
    )
    search_params = {
        "_id": fhir.SearchParam("token", "The logical id (the referral's)"),
        "patient": fhir.SearchParam("reference", "The resident: Patient/<id>"),
        "subject": fhir.SearchParam("reference", "The resident: Patient/<id>"),
        "focus": fhir.SearchParam("reference", "The referral: ServiceRequest/<id>"),
        "status": fhir.SearchParam("token", "requested | accepted | in-progress | completed | rejected | "
                                            "cancelled | failed"),
        "business-status": fhir.SearchParam("token", f"Referral status from {REFERRAL_STATUS_SYSTEM}"),
        "priority": fhir.SearchParam("token", "routine | urgent"),
        "owner": fhir.SearchParam("reference", "Receiving organisation (Organization/<id>) or doctor "
                                               "(Practitioner/<id>)"),
        "requester": fhir.SearchParam("reference", "Sending organisation (Organization/<id>) or referring doctor "
                                                   "(Practitioner/<id>)"),
        "authored-on": fhir.SearchParam("date", "When requested, days in Asia/Shanghai, with prefixes"),
        "modified": fhir.SearchParam("date", "Last change, days in Asia/Shanghai, with prefixes"),
    }
    field_expressions = {
        "reason": "Task.statusReason",
        "action": "Task.status",
        "slot": "Task.input",
        "status": "Task.status",
        "expected_version": "Task.meta.versionId",
    }

    def to_fhir(self, obj: Referral) -> dict[str, Any]:
        outputs: list[dict[str, Any]] = []
        for booking, label in ((obj.booking, "预约号源 booked slot"), (obj.bed_booking, "预留床位 reserved bed")):
            if booking is not None:
                outputs.append({
                    "type": {"coding": [{"system": TASK_PARAMETER_SYSTEM, "code": "slot"}], "text": label},
                    "valueReference": {"identifier": {"system": SLOT_SYSTEM, "value": str(booking.slot.uuid)},
                                       "display": slot_display(booking.slot)},
                })
        if obj.arrival_encounter_id:
            outputs.append({
                "type": {"coding": [{"system": TASK_PARAMETER_SYSTEM, "code": "arrival-encounter"}],
                         "text": "到诊就诊 arrival encounter"},
                "valueReference": reference_to(obj.arrival_encounter, "Encounter"),
            })
        ended = obj.completed_at or obj.closed_at
        return compact({
            "resourceType": "Task",
            "id": str(obj.uuid),
            "meta": {"versionId": str(obj.version), "lastUpdated": fhir.instant(obj.updated_at)},
            "status": TASK_STATUS[ReferralStatus(obj.status)],
            "statusReason": {"text": obj.status_reason} if obj.status_reason else None,
            "businessStatus": {"coding": [referral_status_coding(obj.status)]},
            "intent": "order",
            "priority": "urgent" if obj.urgent else "routine",
            "code": {"coding": [{"system": TASK_CODE_SYSTEM, "code": "fulfill",
                                 "display": "Fulfill the focal request"}]},
            "description": f"{ReferralKind(obj.kind).label}",
            "focus": reference_to(obj, "ServiceRequest"),
            "for": patient_reference(obj.resident),
            "executionPeriod": compact({"start": moment(obj.requested_at), "end": moment(ended)}),
            "authoredOn": moment(obj.requested_at),
            "lastModified": moment(obj.updated_at),
            "requester": organization_reference(obj.from_organization),
            "owner": organization_reference(obj.to_organization),
            "restriction": {"period": {"end": moment(obj.due_at)}},
            "output": outputs,
        })

    def condition(self, user: Any, name: str, value: str) -> Q:
        common = self.common_condition(name, value)
        if common is not None:
            return common
        if name == "focus":
            return records_fhir.reference_condition("uuid", value, "ServiceRequest")
        if name == "status":
            fhir.require_choice("status", value, TASK_STATUSES)
            status = REFERRAL_STATUS_OF_TASK.get(value)
            return Q(status=status) if status else NOTHING
        if name == "business-status":
            code = token_code(value, REFERRAL_STATUS_SYSTEM)
            return Q(status=code) if code in ReferralStatus.values else NOTHING
        if name == "owner":
            return reference_condition(value, {"Organization": "to_organization__uuid",
                                               "Practitioner": "to_practitioner__uuid"})
        if name == "authored-on":
            return records_fhir.datetime_condition("requested_at", value)
        if name == "modified":
            return records_fhir.datetime_condition("updated_at", value)
        raise fhir.FhirError(400, f"unknown search parameter {name}")

    def create(self, user: Any, resource: Any, *, headers: Mapping[str, str],
               within: Callable[[Any], None]) -> Any:
        raise fhir.FhirError(
            405, "转诊任务随 ServiceRequest 一起建立 (a referral's Task is created with its ServiceRequest; POST "
                 "ServiceRequest)", code="not-supported", headers={"Allow": "GET"},
        )

    def update(self, user: Any, obj: Referral, resource: Any, *, expected_version: str | None,
               headers: Mapping[str, str]) -> Referral:
        seen = expected_version or (resource.meta.versionId if resource.meta is not None else None)
        if seen is not None and (not str(seen).isdigit() or int(seen) != obj.version):
            raise PreconditionFailed(f"版本 {str(seen)[:20]} 不是当前版本 {obj.version}，请刷新 (version is not "
                                     "current; reload)")
        check_code(resource.intent, TASK_INTENTS, "Task.intent")
        target = task_target(resource)
        if target == obj.status:
            return obj  # nothing to change: a repeated PUT of the same state
        action = ACTION_TO.get(target)
        transition = workflow.BY_ACTION.get(action or "")
        if transition is None or transition.side == workflow.Side.SYSTEM:
            raise PermissionDenied(f"状态 {TASK_STATUS[target]} 由系统设置 (only the system sets this status)")
        slot = task_slot(user, resource) if action == "accept" else None
        changed = services.transition(
            user=user, referral=obj, action=transition.action, expected_version=obj.version,
            reason=task_reason(resource), slot=slot, channel="fhir",
        )
        return self.scoped(user).get(pk=changed.pk)


def task_target(resource: Any) -> ReferralStatus:
    """The referral status a PUT Task asks for: businessStatus when it carries our code, else the Task.status."""
    status = check_code(resource.status, TASK_STATUSES, "Task.status")
    if status not in REFERRAL_STATUS_OF_TASK:
        raise code_invalid("Task.status", status, REFERRAL_STATUS_OF_TASK)
    target = REFERRAL_STATUS_OF_TASK[str(status)]
    business = coding_of(resource.businessStatus, REFERRAL_STATUS_SYSTEM)
    if business is not None:
        if business.code not in ReferralStatus.values:
            raise code_invalid("Task.businessStatus", business.code, ReferralStatus.values)
        if TASK_STATUS[ReferralStatus(business.code)] != status:
            raise unprocessable("Task.businessStatus", f"与 status {status} 不符 (does not agree with the status)")
        target = ReferralStatus(business.code)
    return target


def task_reason(resource: Any) -> str:
    reason = resource.statusReason
    if reason is None:
        return ""
    return str(reason.text or next((c.display for c in reason.coding or [] if c.display), "") or "").strip()


def task_slot(user: Any, resource: Any) -> Slot | None:
    """The slot an accept books: Task.input of type `slot`, valueReference Slot/<id> or an identifier."""
    for index, given in enumerate(resource.input or []):
        kind = coding_of(given.type, TASK_PARAMETER_SYSTEM)
        if kind is None or kind.code != "slot":
            continue
        where = f"Task.input[{index}].valueReference"
        value = given.valueReference
        if value is None:
            raise unprocessable(where, "号源须为 valueReference (the slot must be a valueReference)",
                                code="required")
        if value.identifier is not None and value.identifier.system == SLOT_SYSTEM:
            found = uuid_or_none(str(value.identifier.value or ""))
        else:
            found = target_id(value, "Slot", where)
        slot = Slot.objects.filter(community_id=user.community_id, uuid=found).first() if found else None
        if slot is None:
            raise unprocessable(where, "未找到该号源 (slot not found)")
        return slot
    return None


def slot_display(slot: Slot) -> str:
    start = timezone.localtime(slot.starts_at)
    return f"{slot.label or slot.get_kind_display()} {start:%Y-%m-%d %H:%M}"


# --------------------------------------------------------------------------------------------------- CarePlan


CARE_PLAN_ACTIVITY_STATUS = {
    CarePlanStatus.ACTIVE: ("in-progress", "scheduled"),
    CarePlanStatus.COMPLETED: ("completed", "completed"),
    CarePlanStatus.REVOKED: ("stopped", "cancelled"),
}


class CarePlanHandler(PatientDataHandler):
    resource_type = "CarePlan"
    model = FhirCarePlan
    interactions = ("read", "vread", "search-type")
    object_type = "CarePlan"
    not_found = "未找到该康复计划，或不在您的管辖范围内 (care plan not found or outside your scope)"
    documentation = (
        "The plan a down-referral carries (下转康复计划): basedOn the referral (ServiceRequest), author the "
        "responsible lead-hospital doctor, description the treatment summary, addresses the diagnoses, activity "
        "the medicines to continue (MedicationRequest) and the follow-up schedule (Appointment), note the "
        "warning signs, period the time it is followed. Created only contained in its down-referral "
        "ServiceRequest."
    )
    search_params = {
        "_id": fhir.SearchParam("token", "The logical id"),
        "patient": fhir.SearchParam("reference", "The resident: Patient/<id>"),
        "subject": fhir.SearchParam("reference", "The resident: Patient/<id>"),
        "status": fhir.SearchParam("token", "active | completed | revoked"),
        "based-on": fhir.SearchParam("reference", "The referral: ServiceRequest/<id>"),
        "author": fhir.SearchParam("reference", "Responsible doctor (Practitioner/<id>) or their organisation "
                                                "(Organization/<id>)"),
        "date": fhir.SearchParam("date", "When the plan was made, days in Asia/Shanghai, with prefixes"),
    }
    ordering = ("-created_at", "-id")

    def scoped(self, user: Any) -> QuerySet[CarePlan]:
        visible = Q(referral__in=queries.visible_referrals(user).values("pk")) | Q(
            resident_id__in=visible_resident_ids(user)
        )
        return CarePlan.objects.filter(visible).select_related(
            "resident", "referral", "responsible_practitioner", "responsible_organization"
        )

    def last_updated(self, obj: CarePlan) -> dt.datetime | None:
        return obj.created_at

    def to_fhir(self, obj: CarePlan) -> dict[str, Any]:
        medicine_status, follow_up_status = CARE_PLAN_ACTIVITY_STATUS[CarePlanStatus(obj.status)]
        diagnoses = sorted(obj.diagnoses or [], key=lambda d: not d.get("primary"))
        names = dict(Icd10Code.objects.filter(code__in=[d["code"] for d in diagnoses if not d.get("display")])
                     .values_list("code", "name")) if diagnoses else {}
        contained = [
            compact({
                "resourceType": "Condition",
                "id": f"dx{index}",
                "category": records_fhir.condition_category("encounter-diagnosis"),
                "code": {"coding": [records_fhir.icd10_coding(d["code"], d.get("display") or names.get(d["code"], ""))
                                    ]},
                "subject": {"reference": f"Patient/{obj.resident.uuid}"},
            })
            for index, d in enumerate(diagnoses, start=1)
        ]
        activities = []
        for medicine in obj.medicines or []:
            timing = compact({
                "code": {"text": medicine["frequency"]} if medicine.get("frequency") else None,
                "repeat": {"boundsDuration": {"value": medicine["days"], "unit": "天", "system": UCUM_SYSTEM,
                                              "code": "d"}} if medicine.get("days") else None,
            })
            activities.append({"detail": compact({
                "kind": "MedicationRequest",
                "status": medicine_status,
                "productCodeableConcept": {"text": medicine.get("name", "")},
                "description": medicine.get("dose") or None,
                "scheduledTiming": timing or None,
            })})
        for step in obj.follow_up or []:
            activities.append({"detail": compact({
                "kind": "Appointment",
                "status": follow_up_status,
                "code": {"text": step.get("what")} if step.get("what") else None,
                "scheduledTiming": {"event": [step["due"]]} if step.get("due") else None,
            })})
        return compact({
            "resourceType": "CarePlan",
            "id": str(obj.uuid),
            "meta": {"versionId": str(obj.version), "lastUpdated": fhir.instant(obj.created_at)},
            "contained": contained,
            "basedOn": [reference_to(obj.referral, "ServiceRequest")],
            "status": obj.status,
            "intent": "plan",
            "category": [{"coding": [{"system": CARE_PLAN_CATEGORY_SYSTEM, "code": "down_referral",
                                      "display": "下转康复计划"}]}],
            "title": "下转康复计划",
            "description": obj.treatment_summary,
            "subject": patient_reference(obj.resident),
            "period": {"start": timezone.localdate(obj.created_at).isoformat(), "end": obj.period_end.isoformat()},
            "created": moment(obj.created_at),
            "author": practitioner_reference(obj.responsible_practitioner),
            "contributor": [organization_reference(obj.responsible_organization)],
            "addresses": [{"reference": f"#dx{index}"} for index in range(1, len(contained) + 1)],
            "activity": activities,
            "note": [{"text": obj.warning_signs}] if obj.warning_signs else [],
        })

    def condition(self, user: Any, name: str, value: str) -> Q:
        if name == "_id":
            return uuid_condition(value)
        if name in ("patient", "subject"):
            return records_fhir.reference_condition("resident__uuid", value, "Patient")
        if name == "status":
            fhir.require_choice("status", value, CARE_PLAN_STATUSES)
            return Q(status=value) if value in CarePlanStatus.values else NOTHING
        if name == "based-on":
            return records_fhir.reference_condition("referral__uuid", value, "ServiceRequest")
        if name == "author":
            return reference_condition(value, {"Practitioner": "responsible_practitioner__uuid",
                                               "Organization": "responsible_organization__uuid"})
        if name == "date":
            return records_fhir.datetime_condition("created_at", value)
        raise fhir.FhirError(400, f"unknown search parameter {name}")

    def create(self, user: Any, resource: Any, *, headers: Mapping[str, str],
               within: Callable[[Any], None]) -> Any:
        raise fhir.FhirError(
            405, "康复计划随下转申请一起建立：请把 CarePlan 内含在 ServiceRequest 中提交 "
                 "(a care plan is created with its down-referral: POST a ServiceRequest containing the CarePlan)",
            code="not-supported", headers={"Allow": "GET"},
        )


for handler in (ServiceRequestHandler(), TaskHandler(), CarePlanHandler()):
    fhir.register_resource(handler)
