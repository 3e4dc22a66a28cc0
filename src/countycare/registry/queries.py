"""Scoped reads of the registry. Every function that returns resident data filters through the scope and
writes the audit trail; callers pass the channel (web / api / fhir) they serve."""

from __future__ import annotations

import re
import uuid as uuid_lib
from collections.abc import Iterable
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from countycare.core import audit
from countycare.core.codes import AGGREGATE_ONLY_ROLES
from countycare.core.errors import InvalidInput, NotFound, PermissionDenied
from countycare.core.scope import resident_filter

from .models import Organization, Posting, Practitioner, Resident, ResidentIdentifier

DIGITS = re.compile(r"^\d{3,17}[\dXx]?$")
LATIN = re.compile(r"^[A-Za-z]+$")


def visible_residents(user: Any, *, include_merged: bool = False) -> QuerySet[Resident]:
    """Residents this user may see (no audit: callers that hand out rows audit what they hand out)."""
    qs = Resident.objects.filter(resident_filter(user))
    if not include_merged:
        qs = qs.filter(merged_into__isnull=True)
    return qs


def require_patient_access(user: Any) -> None:
    if user.role in AGGREGATE_ONLY_ROLES:
        raise PermissionDenied(
            "卫健局账号只能查看汇总指标，不能查看个人档案 (the bureau sees aggregates, not individual records)"
        )


def search_condition(query: str) -> Q | None:
    """How a typed query is read: digits -> national ID or phone prefix; Latin letters -> pinyin initials
    or full pinyin prefix; anything else -> name prefix. Other identifiers (passport...) match exactly."""
    q = "".join(query.split())
    if not q:
        return None
    if "\x00" in q:  # PostgreSQL cannot compare text holding NUL: a database error, not "no match"
        raise InvalidInput("搜索内容含空字符 (the search text contains a NUL character)", field="q")
    if DIGITS.match(q) or LATIN.match(q):
        # Looked up first, not as a subquery inside the OR: a subquery there makes PostgreSQL scan every
        # resident instead of combining the prefix indexes (benchmarks/search_residents.py).
        identified = list(ResidentIdentifier.objects.filter(value=q.upper()).values_list("resident_id", flat=True)[:50])
        exact_identifier = Q(pk__in=identified) if identified else Q(pk__in=[])
    if DIGITS.match(q):
        return Q(national_id__startswith=q.upper()) | Q(phone__startswith=q) | exact_identifier
    if LATIN.match(q):
        low = q.lower()
        return Q(name_initials__startswith=low) | Q(name_pinyin__startswith=low) | exact_identifier
    return Q(name__startswith=q)


def audit_residents(user: Any, residents: Iterable[Resident], *, action: str, channel: str, reason: str = "",
                    detail: dict[str, Any] | None = None) -> None:
    actor = audit.Actor.of(user, channel)
    audit.record_many(
        actor,
        [
            audit.Entry(action, "Resident", str(r.uuid), resident_id=str(r.uuid), reason=reason, detail=detail or {})
            for r in residents
        ],
    )


def search_residents(user: Any, query: str, *, channel: str, limit: int = 20, reason: str = "") -> list[Resident]:
    require_patient_access(user)
    condition = search_condition(query)
    if condition is None:
        return []
    rows = list(
        visible_residents(user)
        .filter(condition)
        .select_related("home_organization")
        .order_by("name_initials", "name", "id")[:limit]
    )
    audit_residents(user, rows, action="search", channel=channel, reason=reason, detail={"query": query[:60]})
    return rows


def parse_uuid(value: object) -> uuid_lib.UUID:
    try:
        return uuid_lib.UUID(str(value))
    except ValueError:
        raise NotFound("未找到该居民 (resident not found)") from None


def get_resident(user: Any, resident_uuid: object, *, channel: str, action: str = "read", reason: str = "",
                 include_merged: bool = False) -> Resident:
    """One resident in the user's scope, with what a profile shows; 404 outside scope (no existence leak)."""
    require_patient_access(user)
    resident = (
        visible_residents(user, include_merged=include_merged)
        .select_related("home_organization__parent", "household", "merged_into")
        .prefetch_related("tags", "identifiers")
        .filter(uuid=parse_uuid(resident_uuid))
        .first()
    )
    if resident is None:
        raise NotFound("未找到该居民，或不在您的管辖范围内 (resident not found or outside your scope)")
    audit_residents(user, [resident], action=action, channel=channel, reason=reason)
    return resident


def household_members(user: Any, resident: Resident, *, channel: str) -> list[Resident]:
    """The other members of a resident's household that the user may see (audited as reads)."""
    if not resident.household_id:
        return []
    members = list(visible_residents(user).filter(household_id=resident.household_id).exclude(pk=resident.pk)
                   .order_by("birth_date"))
    audit_residents(user, members, action="read", channel=channel, reason="household of " + str(resident.uuid))
    return members


def organization_tree(community_id: int) -> list[dict[str, Any]]:
    """The community as nested dicts: roots (lead hospital, CDC, MCH...) with their children."""
    orgs = list(
        Organization.objects.filter(community_id=community_id)
        .only("id", "uuid", "name", "short_name", "org_type", "level", "parent_id", "division_code", "is_member")
        .order_by("division_code", "id")
    )
    nodes = {o.id: {"org": o, "children": []} for o in orgs}
    roots = []
    for o in orgs:
        parent = nodes.get(o.parent_id) if o.parent_id else None
        (parent["children"] if parent else roots).append(nodes[o.id])
    type_order = ["lead_hospital", "tcm_hospital", "cdc", "mch", "private_clinic", "partner_hospital"]
    roots.sort(key=lambda n: (type_order.index(n["org"].org_type) if n["org"].org_type in type_order else 9))
    return roots


def organization_detail(community_id: int, org_uuid: object) -> Organization:
    org = (
        Organization.objects.filter(community_id=community_id, uuid=parse_uuid(org_uuid))
        .select_related("parent")
        .prefetch_related("departments", "children")
        .first()
    )
    if org is None:
        raise NotFound("未找到该机构 (organisation not found)")
    return org


def organization_postings(org: Organization) -> QuerySet[Posting]:
    return (
        Posting.objects.filter(organization=org)
        .select_related("practitioner", "department")
        .order_by("practitioner__name", "-start")
    )


def practitioners(community_id: int, *, query: str = "", organization: Organization | None = None,
                  title: str = "") -> QuerySet[Practitioner]:
    qs = Practitioner.objects.filter(community_id=community_id)
    if query:
        qs = qs.filter(Q(name__startswith=query) | Q(licence_number=query))
    if organization is not None:
        qs = qs.filter(postings__organization=organization).distinct()
    if title:
        qs = qs.filter(title=title)
    return qs.prefetch_related(
        Prefetch("postings", queryset=Posting.objects.select_related("organization", "department"))
    ).order_by("name", "id")
