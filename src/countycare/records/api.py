"""Records endpoints of the JSON API: encounters (record, read, discharge), a resident's timeline, ICD-10 search.

Handlers validate, make one query or service call, and answer; scope, audit and the rules live in `queries`
and `services`.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Query, Router

from countycare.api import CreatedOnce, IdempotencyKey, api, error_responses, user_of
from countycare.core.errors import InvalidInput, NotFound
from countycare.registry import queries as registry_queries
from countycare.registry.models import Department, Organization
from countycare.registry.schemas import NO_NUL

from . import queries, services
from .models import Encounter
from .schemas import AnyIsoDateTime, DischargeIn, EncounterIn, EncounterOut, Icd10Out, TimelineItemOut

router = Router()
CHANNEL = "api"
ICD10_HELP = "Code prefix (I1), part of the Chinese name (高血压) or pinyin initials (gxy)"


@router.post(
    "/encounters", response={201: EncounterOut, **error_responses(400, 401, 403, 404, 409, 422)},
    tags=["records"], summary="Record an encounter",
)
def record_encounter(request: HttpRequest, payload: EncounterIn, idempotency_key: IdempotencyKey = None) -> Any:
    """An outpatient or emergency visit, an admission (discharge it later) or a home visit, at one of the
    organisations you are posted to, for a resident in your scope. Diagnoses must be codes of the ICD-10 set,
    exactly one primary; chronic ones go on the resident's problem list."""
    created = CreatedOnce(request, idempotency_key)
    if (replay := created.replay()) is not None:
        return replay
    user = created.user
    services.check_can_record(user)
    resident = queries.resident_for_record(user, payload.resident)
    organization = _organization(user, payload.organization) if payload.organization else user.organization
    data = {
        **payload.model_dump(include={"kind", "started_at", "ended_at", "ward", "chief_complaint", "note", "is_tcm",
                                      "costs", "diagnoses", "vitals", "orders"}),
        "organization": organization,
        "department": _department(organization, payload.department) if payload.department else None,
    }

    def keep_answer(encounter: Encounter) -> None:
        # rendered as every other answer of the API is (times in UTC to the millisecond, decimals as strings)
        body = api.renderer.render(request, EncounterOut.from_orm(encounter).model_dump(), response_status=201)
        created.keep(body, encounter.uuid)

    services.record_encounter(user=user, resident=resident, data=data, channel=CHANNEL, within=keep_answer)
    return created.response()


def _organization(user: Any, org_uuid: uuid.UUID) -> Organization:
    try:
        return registry_queries.organization_detail(user.community_id, org_uuid)
    except NotFound:
        raise InvalidInput("就诊机构不存在 (no such organisation in your community)", field="organization") from None


def _department(organization: Organization | None, department_uuid: uuid.UUID) -> Department:
    department = Department.objects.filter(organization=organization, uuid=department_uuid).first()
    if department is None:
        raise InvalidInput("科室不属于就诊机构 (no such department at the organisation)", field="department")
    return department


@router.get(
    "/encounters/{encounter_uuid}", response={200: EncounterOut, **error_responses(401, 403, 404, 422)},
    tags=["records"], summary="Read an encounter",
)
def read_encounter(request: HttpRequest, encounter_uuid: uuid.UUID) -> Any:
    """An encounter of a resident in your scope, or one at your own organisation (404 otherwise); audited."""
    return queries.get_encounter(user_of(request), encounter_uuid, channel=CHANNEL)


@router.post(
    "/encounters/{encounter_uuid}/discharge",
    response={200: EncounterOut, **error_responses(400, 401, 403, 404, 409, 412, 422)},
    tags=["records"], summary="Discharge (end) an encounter",
)
def discharge_encounter(request: HttpRequest, encounter_uuid: uuid.UUID, payload: DischargeIn) -> Any:
    """End an encounter in progress at your organisation. `version` must be the one you read: if the
    encounter changed since, 412 and nothing changes; 409 if it has already ended."""
    user = user_of(request)
    encounter = queries.get_encounter(user, encounter_uuid, channel=CHANNEL, reason="discharge")
    services.discharge_encounter(user=user, encounter=encounter, ended_at=payload.ended_at,
                                 expected_version=payload.version, note=payload.note, channel=CHANNEL)
    encounter.refresh_from_db()
    return encounter


@router.get(
    "/residents/{resident_uuid}/timeline",
    response={200: list[TimelineItemOut], **error_responses(401, 403, 404, 422)},
    tags=["records"], summary="A resident's timeline",
)
def resident_timeline(
    request: HttpRequest,
    resident_uuid: uuid.UUID,
    before: Annotated[AnyIsoDateTime | None, Query(description="Only items before this time (to page back)")] = None,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_TIMELINE)] = 100,
) -> Any:
    """Encounters, diagnoses, problems, results and referrals of a resident in your scope, at every member,
    newest first. Residents read their own. The read is audited."""
    user = user_of(request)
    resident = queries.resident_for_record(user, resident_uuid)
    return queries.timeline(user, resident, channel=CHANNEL, before=before, limit=limit)


@router.get(
    "/icd10", response={200: list[Icd10Out], **error_responses(401, 422)}, tags=["records"],
    summary="Find ICD-10 codes",
)
def search_icd10(
    request: HttpRequest,
    q: Annotated[str, Query(min_length=1, max_length=50, pattern=NO_NUL, description=ICD10_HELP)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Any:
    return queries.search_icd10(q, limit=limit)

