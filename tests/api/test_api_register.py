"""POST /api/residents: registration, its refusals, and Idempotency-Key retries."""

import datetime as dt
import uuid

import pytest
from tests.conftest import COUNTY

from countycare.core import nationalid
from countycare.core.models import AuditEvent
from countycare.registry.models import Resident

NEW_ID = nationalid.build(COUNTY, dt.date(1970, 7, 7), 11, "female")


def body(county, **overrides):
    values = {
        "name": "孙七",
        "national_id": NEW_ID,
        "home_organization": str(county.orgs["east_v1"].uuid),
        "phone": "13900000007",
        "tags": ["diabetes"],
        "identifiers": [{"type": "health_record", "value": "hr-0007"}],
    }
    return {**values, **overrides}


def test_a_village_doctor_registers_a_resident_of_their_village(county, api_as):
    response = api_as("village_doctor").post("/api/residents", body(county))
    assert response.status_code == 201, response.content
    created = response.json()
    resident = Resident.objects.get(uuid=created["uuid"])
    assert response["Location"] == f"/api/residents/{resident.uuid}"
    assert (created["sex"], created["birth_date"]) == ("female", "1970-07-07")  # from the ID
    assert created["tags"] == ["diabetes"] and created["version"] == 1
    assert created["identifiers"] == [{"type": "health_record", "value": "HR-0007"}]
    assert created["home_organization"]["uuid"] == str(county.orgs["east_v1"].uuid)
    event = AuditEvent.objects.get(action="create", resident_id=str(resident.uuid))
    assert event.channel == "api"


def test_a_wrong_check_digit_is_a_422_naming_the_part(county, api_as):
    bad = NEW_ID[:17] + ("0" if NEW_ID[17] != "0" else "1")
    response = api_as("village_doctor").post("/api/residents", body(county, national_id=bad))
    assert response.status_code == 422
    error = response.json()
    assert (error["field"], error["part"], error["code"]) == ("national_id", "check_digit", "invalid")
    assert "check character" in error["detail"]
    assert not Resident.objects.filter(name="孙七").exists()


@pytest.mark.parametrize(
    "national_id, part",
    [
        ("33012219700707", "length"),
        ("99012219700707001X", "division"),
        ("330122197013070011", "birth_date"),
    ],
)
def test_each_wrong_part_of_an_id_is_named(county, api_as, national_id, part):
    response = api_as("village_doctor").post("/api/residents", body(county, national_id=national_id))
    assert response.status_code == 422 and response.json()["part"] == part


def test_a_birth_date_that_disagrees_with_the_id_is_a_422(county, api_as):
    response = api_as("village_doctor").post("/api/residents", body(county, birth_date="1971-07-07"))
    assert response.status_code == 422 and response.json()["field"] == "birth_date"


def test_a_national_id_already_registered_is_a_409_naming_the_existing_resident(county, api_as):
    existing = county.residents["zhang_san"]
    response = api_as("village_doctor").post("/api/residents", body(county, national_id=existing.national_id))
    assert response.status_code == 409
    assert response.json()["existing"] == str(existing.uuid) and response.json()["field"] == "national_id"


def test_a_likely_duplicate_without_id_is_a_409_until_confirmed(county, api_as):
    client = api_as("village_doctor")
    lookalike = body(
        county,
        name="章三",
        national_id="",
        sex="male",
        birth_date="1960-05-01",
        phone="13800000001",
        identifiers=[],
    )
    response = client.post("/api/residents", lookalike)
    assert response.status_code == 409
    assert response.json()["candidates"] == [str(county.residents["zhang_san"].uuid)]
    confirmed = client.post("/api/residents", {**lookalike, "confirm_not_duplicate": True})
    assert confirmed.status_code == 201


def test_a_retry_with_the_same_key_gets_the_same_answer_and_registers_once(county, api_as):
    client = api_as("village_doctor")
    key = {"Idempotency-Key": "village-tablet-42"}
    first = client.post("/api/residents", body(county), headers=key)
    again = client.post("/api/residents", body(county), headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Location"] == first["Location"]
    assert Resident.objects.filter(name="孙七").count() == 1


def test_the_same_key_for_a_different_request_is_a_422(county, api_as):
    client = api_as("village_doctor")
    key = {"Idempotency-Key": "village-tablet-43"}
    assert client.post("/api/residents", body(county), headers=key).status_code == 201
    response = client.post("/api/residents", body(county, phone="13900000008"), headers=key)
    assert response.status_code == 422 and "Idempotency-Key" in response.json()["detail"]
    assert Resident.objects.filter(name="孙七").count() == 1


def test_without_a_key_a_repeat_is_refused_as_a_duplicate(county, api_as):
    client = api_as("village_doctor")
    assert client.post("/api/residents", body(county)).status_code == 201
    assert client.post("/api/residents", body(county)).status_code == 409


def test_a_refused_registration_stores_no_answer_for_its_key(county, api_as):
    client = api_as("village_doctor")
    key = {"Idempotency-Key": "village-tablet-44"}
    bad = body(county, national_id=NEW_ID[:17] + ("0" if NEW_ID[17] != "0" else "1"))
    assert client.post("/api/residents", bad, headers=key).status_code == 422
    assert client.post("/api/residents", bad, headers=key).status_code == 422  # retried: still refused, same key ok


@pytest.mark.parametrize("role", ["resident", "bureau_viewer", "pharmacist", "cdc_officer"])
def test_roles_that_do_not_register_get_a_403(county, api_as, role):
    response = api_as(role).post("/api/residents", body(county))
    assert response.status_code == 403
    assert not Resident.objects.filter(name="孙七").exists()


def test_a_village_doctor_cannot_register_in_another_village(county, api_as):
    response = api_as("village_doctor").post(
        "/api/residents", body(county, home_organization=str(county.orgs["west_v1"].uuid))
    )
    assert response.status_code == 403


def test_an_unknown_home_organisation_is_a_422_naming_the_field(county, api_as):
    response = api_as("village_doctor").post("/api/residents", body(county, home_organization=str(uuid.uuid4())))
    assert response.status_code == 422 and response.json()["field"] == "home_organization"


def test_invalid_fields_are_a_422_with_readable_messages(county, api_as):
    response = api_as("village_doctor").post(
        "/api/residents", body(county, name="", tags=["no-such-tag"], sex="x", home_organization="nope")
    )
    assert response.status_code == 422
    error = response.json()
    assert {".".join(map(str, e["loc"][2:])) for e in error["errors"]} >= {
        "name",
        "tags.0",
        "sex",
        "home_organization",
    }
    assert "name:" in error["detail"] and "tags.0:" in error["detail"]


def test_a_nul_character_is_a_422_not_a_database_error(county, api_as):
    response = api_as("village_doctor").post("/api/residents", body(county, address="东村\x00"))
    assert response.status_code == 422 and response.json()["field"] == "address"


def test_registering_needs_a_token(county, anonymous):
    assert anonymous.post("/api/residents", body(county)).status_code == 401
