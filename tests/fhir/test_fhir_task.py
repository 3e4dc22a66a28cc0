"""GET /fhir/Task: a referral's workflow state, one Task per ServiceRequest with the same id."""

from tests.fhir.conftest import outcome, valid
from tests.fhir.records_helpers import another_villager, refer

from countycare.referrals import fhir as referrals_fhir
from countycare.referrals.models import Referral


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content.decode()[:2000]
    bundle = response.json()
    valid(bundle)
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def test_a_new_referral_is_a_requested_task_owned_by_the_receiver(county, fhir_as):
    referral = refer(county, urgent=True)
    response = fhir_as("county_specialist").get(f"/fhir/Task/{referral.uuid}")
    assert response.status_code == 200
    assert response["ETag"] == 'W/"1"'
    body = response.json()
    valid(body)
    assert (body["status"], body["intent"], body["priority"]) == ("requested", "order", "urgent")
    assert body["businessStatus"]["coding"][0] == {
        "system": referrals_fhir.REFERRAL_STATUS_SYSTEM, "code": "requested",
        "display": body["businessStatus"]["coding"][0]["display"],
    }
    assert body["code"]["coding"][0]["code"] == "fulfill"
    assert body["focus"] == {"reference": f"ServiceRequest/{referral.uuid}"}
    assert body["for"]["reference"] == f"Patient/{county.residents['zhang_san'].uuid}"
    assert body["owner"]["reference"] == f"Organization/{county.orgs['lead'].uuid}"
    assert body["requester"]["reference"] == f"Organization/{county.orgs['east_v1'].uuid}"
    assert body["restriction"]["period"]["end"] == valid(
        fhir_as("county_specialist").get(f"/fhir/ServiceRequest/{referral.uuid}").json()
    ).occurrencePeriod.end.isoformat(timespec="milliseconds")


def test_a_rejected_referral_shows_its_reason(county, fhir_as):
    referral = refer(county)
    Referral.objects.filter(pk=referral.pk).update(status="rejected", status_reason="本院床位已满", version=2)
    body = fhir_as("village_doctor").get(f"/fhir/Task/{referral.uuid}").json()
    assert body["status"] == "rejected"
    assert body["statusReason"] == {"text": "本院床位已满"}
    assert body["meta"]["versionId"] == "2"


def test_an_expired_referral_is_a_failed_task(county, fhir_as):
    referral = refer(county)
    Referral.objects.filter(pk=referral.pk).update(status="expired")
    body = fhir_as("village_doctor").get(f"/fhir/Task/{referral.uuid}").json()
    assert (body["status"], body["businessStatus"]["coding"][0]["code"]) == ("failed", "expired")


def test_search_by_owner_requester_and_status(county, fhir_as):
    to_lead = refer(county)
    to_branch = refer(county, resident=another_villager(county), to="east")
    Referral.objects.filter(pk=to_branch.pk).update(status="accepted")
    client = fhir_as("township_doctor")
    assert ids(client.get("/fhir/Task", {"owner": f"Organization/{county.orgs['lead'].uuid}"})) == [str(to_lead.uuid)]
    assert ids(client.get("/fhir/Task", {"status": "accepted"})) == [str(to_branch.uuid)]
    assert ids(client.get("/fhir/Task", {"business-status": "requested"})) == [str(to_lead.uuid)]
    assert set(ids(client.get("/fhir/Task", {"requester": f"Organization/{county.orgs['east_v1'].uuid}"}))) == {
        str(to_lead.uuid), str(to_branch.uuid)
    }
    assert ids(client.get("/fhir/Task", {"requester": f"Organization/{county.orgs['lead'].uuid}"})) == []
    assert ids(client.get("/fhir/Task", {"status": "draft"})) == []
    outcome(client.get("/fhir/Task", {"status": "waiting"}), 400)


def test_search_by_patient_focus_and_authored_on(county, fhir_as):
    referral = refer(county)
    refer(county, resident=another_villager(county), to="east")
    client = fhir_as("township_doctor")
    assert ids(client.get("/fhir/Task", {"patient": str(county.residents["zhang_san"].uuid)})) == [str(referral.uuid)]
    assert ids(client.get("/fhir/Task", {"focus": f"ServiceRequest/{referral.uuid}"})) == [str(referral.uuid)]
    assert len(ids(client.get("/fhir/Task", {"authored-on": "ge2026"}))) == 2
    assert ids(client.get("/fhir/Task", {"authored-on": "lt2026"})) == []


def test_out_of_scope_is_not_found_and_the_bureau_is_refused(county, fhir_as):
    referral = refer(county)
    outcome(fhir_as("west_doctor").get(f"/fhir/Task/{referral.uuid}"), 404)
    outcome(fhir_as("bureau_viewer").get("/fhir/Task"), 403)


def test_a_task_is_not_created_on_its_own(county, fhir_as):
    referral = refer(county)
    body = fhir_as("village_doctor").get(f"/fhir/Task/{referral.uuid}").json()
    del body["id"]
    issues = outcome(fhir_as("village_doctor").post("/fhir/Task", body), 405)
    assert "ServiceRequest" in issues[0]["diagnostics"]
