"""GET /fhir/CarePlan: the plan a down-referral carries, based on the referral, followed by the responsible
lead-hospital doctor; created only contained in its ServiceRequest."""

from tests.fhir.conftest import outcome, valid
from tests.fhir.records_helpers import care_plan_resource, refer, refer_down

from countycare.core.models import AuditEvent
from countycare.referrals.models import CarePlan


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content.decode()[:2000]
    bundle = response.json()
    valid(bundle)
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def test_a_down_referral_care_plan_reads_as_a_care_plan_based_on_the_referral(county, fhir_as):
    down = refer_down(county)
    plan = down.care_plan
    response = fhir_as("township_doctor").get(f"/fhir/CarePlan/{plan.uuid}")
    assert response.status_code == 200
    body = response.json()
    valid(body)
    assert (body["status"], body["intent"]) == ("active", "plan")
    assert body["basedOn"] == [{"reference": f"ServiceRequest/{down.uuid}"}]
    assert body["description"] == "PCI术后，病情稳定"
    assert body["author"]["reference"] == f"Practitioner/{county.practitioners['county_specialist'].uuid}"
    assert body["contributor"][0]["reference"] == f"Organization/{county.orgs['lead'].uuid}"
    assert body["period"]["end"] == plan.period_end.isoformat()
    assert body["note"] == [{"text": "胸痛再发、呼吸困难立即返院"}]


def test_the_diagnoses_medicines_and_follow_ups_are_in_the_plan(county, fhir_as):
    plan = refer_down(county).care_plan
    body = fhir_as("county_specialist").get(f"/fhir/CarePlan/{plan.uuid}").json()
    addressed = {c["id"]: c["code"]["coding"][0]["code"] for c in body["contained"]}
    assert [addressed[a["reference"][1:]] for a in body["addresses"]] == ["I21.9", "I10"]
    medicine, follow_up = (a["detail"] for a in body["activity"])
    assert medicine["kind"] == "MedicationRequest"
    assert medicine["productCodeableConcept"] == {"text": "阿托伐他汀钙片"}
    assert medicine["description"] == "20 mg"
    assert medicine["scheduledTiming"]["code"] == {"text": "每晚一次"}
    assert medicine["scheduledTiming"]["repeat"]["boundsDuration"]["value"] == 30
    assert (follow_up["kind"], follow_up["code"], follow_up["scheduledTiming"]) == (
        "Appointment", {"text": "复查血脂、肝功能"}, {"event": ["2026-12-01"]}
    )


def test_a_read_is_audited_and_strangers_get_not_found(county, fhir_as):
    plan = refer_down(county).care_plan
    fhir_as("county_specialist").get(f"/fhir/CarePlan/{plan.uuid}")
    event = AuditEvent.objects.get(action="read", object_id=str(plan.uuid))
    assert (event.object_type, event.channel) == ("CarePlan", "fhir")
    outcome(fhir_as("west_doctor").get(f"/fhir/CarePlan/{plan.uuid}"), 404)
    outcome(fhir_as("bureau_viewer").get(f"/fhir/CarePlan/{plan.uuid}"), 403)


def test_search_by_patient_status_based_on_author_and_date(county, fhir_as):
    plan = refer_down(county).care_plan
    client = fhir_as("township_doctor")
    everything = {"patient": f"Patient/{county.residents['zhang_san'].uuid}", "status": "active",
                  "based-on": f"ServiceRequest/{plan.referral.uuid}",
                  "author": f"Practitioner/{county.practitioners['county_specialist'].uuid}", "date": "ge2026"}
    for name, value in everything.items():
        assert ids(client.get("/fhir/CarePlan", {name: value})) == [str(plan.uuid)], name
    CarePlan.objects.filter(pk=plan.pk).update(status="completed")
    assert ids(client.get("/fhir/CarePlan", {"status": "active"})) == []
    assert ids(client.get("/fhir/CarePlan", {"author": f"Organization/{county.orgs['lead'].uuid}"})) == [
        str(plan.uuid)
    ]
    assert ids(client.get("/fhir/CarePlan", {"patient": f"Patient/{county.residents['wang_wu'].uuid}"})) == []


def test_the_responsible_doctor_keeps_seeing_the_plan(county, fhir_as):
    plan = refer_down(county).care_plan
    assert ids(fhir_as("county_specialist").get("/fhir/CarePlan")) == [str(plan.uuid)]
    assert ids(fhir_as("west_doctor").get("/fhir/CarePlan")) == []


def test_a_care_plan_is_not_created_on_its_own(county, fhir_as):
    refer(county)
    before = CarePlan.objects.count()
    body = care_plan_resource(county)
    del body["id"]
    issues = outcome(fhir_as("county_specialist").post("/fhir/CarePlan", body), 405)
    assert "ServiceRequest" in issues[0]["diagnostics"]
    assert CarePlan.objects.count() == before
