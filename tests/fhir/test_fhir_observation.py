"""GET /fhir/Observation: vital signs and results, LOINC-coded, in scope only, audited."""

from tests.fhir.conftest import outcome, valid
from tests.fhir.records_helpers import LOINC, encounter, observation, shanghai

from countycare.core.models import AuditEvent


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content.decode()[:2000]
    bundle = response.json()
    valid(bundle)
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def test_a_blood_pressure_reading_is_a_loinc_coded_vital_sign_in_ucum(county, fhir_as):
    visit = encounter(county, "zhang_san", "east_v1")
    reading = observation(county, "zhang_san", "8480-6", "152", "mm[Hg]", encounter=visit, display="收缩压")
    response = fhir_as("village_doctor").get(f"/fhir/Observation/{reading.uuid}")
    assert response.status_code == 200
    body = response.json()
    valid(body)
    assert body["code"]["coding"] == [{"system": LOINC, "code": "8480-6", "display": "收缩压"}]
    assert body["category"][0]["coding"][0]["code"] == "vital-signs"
    assert body["valueQuantity"] == {"value": 152, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org",
                                     "code": "mm[Hg]"}
    assert body["encounter"] == {"reference": f"Encounter/{visit.uuid}"}
    assert body["status"] == "final"


def test_a_lab_result_keeps_its_reference_range_and_interpretation(county, fhir_as):
    result = observation(county, "zhang_san", "14771-0", "8.2", "mmol/L", category="laboratory",
                         display="空腹血糖", reference_low="3.9", reference_high="6.1", interpretation="H")
    body = fhir_as("village_doctor").get(f"/fhir/Observation/{result.uuid}").json()
    valid(body)
    assert body["valueQuantity"]["value"] == 8.2
    assert body["referenceRange"] == [{"low": {"value": 3.9, "unit": "mmol/L"}, "high": {"value": 6.1,
                                                                                         "unit": "mmol/L"}}]
    assert body["interpretation"][0]["coding"][0]["code"] == "H"


def test_reads_are_audited_and_out_of_scope_is_not_found(county, fhir_as):
    reading = observation(county, "zhang_san", "8480-6", "152", "mm[Hg]")
    fhir_as("village_doctor").get(f"/fhir/Observation/{reading.uuid}")
    event = AuditEvent.objects.get(action="read", object_id=str(reading.uuid))
    assert (event.object_type, event.channel, event.resident_id) == (
        "Observation", "fhir", str(county.residents["zhang_san"].uuid)
    )
    outcome(fhir_as("west_doctor").get(f"/fhir/Observation/{reading.uuid}"), 404)
    outcome(fhir_as("bureau_viewer").get("/fhir/Observation"), 403)


def test_search_by_patient_and_code(county, fhir_as):
    systolic = observation(county, "zhang_san", "8480-6", "152", "mm[Hg]")
    observation(county, "zhang_san", "8462-4", "95", "mm[Hg]")
    observation(county, "zeng_li", "8480-6", "118", "mm[Hg]")
    client = fhir_as("township_doctor")
    found = ids(client.get("/fhir/Observation", {
        "patient": f"Patient/{county.residents['zhang_san'].uuid}", "code": f"{LOINC}|8480-6",
    }))
    assert found == [str(systolic.uuid)]


def test_search_by_date_category_and_encounter(county, fhir_as):
    visit = encounter(county, "zhang_san", "east_v1", at=shanghai(2026, 3, 2))
    morning = observation(county, "zhang_san", "8480-6", "152", "mm[Hg]", at=shanghai(2026, 3, 2, 8), encounter=visit)
    earlier = observation(county, "zhang_san", "15074-8", "7.1", "mmol/L", category="laboratory",
                          at=shanghai(2026, 2, 20))
    client = fhir_as("village_doctor")
    assert ids(client.get("/fhir/Observation", {"date": "2026-03-02"})) == [str(morning.uuid)]
    assert ids(client.get("/fhir/Observation", {"date": "lt2026-03"})) == [str(earlier.uuid)]
    assert ids(client.get("/fhir/Observation", {"category": "laboratory"})) == [str(earlier.uuid)]
    assert ids(client.get("/fhir/Observation", {"encounter": f"Encounter/{visit.uuid}"})) == [str(morning.uuid)]


def test_search_leaves_out_residents_outside_scope_and_audits_what_it_returns(county, fhir_as):
    mine = observation(county, "wang_wu", "8480-6", "140", "mm[Hg]")
    observation(county, "zhang_san", "8480-6", "152", "mm[Hg]")
    assert ids(fhir_as("west_doctor").get("/fhir/Observation")) == [str(mine.uuid)]
    searched = list(AuditEvent.objects.filter(action="search").values_list("object_type", "object_id"))
    assert searched == [("Observation", str(mine.uuid))]
