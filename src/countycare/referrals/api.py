"""Referrals endpoints of the JSON API: create (Idempotency-Key), inbox, sent, read, workflow actions, and
the capacity (slots) referrals book.

Handlers resolve the uuids they are sent, make one service or query call, and answer; scope, audit and the
rules live in `queries` and `services`.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Query, Router, Status

from countycare.api import CreatedOnce, error_responses, idempotency_key_header, user_of
from countycare.core.compiled import CompiledLookup
from countycare.core.errors import InvalidInput, NotFound
from countycare.records import queries as records_queries
from countycare.registry import queries as registry_queries
from countycare.registry.models import Department, Organization, Practitioner, Resident

from . import queries, services, workflow
from .models import ReferralKind, ReferralStatus, SlotKind
from .schemas import (
    BookingIn,
    BookingOut,
    ReferralIn,
    ReferralOut,
    ReferralPage,
    SlotIn,
    SlotOut,
    TransitionIn,
)

router = Router()
CHANNEL = "api"
ReferralKey = idempotency_key_header(
    "Send the same key when retrying: the retry gets the first answer, and one referral is made"
)
Action = StrEnum("Action", {t.action.upper(): t.action for t in workflow.TRANSITIONS
                            if t.side != workflow.Side.SYSTEM})


# The lookups of every create, their SQL compiled once (core.compiled)
_RESIDENT = CompiledLookup(
    lambda community_id, resident_uuid: Resident.objects.filter(community_id=community_id, uuid=resident_uuid,
                                                                merged_into__isnull=True).order_by()[:1],
    Resident._meta.get_field("community"), Resident._meta.get_field("uuid"),
)
_ORGANIZATION = CompiledLookup(
    lambda community_id, org_uuid: Organization.objects.filter(community_id=community_id, uuid=org_uuid).order_by()[:1],
    Organization._meta.get_field("community"), Organization._meta.get_field("uuid"),
)


# --- referrals ---------------------------------------------------------------------------------------------

@router.post(
    "/referrals", response={201: ReferralOut, **error_responses(400, 401, 403, 404, 409, 422)}, tags=["referrals"],
    summary="Refer a resident",
)
def create_referral(request: HttpRequest, payload: ReferralIn, idempotency_key: ReferralKey = None) -> Any:
    """Send a resident in your scope up, down or out of county. 403: you may not send from that organisation
    (or out of county from anywhere but the lead hospital); 404: the resident is not in your community; 409: a
    request with the same Idempotency-Key is running (404 also for a resident outside your scope: the same answer
    as for one that does not exist); 422: anything invalid — an unknown organisation, a
    direction the kind does not go, an unknown ICD-10 code, a down-referral without a care plan, the key
    reused for a different body. An urgent up-referral reserves a bed: `bed_reserved` false says none was free."""
    created = CreatedOnce(request, idempotency_key)
    if (replay := created.replay()) is not None:
        return replay
    user = created.user
    resident, data = _referral_data(user, payload)
    services.create_referral(
        user=user, resident=resident, data=data, channel=CHANNEL,
        # as created: no read back
        within=lambda referral: created.keep(ReferralOut.from_orm(referral).model_dump_json(), referral.uuid),
    )
    return created.response()


def _referral_data(user: Any, payload: ReferralIn) -> tuple[Any, dict[str, Any]]:
    """The service's arguments, with the uuids resolved inside the user's community (422 naming the field)."""
    # unscoped here: the service checks the scope, and answers an unknown and an out-of-scope resident alike
    resident = _RESIDENT.get(user.community_id, payload.resident)
    if resident is None:
        raise services.resident_not_found()
    receiver = _organization(user, payload.to_organization, "to_organization")
    data: dict[str, Any] = {
        "kind": payload.kind,
        "to_organization": receiver,
        "to_department": _department(receiver, payload.to_department),
        "to_practitioner": _practitioner(user, payload.to_practitioner, "to_practitioner"),
        "urgent": payload.urgent,
        "reason": payload.reason,
        "clinical_summary": payload.clinical_summary,
        "diagnoses": [d.model_dump() for d in payload.diagnoses],
        "slip_number": payload.slip_number,
    }
    if payload.from_organization is not None:
        data["from_organization"] = _organization(user, payload.from_organization, "from_organization")
    if payload.source_encounter is not None:
        encounter = records_queries.visible_encounters(user).filter(uuid=payload.source_encounter).first()
        if encounter is None:
            raise InvalidInput("来源就诊不存在 (no such encounter in your scope)", field="source_encounter")
        data["source_encounter"] = encounter
    if payload.care_plan is not None:
        plan = payload.care_plan.model_dump()
        plan["responsible_practitioner"] = _practitioner(user, payload.care_plan.responsible_practitioner,
                                                         "care_plan.responsible_practitioner")
        plan["follow_up"] = [{**f, "due": f["due"].isoformat() if f["due"] else ""} for f in plan["follow_up"]]
        plan["medicines"] = [{k: v for k, v in m.items() if v not in (None, "")} for m in plan["medicines"]]
        data["care_plan"] = plan
    return resident, data


def _organization(user: Any, org_uuid: uuid.UUID, field: str) -> Organization:
    found = _ORGANIZATION.get(user.community_id, org_uuid)
    if found is None:
        raise InvalidInput("机构不存在 (no such organisation in your community)", field=field)
    return found


def _department(organization: Organization, department_uuid: uuid.UUID | None) -> Department | None:
    if department_uuid is None:
        return None
    found = Department.objects.filter(organization=organization, uuid=department_uuid).first()
    if found is None:
        raise InvalidInput("科室不属于接收机构 (no such department at the receiving organisation)",
                           field="to_department")
    return found


def _practitioner(user: Any, practitioner_uuid: uuid.UUID | None, field: str) -> Practitioner | None:
    if practitioner_uuid is None:
        return None
    found = Practitioner.objects.filter(community_id=user.community_id, uuid=practitioner_uuid).first()
    if found is None:
        raise InvalidInput("医生不存在 (no such practitioner in your community)", field=field)
    return found


def _page(user: Any, qs: Any, limit: int, offset: int, reason: str) -> dict[str, Any]:
    items = list(qs[offset:offset + limit])
    queries.audit_listed(user, items, channel=CHANNEL, reason=reason)
    return {"count": qs.count() if len(items) == limit or offset else len(items), "items": items}


@router.get(
    "/referrals/inbox", response={200: ReferralPage, **error_responses(401, 403, 422)}, tags=["referrals"],
    summary="Referrals to act on",
)
def referral_inbox(
    request: HttpRequest,
    status: Annotated[list[ReferralStatus] | None, Query(description="Default: requested, accepted, arrived")] = None,
    kind: ReferralKind | None = None,
    urgent: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Any:
    """Referrals sent to the organisations you cover: green channel first, then the longest waiting. Every
    referral listed is written to the audit trail. 403 for the health bureau (aggregates only)."""
    user = user_of(request)
    qs = queries.inbox(user, status=[str(s) for s in status] if status else None, kind=kind, urgent=urgent)
    return _page(user, qs, limit, offset, "inbox")


@router.get(
    "/referrals/sent", response={200: ReferralPage, **error_responses(401, 403, 422)}, tags=["referrals"],
    summary="Referrals you sent",
)
def referrals_sent(
    request: HttpRequest,
    status: Annotated[list[ReferralStatus] | None, Query(description="Default: every status")] = None,
    kind: ReferralKind | None = None,
    urgent: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Any:
    """Referrals sent from the organisations you cover, newest first, to track until they complete. Audited
    like the inbox. 403 for the health bureau."""
    user = user_of(request)
    qs = queries.sent(user, status=[str(s) for s in status] if status else None, kind=kind, urgent=urgent)
    return _page(user, qs, limit, offset, "sent")


@router.get(
    "/referrals/{referral_uuid}", response={200: ReferralOut, **error_responses(401, 403, 404, 422)},
    tags=["referrals"], summary="Read a referral",
)
def read_referral(request: HttpRequest, referral_uuid: uuid.UUID) -> Any:
    """A referral you may see (you cover its sending or receiving organisation, or its resident), with its
    care plan and bookings; 404 otherwise. The read is audited."""
    return queries.get_referral(user_of(request), referral_uuid, channel=CHANNEL)


@router.post(
    "/referrals/{referral_uuid}/{action}",
    response={200: ReferralOut, **error_responses(400, 401, 403, 404, 409, 422)}, tags=["referrals"],
    summary="Accept, reject, cancel, mark arrived or complete a referral",
)
def act_on_referral(request: HttpRequest, referral_uuid: uuid.UUID, action: Action, payload: TransitionIn) -> Any:
    """Move the referral on. Send the `version` you read. accept/reject/arrive/complete: the receiving side
    (for out-of-county referrals the lead hospital records the partner's steps); cancel: the sending side.
    accept may book a `slot` of the receiving organisation (the reserved share for family-doctor referrals).
    403 wrong side; 404 not visible; 409 stale version, a status the action does not start from, or a full
    slot — nothing changes; 422 reason missing for reject/cancel, a slot elsewhere."""
    user = user_of(request)
    referral = queries.detail_by_uuid(referral_uuid, user.community_id)
    if referral is None or not queries.may_see(user, referral):
        raise NotFound("未找到该转诊，或不在您的管辖范围内 (referral not found or outside your scope)")
    slot = queries.get_slot(user, payload.slot, related=False) if payload.slot is not None else None
    # the answer is the referral as the transition left it in memory (the transition's audit covers it)
    return services.transition(user=user, referral=referral, action=str(action), expected_version=payload.version,
                               reason=payload.reason, slot=slot, channel=CHANNEL)


# --- capacity ----------------------------------------------------------------------------------------------

@router.get(
    "/slots", response={200: list[SlotOut], **error_responses(401, 404, 422)}, tags=["slots"],
    summary="Open slots of an organisation",
)
def list_slots(
    request: HttpRequest,
    organization: uuid.UUID,
    kind: SlotKind | None = None,
    for_referral: bool = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    """Slots not yet over with a place free for this kind of booking: a referral may take any free place;
    others only the general share until the reserve is released before the start. 404: no such organisation
    in your community."""
    user = user_of(request)
    org = registry_queries.organization_detail(user.community_id, organization)
    return list(queries.open_slots(user, organization=org, kind=kind, for_referral=for_referral)[:limit])


@router.post(
    "/slots", response={201: SlotOut, **error_responses(400, 401, 403, 422)}, tags=["slots"],
    summary="Publish capacity",
)
def publish_slots(request: HttpRequest, payload: SlotIn) -> Any:
    """Publish a clinic session, beds or exam places at an organisation you work at (administrators: any in the
    community). ceil(capacity × reserved_slot_share) places are held for family-doctor referrals. 403: not
    your organisation or role; 422: invalid times, capacity, department or doctor."""
    user = user_of(request)
    org = _organization(user, payload.organization, "organization")
    department = None
    if payload.department is not None:
        department = Department.objects.filter(organization=org, uuid=payload.department).first()
        if department is None:
            raise InvalidInput("科室不属于该机构 (no such department at this organisation)", field="department")
    slot = services.publish_slots(
        user=user, organization=org, department=department, kind=payload.kind, starts_at=payload.starts_at,
        ends_at=payload.ends_at, capacity=payload.capacity, label=payload.label,
        practitioner=_practitioner(user, payload.practitioner, "practitioner"), channel=CHANNEL,
    )
    return Status(201, queries.get_slot(user, slot.uuid))


@router.post(
    "/slots/{slot_uuid}/book", response={201: BookingOut, **error_responses(400, 401, 403, 404, 409, 422)},
    tags=["slots"], summary="Book a place",
)
def book_slot(request: HttpRequest, slot_uuid: uuid.UUID, payload: BookingIn) -> Any:
    """Book a place for a resident in your scope. `for_referral` takes the reserved share first (family doctors
    only: 403 otherwise). 404: no such slot; 409: no place left for this kind of booking; 422: unknown
    resident, or the slot is over."""
    user = user_of(request)
    slot = queries.get_slot(user, slot_uuid)
    resident = registry_queries.visible_residents(user).filter(uuid=payload.resident).first()
    if resident is None:
        raise InvalidInput("居民不存在或不在您的管辖范围内 (no such resident in your scope)", field="resident")
    booking = services.book_slot(user=user, slot=slot, resident=resident, for_referral=payload.for_referral,
                                 channel=CHANNEL)
    return Status(201, booking)
