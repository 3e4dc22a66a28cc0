"""Display helpers: masked identifiers for lists, ages, labels of stored codes."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from countycare.core.codes import (
    IdentifierType,
    InsuranceScheme,
    KeyPopulation,
    Level,
    OrganizationType,
    PostingKind,
    Role,
    Sex,
    Title,
)

register = template.Library()

LABELS: dict[str, Any] = {
    "role": Role,
    "sex": Sex,
    "title": Title,
    "posting_kind": PostingKind,
    "org_type": OrganizationType,
    "level": Level,
    "tag": KeyPopulation,
    "insurance": InsuranceScheme,
    "identifier": IdentifierType,
}


AUDIT_ACTIONS = {
    "search": _("Search"),
    "read": _("Read"),
    "create": _("Create"),
    "update": _("Update"),
    "merge": _("Merge"),
    "unmerge": _("Undo merge"),
    "duplicate-check": _("Duplicate check"),
    "delete": _("Delete"),
    "export": _("Export"),
    "first-contact": _("First contact (walk-in)"),
}
CHANNELS = {"web": _("Web"), "api": "API", "fhir": "FHIR", "cli": _("Command line")}


@register.filter
def action_label(action: str) -> str:
    return str(AUDIT_ACTIONS.get(action, action))


@register.filter
def channel_label(channel: str) -> str:
    return str(CHANNELS.get(channel, channel))


@register.filter
def mask_id(value: str | None) -> str:
    """330122196005010011 -> 330122********0011: enough to tell people apart in a list."""
    if not value:
        return ""
    if len(value) <= 10:
        return value[:2] + "*" * max(len(value) - 4, 0) + value[-2:]
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


@register.filter
def mask_phone(value: str | None) -> str:
    """13800000001 -> 138****0001."""
    if not value:
        return ""
    if len(value) < 7:
        return value
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


@register.filter
def age(birth_date: dt.date | None) -> int | str:
    if not birth_date:
        return ""
    today = timezone.localdate()
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


@register.filter
def label(code: str | None, kind: str) -> str:
    """The translated display of a stored code: {{ posting.kind|label:"posting_kind" }}."""
    if not code:
        return ""
    enum = LABELS[kind]
    return str(enum(code).label) if code in enum.values else code


@register.simple_tag(takes_context=True)
def query_with(context: Any, **changes: Any) -> str:
    """The current query string with some parameters replaced (pagination links keep the filters)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return "?" + encoded if encoded else "?"


@register.filter
def minutes(delta: dt.timedelta | None) -> int:
    return int(delta.total_seconds() // 60) if delta else 0


@register.filter
def resident_url(resident_uuid: object) -> str:
    """The profile URL of a resident UUID as the audit trail stores it ("" if it is not a UUID)."""
    try:
        return reverse("registry:resident_detail", args=[uuid.UUID(str(resident_uuid))])
    except ValueError:
        return ""


BILINGUAL = re.compile(r"^(?P<zh>.*[\u4e00-\u9fff].*?)\s*\((?P<en>[\x20-\x7e]+)\)\s*$", re.S)


@register.filter
def in_language(text: str | None) -> str:
    """A system-written "中文 (English)" text (an expiry reason, a service message) in the page's language: the
    Chinese half on a Chinese page, the English half on an English one. Anything else — what a person typed —
    is shown as written."""
    match = BILINGUAL.match(text or "")
    if match is None:
        return text or ""
    return match["en"] if (get_language() or "").startswith("en") else match["zh"]
