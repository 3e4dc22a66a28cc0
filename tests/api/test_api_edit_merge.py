"""PATCH /api/residents/{uuid} with optimistic locking, and POST /api/residents/{uuid}/merge."""

import datetime as dt
import uuid

from tests.conftest import COUNTY, make_resident

from countycare.core import nationalid
from countycare.core.models import AuditEvent
from countycare.registry.models import Resident


def path(resident):
    return f"/api/residents/{resident.uuid}"


def test_an_edit_changes_only_the_fields_sent_and_bumps_the_version(county, api_as):
    zhang = county.residents["zhang_san"]
    response = api_as("village_doctor").patch(path(zhang), {"version": 1, "phone": "13800000099"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["phone"], body["version"], body["name"], body["tags"]) == (
        "13800000099",
        2,
        "张三",
        ["hypertension"],
    )
    zhang.refresh_from_db()
    assert (zhang.phone, zhang.version) == ("13800000099", 2)
    event = AuditEvent.objects.get(action="update", resident_id=str(zhang.uuid))
    assert event.channel == "api" and event.detail["changed"] == {"phone": ["13800000001", "13800000099"]}


def test_sent_tags_replace_the_stored_ones(county, api_as):
    zhang = county.residents["zhang_san"]
    response = api_as("village_doctor").patch(path(zhang), {"version": 1, "tags": ["diabetes", "elderly_65"]})
    assert response.json()["tags"] == ["diabetes", "elderly_65"]


def test_a_stale_version_is_a_412_and_changes_nothing(county, api_as):
    zhang = county.residents["zhang_san"]
    client = api_as("village_doctor")
    assert client.patch(path(zhang), {"version": 1, "phone": "13800000011"}).status_code == 200
    response = client.patch(path(zhang), {"version": 1, "phone": "13800000022"})
    assert response.status_code == 412 and response.json()["code"] == "conflict"
    zhang.refresh_from_db()
    assert (zhang.phone, zhang.version) == ("13800000011", 2)


def test_an_edit_needs_the_version(county, api_as):
    response = api_as("village_doctor").patch(path(county.residents["zhang_san"]), {"phone": "13800000011"})
    assert response.status_code == 422 and response.json()["field"] == "version"


def test_a_new_national_id_sets_sex_and_birth_date(county, api_as):
    li = county.residents["li_si"]
    new_id = nationalid.build(COUNTY, dt.date(1991, 9, 9), 31, "female")
    response = api_as("township_doctor").patch(path(li), {"version": 1, "national_id": new_id})
    assert response.status_code == 200, response.content
    assert (response.json()["sex"], response.json()["birth_date"]) == ("female", "1991-09-09")


def test_taking_another_residents_national_id_is_a_409(county, api_as):
    li = county.residents["li_si"]
    response = api_as("township_doctor").patch(
        path(li), {"version": 1, "national_id": county.residents["zhang_san"].national_id}
    )
    assert response.status_code == 409
    assert response.json()["existing"] == str(county.residents["zhang_san"].uuid)
    li.refresh_from_db()
    assert li.version == 1


def test_an_edit_outside_scope_is_a_404(county, api_as):
    wang = county.residents["wang_wu"]
    assert api_as("village_doctor").patch(path(wang), {"version": 1, "phone": "13800000011"}).status_code == 404


def test_a_resident_cannot_edit_even_their_own_record(county, api_as):
    me = county.residents["resident_self"]
    assert api_as("resident").patch(path(me), {"version": 1, "phone": "13800000011"}).status_code == 403
    me.refresh_from_db()
    assert me.version == 1


def test_moving_a_resident_out_of_ones_own_scope_is_a_403(county, api_as):
    zhang = county.residents["zhang_san"]
    response = api_as("village_doctor").patch(
        path(zhang), {"version": 1, "home_organization": str(county.orgs["west_v1"].uuid)}
    )
    assert response.status_code == 403


def lookalike(county):
    return make_resident(
        county,
        "zhang_dup",
        "张三",
        "east_v1",
        birth=dt.date(1960, 5, 1),
        with_id=False,
        phone="13800000001",
        tags=("elderly_65",),
    )


def test_a_community_admin_merges_a_duplicate_into_the_surviving_record(county, api_as):
    zhang, duplicate = county.residents["zhang_san"], lookalike(county)
    client = api_as("community_admin")
    response = client.post(f"{path(zhang)}/merge", {"duplicate": str(duplicate.uuid), "reason": "同一人重复建档"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["survivor"]["uuid"] == str(zhang.uuid) and body["duplicate"] == str(duplicate.uuid)
    assert body["survivor"]["tags"] == ["elderly_65", "hypertension"]  # the duplicate's tag moved over
    event = AuditEvent.objects.get(pk=body["merge_event_id"])
    assert (event.action, event.channel, event.reason) == ("merge", "api", "同一人重复建档")
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id == zhang.pk
    assert client.get(path(duplicate)).status_code == 404  # merged records are no longer served


def test_only_a_community_admin_may_merge(county, api_as):
    zhang, duplicate = county.residents["zhang_san"], lookalike(county)
    response = api_as("village_doctor").post(f"{path(zhang)}/merge", {"duplicate": str(duplicate.uuid), "reason": "x"})
    assert response.status_code == 403
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id is None


def test_the_bureau_may_not_merge(county, api_as):
    zhang, duplicate = county.residents["zhang_san"], lookalike(county)
    response = api_as("bureau_viewer").post(f"{path(zhang)}/merge", {"duplicate": str(duplicate.uuid), "reason": "x"})
    assert response.status_code == 403


def test_a_merge_needs_a_reason_and_a_known_duplicate(county, api_as):
    zhang, duplicate = county.residents["zhang_san"], lookalike(county)
    client = api_as("community_admin")
    no_reason = client.post(f"{path(zhang)}/merge", {"duplicate": str(duplicate.uuid), "reason": ""})
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    unknown = client.post(f"{path(zhang)}/merge", {"duplicate": str(uuid.uuid4()), "reason": "x"})
    assert unknown.status_code == 404


def test_two_different_national_ids_are_never_merged(county, api_as):
    zhang, li = county.residents["zhang_san"], county.residents["li_si"]
    response = api_as("community_admin").post(f"{path(zhang)}/merge", {"duplicate": str(li.uuid), "reason": "x"})
    assert response.status_code == 409
    assert Resident.objects.get(pk=li.pk).merged_into_id is None


def test_editing_needs_a_token(county, anonymous):
    zhang = county.residents["zhang_san"]
    assert anonymous.patch(path(zhang), {"version": 1}).status_code == 401
    assert anonymous.post(f"{path(zhang)}/merge", {"duplicate": str(uuid.uuid4()), "reason": "x"}).status_code == 401
