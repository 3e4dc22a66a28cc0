"""Display helpers of the workstation pages: referral statuses and what is left of a slot."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.translation import get_language

from countycare.records import queries as record_queries
from countycare.referrals.models import ReferralStatus

register = template.Library()


@register.filter
def refstatus(code: str | None) -> str:
    """The translated label of a stored referral status: {{ event.to_status|refstatus }}."""
    if not code:
        return ""
    return str(ReferralStatus(code).label) if code in ReferralStatus.values else code


@register.filter
def slot_open(slot: Any) -> int:
    """Places anyone may book (the capacity outside the reserved share, less what is booked there)."""
    return max(slot.capacity - slot.reserved - slot.booked_general, 0)


@register.filter
def slot_reserved_open(slot: Any) -> int:
    """Places of the reserved share still free for referred patients."""
    return max(slot.reserved - slot.booked_reserved, 0)


@register.filter
def item_url(item: Any) -> str | None:
    """Where a timeline line leads: its own URL, or the encounter page for an encounter and its diagnoses."""
    if item.url:
        return item.url
    encounter = item.obj if item.kind == "encounter" else getattr(item.obj, "encounter", None)
    if encounter is None or not hasattr(encounter, "uuid"):
        return None
    return reverse("workstation:encounter", args=[encounter.uuid])


@register.filter
def observation_value(observation: Any) -> str:
    """"168 mmHg": a measurement as a clinician writes it (the record's own display units)."""
    return record_queries.observation_value(observation)


@register.filter
def in_language(message: str) -> str:
    """A service message is Chinese first with the English in parentheses: show the half of the page's
    language (Chinese keeps the first half, English the part in the last parentheses)."""
    text = str(message)
    cut = text.rfind(" (")
    if cut <= 0 or not text.endswith(")"):
        return text
    return text[cut + 2:-1] if get_language() == "en" else text[:cut]
