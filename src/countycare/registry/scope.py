"""Base scope rule: where a user works decides whose records they see.

- clinicians: residents whose home organisation is the user's organisation or one they are currently
  posted to; a posting at a branch (township level) also covers the village clinics under it;
- community administrators, CDC and insurance officers: the whole community;
- the health bureau: aggregates only, no individual records;
- a resident: their own record.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q
from django.utils import timezone

from countycare.core.codes import CLINICAL_ROLES, COMMUNITY_WIDE_ROLES, Level, Role
from countycare.core.scope import register_provider

from .models import Organization, Posting


def posted_organization_ids(user: Any, on: dt.date | None = None) -> set[int]:
    """The user's organisation and those of their postings in force on a day."""
    on = on or timezone.localdate()
    ids: set[int] = {user.organization_id} if user.organization_id else set()
    if user.practitioner_id:
        ids |= set(
            Posting.objects.filter(practitioner_id=user.practitioner_id, start__lte=on)
            .filter(Q(end__isnull=True) | Q(end__gte=on))
            .values_list("organization_id", flat=True)
        )
    return ids


def covered_organization_ids(user: Any) -> set[int]:
    """Posted organisations plus the village clinics under any posted township-level organisation."""
    cached = getattr(user, "_covered_org_ids", None)
    if cached is not None:
        return cached
    posted = posted_organization_ids(user)
    townships = Organization.objects.filter(id__in=posted, level=Level.TOWNSHIP).values_list("id", flat=True)
    villages = set(Organization.objects.filter(parent_id__in=list(townships)).values_list("id", flat=True))
    user._covered_org_ids = posted | villages
    return user._covered_org_ids


@register_provider
def base_scope(user: Any) -> Q | None:
    if user.role == Role.RESIDENT:
        return Q(pk=user.resident_id) if user.resident_id else None
    if user.role in COMMUNITY_WIDE_ROLES and user.community_id:
        return Q(community_id=user.community_id)
    if user.role in CLINICAL_ROLES:
        orgs = covered_organization_ids(user)
        # community_id is redundant for the result but lets the search indexes (which lead with it) apply
        return Q(community_id=user.community_id, home_organization_id__in=sorted(orgs)) if orgs else None
    return None
