"""Scoped reads of referrals and capacity. A user sees a referral when they cover its sending or receiving
organisation, or may see its resident; every function that hands out referrals (which carry patient data)
writes the audit trail."""

from __future__ import annotations

import datetime as dt
import uuid as uuid_lib
from collections.abc import Iterable
from typing import Any

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from countycare.core import audit, policy
from countycare.core.codes import AGGREGATE_ONLY_ROLES
from countycare.core.compiled import CompiledLookup
from countycare.core.errors import InvalidInput, NotFound, PermissionDenied
from countycare.registry import queries as registry_queries
from countycare.registry.models import Department, Organization, Practitioner
from countycare.registry.scope import covered_organization_ids

from .models import OPEN_STATUSES, Booking, CarePlan, Referral, ReferralKind, ReferralStatus, Slot, SlotKind

LIST_RELATED = ("resident", "from_organization", "to_organization", "to_department", "from_practitioner",
                "to_practitioner")
# Joined: what (nearly) every referral has. Read after, and only when the referral has them: the rest. A join
# of all eight tables cost PostgreSQL about 3 ms of planning for a one-row read (four: 0.5 ms), and
# prefetch_related's machinery about 1.7 ms of CPU even when every key it follows is empty.
DETAIL_RELATED = ("resident", "from_organization", "to_organization", "from_practitioner")


def detail(qs: QuerySet[Referral]) -> Referral | None:
    """The referral of a lookup by a unique key, with what its page or API answer shows (None when there is
    none): one query, and one more for each kind of optional relation it has (doctor, departments, bookings)."""
    referral = unique(qs.select_related(*DETAIL_RELATED))
    if referral is not None:
        _load_optional(referral)
    return referral


# `detail` of a referral by its uuid in a community — every read and action on one — with its SQL compiled once
# (building this five-table SQL cost more CPU than PostgreSQL spent running it)
_BY_UUID = CompiledLookup(
    lambda referral_uuid, community_id: Referral.objects.filter(uuid=referral_uuid, community_id=community_id)
    .select_related(*DETAIL_RELATED).order_by()[:1],
    Referral._meta.get_field("uuid"), Referral._meta.get_field("community"),
)


def detail_by_uuid(referral_uuid: uuid_lib.UUID, community_id: int) -> Referral | None:
    """`detail` of `Referral.objects.filter(uuid=referral_uuid, community_id=community_id)`."""
    referral = _BY_UUID.get(referral_uuid, community_id)
    if referral is not None:
        _load_optional(referral)
    return referral


def _load_optional(referral: Referral) -> None:
    wanted = [
        (Practitioner.objects.all(), ("to_practitioner",)),
        (Department.objects.all(), ("from_department", "to_department")),
        (Booking.objects.select_related("slot"), ("booking", "bed_booking")),
    ]
    for qs, names in wanted:
        ids = {getattr(referral, f"{name}_id") for name in names} - {None}
        if not ids:
            continue  # a null key reads as None without a query
        found = qs.in_bulk(ids)
        for name in names:
            if getattr(referral, f"{name}_id") is not None:
                Referral._meta.get_field(name).set_cached_value(referral, found[getattr(referral, f"{name}_id")])


def unique(qs: QuerySet[Any]) -> Any:
    """The row of a lookup by a unique key, or None. Unlike `.first()` it adds no ORDER BY: on the API's hot
    paths compiling the models' default orderings was a tenth of the CPU of a request."""
    return next(iter(qs.order_by()[:1]), None)


def _require_patient_access(user: Any) -> None:
    if user.role in AGGREGATE_ONLY_ROLES:
        raise PermissionDenied(
            "卫健局账号只能查看汇总指标，不能查看个人转诊 (the bureau sees aggregates, not individual referrals)"
        )


def visible_referrals(user: Any) -> QuerySet[Referral]:
    """Referrals whose sending or receiving organisation the user covers, or whose resident they may see
    (not audited: callers audit what they hand out)."""
    if user.role in AGGREGATE_ONLY_ROLES or not user.community_id:
        return Referral.objects.none()
    covered = sorted(covered_organization_ids(user))
    residents = registry_queries.visible_residents(user).values("pk")
    return Referral.objects.filter(community_id=user.community_id).filter(
        Q(from_organization_id__in=covered) | Q(to_organization_id__in=covered) | Q(resident_id__in=residents)
    )


def _filtered(qs: QuerySet[Referral], *, status: str | Iterable[str] | None, kind: str | None,
              urgent: bool | None, since: dt.datetime | None = None, until: dt.datetime | None = None
              ) -> QuerySet[Referral]:
    if status is not None:
        statuses = [status] if isinstance(status, str) else list(status)
        unknown = [s for s in statuses if s not in ReferralStatus.values]
        if unknown:
            raise InvalidInput(f"未知的转诊状态 {', '.join(unknown)} (unknown status)", field="status")
        qs = qs.filter(status__in=statuses)
    if kind is not None:
        if kind not in ReferralKind.values:
            raise InvalidInput(f"未知的转诊类型 {kind} (unknown kind)", field="kind")
        qs = qs.filter(kind=kind)
    if urgent is not None:
        qs = qs.filter(urgent=urgent)
    if since is not None:
        qs = qs.filter(requested_at__gte=since)
    if until is not None:
        qs = qs.filter(requested_at__lt=until)
    return qs


def inbox(user: Any, *, status: str | Iterable[str] | None = None, kind: str | None = None,
          urgent: bool | None = None, since: dt.datetime | None = None, until: dt.datetime | None = None
          ) -> QuerySet[Referral]:
    """Referrals sent to an organisation the user covers, green channel first, then the longest waiting.
    Without `status`: the open ones (requested, accepted, arrived). Not audited: `audit_listed` the page."""
    _require_patient_access(user)
    covered = sorted(covered_organization_ids(user))
    qs = Referral.objects.filter(community_id=user.community_id, to_organization_id__in=covered)
    qs = _filtered(qs, status=OPEN_STATUSES if status is None else status, kind=kind, urgent=urgent, since=since,
                   until=until)
    return qs.select_related(*LIST_RELATED).order_by("-urgent", "requested_at", "id")


def sent(user: Any, *, status: str | Iterable[str] | None = None, kind: str | None = None,
         urgent: bool | None = None, since: dt.datetime | None = None, until: dt.datetime | None = None
         ) -> QuerySet[Referral]:
    """Referrals sent from an organisation the user covers (every status unless filtered), newest first: the
    sending side tracks each until it completes. Not audited: `audit_listed` the page."""
    _require_patient_access(user)
    covered = sorted(covered_organization_ids(user))
    qs = Referral.objects.filter(community_id=user.community_id, from_organization_id__in=covered)
    qs = _filtered(qs, status=status, kind=kind, urgent=urgent, since=since, until=until)
    return qs.select_related(*LIST_RELATED).order_by("-requested_at", "-id")


def audit_listed(user: Any, referrals: Iterable[Referral], *, channel: str, action: str = "list",
                 reason: str = "") -> None:
    """Record that these referrals (and so their residents) were shown to the user."""
    actor = audit.Actor.of(user, channel)
    audit.record_many(actor, [
        audit.Entry(action, "Referral", str(r.uuid), resident_id=str(r.resident.uuid), reason=reason)
        for r in referrals
    ])


def board_counts(user: Any, *, kind: str | None = None, urgent: bool | None = None,
                 since: dt.datetime | None = None, until: dt.datetime | None = None) -> dict[str, Any]:
    """Counts for the tracking board: {"sent"|"received": {kind: {status: n}, "total": {status: n}}}, every
    kind and status present (zeros included). Aggregates only: no patient data, not audited."""
    _require_patient_access(user)
    covered = sorted(covered_organization_ids(user))
    base = _filtered(Referral.objects.filter(community_id=user.community_id), status=None, kind=kind,
                     urgent=urgent, since=since, until=until)
    board: dict[str, Any] = {}
    for side, field in (("sent", "from_organization_id__in"), ("received", "to_organization_id__in")):
        counts = {k: dict.fromkeys(ReferralStatus.values, 0) for k in ReferralKind.values}
        totals = dict.fromkeys(ReferralStatus.values, 0)
        for row in base.filter(**{field: covered}).values("kind", "status").annotate(n=Count("id")).order_by():
            counts[row["kind"]][row["status"]] = row["n"]
            totals[row["status"]] += row["n"]
        board[side] = {**counts, "total": totals}
    return board


def parse_uuid(value: object, what: str = "转诊 referral") -> uuid_lib.UUID:
    try:
        return uuid_lib.UUID(str(value))
    except ValueError:
        raise NotFound(f"未找到该{what} (not found)") from None


def may_see(user: Any, referral: Referral) -> bool:
    """The rule of `visible_referrals` for one referral, checked without building the resident scope when the
    user's organisations already decide it."""
    if user.role in AGGREGATE_ONLY_ROLES or referral.community_id != user.community_id:
        return False
    covered = covered_organization_ids(user)
    if referral.from_organization_id in covered or referral.to_organization_id in covered:
        return True
    return registry_queries.visible_residents(user).filter(pk=referral.resident_id).exists()


def get_referral(user: Any, referral_uuid: object, *, channel: str, reason: str = "", action: str = "read"
                 ) -> Referral:
    """One referral the user may see, with what its page shows; 404 otherwise (no existence leak). Audited."""
    _require_patient_access(user)
    referral = detail_by_uuid(parse_uuid(referral_uuid), user.community_id)
    if referral is None or not may_see(user, referral):
        raise NotFound("未找到该转诊，或不在您的管辖范围内 (referral not found or outside your scope)")
    audit.record(audit.Actor.of(user, channel), action, "Referral", referral.uuid,
                 resident_id=referral.resident.uuid, reason=reason)
    return referral


def referral_events(referral: Referral) -> list[Any]:
    """A referral's history, oldest first (shown with the referral `get_referral` audited)."""
    return list(referral.events.select_related("organization").order_by("at", "id"))


def care_plan_of(referral: Referral) -> CarePlan | None:
    """The plan of a down-referral (only those carry one: no query for the others)."""
    if referral.kind != ReferralKind.DOWN:
        return None
    if not Referral._meta.get_field("care_plan").is_cached(referral):
        plan = unique(CarePlan.objects.filter(referral_id=referral.pk)
                      .select_related("responsible_practitioner", "responsible_organization"))
        Referral._meta.get_field("care_plan").set_cached_value(referral, plan)
    try:
        return referral.care_plan
    except CarePlan.DoesNotExist:
        return None


# --- capacity ----------------------------------------------------------------------------------------------

def open_slots(user: Any, *, organization: Organization, kind: str | None = None, for_referral: bool = True,
               after: dt.datetime | None = None) -> QuerySet[Slot]:
    """Slots of an organisation of the user's community with a place free for this kind of booking: a referral
    may use any free place; anyone else the general share, or any free place once the reserve is released
    (`reserved_slot_release_hours` before the start). Capacity holds no patient data: not audited."""
    if organization.community_id != user.community_id:
        raise NotFound("未找到该机构 (organisation not found)")
    now = timezone.now()
    after = after or now
    qs = Slot.objects.filter(organization=organization, ends_at__gt=max(after, now),
                             booked_general__lt=F("capacity") - F("booked_reserved"))
    if kind is not None:
        if kind not in SlotKind.values:
            raise InvalidInput(f"未知的号源类型 {kind} (unknown slot kind)", field="kind")
        qs = qs.filter(kind=kind)
    if not for_referral:
        hours = int(policy.get("reserved_slot_release_hours", organization.community_id))
        qs = qs.filter(Q(booked_general__lt=F("capacity") - F("reserved"))
                       | Q(starts_at__lte=now + dt.timedelta(hours=hours)))
    return qs.select_related("organization", "department", "practitioner").order_by("starts_at", "id")


_SLOT = CompiledLookup(
    lambda slot_uuid, community_id: Slot.objects.filter(uuid=slot_uuid, community_id=community_id).order_by()[:1],
    Slot._meta.get_field("uuid"), Slot._meta.get_field("community"),
)


def get_slot(user: Any, slot_uuid: object, *, related: bool = True) -> Slot:
    """A slot of the user's community (capacity, not patient data). `related=False` for booking, which needs
    only the slot itself."""
    if related:
        slot = unique(Slot.objects.filter(uuid=parse_uuid(slot_uuid, "号源 slot"), community_id=user.community_id)
                      .select_related("organization", "department", "practitioner"))
    else:
        slot = _SLOT.get(parse_uuid(slot_uuid, "号源 slot"), user.community_id)
    if slot is None:
        raise NotFound("未找到该号源 (slot not found)")
    return slot


def get_booking(user: Any, booking_uuid: object) -> Booking:
    booking = (Booking.objects.filter(uuid=parse_uuid(booking_uuid, "预约 booking"), community_id=user.community_id)
               .select_related("slot__organization", "resident").first())
    if booking is None:
        raise NotFound("未找到该预约 (booking not found)")
    return booking
