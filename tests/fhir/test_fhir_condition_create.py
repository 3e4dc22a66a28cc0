"""POST /fhir/Condition: a diagnosis added to an encounter through records.services.add_diagnoses."""

import pytest
from tests.fhir.conftest import outcome, valid
from tests.fhir.records_helpers import condition_body, encounter, records_snapshot

from countycare.records import fhir as records_fhir
from countycare.records.models import Diagnosis, Problem


def expression(issues) -> list[str]:
    return [e for i in issues for e in i.get("expression", [])]


@pytest.fixture
def visit(county):
    return encounter(county, "zhang_san", "east_v1", practitioner="village_doctor", diagnoses=(("J06.9", True),))


def test_a_doctor_adds_a_diagnosis_to_a_visit(county, fhir_as, visit):
    response = fhir_as("village_doctor").post("/fhir/Condition", condition_body(county, visit, code="E11"))
    assert response.status_code == 201, response.content.decode()
    created = valid(response.json())
    stored = Diagnosis.objects.get(uuid=created.id)
    assert (stored.encounter, stored.code, stored.display, stored.is_primary) == (visit, "E11", "2型糖尿病", False)
    assert response["Location"].endswith(f"/fhir/Condition/{stored.uuid}/_history/1")
    assert created.code.coding[0].display == "2型糖尿病"
    # E11 is chronic: it goes on the problem list too
    assert Problem.objects.filter(resident=visit.resident, code="E11", status="active").exists()


def test_the_code_is_normalised_as_the_national_lists_print_it(county, fhir_as, visit):
    body = condition_body(county, visit, code="e11")
    response = fhir_as("village_doctor").post("/fhir/Condition", body)
    assert response.status_code == 201, response.content.decode()
    assert response.json()["code"]["coding"][0]["code"] == "E11"


@pytest.mark.parametrize(
    ("elements", "status", "where"),
    [
        ({"code": {"coding": [{"system": records_fhir.ICD10_SYSTEM, "code": "Q99.999"}]}}, 422, "Condition.code"),
        ({"code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003"}]}}, 422, "Condition.code"),
        ({"subject": None}, 400, "Condition.subject"),
        ({"encounter": None}, 422, "Condition.encounter"),
        ({"category": records_fhir.condition_category("problem-list-item")}, 422, "Condition.category[0]"),
        ({"verificationStatus": {"coding": [{"system": records_fhir.CONDITION_VERIFICATION_SYSTEM,
                                             "code": "maybe"}]}}, 422, "Condition.verificationStatus"),
        ({"extension": [{"url": records_fhir.EXT_PRIMARY_DIAGNOSIS, "valueBoolean": True}]}, 422, "Condition.code"),
        ({"code": {"coding": [{"system": records_fhir.ICD10_SYSTEM, "code": "J06.9"}]}}, 422, "Condition.code"),
        ({"encounter": "Encounter/1"}, 400, "Condition.encounter"),
    ],
    ids=["unknown-icd10", "not-icd10", "no-subject", "no-encounter", "problem-list-item", "unknown-verification",
         "second-primary", "already-diagnosed", "wrong-type"],
)
def test_a_malformed_diagnosis_is_refused_naming_the_element_and_changes_nothing(county, fhir_as, visit, elements,
                                                                                 status, where):
    body = {k: v for k, v in (condition_body(county, visit) | elements).items() if v is not None}
    before = records_snapshot()
    issues = outcome(fhir_as("village_doctor").post("/fhir/Condition", body), status)
    assert where in expression(issues), issues
    assert records_snapshot() == before


def test_the_encounter_must_be_the_patients(county, fhir_as, visit):
    other = encounter(county, "zeng_li", "east_v2")
    body = condition_body(county, other)
    before = records_snapshot()
    issues = outcome(fhir_as("township_doctor").post("/fhir/Condition", body), 422)
    assert "Condition.encounter" in expression(issues)
    assert records_snapshot() == before


def test_an_encounter_outside_scope_is_refused(county, fhir_as, visit):
    before = records_snapshot()
    issues = outcome(fhir_as("west_doctor").post("/fhir/Condition", condition_body(county, visit)), 422)
    assert "Condition.subject" in expression(issues)
    outcome(fhir_as("bureau_viewer").post("/fhir/Condition", condition_body(county, visit)), 403)
    assert records_snapshot() == before
