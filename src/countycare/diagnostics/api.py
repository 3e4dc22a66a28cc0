"""Diagnostics endpoints of the JSON API: exam requests (Idempotency-Key), acquisitions (ECG files, DICOM,
specimens and slides), a centre's worklist with claim / claim-next / release, reports and revisions, critical
values and their acknowledgement, and a centre's turnaround.

Handlers resolve the uuids they are sent, make one service or query call, and answer; scope, audit and the
rules live in `queries` and `services`. Listing endpoints audit every request they hand out.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from django.db.models import F, Q
from django.http import HttpRequest
from django.utils import timezone
from ninja import File, Form, Query, Router, Status
from ninja.files import UploadedFile

from countycare.api import CreatedOnce, api, error_responses, idempotency_key_header, user_of
from countycare.core.errors import InvalidInput, NotFound
from countycare.records import queries as records_queries
from countycare.records.schemas import AnyIsoDateTime
from countycare.registry import queries as registry_queries
from countycare.registry.models import Resident
from countycare.registry.scope import covered_organization_ids

from . import queries, services
from .models import (
    Centre,
    CentreReader,
    CriticalAlert,
    ExamRequest,
    ExamStatus,
    ExamType,
    Report,
    ReportStatus,
)
from .schemas import (
    AcknowledgeIn,
    AlertOut,
    CentreOut,
    ClaimIn,
    ClaimNextOut,
    ExamDetailOut,
    ExamIn,
    ExamOut,
    ExamPage,
    ExamTypeOut,
    ReasonIn,
    RecognisedIn,
    RecognitionOut,
    ReportIn,
    ReportOut,
    ReviseIn,
    SpecimenIn,
    TurnaroundOut,
    VersionIn,
    WorkItemOut,
    WorklistOut,
)

router = Router(tags=["diagnostics"])
CHANNEL = "api"
ExamKey = idempotency_key_header(
    "Send the same key when retrying: the retry gets the first answer, and one exam request is made"
)
FormVersion = Annotated[int, Form(ge=1, le=2_147_483_647, description="The version you read")]
# Bounded reads of an upload: a file over the services' limit is refused there, without reading all of it.
MAX_READ = services.MAX_FILE_BYTES + 1
READS = error_responses(401, 403, 404, 422)
WRITES = error_responses(400, 401, 403, 404, 409, 412, 422)
NOT_FOUND = "未找到该检查申请，或不在您的管辖范围内 (exam request not found or outside your scope)"


def _exam(user: Any, exam_uuid: uuid.UUID) -> ExamRequest:
    """A request the user may see, for an action (the service audits the action; nothing is handed out)."""
    registry_queries.require_patient_access(user)
    found = queries.visible_requests(user).filter(uuid=exam_uuid).select_related(
        "resident", "exam_type", "centre", "requesting_organization", "requesting_practitioner", "claimed_by",
    ).first()
    if found is None:
        raise NotFound(NOT_FOUND)
    return found


def _detail(user: Any, exam_uuid: uuid.UUID, *, audited: bool = True) -> ExamRequest:
    """The request with everything ExamDetailOut shows, reports as this user may see them; audited as a read,
    except right after a write (whose audit entry covers the answer)."""
    if audited:
        found = queries.get_request(user, exam_uuid, channel=CHANNEL)
    else:
        found = _exam(user, exam_uuid)
    found = queries.with_detail(ExamRequest.objects.filter(pk=found.pk)).select_related("pre_read").prefetch_related(
        "observations", "events__practitioner", "acquisitions__acquired_by",
        "critical_alerts__request__exam_type", "critical_alerts__resident", "critical_alerts__notify_organization",
        "critical_alerts__notify_practitioner", "critical_alerts__escalated_to", "critical_alerts__acknowledged_by",
    ).get()
    found.visible_reports = _visible_reports(user, found)
    return found


def _reads_for(user: Any, request: ExamRequest) -> bool:
    return bool(user.practitioner_id) and CentreReader.objects.filter(
        centre_id=request.centre_id, practitioner_id=user.practitioner_id, active=True).exists()


def _visible_reports(user: Any, request: ExamRequest) -> list[Report]:
    """Every version, newest first; a preliminary report (waiting for its second reading) only for the
    centre's readers."""
    reports = queries.reports_of(request)
    if _reads_for(user, request):
        return reports
    return [r for r in reports if r.status != ReportStatus.PRELIMINARY and r.published_at is not None]


def _centre(user: Any, centre_id: int) -> Centre:
    found = Centre.objects.filter(pk=centre_id, community_id=user.community_id).select_related("organization").first()
    if found is None:
        raise NotFound("未找到该诊断中心 (centre not found)")
    return found


def _exam_type(user: Any, code: str) -> ExamType:
    found = (ExamType.objects.filter(Q(community_id=user.community_id) | Q(community__isnull=True), code=code,
                                     active=True)
             .order_by(F("community_id").asc(nulls_last=True), "id").first())
    if found is None:
        raise InvalidInput(f"未知的检查项目 {code} (unknown exam type; see GET /api/exam-types)", field="exam_type")
    return found


def _uploads(files: list[UploadedFile] | None) -> list[services.UploadedFile]:
    return [services.UploadedFile(filename=(f.name or "upload")[:200], media_type=f.content_type or "",
                                  content=f.read(MAX_READ)) for f in files or []]


# --- reference ---------------------------------------------------------------------------------------------

@router.get("/exam-types", response={200: list[ExamTypeOut], **error_responses(401)}, summary="Exam types")
def exam_types(request: HttpRequest) -> Any:
    """What can be requested, with the window a recognised result stays valid for. A community's own row
    replaces the shipped default of the same code."""
    user = user_of(request)
    rows = ExamType.objects.filter(Q(community_id=user.community_id) | Q(community__isnull=True), active=True)
    chosen: dict[str, ExamType] = {}
    for row in rows.order_by(F("community_id").asc(nulls_last=True), "id"):
        chosen.setdefault(row.code, row)
    return sorted(chosen.values(), key=lambda t: (t.centre_kind, t.code))


@router.get("/centres", response={200: list[CentreOut], **error_responses(401, 422)}, summary="Diagnostic centres")
def centres(request: HttpRequest, mine: bool = False) -> Any:
    """The community's active centres with their turnaround targets; `mine=true`: the centres you read for."""
    user = user_of(request)
    if mine:
        return list(queries.centres_for(user))
    return list(Centre.objects.filter(community_id=user.community_id, active=True).select_related("organization"))


# --- requests ----------------------------------------------------------------------------------------------

@router.post("/exams", response={201: ExamOut, **WRITES}, summary="Request an exam")
def request_exam(request: HttpRequest, payload: ExamIn, idempotency_key: ExamKey = None) -> Any:
    """Order an ECG, imaging, laboratory or pathology exam for a resident in your scope (doctors only: 403
    otherwise). 404: no such resident in your scope; 409: the resident has a recognised, valid result of this
    exam (the body carries `report`, `request`, `conclusion`, `recognised_until`) — use it or send a
    `repeat_reason`; 422: unknown exam type, centre or encounter, the key reused for another body."""
    created = CreatedOnce(request, idempotency_key)
    if (replay := created.replay()) is not None:
        return replay
    user = created.user
    resident = Resident.objects.filter(community_id=user.community_id, uuid=payload.resident,
                                       merged_into__isnull=True).first()
    if resident is None:
        raise NotFound("未找到该居民，或不在您的管辖范围内 (resident not found or outside your scope)")
    arguments: dict[str, Any] = {
        "exam_type": _exam_type(user, payload.exam_type),
        "clinical_question": payload.clinical_question,
        "priority": str(payload.priority),
        "repeat_reason": payload.repeat_reason,
    }
    if payload.encounter is not None:
        encounter = records_queries.visible_encounters(user).filter(uuid=payload.encounter).first()
        if encounter is None or encounter.resident_id != resident.pk:
            raise InvalidInput("未找到该患者的此次就诊 (no such encounter of this patient in your scope)",
                               field="encounter")
        arguments["encounter"] = encounter
    if payload.centre is not None:
        centre = Centre.objects.filter(pk=payload.centre, community_id=user.community_id, active=True).first()
        if centre is None or centre.kind != arguments["exam_type"].centre_kind:
            raise InvalidInput("该中心不做此项检查 (no such centre for this exam)", field="centre")
        arguments["centre"] = centre

    def keep_answer(exam: ExamRequest) -> None:
        body = api.renderer.render(request, ExamOut.from_orm(exam).model_dump(), response_status=201)
        created.keep(body, exam.uuid)

    services.request_exam(user=user, resident=resident, channel=CHANNEL, within=keep_answer, **arguments)
    return created.response()


@router.post("/exams/recognised", response={201: RecognitionOut, **WRITES},
             summary="Use a recognised result instead of ordering")
def use_recognised(request: HttpRequest, payload: RecognisedIn) -> Any:
    """The clinician takes the recognised result the 409 showed (结果互认): counted as an exam avoided."""
    user = user_of(request)
    resident = Resident.objects.filter(community_id=user.community_id, uuid=payload.resident,
                                       merged_into__isnull=True).first()
    if resident is None:
        raise NotFound("未找到该居民，或不在您的管辖范围内 (resident not found or outside your scope)")
    exam_type = _exam_type(user, payload.exam_type)
    report = Report.objects.filter(uuid=payload.report, request__community_id=user.community_id).select_related(
        "request").first()
    if report is None or report.request.resident_id != resident.pk:
        raise InvalidInput("未找到该居民的此份报告 (no such report of this resident)", field="report")
    check = services.use_recognised_result(user=user, resident=resident, exam_type=exam_type, report=report,
                                           channel=CHANNEL)
    return Status(201, check)


@router.get("/exams", response={200: ExamPage, **error_responses(401, 403, 422)}, summary="Exams you requested")
def requested_exams(
    request: HttpRequest,
    status: ExamStatus | None = None,
    since: Annotated[AnyIsoDateTime | None, Query(description="Requested at or after")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Any:
    """The requesting clinic's view: exams ordered by the organisations you cover, newest first, with their
    status. Every exam listed is written to the audit trail. 403 for the health bureau."""
    user = user_of(request)
    qs = queries.requested_by(user, status=str(status) if status else None, since=since)
    items = list(qs[offset:offset + limit])
    queries.audit_listed(user, items, channel=CHANNEL, reason="requested")
    return {"count": qs.count() if len(items) == limit or offset else len(items), "items": items}


@router.get("/exams/{exam_uuid}", response={200: ExamDetailOut, **READS}, summary="Read an exam")
def read_exam(request: HttpRequest, exam_uuid: uuid.UUID) -> Any:
    """An exam you may see (its resident is in your scope, you requested it, or it was sent to a centre you
    read for): acquisitions and their files, the ECG pre-read, every report version, the results in the shared
    record, critical values and the history. Audited."""
    return _detail(user_of(request), exam_uuid)


@router.get("/exams/{exam_uuid}/reports", response={200: list[ReportOut], **READS}, summary="Report versions")
def exam_reports(request: HttpRequest, exam_uuid: uuid.UUID) -> Any:
    """Every version of the report, newest first (a revision never changes an earlier version). Audited."""
    user = user_of(request)
    found = queries.get_request(user, exam_uuid, channel=CHANNEL)
    return _visible_reports(user, found)


@router.post("/exams/{exam_uuid}/cancel", response={200: ExamOut, **WRITES}, summary="Cancel an exam")
def cancel_exam(request: HttpRequest, exam_uuid: uuid.UUID, payload: ReasonIn) -> Any:
    """The requesting side cancels an exam not yet being read, with a reason. 409: stale version or a status
    that cannot be cancelled."""
    user = user_of(request)
    return services.cancel_request(user=user, request=_exam(user, exam_uuid), reason=payload.reason,
                                   expected_version=payload.version, channel=CHANNEL)


# --- acquisitions ------------------------------------------------------------------------------------------

@router.post("/exams/{exam_uuid}/ecg", response={200: ExamDetailOut, **WRITES}, summary="Attach an ECG")
def attach_ecg(request: HttpRequest, exam_uuid: uuid.UUID, version: FormVersion,
               files: File[list[UploadedFile]]) -> Any:
    """multipart/form-data: `version` and `files` — a WFDB pair (`.hea` + `.dat`) or one CSV of leads (a
    header row of lead names, optionally a time column). The tracing is checked (422 on a bad file: nothing is
    stored), the pre-read computed, and the exam moves to the centre's worklist."""
    user = user_of(request)
    services.attach_ecg(user=user, request=_exam(user, exam_uuid), files=_uploads(files), expected_version=version,
                        channel=CHANNEL)
    return _detail(user, exam_uuid, audited=False)


@router.post("/exams/{exam_uuid}/dicom", response={200: ExamDetailOut, **WRITES, **error_responses(503)},
             summary="Attach DICOM images")
def attach_dicom(request: HttpRequest, exam_uuid: uuid.UUID, version: FormVersion,
                 files: File[list[UploadedFile]]) -> Any:
    """multipart/form-data: `version` and `files` (DICOM instances of one study). They are sent to Orthanc and
    the study and series kept. 422: a file is not DICOM, or the patient or modality does not fit; 503: Orthanc
    cannot be reached (nothing is stored)."""
    user = user_of(request)
    services.attach_dicom(user=user, request=_exam(user, exam_uuid), files=_uploads(files),
                          expected_version=version, channel=CHANNEL)
    return _detail(user, exam_uuid, audited=False)


@router.post("/exams/{exam_uuid}/specimen", response={200: ExamDetailOut, **WRITES}, summary="Record a specimen")
def attach_specimen(request: HttpRequest, exam_uuid: uuid.UUID, payload: SpecimenIn) -> Any:
    """A laboratory sample or a pathology specimen was taken (and is on its way): the exam moves on."""
    user = user_of(request)
    services.attach_specimen(
        user=user, request=_exam(user, exam_uuid), specimen_type=payload.specimen_type,
        specimen_id=payload.specimen_id, collected_at=payload.collected_at, site=payload.site, note=payload.note,
        expected_version=payload.version, channel=CHANNEL,
    )
    return _detail(user, exam_uuid, audited=False)


@router.post("/exams/{exam_uuid}/slides", response={200: ExamDetailOut, **WRITES},
             summary="Record a pathology specimen with slide images")
def attach_slides(
    request: HttpRequest,
    exam_uuid: uuid.UUID,
    version: FormVersion,
    specimen_type: Annotated[str, Form(min_length=1, max_length=60, pattern=r"^[^\x00]*$")],
    slides: File[list[UploadedFile]],
    specimen_id: Annotated[str, Form(max_length=40, pattern=r"^[^\x00]*$")] = "",
    site: Annotated[str, Form(max_length=100, pattern=r"^[^\x00]*$")] = "",
    note: Annotated[str, Form(max_length=2000, pattern=r"^[^\x00]*$")] = "",
) -> Any:
    """multipart/form-data: the specimen's fields and `slides` (PNG, JPEG or TIFF images of the slides)."""
    user = user_of(request)
    services.attach_specimen(
        user=user, request=_exam(user, exam_uuid), specimen_type=specimen_type, specimen_id=specimen_id,
        site=site, note=note, slides=_uploads(slides), expected_version=version, channel=CHANNEL,
    )
    return _detail(user, exam_uuid, audited=False)


@router.post("/exams/{exam_uuid}/return", response={200: ExamOut, **WRITES}, summary="Send an acquisition back")
def return_acquisition(request: HttpRequest, exam_uuid: uuid.UUID, payload: ReasonIn) -> Any:
    """Quality control at the centre sends the acquisition back with a reason; the requester acquires again."""
    user = user_of(request)
    return services.return_acquisition(user=user, request=_exam(user, exam_uuid), reason=payload.reason,
                                       expected_version=payload.version, channel=CHANNEL)


# --- reading -----------------------------------------------------------------------------------------------

def _work_items(user: Any, rows: list[ExamRequest], reason: str) -> list[ExamRequest]:
    queries.audit_listed(user, rows, channel=CHANNEL, reason=reason)
    return rows


@router.get("/centres/{centre_id}/worklist", response={200: WorklistOut, **READS}, summary="A centre's worklist")
def worklist(request: HttpRequest, centre_id: int,
             limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Any:
    """The centre's open work in reading order (priority, raised by a critical ECG pre-read; the pre-read's
    urgency; the longest waiting) and the items being read. Readers of the centre (and community
    administrators); 403 otherwise. Every item listed is audited."""
    user = user_of(request)
    centre = _centre(user, centre_id)
    waiting = list(queries.worklist(user, centre)[:limit])
    in_progress = list(queries.in_progress(user, centre)[:limit])
    _work_items(user, waiting + in_progress, "worklist")
    return {"centre": centre, "waiting": waiting, "in_progress": in_progress}


@router.post("/centres/{centre_id}/claim-next", response={200: ClaimNextOut, **WRITES},
             summary="Claim the top of the worklist")
def claim_next(request: HttpRequest, centre_id: int) -> Any:
    """A reader on duty takes the first item of the worklist (items another reader claims at the same moment
    are skipped); `exam` is null when there is nothing to read. 403: not a reader on duty."""
    user = user_of(request)
    claimed = services.claim_next(user=user, centre=_centre(user, centre_id), channel=CHANNEL)
    if claimed is None:
        return {"exam": None}
    return {"exam": ExamRequest.objects.select_related(
        "resident", "exam_type", "centre", "requesting_organization", "requesting_practitioner", "claimed_by",
        "pre_read").get(pk=claimed.pk)}


@router.post("/exams/{exam_uuid}/claim", response={200: WorkItemOut, **WRITES}, summary="Claim an exam")
def claim(request: HttpRequest, exam_uuid: uuid.UUID, payload: ClaimIn) -> Any:
    """A reader on duty at the exam's centre claims it: no two readers report the same item (the second gets
    409). A second reading cannot be claimed by the preliminary report's author."""
    user = user_of(request)
    claimed = services.claim(user=user, request=_exam(user, exam_uuid), expected_version=payload.version,
                             channel=CHANNEL)
    return ExamRequest.objects.select_related("resident", "exam_type", "centre", "requesting_organization",
                                              "requesting_practitioner", "claimed_by", "pre_read").get(pk=claimed.pk)


@router.post("/exams/{exam_uuid}/release", response={200: ExamOut, **WRITES}, summary="Put a claimed exam back")
def release(request: HttpRequest, exam_uuid: uuid.UUID, payload: VersionIn) -> Any:
    user = user_of(request)
    return services.release(user=user, request=_exam(user, exam_uuid), expected_version=payload.version,
                            channel=CHANNEL)


@router.post("/exams/{exam_uuid}/report", response={201: ReportOut, **WRITES}, summary="Write the report")
def write_report(request: HttpRequest, exam_uuid: uuid.UUID, payload: ReportIn) -> Any:
    """The reader who claimed the exam reports: published at once, or with `second_reading` a preliminary
    report for a senior reader. `critical` raises a critical value to the requesting clinician. 403: not the
    claiming reader; 409: stale version or not claimed; 422: empty text or an unknown template."""
    user = user_of(request)
    report = services.write_report(
        user=user, request=_exam(user, exam_uuid), findings=payload.findings, conclusion=payload.conclusion,
        expected_version=payload.version, template_code=payload.template_code, critical=payload.critical,
        critical_finding=payload.critical_finding, critical_code=payload.critical_code,
        second_reading=payload.second_reading, channel=CHANNEL,
    )
    return Status(201, Report.objects.select_related("author", "verifier").get(pk=report.pk))


@router.post("/exams/{exam_uuid}/revise", response={201: ReportOut, **WRITES}, summary="Revise a published report")
def revise_report(request: HttpRequest, exam_uuid: uuid.UUID, payload: ReviseIn) -> Any:
    """A new version of a published report (status amended) with the reason; every earlier version is kept."""
    user = user_of(request)
    report = services.revise_report(
        user=user, request=_exam(user, exam_uuid), findings=payload.findings, conclusion=payload.conclusion,
        reason=payload.reason, expected_version=payload.version, critical=payload.critical,
        critical_finding=payload.critical_finding, critical_code=payload.critical_code, channel=CHANNEL,
    )
    return Status(201, Report.objects.select_related("author", "verifier").get(pk=report.pk))


# --- critical values ---------------------------------------------------------------------------------------

ALERT_RELATED = ("request__exam_type", "resident", "notify_organization", "notify_practitioner", "escalated_to",
                 "acknowledged_by")


@router.get("/alerts", response={200: list[AlertOut], **error_responses(401, 403)},
            summary="Critical values waiting for you")
def open_alerts(request: HttpRequest) -> Any:
    """Critical values (危急值) notified to you or your organisations, or escalated to you, not yet
    acknowledged, the most overdue first. Audited."""
    user = user_of(request)
    alerts = list(queries.open_alerts(user).select_related(*ALERT_RELATED)[:500])
    queries.audit_listed(user, [a.request for a in alerts], channel=CHANNEL, reason="critical values")
    return alerts


@router.post("/alerts/{alert_uuid}/acknowledge", response={200: AlertOut, **WRITES},
             summary="Acknowledge a critical value")
def acknowledge(request: HttpRequest, alert_uuid: uuid.UUID, payload: AcknowledgeIn) -> Any:
    """The ordering clinician (anyone at the notified organisation, or the duty doctor it escalated to)
    acknowledges, saying what was done. 409: already acknowledged."""
    user = user_of(request)
    registry_queries.require_patient_access(user)
    concerned = Q(request__in=queries.visible_requests(user).values("pk")) | Q(
        notify_organization_id__in=sorted(covered_organization_ids(user)))
    if user.practitioner_id:
        concerned |= Q(notify_practitioner_id=user.practitioner_id) | Q(escalated_to_id=user.practitioner_id)
    alert = CriticalAlert.objects.filter(concerned, uuid=alert_uuid, community_id=user.community_id).select_related(
        "request__exam_type", "request__requesting_organization", "resident").first()
    if alert is None:
        raise NotFound("未找到该危急值，或不在您的管辖范围内 (critical value not found or outside your scope)")
    acknowledged = services.acknowledge_alert(user=user, alert=alert, action_taken=payload.action_taken,
                                              channel=CHANNEL)
    return CriticalAlert.objects.select_related(*ALERT_RELATED).get(pk=acknowledged.pk)


# --- turnaround --------------------------------------------------------------------------------------------

@router.get("/centres/{centre_id}/turnaround", response={200: TurnaroundOut, **READS},
            summary="A centre's turnaround")
def turnaround(
    request: HttpRequest,
    centre_id: int,
    since: Annotated[AnyIsoDateTime | None, Query(description="Reported at or after (default: 24 hours ago)")] = None,
    until: Annotated[AnyIsoDateTime | None, Query(description="Reported before (default: now)")] = None,
) -> Any:
    """Minutes from acquisition to report, p50 and p95, and the share within the centre's target, per
    priority and overall, for exams reported in [since, until); `waiting` counts what is acquired and not yet
    reported now. Aggregates only (no patient data). 422: since not before until, or more than 366 days."""
    user = user_of(request)
    centre = _centre(user, centre_id)
    now = timezone.now()
    until = until or now
    since = since or until - dt.timedelta(days=1)
    if since >= until or until - since > dt.timedelta(days=366):
        raise InvalidInput("时间范围须为 since < until，且不超过366天 (since must be before until, at most 366 days)",
                           field="since")
    rows = queries.turnaround(centre, since=since, until=until, now=now)
    return {
        "centre": centre, "since": since, "until": until,
        "rows": [{**row.__dict__, "target_minutes": centre.target_minutes(row.priority) if row.priority else None}
                 for row in rows],
    }
