"""PUT /fhir/Task/<id>: a referral moves through its state machine (referrals.services.transition) with the
version the client saw: a stale version is 412, an impossible step 409, the wrong side 403; nothing changes
when refused."""

import datetime as dt

import pytest
from django.utils import timezone
from tests.fhir.conftest import outcome, valid
from tests.fhir.records_helpers import records_snapshot, refer, task_body

from countycare.core.models import AuditEvent
from countycare.referrals import fhir as referrals_fhir
from countycare.referrals import services
from countycare.referrals.models import Referral, ReferralEvent


def put(client, referral, status, *, if_match: str | None = '"1"', **body):
    headers = {"If-Match": f"W/{if_match}"} if if_match else {}
    return client.put(f"/fhir/Task/{referral.uuid}", task_body(referral, status, **body), **headers)


def expression(issues) -> list[str]:
    return [e for i in issues for e in i.get("expression", [])]


def test_the_receiving_side_accepts_with_the_version_it_saw(county, fhir_as):
    referral = refer(county)
    response = put(fhir_as("county_specialist"), referral, "accepted")
    assert response.status_code == 200, response.content.decode()
    assert response["ETag"] == 'W/"2"'
    task = valid(response.json())
    assert task.status == "accepted" and task.meta.versionId == "2"
    referral.refresh_from_db()
    assert (referral.status, referral.version) == ("accepted", 2)
    assert ReferralEvent.objects.filter(referral=referral, action="accept").count() == 1
    event = AuditEvent.objects.get(action="accept", object_id=str(referral.uuid))
    assert (event.channel, event.username) == ("fhir", "county_specialist")


def test_accepting_books_the_slot_given_as_input(county, fhir_as):
    referral = refer(county)
    start = timezone.now() + dt.timedelta(days=2)
    slot = services.publish_slots(
        user=county.users["county_specialist"], organization=county.orgs["lead"], department=None, kind="clinic",
        starts_at=start, ends_at=start + dt.timedelta(hours=4), capacity=10, label="心内科专家号", channel="web",
    )
    slot_input = [{"type": {"coding": [{"system": referrals_fhir.TASK_PARAMETER_SYSTEM, "code": "slot"}]},
                   "valueReference": {"reference": f"Slot/{slot.uuid}"}}]
    response = put(fhir_as("county_specialist"), referral, "accepted", input=slot_input)
    assert response.status_code == 200, response.content.decode()
    referral.refresh_from_db()
    assert referral.booking.slot == slot
    output = response.json()["output"][0]
    assert output["valueReference"]["identifier"] == {"system": referrals_fhir.SLOT_SYSTEM, "value": str(slot.uuid)}
    assert output["valueReference"]["display"].startswith("心内科专家号")


def test_arrival_and_completion_follow_acceptance(county, fhir_as):
    referral = refer(county)
    client = fhir_as("county_specialist")
    assert put(client, referral, "accepted").status_code == 200
    arrived = put(client, referral, "in-progress", if_match='"2"')
    assert arrived.status_code == 200, arrived.content.decode()
    referral.refresh_from_db()
    assert referral.status == "arrived" and referral.arrival_encounter is not None
    outputs = arrived.json()["output"]
    assert outputs[-1]["valueReference"]["reference"] == f"Encounter/{referral.arrival_encounter.uuid}"
    done = put(client, referral, "completed", if_match='"3"')
    assert done.status_code == 200
    assert done.json()["status"] == "completed"
    assert done.json()["executionPeriod"]["end"]


def test_the_version_may_come_in_meta_instead_of_if_match(county, fhir_as):
    referral = refer(county)
    response = put(fhir_as("county_specialist"), referral, "accepted", if_match=None, version=1)
    assert response.status_code == 200
    stale = refer(county)
    Referral.objects.filter(pk=stale.pk).update(version=4)
    outcome(put(fhir_as("county_specialist"), stale, "accepted", if_match=None, version=3), 412)


def test_a_stale_if_match_is_412_and_changes_nothing(county, fhir_as):
    referral = refer(county)
    client = fhir_as("county_specialist")
    assert put(client, referral, "accepted").status_code == 200
    before = records_snapshot()
    issues = outcome(put(client, referral, "in-progress", if_match='"1"'), 412)
    assert issues[0]["code"] == "conflict"
    outcome(put(client, referral, "in-progress", if_match='"x"'), 412)
    assert records_snapshot() == before


def test_rejecting_needs_a_reason(county, fhir_as):
    referral = refer(county)
    client = fhir_as("county_specialist")
    before = records_snapshot()
    issues = outcome(put(client, referral, "rejected"), 422)
    assert "Task.statusReason" in expression(issues)
    assert records_snapshot() == before
    response = put(client, referral, "rejected", reason="本院床位已满，建议转县中医院")
    assert response.status_code == 200
    assert response.json()["statusReason"] == {"text": "本院床位已满，建议转县中医院"}
    referral.refresh_from_db()
    assert (referral.status, referral.status_reason) == ("rejected", "本院床位已满，建议转县中医院")


def test_the_sending_side_cancels_with_a_reason_given_as_a_coding(county, fhir_as):
    referral = refer(county)
    response = put(fhir_as("village_doctor"), referral, "cancelled",
                   statusReason={"coding": [{"display": "患者拒绝转诊"}]})
    assert response.status_code == 200, response.content.decode()
    referral.refresh_from_db()
    assert (referral.status, referral.status_reason) == ("cancelled", "患者拒绝转诊")


@pytest.mark.parametrize(("status", "version"), [("in-progress", 1), ("completed", 1)])
def test_an_impossible_transition_is_409_and_changes_nothing(county, fhir_as, status, version):
    referral = refer(county)
    before = records_snapshot()
    outcome(put(fhir_as("county_specialist"), referral, status, if_match=f'"{version}"'), 409)
    assert records_snapshot() == before


def test_a_closed_referral_cannot_be_accepted(county, fhir_as):
    referral = refer(county)
    assert put(fhir_as("village_doctor"), referral, "cancelled", reason="患者已自行就医").status_code == 200
    before = records_snapshot()
    outcome(put(fhir_as("county_specialist"), referral, "accepted", if_match='"2"'), 409)
    assert records_snapshot() == before


def test_the_sending_side_cannot_accept_its_own_referral(county, fhir_as):
    referral = refer(county)
    before = records_snapshot()
    outcome(put(fhir_as("village_doctor"), referral, "accepted"), 403)
    assert records_snapshot() == before


def test_only_the_system_expires_a_referral(county, fhir_as):
    referral = refer(county)
    before = records_snapshot()
    outcome(put(fhir_as("county_specialist"), referral, "failed"), 403)
    assert records_snapshot() == before


def test_a_doctor_outside_the_referral_gets_not_found_and_the_bureau_forbidden(county, fhir_as):
    referral = refer(county)
    before = records_snapshot()
    outcome(put(fhir_as("west_doctor"), referral, "accepted"), 404)
    outcome(put(fhir_as("bureau_viewer"), referral, "accepted"), 403)
    assert records_snapshot() == before


@pytest.mark.parametrize(
    ("status", "elements", "where"),
    [
        ("received", {}, "Task.status"),
        ("banana", {}, "Task.status"),
        ("accepted", {"intent": "wish"}, "Task.intent"),
        ("accepted", {"businessStatus": {"coding": [{"system": referrals_fhir.REFERRAL_STATUS_SYSTEM,
                                                     "code": "arrived"}]}}, "Task.businessStatus"),
        ("accepted", {"businessStatus": {"coding": [{"system": referrals_fhir.REFERRAL_STATUS_SYSTEM,
                                                     "code": "teleported"}]}}, "Task.businessStatus"),
        ("accepted", {"input": [{"type": {"coding": [{"system": referrals_fhir.TASK_PARAMETER_SYSTEM,
                                                      "code": "slot"}]},
                                 "valueReference": {"reference": "Slot/00000000-0000-4000-8000-000000000000"}}]},
         "Task.input[0].valueReference"),
    ],
    ids=["unsupported-status", "unknown-status", "unknown-intent", "business-status-disagrees",
         "unknown-business-status", "unknown-slot"],
)
def test_a_malformed_task_is_422_naming_the_element_and_changes_nothing(county, fhir_as, status, elements, where):
    referral = refer(county)
    before = records_snapshot()
    issues = outcome(put(fhir_as("county_specialist"), referral, status, **elements), 422)
    assert where in expression(issues), issues
    assert records_snapshot() == before


def test_a_body_for_another_task_or_of_the_wrong_shape_is_400(county, fhir_as):
    referral = refer(county)
    client = fhir_as("county_specialist")
    body = task_body(referral, "accepted", id="00000000-0000-4000-8000-000000000000")
    outcome(client.put(f"/fhir/Task/{referral.uuid}", body), 400)
    outcome(client.put(f"/fhir/Task/{referral.uuid}", task_body(referral, "accepted", statusReason="x")), 400)
    assert Referral.objects.get(pk=referral.pk).status == "requested"


def test_putting_the_current_state_again_changes_nothing(county, fhir_as):
    referral = refer(county)
    before = records_snapshot()
    response = put(fhir_as("county_specialist"), referral, "requested")
    assert response.status_code == 200
    assert response.json()["meta"]["versionId"] == "1"
    assert records_snapshot() == before
