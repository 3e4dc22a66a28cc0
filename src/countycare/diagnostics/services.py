"""Every write of the shared diagnostic centres. One transaction per function, audited inside it;
transitions are conditional UPDATEs on (version, status) whose row count says who won (409 otherwise).
Every function that takes `now` uses it as the clock (tests control time); None means timezone.now().
`channel` is the audit channel ("web", "api", "fhir", "hl7", "cli").

Who acts (workflow.Side): the *requester* side is a doctor covering the request's requesting organisation;
the *centre* side an active reader of the request's centre (claiming also needs a roster shift covering
the moment); lab results from an analyser or a branch LIS are the *system*. A refusal changes nothing:
403 for the wrong side, 422 for a missing reason or bad input, 409 for a stale version or a status the
action does not start from.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.db.models.functions import Coalesce, Length
from django.utils import timezone

from countycare.core import audit, policy
from countycare.core.codes import BRANCH_TYPES, OrganizationType, Role
from countycare.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from countycare.records.models import Encounter, Observation, ObservationCategory, ObservationStatus
from countycare.registry import queries as registry_queries
from countycare.registry.models import Organization, Practitioner, Resident
from countycare.registry.scope import covered_organization_ids

from . import queries, workflow
from .models import (
    PRIORITY_RANK,
    Acquisition,
    AcquisitionKind,
    AlertStatus,
    Attachment,
    Blob,
    Centre,
    CentreKind,
    CentreReader,
    CriticalAlert,
    CriticalAlertEvent,
    CriticalRule,
    EcgPreRead,
    ExamEvent,
    ExamRequest,
    ExamStatus,
    ExamType,
    Priority,
    RecognitionCheck,
    RecognitionDecision,
    Report,
    ReportStatus,
    ReportTemplate,
    RosterShift,
)
from .workflow import Side

# Who orders exams: the doctors of the three levels.
REQUESTING_ROLES = frozenset({Role.VILLAGE_DOCTOR, Role.TOWNSHIP_DOCTOR, Role.COUNTY_SPECIALIST})
# Who reads at a centre (with an active CentreReader row): centre readers, and specialists who also read
# (a cardiologist at the ECG centre).
READING_ROLES = frozenset({Role.CENTRE_READER, Role.COUNTY_SPECIALIST})
ACCESSION_PREFIX = {CentreKind.ECG: "ECG", CentreKind.IMAGING: "IMG", CentreKind.LAB: "LAB",
                    CentreKind.PATHOLOGY: "PAT"}
ACCESSION_ATTEMPTS = 20
# Where a report's conclusion goes in the shared record (FHIR observation-category).
OBSERVATION_CATEGORY = {CentreKind.ECG: ObservationCategory.EXAM, CentreKind.IMAGING: ObservationCategory.IMAGING,
                        CentreKind.LAB: ObservationCategory.LABORATORY,
                        CentreKind.PATHOLOGY: ObservationCategory.LABORATORY}
MAX_FILES = 20
MAX_DICOM_FILES = 500
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_FINDINGS = 10_000
MAX_CONCLUSION = 2_000
MAX_QUESTION = 1_000
MAX_RESULTS = 200
MAX_QUANTITY = Decimal("99999999.9999")
CLOCK_SKEW = dt.timedelta(minutes=5)
ESCALATE_CHUNK = 200
CORRECTED = "检验结果更正 (results corrected by the laboratory)"
# Image formats accepted as pathology slides, by their first bytes.
SLIDE_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg", b"II*\x00": "image/tiff",
                    b"MM\x00*": "image/tiff"}


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    media_type: str
    content: bytes


class Stale(Conflict):
    """A transition that lost: the request moved on since the caller read it."""


class RecognisedResultExists(Conflict):
    """Ordering an exam the resident already has a recognised, valid result for (结果互认): show it and ask
    for a reason to repeat. Nothing was created."""

    def __init__(self, report: Report) -> None:
        request = report.request
        when = timezone.localtime(report.published_at).strftime("%Y-%m-%d") if report.published_at else ""
        until = timezone.localtime(report.recognised_until).strftime("%Y-%m-%d") if report.recognised_until else ""
        super().__init__(
            f"该居民已有互认有效的{request.exam_type.name}结果（{when}，{request.centre.name}，有效至{until}）："
            f"{report.conclusion[:100]}。可直接采用；如需重复检查请填写原因 (a recognised result of this exam, "
            f"valid until {until}, exists: use it, or give a reason to repeat the exam)",
            field="repeat_reason",
            detail={"report": str(report.uuid), "request": str(request.uuid), "published_at": str(report.published_at),
                    "recognised_until": str(report.recognised_until), "conclusion": report.conclusion},
        )
        self.report = report


# --- small checks ------------------------------------------------------------------------------------------

def _now(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return timezone.now()
    if timezone.is_naive(now):
        raise InvalidInput("时间须带时区 (the time needs a time zone)", field="now")
    return now


def _text(value: Any, field: str, limit: int, label: str, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"{label}应为文本 ({field} must be text)", field=field)
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"请填写{label} ({field} is required)", field=field)
    if len(value) > limit:
        raise InvalidInput(f"{label}过长，最多{limit}个字符 ({field}: at most {limit} characters)", field=field)
    if "\x00" in value:
        raise InvalidInput(f"{label}含空字符 ({field} contains a NUL character)", field=field)
    return value


def _reason(step: workflow.Transition, reason: str) -> str:
    reason = _text(reason, "reason", 200, "原因")
    if step.reason_required and not reason:
        raise InvalidInput(f"“{step.label}”须填写原因 (a reason is required)", field="reason")
    return reason


def _actor(user: Any, channel: str, community_id: int | None) -> audit.Actor:
    if isinstance(user, audit.Actor):
        return user
    if user is not None and hasattr(user, "get_username"):
        return audit.Actor.of(user, channel)
    return audit.Actor(username="system", community_id=community_id, channel=channel)


def _user_or_none(user: Any) -> Any:
    return user if user is not None and hasattr(user, "get_username") and getattr(user, "pk", None) else None


def _practitioner_of(who: Any) -> Practitioner | None:
    if who is None:
        return None
    if isinstance(who, Practitioner):
        return who
    return getattr(who, "practitioner", None)


def lead_or_branch_of(organization: Organization) -> Organization:
    """The organisation whose duty doctor answers for a requester: a village clinic's township (or community)
    centre; a branch, the lead hospital or any other member itself."""
    if organization.org_type == OrganizationType.VILLAGE_CLINIC and organization.parent_id:
        parent = organization.parent
        if parent.org_type in BRANCH_TYPES and parent.active:
            return parent
    return organization


def worklist_rank(priority: str, *, critical: bool = False, score: int = 0) -> int:
    """PRIORITY_RANK of the effective priority × 1000 + the pre-read score (0..999); a critical pre-read flag
    makes the effective priority STAT."""
    effective = Priority.STAT if critical else priority
    return PRIORITY_RANK[effective] * 1000 + max(0, min(999, int(score or 0)))


def effective_priority(rank: int) -> str:
    """The priority the worklist used for a rank (a routine ECG with a critical flag was read as STAT)."""
    return {2: Priority.STAT, 1: Priority.URGENT}.get(rank // 1000, Priority.ROUTINE)


# --- sides ---------------------------------------------------------------------------------------------------

def is_requester(user: Any, request: ExamRequest) -> bool:
    return (getattr(user, "role", None) in REQUESTING_ROLES and user.community_id == request.community_id
            and request.requesting_organization_id in covered_organization_ids(user))


def reader_row(user: Any, centre: Centre) -> CentreReader | None:
    """The user's active reader row at the centre (None: not a reader there)."""
    if (getattr(user, "role", None) not in READING_ROLES or not getattr(user, "practitioner_id", None)
            or user.community_id != centre.community_id or not centre.active):
        return None
    return CentreReader.objects.filter(centre=centre, practitioner_id=user.practitioner_id, active=True).first()


def on_duty(*, practitioner: Any, centre: Centre, at: dt.datetime) -> bool:
    """A roster shift at the centre covers `at` (start inclusive, end exclusive)."""
    practitioner_id = getattr(practitioner, "pk", practitioner)
    return RosterShift.objects.filter(centre=centre, practitioner_id=practitioner_id, starts_at__lte=at,
                                      ends_at__gt=at).exists()


def duty_doctor(organization: Organization, at: dt.datetime) -> Practitioner | None:
    """The organisation's duty doctor (值班医生: a shift without a centre) at `at`."""
    shift = (RosterShift.objects.filter(organization=organization, centre__isnull=True, starts_at__lte=at,
                                        ends_at__gt=at).select_related("practitioner").order_by("starts_at", "id")
             .first())
    return shift.practitioner if shift else None


def _check_side(user: Any, request: ExamRequest, step: workflow.Transition) -> CentreReader | None:
    if step.side == Side.SYSTEM:
        raise PermissionDenied(f"“{step.label}”由系统执行 (done by the system, not by hand)")
    if step.side == Side.REQUESTER:
        if not is_requester(user, request):
            raise PermissionDenied(f"只有申请机构的医生可以执行“{step.label}” (only the requesting clinic may "
                                   f"{step.action})")
        return None
    reader = reader_row(user, request.centre)
    if reader is None:
        raise PermissionDenied(f"只有{request.centre.name}的诊断医生可以执行“{step.label}” (only the centre's "
                               f"readers may {step.action})")
    return reader


# --- transitions ---------------------------------------------------------------------------------------------

def _lost(request: ExamRequest, step: workflow.Transition, expected_version: int | None) -> Conflict:
    current = ExamRequest.objects.filter(pk=request.pk).values("status", "version").first()
    if current is None:
        return Conflict("检查申请已不存在 (the exam request no longer exists)")
    detail = {"status": current["status"], "version": current["version"]}
    if expected_version is not None and current["version"] != expected_version:
        return Stale("检查申请已被他人处理，请刷新 (the exam request was changed by someone else; reload)",
                     detail=detail)
    label = ExamStatus(current["status"]).label
    return Conflict(f"检查申请当前状态为“{label}”，不能执行“{step.label}” (the request is {current['status']}; "
                    f"{step.action} is not possible)", detail=detail)


def _move(request: ExamRequest, step: workflow.Transition, *, expected_version: int, now: dt.datetime,
          changes: dict[str, Any] | None = None, condition: Q | None = None, sources: Any = None) -> str:
    """The conditional UPDATE of one transition; returns the status it moved from. Call inside a transaction."""
    sources = step.sources if sources is None else sources
    current = ExamRequest.objects.filter(pk=request.pk).values("status", "version").first()
    values: dict[str, Any] = {"status": step.target, "version": F("version") + 1, "updated_at": now,
                              **(changes or {})}
    qs = ExamRequest.objects.filter(pk=request.pk, version=expected_version, status__in=sources)
    if condition is not None:
        qs = qs.filter(condition)
    if current is None or not qs.update(**values):
        raise _lost(request, step, expected_version)
    return current["status"]


def _event(request: ExamRequest, action: str, from_status: str, to_status: str, *, now: dt.datetime, user: Any,
           practitioner: Any = None, reason: str = "") -> ExamEvent:
    return ExamEvent.objects.create(request=request, action=action, from_status=from_status, to_status=to_status,
                                    at=now, user=_user_or_none(user), reason=reason[:200],
                                    practitioner=practitioner or _practitioner_of(_user_or_none(user)))


def _refresh(request: ExamRequest) -> ExamRequest:
    request.refresh_from_db(fields=["status", "version", "rank", "acquired_at", "claimed_at", "reported_at",
                                    "acknowledged_at", "cancelled_at", "claimed_by", "status_reason", "updated_at"])
    return request


def _entry(action: str, request: ExamRequest, *, reason: str = "", detail: dict[str, Any] | None = None
           ) -> audit.Entry:
    return audit.Entry(action, "ExamRequest", str(request.uuid), resident_id=str(request.resident.uuid),
                       reason=reason, detail={"accession": request.accession_number, **(detail or {})})


# --- requests and recognition ------------------------------------------------------------------------------

def centre_for(*, exam_type: ExamType, organization: Organization) -> Centre:
    """The centre that serves this exam for a requesting organisation: the active centre of the exam's kind
    in the community (the lead hospital's first; a branch's own centre of that kind if it has one for lab).
    NotFound (404) when the community has none."""
    centres = Centre.objects.filter(community_id=organization.community_id, kind=exam_type.centre_kind, active=True)
    if exam_type.centre_kind == CentreKind.LAB:
        own = {organization.pk, lead_or_branch_of(organization).pk}
        local = centres.filter(organization_id__in=sorted(own)).order_by("id").first()
        if local is not None:
            return local
    centre = (centres.annotate(lead_first=Case(When(organization__org_type=OrganizationType.LEAD_HOSPITAL,
                                                    then=Value(0)), default=Value(1), output_field=IntegerField()))
              .order_by("lead_first", "id").first())
    if centre is None:
        raise NotFound(f"本医共体没有可做{exam_type.name}的诊断中心 (no centre in the community does this exam)",
                       field="exam_type")
    return centre


def accession_number(kind: str, day: dt.date, sequence: int) -> str:
    """"ECG-260302-0001": the centre kind, the local day of the request (YYMMDD) and the day's sequence (at
    least four digits). 15 characters up to 9,999 a day and 16 up to 99,999: a DICOM AccessionNumber (VR SH)
    holds at most 16."""
    return f"{ACCESSION_PREFIX[kind]}-{day:%y%m%d}-{sequence:04d}"


def _next_sequence(prefix: str) -> int:
    """One more than the day's highest sequence (longest, then highest: 10000 follows 9999)."""
    last = (ExamRequest.objects.filter(accession_number__startswith=prefix,
                                       accession_number__regex=rf"^{re.escape(prefix)}[0-9]+$")
            .annotate(length=Length("accession_number")).order_by("-length", "-accession_number")
            .values_list("accession_number", flat=True).first())
    return 1 if last is None else int(last[len(prefix):]) + 1


def _create_request(fields: dict[str, Any], *, kind: str, now: dt.datetime) -> ExamRequest:
    """Insert with the next accession number of the kind and day. Two requests at once may read the same
    last number; the unique index refuses the second, which reads again and takes the next (in a savepoint,
    so the surrounding transaction goes on)."""
    day = timezone.localtime(now).date()
    prefix = accession_number(kind, day, 0)[:-4]
    tried = 0
    for _ in range(ACCESSION_ATTEMPTS):
        tried = max(_next_sequence(prefix), tried + 1)
        number = f"{prefix}{tried:04d}"
        try:
            with transaction.atomic():
                return ExamRequest.objects.create(accession_number=number, **fields)
        except IntegrityError:
            if not ExamRequest.objects.filter(accession_number=number).exists():
                raise
    raise Conflict("检查号生成冲突，请重试 (could not allocate an accession number; try again)")


def _check_exam_type(exam_type: Any, community_id: int) -> ExamType:
    if (not isinstance(exam_type, ExamType) or not exam_type.active
            or exam_type.community_id not in (None, community_id)):
        raise InvalidInput("检查项目不存在或已停用 (unknown or inactive exam type)", field="exam_type")
    return exam_type


def _check_resident(user: Any, resident: Resident) -> None:
    registry_queries.require_patient_access(user)
    if (not isinstance(resident, Resident) or resident.community_id != user.community_id or resident.is_merged
            or not registry_queries.visible_residents(user).filter(pk=resident.pk).exists()):
        raise NotFound("未找到该居民，或不在您的管辖范围内 (resident not found or outside your scope)",
                       field="resident")


def _requesting_organization(user: Any) -> Organization:
    if getattr(user, "role", None) not in REQUESTING_ROLES:
        raise PermissionDenied("只有医生可以开具检查申请 (only doctors order exams)")
    organization = user.organization
    if organization is None or organization.pk not in covered_organization_ids(user):
        raise PermissionDenied("您的账号未关联执业机构 (your account has no organisation you work at)")
    return organization


def request_exam(*, user: Any, resident: Resident, exam_type: ExamType, clinical_question: str,
                 priority: str = "routine", encounter: Any = None, centre: Centre | None = None,
                 repeat_reason: str = "", channel: str = "web", now: dt.datetime | None = None,
                 within: Callable[[ExamRequest], None] | None = None) -> ExamRequest:
    """Create a request (status requested, a new accession number). If the resident has a recognised, valid
    result of this exam type (queries.recognised_result) and `repeat_reason` is blank, raise
    `RecognisedResultExists` (409, carrying `.report`) and create nothing; with a reason, record a
    RecognitionCheck(decision=repeated) and link `recognised_report`. Scope: the resident must be in the
    user's scope (404 otherwise); the user must be a clinician (403)."""
    organization = _requesting_organization(user)
    _check_resident(user, resident)
    community_id = user.community_id
    exam_type = _check_exam_type(exam_type, community_id)
    if priority not in Priority.values:
        raise InvalidInput(f"未知的优先级 {priority} (priority must be routine, urgent or stat)", field="priority")
    question = _text(clinical_question, "clinical_question", MAX_QUESTION, "临床问题", required=True)
    repeat_reason = _text(repeat_reason, "repeat_reason", 200, "重复检查原因")
    if encounter is not None and (not isinstance(encounter, Encounter) or encounter.resident_id != resident.pk):
        raise InvalidInput("就诊记录不属于该居民 (the encounter is another resident's)", field="encounter")
    if centre is None:
        centre = centre_for(exam_type=exam_type, organization=organization)
    elif (not isinstance(centre, Centre) or centre.community_id != community_id or not centre.active
          or centre.kind != exam_type.centre_kind):
        raise InvalidInput("该中心不能做此项检查 (this centre does not do this exam)", field="centre")
    now = _now(now)
    recognised = queries.recognised_result(resident=resident, exam_type=exam_type, at=now)
    if recognised is not None and not repeat_reason:
        # The refusal shows the result: that showing is audited and outlives the refusal.
        audit.record(audit.Actor.of(user, channel), "read", "DiagnosticReport", recognised.uuid,
                     resident_id=resident.uuid, reason="结果互认 recognised result shown at ordering",
                     detail={"exam_type": exam_type.code})
        raise RecognisedResultExists(recognised)
    with transaction.atomic():
        request = _create_request({
            "community_id": community_id, "resident": resident, "encounter": encounter, "exam_type": exam_type,
            "centre": centre, "requesting_organization": organization, "requesting_practitioner": user.practitioner,
            "clinical_question": question, "priority": priority, "rank": worklist_rank(priority),
            "requested_at": now, "created_by": user, "recognised_report": recognised,
            "repeat_reason": repeat_reason if recognised is not None else "",
        }, kind=centre.kind, now=now)
        _event(request, "create", "", ExamStatus.REQUESTED, now=now, user=user)
        entries = [_entry("create", request, detail={"exam_type": exam_type.code, "centre": centre.pk,
                                                     "priority": priority})]
        if recognised is not None:
            check = RecognitionCheck.objects.create(
                community_id=community_id, resident=resident, exam_type=exam_type, report=recognised,
                organization=organization, practitioner=user.practitioner, decision=RecognitionDecision.REPEATED,
                reason=repeat_reason, request=request, at=now)
            entries.append(audit.Entry("repeat-exam", "RecognitionCheck", str(check.pk), str(resident.uuid),
                                       reason=repeat_reason, detail={"report": str(recognised.uuid)}))
        if within is not None:
            within(request)
        audit.record_many(audit.Actor.of(user, channel), entries)
    return request


def use_recognised_result(*, user: Any, resident: Resident, exam_type: ExamType, report: Report,
                          channel: str = "web", now: dt.datetime | None = None) -> RecognitionCheck:
    """The clinician accepts the recognised result instead of ordering: RecognitionCheck(decision=avoided)."""
    organization = _requesting_organization(user)
    _check_resident(user, resident)
    exam_type = _check_exam_type(exam_type, user.community_id)
    now = _now(now)
    valid = queries.recognised_result(resident=resident, exam_type=exam_type, at=now)
    if valid is None or not isinstance(report, Report) or valid.pk != report.pk:
        raise Conflict("该结果已不在互认有效期内或已被修订，请刷新 (the result is no longer recognised or was "
                       "revised; reload)", field="report")
    with transaction.atomic():
        check = RecognitionCheck.objects.create(
            community_id=user.community_id, resident=resident, exam_type=exam_type, report=report,
            organization=organization, practitioner=user.practitioner, decision=RecognitionDecision.AVOIDED,
            at=now)
        audit.record(audit.Actor.of(user, channel), "use-recognised", "RecognitionCheck", check.pk,
                     resident_id=resident.uuid, detail={"report": str(report.uuid), "exam_type": exam_type.code})
    return check


def cancel_request(*, user: Any, request: ExamRequest, reason: str, expected_version: int,
                   channel: str = "web", now: dt.datetime | None = None) -> ExamRequest:
    step = workflow.BY_ACTION["cancel"]
    _check_side(user, request, step)
    reason = _reason(step, reason)
    now = _now(now)
    with transaction.atomic():
        from_status = _move(request, step, expected_version=expected_version, now=now,
                            changes={"cancelled_at": now, "status_reason": reason})
        _event(request, "cancel", from_status, step.target, now=now, user=user, reason=reason)
        audit.record_many(audit.Actor.of(user, channel), [_entry("cancel", request, reason=reason,
                                                                  detail={"from": from_status})])
    return _refresh(request)


# --- acquisitions ------------------------------------------------------------------------------------------

def _check_files(files: Sequence[UploadedFile], *, limit: int = MAX_FILES, required: bool = True) -> None:
    files = list(files or ())
    if required and not files:
        raise InvalidInput("请上传文件 (no file was uploaded)", field="files")
    if len(files) > limit:
        raise InvalidInput(f"文件最多{limit}个 (at most {limit} files)", field="files")
    for f in files:
        if not isinstance(f, UploadedFile) or not isinstance(f.content, bytes | bytearray):
            raise InvalidInput("文件无效 (not an uploaded file)", field="files")
        if not f.content:
            raise InvalidInput(f"文件 {f.filename} 为空 (the file is empty)", field="files")
        if len(f.content) > MAX_FILE_BYTES:
            raise InvalidInput(f"文件 {f.filename} 过大，最大{MAX_FILE_BYTES // 1024 // 1024} MB (file too large)",
                               field="files")
        if len(f.filename or "") > 120 or "\x00" in (f.filename or ""):
            raise InvalidInput("文件名过长或无效 (file name too long or invalid)", field="files")


def _store_blobs(files: Sequence[UploadedFile]) -> list[str]:
    digests = [hashlib.sha256(bytes(f.content)).hexdigest() for f in files]
    Blob.objects.bulk_create([Blob(sha256=d, content=bytes(f.content), size=len(f.content))
                              for d, f in zip(digests, files, strict=True)], ignore_conflicts=True)
    return digests


def _precheck_acquire(user: Any, request: ExamRequest, expected_version: int, kinds: tuple[str, ...]
                      ) -> workflow.Transition:
    """Side, kind and status before any file is parsed or sent anywhere (the UPDATE decides in the end)."""
    step = workflow.BY_ACTION["acquire"]
    _check_side(user, request, step)
    if request.centre.kind not in kinds:
        raise InvalidInput(f"该检查属于{request.centre.get_kind_display()}，不能上传此类采集 (this acquisition does "
                           f"not fit a {request.centre.kind} exam)", field="files")
    if request.version != expected_version or request.status not in step.sources:
        raise _lost(request, step, expected_version)
    return step


def _acquire(user: Any, request: ExamRequest, step: workflow.Transition, *, expected_version: int,
             now: dt.datetime, channel: str, acquisition: dict[str, Any],
             files: Sequence[tuple[UploadedFile, str, str]] = (), rank: int | None = None,
             pre_read: Any = None, detail: dict[str, Any] | None = None) -> Acquisition:
    """Store the acquisition and move the request to acquired, in one transaction. `files`: (file, role, media
    type) triples; `pre_read`: an ecg.PreRead."""
    with transaction.atomic():
        changes: dict[str, Any] = {"acquired_at": now, "status_reason": ""}
        if rank is not None:
            changes["rank"] = rank
        from_status = _move(request, step, expected_version=expected_version, now=now, changes=changes)
        Acquisition.objects.filter(request=request, current=True).update(current=False)
        row = Acquisition.objects.create(request=request, current=True, acquired_at=now,
                                         acquired_by=_practitioner_of(user), **acquisition)
        if files:
            digests = _store_blobs([f for f, _, _ in files])
            Attachment.objects.bulk_create([
                Attachment(acquisition=row, blob_id=digest, filename=f.filename[:120], media_type=media_type[:80],
                           role=role) for digest, (f, role, media_type) in zip(digests, files, strict=True)])
        if pre_read is not None:
            _store_pre_read(request, row, pre_read, now)
        _event(request, "acquire", from_status, step.target, now=now, user=user)
        audit.record_many(audit.Actor.of(user, channel), [_entry("acquire", request, detail={
            "acquisition": str(row.uuid), "kind": row.kind, "from": from_status, **(detail or {})})])
    _refresh(request)
    return row


def _dec(value: Any, places: str, limit: Decimal) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(str(value)).quantize(Decimal(places))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and abs(number) < limit else None


def _whole(value: Any) -> int | None:
    try:
        number = round(float(value))
    except (TypeError, ValueError, OverflowError):
        return None
    return number if 0 <= number < 100_000 else None


def _store_pre_read(request: ExamRequest, acquisition: Acquisition, pre: Any, now: dt.datetime) -> None:
    values = {
        "acquisition": acquisition, "heart_rate": _dec(pre.heart_rate, "0.1", Decimal("100000")),
        "rr_cv": _dec(pre.rr_cv, "0.001", Decimal("1000")), "pr_ms": _whole(pre.pr_ms), "qrs_ms": _whole(pre.qrs_ms),
        "qt_ms": _whole(pre.qt_ms), "qtc_ms": _whole(pre.qtc_ms),
        "signal_quality": _dec(pre.signal_quality, "0.001", Decimal("10")), "flags": list(pre.flags or []),
        "critical": bool(pre.critical), "score": max(0, min(999, int(pre.score or 0))),
        "algorithm": str(pre.algorithm or "")[:40], "computed_at": now,
        "elapsed_ms": max(0, int(pre.elapsed_ms or 0)),
    }
    EcgPreRead.objects.update_or_create(request=request, defaults=values)


def _ecg_role(f: UploadedFile, kind: str) -> tuple[str, str]:
    name = (f.filename or "").lower()
    if kind == AcquisitionKind.ECG_CSV:
        return "csv", f.media_type or "text/csv"
    if name.endswith(".hea"):
        return "wfdb-header", f.media_type or "text/plain"
    if name.endswith(".dat"):
        return "wfdb-data", f.media_type or "application/octet-stream"
    return "other", f.media_type or "application/octet-stream"


def attach_ecg(*, user: Any, request: ExamRequest, files: Sequence[UploadedFile], expected_version: int,
               channel: str = "web", now: dt.datetime | None = None) -> Acquisition:
    """Attach a 12-lead ECG: either a WFDB pair (.hea + .dat) or one CSV of leads (ecg.read_upload decides).
    Parses it (422 on a bad file, nothing stored), stores the files as Blobs, computes the pre-read
    (ecg.analyse), sets the request's rank (a critical flag raises the effective priority to stat) and moves
    the request to acquired."""
    from . import ecg

    step = _precheck_acquire(user, request, expected_version, (CentreKind.ECG,))
    _check_files(files, limit=3)
    now = _now(now)
    recording, kind = ecg.read_upload(list(files))
    pre = ecg.analyse(recording)
    samples = int(recording.signals.shape[0])
    acquisition = {"kind": kind, "sample_rate": int(recording.sample_rate), "lead_names": list(recording.lead_names),
                   "duration_seconds": _dec(samples / recording.sample_rate, "0.01", Decimal("1000000"))}
    rank = worklist_rank(request.priority, critical=bool(pre.critical), score=int(pre.score or 0))
    return _acquire(user, request, step, expected_version=expected_version, now=now, channel=channel,
                    acquisition=acquisition, files=[(f, *_ecg_role(f, kind)) for f in files], rank=rank,
                    pre_read=pre, detail={"flags": list(pre.flags or []), "critical": bool(pre.critical),
                                          "rank": rank})


def _check_patient(datasets: list[Any], request: ExamRequest) -> None:
    """Each instance is this request's: its AccessionNumber, when set, is the request's; its PatientID, when set,
    is the resident's platform id (uuid) or national ID; and at least one of the two ties it to the request.
    The patient's name alone is not enough (namesakes are common)."""
    resident = request.resident
    known_ids = {str(resident.uuid), resident.national_id or ""} - {""}
    for d in datasets:
        accession = str(d.get("AccessionNumber", "") or "").strip()
        patient_id = str(d.get("PatientID", "") or "").strip()
        if accession and accession != request.accession_number:
            raise InvalidInput(f"影像的检查号 {accession} 与申请 {request.accession_number} 不符 (the study's "
                               f"accession number is another request's)", field="files")
        if patient_id and patient_id not in known_ids:
            raise InvalidInput(f"影像的患者编号（{patient_id}）与申请的居民不符 (the image's PatientID is not this "
                               f"request's patient)", field="files")
        if not accession and not patient_id:
            raise InvalidInput("影像既无检查号也无患者编号，无法核对患者 (the image has neither an accession "
                               "number nor a PatientID to check the patient by)", field="files")


def attach_dicom(*, user: Any, request: ExamRequest, files: Sequence[UploadedFile], expected_version: int,
                 channel: str = "web", now: dt.datetime | None = None) -> Acquisition:
    """Send DICOM instances to Orthanc (imaging.OrthancClient), keep study and series references, move the
    request to acquired. 422 if a file is not DICOM or the patient/modality does not fit; 503 if Orthanc is
    unreachable; nothing is stored in either case (instances sent before a failure are deleted again)."""
    from . import imaging

    step = _precheck_acquire(user, request, expected_version, (CentreKind.IMAGING,))
    _check_files(files, limit=MAX_DICOM_FILES)
    now = _now(now)
    contents = [bytes(f.content) for f in files]
    datasets = imaging.check_upload(contents, modality=request.exam_type.modality)
    _check_patient(datasets, request)
    client = imaging.OrthancClient()
    uploaded = client.upload_all(contents)
    references = client.references(uploaded[0]["ParentStudy"])
    acquisition = {"kind": AcquisitionKind.DICOM, "orthanc_study_id": references["orthanc_study_id"][:64],
                   "study_instance_uid": references["study_instance_uid"][:64], "series": references["series"]}
    return _acquire(user, request, step, expected_version=expected_version, now=now, channel=channel,
                    acquisition=acquisition, detail={"study": references["study_instance_uid"],
                                                     "instances": len(files)})


def _slide_type(f: UploadedFile) -> str:
    for signature, media_type in SLIDE_SIGNATURES.items():
        if bytes(f.content[:len(signature)]) == signature:
            return media_type
    raise InvalidInput(f"切片图像 {f.filename} 须为 PNG、JPEG 或 TIFF (a slide image must be PNG, JPEG or TIFF)",
                       field="slides")


def attach_specimen(*, user: Any, request: ExamRequest, specimen_type: str, specimen_id: str = "",
                    collected_at: dt.datetime | None = None, site: str = "", note: str = "",
                    slides: Sequence[UploadedFile] = (), expected_version: int, channel: str = "web",
                    now: dt.datetime | None = None) -> Acquisition:
    """Lab sample or pathology specimen (with slide images as attachments). Moves the request to acquired."""
    step = _precheck_acquire(user, request, expected_version, (CentreKind.LAB, CentreKind.PATHOLOGY))
    now = _now(now)
    pathology = request.centre.kind == CentreKind.PATHOLOGY
    values = {
        "specimen_type": _text(specimen_type, "specimen_type", 60, "标本类型", required=True),
        "specimen_id": _text(specimen_id, "specimen_id", 40, "标本号"),
        "site": _text(site, "site", 100, "取材部位"),
        "note": _text(note, "note", 2000, "备注"),
    }
    if collected_at is not None:
        if not isinstance(collected_at, dt.datetime) or timezone.is_naive(collected_at):
            raise InvalidInput("采集时间须为带时区的日期时间 (collected_at needs a date, time and time zone)",
                               field="collected_at")
        if collected_at > now + CLOCK_SKEW or collected_at < now - dt.timedelta(days=365):
            raise InvalidInput("采集时间不合理 (collected_at is in the future or more than a year ago)",
                               field="collected_at")
    slides = list(slides or ())
    if slides and not pathology:
        raise InvalidInput("只有病理标本可附切片图像 (only a pathology specimen carries slide images)", field="slides")
    _check_files(slides, required=False)
    files = [(f, "slide", _slide_type(f)) for f in slides]
    kind = AcquisitionKind.PATHOLOGY if pathology else AcquisitionKind.LAB
    return _acquire(user, request, step, expected_version=expected_version, now=now, channel=channel,
                    acquisition={"kind": kind, "collected_at": collected_at, **values}, files=files,
                    detail={"specimen_type": values["specimen_type"], "slides": len(files)})


def return_acquisition(*, user: Any, request: ExamRequest, reason: str, expected_version: int,
                       channel: str = "web", now: dt.datetime | None = None) -> ExamRequest:
    """Quality control sends the acquisition back with a reason (centre side). The acquisition stays,
    marked returned and not current; the requester acquires again."""
    step = workflow.BY_ACTION["return"]
    _check_side(user, request, step)
    reason = _reason(step, reason)
    now = _now(now)
    with transaction.atomic():
        from_status = _move(request, step, expected_version=expected_version, now=now,
                            changes={"status_reason": reason})
        Acquisition.objects.filter(request=request, current=True).update(current=False, returned_at=now,
                                                                         return_reason=reason)
        _event(request, "return", from_status, step.target, now=now, user=user, reason=reason)
        audit.record_many(audit.Actor.of(user, channel), [_entry("return", request, reason=reason)])
    return _refresh(request)


# --- reading -----------------------------------------------------------------------------------------------

def _preliminary(request_id: int) -> Report | None:
    return Report.objects.filter(request_id=request_id, current=True, status=ReportStatus.PRELIMINARY).first()


def _check_reader_on_duty(user: Any, centre: Centre, now: dt.datetime) -> CentreReader:
    reader = reader_row(user, centre)
    if reader is None:
        raise PermissionDenied(f"您不是{centre.name}的诊断医生 (you are not a reader of this centre)")
    if not on_duty(practitioner=user.practitioner_id, centre=centre, at=now):
        raise PermissionDenied(f"您当前不在{centre.name}的排班时间内，不能认领 (you are not on duty at this centre "
                               f"now)")
    return reader


def _claim_condition(reader: CentreReader) -> tuple[frozenset[str], Q]:
    """Which statuses this reader may claim from, and the condition that keeps a preliminary report's author
    from claiming its second reading (part of the UPDATE, so it holds against a concurrent preliminary)."""
    if not reader.senior:
        return frozenset({ExamStatus.ACQUIRED}), Q()
    own_preliminary = Report.objects.filter(current=True, status=ReportStatus.PRELIMINARY,
                                            author_id=reader.practitioner_id).values("request_id")
    return workflow.BY_ACTION["claim"].sources, ~Q(status=ExamStatus.SECOND_READING, pk__in=own_preliminary)


def _claim(user: Any, request: ExamRequest, reader: CentreReader, *, expected_version: int, now: dt.datetime,
           channel: str) -> str:
    step = workflow.BY_ACTION["claim"]
    sources, condition = _claim_condition(reader)
    from_status = _move(request, step, expected_version=expected_version, now=now, sources=sources,
                        condition=condition, changes={"claimed_by_id": reader.practitioner_id, "claimed_at": now})
    _event(request, "claim", from_status, step.target, now=now, user=user)
    audit.record_many(audit.Actor.of(user, channel), [_entry("claim", request, detail={"from": from_status})])
    return from_status


def claim(*, user: Any, request: ExamRequest, expected_version: int | None = None, channel: str = "web",
          now: dt.datetime | None = None) -> ExamRequest:
    """A reader on duty at the request's centre claims it (acquired or second_reading; a second reading
    cannot be claimed by the preliminary report's author). Conditional UPDATE: of two readers claiming at
    once exactly one wins, the other gets 409. 403 for someone not a reader or not on duty."""
    now = _now(now)
    reader = _check_reader_on_duty(user, request.centre, now)
    current = ExamRequest.objects.filter(pk=request.pk).values("status", "version").first()
    if current is None:
        raise NotFound("未找到该检查申请 (exam request not found)")
    if expected_version is not None and current["version"] != expected_version:
        raise _lost(request, workflow.BY_ACTION["claim"], expected_version)
    if current["status"] == ExamStatus.SECOND_READING:
        preliminary = _preliminary(request.pk)
        if preliminary is not None and preliminary.author_id == reader.practitioner_id:
            raise PermissionDenied("初步报告的书写者不能审核自己的报告 (the author of the preliminary report cannot "
                                   "give its second reading)")
        if not reader.senior:
            raise PermissionDenied("只有上级（审核）医生可以做第二次阅片 (only a senior reader gives second readings)")
    with transaction.atomic():
        _claim(user, request, reader, expected_version=current["version"], now=now, channel=channel)
    return _refresh(request)


def claim_next(*, user: Any, centre: Centre, channel: str = "web", now: dt.datetime | None = None
               ) -> ExamRequest | None:
    """Claim the top of the worklist (queries.worklist order), skipping items claimed concurrently: rows
    another transaction holds are skipped (PostgreSQL SKIP LOCKED), and an item that moved on between the
    read and the UPDATE is passed over for the next."""
    now = _now(now)
    reader = _check_reader_on_duty(user, centre, now)
    sources, condition = _claim_condition(reader)
    passed: list[int] = []
    while True:
        with transaction.atomic():
            candidates = (ExamRequest.objects.filter(condition, centre=centre, status__in=sources)
                          .exclude(pk__in=passed).order_by("-rank", "acquired_at", "id"))
            row = (candidates.select_for_update(skip_locked=True, of=("self",))
                   .values("pk", "version").first())
            if row is None:
                return None
            request = ExamRequest.objects.select_related("resident", "centre").get(pk=row["pk"])
            try:
                with transaction.atomic():
                    _claim(user, request, reader, expected_version=row["version"], now=now, channel=channel)
            except Conflict:
                passed.append(row["pk"])
                continue
        return _refresh(request)


def release(*, user: Any, request: ExamRequest, expected_version: int, channel: str = "web",
            now: dt.datetime | None = None) -> ExamRequest:
    """Give a claimed item back: to second_reading when a preliminary report waits for its second reader, else
    to acquired. The claimer may, and a senior reader of the centre (to free an item left claimed)."""
    step = workflow.BY_ACTION["release"]
    reader = _check_side(user, request, step)
    assert reader is not None
    if request.claimed_by_id != reader.practitioner_id and not reader.senior:
        raise PermissionDenied("只有认领者或上级医生可以放回 (only the claiming reader or a senior reader may release)")
    now = _now(now)
    preliminary = _preliminary(request.pk)
    target = ExamStatus.SECOND_READING if preliminary is not None else ExamStatus.ACQUIRED
    with transaction.atomic():
        from_status = _move(request, workflow.Transition(step.action, step.sources, target, step.side,
                                                         step.reason_required, step.label),
                            expected_version=expected_version, now=now, changes={"claimed_by": None})
        _event(request, "release", from_status, target, now=now, user=user)
        audit.record_many(audit.Actor.of(user, channel), [_entry("release", request, detail={"to": target})])
    return _refresh(request)


def _check_template(code: str, request: ExamRequest) -> str:
    code = _text(code, "template_code", 40, "模板编码")
    if code and not ReportTemplate.objects.filter(
            Q(community__isnull=True) | Q(community_id=request.community_id), code=code, active=True,
            centre_kind=request.centre.kind).exists():
        raise InvalidInput(f"未知的报告模板 {code} (unknown report template)", field="template_code")
    return code


def _critical_rule(code: str, request: ExamRequest) -> CriticalRule | None:
    if not code:
        return None
    rule = rules_for(request.community_id, [code], kind=request.centre.kind).get(code)
    if rule is None:
        raise InvalidInput(f"未知的危急值项目 {code} (unknown critical-value rule)", field="critical_code")
    return rule


def _recognised_until(request: ExamRequest, first_published: dt.datetime) -> dt.datetime | None:
    if not request.centre.quality_controlled:
        return None
    return first_published + dt.timedelta(days=request.exam_type.recognition_days)


def _next_version(request: ExamRequest) -> int:
    last = Report.objects.filter(request=request).order_by("-version").values_list("version", flat=True).first()
    return (last or 0) + 1


def _supersede(request: ExamRequest) -> Report | None:
    previous = Report.objects.filter(request=request, current=True).first()
    if previous is not None:
        Report.objects.filter(pk=previous.pk).update(current=False, status=ReportStatus.SUPERSEDED)
    return previous


def _conclusion_observation(request: ExamRequest, report: Report, *, amended: bool) -> Observation:
    """The report's conclusion in the shared record (one Observation per request, amended on revision)."""
    category = OBSERVATION_CATEGORY[request.centre.kind]
    code = (request.exam_type.loinc or request.exam_type.code)[:20]
    existing = request.observations.filter(category=category, code=code).first()
    values = {"value_text": report.conclusion[:200], "interpretation": "A" if report.critical else "",
              "practitioner": report.verifier or report.author}
    if existing is not None:
        for name, value in values.items():
            setattr(existing, name, value)
        existing.status = ObservationStatus.AMENDED if amended else ObservationStatus.FINAL
        existing.save(update_fields=[*values, "status"])
        return existing
    observation = Observation.objects.create(
        community_id=request.community_id, resident_id=request.resident_id, encounter=request.encounter,
        category=category, code=code, display=request.exam_type.name[:100], effective_at=request.acquired_at
        or report.published_at, organization_id=request.centre.organization_id,
        status=ObservationStatus.AMENDED if amended else ObservationStatus.FINAL, **values)
    request.observations.add(observation)
    return observation


def _report_text(request: ExamRequest, findings: str, conclusion: str, critical: bool, critical_code: str,
                 critical_finding: str) -> tuple[str, str, CriticalRule | None, bool, str]:
    """A report's findings and conclusion (required), and its critical value: a rule named, or the critical box
    ticked; the finding defaults to the rule's name, else the conclusion."""
    findings = _text(findings, "findings", MAX_FINDINGS, "检查所见", required=True)
    conclusion = _text(conclusion, "conclusion", MAX_CONCLUSION, "诊断意见", required=True)
    rule = _critical_rule(_text(critical_code, "critical_code", 30, "危急值项目"), request)
    critical = bool(critical) or rule is not None
    finding = _text(critical_finding, "critical_finding", 200, "危急值内容")
    if critical and not finding:
        finding = rule.name if rule is not None else conclusion[:200]
    return findings, conclusion, rule, critical, finding


def write_report(*, user: Any, request: ExamRequest, findings: str, conclusion: str, expected_version: int,
                 template_code: str = "", critical: bool = False, critical_finding: str = "",
                 second_reading: bool = False, channel: str = "web", now: dt.datetime | None = None,
                 critical_code: str = "") -> Report:
    """The claiming reader reports. `second_reading=True`: a preliminary report, request → second_reading.
    Otherwise publish: final (or, when the claimer is the second reader, the final report with `verifier`
    set), request → published, reported_at stamped, recognised_until set when the centre is
    quality-controlled; the conclusion reaches the shared record (an Observation of category exam/imaging
    with the report text, linked in request.observations). `critical=True` raises a critical alert
    (raise_critical) with `critical_finding` (or the rule named by `critical_code`, e.g. "ecg:af_rvr")."""
    step = workflow.BY_ACTION["second_reading" if second_reading else "publish"]
    reader = _check_side(user, request, step)
    assert reader is not None
    if request.status == ExamStatus.CLAIMED and request.claimed_by_id != reader.practitioner_id:
        raise PermissionDenied("该检查由其他医生认领，您不能书写报告 (another reader claimed this exam)")
    template_code = _check_template(template_code, request)
    findings, conclusion, rule, critical, finding = _report_text(request, findings, conclusion, critical,
                                                                  critical_code, critical_finding)
    now = _now(now)
    with transaction.atomic():
        changes: dict[str, Any] = {}
        if not second_reading:
            changes["reported_at"] = Coalesce(F("reported_at"), Value(now))
        from_status = _move(request, step, expected_version=expected_version, now=now, changes=changes,
                            condition=Q(claimed_by_id=reader.practitioner_id))
        version = _next_version(request)
        previous = _supersede(request)
        fields: dict[str, Any] = {"request": request, "version": version, "current": True, "findings": findings,
                                  "conclusion": conclusion, "template_code": template_code, "critical": critical,
                                  "written_at": now}
        if second_reading:
            report = Report.objects.create(status=ReportStatus.PRELIMINARY, author_id=reader.practitioner_id,
                                           **fields)
        else:
            _refresh(request)
            second = (previous is not None and previous.status == ReportStatus.PRELIMINARY
                      and previous.author_id not in (None, reader.practitioner_id))
            report = Report.objects.create(
                status=ReportStatus.FINAL, author_id=previous.author_id if second else reader.practitioner_id,
                verifier_id=reader.practitioner_id if second else None, published_at=now,
                recognised_until=_recognised_until(request, request.reported_at or now), **fields)
            _conclusion_observation(request, report, amended=False)
        _event(request, step.action, from_status, step.target, now=now, user=user)
        entries = [audit.Entry("create", "DiagnosticReport", str(report.uuid), str(request.resident.uuid),
                               detail={"request": str(request.uuid), "version": version, "status": report.status,
                                       "critical": critical})]
        if critical:
            raise_critical(request=request, finding=finding, rule=rule, raised_by=reader.practitioner,
                           channel=channel, now=now, user=user)
        audit.record_many(audit.Actor.of(user, channel), [_entry(step.action, request), *entries])
    _refresh(request)
    return report


def revise_report(*, user: Any, request: ExamRequest, findings: str, conclusion: str, reason: str,
                  expected_version: int, critical: bool = False, critical_finding: str = "",
                  channel: str = "web", now: dt.datetime | None = None, critical_code: str = "") -> Report:
    """A new version (status amended); the previous one becomes superseded and not current; every version is
    kept. Reason required (422). Any reader of the centre may revise. The recognition window still counts
    from the first publication (the exam is no newer), and the record's Observation is amended."""
    step = workflow.BY_ACTION["revise"]
    reader = _check_side(user, request, step)
    assert reader is not None
    reason = _reason(step, reason)
    findings, conclusion, rule, critical, finding = _report_text(request, findings, conclusion, critical,
                                                                  critical_code, critical_finding)
    now = _now(now)
    with transaction.atomic():
        from_status = _move(request, step, expected_version=expected_version, now=now)
        _refresh(request)
        version = _next_version(request)
        previous = _supersede(request)
        report = Report.objects.create(
            request=request, version=version, status=ReportStatus.AMENDED, current=True, findings=findings,
            conclusion=conclusion, template_code=previous.template_code if previous else "", critical=critical,
            author_id=reader.practitioner_id, revision_reason=reason, written_at=now, published_at=now,
            recognised_until=_recognised_until(request, request.reported_at or now))
        if request.centre.kind != CentreKind.LAB:
            _conclusion_observation(request, report, amended=True)
        _event(request, "revise", from_status, step.target, now=now, user=user, reason=reason)
        if critical:
            raise_critical(request=request, finding=finding, rule=rule, raised_by=reader.practitioner,
                           channel=channel, now=now, user=user)
        audit.record_many(audit.Actor.of(user, channel), [
            _entry("revise", request, reason=reason, detail={"version": version}),
            audit.Entry("create", "DiagnosticReport", str(report.uuid), str(request.resident.uuid), reason=reason,
                        detail={"request": str(request.uuid), "version": version, "status": report.status,
                                "supersedes": str(previous.uuid) if previous else None}),
        ])
    return report


# --- laboratory results ------------------------------------------------------------------------------------

def rules_for(community_id: int, codes: Sequence[str], *, kind: str | None = None) -> dict[str, CriticalRule]:
    """The active critical-value rule of each code: the community's own row, else the shipped default."""
    rows = CriticalRule.objects.filter(Q(community__isnull=True) | Q(community_id=community_id),
                                       code__in=list(codes))
    if kind is not None:
        rows = rows.filter(centre_kind=kind)
    found: dict[str, CriticalRule] = {}
    overridden = set()
    for rule in sorted(rows, key=lambda r: r.community_id is None):  # the community's rows first
        if rule.code in found or rule.code in overridden:
            continue
        if not rule.active:
            overridden.add(rule.code)  # a community may switch a default off with an inactive row of its own
            continue
        found[rule.code] = rule
    return found


def _unit(unit: str) -> str:
    text = (unit or "").replace(" ", "").replace("×", "x").replace("μ", "u").replace("µ", "u").lower()
    for power in ("x10^9", "x10e9", "10^9", "10e9", "10*9"):
        if text.startswith(power):
            return "10*9" + text[len(power):]
    return text


# Unit spellings that are the same quantity (factor 1) and the conversions a critical-value check may make
# between a result's unit and its rule's unit: (from, to) -> factor.
SAME_UNIT = {"ug/l": "ng/ml", "ng/l": "pg/ml", "mmol/l": "mmol/l", "g/l": "g/l"}
UNIT_FACTORS = {("g/dl", "g/l"): Decimal(10), ("mg/dl", "mmol/l:glucose"): Decimal(1) / Decimal("18.016"),
                ("ng/ml", "pg/ml"): Decimal(1000), ("pg/ml", "ng/ml"): Decimal("0.001")}
GLUCOSE_CODES = frozenset({"14749-6", "2345-7", "15074-8", "2339-0"})


def in_rule_unit(rule: CriticalRule, value: Decimal, unit: str) -> Decimal | None:
    """The value in the rule's unit, or None when the two units cannot be compared."""
    if not rule.unit or not unit:
        return value
    given, wanted = _unit(unit), _unit(rule.unit)
    given, wanted = SAME_UNIT.get(given, given), SAME_UNIT.get(wanted, wanted)
    if given == wanted:
        return value
    if wanted == "mmol/l" and rule.code in GLUCOSE_CODES:
        wanted = "mmol/l:glucose"
    factor = UNIT_FACTORS.get((given, wanted))
    return value * factor if factor is not None else None


def beyond_limit(rule: CriticalRule, value: Decimal, unit: str) -> str | None:
    """"> 6.2" or "< 2.8" when the value is critical by the rule (compared in the rule's unit, converting the
    units it knows), else None. A unit that cannot be compared is reported as such rather than passed as
    normal: a troponin in an unexpected unit must still reach a person."""
    converted = in_rule_unit(rule, value, unit)
    if converted is None:
        return f"单位{unit}无法与危急值规则（{rule.unit}）比较，请人工核对 (unit not comparable with the rule's; check)"
    value = converted
    if rule.low is not None and value < rule.low:
        return f"< {format(rule.low.normalize(), 'f')}"
    if rule.high is not None and value > rule.high:
        return f"> {format(rule.high.normalize(), 'f')}"
    return None


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _reference(value: Any, field: str, display: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput(f"{display} 参考范围无效 (invalid reference range)", field=field) from None
    if not number.is_finite() or abs(number) > MAX_QUANTITY:
        raise InvalidInput(f"{display} 参考范围无效 (invalid reference range)", field=field)
    return number


def _lab_result(item: Any, index: int, now: dt.datetime) -> dict[str, Any]:
    field = f"results[{index}]"
    if not isinstance(item, dict):
        raise InvalidInput("检验结果格式无效 (a result must be a mapping)", field=field)
    code = _text(item.get("code"), field, 20, "项目编码", required=True)
    display = _text(item.get("display") or code, field, 100, "项目名称", required=True)
    value = item.get("value")
    quantity, text = None, ""
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        try:
            quantity = Decimal(str(value))
        except InvalidOperation:
            raise InvalidInput(f"{display} 数值无效 (invalid value)", field=field) from None
        if not quantity.is_finite() or abs(quantity) > MAX_QUANTITY:
            raise InvalidInput(f"{display} 数值无效或过大 (invalid value)", field=field)
    else:
        text = _text(value, field, 200, display, required=True)
    low, high = (_reference(item.get(k), field, display) for k in ("reference_low", "reference_high"))
    interpretation = _text(item.get("interpretation"), field, 4, "结果标志")
    if not interpretation and quantity is not None and (low is not None or high is not None):
        interpretation = "L" if low is not None and quantity < low else "H" if high is not None and quantity > high \
            else "N"
    observed = item.get("observed_at") or now
    if not isinstance(observed, dt.datetime) or timezone.is_naive(observed) or observed > now + CLOCK_SKEW:
        raise InvalidInput(f"{display} 检测时间无效 (observed_at must be an aware time, not in the future)",
                           field=field)
    return {"code": code, "display": display, "value_quantity": quantity, "value_text": text,
            "unit": _text(item.get("unit"), field, 20, "单位"), "reference_low": low, "reference_high": high,
            "interpretation": interpretation, "effective_at": observed}


def _result_line(r: dict[str, Any]) -> str:
    value = _number(r["value_quantity"]) if r["value_quantity"] is not None else r["value_text"]
    reference = ""
    if r["reference_low"] is not None or r["reference_high"] is not None:
        low = _number(r["reference_low"]) if r["reference_low"] is not None else ""
        high = _number(r["reference_high"]) if r["reference_high"] is not None else ""
        reference = f"（参考 {low}–{high}）"
    flag = {"H": " ↑", "L": " ↓", "HH": " ↑↑", "LL": " ↓↓", "A": " *"}.get(r["interpretation"], "")
    return f"{r['display']} {value} {r['unit']}".strip() + reference + flag


def publish_lab_results(*, request: ExamRequest, results: Sequence[dict[str, Any]], verifier: Any = None,
                        final: bool = True, channel: str = "hl7", now: dt.datetime | None = None,
                        actor: Any = None, received_at: dt.datetime | None = None) -> Report:
    """Lab results for a request (from an HL7 ORU^R01, already parsed and validated by lab.py): each result
    dict has code (LOINC or local), display, value (Decimal or text), unit, reference_low, reference_high,
    interpretation, observed_at. Creates records.Observations (category laboratory) linked to the request,
    moves it to published with a report listing the results, and raises a critical alert for any value
    beyond an active CriticalRule. A repeat message for a published request revises (amended).

    `final=False` (preliminary results, OBR-25 "P"): a preliminary report, the request waits as acquired, the
    record gets nothing yet, but critical values are raised at once. A request without a specimen recorded
    counts as acquired at `received_at` (the specimen's receipt, when the message says), else the earliest
    observation time. Each critical rule alerts once per request."""
    now = _now(now)
    if request.centre.kind != CentreKind.LAB:
        raise InvalidInput("该申请不是检验项目 (the request is not a laboratory exam)", field="request")
    if not isinstance(results, list | tuple) or not results or len(results) > MAX_RESULTS:
        raise InvalidInput(f"检验结果应为1到{MAX_RESULTS}项 (1 to {MAX_RESULTS} results)", field="results")
    checked = [_lab_result(item, i, now) for i, item in enumerate(results)]
    if len({r["code"] for r in checked}) != len(checked):
        raise InvalidInput("同一项目出现多次 (a test appears twice)", field="results")
    practitioner = _practitioner_of(verifier)
    current = ExamRequest.objects.filter(pk=request.pk).values("status", "version").first()
    if current is None:
        raise NotFound("未找到该检查申请 (exam request not found)")
    amend = current["status"] == ExamStatus.PUBLISHED
    if amend and not final:
        raise Conflict("已发布的检验结果不能改为初步结果 (published results cannot become preliminary)")
    step = workflow.BY_ACTION["amend_results" if amend else "report_results" if final else "receive_results"]
    acquired_at = request.acquired_at or received_at or min(r["effective_at"] for r in checked)
    acquired_at = min(acquired_at, now)
    rules = rules_for(request.community_id, [r["code"] for r in checked], kind=CentreKind.LAB)
    actor_ = _actor(actor, channel, request.community_id)
    with transaction.atomic():
        changes: dict[str, Any] = {"acquired_at": Coalesce(F("acquired_at"), Value(acquired_at))}
        if step.target == ExamStatus.PUBLISHED:
            changes["reported_at"] = Coalesce(F("reported_at"), Value(now))
        from_status = _move(request, step, expected_version=current["version"], now=now, changes=changes)
        _refresh(request)
        version = _next_version(request)
        _supersede(request)
        findings = "\n".join(_result_line(r) for r in checked)
        abnormal = [f"{r['display']}{'↑' if r['interpretation'] in ('H', 'HH') else '↓'}" for r in checked
                    if r["interpretation"] in ("H", "L", "HH", "LL")]
        conclusion = ("异常：" + "、".join(abnormal)) if abnormal else "所列项目均在参考范围内"
        alerts = []
        for r in checked:
            rule = rules.get(r["code"])
            limit = beyond_limit(rule, r["value_quantity"], r["unit"]) if rule and r["value_quantity"] is not None \
                else None
            if limit is not None:
                alerts.append((rule, r, f"{rule.name} {_number(r['value_quantity'])} {r['unit']} ({limit})"))
        status = (ReportStatus.AMENDED if amend else ReportStatus.FINAL) if final else ReportStatus.PRELIMINARY
        report = Report.objects.create(
            request=request, version=version, status=status, current=True, findings=findings[:MAX_FINDINGS],
            conclusion=conclusion[:MAX_CONCLUSION], critical=bool(alerts), author=practitioner,
            verifier=practitioner, revision_reason=CORRECTED if amend else "",
            written_at=now, published_at=now if final else None,
            recognised_until=_recognised_until(request, request.reported_at or now) if final else None)
        observations: dict[str, Observation] = {}
        if final:
            observations = _lab_observations(request, checked, practitioner, amend=amend)
        _event(request, step.action, from_status, step.target, now=now, user=actor, practitioner=practitioner)
        already = set(CriticalAlert.objects.filter(request=request, rule__isnull=False)
                      .values_list("rule__code", flat=True))
        for rule, r, finding in alerts:
            if rule.code not in already:
                raise_critical(request=request, finding=finding, rule=rule, observation=observations.get(r["code"]),
                               raised_by=practitioner, channel=channel, now=now, user=actor_)
        audit.record_many(actor_, [
            _entry(step.action, request, detail={"results": len(checked), "critical": len(alerts)}),
            audit.Entry("create", "DiagnosticReport", str(report.uuid), str(request.resident.uuid),
                        detail={"request": str(request.uuid), "version": version, "status": status}),
            *[audit.Entry("amend" if amend else "create", "Observation", str(o.uuid), str(request.resident.uuid),
                          detail={"code": o.code}) for o in observations.values()],
        ])
    return report


def _lab_observations(request: ExamRequest, checked: list[dict[str, Any]], practitioner: Practitioner | None, *,
                      amend: bool) -> dict[str, Observation]:
    existing = {o.code: o for o in request.observations.filter(category=ObservationCategory.LABORATORY)}
    found: dict[str, Observation] = {}
    new = []
    for r in checked:
        stored = existing.get(r["code"])
        if stored is not None:
            for name, value in r.items():
                setattr(stored, name, value)
            stored.status = ObservationStatus.AMENDED
            stored.practitioner = practitioner
            stored.save(update_fields=[*r, "status", "practitioner"])
            found[r["code"]] = stored
        else:
            new.append(Observation(
                community_id=request.community_id, resident_id=request.resident_id, encounter=request.encounter,
                category=ObservationCategory.LABORATORY, organization_id=request.centre.organization_id,
                practitioner=practitioner, status=ObservationStatus.AMENDED if amend else ObservationStatus.FINAL,
                **r))
    for observation in Observation.objects.bulk_create(new):
        found[observation.code] = observation
    if new:
        request.observations.add(*[o for o in found.values() if o.code not in existing])
    return found


# --- critical values ---------------------------------------------------------------------------------------

def _alert_event(alert: CriticalAlert, action: str, now: dt.datetime, *, practitioner: Any = None, user: Any = None,
                 detail: str = "") -> CriticalAlertEvent:
    return CriticalAlertEvent.objects.create(alert=alert, action=action, at=now, practitioner=practitioner,
                                             user=_user_or_none(user), detail=detail[:200])


def raise_critical(*, request: ExamRequest, finding: str, rule: CriticalRule | None = None,
                   observation: Any = None, raised_by: Any = None, channel: str = "web",
                   now: dt.datetime | None = None, user: Any = None) -> CriticalAlert:
    """Notify the ordering clinician at once (alert open, ack due after critical_value_ack_minutes). `user`:
    who is acting, for the audit (a user or an audit.Actor; the system when None)."""
    now = _now(now)
    finding = _text(finding, "critical_finding", 200, "危急值内容", required=True)
    if rule is not None and not isinstance(rule, CriticalRule):
        raise InvalidInput("危急值规则无效 (invalid critical-value rule)", field="rule")
    raiser = _practitioner_of(raised_by)
    minutes = int(policy.get("critical_value_ack_minutes", request.community_id))
    with transaction.atomic():
        alert = CriticalAlert.objects.create(
            community_id=request.community_id, request=request, resident_id=request.resident_id, rule=rule,
            observation=observation, finding=finding, raised_at=now, raised_by=raiser,
            notify_organization_id=request.requesting_organization_id,
            notify_practitioner_id=request.requesting_practitioner_id, ack_due_at=now + dt.timedelta(minutes=minutes))
        _alert_event(alert, "raised", now, practitioner=raiser, user=user, detail=finding)
        who = request.requesting_organization.name
        if request.requesting_practitioner_id:
            who = f"{who} {request.requesting_practitioner.name}"
        _alert_event(alert, "notified", now, practitioner=request.requesting_practitioner, user=user,
                     detail=f"已通知{who}，请于{minutes}分钟内确认 (notified; acknowledge within {minutes} min)")
        audit.record(_actor(user, channel, request.community_id), "raise-critical", "CriticalAlert", alert.uuid,
                     resident_id=request.resident.uuid, detail={
                         "request": str(request.uuid), "finding": finding, "rule": rule.code if rule else None,
                         "notify_organization": request.requesting_organization_id,
                         "ack_due_at": alert.ack_due_at.isoformat()})
    return alert


def may_acknowledge(user: Any, alert: CriticalAlert) -> bool:
    """The ordering clinician, anyone covering the notified organisation (a township's doctors cover its
    village clinics), or the duty doctor it escalated to."""
    if getattr(user, "community_id", None) != alert.community_id or user.role not in REQUESTING_ROLES | {
            Role.CENTRE_READER}:
        return False
    practitioner_id = getattr(user, "practitioner_id", None)
    if practitioner_id and practitioner_id in (alert.notify_practitioner_id, alert.escalated_to_id):
        return True
    return user.role in REQUESTING_ROLES and alert.notify_organization_id in covered_organization_ids(user)


def acknowledge_alert(*, user: Any, alert: CriticalAlert, action_taken: str = "", channel: str = "web",
                      now: dt.datetime | None = None) -> CriticalAlert:
    """The ordering clinician (or the duty doctor it escalated to, or anyone at the notified organisation)
    acknowledges; stamps request.acknowledged_at. A second acknowledgement is a 409."""
    if not may_acknowledge(user, alert):
        raise PermissionDenied("只有开单医生、开单机构或接到升级的值班医生可以确认危急值 (only the ordering clinician, "
                               "their organisation or the duty doctor may acknowledge)")
    action_taken = _text(action_taken, "action_taken", 200, "处理措施")
    now = _now(now)
    with transaction.atomic():
        updated = CriticalAlert.objects.filter(
            pk=alert.pk, status__in=[AlertStatus.OPEN, AlertStatus.ESCALATED]).update(
            status=AlertStatus.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by_id=user.practitioner_id,
            action_taken=action_taken, version=F("version") + 1)
        if not updated:
            raise Conflict("该危急值已被确认 (the critical value was already acknowledged)")
        ExamRequest.objects.filter(pk=alert.request_id, acknowledged_at__isnull=True).update(acknowledged_at=now)
        alert.refresh_from_db()
        late = now > alert.ack_due_at
        _alert_event(alert, "acknowledged", now, practitioner=user.practitioner, user=user,
                     detail=(f"{action_taken} " if action_taken else "") + ("（超时确认 late）" if late else ""))
        audit.record(audit.Actor.of(user, channel), "acknowledge-critical", "CriticalAlert", alert.uuid,
                     resident_id=alert.resident.uuid, reason=action_taken,
                     detail={"request": str(alert.request.uuid), "late": late})
    return alert


def escalate_overdue(*, now: dt.datetime | None = None) -> int:
    """Escalate every open alert past ack_due_at to the duty doctor on the roster of the requesting
    organisation's branch (a village clinic's township; a branch itself); logs each step. Returns the
    number escalated. Run every minute by `countycare escalatecritical`.

    "Past" is strictly after: an alert raised at 9:00 with 15 minutes may still be acknowledged at 9:15:00 and
    escalates from the first run after it. With nobody rostered, the alert escalates to the branch itself
    (its doctors see it among their open alerts) and the missing duty doctor is logged."""
    now = _now(now)
    total = 0
    while True:
        with transaction.atomic():
            rows = list(CriticalAlert.objects.select_for_update(skip_locked=True, of=("self",))
                        .filter(status=AlertStatus.OPEN, ack_due_at__lt=now).order_by("ack_due_at", "id")
                        .select_related("notify_organization__parent", "request", "resident")[:ESCALATE_CHUNK])
            if not rows:
                return total
            entries: dict[int, list[audit.Entry]] = {}
            for alert in rows:
                branch = lead_or_branch_of(alert.notify_organization)
                doctor = duty_doctor(branch, now)
                if not CriticalAlert.objects.filter(pk=alert.pk, status=AlertStatus.OPEN).update(
                        status=AlertStatus.ESCALATED, escalated_at=now, escalated_to=doctor,
                        version=F("version") + 1):
                    continue
                late = int((now - alert.raised_at).total_seconds() // 60)
                if doctor is not None:
                    detail = (f"{late}分钟未确认，已升级至{branch.name}值班医生{doctor.name} "
                              f"(escalated to the duty doctor)")
                else:
                    detail = (f"{late}分钟未确认；{branch.name}无值班医生排班，已升级至该机构 (no duty doctor "
                              f"rostered: escalated to the organisation)")
                _alert_event(alert, "escalated", now, practitioner=doctor, detail=detail)
                entries.setdefault(alert.community_id, []).append(audit.Entry(
                    "escalate-critical", "CriticalAlert", str(alert.uuid), str(alert.resident.uuid),
                    detail={"request": str(alert.request.uuid), "organization": branch.pk,
                            "duty_doctor": doctor.pk if doctor else None, "minutes": late}))
                total += 1
            for community_id, items in entries.items():
                audit.record_many(audit.Actor(username="system", community_id=community_id, channel="cli"), items)
