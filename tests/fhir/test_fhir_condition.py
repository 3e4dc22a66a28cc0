"""GET /fhir/Condition: encounter diagnoses and the problem list as FHIR Conditions, ICD-10 with Chinese names,
in scope only, audited."""

from tests.fhir.conftest import outcome, valid
from tests.fhir.records_helpers import ICD10, encounter, problem, shanghai

from countycare.core.models import AuditEvent
from countycare.records import fhir as records_fhir


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content.decode()[:2000]
    bundle = response.json()
    valid(bundle)
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def test_an_encounter_diagnosis_reads_as_a_condition_coded_in_icd10(county, fhir_as):
    visit = encounter(county, "zhang_san", "east_v1", practitioner="village_doctor", diagnoses=(("I10", True),))
    diagnosis = visit.diagnoses.get()
    response = fhir_as("village_doctor").get(f"/fhir/Condition/{diagnosis.uuid}")
    assert response.status_code == 200
    body = response.json()
    valid(body)
    assert body["code"]["coding"] == [{"system": ICD10, "code": "I10", "display": "特发性（原发性）高血压"}]
    assert body["category"][0]["coding"][0]["code"] == "encounter-diagnosis"
    assert body["encounter"] == {"reference": f"Encounter/{visit.uuid}"}
    assert body["extension"] == [{"url": records_fhir.EXT_PRIMARY_DIAGNOSIS, "valueBoolean": True}]
    assert body["recorder"]["reference"] == f"Practitioner/{county.practitioners['village_doctor'].uuid}"


def test_a_problem_reads_as_a_problem_list_item_with_its_clinical_status(county, fhir_as):
    entry = problem(county, "zhang_san", "I10")
    body = fhir_as("village_doctor").get(f"/fhir/Condition/{entry.uuid}").json()
    valid(body)
    assert body["category"][0]["coding"][0]["code"] == "problem-list-item"
    assert body["clinicalStatus"]["coding"][0]["code"] == "active"
    assert body["onsetDateTime"] == "2025-05-20"
    assert body["meta"]["versionId"] == "1"


def test_reads_are_audited_and_out_of_scope_is_not_found(county, fhir_as):
    entry = problem(county, "zhang_san", "I10")
    fhir_as("township_doctor").get(f"/fhir/Condition/{entry.uuid}")
    event = AuditEvent.objects.get(action="read", object_id=str(entry.uuid))
    assert (event.object_type, event.channel) == ("Problem", "fhir")
    outcome(fhir_as("west_doctor").get(f"/fhir/Condition/{entry.uuid}"), 404)
    outcome(fhir_as("bureau_viewer").get(f"/fhir/Condition/{entry.uuid}"), 403)


def test_search_by_patient_runs_over_diagnoses_and_problems_newest_first(county, fhir_as):
    visit = encounter(county, "zhang_san", "east_v1", at=shanghai(2026, 3, 2), diagnoses=(("J06.9", True),))
    chronic = problem(county, "zhang_san", "I10", at=shanghai(2025, 6, 1))
    encounter(county, "zeng_li", "east_v2", diagnoses=(("E11", True),))
    found = ids(fhir_as("township_doctor").get(
        "/fhir/Condition", {"patient": str(county.residents["zhang_san"].uuid)}
    ))
    assert found == [str(visit.diagnoses.get().uuid), str(chronic.uuid)]


def test_search_pages_through_both_tables_with_one_total(county, fhir_as):
    for day in (1, 3, 5):
        encounter(county, "zhang_san", "east_v1", at=shanghai(2026, 3, day), diagnoses=(("J06.9", True),))
    problem(county, "zhang_san", "I10", at=shanghai(2026, 3, 4))
    problem(county, "zhang_san", "E11", at=shanghai(2026, 3, 2))
    client = fhir_as("village_doctor")
    first = client.get("/fhir/Condition", {"_count": "2"}).json()
    second = client.get("/fhir/Condition", {"_count": "2", "page": "2"}).json()
    third = client.get("/fhir/Condition", {"_count": "2", "page": "3"}).json()
    assert first["total"] == 5
    dates = [e["resource"]["recordedDate"][:10] for page in (first, second, third) for e in page["entry"]]
    assert dates == ["2026-03-05", "2026-03-04", "2026-03-03", "2026-03-02", "2026-03-01"]


def test_search_by_code_category_and_clinical_status(county, fhir_as):
    visit = encounter(county, "zhang_san", "east_v1", diagnoses=(("I10", True),))
    active = problem(county, "zhang_san", "I10")
    resolved = problem(county, "zhang_san", "E11", status="resolved")
    client = fhir_as("village_doctor")
    assert set(ids(client.get("/fhir/Condition", {"code": f"{ICD10}|I10"}))) == {
        str(visit.diagnoses.get().uuid), str(active.uuid)
    }
    assert ids(client.get("/fhir/Condition", {"code": "http://other|I10"})) == []
    assert ids(client.get("/fhir/Condition", {"category": "encounter-diagnosis"})) == [str(visit.diagnoses.get().uuid)]
    assert ids(client.get("/fhir/Condition", {"clinical-status": "resolved"})) == [str(resolved.uuid)]
    assert set(ids(client.get("/fhir/Condition", {"category": "problem-list-item", "code": "I10,E11"}))) == {
        str(active.uuid), str(resolved.uuid)
    }


def test_search_by_encounter_and_recorded_date(county, fhir_as):
    march = encounter(county, "zhang_san", "east_v1", at=shanghai(2026, 3, 2), diagnoses=(("I10", True),))
    january = encounter(county, "zhang_san", "east_v1", at=shanghai(2026, 1, 2), diagnoses=(("J06.9", True),))
    client = fhir_as("village_doctor")
    assert ids(client.get("/fhir/Condition", {"encounter": f"Encounter/{march.uuid}"})) == [
        str(march.diagnoses.get().uuid)
    ]
    assert ids(client.get("/fhir/Condition", {"recorded-date": "ge2026-02"})) == [str(march.diagnoses.get().uuid)]
    assert ids(client.get("/fhir/Condition", {"recorded-date": "ne2026-03-02"})) == [
        str(january.diagnoses.get().uuid)
    ]


def test_a_search_audits_each_row_by_its_table(county, fhir_as):
    visit = encounter(county, "zhang_san", "east_v1", diagnoses=(("J06.9", True),))
    entry = problem(county, "zhang_san", "I10")
    fhir_as("village_doctor").get("/fhir/Condition")
    searched = set(AuditEvent.objects.filter(action="search").values_list("object_type", "object_id"))
    assert searched == {("Diagnosis", str(visit.diagnoses.get().uuid)), ("Problem", str(entry.uuid))}


def test_search_leaves_out_other_doctors_patients(county, fhir_as):
    encounter(county, "zhang_san", "east_v1", diagnoses=(("I10", True),))
    problem(county, "wang_wu", "E11")
    assert ids(fhir_as("west_doctor").get("/fhir/Condition", {"code": "I10"})) == []
    assert len(ids(fhir_as("west_doctor").get("/fhir/Condition"))) == 1
