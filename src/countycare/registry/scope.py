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

from django.db import connection
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


def covered_organization_ids(user: Any) -> frozenset[int]:
    """Posted organisations plus the village clinics under any posted township-level organisation.

    One query (the postings, the posted organisations' village clinics), kept on the user object for the day:
    an API request loads its user afresh, so the cache lasts one request there."""
    today = timezone.localdate()
    cached = getattr(user, "_covered_org_ids", None)
    if cached is not None and cached[0] == today:
        return cached[1]
    ids = frozenset(_covered_ids(user, today))
    user._covered_org_ids = (today, ids)
    return ids


def _covered_ids(user: Any, on: dt.date) -> list[int]:
    """`posted_organization_ids` and the village clinics under its township-level organisations, in one query."""
    ops = connection.ops
    org, posting, end = (ops.quote_name(Organization._meta.db_table), ops.quote_name(Posting._meta.db_table),
                         ops.quote_name("end"))
    sql = f"""
        WITH posted (id) AS (
            SELECT id FROM {org} WHERE id = %s
            UNION
            SELECT organization_id FROM {posting}
            WHERE practitioner_id = %s AND start <= %s AND ({end} IS NULL OR {end} >= %s)
        )
        SELECT id FROM posted
        UNION
        SELECT village.id FROM {org} village JOIN {org} township ON township.id = village.parent_id
        WHERE township.level = %s AND township.id IN (SELECT id FROM posted)"""
    day = ops.adapt_datefield_value(on)
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.organization_id, user.practitioner_id, day, day, Level.TOWNSHIP.value])
        return [row[0] for row in cursor.fetchall()]


def base_scope_covers(user: Any, resident: Any) -> bool:
    """Whether the base rule alone shows this (unmerged) resident to a clinician or manager, decided from the
    organisations they cover without a query over residents. False means "not by this rule": other providers
    may still grant the resident, so callers then ask `visible_residents`."""
    if not user.is_active or not user.community_id or resident.community_id != user.community_id:
        return False
    if resident.merged_into_id is not None:
        return False
    if user.role in COMMUNITY_WIDE_ROLES:
        return True
    return user.role in CLINICAL_ROLES and resident.home_organization_id in covered_organization_ids(user)


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
