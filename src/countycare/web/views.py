"""Pages that belong to no single domain app: the role home, a resident's own entry, the audit trail."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone

from countycare.assessment import queries as assessment_queries
from countycare.core.codes import AGGREGATE_ONLY_ROLES, CLINICAL_ROLES, KeyPopulation, OrganizationType, Role
from countycare.core.models import AuditEvent
from countycare.diagnostics import queries as diagnostics_queries
from countycare.diagnostics.access import REQUESTER_ROLES as EXAM_REQUESTER_ROLES
from countycare.diagnostics.models import OPEN_EXAM_STATUSES, ExamStatus
from countycare.referrals import queries as referral_queries
from countycare.referrals.models import OPEN_STATUSES, Referral, ReferralKind, ReferralStatus
from countycare.registry.models import Organization, ResidentTag
from countycare.registry.queries import visible_residents
from countycare.registry.scope import covered_organization_ids
from countycare.workstation.access import DOCTOR_ROLES

from .access import ADMIN_ROLES, PATIENT_ROLES, REGISTER_ROLES, roles_required
from .forms import AuditFilterForm

AUDIT_PAGE_SIZE = 50
# The bureau's home: the assessment's headline numbers (the dashboard has the rest).
BUREAU_HEADLINE = ("county_visit_rate", "grassroots_visit_share", "in_county_inpatient_share",
                   "out_of_county_inpatient_share_change", "lead_down_referral_share", "inpatient_cost_per_stay",
                   "exam_within_target_share", "branches_without_posted_senior")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.role == Role.RESIDENT:
        return redirect("my_record")
    if user.role in AGGREGATE_ONLY_ROLES:
        period = assessment_queries.parse_period(user.community_id, None)
        headline = [s for s in assessment_queries.headline(user.community_id, period)
                    if s.indicator.code in BUREAU_HEADLINE] if period else []
        return TemplateResponse(request, "web/home_bureau.html", {
            "org_counts": _org_counts(user.community_id), "period": period, "headline": headline})
    context: dict[str, object] = {
        "can_register": user.role in REGISTER_ROLES,
        "can_search": user.role in PATIENT_ROLES,
    }
    if user.role in PATIENT_ROLES:
        in_scope = visible_residents(user)
        by_tag = dict(
            ResidentTag.objects.filter(resident__in=in_scope).values_list("tag").annotate(n=Count("id")).order_by()
        )
        context["resident_total"] = in_scope.count()
        context["tag_counts"] = [(tag, label, by_tag.get(tag, 0)) for tag, label in KeyPopulation.choices]
    if user.role in DOCTOR_ROLES:
        context["referral_counts"] = _referral_counts(user)
    if user.role in EXAM_REQUESTER_ROLES:
        context["exam_counts"] = _exam_counts(user)
    if user.role == Role.COMMUNITY_ADMIN:
        context["community_referrals"] = _community_referrals(user.community_id)
    if user.role in CLINICAL_ROLES:
        context["home_period"], context["home_numbers"] = assessment_queries.home_numbers(user)
        context["covered"] = Organization.objects.filter(id__in=covered_organization_ids(user)).order_by(
            "division_code", "id"
        )
    else:
        context["org_counts"] = _org_counts(user.community_id)
    return TemplateResponse(request, "web/home.html", context)


def _referral_counts(user: object) -> dict[str, int]:
    """What waits for a doctor: referrals to answer in the inbox, and their side's referrals still open."""
    return {
        "inbox_waiting": referral_queries.inbox(user, status=ReferralStatus.REQUESTED).count(),
        "inbox_expected": referral_queries.inbox(user, status=ReferralStatus.ACCEPTED).count(),
        "sent_open": referral_queries.sent(user, status=OPEN_STATUSES).count(),
    }


def _community_referrals(community_id: int | None, days: int = 30) -> dict[str, object]:
    """The community office's view of referral traffic in the last `days`: each kind by status (aggregates)."""
    since = timezone.now() - dt.timedelta(days=days)
    counts = dict.fromkeys(ReferralKind.values, None)
    for kind in counts:
        counts[kind] = dict.fromkeys(ReferralStatus.values, 0)
    rows = (Referral.objects.filter(community_id=community_id, requested_at__gte=since)
            .values_list("kind", "status").annotate(n=Count("id")).order_by())
    for kind, status, n in rows:
        counts[kind][status] = n
    return {"days": days, "statuses": ReferralStatus.choices,
            "rows": [(label, [counts[kind][s] for s in ReferralStatus.values], sum(counts[kind].values()))
                     for kind, label in ReferralKind.choices]}


def _exam_counts(user: object) -> dict[str, int]:
    """The clinic's exams: critical values to acknowledge, exams still open, reports of the last day."""
    mine = diagnostics_queries.requested_by(user)
    return {
        "alerts": diagnostics_queries.open_alerts(user).count(),
        "open": mine.filter(status__in=OPEN_EXAM_STATUSES).count(),
        "to_acquire": mine.filter(status__in=(ExamStatus.REQUESTED, ExamStatus.RETURNED)).count(),
        "reported_today": mine.filter(status=ExamStatus.PUBLISHED,
                                      reported_at__gte=timezone.now() - dt.timedelta(days=1)).count(),
    }


def _org_counts(community_id: int | None) -> list[tuple[str, str, int]]:
    by_type = dict(
        Organization.objects.filter(community_id=community_id, active=True)
        .values_list("org_type")
        .annotate(n=Count("id"))
        .order_by()
    )
    return [(code, label, by_type[code]) for code, label in OrganizationType.choices if by_type.get(code)]


@login_required
def my_record(request: HttpRequest) -> HttpResponse:
    """A resident's entry point: their own profile (a staff user has no 'own record' here)."""
    user = request.user
    if user.role != Role.RESIDENT:
        return redirect("home")
    if user.resident_id is None:
        return TemplateResponse(request, "web/no_record.html", {})
    return redirect("registry:resident_detail", resident_uuid=user.resident.uuid)


@roles_required(ADMIN_ROLES)
def audit_log(request: HttpRequest) -> HttpResponse:
    """The community's audit trail, newest first, filtered by user, action, resident and day."""
    form = AuditFilterForm(request.GET or None)
    events = AuditEvent.objects.filter(community_id=request.user.community_id)
    if form.is_valid():
        events = form.apply(events)
    page = Paginator(events.order_by("-id"), AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    return TemplateResponse(request, "web/audit_log.html", {"form": form, "page": page})
