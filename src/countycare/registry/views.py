"""Registry pages: find, read, register, edit and merge residents; the organisation tree and practitioners.

Thin views: validate the input, make one query or service call, render. Rules live in `services`, scope
and audit in `queries`; a DomainError is shown in the form or as a 4xx page.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q, prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from countycare.core.codes import Role
from countycare.core.errors import DomainError, NotFound, PreconditionFailed
from countycare.core.models import AuditEvent
from countycare.web.access import (
    ADMIN_ROLES,
    MANAGER_ROLES,
    PATIENT_ROLES,
    REGISTER_ROLES,
    domain_errors,
    roles_required,
)

from . import queries, services
from .forms import (
    IdentifierFormSet,
    MergeForm,
    PractitionerFilterForm,
    ResidentEditForm,
    ResidentForm,
    UnmergeForm,
    identifier_initial,
)

SEARCH_LIMIT = 20
AUDIT_TRAIL_LIMIT = 100
PRACTITIONER_PAGE_SIZE = 50
POSTING_PAGE_SIZE = 100
READ_ACTIONS = ("read", "search", "duplicate-check")
# Why a page read a record, as the audit trail stores it (Chinese first, like the services' messages).
REASON_EDIT = "编辑档案 (edit)"
REASON_MERGE = "合并档案 (merge)"
REASON_DUPLICATE_CHECK = "疑似重复核对 (duplicate check)"


def is_fragment_request(request: HttpRequest) -> bool:
    """htmx asks for the fragment; a history restore after 'back' needs the whole page."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


# ---------------------------------------------------------------- residents


@roles_required(PATIENT_ROLES)
@domain_errors
def resident_search(request: HttpRequest) -> HttpResponse:
    """One URL for the search page and, when htmx asks, for its results table alone."""
    q = request.GET.get("q", "").strip()[:60]
    rows = queries.search_residents(request.user, q, channel="web", limit=SEARCH_LIMIT) if q else []
    prefetch_related_objects(rows, "tags")
    template = "registry/_resident_results.html" if is_fragment_request(request) else "registry/resident_search.html"
    response = TemplateResponse(
        request,
        template,
        {
            "q": q,
            "rows": rows,
            "limit_reached": len(rows) >= SEARCH_LIMIT,
            "can_register": request.user.role in REGISTER_ROLES,
        },
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


@roles_required(PATIENT_ROLES | {Role.RESIDENT})
@domain_errors
def resident_detail(request: HttpRequest, resident_uuid: UUID) -> HttpResponse:
    user = request.user
    resident = queries.get_resident(user, resident_uuid, channel="web", include_merged=True)
    is_admin = user.role in ADMIN_ROLES
    context: dict[str, Any] = {
        "resident": resident,
        "household": queries.household_members(user, resident, channel="web") if not resident.is_merged else [],
        "is_own_record": user.role == Role.RESIDENT,
        "can_edit": user.role in REGISTER_ROLES and not resident.is_merged,
        "can_merge": is_admin and not resident.is_merged,
        "show_audit": is_admin,
    }
    if is_admin:
        context.update(_audit_trail(user, resident, changes_only=request.GET.get("audit") == "changes"))
    return TemplateResponse(request, "registry/resident_detail.html", context)


def _audit_trail(user: Any, resident: Any, *, changes_only: bool) -> dict[str, Any]:
    """The resident's audit entries (as subject, or as the record folded in by a merge), newest first,
    and which merges were already undone."""
    key = str(resident.uuid)
    events = AuditEvent.objects.filter(community_id=user.community_id).filter(Q(resident_id=key) | Q(object_id=key))
    if changes_only:
        events = events.exclude(action__in=READ_ACTIONS)
    events = list(events.order_by("-id")[:AUDIT_TRAIL_LIMIT])
    merge_ids = [e.pk for e in events if e.action == "merge"]
    undone = (
        {
            e.detail.get("merge_event")
            for e in AuditEvent.objects.filter(action="unmerge", detail__merge_event__in=merge_ids).only("detail")
        }
        if merge_ids
        else set()
    )
    return {
        "audit_events": events,
        "undone_merges": undone,
        "audit_changes_only": changes_only,
        "audit_limit": AUDIT_TRAIL_LIMIT,
    }


@roles_required(REGISTER_ROLES)
def resident_register(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = ResidentForm(request.POST or None, user=user)
    identifiers = IdentifierFormSet(request.POST or None, prefix="ident")
    candidates: list[services.DuplicateCandidate] = []
    if request.method == "POST" and form.is_valid() and identifiers.is_valid():
        try:
            resident = services.register_resident(
                user=user,
                data=form.resident_data(identifiers),
                channel="web",
                confirmed_not_duplicate=request.POST.get("confirm_not_duplicate") == "1",
            )
        except services.DuplicateSuspected as exc:
            candidates = exc.candidates
            form.add_error(None, exc.message)
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, _("Registered %(name)s.") % {"name": resident.name})
            return redirect("registry:resident_detail", resident_uuid=resident.uuid)
    return TemplateResponse(
        request,
        "registry/resident_form.html",
        {
            "form": form,
            "identifiers": identifiers,
            "is_edit": False,
            **_duplicate_context(user, candidates),
        },
    )


def _duplicate_context(user: Any, candidates: list[services.DuplicateCandidate]) -> dict[str, Any]:
    """The candidates (the service audited showing them); only those in the user's scope are linked."""
    if not candidates:
        return {"candidates": []}
    shown = [c.resident.pk for c in candidates]
    linkable = set(queries.visible_residents(user).filter(pk__in=shown).values_list("pk", flat=True))
    return {"candidates": candidates, "linkable": linkable}


@roles_required(REGISTER_ROLES)
@domain_errors
def resident_edit(request: HttpRequest, resident_uuid: UUID) -> HttpResponse:
    user = request.user
    resident = queries.get_resident(user, resident_uuid, channel="web", reason=REASON_EDIT)
    stale = False
    if request.method == "POST":
        form = ResidentEditForm(request.POST, user=user, extra_organization=resident.home_organization)
        identifiers = IdentifierFormSet(request.POST, prefix="ident")
        if form.is_valid() and identifiers.is_valid():
            try:
                services.update_resident(
                    user=user,
                    resident=resident,
                    data=form.resident_data(identifiers),
                    channel="web",
                    expected_version=form.cleaned_data["version"],
                )
            except PreconditionFailed as exc:
                stale = True
                form.add_error(None, exc.message)
            except DomainError as exc:
                form.add_domain_error(exc)
            else:
                messages.success(request, _("Saved the changes to %(name)s.") % {"name": resident.name})
                return redirect("registry:resident_detail", resident_uuid=resident.uuid)
    else:
        form = ResidentEditForm(
            initial=ResidentEditForm.initial_for(resident),
            user=user,
            extra_organization=resident.home_organization,
        )
        identifiers = IdentifierFormSet(initial=identifier_initial(resident), prefix="ident")
    return TemplateResponse(
        request,
        "registry/resident_form.html",
        {
            "form": form,
            "identifiers": identifiers,
            "is_edit": True,
            "resident": resident,
            "stale": stale,
            "candidates": [],
        },
    )


@roles_required(ADMIN_ROLES)
@domain_errors
def resident_merge(request: HttpRequest, resident_uuid: UUID) -> HttpResponse:
    """Fold a duplicate into this record: choose it (likely duplicates or search), give a reason, confirm."""
    user = request.user
    survivor = queries.get_resident(user, resident_uuid, channel="web", reason=REASON_MERGE)
    form = MergeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            duplicate = queries.get_resident(user, form.cleaned_data["duplicate"], channel="web", reason=REASON_MERGE)
            services.merge_residents(
                user=user,
                survivor=survivor,
                duplicate=duplicate,
                reason=form.cleaned_data["reason"],
                channel="web",
            )
        except NotFound as exc:
            form.add_error("duplicate", exc.message)
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(
                request,
                _("Merged %(duplicate)s into this record. The merge can be undone from the audit trail.")
                % {"duplicate": duplicate.name},
            )
            return redirect("registry:resident_detail", resident_uuid=survivor.uuid)
    q = request.GET.get("q", "").strip()[:60]
    likely = services.show_likely_duplicates(
        user=user,
        channel="web",
        reason=REASON_DUPLICATE_CHECK,
        name=survivor.name,
        birth_date=survivor.birth_date,
        sex=survivor.sex,
        village_code=survivor.village_code,
        phone=survivor.phone,
        exclude_id=survivor.pk,
    )
    likely_ids = {c.resident.pk for c in likely}
    found = (
        [r for r in queries.search_residents(user, q, channel="web") if r.pk != survivor.pk and r.pk not in likely_ids]
        if q
        else []
    )
    return TemplateResponse(
        request,
        "registry/resident_merge.html",
        {
            "resident": survivor,
            "form": form,
            "likely": likely,
            "found": found,
            "q": q,
            "chosen": str(form["duplicate"].value() or ""),
        },
    )


@require_POST
@roles_required(ADMIN_ROLES)
def resident_unmerge(request: HttpRequest, resident_uuid: UUID) -> HttpResponse:
    form = UnmergeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason to undo the merge."))
    else:
        try:
            event = services.unmerge_residents(
                user=request.user,
                merge_event_id=form.cleaned_data["event"],
                reason=form.cleaned_data["reason"],
                channel="web",
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The merge was undone: both records exist again."))
            return redirect("registry:resident_detail", resident_uuid=event.detail["restored"])
    return redirect("registry:resident_detail", resident_uuid=resident_uuid)


# ---------------------------------------------------------------- organisations and practitioners


@roles_required(MANAGER_ROLES)
def organization_tree(request: HttpRequest) -> HttpResponse:
    return TemplateResponse(
        request,
        "registry/organization_tree.html",
        {"roots": queries.organization_tree(request.user.community_id)},
    )


@roles_required(MANAGER_ROLES)
@domain_errors
def organization_page(request: HttpRequest, org_uuid: UUID) -> HttpResponse:
    """Departments, units below, and the postings: those in force today, or all of them with ?postings=all."""
    org = queries.organization_detail(request.user.community_id, org_uuid)
    today = timezone.localdate()
    show_all = request.GET.get("postings") == "all"
    postings = queries.organization_postings(org)
    if not show_all:
        postings = postings.filter(start__lte=today).filter(Q(end__isnull=True) | Q(end__gte=today))
    page = Paginator(postings, POSTING_PAGE_SIZE).get_page(request.GET.get("page"))
    return TemplateResponse(
        request,
        "registry/organization_detail.html",
        {"org": org, "page": page, "show_all": show_all, "today": today},
    )


@roles_required(MANAGER_ROLES)
def practitioner_list(request: HttpRequest) -> HttpResponse:
    community_id = request.user.community_id
    form = PractitionerFilterForm(request.GET or None, community_id=community_id)
    filters: dict[str, Any] = {}
    if form.is_valid():
        filters = {
            "query": form.cleaned_data["q"].strip(),
            "title": form.cleaned_data["title"],
            "organization": form.cleaned_data["organization"],
        }
    page = Paginator(queries.practitioners(community_id, **filters), PRACTITIONER_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return TemplateResponse(
        request,
        "registry/practitioner_list.html",
        {"form": form, "page": page, "today": timezone.localdate()},
    )


@roles_required(MANAGER_ROLES)
def practitioner_page(request: HttpRequest, practitioner_uuid: UUID) -> HttpResponse:
    practitioner = queries.practitioners(request.user.community_id).filter(uuid=practitioner_uuid).first()
    if practitioner is None:
        raise Http404(_("Practitioner not found."))
    return TemplateResponse(
        request,
        "registry/practitioner_detail.html",
        {"practitioner": practitioner, "today": timezone.localdate()},
    )
