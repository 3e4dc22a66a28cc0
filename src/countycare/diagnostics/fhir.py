"""The shared diagnostic centres as FHIR R4 resources.

- **ServiceRequest** — an exam request (检查/检验申请). The type also serves referrals: one endpoint, two tables
  (`records.fhir.CombinedHandler`); a search returns both within scope, `category=` tells them apart, a create
  goes to the part its code (exam type vs. referral kind) or else its category names. Create = a branch HIS
  orders an exam (`services.request_exam`, Idempotency-Key honoured).
- **DiagnosticReport** — the report of an exam request, with the request's id. Every version is kept:
  `meta.versionId` is the report version, `GET DiagnosticReport/<id>/_history` lists them and
  `…/_history/<vid>` reads one. Create = a laboratory (analyser, branch LIS) posts the results of an ordered
  exam as contained Observations (`services.publish_lab_results`, as an HL7 ORU^R01 does).
- **Observation** — the ECG pre-read's measurements (heart rate, PR, QRS, QT, QTc in LOINC), read-only and
  computed from `EcgPreRead` (id `<request id>-<measure>`), served with the record's observations by one
  endpoint; lab results and report conclusions are the record's Observation rows already.
- **ImagingStudy** — a DICOM acquisition kept in Orthanc: the study UID, its series, and a DICOMweb
  (WADO-RS) endpoint.
- **Media** — a file of an acquisition (the ECG tracing's WFDB or CSV files, pathology slide images), its
  content a link to **Binary** (the bytes, base64 in JSON).

Reads and searches go through `queries.visible_requests` (the resident in the user's scope, or a request
sent to a centre the user reads for) and every row handed out is audited on the `fhir` channel. Writes are
the services' (one transaction, audited there). docs/fhir.md lists the code systems and mappings.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import CharField, F, Q, QuerySet, Value
from fhir.resources.R4B.binary import Binary as FhirBinary
from fhir.resources.R4B.diagnosticreport import DiagnosticReport as FhirDiagnosticReport
from fhir.resources.R4B.imagingstudy import ImagingStudy as FhirImagingStudy
from fhir.resources.R4B.media import Media as FhirMedia
from fhir.resources.R4B.observation import Observation as FhirObservation
from fhir.resources.R4B.servicerequest import ServiceRequest as FhirServiceRequest

from countycare.core import audit, fhir
from countycare.core.codes import Role, system_url
from countycare.core.errors import NotFound, PermissionDenied
from countycare.records import fhir as records_fhir
from countycare.records import queries as records_queries
from countycare.records.fhir import (
    CLINICIANS,
    EVERYTHING,
    EXTENSION_BASE,
    INTERPRETATION_DISPLAY,
    INTERPRETATION_SYSTEM,
    LOINC_SYSTEM,
    NOTHING,
    OBSERVATION_CATEGORY_SYSTEM,
    OBSERVATION_STATUSES,
    SNOMED_SYSTEM,
    UCUM_SYSTEM,
    PatientDataHandler,
    aware,
    check_code,
    code_invalid,
    coding_of,
    compact,
    datetime_condition,
    lookup_uuid,
    moment,
    number,
    organization_of,
    organization_reference,
    patient_reference,
    practitioner_of,
    practitioner_reference,
    resident_of,
    target_id,
    token_code,
    unprocessable,
    uuid_condition,
    uuid_or_none,
)
from countycare.referrals import fhir as referrals_fhir  # noqa: F401  (the referral ServiceRequest comes first)
from countycare.referrals.fhir import REQUEST_INTENTS, REQUEST_PRIORITIES, REQUEST_STATUSES, reference_condition
from countycare.registry import queries as registry_queries
from countycare.registry.fhir import FHIR_BASE

from . import queries, services
from .models import (
    Acquisition,
    AcquisitionKind,
    Attachment,
    CentreKind,
    CentreReader,
    EcgPreRead,
    ExamRequest,
    ExamStatus,
    ExamType,
    Priority,
    Report,
    ReportStatus,
)

CHANNEL = "fhir"
EXAM_TYPE_SYSTEM = system_url("exam-type")
EXAM_CATEGORY_SYSTEM = system_url("exam-category")
EXAM_STATUS_SYSTEM = system_url("exam-status")
ACCESSION_SYSTEM = FHIR_BASE + "sid/accession-number"
IDENTIFIER_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"
DIAGNOSTIC_SECTION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0074"
DICOM_UID_SYSTEM = "urn:dicom:uid"
DCM_SYSTEM = "http://dicom.nema.org/resources/ontology/DCM"
MEDIA_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/media-type"
CONNECTION_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"

EXT_REQUESTING_PRACTITIONER = EXTENSION_BASE + "requesting-practitioner"
EXT_EXAM_STATUS = EXTENSION_BASE + "exam-status"
EXT_REPEAT_REASON = EXTENSION_BASE + "repeat-reason"
EXT_CRITICAL_FINDING = EXTENSION_BASE + "critical-finding"
EXT_REVISION_REASON = EXTENSION_BASE + "revision-reason"

# The category of each kind of centre: our code always, the SNOMED CT concept of FHIR's example value set where
# there is one (ServiceRequest), and the v2-0074 diagnostic service section (DiagnosticReport).
KIND_LABEL = {CentreKind.ECG: "心电 ECG", CentreKind.IMAGING: "影像 Imaging", CentreKind.LAB: "检验 Laboratory",
              CentreKind.PATHOLOGY: "病理 Pathology"}
SNOMED_CATEGORY = {CentreKind.LAB: ("108252007", "Laboratory procedure"), CentreKind.IMAGING: ("363679005", "Imaging")}
SECTION = {CentreKind.ECG: ("EC", "Electrocardiac"), CentreKind.IMAGING: ("RAD", "Radiology"),
           CentreKind.LAB: ("LAB", "Laboratory"), CentreKind.PATHOLOGY: ("PAT", "Pathology (gross & histopath, "
                                                                              "not surgical)")}
KIND_OF_SNOMED = {code: kind for kind, (code, _) in SNOMED_CATEGORY.items()}
KIND_OF_SECTION = {code: kind for kind, (code, _) in SECTION.items()}

# ServiceRequest.status (request-status) of each exam status
REQUEST_STATUS = {
    ExamStatus.REQUESTED: "active",
    ExamStatus.ACQUIRED: "active",
    ExamStatus.RETURNED: "active",
    ExamStatus.CLAIMED: "active",
    ExamStatus.SECOND_READING: "active",
    ExamStatus.PUBLISHED: "completed",
    ExamStatus.CANCELLED: "revoked",
}
REPORT_STATUSES = frozenset({"registered", "partial", "preliminary", "final", "amended", "corrected", "appended",
                             "cancelled", "entered-in-error", "unknown"})
IMAGING_STATUSES = frozenset({"registered", "available", "cancelled", "entered-in-error", "unknown"})
EVENT_STATUSES = frozenset({"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed",
                            "entered-in-error", "unknown"})
READ_ONLY = ("read", "vread", "search-type")


def kind_of_category(value: str) -> str | None:
    """The centre kind a category token names: our code, the SNOMED CT concept or the v2-0074 section."""
    system, code = fhir.split_token(value)
    if system in (None, EXAM_CATEGORY_SYSTEM) and code in CentreKind.values:
        return code
    if system in (None, SNOMED_SYSTEM) and code in KIND_OF_SNOMED:
        return KIND_OF_SNOMED[code]
    if system in (None, DIAGNOSTIC_SECTION_SYSTEM) and code in KIND_OF_SECTION:
        return KIND_OF_SECTION[code]
    return None


def category_coding(kind: str) -> dict[str, str]:
    return {"system": EXAM_CATEGORY_SYSTEM, "code": kind, "display": KIND_LABEL[CentreKind(kind)]}


def request_category(kind: str) -> list[dict[str, Any]]:
    codings = [category_coding(kind)]
    if kind in SNOMED_CATEGORY:
        code, display = SNOMED_CATEGORY[CentreKind(kind)]
        codings.insert(0, {"system": SNOMED_SYSTEM, "code": code, "display": display})
    return [{"coding": codings, "text": KIND_LABEL[CentreKind(kind)]}]


def report_category(kind: str) -> list[dict[str, Any]]:
    code, display = SECTION[CentreKind(kind)]
    return [{"coding": [{"system": DIAGNOSTIC_SECTION_SYSTEM, "code": code, "display": display},
                        category_coding(kind)]}]


def exam_type_concept(exam_type: ExamType) -> dict[str, Any]:
    codings = [{"system": EXAM_TYPE_SYSTEM, "code": exam_type.code, "display": exam_type.name}]
    if exam_type.loinc:
        codings.append({"system": LOINC_SYSTEM, "code": exam_type.loinc,
                        **({"display": exam_type.name_en} if exam_type.name_en else {})})
    return {"coding": codings, "text": exam_type.name}


def exam_type_condition(value: str, field: str = "exam_type") -> Q:
    """`code=ECG12`, `code=<exam-type>|ECG12`, `code=http://loinc.org|11524-6`."""
    system, code = fhir.split_token(value)
    if system is None:
        return Q(**{f"{field}__code": code}) | Q(**{f"{field}__loinc": code})
    if system == EXAM_TYPE_SYSTEM:
        return Q(**{f"{field}__code": code})
    if system == LOINC_SYSTEM:
        return Q(**{f"{field}__loinc": code})
    return NOTHING


def accession_identifier(request: ExamRequest) -> dict[str, Any]:
    return {"use": "usual", "type": {"coding": [{"system": IDENTIFIER_TYPE_SYSTEM, "code": "ACSN",
                                                 "display": "Accession ID"}], "text": "检查号 accession number"},
            "system": ACCESSION_SYSTEM, "value": request.accession_number}


def accession_condition(value: str, field: str = "accession_number") -> Q:
    code = token_code(value, ACCESSION_SYSTEM)
    return Q(**{field: code}) if code else NOTHING


def request_reference(request: ExamRequest) -> dict[str, str]:
    return {"reference": f"ServiceRequest/{request.uuid}",
            "display": f"{request.accession_number} {request.exam_type.name}"}


def centre_reference(request: ExamRequest) -> dict[str, str]:
    centre = request.centre
    return {"reference": f"Organization/{centre.organization.uuid}",
            "display": f"{centre.organization.name} {centre.name}"}


def encounter_reference(request: ExamRequest) -> dict[str, str] | None:
    return {"reference": f"Encounter/{request.encounter.uuid}"} if request.encounter_id else None


# ---------------------------------------------------------------------------------------------- the base


class DiagnosticsHandler(PatientDataHandler):
    """What the diagnostics resources share: rows reached through an exam request the user may see, read and
    searched with an audit entry per row handed out (the resident is the request's)."""

    write_roles: ClassVar[frozenset[str]] = CLINICIANS
    interactions: ClassVar[tuple[str, ...]] = READ_ONLY
    id_field: ClassVar[str] = "uuid"

    def request_of(self, row: Any) -> ExamRequest:
        return row if isinstance(row, ExamRequest) else row.request

    def audit_rows(self, user: Any, rows: list[Any], *, action: str, query: str = "") -> None:
        detail = {"query": query[:200]} if action == "search" else {}
        audit.record_many(
            audit.Actor.of(user, CHANNEL),
            [audit.Entry(action, self.object_type, self.resource_id(row),
                         resident_id=str(self.request_of(row).resident.uuid), detail=detail)
             for row in rows],
        )

    def read(self, user: Any, resource_id: str) -> Any:
        registry_queries.require_patient_access(user)
        found = self.scoped(user).filter(**{self.id_field: lookup_uuid(resource_id, self.not_found)}).first()
        if found is None:
            raise NotFound(self.not_found)
        self.audit_rows(user, [found], action="read")
        return found

    def search(self, user: Any, condition: Q, *, offset: int, count: int, query: str) -> tuple[list[Any], int]:
        registry_queries.require_patient_access(user)
        matches = self.scoped(user).filter(condition)
        total = matches.count()
        rows = list(matches.order_by(*self.ordering)[offset : offset + count]) if count else []
        self.audit_rows(user, rows, action="search", query=query)
        return rows, total

    def create(self, user: Any, resource: Any, *, headers: Mapping[str, str],
               within: Callable[[Any], None]) -> Any:
        raise fhir.FhirError(405, f"{self.resource_type} 只读 ({self.resource_type} is read-only here)",
                             code="not-supported", headers={"Allow": "GET"})

    def check_can_write(self, user: Any) -> None:
        if "create" not in self.interactions:
            raise fhir.FhirError(405, f"{self.resource_type} 只读 ({self.resource_type} is read-only here)",
                                 code="not-supported", headers={"Allow": "GET"})
        super().check_can_write(user)


def visible(user: Any) -> QuerySet[ExamRequest]:
    return queries.visible_requests(user).values("pk")


def reads_for(user: Any) -> QuerySet[CentreReader]:
    """The centres the user reports at (they see preliminary reports and every version)."""
    return CentreReader.objects.filter(practitioner_id=user.practitioner_id, active=True).values("centre")


# ------------------------------------------------------------------------------------------- ServiceRequest


class ExamRequestHandler(DiagnosticsHandler):
    """Exam requests as ServiceRequest (the referral part is `referrals.fhir.ServiceRequestHandler`)."""

    resource_type = "ServiceRequest"
    model = FhirServiceRequest
    row_model = ExamRequest
    object_type = "ExamRequest"
    interactions = ("read", "vread", "search-type", "create")
    not_found = "未找到该检查申请，或不在您的管辖范围内 (exam request not found or outside your scope)"
    ordering = ("-requested_at", "-id")
    documentation = (
        "Exam requests to the shared diagnostic centres (category from "
        f"{EXAM_CATEGORY_SYSTEM}: ecg, imaging, lab, pathology, with SNOMED CT 108252007 Laboratory procedure / "
        f"363679005 Imaging; code from {EXAM_TYPE_SYSTEM} and LOINC). status active until the report is "
        "published (completed) or the request cancelled (revoked); the extension exam-status carries the step. "
        "performer is the centre's organisation, identifier the accession number. Create orders an exam "
        "(Idempotency-Key honoured); a recognised valid result of the same exam is a 409 naming its "
        "DiagnosticReport unless the repeat-reason extension says why to repeat."
    )
    search_params = {
        "_id": fhir.SearchParam("token", "The logical id"),
        "patient": fhir.SearchParam("reference", "The resident: Patient/<id>"),
        "subject": fhir.SearchParam("reference", "The resident: Patient/<id>"),
        "status": fhir.SearchParam("token", "active | completed | revoked"),
        "category": fhir.SearchParam("token", f"ecg | imaging | lab | pathology ({EXAM_CATEGORY_SYSTEM}), "
                                               "108252007 | 363679005 (SNOMED CT) for exams"),
        "code": fhir.SearchParam("token", f"Exam type ({EXAM_TYPE_SYSTEM}|ECG12) or its LOINC code"),
        "priority": fhir.SearchParam("token", "routine | urgent | stat"),
        "requester": fhir.SearchParam("reference", "Requesting organisation (Organization/<id>) or doctor "
                                                   "(Practitioner/<id>)"),
        "performer": fhir.SearchParam("reference", "The centre's organisation (Organization/<id>) or the reader "
                                                   "(Practitioner/<id>)"),
        "authored": fhir.SearchParam("date", "When requested, days in Asia/Shanghai, with prefixes"),
        "identifier": fhir.SearchParam("token", f"Accession number ({ACCESSION_SYSTEM}|<number>)"),
        "encounter": fhir.SearchParam("reference", "The encounter of the request: Encounter/<id>"),
    }
    field_expressions = {
        "exam_type": "ServiceRequest.code",
        "clinical_question": "ServiceRequest.reasonCode",
        "priority": "ServiceRequest.priority",
        "encounter": "ServiceRequest.encounter",
        "centre": "ServiceRequest.performer",
        "repeat_reason": "ServiceRequest.extension",
        "resident": "ServiceRequest.subject",
    }

    def scoped(self, user: Any) -> QuerySet[ExamRequest]:
        return queries.visible_requests(user).select_related(
            "resident", "exam_type", "centre__organization", "requesting_organization", "requesting_practitioner",
            "encounter", "claimed_by", "recognised_report__request",
        )

    def read(self, user: Any, resource_id: str) -> ExamRequest:
        registry_queries.require_patient_access(user)
        found = queries.get_request(user, lookup_uuid(resource_id, self.not_found), channel=CHANNEL)
        return self.scoped(user).get(pk=found.pk)

    def version(self, obj: ExamRequest) -> str:
        return str(obj.version)

    def last_updated(self, obj: ExamRequest) -> dt.datetime | None:
        return obj.updated_at

    def to_fhir(self, obj: ExamRequest) -> dict[str, Any]:
        status = ExamStatus(obj.status)
        extensions: list[dict[str, Any]] = [{
            "url": EXT_EXAM_STATUS,
            "valueCoding": {"system": EXAM_STATUS_SYSTEM, "code": obj.status, "display": str(status.label)},
        }]
        if obj.requesting_practitioner_id:
            extensions.append({"url": EXT_REQUESTING_PRACTITIONER,
                               "valueReference": practitioner_reference(obj.requesting_practitioner)})
        if obj.repeat_reason:
            extensions.append({"url": EXT_REPEAT_REASON, "valueString": obj.repeat_reason})
        notes = [{"text": f"{status.label}: {obj.status_reason}"}] if obj.status_reason else []
        recognised = obj.recognised_report
        return compact({
            "resourceType": "ServiceRequest",
            "id": str(obj.uuid),
            "meta": {"versionId": str(obj.version), "lastUpdated": fhir.instant(obj.updated_at)},
            "extension": extensions,
            "identifier": [accession_identifier(obj)],
            "status": REQUEST_STATUS[status],
            "intent": "order",
            "category": request_category(obj.exam_type.centre_kind),
            "priority": obj.priority,
            "code": exam_type_concept(obj.exam_type),
            "subject": patient_reference(obj.resident),
            "encounter": encounter_reference(obj),
            "authoredOn": moment(obj.requested_at),
            "requester": organization_reference(obj.requesting_organization),
            "performer": [r for r in (centre_reference(obj), practitioner_reference(obj.claimed_by)) if r],
            "reasonCode": [{"text": obj.clinical_question}] if obj.clinical_question else [],
            "supportingInfo": [{"reference": f"DiagnosticReport/{recognised.request.uuid}",
                                "display": "互认结果 recognised result"}] if recognised is not None else [],
            "note": notes,
        })

    def condition(self, user: Any, name: str, value: str) -> Q:
        if name == "_id":
            return uuid_condition(value)
        if name in ("patient", "subject"):
            return records_fhir.reference_condition("resident__uuid", value, "Patient")
        if name == "status":
            fhir.require_choice("status", value, REQUEST_STATUSES)
            statuses = [status for status, code in REQUEST_STATUS.items() if code == value]
            return Q(status__in=statuses) if statuses else NOTHING
        if name == "category":
            kind = kind_of_category(value)
            return Q(exam_type__centre_kind=kind) if kind else NOTHING
        if name == "code":
            return exam_type_condition(value)
        if name == "priority":
            fhir.require_choice("priority", value, REQUEST_PRIORITIES)
            return Q(priority=value) if value in Priority.values else NOTHING
        if name == "requester":
            return reference_condition(value, {"Organization": "requesting_organization__uuid",
                                               "Practitioner": "requesting_practitioner__uuid"})
        if name == "performer":
            return reference_condition(value, {"Organization": "centre__organization__uuid",
                                               "Practitioner": "claimed_by__uuid"})
        if name == "authored":
            return datetime_condition("requested_at", value)
        if name == "identifier":
            return accession_condition(value)
        if name == "encounter":
            return records_fhir.reference_condition("encounter__uuid", value, "Encounter")
        raise fhir.FhirError(400, f"unknown search parameter {name}")

    def claim(self, resource: Any) -> int:
        if coding_of(resource.code, EXAM_TYPE_SYSTEM) is not None:
            return 2
        for concept in resource.category or []:
            for coding in concept.coding or []:
                if coding.system == EXAM_CATEGORY_SYSTEM or (
                    coding.system == SNOMED_SYSTEM and coding.code in KIND_OF_SNOMED
                ):
                    return 1
        return 1 if coding_of(resource.code, LOINC_SYSTEM) is not None else 0

    def create(self, user: Any, resource: Any, *, headers: Mapping[str, str],
               within: Callable[[Any], None]) -> ExamRequest:
        arguments = exam_request_data(user, resource)
        try:
            created = services.request_exam(user=user, channel=CHANNEL, within=within, **arguments)
        except services_recognised_error() as exists:
            report = exists.report
            raise fhir.FhirError(
                409, f"{exists.message} [existing: DiagnosticReport/{report.request.uuid}]", code="duplicate",
                issues=[
                    fhir.issue(f"{exists.message} [existing: DiagnosticReport/{report.request.uuid}]",
                               code="duplicate", expression="ServiceRequest.code"),
                    fhir.issue(f"DiagnosticReport/{report.request.uuid}", code="duplicate", severity="information",
                               expression="ServiceRequest.extension"),
                ],
            ) from None
        return self.scoped(user).get(pk=created.pk)


def services_recognised_error() -> type[Exception]:
    """`services.RecognisedResultExists` (409 with `.report`), defined by the services module."""
    return getattr(services, "RecognisedResultExists", _NeverRaised)


class _NeverRaised(Exception):
    report: Any = None
    message = ""


def exam_type_of(user: Any, concept: Any, expression: str) -> ExamType:
    """The active exam type a CodeableConcept names (our code, else its LOINC code); the community's own
    row before the shipped default."""
    ours = coding_of(concept, EXAM_TYPE_SYSTEM)
    loinc = coding_of(concept, LOINC_SYSTEM)
    if ours is None and loinc is None:
        raise unprocessable(expression, f"须有检查项目编码 {EXAM_TYPE_SYSTEM} 或 LOINC (an exam type code is "
                                        "required)", code="required")
    types = ExamType.objects.filter(Q(community_id=user.community_id) | Q(community__isnull=True), active=True)
    if ours is not None:
        found = types.filter(code=str(ours.code or ""))
        given = ours.code
    else:
        found = types.filter(loinc=str(loinc.code or ""))
        given = loinc.code
    exam_type = found.order_by(F("community_id").asc(nulls_last=True), "id").first()
    if exam_type is None:
        raise code_invalid(expression, given)
    return exam_type


def exam_request_data(user: Any, resource: Any) -> dict[str, Any]:
    """The request_exam arguments from a validated ServiceRequest; 422 naming the element at fault."""
    resident = resident_of(user, resource.subject, "ServiceRequest.subject")
    status = check_code(resource.status, REQUEST_STATUSES, "ServiceRequest.status")
    if status != "active":
        raise code_invalid("ServiceRequest.status", status, {"active"})
    intent = check_code(resource.intent, REQUEST_INTENTS, "ServiceRequest.intent")
    if intent != "order":
        raise code_invalid("ServiceRequest.intent", intent, {"order"})
    exam_type = exam_type_of(user, resource.code, "ServiceRequest.code")
    for index, concept in enumerate(resource.category or []):
        for coding in concept.coding or []:
            token = f"{coding.system}|{coding.code}" if coding.system else str(coding.code or "")
            kind = kind_of_category(token)
            if kind is None and coding.system in (EXAM_CATEGORY_SYSTEM, SNOMED_SYSTEM, DIAGNOSTIC_SECTION_SYSTEM):
                raise code_invalid(f"ServiceRequest.category[{index}]", coding.code,
                                   {c for c in CentreKind.values} | set(KIND_OF_SNOMED))
            if kind is not None and kind != exam_type.centre_kind:
                raise unprocessable(f"ServiceRequest.category[{index}]", f"与检查项目 {exam_type.code} 的类别 "
                                    f"{exam_type.centre_kind} 不符 (does not agree with the exam type)",
                                    code="code-invalid")
    priority = check_code(resource.priority, REQUEST_PRIORITIES, "ServiceRequest.priority") or "routine"
    question = "\n".join(
        str(concept.text or next((c.display for c in concept.coding or [] if c.display), "") or "").strip()
        for concept in resource.reasonCode or []
    ).strip()
    if not question:
        raise unprocessable("ServiceRequest.reasonCode", "须写明临床问题 (the clinical question is required, as "
                                                         "reasonCode.text)", code="required")
    arguments: dict[str, Any] = {
        "resident": resident,
        "exam_type": exam_type,
        "clinical_question": question,
        "priority": Priority.URGENT if priority == "asap" else Priority(priority),
        "repeat_reason": str(records_fhir.extension_value(resource, EXT_REPEAT_REASON, "valueString") or "").strip(),
    }
    if resource.requester is not None:
        kind = str(resource.requester.reference or "").partition("/")[0]
        if kind == "Practitioner":
            mine = practitioner_of(user, resource.requester, "ServiceRequest.requester") == user.practitioner
        else:
            mine = organization_of(user, resource.requester, "ServiceRequest.requester") == user.organization
        if not mine:
            raise unprocessable("ServiceRequest.requester", "申请方须为您本人或您所在的机构 (the requester must be "
                                                            "you or your organisation)")
    encounter_id = target_id(resource.encounter, "Encounter", "ServiceRequest.encounter", required=False)
    if encounter_id is not None:
        encounter = records_queries.visible_encounters(user).filter(uuid=encounter_id).first()
        if encounter is None or encounter.resident_id != resident.pk:
            raise unprocessable("ServiceRequest.encounter", "未找到该患者的此次就诊 (no such encounter of this "
                                                            "patient in your scope)")
        arguments["encounter"] = encounter
    for index, performer in enumerate(resource.performer or []):
        where = f"ServiceRequest.performer[{index}]"
        organization = organization_of(user, performer, where, required=True)
        centre = organization.centres.filter(kind=exam_type.centre_kind, active=True).order_by("id").first()
        if centre is None:
            raise unprocessable(where, f"该机构没有{KIND_LABEL[CentreKind(exam_type.centre_kind)]}中心 (no active "
                                       "centre of this kind at the organisation)")
        arguments["centre"] = centre
        break
    return arguments


# ------------------------------------------------------------------------------------------ DiagnosticReport


def report_status(report: Report) -> str:
    """The FHIR status a version had when it was current (a superseded one keeps what it was)."""
    if report.status != ReportStatus.SUPERSEDED:
        return str(report.status)
    if report.published_at is None:
        return "preliminary"
    return "amended" if report.revision_reason else "final"


ECG_MEASURES: tuple[tuple[str, str, str, str, str, str], ...] = (
    # slug, LOINC, LOINC display, Chinese, EcgPreRead field, UCUM unit
    ("hr", "8867-4", "Heart rate", "心率", "heart_rate", "/min"),
    ("pr", "8625-6", "P-R Interval", "PR间期", "pr_ms", "ms"),
    ("qrs", "8633-2", "QRS duration", "QRS时限", "qrs_ms", "ms"),
    ("qt", "8634-0", "Q-T interval", "QT间期", "qt_ms", "ms"),
    ("qtc", "8636-5", "Q-T interval corrected", "QTc间期", "qtc_ms", "ms"),
)
MEASURE = {m[0]: m for m in ECG_MEASURES}
MEASURE_OF_LOINC = {m[1]: m[0] for m in ECG_MEASURES}


def pre_read_of(request: ExamRequest) -> EcgPreRead | None:
    try:
        return request.pre_read
    except ObjectDoesNotExist:
        return None


def measurement_ids(request: ExamRequest) -> list[str]:
    pre_read = pre_read_of(request)
    if pre_read is None:
        return []
    return [f"{request.uuid}-{slug}" for slug, *_, field, _unit in ECG_MEASURES
            if getattr(pre_read, field) is not None]


class DiagnosticReportHandler(DiagnosticsHandler):
    resource_type = "DiagnosticReport"
    model = FhirDiagnosticReport
    object_type = "Report"
    interactions = ("read", "vread", "history-instance", "search-type", "create")
    keeps_history = True
    write_roles = frozenset({Role.CENTRE_READER, Role.COMMUNITY_ADMIN})
    not_found = "未找到该报告，或不在您的管辖范围内 (report not found or outside your scope)"
    ordering = ("-written_at", "-id")
    documentation = (
        "The report of an exam request, with the request's id (basedOn ServiceRequest/<same id>); every version "
        "is kept (meta.versionId = the report version; vread and _history). status preliminary (waiting for a "
        "second reading: shown to the centre's readers only), final, amended (a revision, with the "
        "revision-reason extension). conclusion is the 诊断意见, presentedForm the whole text; result the lab "
        "results, the report's record entry and the ECG measurements (Observation), imagingStudy and media the "
        "acquisition. Create: a laboratory posts an ordered exam's results as contained Observations "
        "(basedOn the ServiceRequest, category LAB): the laboratory's staff and community administrators."
    )
    search_params = {
        "_id": fhir.SearchParam("token", "The logical id (the exam request's)"),
        "patient": fhir.SearchParam("reference", "The resident: Patient/<id>"),
        "subject": fhir.SearchParam("reference", "The resident: Patient/<id>"),
        "status": fhir.SearchParam("token", "preliminary | final | amended"),
        "category": fhir.SearchParam("token", f"EC | RAD | LAB | PAT ({DIAGNOSTIC_SECTION_SYSTEM}) or ecg | imaging | "
                                               f"lab | pathology ({EXAM_CATEGORY_SYSTEM})"),
        "code": fhir.SearchParam("token", f"Exam type ({EXAM_TYPE_SYSTEM}|ECG12) or its LOINC code"),
        "date": fhir.SearchParam("date", "When acquired (effectiveDateTime), days in Asia/Shanghai, with prefixes"),
        "issued": fhir.SearchParam("date", "When published, days in Asia/Shanghai, with prefixes"),
        "performer": fhir.SearchParam("reference", "The reader or second reader (Practitioner/<id>) or the "
                                                   "centre's organisation (Organization/<id>)"),
        "based-on": fhir.SearchParam("reference", "The exam request: ServiceRequest/<id>"),
        "identifier": fhir.SearchParam("token", f"Accession number ({ACCESSION_SYSTEM}|<number>)"),
        "encounter": fhir.SearchParam("reference", "The encounter of the request: Encounter/<id>"),
    }
    field_expressions = {
        "results": "DiagnosticReport.contained",
        "request": "DiagnosticReport.basedOn",
        "verifier": "DiagnosticReport.resultsInterpreter",
    }

    def versions(self, user: Any) -> QuerySet[Report]:
        """Report versions of requests the user may see; preliminary ones only for the centre's readers."""
        published = ~Q(status=ReportStatus.PRELIMINARY) & Q(published_at__isnull=False)
        return Report.objects.filter(request__in=visible(user)).filter(
            published | Q(request__centre__in=reads_for(user))
        ).select_related(
            "request__resident", "request__exam_type", "request__centre__organization", "request__encounter",
            "request__pre_read", "author", "verifier",
        ).prefetch_related("request__observations", "request__acquisitions__attachments")

    def scoped(self, user: Any) -> QuerySet[Report]:
        return self.versions(user).filter(current=True)

    def read(self, user: Any, resource_id: str) -> Report:
        registry_queries.require_patient_access(user)
        found = self.scoped(user).filter(request__uuid=lookup_uuid(resource_id, self.not_found)).first()
        if found is None:
            raise NotFound(self.not_found)
        self.audit_rows(user, [found], action="read")
        return found

    def read_version(self, user: Any, resource_id: str, version_id: str) -> Report:
        registry_queries.require_patient_access(user)
        request_uuid = lookup_uuid(resource_id, self.not_found)
        if not version_id.isdigit() or len(version_id) > 9:
            raise NotFound(f"没有版本 {version_id[:20]} (no such version)")
        found = self.versions(user).filter(request__uuid=request_uuid, version=int(version_id)).first()
        if found is None:
            if not self.versions(user).filter(request__uuid=request_uuid).exists():
                raise NotFound(self.not_found)
            raise NotFound(f"没有版本 {version_id[:20]} (no such version)")
        self.audit_rows(user, [found], action="read")
        return found

    def history(self, user: Any, resource_id: str) -> list[Report]:
        registry_queries.require_patient_access(user)
        found = list(self.versions(user).filter(request__uuid=lookup_uuid(resource_id, self.not_found))
                     .order_by("-version"))
        if not found:
            raise NotFound(self.not_found)
        self.audit_rows(user, found, action="read")
        return found

    def resource_id(self, obj: Report) -> str:
        return str(obj.request.uuid)

    def version(self, obj: Report) -> str:
        return str(obj.version)

    def last_updated(self, obj: Report) -> dt.datetime | None:
        return obj.published_at or obj.written_at

    def audit_rows(self, user: Any, rows: list[Any], *, action: str, query: str = "") -> None:
        detail = {"query": query[:200]} if action == "search" else {}
        audit.record_many(
            audit.Actor.of(user, CHANNEL),
            [audit.Entry(action, "Report", str(row.uuid), resident_id=str(row.request.resident.uuid),
                         detail=detail | {"version": row.version}) for row in rows],
        )

    def to_fhir(self, obj: Report) -> dict[str, Any]:
        request = obj.request
        extensions: list[dict[str, Any]] = []
        if obj.critical:
            extensions.append({"url": EXT_CRITICAL_FINDING, "valueBoolean": True})
        if obj.revision_reason:
            extensions.append({"url": EXT_REVISION_REASON, "valueString": obj.revision_reason})
        results = [{"reference": f"Observation/{o.uuid}", "display": o.display or o.code}
                   for o in sorted(request.observations.all(), key=lambda o: (o.effective_at, o.id))]
        results += [{"reference": f"Observation/{i}"} for i in measurement_ids(request)]
        acquisitions = [a for a in request.acquisitions.all() if a.current]
        studies = [{"reference": f"ImagingStudy/{a.uuid}"} for a in acquisitions if a.kind == AcquisitionKind.DICOM]
        media = [{"link": {"reference": f"Media/{f.uuid}", "display": f.title or f.filename}}
                 for a in acquisitions for f in a.attachments.all()]
        text = f"检查所见 Findings:\n{obj.findings}\n\n诊断意见 Conclusion:\n{obj.conclusion}\n"
        return compact({
            "resourceType": "DiagnosticReport",
            "id": str(request.uuid),
            "meta": {"versionId": str(obj.version), "lastUpdated": fhir.instant(obj.published_at or obj.written_at)},
            "extension": extensions,
            "identifier": [accession_identifier(request)],
            "basedOn": [request_reference(request)],
            "status": report_status(obj),
            "category": report_category(request.exam_type.centre_kind),
            "code": exam_type_concept(request.exam_type),
            "subject": patient_reference(request.resident),
            "encounter": encounter_reference(request),
            "effectiveDateTime": moment(request.acquired_at),
            "issued": moment(obj.published_at or obj.written_at),
            "performer": [r for r in (centre_reference(request), practitioner_reference(obj.author)) if r],
            "resultsInterpreter": [r for r in (practitioner_reference(obj.author),
                                               practitioner_reference(obj.verifier)) if r],
            "result": results,
            "imagingStudy": studies,
            "media": media,
            "conclusion": obj.conclusion,
            "presentedForm": [{"contentType": "text/plain; charset=utf-8", "language": "zh-CN",
                               "data": base64.b64encode(text.encode()).decode(),
                               "title": f"{request.exam_type.name}报告 v{obj.version}"}],
        })

    def condition(self, user: Any, name: str, value: str) -> Q:
        if name == "_id":
            found = uuid_or_none(value)
            return Q(request__uuid=found) if found else NOTHING
        if name == "based-on":
            return records_fhir.reference_condition("request__uuid", value, "ServiceRequest")
        if name in ("patient", "subject"):
            return records_fhir.reference_condition("request__resident__uuid", value, "Patient")
        if name == "status":
            fhir.require_choice("status", value, REPORT_STATUSES)
            return Q(status=value) if value in (ReportStatus.PRELIMINARY, ReportStatus.FINAL,
                                                ReportStatus.AMENDED) else NOTHING
        if name == "category":
            kind = kind_of_category(value)
            return Q(request__exam_type__centre_kind=kind) if kind else NOTHING
        if name == "code":
            return exam_type_condition(value, "request__exam_type")
        if name == "date":
            return datetime_condition("request__acquired_at", value)
        if name == "issued":
            return datetime_condition("published_at", value)
        if name == "performer":
            return reference_condition(value, {"Organization": "request__centre__organization__uuid",
                                               "Practitioner": "author__uuid"}) | reference_condition(
                value, {"Organization": "request__centre__organization__uuid", "Practitioner": "verifier__uuid"})
        if name == "identifier":
            return accession_condition(value, "request__accession_number")
        if name == "encounter":
            return records_fhir.reference_condition("request__encounter__uuid", value, "Encounter")
        raise fhir.FhirError(400, f"unknown search parameter {name}")

    def create(self, user: Any, resource: Any, *, headers: Mapping[str, str],
               within: Callable[[Any], None]) -> Report:
        request, arguments = lab_results_data(user, resource)
        with transaction.atomic():
            report = services.publish_lab_results(request=request, channel=CHANNEL, actor=user, **arguments)
            within(self.versions(user).get(pk=report.pk))
        return self.versions(user).get(pk=report.pk)


LAB_OBSERVATION_VALUES = ("valueCodeableConcept", "valueBoolean", "valueInteger", "valueRange", "valueRatio",
                          "valueSampledData", "valueTime", "valueDateTime", "valuePeriod")


def lab_results_data(user: Any, resource: Any) -> tuple[ExamRequest, dict[str, Any]]:
    """The request and the publish_lab_results arguments from a validated DiagnosticReport with contained
    Observations; 422 naming the element at fault, 403 for someone who does not read for the laboratory."""
    if not resource.basedOn:
        raise unprocessable("DiagnosticReport.basedOn", "须指向检验申请 ServiceRequest/<id> (the ordered exam is "
                                                        "required)", code="required")
    request_id = target_id(resource.basedOn[0], "ServiceRequest", "DiagnosticReport.basedOn[0]")
    request = queries.visible_requests(user).filter(uuid=request_id).select_related(
        "resident", "exam_type", "centre").first()
    if request is None:
        raise unprocessable("DiagnosticReport.basedOn[0]", "未找到该检查申请，或不在您的管辖范围内 (exam request not "
                                                           "found or outside your scope)")
    if request.exam_type.centre_kind != CentreKind.LAB:
        raise unprocessable("DiagnosticReport.basedOn[0]", "只接受检验结果；心电、影像、病理报告由中心医师书写 (only "
                                                           "laboratory results are posted; ECG, imaging and pathology "
                                                           "reports are written by the centre's readers)",
                            code="not-supported")
    # who may send, as for HL7 (lab.py): community administrators, and the laboratory's staff (its organisation's
    # centre readers, or readers listed at the centre)
    allowed = user.role == Role.COMMUNITY_ADMIN or user.organization_id == request.centre.organization_id or (
        bool(user.practitioner_id) and CentreReader.objects.filter(
            centre=request.centre, practitioner_id=user.practitioner_id, active=True).exists())
    if not allowed:
        raise PermissionDenied("只有该检验中心的人员可以发布结果 (only the laboratory's staff publish its results)")
    status = check_code(resource.status, REPORT_STATUSES, "DiagnosticReport.status")
    if status not in ("final", "preliminary"):
        raise code_invalid("DiagnosticReport.status", status, {"final", "preliminary"})
    if resource.subject is not None and target_id(resource.subject, "Patient", "DiagnosticReport.subject") != str(
        request.resident.uuid
    ):
        raise unprocessable("DiagnosticReport.subject", "须为申请单上的患者 (the subject must be the request's "
                                                        "patient)")
    for index, concept in enumerate(resource.category or []):
        for coding in concept.coding or []:
            token = f"{coding.system}|{coding.code}" if coding.system else str(coding.code or "")
            kind = kind_of_category(token)
            if kind is not None and kind != CentreKind.LAB:
                raise code_invalid(f"DiagnosticReport.category[{index}]", coding.code, {"LAB", "lab"})
    named = exam_type_of(user, resource.code, "DiagnosticReport.code")
    if named.code != request.exam_type.code:
        raise unprocessable("DiagnosticReport.code", f"与申请的检查项目 {request.exam_type.code} 不符 (does not agree "
                                                     "with the exam requested)", code="code-invalid")
    effective = aware(resource.effectiveDateTime, "DiagnosticReport.effectiveDateTime")
    contained = {item.id: item for item in resource.contained or [] if item.get_resource_type() == "Observation"}
    if any(item.get_resource_type() != "Observation" for item in resource.contained or []):
        raise unprocessable("DiagnosticReport.contained", "只能内含 Observation (only Observations may be "
                                                          "contained)", code="not-supported")
    targets = []
    for index, reference in enumerate(resource.result or []):
        target = str(reference.reference or "")
        if not target.startswith("#") or target[1:] not in contained:
            raise unprocessable(f"DiagnosticReport.result[{index}]", "结果须为内含的 Observation (#id) (a result must "
                                                                      "reference a contained Observation)")
        targets.append(target[1:])
    if not targets:
        raise unprocessable("DiagnosticReport.result", "须至少一项结果 (at least one result is required)",
                            code="required")
    results = [lab_result(contained[key], f"DiagnosticReport.contained({key})", effective) for key in targets]
    verifier = None
    for index, interpreter in enumerate(resource.resultsInterpreter or []):
        verifier = practitioner_of(user, interpreter, f"DiagnosticReport.resultsInterpreter[{index}]")
        break
    return request, {"results": results, "verifier": verifier or getattr(user, "practitioner", None),
                     "final": status == "final"}


def lab_result(observation: Any, where: str, effective: dt.datetime | None) -> dict[str, Any]:
    """One result dict of publish_lab_results from a contained Observation."""
    check_code(observation.status, OBSERVATION_STATUSES, f"{where}.status")
    loinc = coding_of(observation.code, LOINC_SYSTEM)
    coding = loinc or next((c for c in observation.code.coding or [] if c.code), None)
    if coding is None or not coding.code:
        raise unprocessable(f"{where}.code", f"须有 LOINC 或本地编码 (a LOINC ({LOINC_SYSTEM}) or local code is "
                                             "required)", code="required")
    result: dict[str, Any] = {
        "code": str(coding.code).strip(),
        "display": str(coding.display or observation.code.text or coding.code),
        "unit": "",
        "reference_low": None,
        "reference_high": None,
        "interpretation": "",
        "observed_at": aware(observation.effectiveDateTime, f"{where}.effectiveDateTime") or effective,
    }
    if observation.valueQuantity is not None:
        if observation.valueQuantity.value is None:
            raise unprocessable(f"{where}.valueQuantity.value", "缺少数值 (the value is required)", code="required")
        result["value"] = decimal(observation.valueQuantity.value, f"{where}.valueQuantity.value")
        result["unit"] = str(observation.valueQuantity.unit or observation.valueQuantity.code or "")
    elif observation.valueString is not None:
        result["value"] = str(observation.valueString)
    else:
        present = [name for name in LAB_OBSERVATION_VALUES if getattr(observation, name, None) is not None]
        raise unprocessable(f"{where}.{present[0]}" if present else f"{where}.value[x]",
                            "只接受 valueQuantity 或 valueString (only valueQuantity or valueString is taken)",
                            code="not-supported" if present else "required")
    for reference_range in observation.referenceRange or []:
        if reference_range.low is not None and reference_range.low.value is not None:
            result["reference_low"] = decimal(reference_range.low.value, f"{where}.referenceRange[0].low")
        if reference_range.high is not None and reference_range.high.value is not None:
            result["reference_high"] = decimal(reference_range.high.value, f"{where}.referenceRange[0].high")
        break
    for concept in observation.interpretation or []:
        flag = coding_of(concept, INTERPRETATION_SYSTEM)
        if flag is not None:
            if flag.code not in INTERPRETATION_DISPLAY:
                raise code_invalid(f"{where}.interpretation", flag.code, INTERPRETATION_DISPLAY)
            result["interpretation"] = str(flag.code)
        break
    return result


def decimal(value: Any, where: str) -> Decimal:
    try:
        found = Decimal(str(value))
    except InvalidOperation:
        raise unprocessable(where, "不是数值 (not a number)") from None
    if not found.is_finite() or abs(found) >= Decimal(10) ** 12:
        raise unprocessable(where, "数值超出范围 (the value is out of range)")
    return found


# ------------------------------------------------------------------------------- Observation: ECG measurements


@dataclass(frozen=True)
class EcgMeasurement:
    """One measurement of an ECG pre-read, published as a read-only Observation."""

    pre_read: EcgPreRead
    slug: str

    @property
    def uuid(self) -> str:
        return f"{self.pre_read.request.uuid}-{self.slug}"

    @property
    def request(self) -> ExamRequest:
        return self.pre_read.request

    @property
    def value(self) -> Any:
        return getattr(self.pre_read, MEASURE[self.slug][4])


MEASURE_LEAF = "ecg_measure"  # a search condition on which measurement (code, _id), resolved per measurement
FLAG_INTERPRETATION = {  # pre-read flags that say how a measurement lies
    "hr": {"severe_bradycardia": "LL", "bradycardia": "L", "severe_tachycardia": "HH", "tachycardia": "H",
           "af_rapid": "H"},
    "qrs": {"wide_qrs": "H"},
    "qtc": {"long_qt": "H"},
}


def split_measurement_id(value: str) -> tuple[str, str] | None:
    request_id, _, slug = value.rpartition("-")
    found = uuid_or_none(request_id) if slug in MEASURE else None
    return (found, slug) if found else None


class EcgMeasurementHandler(DiagnosticsHandler):
    resource_type = "Observation"
    model = FhirObservation
    row_model = EcgMeasurement
    object_type = "EcgMeasurement"
    not_found = "未找到该测量值，或不在您的管辖范围内 (measurement not found or outside your scope)"
    ordering = ("-acquisition__acquired_at", "-id")
    documentation = (
        "ECG measurements of the machine pre-read (neurokit2), read-only: heart rate 8867-4, PR 8625-6, QRS "
        "8633-2, QT 8634-0, QTc 8636-5 (LOINC, UCUM /min and ms), category procedure, status preliminary "
        "(assistance for the reader, never the report: the reader's conclusion is the DiagnosticReport), "
        "id <exam request id>-hr|pr|qrs|qt|qtc, basedOn the exam request, derivedFrom the tracing (Media)."
    )
    search_params = {
        "_id": fhir.SearchParam("token", "The logical id"),
        "patient": fhir.SearchParam("reference", "The resident: Patient/<id>"),
        "subject": fhir.SearchParam("reference", "The resident: Patient/<id>"),
        "code": fhir.SearchParam("token", f"LOINC code ({LOINC_SYSTEM}|8867-4)"),
        "category": fhir.SearchParam("token", "procedure (ECG measurements)"),
        "encounter": fhir.SearchParam("reference", "Encounter/<id>"),
        "status": fhir.SearchParam("token", "preliminary (ECG measurements)"),
        "date": fhir.SearchParam("date", "The effective time, days in Asia/Shanghai, with prefixes"),
    }

    def scoped(self, user: Any) -> QuerySet[EcgPreRead]:
        return EcgPreRead.objects.filter(request__in=visible(user)).select_related(
            "request__resident", "request__encounter", "request__exam_type", "acquisition",
        ).prefetch_related("acquisition__attachments")

    def read(self, user: Any, resource_id: str) -> EcgMeasurement:
        registry_queries.require_patient_access(user)
        parsed = split_measurement_id(resource_id)
        if parsed is None:
            raise NotFound(self.not_found)
        request_id, slug = parsed
        pre_read = self.scoped(user).filter(request__uuid=request_id).first()
        if pre_read is None or getattr(pre_read, MEASURE[slug][4]) is None:
            raise NotFound(self.not_found)
        found = EcgMeasurement(pre_read, slug)
        self.audit_rows(user, [found], action="read")
        return found

    def search(self, user: Any, condition: Q, *, offset: int, count: int, query: str) -> tuple[list[Any], int]:
        raise NotImplementedError("searched as a part of Observation (records.fhir.CombinedHandler)")

    def resource_id(self, obj: EcgMeasurement) -> str:
        return obj.uuid

    def version(self, obj: EcgMeasurement) -> str:
        return "1"

    def last_updated(self, obj: EcgMeasurement) -> dt.datetime | None:
        return obj.pre_read.computed_at

    def condition(self, user: Any, name: str, value: str) -> Q:
        if name == "_id":
            parsed = split_measurement_id(value)
            return Q(request__uuid=parsed[0], **{MEASURE_LEAF: parsed[1]}) if parsed else NOTHING
        if name in ("patient", "subject"):
            return records_fhir.reference_condition("request__resident__uuid", value, "Patient")
        if name == "code":
            code = token_code(value, LOINC_SYSTEM)
            return Q(**{MEASURE_LEAF: MEASURE_OF_LOINC[code]}) if code in MEASURE_OF_LOINC else NOTHING
        if name == "category":
            return EVERYTHING if token_code(value, OBSERVATION_CATEGORY_SYSTEM) == "procedure" else NOTHING
        if name == "encounter":
            return records_fhir.reference_condition("request__encounter__uuid", value, "Encounter")
        if name == "status":
            fhir.require_choice("status", value, OBSERVATION_STATUSES)
            return EVERYTHING if value == "preliminary" else NOTHING
        if name == "date":
            return datetime_condition("acquisition__acquired_at", value)
        raise fhir.FhirError(400, f"unknown search parameter {name}")

    def key_sets(self, user: Any, condition: Q, tag: str) -> list[QuerySet[Any]]:
        sets = []
        for slug, *_, field, _unit in ECG_MEASURES:
            def leaf(lookup: str, value: Any, slug: str = slug) -> Q | tuple[str, Any]:
                if lookup == MEASURE_LEAF:
                    return EVERYTHING if value == slug else NOTHING
                return (lookup, value)

            sets.append(
                EcgPreRead.objects.filter(request__in=visible(user), **{f"{field}__isnull": False})
                .filter(records_fhir._translate(condition, leaf)).order_by().annotate(
                    combined_at=F("acquisition__acquired_at"),
                    combined_part=Value(f"{tag}:{slug}", output_field=CharField()),
                    combined_row=F("id"),
                ).values_list("combined_at", "combined_part", "combined_row")
            )
        return sets

    def rows_for(self, user: Any, keys: list[tuple[str, int]]) -> dict[tuple[str, int], Any]:
        pre_reads = {p.id: p for p in self.scoped(user).filter(id__in=[row for _, row in keys])}
        return {(tag, row): EcgMeasurement(pre_reads[row], tag.partition(":")[2]) for tag, row in keys
                if row in pre_reads}

    def to_fhir(self, obj: EcgMeasurement) -> dict[str, Any]:
        slug, loinc, display, chinese, _field, unit = MEASURE[obj.slug]
        pre_read = obj.pre_read
        request = pre_read.request
        flag = next((FLAG_INTERPRETATION.get(obj.slug, {})[f] for f in pre_read.flags or []
                     if f in FLAG_INTERPRETATION.get(obj.slug, {})), None)
        tracing = [{"reference": f"Media/{a.uuid}", "display": a.filename}
                   for a in pre_read.acquisition.attachments.all()]
        return compact({
            "resourceType": "Observation",
            "id": obj.uuid,
            "meta": {"versionId": "1", "lastUpdated": fhir.instant(pre_read.computed_at)},
            "basedOn": [request_reference(request)],
            "status": "preliminary",
            "category": [{"coding": [{"system": OBSERVATION_CATEGORY_SYSTEM, "code": "procedure",
                                      "display": "Procedure"}]}],
            "code": {"coding": [{"system": LOINC_SYSTEM, "code": loinc, "display": display}], "text": chinese},
            "subject": patient_reference(request.resident),
            "encounter": encounter_reference(request),
            "effectiveDateTime": moment(pre_read.acquisition.acquired_at),
            "issued": moment(pre_read.computed_at),
            "valueQuantity": {"value": number(Decimal(obj.value)), "unit": unit, "system": UCUM_SYSTEM, "code": unit},
            "interpretation": [{"coding": [{"system": INTERPRETATION_SYSTEM, "code": flag,
                                            "display": INTERPRETATION_DISPLAY[flag]}]}] if flag else [],
            "method": {"text": f"计算机预读 automated pre-read ({pre_read.algorithm})"},
            "note": [{"text": "计算机预读，仅供诊断医师参考，不是诊断报告 (machine pre-read: assistance for the "
                              "reader, not the report)"}],
            "derivedFrom": tracing,
        })

    def audit_rows(self, user: Any, rows: list[Any], *, action: str, query: str = "") -> None:
        detail = {"query": query[:200]} if action == "search" else {}
        audit.record_many(
            audit.Actor.of(user, CHANNEL),
            [audit.Entry(action, self.object_type, row.uuid, resident_id=str(row.request.resident.uuid),
                         detail=detail) for row in rows],
        )


# --------------------------------------------------------------------------------------------- ImagingStudy


def dicomweb_base() -> str:
    return f"{settings.ORTHANC_PUBLIC_URL}/dicom-web"


def dicom_uid(uid: str) -> str:
    return f"urn:oid:{uid}"


class ImagingStudyHandler(DiagnosticsHandler):
    resource_type = "ImagingStudy"
    model = FhirImagingStudy
    object_type = "Acquisition"
    not_found = "未找到该影像检查，或不在您的管辖范围内 (imaging study not found or outside your scope)"
    ordering = ("-acquired_at", "-id")
    documentation = (
        "A DICOM study sent to the shared imaging centre and kept in Orthanc: identifier the Study Instance UID "
        "(urn:dicom:uid) and the accession number, series with their UIDs and modalities, endpoint a contained "
        "DICOMweb (WADO-RS) Endpoint whose address is the root the study is read from "
        "(<address>/studies/<Study Instance UID>), basedOn the exam request. status available, or cancelled "
        "when quality control sent the acquisition back (note says why). Images are sent through the JSON API "
        "(POST /api/exams/<id>/dicom), not as FHIR."
    )
    search_params = {
        "_id": fhir.SearchParam("token", "The logical id"),
        "patient": fhir.SearchParam("reference", "The resident: Patient/<id>"),
        "subject": fhir.SearchParam("reference", "The resident: Patient/<id>"),
        "status": fhir.SearchParam("token", "available | cancelled"),
        "started": fhir.SearchParam("date", "When acquired, days in Asia/Shanghai, with prefixes"),
        "basedon": fhir.SearchParam("reference", "The exam request: ServiceRequest/<id>"),
        "identifier": fhir.SearchParam("token", f"Study Instance UID ({DICOM_UID_SYSTEM}|urn:oid:<uid>) or "
                                                f"accession number ({ACCESSION_SYSTEM}|<number>)"),
        "modality": fhir.SearchParam("token", f"DICOM modality ({DCM_SYSTEM}|DX): the exam type's"),
        "performer": fhir.SearchParam("reference", "Who acquired it (Practitioner/<id>) or the requesting "
                                                   "organisation (Organization/<id>)"),
        "encounter": fhir.SearchParam("reference", "The encounter of the request: Encounter/<id>"),
    }

    def scoped(self, user: Any) -> QuerySet[Acquisition]:
        return Acquisition.objects.filter(kind=AcquisitionKind.DICOM, request__in=visible(user)).select_related(
            "request__resident", "request__exam_type", "request__encounter", "request__requesting_organization",
            "request__requesting_practitioner", "acquired_by",
        )

    def version(self, obj: Acquisition) -> str:
        return "2" if obj.returned_at else "1"

    def last_updated(self, obj: Acquisition) -> dt.datetime | None:
        return obj.returned_at or obj.acquired_at

    def to_fhir(self, obj: Acquisition) -> dict[str, Any]:
        request = obj.request
        performers = [{"actor": r} for r in (practitioner_reference(obj.acquired_by),
                                             organization_reference(request.requesting_organization)) if r]
        series = []
        for index, item in enumerate(obj.series or [], start=1):
            instances = item.get("instances") or []
            series.append(compact({
                "uid": str(item.get("uid") or f"{obj.study_instance_uid}.{index}"),
                "number": index,
                "modality": {"system": DCM_SYSTEM, "code": str(item.get("modality") or request.exam_type.modality
                                                               or "OT")},
                "description": item.get("description") or None,
                "numberOfInstances": len(instances) if isinstance(instances, list) else None,
                "endpoint": [{"reference": "#dicomweb"}],
                "performer": performers,
            }))
        modalities = sorted({s["modality"]["code"] for s in series}) or (
            [request.exam_type.modality] if request.exam_type.modality else [])
        identifiers = [accession_identifier(request)]
        if obj.study_instance_uid:
            identifiers.insert(0, {"system": DICOM_UID_SYSTEM, "value": dicom_uid(obj.study_instance_uid)})
        returned = obj.returned_at is not None
        counts = [s.get("numberOfInstances") for s in series]
        return compact({
            "resourceType": "ImagingStudy",
            "id": str(obj.uuid),
            "meta": {"versionId": self.version(obj), "lastUpdated": fhir.instant(self.last_updated(obj))},
            "contained": [{
                "resourceType": "Endpoint",
                "id": "dicomweb",
                "status": "active",
                "connectionType": {"system": CONNECTION_TYPE_SYSTEM, "code": "dicom-wado-rs"},
                "name": "Orthanc DICOMweb",
                "payloadType": [{"text": "DICOM"}],
                "payloadMimeType": ["application/dicom"],
                "address": dicomweb_base(),
            }],
            "identifier": identifiers,
            "status": "cancelled" if returned else "available",
            "modality": [{"system": DCM_SYSTEM, "code": code} for code in modalities],
            "subject": patient_reference(request.resident),
            "encounter": encounter_reference(request),
            "started": moment(obj.acquired_at),
            "basedOn": [request_reference(request)],
            "referrer": practitioner_reference(request.requesting_practitioner),
            "endpoint": [{"reference": "#dicomweb"}],
            "numberOfSeries": len(series),
            "numberOfInstances": sum(c for c in counts if c) if counts and all(c is not None for c in counts)
            else None,
            "procedureCode": [exam_type_concept(request.exam_type)],
            "description": request.exam_type.name,
            "note": [{"text": f"质控退回 returned by quality control: {obj.return_reason}"}] if returned else [],
            "series": series,
        })

    def condition(self, user: Any, name: str, value: str) -> Q:
        if name == "_id":
            return uuid_condition(value)
        if name in ("patient", "subject"):
            return records_fhir.reference_condition("request__resident__uuid", value, "Patient")
        if name == "status":
            fhir.require_choice("status", value, IMAGING_STATUSES)
            return {"available": Q(returned_at__isnull=True),
                    "cancelled": Q(returned_at__isnull=False)}.get(value, NOTHING)
        if name == "started":
            return datetime_condition("acquired_at", value)
        if name == "basedon":
            return records_fhir.reference_condition("request__uuid", value, "ServiceRequest")
        if name == "identifier":
            system, code = fhir.split_token(value)
            if system in (None, DICOM_UID_SYSTEM) and code:
                by_uid = Q(study_instance_uid=code.removeprefix("urn:oid:"))
            else:
                by_uid = NOTHING
            return by_uid | accession_condition(value, "request__accession_number")
        if name == "modality":
            code = token_code(value, DCM_SYSTEM)
            return Q(request__exam_type__modality=code) if code else NOTHING
        if name == "performer":
            return reference_condition(value, {"Practitioner": "acquired_by__uuid",
                                               "Organization": "request__requesting_organization__uuid"})
        if name == "encounter":
            return records_fhir.reference_condition("request__encounter__uuid", value, "Encounter")
        raise fhir.FhirError(400, f"unknown search parameter {name}")


# --------------------------------------------------------------------------------------------- Media, Binary


MEDIA_MODALITY = {  # the DICOM modality of a file of an acquisition
    AcquisitionKind.ECG_WFDB: ("ECG", "Electrocardiography"),
    AcquisitionKind.ECG_CSV: ("ECG", "Electrocardiography"),
    AcquisitionKind.PATHOLOGY: ("SM", "Slide Microscopy"),
}
ROLE_LABEL = {"wfdb-header": "WFDB 头文件 header", "wfdb-data": "WFDB 数据 signal data", "csv": "导联 CSV leads",
              "slide": "病理切片 slide", "other": "附件 file"}


def attachments(user: Any) -> QuerySet[Attachment]:
    return Attachment.objects.filter(acquisition__request__in=visible(user)).select_related(
        "acquisition__request__resident", "acquisition__request__encounter", "acquisition__request__exam_type",
        "acquisition__acquired_by", "blob",
    )


class MediaHandler(DiagnosticsHandler):
    resource_type = "Media"
    model = FhirMedia
    object_type = "Attachment"
    not_found = "未找到该文件，或不在您的管辖范围内 (file not found or outside your scope)"
    ordering = ("-acquisition__acquired_at", "-id")
    documentation = (
        "A file of an acquisition: the ECG tracing (WFDB header and signal, or a CSV of leads; modality ECG) "
        "and pathology slide images (type image, modality SM). content.url is Binary/<same id> (the bytes), "
        "with contentType, size and title; basedOn the exam request; operator who acquired it."
    )
    search_params = {
        "_id": fhir.SearchParam("token", "The logical id"),
        "patient": fhir.SearchParam("reference", "The resident: Patient/<id>"),
        "subject": fhir.SearchParam("reference", "The resident: Patient/<id>"),
        "status": fhir.SearchParam("token", "completed"),
        "created": fhir.SearchParam("date", "When acquired, days in Asia/Shanghai, with prefixes"),
        "based-on": fhir.SearchParam("reference", "The exam request: ServiceRequest/<id>"),
        "modality": fhir.SearchParam("token", f"ECG | SM ({DCM_SYSTEM})"),
        "type": fhir.SearchParam("token", f"image ({MEDIA_TYPE_SYSTEM}): slide images"),
        "operator": fhir.SearchParam("reference", "Who acquired it: Practitioner/<id>"),
        "encounter": fhir.SearchParam("reference", "The encounter of the request: Encounter/<id>"),
    }

    def scoped(self, user: Any) -> QuerySet[Attachment]:
        return attachments(user).defer("blob__content")

    def request_of(self, row: Any) -> ExamRequest:
        return row.acquisition.request

    def version(self, obj: Attachment) -> str:
        return "1"

    def last_updated(self, obj: Attachment) -> dt.datetime | None:
        return obj.acquisition.acquired_at

    def to_fhir(self, obj: Attachment) -> dict[str, Any]:
        acquisition = obj.acquisition
        request = acquisition.request
        modality = MEDIA_MODALITY.get(AcquisitionKind(acquisition.kind))
        image = obj.media_type.startswith("image/")
        return compact({
            "resourceType": "Media",
            "id": str(obj.uuid),
            "meta": {"versionId": "1", "lastUpdated": fhir.instant(acquisition.acquired_at)},
            "basedOn": [request_reference(request)],
            "status": "completed",
            "type": {"coding": [{"system": MEDIA_TYPE_SYSTEM, "code": "image", "display": "Image"}]} if image
            else {"text": ROLE_LABEL.get(obj.role, obj.role)},
            "modality": {"coding": [{"system": DCM_SYSTEM, "code": modality[0], "display": modality[1]}]}
            if modality else None,
            "subject": patient_reference(request.resident),
            "encounter": encounter_reference(request),
            "createdDateTime": moment(acquisition.acquired_at),
            "operator": practitioner_reference(acquisition.acquired_by),
            "bodySite": {"text": acquisition.site} if acquisition.site else None,
            "content": compact({
                "contentType": obj.media_type,
                "url": f"Binary/{obj.uuid}",
                "size": obj.blob.size,
                "title": obj.title or obj.filename,
                "creation": moment(acquisition.acquired_at),
            }),
            "note": [{"text": f"质控退回 returned by quality control: {acquisition.return_reason}"}]
            if acquisition.returned_at else [],
        })

    def condition(self, user: Any, name: str, value: str) -> Q:
        if name == "_id":
            return uuid_condition(value)
        if name in ("patient", "subject"):
            return records_fhir.reference_condition("acquisition__request__resident__uuid", value, "Patient")
        if name == "status":
            fhir.require_choice("status", value, EVENT_STATUSES)
            return EVERYTHING if value == "completed" else NOTHING
        if name == "created":
            return datetime_condition("acquisition__acquired_at", value)
        if name == "based-on":
            return records_fhir.reference_condition("acquisition__request__uuid", value, "ServiceRequest")
        if name == "modality":
            code = token_code(value, DCM_SYSTEM)
            kinds = [kind for kind, (modality, _) in MEDIA_MODALITY.items() if modality == code]
            return Q(acquisition__kind__in=kinds) if kinds else NOTHING
        if name == "type":
            return Q(media_type__startswith="image/") if token_code(value, MEDIA_TYPE_SYSTEM) == "image" else NOTHING
        if name == "operator":
            return records_fhir.reference_condition("acquisition__acquired_by__uuid", value, "Practitioner")
        if name == "encounter":
            return records_fhir.reference_condition("acquisition__request__encounter__uuid", value, "Encounter")
        raise fhir.FhirError(400, f"unknown search parameter {name}")


class BinaryHandler(DiagnosticsHandler):
    resource_type = "Binary"
    model = FhirBinary
    object_type = "Attachment"
    interactions = ("read", "vread")
    not_found = "未找到该文件，或不在您的管辖范围内 (file not found or outside your scope)"
    documentation = (
        "The bytes of a Media (same id): contentType and data (base64); securityContext the exam request. "
        "Read only: files are found through Media."
    )

    def scoped(self, user: Any) -> QuerySet[Attachment]:
        return attachments(user)

    def request_of(self, row: Any) -> ExamRequest:
        return row.acquisition.request

    def version(self, obj: Attachment) -> str:
        return "1"

    def last_updated(self, obj: Attachment) -> dt.datetime | None:
        return obj.acquisition.acquired_at

    def to_fhir(self, obj: Attachment) -> dict[str, Any]:
        return {
            "resourceType": "Binary",
            "id": str(obj.uuid),
            "meta": {"versionId": "1", "lastUpdated": fhir.instant(obj.acquisition.acquired_at)},
            "contentType": obj.media_type,
            "securityContext": {"reference": f"ServiceRequest/{obj.acquisition.request.uuid}"},
            "data": base64.b64encode(bytes(obj.blob.content)).decode(),
        }

    def condition(self, user: Any, name: str, value: str) -> Q:
        raise fhir.FhirError(400, f"unknown search parameter {name}")

    def search(self, user: Any, condition: Q, *, offset: int, count: int, query: str) -> tuple[list[Any], int]:
        raise fhir.FhirError(405, "Binary 只能按 id 读取，请通过 Media 查找文件 (read Binary/<id>; find files through "
                                  "Media)", code="not-supported", headers={"Allow": ""})


records_fhir.register_part(ExamRequestHandler())
records_fhir.register_part(EcgMeasurementHandler())
for handler in (DiagnosticReportHandler(), ImagingStudyHandler(), MediaHandler(), BinaryHandler()):
    fhir.register_resource(handler)
