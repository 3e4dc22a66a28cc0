"""JSON shapes of the diagnostics API: what comes in (checked here, then by the services) and what goes out."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any

from ninja import Schema
from pydantic import AwareDatetime, Field, StrictBool, StringConstraints

from countycare.registry.schemas import NO_NUL, Version

from .models import Blob, Priority


def _text(max_length: int, min_length: int = 0) -> StringConstraints:
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=NO_NUL)


Code = Annotated[str, StringConstraints(min_length=1, max_length=30, pattern=r"^[A-Za-z0-9._-]+$")]


# --- in ----------------------------------------------------------------------------------------------------

class ExamIn(Schema):
    """An exam for a resident in your scope. If the resident already has a recognised, valid result of this exam
    (结果互认) the answer is 409 with that result (`report`, `request`, `conclusion`, `recognised_until`) and nothing
    is created: use it (POST /api/exams/recognised) or send the request again with `repeat_reason`."""

    resident: uuid.UUID
    exam_type: Code = Field(description="Exam type code (GET /api/exam-types), e.g. ECG12, DR-CHEST, BMP")
    clinical_question: Annotated[str, _text(1000, min_length=1)] = Field(description="临床问题 / why it is asked")
    priority: Priority = Priority.ROUTINE
    encounter: uuid.UUID | None = Field(default=None, description="The visit it was ordered at")
    centre: int | None = Field(default=None, ge=1, le=2_147_483_647,
                               description="A centre id (GET /api/centres); default: the community's centre")
    repeat_reason: Annotated[str, _text(200)] = Field(
        default="", description="Why a recognised valid result is not enough (重复检查原因)")


class RecognisedIn(Schema):
    resident: uuid.UUID
    exam_type: Code
    report: uuid.UUID = Field(description="The recognised report the 409 named (`report`)")


class ReasonIn(Schema):
    version: Version = Field(description="The version you read; a stale one is refused with 409")
    reason: Annotated[str, _text(200, min_length=1)]


class ClaimIn(Schema):
    version: Version | None = Field(default=None, description="The version you read (optional)")


class VersionIn(Schema):
    version: Version = Field(description="The version you read; a stale one is refused with 409")


class SpecimenIn(Schema):
    """A laboratory sample or a pathology specimen (slide images: POST …/slides as multipart)."""

    version: Version
    specimen_type: Annotated[str, _text(60, min_length=1)] = Field(description="e.g. 静脉血 venous blood, 胃窦活检")
    specimen_id: Annotated[str, _text(40)] = ""
    collected_at: AwareDatetime | None = None
    site: Annotated[str, _text(100)] = ""
    note: Annotated[str, _text(2000)] = ""


class ReportIn(Schema):
    version: Version = Field(description="The request's version you read")
    findings: Annotated[str, _text(8000, min_length=1)] = Field(description="检查所见")
    conclusion: Annotated[str, _text(2000, min_length=1)] = Field(description="诊断意见")
    template_code: Annotated[str, _text(40)] = ""
    critical: StrictBool = Field(default=False, description="A critical finding (危急值): notifies the requester")
    critical_finding: Annotated[str, _text(200)] = ""
    critical_code: Annotated[str, _text(30)] = Field(default="", description="The critical rule's code, if any")
    second_reading: StrictBool = Field(default=False, description="A preliminary report for a second reader")


class ReviseIn(Schema):
    version: Version
    findings: Annotated[str, _text(8000, min_length=1)]
    conclusion: Annotated[str, _text(2000, min_length=1)]
    reason: Annotated[str, _text(200, min_length=1)] = Field(description="Why the report is revised")
    critical: StrictBool = False
    critical_finding: Annotated[str, _text(200)] = ""
    critical_code: Annotated[str, _text(30)] = ""


class AcknowledgeIn(Schema):
    action_taken: Annotated[str, _text(200)] = Field(default="", description="What was done (处置)")


# --- out ---------------------------------------------------------------------------------------------------

class Ref(Schema):
    uuid: uuid.UUID
    name: str


class ExamTypeOut(Schema):
    code: str
    name: str
    name_en: str
    centre_kind: str
    modality: str
    loinc: str
    recognition_days: int = Field(description="A recognised result stays valid this many days (结果互认有效期)")
    components: list[str]


class ExamTypeRef(Schema):
    code: str
    name: str
    centre_kind: str


class CentreRef(Schema):
    id: int
    name: str
    kind: str


class CentreOut(CentreRef):
    name_en: str
    organization: Ref
    quality_controlled: bool
    target_routine_minutes: int
    target_urgent_minutes: int
    target_stat_minutes: int


class ExamOut(Schema):
    uuid: uuid.UUID
    accession_number: str
    resident: Ref
    exam_type: ExamTypeRef
    centre: CentreRef
    requesting_organization: Ref
    requesting_practitioner: Ref | None
    clinical_question: str
    priority: str
    status: str
    rank: int = Field(description="Worklist order: priority (raised by a critical pre-read) × 1000 + pre-read score")
    requested_at: dt.datetime
    acquired_at: dt.datetime | None
    claimed_at: dt.datetime | None
    reported_at: dt.datetime | None
    acknowledged_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    claimed_by: Ref | None
    status_reason: str
    repeat_reason: str
    version: int = Field(description="Send it back with an action; a stale one is refused with 409")


class PreReadOut(Schema):
    heart_rate: Decimal | None
    rr_cv: Decimal | None
    pr_ms: int | None
    qrs_ms: int | None
    qt_ms: int | None
    qtc_ms: int | None
    signal_quality: Decimal | None
    flags: list[str]
    critical: bool
    score: int
    algorithm: str
    computed_at: dt.datetime
    elapsed_ms: int


class WorkItemOut(ExamOut):
    pre_read: PreReadOut | None = Field(description="ECG only: the machine pre-read (assistance, not the report)")

    @staticmethod
    def resolve_pre_read(obj: Any) -> Any:
        return _pre_read(obj)


class AttachmentOut(Schema):
    uuid: uuid.UUID
    filename: str
    media_type: str
    role: str
    title: str
    size: int

    @staticmethod
    def resolve_size(obj: Any) -> int:
        return Blob.objects.filter(pk=obj.blob_id).values_list("size", flat=True).first() or 0


class AcquisitionOut(Schema):
    uuid: uuid.UUID
    kind: str
    current: bool
    acquired_at: dt.datetime
    acquired_by: Ref | None
    sample_rate: int | None
    lead_names: list[str]
    duration_seconds: Decimal | None
    orthanc_study_id: str
    study_instance_uid: str
    series: list[dict[str, Any]]
    specimen_type: str
    specimen_id: str
    collected_at: dt.datetime | None
    site: str
    note: str
    returned_at: dt.datetime | None
    return_reason: str
    attachments: list[AttachmentOut]

    @staticmethod
    def resolve_attachments(obj: Any) -> list[Any]:
        return list(obj.attachments.all())


class ReportOut(Schema):
    uuid: uuid.UUID
    version: int
    status: str
    current: bool
    findings: str
    conclusion: str
    template_code: str
    critical: bool
    author: Ref | None
    verifier: Ref | None
    revision_reason: str
    written_at: dt.datetime
    published_at: dt.datetime | None
    recognised_until: dt.datetime | None


class ResultOut(Schema):
    uuid: uuid.UUID
    code: str
    display: str
    category: str
    value_quantity: Decimal | None
    value_text: str
    unit: str
    reference_low: Decimal | None
    reference_high: Decimal | None
    interpretation: str
    effective_at: dt.datetime


class EventOut(Schema):
    action: str
    from_status: str
    to_status: str
    at: dt.datetime
    practitioner: Ref | None
    reason: str


class AlertRequestRef(Schema):
    uuid: uuid.UUID
    accession_number: str
    exam_type: ExamTypeRef


class AlertOut(Schema):
    uuid: uuid.UUID
    request: AlertRequestRef
    resident: Ref
    finding: str
    status: str
    raised_at: dt.datetime
    ack_due_at: dt.datetime
    notify_organization: Ref
    notify_practitioner: Ref | None
    escalated_at: dt.datetime | None
    escalated_to: Ref | None
    acknowledged_at: dt.datetime | None
    acknowledged_by: Ref | None
    action_taken: str


class ExamDetailOut(WorkItemOut):
    encounter: uuid.UUID | None
    recognised_report: uuid.UUID | None
    acquisitions: list[AcquisitionOut]
    reports: list[ReportOut] = Field(description="Every version, newest first; preliminary ones only for readers")
    results: list[ResultOut] = Field(description="What reached the shared record: lab results, the report")
    critical_alerts: list[AlertOut]
    events: list[EventOut]

    @staticmethod
    def resolve_encounter(obj: Any) -> uuid.UUID | None:
        return obj.encounter.uuid if obj.encounter_id else None

    @staticmethod
    def resolve_recognised_report(obj: Any) -> uuid.UUID | None:
        return obj.recognised_report.uuid if obj.recognised_report_id else None

    @staticmethod
    def resolve_acquisitions(obj: Any) -> list[Any]:
        return list(obj.acquisitions.all())

    @staticmethod
    def resolve_reports(obj: Any) -> list[Any]:
        return getattr(obj, "visible_reports", None) or []

    @staticmethod
    def resolve_results(obj: Any) -> list[Any]:
        return sorted(obj.observations.all(), key=lambda o: (o.effective_at, o.id))

    @staticmethod
    def resolve_critical_alerts(obj: Any) -> list[Any]:
        return list(obj.critical_alerts.all())

    @staticmethod
    def resolve_events(obj: Any) -> list[Any]:
        return list(obj.events.all())


class ExamPage(Schema):
    count: int
    items: list[ExamOut]


class WorklistOut(Schema):
    centre: CentreOut
    waiting: list[WorkItemOut] = Field(description="In reading order: priority, pre-read, longest waiting")
    in_progress: list[WorkItemOut] = Field(description="Claimed, the longest claimed first")


class ClaimNextOut(Schema):
    exam: WorkItemOut | None = Field(description="The item claimed; null when the worklist is empty")


class TurnaroundRow(Schema):
    priority: str | None = Field(description="routine, urgent, stat; null: all together")
    target_minutes: int | None
    reported: int
    p50_minutes: float | None
    p95_minutes: float | None
    within_target: int
    share_within_target: float | None
    waiting: int
    oldest_waiting_minutes: float | None


class TurnaroundOut(Schema):
    centre: CentreOut
    since: dt.datetime
    until: dt.datetime
    rows: list[TurnaroundRow]


class RecognitionOut(Schema):
    decision: str
    report: uuid.UUID
    at: dt.datetime

    @staticmethod
    def resolve_report(obj: Any) -> uuid.UUID:
        return obj.report.uuid


def _pre_read(obj: Any) -> Any:
    try:
        return obj.pre_read
    except Exception:  # RelatedObjectDoesNotExist: not an ECG, or not acquired yet
        return None
