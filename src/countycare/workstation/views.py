"""The doctor's workstation: today's patients, a patient's timeline, new encounter with ICD-10 search,
discharge, refer (suggested by the catalogue), the referral inbox, the tracking board, referral detail and
the printable referral letter and care plan.

Thin views: validate the input, make one query or service call, render. Rules live in the `services` of
records and referrals, scope and audit in their `queries`; a DomainError is shown on the page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from countycare.core import idempotency
from countycare.core.codes import OrganizationType, Role
from countycare.core.errors import Conflict, DomainError, InvalidInput, NotFound
from countycare.core.errors import PermissionDenied as DomainPermissionDenied
from countycare.records import queries as record_queries
from countycare.records import services as record_services
from countycare.records.models import Encounter, EncounterKind, EncounterStatus, Icd10Code
from countycare.referrals import queries as referral_queries
from countycare.referrals import services as referral_services
from countycare.referrals import workflow
from countycare.referrals.models import OPEN_STATUSES, Referral, ReferralKind, ReferralStatus
from countycare.registry import queries as registry_queries
from countycare.registry.scope import covered_organization_ids, posted_organization_ids
from countycare.web.access import domain_errors, roles_required

from .access import DOCTOR_ROLES, TIMELINE_ROLES, TRACKING_ROLES
from .forms import (
    AcceptForm,
    BoardFilterForm,
    DischargeForm,
    EncounterForm,
    FollowUpFormSet,
    InboxFilterForm,
    MedicineFormSet,
    OrderFormSet,
    ReasonForm,
    ReferralForm,
    StepForm,
    WalkInForm,
)

CHANNEL = "web"
SEARCH_LIMIT = 12
ICD_LIMIT = 12
TIMELINE_PAGE = 30
TIMELINE_FILTER_ROUNDS = 4  # a filtered timeline reads at most this many pages to fill one
BOARD_PAGE_SIZE = 40
INBOX_LIMIT = 200
STATUS_ORDER = list(ReferralStatus.values)
# Why a page read a record, as the audit trail stores it (Chinese first, like the services' messages).
REASON_TIMELINE = "查看诊疗时间线 (timeline)"
REASON_ENCOUNTER = "新建就诊记录 (new encounter)"
REASON_REFER = "开具转诊 (referral)"
REASON_WORKLIST = "工作列表 (work list)"
# The timeline's filter: a tab and the item kinds it shows (a care plan travels with its referral).
TIMELINE_KINDS = {
    "encounter": (gettext_lazy("Encounters"), {"encounter"}),
    "diagnosis": (gettext_lazy("Diagnoses"), {"diagnosis"}),
    "problem": (gettext_lazy("Problems"), {"problem"}),
    "observation": (gettext_lazy("Results"), {"observation"}),
    "referral": (gettext_lazy("Referrals"), {"referral", "care_plan"}),
}


def is_fragment_request(request: HttpRequest) -> bool:
    """htmx asks for the fragment; a history restore after 'back' needs the whole page."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


def referral_side(user: Any, referral: Referral) -> set[str]:
    """Which side of a referral the user acts on (for the buttons; the service decides). A partner hospital
    has no users here: the lead hospital's office records its steps of an out-of-county referral, and the
    receiving side records a partner's return."""
    if user.role not in DOCTOR_ROLES:
        return set()
    covered = covered_organization_ids(user)
    sides = set()
    if referral.to_organization_id in covered:
        sides.add(workflow.Side.RECEIVER)
    if referral.from_organization_id in covered:
        sides.add(workflow.Side.SENDER)
    if referral.kind == ReferralKind.OUT_OF_COUNTY and workflow.Side.SENDER in sides:
        sides.add(workflow.Side.RECEIVER)
    if workflow.Side.RECEIVER in sides and referral.from_organization.org_type == OrganizationType.PARTNER_HOSPITAL:
        sides.add(workflow.Side.SENDER)
    return sides


# ---------------------------------------------------------------- today's patients


@roles_required(DOCTOR_ROLES)
@domain_errors
def today(request: HttpRequest) -> HttpResponse:
    """Today's encounters at the user's organisations, referrals arriving today and accepted ones still due,
    and a quick search that leads to a patient's timeline."""
    user = request.user
    q = request.GET.get("q", "").strip()[:60]
    found = registry_queries.search_residents(user, q, channel=CHANNEL, limit=SEARCH_LIMIT) if q else []
    if is_fragment_request(request):
        response = TemplateResponse(request, "workstation/_patient_results.html", {"q": q, "rows": found})
        patch_vary_headers(response, ["HX-Request"])
        return response
    day = timezone.localdate()
    encounters = list(record_queries.todays_encounters(user).order_by("-started_at", "-id"))
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    end = start + dt.timedelta(days=1)
    inbox = referral_queries.inbox(user).select_related("booking__slot")
    arriving = list(
        inbox.filter(status=ReferralStatus.ACCEPTED, booking__slot__starts_at__gte=start,
                     booking__slot__starts_at__lt=end)
    )
    arriving_ids = {r.pk for r in arriving}
    due = [r for r in inbox.filter(status=ReferralStatus.ACCEPTED).order_by("due_at")[:50]
           if r.pk not in arriving_ids]
    new_today = inbox.filter(status=ReferralStatus.REQUESTED, requested_at__gte=start).count()
    waiting = inbox.filter(status=ReferralStatus.REQUESTED).count()
    record_queries.audit_encounters(user, encounters, channel=CHANNEL, reason=REASON_WORKLIST)
    referral_queries.audit_listed(user, arriving + due, channel=CHANNEL, reason=REASON_WORKLIST)
    response = TemplateResponse(
        request,
        "workstation/today.html",
        {
            "q": q,
            "rows": found,
            "day": day,
            "encounters": encounters,
            "arriving": arriving,
            "due": due,
            "new_today": new_today,
            "waiting": waiting,
            "walk_in": WalkInForm(user=user),
        },
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


# ---------------------------------------------------------------- a patient's timeline


def _parse_before(value: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidInput("时间格式不正确 (the time is not valid)", field="before")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


def timeline_page(user: Any, resident: Any, *, kind: str, before: dt.datetime | None) -> tuple[list[Any], Any]:
    """One page of the timeline (of one kind if asked) and the cursor of the next page (None: the end).

    A page ends between two moments, never inside one: the items recorded with an encounter share its time,
    and the next page starts just after the last moment shown (`before` is exclusive)."""
    wanted = TIMELINE_KINDS[kind][1] if kind else None
    items: list[Any] = []
    cursor = before
    for _round in range(TIMELINE_FILTER_ROUNDS if kind else 1):
        batch = record_queries.timeline(user, resident, channel=CHANNEL, before=cursor, limit=TIMELINE_PAGE + 1)
        if len(batch) <= TIMELINE_PAGE:  # the rest of the record
            return items + [i for i in batch if wanted is None or i.kind in wanted], None
        batch = batch[:TIMELINE_PAGE]
        last = batch[-1].at
        whole = [i for i in batch if i.at != last] or batch  # one moment with more items than a page: show all
        cursor = whole[-1].at if whole is not batch else last
        items += [i for i in whole if wanted is None or i.kind in wanted]
        if len(items) >= TIMELINE_PAGE:
            break
    return items, cursor


@roles_required(TIMELINE_ROLES)
@domain_errors
def patient(request: HttpRequest, resident_uuid: UUID) -> HttpResponse:
    user = request.user
    resident = registry_queries.get_resident(user, resident_uuid, channel=CHANNEL, reason=REASON_TIMELINE)
    kind = request.GET.get("kind", "")
    if kind not in TIMELINE_KINDS:
        kind = ""
    items, next_before = timeline_page(user, resident, kind=kind, before=_parse_before(request.GET.get("before", "")))
    is_own = user.role == Role.RESIDENT
    context: dict[str, Any] = {
        "resident": resident,
        "items": items,
        "next_before": next_before,
        "kind": kind,
        "kinds": [(k, label) for k, (label, _kinds) in TIMELINE_KINDS.items()],
        "is_own_record": is_own,
        "can_treat": user.role in DOCTOR_ROLES,
    }
    if is_fragment_request(request) and request.GET.get("before"):
        return TemplateResponse(request, "workstation/_timeline_items.html", context)
    context["problems"] = record_queries.active_problems(user, resident)
    context["open_referrals"] = list(
        referral_queries.visible_referrals(user)
        .filter(resident=resident, status__in=OPEN_STATUSES)
        .select_related("from_organization", "to_organization")
        .order_by("-requested_at")
    ) if not is_own else []
    return TemplateResponse(request, "workstation/patient.html", context)


@roles_required({Role.RESIDENT})
def my_timeline(request: HttpRequest) -> HttpResponse:
    """The resident's own timeline in their portal."""
    if request.user.resident_id is None:
        return TemplateResponse(request, "web/no_record.html", {})
    return redirect("workstation:patient", resident_uuid=request.user.resident.uuid)


# ---------------------------------------------------------------- encounters


@roles_required(DOCTOR_ROLES)
@domain_errors
def encounter_new(request: HttpRequest, resident_uuid: UUID) -> HttpResponse:
    user = request.user
    resident = registry_queries.get_resident(user, resident_uuid, channel=CHANNEL, reason=REASON_ENCOUNTER)
    form = EncounterForm(request.POST or None, user=user)
    orders = OrderFormSet(request.POST or None, prefix="order")
    if request.method == "POST" and form.is_valid() and orders.is_valid():
        try:
            encounter = record_services.record_encounter(
                user=user, resident=resident, data=form.encounter_data(orders), channel=CHANNEL
            )
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, _("The encounter was saved."))
            return redirect("workstation:encounter", encounter_uuid=encounter.uuid)
    return TemplateResponse(
        request, "workstation/encounter_form.html", {"resident": resident, "form": form, "orders": orders}
    )


@roles_required(DOCTOR_ROLES)
def icd10_search(request: HttpRequest) -> HttpResponse:
    """The diagnosis autocomplete: code prefix, Chinese name or pinyin initials."""
    q = request.GET.get("dx_q", "").strip()[:30]
    codes = record_queries.search_icd10(q, limit=ICD_LIMIT) if q and "\x00" not in q else []
    return TemplateResponse(request, "workstation/_icd10_results.html", {"q": q, "codes": codes})


@roles_required(DOCTOR_ROLES)
def icd10_pick(request: HttpRequest) -> HttpResponse:
    """Re-render the picked diagnoses with one added or removed (the list travels with the request)."""
    codes: list[str] = []
    for code in request.GET.getlist("diagnosis"):
        code = code.strip().upper()[:10]
        if code and code not in codes:
            codes.append(code)
    add = request.GET.get("add", "").strip().upper()[:10]
    remove = request.GET.get("remove", "").strip().upper()[:10]
    primary = request.GET.get("primary", "").strip().upper()[:10]
    if add and add not in codes and Icd10Code.objects.filter(code=add, active=True).exists():
        codes.append(add)
    if remove in codes:
        codes.remove(remove)
    codes = codes[:12]
    names = dict(Icd10Code.objects.filter(code__in=codes).values_list("code", "name"))
    if primary not in codes:
        primary = codes[0] if codes else ""
    picked = [{"code": c, "name": names.get(c, ""), "primary": c == primary, "known": c in names} for c in codes]
    return TemplateResponse(request, "workstation/_dx_picked.html", {"picked": picked, "clear_search": bool(add)})


def _encounter_context(user: Any, encounter: Encounter) -> dict[str, Any]:
    posted = posted_organization_ids(user)
    is_doctor = user.role in DOCTOR_ROLES
    acting = is_doctor and encounter.organization_id in posted
    codes = [d.code for d in encounter.diagnoses.all()]
    referrals = list(
        referral_queries.visible_referrals(user)
        .filter(source_encounter=encounter)
        .select_related("to_organization")
        .order_by("-requested_at")
    )
    up = down = None
    if acting and not referrals:
        if encounter.status == EncounterStatus.FINISHED and encounter.kind == EncounterKind.INPATIENT:
            down = referral_services.suggest_down_referral(encounter=encounter)
        if down is None and codes:
            up = referral_services.suggest_up_referral(organization=encounter.organization, codes=codes)
    can_discharge = (
        acting and encounter.kind == EncounterKind.INPATIENT and encounter.status == EncounterStatus.IN_PROGRESS
    )
    return {
        "encounter": encounter,
        "resident": encounter.resident,
        "up_suggestion": up,
        "down_suggestion": down,
        "referrals": referrals,
        "can_refer": acting,
        "can_discharge": can_discharge,
        "discharge_form": DischargeForm(
            initial={"ended_at": _discharge_default(encounter), "version": encounter.version}
        ) if can_discharge else None,
    }


def _discharge_default(encounter: Encounter) -> dt.datetime:
    """Now, to the minute the form shows; never before the admission (an admission minutes ago)."""
    now = timezone.localtime().replace(second=0, microsecond=0)
    admitted = timezone.localtime(encounter.started_at).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    return max(now, admitted)


@roles_required(TIMELINE_ROLES - {Role.RESIDENT})
@domain_errors
def encounter_detail(request: HttpRequest, encounter_uuid: UUID) -> HttpResponse:
    encounter = record_queries.get_encounter(request.user, encounter_uuid, channel=CHANNEL)
    return TemplateResponse(request, "workstation/encounter_detail.html", _encounter_context(request.user, encounter))


@require_POST
@roles_required(DOCTOR_ROLES)
@domain_errors
def encounter_discharge(request: HttpRequest, encounter_uuid: UUID) -> HttpResponse:
    user = request.user
    encounter = record_queries.get_encounter(user, encounter_uuid, channel=CHANNEL, reason="出院 (discharge)")
    form = DischargeForm(request.POST)
    if form.is_valid():
        try:
            record_services.discharge_encounter(
                user=user, encounter=encounter, ended_at=form.cleaned_data["ended_at"],
                expected_version=form.cleaned_data["version"], note=form.cleaned_data["note"], channel=CHANNEL,
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The patient was discharged."))
            return redirect("workstation:encounter", encounter_uuid=encounter.uuid)
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("workstation:encounter", encounter_uuid=encounter.uuid)


# ---------------------------------------------------------------- refer


def _referral_initial(user: Any, request: HttpRequest, resident: Any) -> tuple[dict[str, Any], list[dict], Any]:
    """Prefill from the encounter the referral starts from (diagnoses, summary) and the suggestion."""
    initial: dict[str, Any] = {}
    diagnoses: list[dict[str, Any]] = []
    encounter = None
    encounter_uuid = request.GET.get("encounter", "")
    if encounter_uuid:
        encounter = record_queries.get_encounter(user, encounter_uuid, channel=CHANNEL, reason=REASON_REFER)
        if encounter.resident_id != resident.pk:
            raise NotFound("未找到该就诊记录 (encounter not found)")
        initial["source_encounter"] = encounter.uuid
        initial["from_organization"] = encounter.organization_id
        diagnoses = [{"code": d.code, "primary": d.is_primary} for d in encounter.diagnoses.all()]
        summary = [encounter.chief_complaint, encounter.note]
        initial["clinical_summary"] = "\n".join(s for s in summary if s)
        initial["treatment_summary"] = encounter.note
    if request.GET.get("kind") in ReferralKind.values:
        initial["kind"] = request.GET["kind"]
    if request.GET.get("to", "").isdigit():
        initial["to_organization"] = int(request.GET["to"])
    if request.GET.get("urgent") == "1":
        initial["urgent"] = True
    for key in ("reason",):
        if request.GET.get(key):
            initial[key] = request.GET[key][:500]
    return initial, diagnoses, encounter


@roles_required(DOCTOR_ROLES)
@domain_errors
def refer(request: HttpRequest, resident_uuid: UUID) -> HttpResponse:
    """The refer form; GET with ?fragment=targets re-renders the receiving side for the chosen kind."""
    user = request.user
    resident = registry_queries.get_resident(user, resident_uuid, channel=CHANNEL, reason=REASON_REFER)
    if request.method == "GET" and request.GET.get("fragment") == "targets":
        form = ReferralForm(
            initial={k: request.GET.get(k, "") for k in ("kind", "from_organization", "to_organization")}, user=user
        )
        return TemplateResponse(request, "workstation/_referral_targets.html", {"form": form})
    initial, diagnoses, encounter = _referral_initial(user, request, resident)
    if request.method == "POST":
        form = ReferralForm(request.POST, user=user)
        medicines = MedicineFormSet(request.POST, prefix="med")
        follow_up = FollowUpFormSet(request.POST, prefix="fu")
        replayed = _replayed_referral(request, form)
        if replayed is not None:
            return replayed
        if form.is_valid() & medicines.is_valid() & follow_up.is_valid():
            created = _create_referral(request, form, resident, medicines, follow_up)
            if created is not None:
                return created
    else:
        form = ReferralForm(initial=initial, user=user, initial_diagnoses=diagnoses)
        medicines = MedicineFormSet(prefix="med")
        follow_up = FollowUpFormSet(prefix="fu")
    return TemplateResponse(
        request,
        "workstation/referral_form.html",
        {"resident": resident, "form": form, "medicines": medicines, "follow_up": follow_up,
         "encounter": encounter, "problems": record_queries.active_problems(user, resident)},
    )


def submitted(request: HttpRequest) -> bytes:
    """What the form sent, in a stable order and without the CSRF token: the same form sent twice is the
    same request whatever the encoding the browser chose."""
    fields = sorted((k, v) for k, values in request.POST.lists() if k != "csrfmiddlewaretoken" for v in values)
    return urlencode(fields).encode()


def _replayed_referral(request: HttpRequest, form: ReferralForm) -> HttpResponse | None:
    """A second submission of the same rendered form (double click, a retry on a flaky line) gets the first
    answer: the referral it created."""
    key = str(form.data.get("form_token", ""))[:idempotency.MAX_KEY_LENGTH]
    try:
        stored = idempotency.lookup(request.user.pk, key, "POST", request.path, submitted(request))
    except InvalidInput:
        form.add_error(None, _("This form was already sent with other content. Open the refer page again "
                               "to make another referral."))
        return None
    if stored is None:
        return None
    return redirect(stored.headers["Location"])


def _create_referral(request: HttpRequest, form: ReferralForm, resident: Any, medicines: Any,
                     follow_up: Any) -> HttpResponse | None:
    user = request.user
    key = str(form.cleaned_data["form_token"])
    source = None
    if form.cleaned_data.get("source_encounter"):
        source = record_queries.get_encounter(user, form.cleaned_data["source_encounter"], channel=CHANNEL,
                                              reason=REASON_REFER)

    def store_answer(referral: Referral) -> None:
        location = reverse("workstation:referral", args=[referral.uuid])
        idempotency.store(user.pk, key, "POST", request.path, submitted(request),
                          idempotency.StoredResponse(303, {"Location": location}, ""))

    try:
        referral = referral_services.create_referral(
            user=user, resident=resident, channel=CHANNEL, within=store_answer,
            data=form.referral_data(source_encounter=source, medicines=medicines, follow_up=follow_up),
        )
    except Conflict as exc:
        stored = idempotency.lookup(user.pk, key, "POST", request.path, submitted(request))
        if stored is not None:  # the twin of a double click finished first
            return redirect(stored.headers["Location"])
        form.add_domain_error(exc)
        return None
    except DomainError as exc:
        form.add_domain_error(exc)
        return None
    messages.success(request, _("The referral was sent to %(org)s.") % {"org": referral.to_organization.name})
    return redirect("workstation:referral", referral_uuid=referral.uuid)


# ---------------------------------------------------------------- inbox, board, detail


def _with_lists(qs: Any) -> Any:
    return qs.select_related(
        "resident", "from_organization", "to_organization", "to_department", "from_practitioner", "booking__slot"
    )


@roles_required(DOCTOR_ROLES)
@domain_errors
def inbox(request: HttpRequest) -> HttpResponse:
    """Referrals to the user's organisations: green channel first, then the longest waiting."""
    user = request.user
    form = InboxFilterForm(request.GET or None)
    status, kind = "open", ""
    if form.is_valid():
        status = form.cleaned_data["status"] or "open"
        kind = form.cleaned_data["kind"]
    qs = referral_queries.inbox(user, kind=kind or None, status=None if status == "open" else status)
    rows = list(qs.select_related("booking__slot")[:INBOX_LIMIT])
    by_status = dict.fromkeys(OPEN_STATUSES, 0)
    counted = referral_queries.inbox(user).values_list("status").annotate(n=Count("id")).order_by()
    by_status.update(dict(counted))
    referral_queries.audit_listed(user, rows, channel=CHANNEL, reason=REASON_WORKLIST)
    return TemplateResponse(
        request,
        "workstation/inbox.html",
        {"rows": rows, "status": status, "kind": kind, "open_total": sum(by_status.values()), "limit": INBOX_LIMIT,
         "statuses": [(s, ReferralStatus(s).label, by_status[s]) for s in OPEN_STATUSES],
         "closed": [(s, ReferralStatus(s).label) for s in STATUS_ORDER if s in workflow.TERMINAL]},
    )


def board_referrals(user: Any) -> QuerySet[Referral]:
    """The board's rows: the community office follows every referral, a doctor those their side sent."""
    if user.role == Role.COMMUNITY_ADMIN:
        return referral_queries.visible_referrals(user)
    return referral_queries.sent(user)


@roles_required(TRACKING_ROLES)
@domain_errors
def board(request: HttpRequest) -> HttpResponse:
    """Every referral the user's side sent (the whole community for its office) until completion, with
    filters and the count per status."""
    user = request.user
    form = BoardFilterForm(request.GET or None, community_id=user.community_id)
    qs = board_referrals(user)
    status = ""
    if form.is_valid():
        d = form.cleaned_data
        status = d["status"]
        if d["kind"]:
            qs = qs.filter(kind=d["kind"])
        if form.since() is not None:
            qs = qs.filter(requested_at__gte=form.since())
        if d["organization"] is not None:
            qs = qs.filter(Q(from_organization=d["organization"]) | Q(to_organization=d["organization"]))
    counts = dict(qs.values_list("status").annotate(n=Count("id")).order_by())
    if status:
        qs = qs.filter(status=status)
    rows = _with_lists(qs).order_by("-requested_at", "-id")
    page = Paginator(rows, BOARD_PAGE_SIZE).get_page(request.GET.get("page"))
    referral_queries.audit_listed(user, page.object_list, channel=CHANNEL, reason=REASON_WORKLIST)
    return TemplateResponse(
        request,
        "workstation/board.html",
        {"form": form, "page": page, "status": status, "count_total": sum(counts.values()),
         "counts": [(s, label, counts.get(s, 0)) for s, label in ReferralStatus.choices]},
    )


def _referral_context(user: Any, referral: Referral) -> dict[str, Any]:
    sides = referral_side(user, referral)
    actions = [t for t in workflow.allowed_actions(referral.status) if t.side in sides]
    context: dict[str, Any] = {
        "referral": referral,
        "resident": referral.resident,
        "events": referral_queries.referral_events(referral),
        "actions": {t.action: t for t in actions},
        "care_plan": referral_queries.care_plan_of(referral),
        "is_receiver": workflow.Side.RECEIVER in sides,
    }
    if "accept" in context["actions"]:
        context["slots"] = list(
            referral_queries.open_slots(user, organization=referral.to_organization, for_referral=True)
            .select_related("department")[:30]
        )
    if referral.status not in workflow.TERMINAL:
        # the shared record travels with the referral: the receiving side reads it from here
        context["problems"] = record_queries.active_problems(user, referral.resident)
        context["recent"] = record_queries.timeline(user, referral.resident, channel=CHANNEL, limit=8)
    return context


def _get_referral(user: Any, referral_uuid: UUID, reason: str = "") -> Referral:
    return referral_queries.get_referral(user, referral_uuid, channel=CHANNEL, reason=reason)


@roles_required(TRACKING_ROLES)
@domain_errors
def referral_detail(request: HttpRequest, referral_uuid: UUID) -> HttpResponse:
    referral = _get_referral(request.user, referral_uuid)
    return TemplateResponse(request, "workstation/referral_detail.html", _referral_context(request.user, referral))


TRANSITION_FORMS = {"accept": AcceptForm, "reject": ReasonForm, "cancel": ReasonForm, "arrive": StepForm,
                    "complete": StepForm}
DONE_MESSAGES = {
    "accept": gettext_lazy("The referral was accepted."),
    "reject": gettext_lazy("The referral was rejected."),
    "cancel": gettext_lazy("The referral was cancelled."),
    "arrive": gettext_lazy("The patient was marked as arrived."),
    "complete": gettext_lazy("The referral was completed."),
}


@require_POST
@roles_required(DOCTOR_ROLES)
@domain_errors
def referral_transition(request: HttpRequest, referral_uuid: UUID, action: str) -> HttpResponse:
    """Accept (with a slot), reject or cancel (with a reason), arrive, complete. A stale page (someone
    else acted first) gets the service's 409 message on the page and nothing changes."""
    user = request.user
    if action not in TRANSITION_FORMS:
        raise NotFound("没有这个操作 (no such action)")
    referral = _get_referral(user, referral_uuid, reason=f"转诊{action} (referral {action})")
    form = TRANSITION_FORMS[action](request.POST)
    if not form.is_valid():
        error = _("Give a reason.") if "reason" in form.errors else _("The form was incomplete; reload the page.")
        return _referral_page_with_error(request, referral_uuid, error, status=422)
    slot = None
    if action == "accept" and form.cleaned_data.get("slot"):
        slot = referral_queries.open_slots(user, organization=referral.to_organization, for_referral=True).filter(
            uuid=form.cleaned_data["slot"]
        ).first()
        if slot is None:
            return _referral_page_with_error(
                request, referral_uuid, _("That slot is no longer open. Choose another one."), status=409
            )
    try:
        referral_services.transition(
            user=user, referral=referral, action=action, expected_version=form.cleaned_data["version"],
            reason=form.cleaned_data.get("reason", ""), slot=slot, channel=CHANNEL,
        )
    except (NotFound, DomainPermissionDenied):
        raise
    except DomainError as exc:
        return _referral_page_with_error(request, referral_uuid, exc.message, status=exc.status)
    messages.success(request, DONE_MESSAGES[action])
    return redirect("workstation:referral", referral_uuid=referral.uuid)


def _referral_page_with_error(request: HttpRequest, referral_uuid: UUID, error: str, *, status: int) -> HttpResponse:
    """The referral as it is now, with why the step was not taken (nothing changed)."""
    referral = _get_referral(request.user, referral_uuid)
    context = _referral_context(request.user, referral)
    context["action_error"] = error
    return TemplateResponse(request, "workstation/referral_detail.html", context, status=status)


@roles_required(TRACKING_ROLES)
@domain_errors
def referral_letter(request: HttpRequest, referral_uuid: UUID) -> HttpResponse:
    """The printable referral letter (转诊单)."""
    referral = _get_referral(request.user, referral_uuid, reason="打印转诊单 (print referral letter)")
    return TemplateResponse(request, "workstation/referral_letter.html",
                            {"referral": referral, "resident": referral.resident,
                             "care_plan": referral_queries.care_plan_of(referral)})


@roles_required(TRACKING_ROLES)
@domain_errors
def care_plan_print(request: HttpRequest, referral_uuid: UUID) -> HttpResponse:
    """The printable down-referral care plan (下转康复计划)."""
    referral = _get_referral(request.user, referral_uuid, reason="打印康复计划 (print care plan)")
    care_plan = referral_queries.care_plan_of(referral)
    if care_plan is None:
        raise NotFound("该转诊没有康复计划 (this referral has no care plan)")
    return TemplateResponse(request, "workstation/care_plan.html",
                            {"referral": referral, "resident": referral.resident, "care_plan": care_plan})

