"""The referrals JSON API: create, inbox, sent, read, workflow actions, slots; errors as JSON."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from tests.referrals.helpers import ensure_codes, grant

from countycare.core.models import AuditEvent
from countycare.referrals.models import Referral, Slot


@pytest.fixture(autouse=True)
def codes(county):
    ensure_codes()


def up_body(county, **overrides):
    return {"resident": str(county.residents["zhang_san"].uuid), "kind": "up",
            "to_organization": str(county.orgs["lead"].uuid), "reason": "胸痛2小时",
            "diagnoses": [{"code": "I21", "primary": True}], **overrides}


def create(api, county, **overrides):
    response = api.post("/api/referrals", up_body(county, **overrides))
    assert response.status_code == 201, response.content
    return response.json()


def test_a_village_doctor_refers_a_patient_up(county, api_as):
    response = api_as("village_doctor").post("/api/referrals", up_body(county, urgent=True))
    assert response.status_code == 201, response.content
    made = response.json()
    assert response["Location"] == f"/api/referrals/{made['uuid']}"
    assert (made["kind"], made["status"], made["version"], made["urgent"]) == ("up", "requested", 1, True)
    assert made["bed_reserved"] is False  # no bed published: flagged, still sent
    assert made["resident"]["name"] == "张三" and made["to_organization"]["name"] == "城关县人民医院"
    assert made["diagnoses"] == [{"code": "I21", "display": "急性心肌梗死", "primary": True}]
    assert made["allowed_actions"] == ["accept", "reject", "cancel"]
    assert AuditEvent.objects.get(action="create", object_id=made["uuid"]).channel == "api"


@pytest.mark.parametrize(("overrides", "status", "field"), [
    ({"kind": "sideways"}, 422, "kind"),
    ({"diagnoses": []}, 422, "diagnoses"),
    ({"diagnoses": [{"code": "NOPE1"}]}, 422, "diagnoses"),
    ({"to_organization": "00000000-0000-0000-0000-000000000000"}, 422, "to_organization"),
    ({"reason": ""}, 422, "reason"),
    ({"kind": "down"}, 422, "to_organization"),
    ({"kind": "out_of_county", "to_organization": None}, 422, "to_organization"),
])
def test_invalid_referrals_are_422_and_change_nothing(county, api_as, overrides, status, field):
    body = up_body(county, **overrides)
    if overrides.get("to_organization", "") is None:
        body["to_organization"] = str(county.orgs["partner"].uuid)
    response = api_as("village_doctor").post("/api/referrals", body)
    assert response.status_code in (status, 403), response.content
    assert response.json()["field"] in (field, None)
    assert not Referral.objects.exists()


def test_an_unknown_resident_and_one_outside_scope_get_the_same_404(county, api_as):
    unknown = api_as("village_doctor").post("/api/referrals", up_body(
        county, resident="00000000-0000-0000-0000-000000000000"))
    elsewhere = api_as("village_doctor").post("/api/referrals", up_body(
        county, resident=str(county.residents["wang_wu"].uuid)))
    assert unknown.status_code == elsewhere.status_code == 404
    assert unknown.json() == elsewhere.json()
    assert not Referral.objects.exists()


def test_out_of_county_from_a_village_is_403(county, api_as):
    response = api_as("village_doctor").post(
        "/api/referrals", up_body(county, kind="out_of_county", to_organization=str(county.orgs["partner"].uuid)))
    assert response.status_code == 403


def test_a_body_that_is_not_json_is_400(county, api_as):
    assert api_as("village_doctor").post("/api/referrals", "{not json").status_code == 400


def test_without_a_token_it_is_401(county, anonymous):
    assert anonymous.post("/api/referrals", up_body(county)).status_code == 401
    assert anonymous.get("/api/referrals/inbox").status_code == 401


def test_a_down_referral_through_the_api_carries_its_care_plan(county, api_as):
    grant(county, "lead", "zhang_san")
    body = up_body(county, kind="down", to_organization=str(county.orgs["east"].uuid), care_plan={
        "treatment_summary": "PCI术后稳定",
        "responsible_practitioner": str(county.practitioners["county_specialist"].uuid),
        "medicines": [{"name": "阿司匹林肠溶片", "dose": "100 mg", "frequency": "qd", "days": 30}],
        "follow_up": [{"due": "2027-01-15", "what": "复查心电图"}], "warning_signs": "胸痛再发"})
    response = api_as("county_specialist").post("/api/referrals", body)
    assert response.status_code == 201, response.content
    plan = response.json()["care_plan"]
    assert plan["responsible_practitioner"]["name"] == "医生county_specialist"
    assert plan["follow_up"] == [{"due": "2027-01-15", "what": "复查心电图"}]
    del body["care_plan"]
    refused = api_as("county_specialist").post("/api/referrals", body)
    assert (refused.status_code, refused.json()["field"]) == (422, "care_plan")


def test_the_inbox_lists_urgent_first_then_the_longest_waiting_and_audits_the_listing(county, api_as):
    village, township = api_as("village_doctor"), api_as("township_doctor")
    first = create(village, county)
    second = create(township, county, resident=str(county.residents["li_si"].uuid))
    urgent = create(township, county, resident=str(county.residents["li_si"].uuid), urgent=True)
    response = api_as("county_specialist").get("/api/referrals/inbox")
    assert response.status_code == 200
    page = response.json()
    assert [r["uuid"] for r in page["items"]] == [urgent["uuid"], first["uuid"], second["uuid"]]
    assert page["count"] == 3
    assert AuditEvent.objects.filter(action="list", object_type="Referral", username="county_specialist").count() == 3
    only_urgent = api_as("county_specialist").get("/api/referrals/inbox", {"urgent": "true"}).json()
    assert [r["uuid"] for r in only_urgent["items"]] == [urgent["uuid"]]
    assert api_as("village_doctor").get("/api/referrals/inbox").json()["count"] == 0


def test_the_sender_tracks_what_it_sent(county, api_as):
    made = create(api_as("village_doctor"), county)
    page = api_as("village_doctor").get("/api/referrals/sent", {"status": ["requested", "accepted"]}).json()
    assert [r["uuid"] for r in page["items"]] == [made["uuid"]]
    assert api_as("west_doctor").get("/api/referrals/sent").json()["items"] == []


def test_the_bureau_sees_no_individual_referrals(county, api_as):
    assert api_as("bureau_viewer").get("/api/referrals/inbox").status_code == 403


def test_a_referral_is_read_by_its_sides_and_hidden_from_others(county, api_as):
    made = create(api_as("village_doctor"), county)
    path = f"/api/referrals/{made['uuid']}"
    assert api_as("county_specialist").get(path).status_code == 200
    assert api_as("village_doctor").get(path).status_code == 200
    assert api_as("west_doctor").get(path).status_code == 404
    assert AuditEvent.objects.filter(action="read", object_id=made["uuid"]).count() == 2
    assert api_as("county_specialist").get("/api/referrals/not-a-uuid").status_code in (404, 422)


def test_accept_with_a_slot_then_arrive_then_complete(county, api_as):
    made = create(api_as("village_doctor"), county)
    specialist = api_as("county_specialist")
    start = (timezone.now() + dt.timedelta(days=2)).isoformat()
    end = (timezone.now() + dt.timedelta(days=2, hours=4)).isoformat()
    published = specialist.post("/api/slots", {"organization": str(county.orgs["lead"].uuid), "kind": "clinic",
                                               "starts_at": start, "ends_at": end, "capacity": 10,
                                               "label": "心内科专家门诊"})
    assert published.status_code == 201, published.content
    assert (published.json()["capacity"], published.json()["reserved"]) == (10, 2)
    listed = specialist.get("/api/slots", {"organization": str(county.orgs["lead"].uuid)}).json()
    assert [s["uuid"] for s in listed] == [published.json()["uuid"]]
    path = f"/api/referrals/{made['uuid']}"
    accepted = specialist.post(f"{path}/accept", {"version": 1, "slot": published.json()["uuid"]})
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["booking"]["from_reserve"] is True
    assert accepted.json()["status"] == "accepted" and accepted.json()["version"] == 2
    stale = specialist.post(f"{path}/arrive", {"version": 1})
    assert stale.status_code == 409
    arrived = specialist.post(f"{path}/arrive", {"version": 2}).json()
    assert arrived["status"] == "arrived" and arrived["arrival_encounter"]
    done = specialist.post(f"{path}/complete", {"version": 3})
    assert done.json()["status"] == "completed"
    again = specialist.post(f"{path}/complete", {"version": 4})
    assert again.status_code == 409 and again.json()["code"] == "conflict"


def test_the_actions_answer_403_404_409_and_422(county, api_as):
    made = create(api_as("village_doctor"), county)
    path = f"/api/referrals/{made['uuid']}"
    assert api_as("village_doctor").post(f"{path}/accept", {"version": 1}).status_code == 403
    assert api_as("west_doctor").post(f"{path}/accept", {"version": 1}).status_code == 404
    missing_reason = api_as("county_specialist").post(f"{path}/reject", {"version": 1})
    assert (missing_reason.status_code, missing_reason.json()["field"]) == (422, "reason")
    assert api_as("county_specialist").post(f"{path}/approve", {"version": 1}).status_code == 422
    assert api_as("county_specialist").post(f"{path}/expire", {"version": 1}).status_code == 422
    assert api_as("county_specialist").post(f"{path}/accept", {"version": "1"}).status_code == 422
    unknown_slot = api_as("county_specialist").post(f"{path}/accept", {
        "version": 1, "slot": "00000000-0000-0000-0000-000000000000"})
    assert unknown_slot.status_code == 404
    assert Referral.objects.get(uuid=made["uuid"]).version == 1


def test_booking_a_place_for_a_resident(county, api_as):
    start = timezone.now() + dt.timedelta(days=2)
    slot = Slot.objects.create(community=county.community, organization=county.orgs["lead"], kind="exam",
                               starts_at=start, ends_at=start + dt.timedelta(hours=1), capacity=1, reserved=1)
    path = f"/api/slots/{slot.uuid}/book"
    body = {"resident": str(county.residents["li_si"].uuid)}
    assert api_as("township_doctor").post(path, body).status_code == 409  # general share is 0
    booked = api_as("township_doctor").post(path, {**body, "for_referral": True})
    assert booked.status_code == 201, booked.content
    assert booked.json()["from_reserve"] is True
    assert api_as("township_doctor").post(path, {**body, "for_referral": True}).status_code == 409
    assert api_as("county_specialist").post(path, {**body, "for_referral": True}).status_code in (403, 422)
    assert api_as("township_doctor").post(f"/api/slots/{slot.pk}/book", body).status_code in (404, 422)


def test_publishing_capacity_elsewhere_is_403(county, api_as):
    start = timezone.now() + dt.timedelta(days=2)
    response = api_as("township_doctor").post("/api/slots", {
        "organization": str(county.orgs["lead"].uuid), "kind": "bed", "capacity": 5,
        "starts_at": start.isoformat(), "ends_at": (start + dt.timedelta(days=1)).isoformat()})
    assert response.status_code == 403
