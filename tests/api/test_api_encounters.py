"""POST /api/encounters, GET /api/encounters/{uuid}, POST …/discharge: recording, reading and discharging
through the JSON API, with Idempotency-Key retries and an access-denied answer for each."""

import datetime as dt
import json

import pytest
from django.utils import timezone
from tests.helpers import post_specialist
from tests.records.record_helpers import days_ago, snapshot

from countycare.core.models import AuditEvent
from countycare.records.models import Encounter


def body(county, **overrides):
    values = {
        "resident": str(county.residents["zhang_san"].uuid),
        "kind": "outpatient",
        "started_at": days_ago(1).isoformat(),
        "chief_complaint": "头晕1周",
        "diagnoses": [{"code": "I10", "primary": True}, {"code": "E78.5"}],
        "vitals": [{"code": "8480-6", "value": 152, "unit": "mmHg"}, {"code": "8462-4", "value": "94"}],
        "orders": [{"kind": "medication", "description": "苯磺酸氨氯地平片 5mg qd"}],
        "costs": {"drugs": "36.80", "exams": 12},
    }
    return {**values, **overrides}


def admission_body(county, **overrides):
    return body(county, kind="inpatient", ward="心内科3病区12床", organization=str(county.orgs["lead"].uuid),
                department=str(county.orgs["lead"].departments.get().uuid), started_at=days_ago(4, 10).isoformat(),
                diagnoses=[{"code": "I21.9", "primary": True}], **overrides)


@pytest.fixture
def specialist(county, api_as):
    post_specialist(county, "east", dt.date(2020, 1, 1))
    return api_as("county_specialist")


def test_a_village_doctor_records_an_encounter(county, api_as):
    response = api_as("village_doctor").post("/api/encounters", body(county))
    assert response.status_code == 201, response.content
    created = response.json()
    encounter = Encounter.objects.get(uuid=created["uuid"])
    assert response["Location"] == f"/api/encounters/{encounter.uuid}"
    assert created["organization"]["name"] == "东村卫生室" and created["resident"]["name"] == "张三"
    assert created["costs"] == {"drugs": "36.80", "exams": "12.00", "treatment": "0.00", "beds": "0.00",
                                "other": "0.00", "total": "48.80"}
    assert [(d["code"], d["primary"]) for d in created["diagnoses"]] == [("I10", True), ("E78.5", False)]
    assert {o["code"]: o["unit"] for o in created["observations"]} == {"8480-6": "mm[Hg]", "8462-4": "mm[Hg]"}
    assert created["status"] == "finished" and created["version"] == 1
    assert AuditEvent.objects.get(action="create", object_type="Encounter").channel == "api"


def test_a_retry_with_the_same_idempotency_key_records_once(county, api_as):
    client = api_as("village_doctor")
    headers = {"Idempotency-Key": "visit-0001"}
    first = client.post("/api/encounters", body(county), headers=headers)
    again = client.post("/api/encounters", body(county), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again["Location"] == first["Location"]
    assert Encounter.objects.count() == 1


def test_the_same_key_with_another_body_is_a_422(county, api_as):
    client = api_as("village_doctor")
    client.post("/api/encounters", body(county), headers={"Idempotency-Key": "k"})
    response = client.post("/api/encounters", body(county, chief_complaint="头痛"), headers={"Idempotency-Key": "k"})
    assert response.status_code == 422 and Encounter.objects.count() == 1


@pytest.mark.parametrize("overrides, field", [
    ({"diagnoses": [{"code": "Q99.9", "primary": True}]}, "diagnoses"),
    ({"diagnoses": [{"code": "I10"}]}, "diagnoses"),
    ({"diagnoses": []}, "diagnoses"),
    ({"costs": {"drugs": "-5"}}, "costs.drugs"),
    ({"started_at": "2026-03-01T09:00:00"}, "started_at"),  # no offset
    ({"started_at": 1700000000}, "started_at"),  # seconds are not a time
    ({"started_at": days_ago(1, 10).isoformat(), "ended_at": days_ago(1, 9).isoformat()}, "ended_at"),
    ({"vitals": [{"code": "8310-5", "value": 98.6}]}, "vitals"),  # Fahrenheit
    ({"kind": "inpatient"}, "ward"),
    ({"organization": "00000000-0000-0000-0000-000000000000"}, "organization"),
])
def test_invalid_encounters_are_422_naming_the_field_and_change_nothing(county, api_as, overrides, field):
    before = snapshot()
    response = api_as("village_doctor").post("/api/encounters", body(county, **overrides))
    assert response.status_code == 422, response.content
    assert response.json()["field"] == field
    assert snapshot() == before


def test_the_unknown_code_is_named(county, api_as):
    response = api_as("village_doctor").post("/api/encounters", body(county, diagnoses=[
        {"code": "I10", "primary": True}, {"code": "Z99.99"}]))
    assert "Z99.99" in response.json()["detail"] and response.json()["codes"] == ["Z99.99"]


def test_a_body_that_is_not_json_is_a_400(county, api_as):
    assert api_as("village_doctor").post("/api/encounters", "{nope").status_code == 400


@pytest.mark.parametrize("who, status", [("west_doctor", 404), ("pharmacist", 403), ("bureau_viewer", 403),
                                         ("community_admin", 403), ("resident", 403)])
def test_recording_is_refused_outside_scope_and_to_other_roles(county, api_as, who, status):
    response = api_as(who).post("/api/encounters", body(county))
    assert response.status_code == status and not Encounter.objects.exists()


def test_recording_at_an_organisation_one_is_not_posted_to_is_a_403(county, api_as):
    lead = str(county.orgs["lead"].uuid)
    response = api_as("township_doctor").post("/api/encounters", body(county, organization=lead))
    assert response.status_code == 403


def test_recording_needs_a_token(county, anonymous):
    assert anonymous.post("/api/encounters", body(county)).status_code == 401


def test_an_encounter_is_read_back(county, api_as):
    created = api_as("village_doctor").post("/api/encounters", body(county)).json()
    response = api_as("township_doctor").get(f"/api/encounters/{created['uuid']}")
    assert response.status_code == 200 and response.json() == created
    assert AuditEvent.objects.filter(action="read", object_type="Encounter", object_id=created["uuid"]).exists()


@pytest.mark.parametrize("who, status", [("west_doctor", 404), ("bureau_viewer", 403), ("resident", 404)])
def test_reading_is_refused_outside_scope(county, api_as, who, status):
    created = api_as("village_doctor").post("/api/encounters", body(county)).json()
    assert api_as(who).get(f"/api/encounters/{created['uuid']}").status_code == status


def test_reading_an_unknown_or_malformed_encounter(county, api_as):
    client = api_as("village_doctor")
    assert client.get("/api/encounters/00000000-0000-0000-0000-000000000000").status_code == 404
    assert client.get("/api/encounters/not-a-uuid").status_code == 422


def test_an_admission_is_discharged_with_its_version(county, specialist):
    created = specialist.post("/api/encounters", admission_body(county)).json()
    assert created["status"] == "in-progress" and created["department"]["name"] == "心内科"
    ended = days_ago(1, 9).isoformat()
    response = specialist.post(f"/api/encounters/{created['uuid']}/discharge",
                               {"ended_at": ended, "version": 1, "note": "好转出院"})
    assert response.status_code == 200, response.content
    done = response.json()
    assert (done["status"], done["version"], done["length_of_stay_days"]) == ("finished", 2, 3)
    assert done["note"].endswith("好转出院")


def test_a_stale_discharge_is_a_412_and_a_second_one_a_409(county, specialist):
    created = specialist.post("/api/encounters", admission_body(county)).json()
    path = f"/api/encounters/{created['uuid']}/discharge"
    ended = days_ago(1, 9).isoformat()
    assert specialist.post(path, {"ended_at": ended, "version": 2}).status_code == 412
    assert specialist.post(path, {"ended_at": ended, "version": 1}).status_code == 200
    assert specialist.post(path, {"ended_at": ended, "version": 2}).status_code == 409
    assert Encounter.objects.get().version == 2


@pytest.mark.parametrize("who, status", [("township_doctor", 403), ("west_doctor", 404), ("bureau_viewer", 403)])
def test_discharging_is_refused_to_others(county, specialist, api_as, who, status):
    created = specialist.post("/api/encounters", admission_body(county)).json()
    response = api_as(who).post(f"/api/encounters/{created['uuid']}/discharge",
                                {"ended_at": days_ago(1, 9).isoformat(), "version": 1})
    assert response.status_code == status
    assert Encounter.objects.get().status == "in-progress"


def test_a_discharge_in_the_future_is_a_422(county, specialist):
    created = specialist.post("/api/encounters", admission_body(county)).json()
    ended = (timezone.now() + dt.timedelta(days=1)).isoformat()
    response = specialist.post(f"/api/encounters/{created['uuid']}/discharge", {"ended_at": ended, "version": 1})
    assert response.status_code == 422 and response.json()["field"] == "ended_at"


def test_the_answer_is_json_with_decimals_as_strings(county, api_as):
    response = api_as("village_doctor").post("/api/encounters", body(county))
    observation = json.loads(response.content)["observations"][0]
    assert observation["value"] in ("152", "152.0000") or isinstance(observation["value"], str)
