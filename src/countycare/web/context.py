"""The navigation every page shows: which items a role gets, and which one is current."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from countycare.core.codes import Role
from countycare.diagnostics.access import CENTRE_NAV_ROLES, REQUESTER_ROLES
from countycare.workstation.access import DOCTOR_ROLES, TRACKING_ROLES

from .access import ADMIN_ROLES, MANAGER_ROLES, PATIENT_ROLES, REGISTER_ROLES, STAFF_ROLES


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url_name: str
    roles: frozenset[str] | None  # None: every role of this navigation
    icon: str  # a name drawn by web/_icon.html
    exact: bool = False  # current only on its own URL, not on the pages below it
    not_under: str = ""  # a page below this URL that belongs to another item


STAFF_NAV = (
    NavItem(_("Home"), "home", None, "home", exact=True),
    NavItem(_("Workstation"), "workstation:today", DOCTOR_ROLES, "workstation"),
    NavItem(_("Referral inbox"), "workstation:inbox", DOCTOR_ROLES, "inbox"),
    NavItem(_("Referral tracking"), "workstation:board", TRACKING_ROLES, "board", not_under="workstation:inbox"),
    NavItem(_("Exam requests"), "diagnostics:requests", REQUESTER_ROLES, "exam"),
    NavItem(_("Diagnostic centres"), "diagnostics:centres", CENTRE_NAV_ROLES, "centre"),
    NavItem(
        _("Find residents"),
        "registry:resident_search",
        PATIENT_ROLES,
        "search",
        not_under="registry:resident_register",
    ),
    NavItem(_("Register resident"), "registry:resident_register", REGISTER_ROLES, "register"),
    NavItem(_("Assessment"), "assessment:dashboard", STAFF_ROLES, "chart"),
    NavItem(_("Organisations"), "registry:organization_tree", MANAGER_ROLES, "tree"),
    NavItem(_("Practitioners"), "registry:practitioner_list", MANAGER_ROLES, "people"),
    NavItem(_("Audit trail"), "audit_log", ADMIN_ROLES, "audit"),
)
RESIDENT_NAV = (
    NavItem(_("My record"), "my_record", None, "record", exact=True),
    NavItem(_("My health timeline"), "workstation:my_timeline", None, "timeline"),
)


def nav_items(user: Any, path: str) -> list[dict[str, Any]]:
    if user.role == Role.RESIDENT:
        # a resident has their own record: the profile, and the timeline (under /patients/<their uuid>/)
        timeline = path.startswith("/patients/")
        return [
            {"label": item.label, "url": reverse(item.url_name), "icon": item.icon,
             "active": timeline == (item.icon == "timeline")}
            for item in RESIDENT_NAV
        ]
    result = []
    for item in STAFF_NAV:
        if item.roles is not None and user.role not in item.roles:
            continue
        url = reverse(item.url_name)
        active = path == url if item.exact else path.startswith(url)
        if item.not_under and path.startswith(reverse(item.not_under)):
            active = False
        result.append({"label": item.label, "url": url, "icon": item.icon, "active": active})
    return result


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    return {
        "nav_items": nav_items(user, request.path),
        "user_role_label": Role(user.role).label if user.role in Role.values else "",
    }
