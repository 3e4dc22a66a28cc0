"""GET /fhir/ServiceRequest: referrals as FHIR ServiceRequests (category Patient referral), seen by the sending
and the receiving side and whoever may see the patient, audited; and the CapabilityStatement lists the record and
referral resources."""

from tests.fhir.conftest import outcome, valid
from tests.fhir.records_helpers import ICD10, another_villager, encounter, refer, refer_down

from countycare.core.models import AuditEvent
from countycare.referrals import fhir as referrals_fhir
from countycare.referrals.models import Referral


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content.decode()[:2000]
    bundle = response.json()
    valid(bundle)
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def test_a_referral_reads_as_a_patient_referral_service_request(county, fhir_as):
    referral = refer(county, urgent=True, codes=("I21.9", "I10"))
    response = fhir_as("county_specialist").get(f"/fhir/ServiceRequest/{referral.uuid}")
    assert response.status_code == 200
    assert response["ETag"] == 'W/"1"'
    body = response.json()
    valid(body)
    assert (body["status"], body["intent"], body["priority"]) == ("active", "order", "urgent")
    assert body["category"][0]["coding"] == [referrals_fhir.REFERRAL_CATEGORY]
    assert body["code"]["coding"][0]["code"] == "up"
    assert body["code"]["coding"][0]["system"] == referrals_fhir.REFERRAL_KIND_SYSTEM
    assert body["subject"]["reference"] == f"Patient/{county.residents['zhang_san'].uuid}"
    assert body["requester"]["reference"] == f"Organization/{county.orgs['east_v1'].uuid}"
    assert body["performer"] == [
        {"reference": f"Organization/{county.orgs['lead'].uuid}", "display": county.orgs["lead"].name}
    ]
    referring = next(e for e in body["extension"] if e["url"] == referrals_fhir.EXT_REFERRING_PRACTITIONER)
    assert referring["valueReference"]["reference"] == f"Practitioner/{county.practitioners['village_doctor'].uuid}"


def test_diagnoses_are_icd10_reasons_primary_first_and_the_reason_is_text(county, fhir_as):
    referral = refer(county, codes=("I21.9", "I10"))
    body = fhir_as("village_doctor").get(f"/fhir/ServiceRequest/{referral.uuid}").json()
    assert [r.get("coding", [{}])[0].get("code") for r in body["reasonCode"]] == ["I21.9", "I10", None]
    assert body["reasonCode"][0]["coding"][0] == {"system": ICD10, "code": "I21.9", "display": "急性心肌梗死，未特指"}
    assert body["reasonCode"][-1] == {"text": "胸痛2小时，疑急性心梗"}
    assert body["note"] == [{"text": "血压160/100，心电图ST段抬高"}]
    assert body["occurrencePeriod"]["end"] > body["occurrencePeriod"]["start"]


def test_an_out_of_county_referral_carries_its_slip_number(county, fhir_as):
    refer(county)  # opens 张三's record to the lead hospital
    slip = refer(county, by="county_specialist", to="partner", kind="out_of_county", slip_number="ZZ2026-001")
    body = fhir_as("county_specialist").get(f"/fhir/ServiceRequest/{slip.uuid}").json()
    assert body["identifier"] == [{"system": referrals_fhir.REFERRAL_SLIP_SYSTEM, "value": "ZZ2026-001"}]


def test_a_down_referral_points_at_its_care_plan(county, fhir_as):
    down = refer_down(county)
    body = fhir_as("township_doctor").get(f"/fhir/ServiceRequest/{down.uuid}").json()
    assert body["code"]["coding"][0]["code"] == "down"
    assert body["supportingInfo"][0]["reference"] == f"CarePlan/{down.care_plan.uuid}"


def test_a_read_is_audited_and_others_get_not_found(county, fhir_as):
    referral = refer(county)
    fhir_as("county_specialist").get(f"/fhir/ServiceRequest/{referral.uuid}")
    event = AuditEvent.objects.get(action="read", object_id=str(referral.uuid))
    assert (event.object_type, event.channel, event.username) == ("Referral", "fhir", "county_specialist")
    outcome(fhir_as("west_doctor").get(f"/fhir/ServiceRequest/{referral.uuid}"), 404)
    outcome(fhir_as("bureau_viewer").get(f"/fhir/ServiceRequest/{referral.uuid}"), 403)


def test_search_by_patient_status_and_code(county, fhir_as):
    down = refer_down(county)  # after an up-referral of 张三 to the lead hospital
    up = Referral.objects.get(kind="up")
    other = refer(county, resident=another_villager(county), to="east")
    client = fhir_as("township_doctor")
    patient = f"Patient/{county.residents['zhang_san'].uuid}"
    assert set(ids(client.get("/fhir/ServiceRequest", {"patient": patient}))) == {str(up.uuid), str(down.uuid)}
    assert ids(client.get("/fhir/ServiceRequest", {"code": "down"})) == [str(down.uuid)]
    assert set(ids(client.get("/fhir/ServiceRequest", {"status": "active"}))) == {
        str(up.uuid), str(other.uuid), str(down.uuid)
    }
    Referral.objects.filter(pk=other.pk).update(status="rejected")
    assert ids(client.get("/fhir/ServiceRequest", {"status": "revoked"})) == [str(other.uuid)]
    assert ids(client.get("/fhir/ServiceRequest", {"status": "draft"})) == []
    outcome(client.get("/fhir/ServiceRequest", {"status": "open"}), 400)


def test_search_by_requester_and_performer_organisation(county, fhir_as):
    to_lead = refer(county)
    to_branch = refer(county, resident=another_villager(county), to="east")
    client = fhir_as("township_doctor")
    assert ids(client.get("/fhir/ServiceRequest", {"performer": f"Organization/{county.orgs['east'].uuid}"})) == [
        str(to_branch.uuid)
    ]
    assert ids(client.get("/fhir/ServiceRequest", {"performer": str(county.orgs["lead"].uuid)})) == [str(to_lead.uuid)]
    village = f"Organization/{county.orgs['east_v1'].uuid}"
    assert set(ids(client.get("/fhir/ServiceRequest", {"requester": village}))) == {str(to_lead.uuid),
                                                                                      str(to_branch.uuid)}
    assert ids(client.get("/fhir/ServiceRequest", {"requester": f"Organization/{county.orgs['east'].uuid}"})) == []
    doctor = county.practitioners["village_doctor"]
    assert len(ids(client.get("/fhir/ServiceRequest", {"requester": f"Practitioner/{doctor.uuid}"}))) == 2
    outcome(client.get("/fhir/ServiceRequest", {"performer": f"Patient/{county.residents['zhang_san'].uuid}"}), 400)


def test_search_by_priority_and_authored_date(county, fhir_as):
    urgent = refer(county, urgent=True)
    routine = refer(county, resident=another_villager(county), to="east")
    Referral.objects.filter(pk=routine.pk).update(requested_at=routine.requested_at.replace(year=2025))
    client = fhir_as("township_doctor")
    assert ids(client.get("/fhir/ServiceRequest", {"priority": "urgent"})) == [str(urgent.uuid)]
    assert ids(client.get("/fhir/ServiceRequest", {"authored": "lt2026"})) == [str(routine.uuid)]


def test_the_receiving_side_finds_the_referral_and_a_stranger_does_not(county, fhir_as):
    referral = refer(county)
    assert ids(fhir_as("county_specialist").get("/fhir/ServiceRequest")) == [str(referral.uuid)]
    assert ids(fhir_as("west_doctor").get("/fhir/ServiceRequest")) == []
    searched = AuditEvent.objects.filter(action="search", object_type="Referral").values_list("username", flat=True)
    assert list(searched) == ["county_specialist"]


def test_the_source_encounter_is_the_encounter_of_the_request(county, fhir_as):
    visit = encounter(county, "zhang_san", "east_v1", diagnoses=(("I21.9", True),))
    referral = refer(county, source_encounter=visit)
    body = fhir_as("village_doctor").get(f"/fhir/ServiceRequest/{referral.uuid}").json()
    assert body["encounter"] == {"reference": f"Encounter/{visit.uuid}"}


def test_a_referral_cannot_be_replaced_its_status_moves_through_task(county, fhir_as):
    referral = refer(county)
    client = fhir_as("county_specialist")
    body = client.get(f"/fhir/ServiceRequest/{referral.uuid}").json()
    issues = outcome(client.put(f"/fhir/ServiceRequest/{referral.uuid}", body), 405)
    assert "Task" in issues[0]["diagnostics"]


def test_the_capability_statement_lists_the_record_and_referral_resources(db, anonymous):
    rest = anonymous.get("/fhir/metadata").json()["rest"][0]
    resources = {r["type"]: r for r in rest["resource"]}
    assert {"Encounter", "Condition", "Observation", "ServiceRequest", "Task", "CarePlan"} <= set(resources)
    params = {kind: {p["name"] for p in r["searchParam"]} for kind, r in resources.items()}
    assert params["Encounter"] >= {"patient", "status", "service-provider", "date"}
    assert params["Condition"] >= {"patient", "code", "recorded-date"}
    assert params["Observation"] >= {"patient", "code", "date"}
    assert params["ServiceRequest"] >= {"patient", "status", "requester", "performer", "authored"}
    assert params["Task"] >= {"patient", "status", "owner", "requester", "authored-on", "focus"}
    assert params["CarePlan"] >= {"patient", "status", "date", "based-on"}
