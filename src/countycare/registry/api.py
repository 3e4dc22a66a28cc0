"""Registry endpoints of the JSON API: residents (scoped and audited), organisations, practitioners.

Handlers validate, make one query or service call, and answer; scope, audit and the rules live in
`queries` and `services`.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from django.db.models import prefetch_related_objects
from django.http import HttpRequest
from ninja import Query, Router

from countycare.api import CreatedOnce, IdempotencyKey, error_responses, user_of
from countycare.core.codes import Title
from countycare.core.errors import InvalidInput, NotFound

from . import queries, services
from .models import Household, Organization, Resident
from .schemas import (
    NO_NUL,
    MergeIn,
    MergeOut,
    OrganizationDetail,
    OrganizationOut,
    PractitionerOut,
    PractitionerPage,
    ResidentIn,
    ResidentOut,
    ResidentPatch,
    ResidentSummary,
)

router = Router()
CHANNEL = "api"
SEARCH_HELP = (
    "Name (or its start), pinyin initials (zs) or full pinyin, national ID or phone (or their start), "
    "or another identifier's exact number"
)


# --- residents --------------------------------------------------------------------------------------------

@router.get(
    "/residents", response={200: list[ResidentSummary], **error_responses(401, 403, 422)}, tags=["residents"],
    summary="Find residents",
)
def search_residents(
    request: HttpRequest,
    q: Annotated[str, Query(min_length=1, max_length=60, pattern=NO_NUL, description=SEARCH_HELP)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Any:
    """Residents in your scope matching `q`. Every hit is written to the audit trail."""
    rows = queries.search_residents(user_of(request), q, channel=CHANNEL, limit=limit)
    prefetch_related_objects(rows, "tags")
    return rows


@router.get(
    "/residents/{resident_uuid}", response={200: ResidentOut, **error_responses(401, 403, 404, 422)},
    tags=["residents"], summary="Read a resident",
)
def read_resident(request: HttpRequest, resident_uuid: uuid.UUID) -> Any:
    """A resident in your scope (404 outside it, so existence does not leak); the read is audited."""
    return queries.get_resident(user_of(request), resident_uuid, channel=CHANNEL)


@router.post(
    "/residents", response={201: ResidentOut, **error_responses(400, 401, 403, 409, 422)}, tags=["residents"],
    summary="Register a resident",
)
def register_resident(request: HttpRequest, payload: ResidentIn, idempotency_key: IdempotencyKey = None) -> Any:
    """Register a resident. 409 names the existing record when the national ID is already registered, or
    lists likely duplicates of a resident without an ID (send `confirm_not_duplicate: true` to go on)."""
    created = CreatedOnce(request, idempotency_key)
    if (replay := created.replay()) is not None:
        return replay
    user = created.user
    data = _resident_data(user, payload.model_dump(exclude={"confirm_not_duplicate"}))
    services.register_resident(
        user=user, data=data, channel=CHANNEL, confirmed_not_duplicate=payload.confirm_not_duplicate,
        within=lambda resident: created.keep(ResidentOut.from_orm(resident).model_dump_json(), resident.uuid),
    )
    return created.response()


@router.patch(
    "/residents/{resident_uuid}",
    response={200: ResidentOut, **error_responses(400, 401, 403, 404, 409, 412, 422)},
    tags=["residents"], summary="Edit a resident",
)
def edit_resident(request: HttpRequest, resident_uuid: uuid.UUID, payload: ResidentPatch) -> Any:
    """Change the fields sent. `version` must be the one you read: if someone saved in between, 412 and
    nothing changes. A new national ID without sex and birth date sets both from the ID."""
    user = user_of(request)
    resident = queries.get_resident(user, resident_uuid, channel=CHANNEL, reason="edit")
    changes = payload.model_dump(exclude={"version"}, exclude_unset=True)
    changes = {k: v for k, v in changes.items() if v is not None or k == "household"}
    if changes.get("national_id") and "sex" not in changes and "birth_date" not in changes:
        changes |= {"sex": None, "birth_date": None}
    data = _resident_data(user, {**_stored_values(resident), **changes})
    return services.update_resident(
        user=user, resident=resident, data=data, channel=CHANNEL, expected_version=payload.version
    )


@router.post(
    "/residents/{resident_uuid}/merge",
    response={200: MergeOut, **error_responses(400, 401, 403, 404, 409, 422)},
    tags=["residents"], summary="Merge a duplicate record into this one",
)
def merge_resident(request: HttpRequest, resident_uuid: uuid.UUID, payload: MergeIn) -> Any:
    """Community administrators only. The record in the path survives; every reference to the duplicate
    moves to it, and the audit event returned records what moved so the merge can be undone."""
    user = user_of(request)
    survivor = queries.get_resident(user, resident_uuid, channel=CHANNEL, reason="merge")
    duplicate = queries.get_resident(user, payload.duplicate, channel=CHANNEL, reason="merge")
    event = services.merge_residents(
        user=user, survivor=survivor, duplicate=duplicate, reason=payload.reason, channel=CHANNEL
    )
    return {
        "survivor": queries.get_resident(user, survivor.uuid, channel=CHANNEL, reason="merge"),
        "duplicate": duplicate.uuid,
        "merge_event_id": event.pk,
    }


def _stored_values(resident: Resident) -> dict[str, Any]:
    """A resident as the fields of an edit, so a PATCH can send only what changes."""
    return {
        "name": resident.name, "sex": resident.sex, "birth_date": resident.birth_date,
        "national_id": resident.national_id or "", "phone": resident.phone, "address": resident.address,
        "village_code": resident.village_code, "home_organization": resident.home_organization,
        "household": resident.household, "relation_to_head": resident.relation_to_head,
        "insurance_scheme": resident.insurance_scheme, "insurance_number": resident.insurance_number,
        "tags": [t.tag for t in resident.tags.all()],
        "identifiers": [{"type": i.type, "value": i.value} for i in resident.identifiers.all()],
    }


def _resident_data(user: Any, values: dict[str, Any]) -> services.ResidentData:
    """Turn validated input into the service's ResidentData, resolving the uuids it references."""
    home = values["home_organization"]
    household = values.get("household")
    if household is not None and not isinstance(household, Household):
        household = _household(user, household)
    return services.ResidentData(
        name=values["name"],
        sex=str(values.get("sex") or ""),
        birth_date=values.get("birth_date"),
        national_id=values.get("national_id") or "",
        phone=values.get("phone") or "",
        address=values.get("address") or "",
        village_code=values.get("village_code") or "",
        home_organization=home if isinstance(home, Organization) else _organization(user, home),
        household=household,
        relation_to_head=values.get("relation_to_head") or "",
        insurance_scheme=str(values.get("insurance_scheme") or ""),
        insurance_number=values.get("insurance_number") or "",
        tags=[str(t) for t in values.get("tags") or []],
        identifiers=[(str(i["type"]), i["value"]) for i in values.get("identifiers") or []],
    )


def _organization(user: Any, org_uuid: uuid.UUID) -> Organization:
    try:
        return queries.organization_detail(user.community_id, org_uuid)
    except NotFound:
        raise InvalidInput("所属机构不存在 (no such organisation in your community)",
                           field="home_organization") from None


def _household(user: Any, household_uuid: uuid.UUID) -> Household:
    # registry.queries has no household lookup yet; this read holds no resident data, only the community check
    household = Household.objects.filter(community_id=user.community_id, uuid=household_uuid).first()
    if household is None:
        raise InvalidInput("户不存在 (no such household in your community)", field="household")
    return household


# --- organisations ----------------------------------------------------------------------------------------

@router.get(
    "/organizations", response={200: list[OrganizationOut], **error_responses(401)}, tags=["organizations"],
    summary="The community's organisations",
)
def list_organizations(request: HttpRequest) -> Any:
    """Every organisation of your community, parents before children, each naming its parent's uuid."""
    flat: list[dict[str, Any]] = []

    def walk(nodes: list[dict[str, Any]], parent: Organization | None) -> None:
        for node in nodes:
            org = node["org"]
            flat.append({
                "uuid": org.uuid, "name": org.name, "short_name": org.short_name, "org_type": org.org_type,
                "level": org.level, "division_code": org.division_code, "is_member": org.is_member,
                "parent": parent.uuid if parent else None,
            })
            walk(node["children"], org)

    walk(queries.organization_tree(user_of(request).community_id), None)
    return flat


@router.get(
    "/organizations/{org_uuid}", response={200: OrganizationDetail, **error_responses(401, 404, 422)},
    tags=["organizations"], summary="An organisation with its departments",
)
def read_organization(request: HttpRequest, org_uuid: uuid.UUID) -> Any:
    return queries.organization_detail(user_of(request).community_id, org_uuid)


# --- practitioners ----------------------------------------------------------------------------------------

@router.get(
    "/practitioners", response={200: PractitionerPage, **error_responses(401, 422)}, tags=["practitioners"],
    summary="The community's practitioners",
)
def list_practitioners(
    request: HttpRequest,
    organization: Annotated[uuid.UUID | None, Query(description="Posted there, now or before")] = None,
    title: Annotated[Title | None, Query()] = None,
    q: Annotated[str, Query(max_length=50, pattern=NO_NUL, description="Name start or licence number")] = "",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Any:
    """Practitioners with their postings (past and current), by name."""
    community_id = user_of(request).community_id
    org = None
    if organization is not None:
        try:
            org = queries.organization_detail(community_id, organization)
        except NotFound:
            return {"count": 0, "items": []}  # nobody is posted to an organisation outside the community
    found = queries.practitioners(community_id, query=q.strip(), organization=org, title=title or "")
    return {"count": found.count(), "items": list(found[offset:offset + limit])}


@router.get(
    "/practitioners/{practitioner_uuid}", response={200: PractitionerOut, **error_responses(401, 404, 422)},
    tags=["practitioners"], summary="A practitioner with their postings",
)
def read_practitioner(request: HttpRequest, practitioner_uuid: uuid.UUID) -> Any:
    practitioner = queries.practitioners(user_of(request).community_id).filter(uuid=practitioner_uuid).first()
    if practitioner is None:
        raise NotFound("未找到该医务人员 (practitioner not found)")
    return practitioner
