"""Scope widens with care: the receiving organisation and doctor of a referral, and the lead-hospital doctor
who follows a down-referred patient, see the resident's record while their CareAccess lasts."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils import timezone

from countycare.core.codes import CLINICAL_ROLES
from countycare.core.scope import register_provider
from countycare.registry.scope import covered_organization_ids

from .models import CareAccess


def granted_resident_ids(user: Any) -> list[int]:
    """Residents of the unexpired CareAccess rows of the user's covered organisations or their practitioner."""
    grantee = Q(organization_id__in=sorted(covered_organization_ids(user)))
    if user.practitioner_id:
        grantee |= Q(practitioner_id=user.practitioner_id)
    now = timezone.now()
    return sorted(set(
        CareAccess.objects.filter(grantee, community_id=user.community_id, starts_at__lte=now, ends_at__gt=now)
        .values_list("resident_id", flat=True)
    ))


@register_provider
def care_access_scope(user: Any) -> Q | None:
    # The ids are read first, not nested as a subquery: inside the scope's OR a subquery would stop PostgreSQL
    # from combining the search indexes (see registry.queries.search_condition).
    if user.role not in CLINICAL_ROLES or not user.community_id:
        return None
    ids = granted_resident_ids(user)
    return Q(pk__in=ids) if ids else None
