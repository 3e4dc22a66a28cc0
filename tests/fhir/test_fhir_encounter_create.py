"""POST /fhir/Encounter: a visit recorded through records.services.record_encounter, with contained Conditions as
its diagnoses; every refusal is an OperationOutcome naming the element and changes nothing."""

from decimal import Decimal

import pytest
from tests.fhir.conftest import outcome, valid
from tests.fhir.records_helpers import encounter_body, records_snapshot

from countycare.core.models import AuditEvent
from countycare.records import fhir as records_fhir
from countycare.records.models import Encounter, Problem


def expression(issues) -> list[str]:
    return [e for i in issues for e in i.get("expression", [])]


def test_a_doctor_records_a_visit_with_its_diagnosis_costs_and_note(county, fhir_as):
    response = fhir_as("village_doctor").post("/fhir/Encounter", encounter_body(county))
    assert response.status_code == 201, response.content.decode()
    created = valid(response.json())
    stored = Encounter.objects.get(uuid=created.id)
    assert response["Location"].endswith(f"/fhir/Encounter/{stored.uuid}/_history/1")
    assert response["ETag"] == 'W/"1"'
    assert (stored.kind, stored.status, stored.organization, stored.resident) == (
        "outpatient", "finished", county.orgs["east_v1"], county.residents["zhang_san"]
    )
    assert stored.practitioner == county.practitioners["village_doctor"]
    assert (stored.cost_drugs, stored.cost_exams, stored.cost_total) == (
        Decimal("35.50"), Decimal("12.00"), Decimal("47.50")
    )
    assert (stored.chief_complaint, stored.note) == ("头晕3天", "血压控制欠佳，调整用药")
    assert list(stored.diagnoses.values_list("code", "is_primary")) == [("I10", True)]
    assert created.diagnosis[0].condition.reference == f"Condition/{stored.diagnoses.get().uuid}"


def test_a_chronic_diagnosis_goes_on_the_problem_list_and_the_write_is_audited(county, fhir_as):
    response = fhir_as("village_doctor").post("/fhir/Encounter", encounter_body(county, resident="zhang_san"))
    assert response.status_code == 201
    assert Problem.objects.filter(resident=county.residents["zhang_san"], code="I10", status="active").exists()
    event = AuditEvent.objects.get(action="create", object_type="Encounter")
    assert (event.channel, event.object_id) == ("fhir", response.json()["id"])


def test_an_admission_stays_in_progress_with_its_ward(county, fhir_as):
    body = encounter_body(
        county, org="lead", status="in-progress", period={"start": "2026-03-01T10:00:00+08:00"},
        **{"class": {"system": records_fhir.ACT_CODE_SYSTEM, "code": "IMP"}},
        type=[], location=[{"location": {"display": "心内科3床"}}],
        extension=[{"url": records_fhir.EXT_DEPARTMENT, "valueString": "CARD"}],
    )
    from tests.fhir.records_helpers import refer

    refer(county)  # opens 张三's record to the lead hospital
    response = fhir_as("county_specialist").post("/fhir/Encounter", body)
    assert response.status_code == 201, response.content.decode()
    stored = Encounter.objects.get(uuid=response.json()["id"])
    assert (stored.kind, stored.status, stored.ward, stored.department.code) == (
        "inpatient", "in-progress", "心内科3床", "CARD"
    )


def test_an_idempotency_key_records_a_retried_visit_once(county, fhir_as):
    client = fhir_as("village_doctor")
    first = client.post("/fhir/Encounter", encounter_body(county), **{"Idempotency-Key": "visit-1"})
    again = client.post("/fhir/Encounter", encounter_body(county), **{"Idempotency-Key": "visit-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"]
    assert Encounter.objects.count() == 1


@pytest.mark.parametrize(
    ("elements", "status", "where"),
    [
        ({"subject": None}, 422, "Encounter.subject"),
        ({"status": "waiting"}, 422, "Encounter.status"),
        ({"status": "in-progress"}, 422, "Encounter.status"),
        ({"class": {"system": records_fhir.ACT_CODE_SYSTEM, "code": "XYZ"}}, 422, "Encounter.class"),
        ({"type": [{"coding": [{"system": records_fhir.system_url("encounter-kind"), "code": "spa"}]}]}, 422,
         "Encounter.type[0]"),
        ({"contained": [{"resourceType": "Condition", "id": "dx1", "subject": {"reference": "Patient/x"},
                         "code": {"coding": [{"system": records_fhir.ICD10_SYSTEM, "code": "Z99.999"}]}}]}, 422,
         "Encounter.contained(dx1).code"),
        ({"diagnosis": [{"condition": {"reference": "Condition/abc"}}]}, 422, "Encounter.diagnosis[0].condition"),
        ({"serviceProvider": {"reference": "Organization/not-an-id"}}, 422, "Encounter.serviceProvider"),
        ({"period": {"start": "2026-03-02"[:7], "end": "2026-03-02T09:20:00+08:00"}}, 422, "Encounter.period.start"),
        ({"period": "yesterday"}, 400, "Encounter.period"),
        ({"extension": [{"url": records_fhir.EXT_ENCOUNTER_COST,
                         "extension": [{"url": "tips", "valueMoney": {"value": 5, "currency": "CNY"}}]}]}, 422,
         f"Encounter.extension({records_fhir.EXT_ENCOUNTER_COST}).extension(tips)"),
    ],
    ids=["no-subject", "unknown-status", "outpatient-in-progress", "unknown-class", "unknown-type",
         "unknown-icd10", "diagnosis-not-contained", "bad-organisation", "partial-date", "wrong-type",
         "unknown-cost"],
)
def test_a_malformed_visit_is_refused_naming_the_element_and_changes_nothing(county, fhir_as, elements, status,
                                                                             where):
    body = encounter_body(county, **elements)
    body = {key: value for key, value in body.items() if value is not None}
    before = records_snapshot()
    issues = outcome(fhir_as("village_doctor").post("/fhir/Encounter", body), status)
    assert where in expression(issues), issues
    assert records_snapshot() == before


def test_a_visit_without_any_diagnosis_is_refused_by_the_service(county, fhir_as):
    body = encounter_body(county, diagnosis=[], contained=[])
    before = records_snapshot()
    issues = outcome(fhir_as("village_doctor").post("/fhir/Encounter", body), 422)
    assert "Encounter.diagnosis" in expression(issues)
    assert records_snapshot() == before


def test_a_patient_outside_scope_cannot_be_given_a_visit(county, fhir_as):
    before = records_snapshot()
    issues = outcome(fhir_as("west_doctor").post("/fhir/Encounter", encounter_body(county, org="west")), 422)
    assert "Encounter.subject" in expression(issues)
    assert records_snapshot() == before


def test_a_visit_at_an_organisation_the_doctor_does_not_work_at_is_forbidden(county, fhir_as):
    before = records_snapshot()
    outcome(fhir_as("village_doctor").post("/fhir/Encounter", encounter_body(county, org="west_v1")), 403)
    assert records_snapshot() == before


@pytest.mark.parametrize("role", ["bureau_viewer", "resident", "community_admin", "pharmacist"])
def test_only_doctors_record_visits(county, fhir_as, role):
    before = records_snapshot()
    outcome(fhir_as(role).post("/fhir/Encounter", encounter_body(county)), 403)
    assert records_snapshot() == before
