"""Pages of the shared diagnostic centres.

The requesting clinic: a new exam request from a patient's timeline or encounter (showing a recognised valid
result first: use it, or give a reason to repeat), the upload of the acquisition (ECG as WFDB or CSV, DICOM to
Orthanc, a lab sample, a pathology specimen with slides), the list of requests with status, waiting time and
results, the printable report with its versions, and the critical values waiting for an acknowledgement.

The centre: the worklist in reading order with claim and claim-next, the reading page (tracing, Orthanc
previews or the specimen on the left; the ECG pre-read as assistance; the report form with templates; publish,
second reading, critical value, quality-control return, release; revision with a reason) and the turnaround
board.

Thin views: validate the input, make one service or query call, render. Every write is a
`diagnostics.services` call, every scoped read a `diagnostics.queries` call (audited there); a DomainError is
shown on the page with its message, never as a 500.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode, urlsplit
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from countycare.core import audit, idempotency
from countycare.core.errors import Conflict, DomainError, InvalidInput, NotFound
from countycare.core.errors import PermissionDenied as DomainPermissionDenied
from countycare.records import queries as record_queries
from countycare.registry import queries as registry_queries
from countycare.registry.scope import covered_organization_ids
from countycare.web.access import domain_errors, roles_required

from . import queries, services, workflow
from .access import CENTRE_ROLES, EXAM_ROLES, READER_ROLES, REQUESTER_ROLES
from .forms import (
    AcknowledgeForm,
    ExamRequestForm,
    FilesForm,
    ReasonForm,
    ReportForm,
    RequestFilterForm,
    ReviseForm,
    SpecimenForm,
    UseRecognisedForm,
    VersionForm,
    critical_rules_for,
    exam_types_for,
    templates_for,
)
from .models import (
    OPEN_EXAM_STATUSES,
    PRIORITY_RANK,
    Acquisition,
    AcquisitionKind,
    Attachment,
    Centre,
    CentreKind,
    CriticalAlert,
    ExamRequest,
    ExamStatus,
    Priority,
    Report,
    ReportStatus,
)
from .templatetags.diagnostics_pages import dxlabel, flag_critical, flag_label

CHANNEL = "web"
REQUESTS_PAGE_SIZE = 40
WORKLIST_LIMIT = 200
BOARD_DAYS = 14
# Why a page read a record, as the audit trail stores it (Chinese first, like the services' messages).
REASON_REQUEST = "申请检查 (exam request)"
REASON_LIST = "检查申请列表 (exam requests)"
REASON_WORKLIST = "诊断中心工作列表 (centre worklist)"
REASON_ALERTS = "危急值提醒 (critical values)"
DONE_MESSAGES = {
    "acquire": gettext_lazy("The acquisition was sent to the centre."),
    "cancel": gettext_lazy("The request was cancelled."),
    "claim": gettext_lazy("You claimed the exam. It is yours to report."),
    "release": gettext_lazy("The exam went back to the worklist."),
    "return": gettext_lazy("The acquisition was returned to the requesting clinic."),
    "publish": gettext_lazy("The report was published and sent to the requesting clinic."),
    "second_reading": gettext_lazy("The preliminary report waits for a second reading."),
    "critical": gettext_lazy("The report was published and the critical value sent to the ordering clinician."),
    "revise": gettext_lazy("The revised report was published; the previous version is kept."),
}


def is_fragment_request(request: HttpRequest) -> bool:
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


def with_lists(qs: QuerySet[ExamRequest]) -> QuerySet[ExamRequest]:
    return qs.select_related(
        "resident", "exam_type", "centre", "requesting_organization", "requesting_practitioner", "claimed_by",
        "pre_read",
    ).prefetch_related(Prefetch("reports", queryset=Report.objects.filter(current=True), to_attr="current_reports"))


def effective_priority(exam: ExamRequest) -> str:
    """The priority the worklist uses: the requested one, or STAT when a critical pre-read flag raised it."""
    ranked = services.effective_priority(exam.rank)
    return ranked if PRIORITY_RANK[ranked] > PRIORITY_RANK[exam.priority] else exam.priority


def waiting_since(exam: ExamRequest) -> dt.datetime | None:
    """Since when the exam waits, for the live counter: for the centre since the acquisition, for the clinic
    since the request; nothing once reported or cancelled."""
    if exam.status in (ExamStatus.PUBLISHED, ExamStatus.CANCELLED):
        return None
    if exam.status == ExamStatus.REQUESTED:
        return exam.requested_at
    return exam.acquired_at or exam.requested_at


def turnaround_minutes(exam: ExamRequest) -> int | None:
    if exam.reported_at and exam.acquired_at:
        return int((exam.reported_at - exam.acquired_at).total_seconds() // 60)
    return None


def exam_sides(user: Any, exam: ExamRequest) -> set[str]:
    """Which side of a request the user acts on (for the buttons; the services decide)."""
    sides = set()
    if user.role in REQUESTER_ROLES and exam.requesting_organization_id in covered_organization_ids(user):
        sides.add(workflow.Side.REQUESTER)
    if user.role in READER_ROLES and queries.centres_for(user).filter(pk=exam.centre_id).exists():
        sides.add(workflow.Side.CENTRE)
    return sides


def get_exam(user: Any, exam_uuid: UUID, *, action: str = "read") -> ExamRequest:
    return queries.get_request(user, exam_uuid, channel=CHANNEL, action=action)


def get_centre(user: Any, centre_id: int) -> Centre:
    centre = queries.centres_for(user).filter(pk=centre_id).select_related("organization").first()
    if centre is None:
        raise NotFound("未找到该诊断中心 (centre not found)")
    return centre


def current_acquisition(exam: ExamRequest) -> Acquisition | None:
    return exam.acquisitions.filter(current=True).prefetch_related("attachments").first()


def uploaded(files: list[Any]) -> list[services.UploadedFile]:
    return [services.UploadedFile(filename=f.name, media_type=f.content_type or "application/octet-stream",
                                  content=f.read()) for f in files]


def submitted(request: HttpRequest) -> bytes:
    """What the form sent, in a stable order and without the CSRF token (the double-submit guard's key)."""
    fields = sorted((k, v) for k, values in request.POST.lists() if k != "csrfmiddlewaretoken" for v in values)
    return urlencode(fields).encode()


# ---------------------------------------------------------------- the requesting clinic


def _recognised_for(resident: Any, exam_type: Any) -> Report | None:
    if exam_type is None:
        return None
    return queries.recognised_result(resident=resident, exam_type=exam_type, at=timezone.now())


@roles_required(REQUESTER_ROLES)
@domain_errors
def request_new(request: HttpRequest, resident_uuid: UUID) -> HttpResponse:
    """The exam request form. Choosing the exam shows a recognised valid result if the patient has one
    (htmx: ?fragment=recognised); the clinician uses it or gives a reason to repeat."""
    user = request.user
    resident = registry_queries.get_resident(user, resident_uuid, channel=CHANNEL, reason=REASON_REQUEST)
    if request.method == "GET" and request.GET.get("fragment") == "recognised":
        exam_type = exam_types_for(user.community_id).filter(pk=_int(request.GET.get("exam_type"))).first()
        return TemplateResponse(request, "diagnostics/_recognised.html",
                                {"resident": resident, "recognised": _recognised_for(resident, exam_type),
                                 "exam_type": exam_type})
    encounter = None
    encounter_uuid = request.POST.get("encounter") or request.GET.get("encounter", "")
    if encounter_uuid:
        encounter = record_queries.get_encounter(user, encounter_uuid, channel=CHANNEL, reason=REASON_REQUEST)
        if encounter.resident_id != resident.pk:
            raise NotFound("未找到该就诊记录 (encounter not found)")
    recognised = None
    if request.method == "POST":
        form = ExamRequestForm(request.POST, user=user)
        replayed = _replayed(request, form)
        if replayed is not None:
            return replayed
        if form.is_valid():
            created = _create_request(request, form, resident, encounter)
            if isinstance(created, HttpResponse):
                return created
            recognised = created
        elif form.cleaned_data.get("exam_type") is not None:
            recognised = _recognised_for(resident, form.cleaned_data["exam_type"])
    else:
        initial: dict[str, Any] = {"encounter": encounter.uuid if encounter else None}
        if encounter is not None:
            initial["clinical_question"] = "\n".join(s for s in (encounter.chief_complaint, encounter.note) if s)
        exam_type = exam_types_for(user.community_id).filter(code=request.GET.get("exam", "")).first()
        if exam_type is not None:
            initial["exam_type"] = exam_type.pk
            recognised = _recognised_for(resident, exam_type)
        if request.GET.get("priority") in Priority.values:
            initial["priority"] = request.GET["priority"]
        form = ExamRequestForm(initial=initial, user=user)
    status = 200 if request.method != "POST" else (409 if recognised is not None else 422)
    return TemplateResponse(
        request, "diagnostics/request_form.html",
        {"resident": resident, "form": form, "encounter": encounter, "recognised": recognised,
         "problems": record_queries.active_problems(user, resident)},
        status=status,
    )


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _replayed(request: HttpRequest, form: ExamRequestForm) -> HttpResponse | None:
    """A second submission of the same rendered form (double click, a retry on a flaky line) gets the first
    answer: the request it created."""
    key = str(form.data.get("form_token", ""))[:idempotency.MAX_KEY_LENGTH]
    try:
        stored = idempotency.lookup(request.user.pk, key, "POST", request.path, submitted(request))
    except InvalidInput:
        form.add_error(None, _("This form was already sent with other content. Open the request page again "
                               "to request another exam."))
        return None
    if stored is None:
        return None
    return redirect(stored.headers["Location"])


def _create_request(request: HttpRequest, form: ExamRequestForm, resident: Any, encounter: Any
                    ) -> HttpResponse | Report | None:
    """Create the request; a recognised valid result without a reason to repeat comes back as that report
    (shown on the form), any other refusal as a form error."""
    user = request.user
    key = str(form.cleaned_data["form_token"])
    data = form.cleaned_data

    def store_answer(exam: ExamRequest) -> None:
        location = reverse("diagnostics:exam", args=[exam.uuid])
        idempotency.store(user.pk, key, "POST", request.path, submitted(request),
                          idempotency.StoredResponse(303, {"Location": location}, ""))

    try:
        exam = services.request_exam(
            user=user, resident=resident, exam_type=data["exam_type"], clinical_question=data["clinical_question"],
            priority=data["priority"], encounter=encounter, repeat_reason=data["repeat_reason"].strip(),
            channel=CHANNEL, within=store_answer,
        )
    except Conflict as exc:
        report = getattr(exc, "report", None)
        if report is not None:  # RecognisedResultExists: use it, or say why it is repeated
            form.add_error("repeat_reason", exc.message)
            return report
        stored = idempotency.lookup(user.pk, key, "POST", request.path, submitted(request))
        if stored is not None:  # the twin of a double click finished first
            return redirect(stored.headers["Location"])
        form.add_domain_error(exc)
        return None
    except (NotFound, DomainPermissionDenied):
        raise
    except DomainError as exc:
        form.add_domain_error(exc)
        return None
    messages.success(request, _("Exam %(no)s requested from %(centre)s. Now attach the acquisition.")
                     % {"no": exam.accession_number, "centre": exam.centre.name})
    return redirect("diagnostics:exam", exam_uuid=exam.uuid)


@require_POST
@roles_required(REQUESTER_ROLES)
@domain_errors
def use_recognised(request: HttpRequest, resident_uuid: UUID) -> HttpResponse:
    """The clinician accepts the recognised result instead of ordering the exam again (exam avoided)."""
    user = request.user
    resident = registry_queries.get_resident(user, resident_uuid, channel=CHANNEL, reason=REASON_REQUEST)
    form = UseRecognisedForm(request.POST)
    exam_type = None
    if form.is_valid():
        exam_type = exam_types_for(user.community_id).filter(pk=form.cleaned_data["exam_type"]).first()
    report = _recognised_for(resident, exam_type)
    if report is None or not form.is_valid() or report.uuid != form.cleaned_data["report"]:
        messages.error(request, _("That result is no longer recognised. Request the exam."))
        return redirect("diagnostics:request_new", resident_uuid=resident.uuid)
    try:
        services.use_recognised_result(user=user, resident=resident, exam_type=exam_type, report=report,
                                       channel=CHANNEL)
    except (NotFound, DomainPermissionDenied):
        raise
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("diagnostics:request_new", resident_uuid=resident.uuid)
    messages.success(request, _("The recognised result of %(centre)s was used; the exam was not repeated.")
                     % {"centre": report.request.centre.name})
    return redirect("diagnostics:report", exam_uuid=report.request.uuid)


@roles_required(REQUESTER_ROLES)
@domain_errors
def requests(request: HttpRequest) -> HttpResponse:
    """The requesting clinic's view: the requests its organisations made, newest first, with status, waiting
    time and results; critical values waiting for an acknowledgement on top."""
    user = request.user
    form = RequestFilterForm(request.GET or None)
    status = form.cleaned_data["status"] if form.is_valid() else ""
    qs = queries.requested_by(user)
    counts = dict(qs.values_list("status").annotate(n=Count("id")).order_by())
    if status == "open":
        qs = qs.filter(status__in=OPEN_EXAM_STATUSES)
    elif status:
        qs = qs.filter(status=status)
    page = Paginator(with_lists(qs).order_by("-requested_at", "-id"), REQUESTS_PAGE_SIZE).get_page(
        request.GET.get("page"))
    rows = list(page.object_list)
    queries.audit_listed(user, rows, channel=CHANNEL, reason=REASON_LIST)
    return TemplateResponse(request, "diagnostics/requests.html", {
        "page": page, "rows": [_row(e) for e in rows], "status": status,
        "open_total": sum(counts.get(s, 0) for s in OPEN_EXAM_STATUSES),
        "all_total": sum(counts.values()),
        "counts": [(s, dxlabel(s, "exam"), counts.get(s, 0)) for s in ExamStatus.values],
        "now": timezone.now(),
    })


def _row(exam: ExamRequest) -> dict[str, Any]:
    current = getattr(exam, "current_reports", None)
    report = current[0] if current else None
    return {"exam": exam, "since": waiting_since(exam), "turnaround": turnaround_minutes(exam),
            "report": report if report is not None and report.published_at else None,
            "preliminary": report if report is not None and report.status == ReportStatus.PRELIMINARY else None,
            "priority": effective_priority(exam), "target": exam.centre.target_minutes(exam.priority)}


def reports_shown(user: Any, exam: ExamRequest, *, sides: set[str] | None = None) -> list[Report]:
    """Every version for the centre's readers; the requesting side and everyone else read only what was
    published (a preliminary report waiting for its second reading stays in the centre)."""
    reports = queries.reports_of(exam)
    if workflow.Side.CENTRE in (sides if sides is not None else exam_sides(user, exam)):
        return reports
    return [r for r in reports if r.published_at is not None]


def _exam_context(user: Any, exam: ExamRequest) -> dict[str, Any]:
    sides = exam_sides(user, exam)
    actions = {t.action: t for t in workflow.allowed_actions(exam.status) if t.side in sides}
    reports = reports_shown(user, exam, sides=sides)
    acquisition = current_acquisition(exam)
    alerts = list(exam.critical_alerts.order_by("-raised_at"))
    context: dict[str, Any] = {
        "exam": exam, "resident": exam.resident, "sides": sides, "actions": actions, "reports": reports,
        "report": next((r for r in reports if r.current), None), "acquisition": acquisition,
        "returned": exam.acquisitions.filter(current=False, returned_at__isnull=False).first(),
        "events": list(exam.events.select_related("practitioner")),
        "since": waiting_since(exam), "turnaround": turnaround_minutes(exam),
        "target": exam.centre.target_minutes(exam.priority), "priority": effective_priority(exam),
        "pre_read": _pre_read(exam), "alerts": alerts,
        "critical_observations": {a.observation_id for a in alerts if a.observation_id},
        "is_reader": workflow.Side.CENTRE in sides, "now": timezone.now(),
        "results": list(exam.observations.order_by("code")) if exam.centre.kind == CentreKind.LAB else [],
    }
    context.update(_left_panel(exam, acquisition))
    if "acquire" in actions:
        context["upload_form"] = _upload_form(exam)
    if "cancel" in actions:
        context["cancel_form"] = ReasonForm(initial={"version": exam.version})
    return context


def _upload_form(exam: ExamRequest, data: Any = None, files: Any = None) -> FilesForm | SpecimenForm:
    kind = exam.centre.kind
    initial = {"version": exam.version}
    if kind in (CentreKind.ECG, CentreKind.IMAGING):
        return FilesForm(data, files, initial=initial)
    return SpecimenForm(data, files, initial=initial, kind=kind)


@roles_required(EXAM_ROLES)
@domain_errors
def exam_detail(request: HttpRequest, exam_uuid: UUID) -> HttpResponse:
    """One request: its status and times, the acquisition (upload it here), the report and its versions."""
    exam = get_exam(request.user, exam_uuid)
    return TemplateResponse(request, "diagnostics/exam_detail.html", _exam_context(request.user, exam))


def _exam_page_with_error(request: HttpRequest, exam_uuid: UUID, error: str, *, status: int,
                          upload_form: Any = None) -> HttpResponse:
    """The request as it is now, with why the step was not taken (nothing changed)."""
    exam = get_exam(request.user, exam_uuid)
    context = _exam_context(request.user, exam)
    context["action_error"] = error
    if upload_form is not None and "upload_form" in context:
        context["upload_form"] = upload_form
    return TemplateResponse(request, "diagnostics/exam_detail.html", context, status=status)


@require_POST
@roles_required(REQUESTER_ROLES)
@domain_errors
def acquire(request: HttpRequest, exam_uuid: UUID) -> HttpResponse:
    """Attach the acquisition: an ECG (WFDB pair or CSV), DICOM files for Orthanc, or the specimen."""
    user = request.user
    exam = get_exam(user, exam_uuid, action="acquire")
    form = _upload_form(exam, request.POST, request.FILES)
    if not form.is_valid():
        error = next(iter(e for errors in form.errors.values() for e in errors), _("The form was incomplete."))
        return _exam_page_with_error(request, exam_uuid, error, status=422, upload_form=form)
    data = form.cleaned_data
    try:
        if exam.centre.kind == CentreKind.ECG:
            services.attach_ecg(user=user, request=exam, files=uploaded(data["files"]),
                                expected_version=data["version"], channel=CHANNEL)
        elif exam.centre.kind == CentreKind.IMAGING:
            services.attach_dicom(user=user, request=exam, files=uploaded(data["files"]),
                                  expected_version=data["version"], channel=CHANNEL)
        else:
            services.attach_specimen(
                user=user, request=exam, specimen_type=data["specimen_type"], specimen_id=data["specimen_id"],
                collected_at=data["collected_at"], site=data.get("site", ""), note=data["note"],
                slides=uploaded(data.get("slides") or []), expected_version=data["version"], channel=CHANNEL)
    except (NotFound, DomainPermissionDenied):
        raise
    except DomainError as exc:
        return _exam_page_with_error(request, exam_uuid, exc.message, status=exc.status, upload_form=form)
    messages.success(request, DONE_MESSAGES["acquire"])
    return redirect("diagnostics:exam", exam_uuid=exam.uuid)


@require_POST
@roles_required(REQUESTER_ROLES)
@domain_errors
def cancel(request: HttpRequest, exam_uuid: UUID) -> HttpResponse:
    user = request.user
    exam = get_exam(user, exam_uuid, action="cancel")
    form = ReasonForm(request.POST)
    if not form.is_valid():
        return _exam_page_with_error(request, exam_uuid, _("Give a reason."), status=422)
    try:
        services.cancel_request(user=user, request=exam, reason=form.cleaned_data["reason"],
                                expected_version=form.cleaned_data["version"], channel=CHANNEL)
    except (NotFound, DomainPermissionDenied):
        raise
    except DomainError as exc:
        return _exam_page_with_error(request, exam_uuid, exc.message, status=exc.status)
    messages.success(request, DONE_MESSAGES["cancel"])
    return redirect("diagnostics:exam", exam_uuid=exam.uuid)


@roles_required(EXAM_ROLES)
@domain_errors
def report(request: HttpRequest, exam_uuid: UUID) -> HttpResponse:
    """The printable report (检查报告单): the current version, or ?version=n of the kept ones."""
    exam = get_exam(request.user, exam_uuid, action="read-report")
    reports = reports_shown(request.user, exam)
    if not reports:
        raise NotFound("该检查尚无报告 (this exam has no report yet)")
    wanted = _int(request.GET.get("version"))
    shown = next((r for r in reports if r.version == wanted), None) if wanted else None
    if wanted and shown is None:
        raise NotFound("没有该版本的报告 (no such report version)")
    shown = shown or next((r for r in reports if r.current), reports[0])
    return TemplateResponse(request, "diagnostics/report.html", {
        "exam": exam, "resident": exam.resident, "report": shown, "reports": reports,
        "acquisition": current_acquisition(exam), "pre_read": _pre_read(exam),
        "results": list(exam.observations.order_by("code")) if exam.centre.kind == CentreKind.LAB else [],
        "critical_observations": {a.observation_id for a in exam.critical_alerts.all() if a.observation_id},
    })


# ---------------------------------------------------------------- critical values


@roles_required(REQUESTER_ROLES)
@domain_errors
def alerts(request: HttpRequest) -> HttpResponse:
    """Critical values waiting for the user's acknowledgement; htmx polls the fragment so a new one shows at
    once (on the home page and the requests page)."""
    user = request.user
    rows = list(queries.open_alerts(user).select_related(
        "request__exam_type", "request__centre", "resident", "raised_by", "escalated_to", "notify_practitioner"))
    audit.record_many(audit.Actor.of(user, CHANNEL), [
        audit.Entry("list", "CriticalAlert", str(a.uuid), resident_id=str(a.resident.uuid), reason=REASON_ALERTS)
        for a in rows
    ])
    back = urlsplit(request.headers.get("HX-Current-URL", ""))  # the page the fragment sits on
    return_to = (back.path + (f"?{back.query}" if back.query else "")) if is_fragment_request(request) \
        else request.get_full_path()
    context = {"alerts": rows, "ack_form": AcknowledgeForm(), "now": timezone.now(), "return_to": return_to,
               "with_count": is_fragment_request(request) and request.GET.get("count") == "1"}
    if is_fragment_request(request):
        response = TemplateResponse(request, "diagnostics/_alerts.html", context)
    else:
        response = TemplateResponse(request, "diagnostics/alerts.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_POST
@roles_required(REQUESTER_ROLES)
@domain_errors
def alert_acknowledge(request: HttpRequest, alert_uuid: UUID) -> HttpResponse:
    user = request.user
    alert = queries.open_alerts(user).filter(uuid=alert_uuid).first()
    if alert is None:
        if CriticalAlert.objects.filter(uuid=alert_uuid, community_id=user.community_id,
                                        acknowledged_at__isnull=False).exists():
            messages.info(request, _("This critical value was already acknowledged."))
            return redirect(request.POST.get("next") or "diagnostics:alerts")
        raise NotFound("未找到该危急值 (critical value not found)")
    form = AcknowledgeForm(request.POST)
    action_taken = form.cleaned_data["action_taken"] if form.is_valid() else ""
    try:
        services.acknowledge_alert(user=user, alert=alert, action_taken=action_taken, channel=CHANNEL)
    except (NotFound, DomainPermissionDenied):
        raise
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Critical value acknowledged: %(finding)s") % {"finding": alert.finding})
    target = request.POST.get("next", "")
    return redirect(target if target.startswith("/") and not target.startswith("//") else "diagnostics:alerts")


# ---------------------------------------------------------------- the centre: worklist


@roles_required(CENTRE_ROLES)
@domain_errors
def centres(request: HttpRequest) -> HttpResponse:
    """The centres the user reads for (the whole community's for its office), with what waits at each."""
    user = request.user
    rows = []
    for centre in queries.centres_for(user).select_related("organization"):
        waiting = queries.worklist(user, centre) if user.role in READER_ROLES else None
        rows.append({"centre": centre, "waiting": waiting.count() if waiting is not None else None,
                     "in_progress": queries.in_progress(user, centre).count() if waiting is not None else None})
    return TemplateResponse(request, "diagnostics/centres.html",
                            {"rows": rows, "is_reader": user.role in READER_ROLES})


@roles_required(READER_ROLES)
@domain_errors
def worklist(request: HttpRequest, centre_id: int) -> HttpResponse:
    """The centre's worklist in reading order (priority, then the pre-read, then waiting time) with the
    items being read; htmx refreshes the lists every 20 seconds."""
    user = request.user
    centre = get_centre(user, centre_id)
    waiting = list(with_lists(queries.worklist(user, centre))[:WORKLIST_LIMIT])
    reading = list(with_lists(queries.in_progress(user, centre)))
    queries.audit_listed(user, waiting + reading, channel=CHANNEL, reason=REASON_WORKLIST)
    on_duty = services.on_duty(practitioner=user.practitioner, centre=centre, at=timezone.now()) \
        if user.practitioner_id else False
    context = {
        "centre": centre, "waiting": [_row(e) for e in waiting], "reading": [_row(e) for e in reading],
        "limit": WORKLIST_LIMIT, "on_duty": on_duty, "now": timezone.now(),
    }
    template = "diagnostics/_worklist.html" if is_fragment_request(request) else "diagnostics/worklist.html"
    response = TemplateResponse(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_POST
@roles_required(READER_ROLES)
@domain_errors
def claim_next(request: HttpRequest, centre_id: int) -> HttpResponse:
    user = request.user
    centre = get_centre(user, centre_id)
    try:
        exam = services.claim_next(user=user, centre=centre, channel=CHANNEL)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("diagnostics:worklist", centre_id=centre.pk)
    if exam is None:
        messages.info(request, _("Nothing is waiting at this centre."))
        return redirect("diagnostics:worklist", centre_id=centre.pk)
    messages.success(request, DONE_MESSAGES["claim"])
    return redirect("diagnostics:read", exam_uuid=exam.uuid)


@require_POST
@roles_required(READER_ROLES)
@domain_errors
def claim(request: HttpRequest, exam_uuid: UUID) -> HttpResponse:
    """Claim one item. Someone else faster gets the 409 message on the worklist and nothing changes."""
    user = request.user
    exam = get_exam(user, exam_uuid, action="claim")
    form = VersionForm(request.POST)
    try:
        services.claim(user=user, request=exam,
                       expected_version=form.cleaned_data["version"] if form.is_valid() else None, channel=CHANNEL)
    except NotFound:
        raise
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("diagnostics:worklist", centre_id=exam.centre_id)
    messages.success(request, DONE_MESSAGES["claim"])
    return redirect("diagnostics:read", exam_uuid=exam.uuid)


# ---------------------------------------------------------------- the centre: reading


def _pre_read(exam: ExamRequest) -> dict[str, Any] | None:
    """The ECG pre-read with its flags labelled in Chinese (assistance for the reader, never the report)."""
    try:
        pre = exam.pre_read
    except ExamRequest.pre_read.RelatedObjectDoesNotExist:
        return None
    return {"row": pre, "flags": [{"code": f, "label": flag_label(f), "critical": flag_critical(f)} for f in pre.flags],
            "regular": pre.rr_cv is not None and "irregular" not in pre.flags}


def _left_panel(exam: ExamRequest, acquisition: Acquisition | None) -> dict[str, Any]:
    """What the reader looks at: the tracing (loaded by htmx), the Orthanc previews, or the specimen."""
    if acquisition is None:
        return {"panel": "none"}
    attachments = list(acquisition.attachments.all())
    if acquisition.kind in (AcquisitionKind.ECG_WFDB, AcquisitionKind.ECG_CSV):
        return {"panel": "ecg", "attachments": attachments}
    if acquisition.kind == AcquisitionKind.DICOM:
        previews = [
            {"series": s, "instances": list(s.get("instances") or [])[:12]} for s in (acquisition.series or [])
        ]
        return {"panel": "dicom", "previews": previews, "study_url": _study_url(acquisition)}
    slides = [a for a in attachments if a.role == "slide" or a.media_type.startswith("image/")]
    return {"panel": "specimen", "slides": slides, "attachments": attachments}


def _study_url(acquisition: Acquisition) -> str:
    if not acquisition.orthanc_study_id:
        return ""
    try:
        from .imaging import OrthancClient

        return OrthancClient().study_url(acquisition.orthanc_study_id)
    except Exception:  # noqa: BLE001 - a link, not the page: an unconfigured Orthanc leaves it out
        return ""


def _reading_context(user: Any, exam: ExamRequest, *, form: ReportForm | None = None,
                     revise_form: ReviseForm | None = None) -> dict[str, Any]:
    context = _exam_context(user, exam)
    mine = exam.status == ExamStatus.CLAIMED and exam.claimed_by_id == user.practitioner_id
    templates = templates_for(user.community_id, kind=exam.centre.kind, exam_type_code=exam.exam_type.code)
    rules = critical_rules_for(user.community_id, kind=exam.centre.kind)
    preliminary = next((r for r in context["reports"] if r.current and r.status == "preliminary"), None)
    if form is None:
        initial = {"version": exam.version, "action": "publish"}
        if preliminary is not None:
            initial.update(findings=preliminary.findings, conclusion=preliminary.conclusion,
                           template_code=preliminary.template_code)
        form = ReportForm(initial=initial, templates=templates, rules=rules)
    context.update({
        "mine": mine, "form": form, "templates": templates, "preliminary": preliminary,
        "own_preliminary": preliminary is not None and preliminary.author_id == user.practitioner_id,
        "templates_json": {t.code: {"findings": t.findings, "conclusion": t.conclusion} for t in templates},
        "return_form": ReasonForm(initial={"version": exam.version}),
        "version_form": VersionForm(initial={"version": exam.version}),
    })
    if exam.status == ExamStatus.PUBLISHED and workflow.Side.CENTRE in context["sides"]:
        current = context["report"]
        context["revise_form"] = revise_form or ReviseForm(initial={
            "version": exam.version, "findings": current.findings if current else "",
            "conclusion": current.conclusion if current else ""})
    return context


@roles_required(READER_ROLES)
@domain_errors
def read(request: HttpRequest, exam_uuid: UUID) -> HttpResponse:
    """The reading page: the acquisition on the left, the pre-read and the report form on the right."""
    user = request.user
    exam = get_exam(user, exam_uuid)
    return TemplateResponse(request, "diagnostics/read.html", _reading_context(user, exam))


def _reading_page_with_error(request: HttpRequest, exam_uuid: UUID, error: str, *, status: int,
                             form: ReportForm | None = None, revise_form: ReviseForm | None = None) -> HttpResponse:
    exam = get_exam(request.user, exam_uuid)
    if form is not None:  # keep what the reader wrote, against the request as it is now
        form.data = form.data.copy()
        form.data["version"] = str(exam.version)
    context = _reading_context(request.user, exam, form=form, revise_form=revise_form)
    context["action_error"] = error
    return TemplateResponse(request, "diagnostics/read.html", context, status=status)


@require_POST
@roles_required(READER_ROLES)
@domain_errors
def write_report(request: HttpRequest, exam_uuid: UUID) -> HttpResponse:
    """Publish, send for a second reading, or publish with a critical value."""
    user = request.user
    exam = get_exam(user, exam_uuid, action="report")
    templates = templates_for(user.community_id, kind=exam.centre.kind, exam_type_code=exam.exam_type.code)
    form = ReportForm(request.POST, templates=templates,
                      rules=critical_rules_for(user.community_id, kind=exam.centre.kind))
    if not form.is_valid():
        return _reading_page_with_error(request, exam_uuid, _("The report is incomplete: see the fields below."),
                                        status=422, form=form)
    data = form.cleaned_data
    action = data["action"]
    critical = action == "critical"
    named_rule = {"critical_code": data["critical_code"]} if critical and data.get("critical_code") else {}
    try:
        services.write_report(
            user=user, request=exam, findings=data["findings"], conclusion=data["conclusion"],
            expected_version=data["version"], template_code=data["template_code"], critical=critical,
            critical_finding=data["critical_finding"].strip() if critical else "",
            second_reading=action == "second_reading", channel=CHANNEL, **named_rule,
        )
    except (NotFound, DomainPermissionDenied) as exc:
        if isinstance(exc, NotFound):
            raise
        return _reading_page_with_error(request, exam_uuid, exc.message, status=exc.status, form=form)
    except DomainError as exc:
        form.add_domain_error(exc)
        return _reading_page_with_error(request, exam_uuid, exc.message, status=exc.status, form=form)
    messages.success(request, DONE_MESSAGES[action])
    if action == "second_reading":
        return redirect("diagnostics:worklist", centre_id=exam.centre_id)
    return redirect("diagnostics:read", exam_uuid=exam.uuid)


@require_POST
@roles_required(READER_ROLES)
@domain_errors
def revise(request: HttpRequest, exam_uuid: UUID) -> HttpResponse:
    user = request.user
    exam = get_exam(user, exam_uuid, action="revise")
    form = ReviseForm(request.POST)
    if not form.is_valid():
        return _reading_page_with_error(request, exam_uuid, _("Give the reason for the revision and the revised "
                                                              "text."), status=422, revise_form=form)
    data = form.cleaned_data
    finding = data["critical_finding"].strip()
    try:
        services.revise_report(user=user, request=exam, findings=data["findings"], conclusion=data["conclusion"],
                               reason=data["reason"], expected_version=data["version"], critical=bool(finding),
                               critical_finding=finding, channel=CHANNEL)
    except NotFound:
        raise
    except DomainError as exc:
        return _reading_page_with_error(request, exam_uuid, exc.message, status=exc.status, revise_form=form)
    messages.success(request, DONE_MESSAGES["revise"])
    return redirect("diagnostics:read", exam_uuid=exam.uuid)


@require_POST
@roles_required(READER_ROLES)
@domain_errors
def centre_step(request: HttpRequest, exam_uuid: UUID, action: str) -> HttpResponse:
    """Release the claim (back to the worklist) or return the acquisition to the clinic with a reason."""
    user = request.user
    if action not in ("release", "return"):
        raise NotFound("没有这个操作 (no such action)")
    exam = get_exam(user, exam_uuid, action=action)
    form = (ReasonForm if action == "return" else VersionForm)(request.POST)
    if not form.is_valid():
        error = _("Give a reason.") if "reason" in form.errors else _("The form was incomplete; reload the page.")
        return _reading_page_with_error(request, exam_uuid, error, status=422)
    try:
        if action == "release":
            services.release(user=user, request=exam, expected_version=form.cleaned_data["version"],
                             channel=CHANNEL)
        else:
            services.return_acquisition(user=user, request=exam, reason=form.cleaned_data["reason"],
                                        expected_version=form.cleaned_data["version"], channel=CHANNEL)
    except NotFound:
        raise
    except DomainError as exc:
        return _reading_page_with_error(request, exam_uuid, exc.message, status=exc.status)
    messages.success(request, DONE_MESSAGES[action])
    return redirect("diagnostics:worklist", centre_id=exam.centre_id)


# ---------------------------------------------------------------- the acquisition's files


def _ecg_recording(acquisition: Acquisition) -> Any:
    from . import ecg

    files = [services.UploadedFile(filename=a.filename, media_type=a.media_type, content=bytes(a.blob.content))
             for a in acquisition.attachments.select_related("blob")]
    recording, _kind = ecg.read_upload(files)
    return recording


@roles_required(EXAM_ROLES)
@domain_errors
def tracing(request: HttpRequest, exam_uuid: UUID) -> HttpResponse:
    """The 12-lead tracing as inline SVG (ECG paper grid), loaded into the page by htmx."""
    from . import ecg

    exam = get_exam(request.user, exam_uuid, action="read-tracing")
    acquisition = current_acquisition(exam)
    if acquisition is None or acquisition.kind not in (AcquisitionKind.ECG_WFDB, AcquisitionKind.ECG_CSV):
        raise NotFound("该检查没有心电图 (this exam has no ECG)")
    seconds = 10.0 if request.GET.get("all") != "1" else None
    svg = ecg.render_svg(_ecg_recording(acquisition), seconds=seconds)
    response = HttpResponse(svg, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    return response


@roles_required(EXAM_ROLES)
@domain_errors
def preview(request: HttpRequest, exam_uuid: UUID, instance_id: str) -> HttpResponse:
    """Orthanc's rendering of one instance of the request's study (only an instance of this study; audited
    with the request's read)."""
    from .imaging import OrthancClient

    exam = get_exam(request.user, exam_uuid, action="read-preview")
    known = {i for a in exam.acquisitions.filter(kind=AcquisitionKind.DICOM)
             for s in (a.series or []) for i in (s.get("instances") or [])}
    if instance_id not in known:
        raise NotFound("该检查没有这个影像 (no such image in this exam)")
    try:
        png = OrthancClient().preview_png(instance_id)
    except DomainError as exc:
        return HttpResponse(exc.message, status=exc.status, content_type="text/plain; charset=utf-8")
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


@roles_required(EXAM_ROLES)
@domain_errors
def attachment(request: HttpRequest, exam_uuid: UUID, attachment_uuid: UUID) -> HttpResponse:
    """A file of the request's acquisitions: a slide image shown inline, anything else downloaded."""
    exam = get_exam(request.user, exam_uuid, action="read-attachment")
    found = Attachment.objects.filter(acquisition__request=exam, uuid=attachment_uuid).select_related("blob").first()
    if found is None:
        raise NotFound("未找到该附件 (attachment not found)")
    media_type = found.media_type if found.media_type in INLINE_TYPES else "application/octet-stream"
    response = HttpResponse(bytes(found.blob.content), content_type=media_type)
    disposition = "inline" if media_type in INLINE_TYPES else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{found.filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response


# ---------------------------------------------------------------- turnaround board


def _today_start() -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time.min))


def _board_numbers(centre: Centre, now: dt.datetime) -> dict[str, Any]:
    rows = queries.turnaround(centre, since=_today_start(), until=now, now=now)
    overall = next((r for r in rows if r.priority is None), None)
    by_priority = {r.priority: r for r in rows if r.priority is not None}
    return {
        "overall": overall,
        "priorities": [{"code": p, "label": label, "row": by_priority.get(p), "target": centre.target_minutes(p)}
                       for p, label in reversed(Priority.choices)],
    }


@roles_required(CENTRE_ROLES)
@domain_errors
def board(request: HttpRequest, centre_id: int) -> HttpResponse:
    """The centre's turnaround: waiting now, the oldest wait, today's p50/p95 and share within target per
    priority (htmx refreshes the numbers), and the last two weeks as a chart."""
    centre = get_centre(request.user, centre_id)
    now = timezone.now()
    context = {"centre": centre, "now": now, **_board_numbers(centre, now)}
    if is_fragment_request(request):
        response = TemplateResponse(request, "diagnostics/_board_numbers.html", context)
    else:
        context["all_centres"] = list(queries.centres_for(request.user))
        response = TemplateResponse(request, "diagnostics/board.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@roles_required(CENTRE_ROLES)
@domain_errors
def board_data(request: HttpRequest, centre_id: int) -> HttpResponse:
    """The chart's series: per day of the last two weeks, reported count, p50, p95 and share within target."""
    centre = get_centre(request.user, centre_id)
    now = timezone.now()
    today = _today_start()
    days = []
    for back in range(BOARD_DAYS - 1, -1, -1):
        start = today - dt.timedelta(days=back)
        end = min(start + dt.timedelta(days=1), now)
        overall = next((r for r in queries.turnaround(centre, since=start, until=end, now=now)
                        if r.priority is None), None)
        days.append({
            "day": timezone.localtime(start).strftime("%m-%d"),
            "reported": overall.reported if overall else 0,
            "p50": _round(overall.p50_minutes if overall else None),
            "p95": _round(overall.p95_minutes if overall else None),
            "share": _round(overall.share_within_target * 100 if overall and overall.share_within_target is not None
                            else None),
        })
    return JsonResponse({"centre": centre.name, "target": centre.target_routine_minutes, "days": days,
                         "labels": {"p50": _("median (p50)"), "p95": "p95", "share": _("Within target"),
                                    "reported": _("reported"), "minutes": _("minutes"), "target": _("target")}})


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)

