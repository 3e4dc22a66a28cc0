"""FHIR creates of the diagnostic centres: a branch HIS orders an exam (POST ServiceRequest), a laboratory posts
an ordered exam's results (POST DiagnosticReport with contained Observations). Refusals are OperationOutcomes
that name the element and change nothing; an Idempotency-Key retry creates one."""

import copy

import pytest
from tests.diagnostics.api_fhir_helpers import client, fresh, reported_ecg, request_exam
from tests.fhir.conftest import outcome, valid

from countycare.core.models import IdempotencyRecord
from countycare.diagnostics import fhir as dx_fhir
from countycare.diagnostics.models import CriticalAlert, ExamRequest, ExamStatus, RecognitionCheck, Report
from countycare.records.models import Observation

LOINC = "http://loinc.org"


def exam_body(dx, exam="ECG12", **elements):
    body = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [{"coding": [{"system": dx_fhir.EXAM_CATEGORY_SYSTEM, "code": "ecg"}]}],
        "code": {"coding": [{"system": dx_fhir.EXAM_TYPE_SYSTEM, "code": exam}]},
        "priority": "urgent",
        "subject": {"reference": f"Patient/{dx.residents['zhang_san'].uuid}"},
        "reasonCode": [{"text": "活动后胸痛 chest pain on exertion"}],
    }
    body.update(elements)
    return {k: v for k, v in body.items() if v is not None}


def snapshot():
    return (ExamRequest.objects.count(), Report.objects.count(), Observation.objects.count(),
            IdempotencyRecord.objects.count(), RecognitionCheck.objects.count())


def expressions(issues):
    return [e for i in issues for e in i.get("expression", [])]


def test_a_branch_his_orders_an_exam(dx):
    response = client(dx, "township_doctor").fhir_post("/fhir/ServiceRequest", exam_body(dx))
    assert response.status_code == 201, response.content.decode()
    created = valid(response.json())
    stored = ExamRequest.objects.get(uuid=created.id)
    assert response["Location"].endswith(f"/fhir/ServiceRequest/{stored.uuid}/_history/1")
    assert (stored.exam_type.code, stored.priority, stored.status) == ("ECG12", "urgent", ExamStatus.REQUESTED)
    assert stored.requesting_organization == dx.orgs["east"]
    assert stored.clinical_question.startswith("活动后胸痛")
    assert response.json()["identifier"][0]["value"] == stored.accession_number


def test_an_exam_may_be_named_by_its_loinc_code_and_go_to_a_named_centre(dx):
    body = exam_body(dx, category=None, code={"coding": [{"system": LOINC, "code": "36643-5"}]},
                     performer=[{"reference": f"Organization/{dx.orgs['lead'].uuid}"}])
    response = client(dx, "village_doctor").fhir_post("/fhir/ServiceRequest", body)
    assert response.status_code == 201, response.content.decode()
    stored = ExamRequest.objects.get(uuid=response.json()["id"])
    assert stored.exam_type.code == "DR-CHEST" and stored.centre == dx.centres["imaging"]


def test_an_idempotency_key_makes_a_retried_order_one_exam(dx):
    api = client(dx, "village_doctor")
    body = exam_body(dx)
    first = api.fhir_post("/fhir/ServiceRequest", body, **{"Idempotency-Key": "his-7-0001"})
    again = api.fhir_post("/fhir/ServiceRequest", body, **{"Idempotency-Key": "his-7-0001"})
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"] and first["Location"] == again["Location"]
    assert ExamRequest.objects.count() == 1
    other = api.fhir_post("/fhir/ServiceRequest", exam_body(dx, priority="stat"), **{"Idempotency-Key": "his-7-0001"})
    outcome(other, 422)
    assert ExamRequest.objects.count() == 1


@pytest.mark.parametrize(
    ("elements", "status", "where"),
    [
        ({"code": {"coding": [{"system": dx_fhir.EXAM_TYPE_SYSTEM, "code": "MRI-KNEE"}]}}, 422, "ServiceRequest.code"),
        ({"code": {"coding": [{"system": LOINC, "code": "0000-0"}]}}, 422, "ServiceRequest.code"),
        ({"category": [{"coding": [{"system": dx_fhir.EXAM_CATEGORY_SYSTEM, "code": "lab"}]}]}, 422,
         "ServiceRequest.category[0]"),
        ({"category": [{"coding": [{"system": dx_fhir.EXAM_CATEGORY_SYSTEM, "code": "dentistry"}]}]}, 422,
         "ServiceRequest.category[0]"),
        ({"priority": "whenever"}, 422, "ServiceRequest.priority"),
        ({"priority": 3}, 400, "ServiceRequest.priority"),
        ({"status": "draft"}, 422, "ServiceRequest.status"),
        ({"intent": "proposal"}, 422, "ServiceRequest.intent"),
        ({"reasonCode": None}, 422, "ServiceRequest.reasonCode"),
        ({"subject": {"reference": "Patient/00000000-0000-4000-8000-000000000000"}}, 422, "ServiceRequest.subject"),
        ({"subject": {"reference": "Group/1"}}, 422, "ServiceRequest.subject"),
        ({"requester": {"reference": "Organization/00000000-0000-4000-8000-000000000000"}}, 422,
         "ServiceRequest.requester"),
        ({"encounter": {"reference": "Encounter/00000000-0000-4000-8000-000000000000"}}, 422,
         "ServiceRequest.encounter"),
        ({"performer": [{"reference": "Organization/00000000-0000-4000-8000-000000000000"}]}, 422,
         "ServiceRequest.performer[0]"),
        ({"unknownElement": 1}, 400, "ServiceRequest.unknownElement"),
    ],
    ids=["unknown-exam", "unknown-loinc", "category-disagrees", "unknown-category", "unknown-priority",
         "priority-type", "draft", "proposal", "no-question", "unknown-patient", "not-a-patient",
         "requester-elsewhere", "unknown-encounter", "no-centre-there", "unknown-element"],
)
def test_a_malformed_order_is_refused_naming_the_element_and_changes_nothing(dx, elements, status, where):
    body = {k: v for k, v in (exam_body(dx) | elements).items() if v is not None}
    before = snapshot()
    issues = outcome(client(dx, "village_doctor").fhir_post("/fhir/ServiceRequest", body), status)
    assert where in expressions(issues), issues
    assert snapshot() == before


def test_a_patient_outside_scope_cannot_be_ordered_for_and_only_doctors_order(dx):
    before = snapshot()
    issues = outcome(client(dx, "west_doctor").fhir_post("/fhir/ServiceRequest", exam_body(dx)), 422)
    assert "ServiceRequest.subject" in expressions(issues)
    outcome(client(dx, "insurance_officer").fhir_post("/fhir/ServiceRequest", exam_body(dx)), 403)
    outcome(client(dx, "bureau_viewer").fhir_post("/fhir/ServiceRequest", exam_body(dx)), 403)
    assert snapshot() == before


@pytest.mark.parametrize("payload", ["{not json", "[]", '{"resourceType": "Patient"}'])
def test_malformed_json_or_another_resource_is_a_400(dx, payload):
    outcome(client(dx, "village_doctor").fhir_post("/fhir/ServiceRequest", payload), 400)
    outcome(client(dx, "centre_reader").fhir_post("/fhir/DiagnosticReport", payload), 400)


def test_a_recognised_valid_result_is_a_409_naming_it_unless_a_reason_is_given(dx):
    done = reported_ecg(dx)
    api = client(dx, "village_doctor")
    before = snapshot()
    issues = outcome(api.fhir_post("/fhir/ServiceRequest", exam_body(dx)), 409)
    assert f"DiagnosticReport/{done.uuid}" in {i["diagnostics"] for i in issues}
    assert snapshot() == before
    reason = {"url": dx_fhir.EXT_REPEAT_REASON, "valueString": "症状加重需复查 worse since"}
    response = api.fhir_post("/fhir/ServiceRequest", exam_body(dx, extension=[reason]))
    assert response.status_code == 201, response.content.decode()
    body = response.json()
    assert body["supportingInfo"][0]["reference"] == f"DiagnosticReport/{done.uuid}"
    assert any(e["url"] == dx_fhir.EXT_REPEAT_REASON for e in body["extension"])


# --- lab results as DiagnosticReport -----------------------------------------------------------------------


def lab_body(exam, *, status="final", results=None, **elements):
    results = results if results is not None else [("k", "2823-3", "血钾", 4.2, "mmol/L", 3.5, 5.3, "N"),
                                                    ("na", "2951-2", "血钠", 140, "mmol/L", 137, 147, "N")]
    contained = [{
        "resourceType": "Observation", "id": key, "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
        "valueQuantity": {"value": value, "unit": unit},
        "referenceRange": [{"low": {"value": low}, "high": {"value": high}}],
        "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                                        "code": flag}]}],
        "effectiveDateTime": "2026-03-02T09:00:00+08:00",
    } for key, code, display, value, unit, low, high, flag in results]
    body = {
        "resourceType": "DiagnosticReport",
        "contained": contained,
        "basedOn": [{"reference": f"ServiceRequest/{exam.uuid}"}],
        "status": status,
        "category": [{"coding": [{"system": dx_fhir.DIAGNOSTIC_SECTION_SYSTEM, "code": "LAB"}]}],
        "code": {"coding": [{"system": dx_fhir.EXAM_TYPE_SYSTEM, "code": "BMP"}]},
        "subject": {"reference": f"Patient/{exam.resident.uuid}"},
        "effectiveDateTime": "2026-03-02T09:00:00+08:00",
        "result": [{"reference": f"#{r[0]}"} for r in results],
    }
    body.update(elements)
    return {k: v for k, v in body.items() if v is not None}


def test_a_laboratory_posts_an_ordered_exams_results(dx):
    exam = request_exam(dx, "BMP")
    api = client(dx, "centre_reader")
    response = api.fhir_post("/fhir/DiagnosticReport", lab_body(exam), **{"Idempotency-Key": "lis-1"})
    assert response.status_code == 201, response.content.decode()
    body = valid(response.json())
    assert body.id == str(exam.uuid) and body.status == "final"
    assert response["Location"].endswith(f"/fhir/DiagnosticReport/{exam.uuid}/_history/1")
    assert fresh(exam).status == ExamStatus.PUBLISHED
    codes = set(fresh(exam).observations.values_list("code", flat=True))
    assert {"2823-3", "2951-2"} <= codes
    assert len(body.result) >= 2
    again = api.fhir_post("/fhir/DiagnosticReport", lab_body(exam), **{"Idempotency-Key": "lis-1"})
    assert again.status_code == 201 and again.json() == response.json()
    assert Report.objects.filter(request=exam).count() == 1
    # the results are the record's Observations, found by the requester
    found = client(dx, "village_doctor").get("/fhir/Observation", {
        "patient": f"Patient/{exam.resident.uuid}", "category": "laboratory", "code": f"{LOINC}|2823-3"}).json()
    assert found["total"] == 1
    by_verifier = client(dx, "village_doctor").get("/fhir/Observation", {
        "performer": f"Practitioner/{dx.practitioners['centre_reader'].uuid}", "category": "laboratory"}).json()
    assert by_verifier["total"] == 2
    # a corrected result is a new version
    corrected = lab_body(exam, results=[("k", "2823-3", "血钾", 4.6, "mmol/L", 3.5, 5.3, "N"),
                                        ("na", "2951-2", "血钠", 140, "mmol/L", 137, 147, "N")])
    amended = api.fhir_post("/fhir/DiagnosticReport", corrected)
    assert amended.status_code == 201, amended.content.decode()
    assert amended.json()["status"] == "amended" and amended.json()["meta"]["versionId"] == "2"


def test_a_critical_lab_value_raises_an_alert(dx):
    exam = request_exam(dx, "BMP")
    body = lab_body(exam, results=[("k", "2823-3", "血钾", 6.9, "mmol/L", 3.5, 5.3, "HH")])
    response = client(dx, "centre_reader").fhir_post("/fhir/DiagnosticReport", body)
    assert response.status_code == 201, response.content.decode()
    assert CriticalAlert.objects.filter(request=exam).exists()
    assert any(e["url"] == dx_fhir.EXT_CRITICAL_FINDING for e in response.json()["extension"])


def mutate(body, path, value):
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("change", "status", "where"),
    [
        (lambda b, e: mutate(b, ["basedOn"], None), 422, "DiagnosticReport.basedOn"),
        (lambda b, e: mutate(b, ["basedOn", 0, "reference"], "ServiceRequest/00000000-0000-4000-8000-000000000000"),
         422, "DiagnosticReport.basedOn[0]"),
        (lambda b, e: mutate(b, ["status"], "registered"), 422, "DiagnosticReport.status"),
        (lambda b, e: mutate(b, ["status"], "sort-of"), 422, "DiagnosticReport.status"),
        (lambda b, e: mutate(b, ["code"], {"coding": [{"system": dx_fhir.EXAM_TYPE_SYSTEM, "code": "CBC"}]}), 422,
         "DiagnosticReport.code"),
        (lambda b, e: mutate(b, ["code"], {"coding": [{"system": dx_fhir.EXAM_TYPE_SYSTEM, "code": "NOPE"}]}), 422,
         "DiagnosticReport.code"),
        (lambda b, e: mutate(b, ["category", 0, "coding", 0, "code"], "RAD"), 422, "DiagnosticReport.category[0]"),
        (lambda b, e: mutate(b, ["result"], [{"reference": "Observation/00000000-0000-4000-8000-000000000000"}]), 422,
         "DiagnosticReport.result[0]"),
        (lambda b, e: mutate(b, ["result"], None), 422, "DiagnosticReport.result"),
        (lambda b, e: mutate(b, ["contained", 0, "valueQuantity"], None), 422,
         "DiagnosticReport.contained(k).value[x]"),
        (lambda b, e: mutate(b, ["contained", 0, "interpretation", 0, "coding", 0, "code"], "ZZ"), 422,
         "DiagnosticReport.contained(k).interpretation"),
        (lambda b, e: mutate(b, ["contained", 0, "code"], {"text": "血钾"}), 422, "DiagnosticReport.contained(k).code"),
        (lambda b, e: mutate(b, ["subject", "reference"], "Patient/00000000-0000-4000-8000-000000000000"), 422,
         "DiagnosticReport.subject"),
        (lambda b, e: mutate(b, ["contained", 0, "valueQuantity", "value"], "many"), 400, None),
    ],
    ids=["no-request", "unknown-request", "registered", "unknown-status", "another-exam", "unknown-exam",
         "not-lab-category", "not-contained", "no-results", "no-value", "unknown-flag", "no-code",
         "another-patient", "value-not-a-number"],
)
def test_malformed_results_are_refused_naming_the_element_and_change_nothing(dx, change, status, where):
    exam = request_exam(dx, "BMP")
    before = snapshot()
    issues = outcome(client(dx, "centre_reader").fhir_post("/fhir/DiagnosticReport", change(lab_body(exam), exam)),
                     status)
    if where:
        assert where in expressions(issues), issues
    assert snapshot() == before
    assert fresh(exam).status == ExamStatus.REQUESTED


def test_only_the_laboratorys_staff_post_results_and_only_for_lab_exams(dx):
    exam = request_exam(dx, "BMP")
    ecg = request_exam(dx, "ECG12")
    before = snapshot()
    for who in ("village_doctor", "county_specialist", "bureau_viewer", "pharmacist"):
        outcome(client(dx, who).fhir_post("/fhir/DiagnosticReport", lab_body(exam)), 403)
    body = lab_body(ecg, code={"coding": [{"system": dx_fhir.EXAM_TYPE_SYSTEM, "code": "ECG12"}]})
    issues = outcome(client(dx, "centre_reader").fhir_post("/fhir/DiagnosticReport", body), 422)
    assert "DiagnosticReport.basedOn[0]" in expressions(issues)
    assert snapshot() == before


def test_a_community_administrator_may_post_results_like_an_hl7_sender(dx):
    exam = request_exam(dx, "BMP")
    response = client(dx, "community_admin").fhir_post("/fhir/DiagnosticReport", lab_body(exam))
    assert response.status_code == 201, response.content.decode()
    assert fresh(exam).status == ExamStatus.PUBLISHED
