"""POST /fhir/Observation: a measurement or result recorded through records.services.record_observations."""

from decimal import Decimal

import pytest
from tests.fhir.conftest import outcome, valid
from tests.fhir.records_helpers import LOINC, encounter, observation_body, records_snapshot, reference

from countycare.core.models import AuditEvent
from countycare.records import fhir as records_fhir
from countycare.records.models import Observation


def expression(issues) -> list[str]:
    return [e for i in issues for e in i.get("expression", [])]


def test_a_doctor_records_a_blood_pressure_at_a_visit(county, fhir_as):
    visit = encounter(county, "zhang_san", "east_v1")
    body = observation_body(county, encounter=reference(visit, "Encounter"))
    response = fhir_as("village_doctor").post("/fhir/Observation", body)
    assert response.status_code == 201, response.content.decode()
    created = valid(response.json())
    stored = Observation.objects.get(uuid=created.id)
    assert (stored.code, stored.value_quantity, stored.unit, stored.encounter) == (
        "8480-6", Decimal("150"), "mm[Hg]", visit
    )
    assert (stored.category, stored.display) == ("vital-signs", "收缩压")
    assert created.valueQuantity.system == "http://unitsofmeasure.org"
    event = AuditEvent.objects.get(action="create", object_type="Observation")
    assert (event.channel, event.object_id) == ("fhir", str(stored.uuid))


def test_a_shared_centre_posts_a_lab_result_with_its_range(county, fhir_as):
    from tests.fhir.records_helpers import refer

    refer(county)  # opens 张三's record to the lead hospital, where the centre reader works
    body = observation_body(
        county,
        category=[{"coding": [{"system": records_fhir.OBSERVATION_CATEGORY_SYSTEM, "code": "laboratory"}]}],
        code={"coding": [{"system": LOINC, "code": "2093-3", "display": "总胆固醇"}]},
        valueQuantity={"value": 6.8, "unit": "mmol/L"},
        referenceRange=[{"low": {"value": 2.8}, "high": {"value": 5.2}}],
    )
    response = fhir_as("centre_reader").post("/fhir/Observation", body)
    assert response.status_code == 201, response.content.decode()
    stored = Observation.objects.get(uuid=response.json()["id"])
    assert (stored.reference_high, stored.interpretation) == (Decimal("5.2"), "H")
    assert response.json()["interpretation"][0]["coding"][0]["code"] == "H"


def test_a_result_may_be_text(county, fhir_as):
    body = observation_body(
        county,
        category=[{"coding": [{"system": records_fhir.OBSERVATION_CATEGORY_SYSTEM, "code": "exam"}]}],
        code={"coding": [{"system": LOINC, "code": "11524-6", "display": "心电图"}]},
        valueQuantity=None, valueString="窦性心律，大致正常心电图",
    )
    response = fhir_as("village_doctor").post("/fhir/Observation", {k: v for k, v in body.items() if v is not None})
    assert response.status_code == 201, response.content.decode()
    assert response.json()["valueString"] == "窦性心律，大致正常心电图"


@pytest.mark.parametrize(
    ("elements", "status", "where"),
    [
        ({"subject": None}, 422, "Observation.subject"),
        ({"status": "preliminary"}, 422, "Observation.status"),
        ({"status": "guessed"}, 422, "Observation.status"),
        ({"code": {"coding": [{"system": LOINC, "code": "0000-0"}]}}, 422, "Observation.code"),
        ({"code": {"text": "血压"}}, 422, "Observation.code"),
        ({"category": [{"coding": [{"system": records_fhir.OBSERVATION_CATEGORY_SYSTEM, "code": "gossip"}]}]}, 422,
         "Observation.category[0]"),
        ({"valueQuantity": {"value": 3000, "unit": "mmHg"}}, 422, "Observation.value[x]"),
        ({"valueQuantity": {"value": 150, "unit": "kg"}}, 422, "Observation.value[x]"),
        ({"valueQuantity": None, "valueBoolean": True}, 422, "Observation.valueBoolean"),
        ({"valueQuantity": {"value": "high", "unit": "mmHg"}}, 400, "Observation.valueQuantity.value"),
        ({"effectiveDateTime": "2026-03"}, 422, "Observation.effectiveDateTime"),
        ({"effectiveDateTime": "2099-01-01T00:00:00+08:00"}, 422, "Observation.effectiveDateTime"),
    ],
    ids=["no-subject", "preliminary", "unknown-status", "unknown-vital", "no-loinc", "unknown-category",
         "impossible-value", "wrong-unit", "unsupported-value", "wrong-type", "partial-date", "future"],
)
def test_a_malformed_observation_is_refused_naming_the_element_and_changes_nothing(county, fhir_as, elements, status,
                                                                                   where):
    body = {k: v for k, v in observation_body(county, **elements).items() if v is not None}
    before = records_snapshot()
    issues = outcome(fhir_as("village_doctor").post("/fhir/Observation", body), status)
    assert where in expression(issues), issues
    assert records_snapshot() == before


def test_the_encounter_must_be_the_patients(county, fhir_as):
    visit = encounter(county, "zeng_li", "east_v2")
    before = records_snapshot()
    issues = outcome(fhir_as("township_doctor").post(
        "/fhir/Observation", observation_body(county, encounter=reference(visit, "Encounter"))
    ), 422)
    assert "Observation.encounter" in expression(issues)
    assert records_snapshot() == before


@pytest.mark.parametrize(("role", "status"), [("bureau_viewer", 403), ("resident", 403), ("west_doctor", 422)])
def test_others_cannot_record_for_the_patient(county, fhir_as, role, status):
    before = records_snapshot()
    outcome(fhir_as(role).post("/fhir/Observation", observation_body(county)), status)
    assert records_snapshot() == before
