"""POST /fhir/ServiceRequest: a referral sent through referrals.services.create_referral (Idempotency-Key
supported); a down-referral contains its CarePlan."""

import pytest
from tests.fhir.conftest import outcome, valid
from tests.fhir.records_helpers import (
    ICD10,
    care_plan_resource,
    encounter,
    records_snapshot,
    refer,
    reference,
    service_request_body,
)

from countycare.core.models import AuditEvent
from countycare.referrals import fhir as referrals_fhir
from countycare.referrals.models import CarePlan, Referral


def expression(issues) -> list[str]:
    return [e for i in issues for e in i.get("expression", [])]


def test_a_village_doctor_refers_a_patient_up(county, fhir_as):
    response = fhir_as("village_doctor").post("/fhir/ServiceRequest", service_request_body(county))
    assert response.status_code == 201, response.content.decode()
    created = valid(response.json())
    stored = Referral.objects.get(uuid=created.id)
    assert response["Location"].endswith(f"/fhir/ServiceRequest/{stored.uuid}/_history/1")
    assert (stored.kind, stored.status, stored.urgent) == ("up", "requested", False)
    assert (stored.from_organization, stored.to_organization) == (county.orgs["east_v1"], county.orgs["lead"])
    assert stored.from_practitioner == county.practitioners["village_doctor"]
    assert stored.diagnoses == [{"code": "I21.9", "display": "急性心肌梗死，未特指", "primary": True}]
    assert (stored.reason, stored.clinical_summary) == ("胸痛2小时，疑急性心梗", "血压160/100，心电图ST段抬高")
    event = AuditEvent.objects.get(action="create", object_type="Referral")
    assert (event.channel, event.object_id) == ("fhir", str(stored.uuid))
    task = fhir_as("county_specialist").get(f"/fhir/Task/{stored.uuid}").json()
    assert task["status"] == "requested"


def test_the_green_channel_department_doctor_and_source_encounter_are_taken(county, fhir_as):
    visit = encounter(county, "zhang_san", "east_v1", diagnoses=(("I21.9", True),))
    specialist = county.practitioners["county_specialist"]
    body = service_request_body(
        county, priority="urgent", encounter=reference(visit, "Encounter"),
        performer=[reference(county.orgs["lead"], "Organization"), reference(specialist, "Practitioner")],
        extension=[{"url": referrals_fhir.EXT_RECEIVING_DEPARTMENT, "valueString": "CARD"}],
        reasonCode=[{"coding": [{"system": ICD10, "code": "I10"}]}, {"coding": [{"system": ICD10, "code": "I21.9"}]},
                    {"text": "胸痛"}],
    )
    response = fhir_as("village_doctor").post("/fhir/ServiceRequest", body)
    assert response.status_code == 201, response.content.decode()
    stored = Referral.objects.get(uuid=response.json()["id"])
    assert (stored.urgent, stored.to_department.code, stored.to_practitioner, stored.source_encounter) == (
        True, "CARD", specialist, visit
    )
    assert [(d["code"], d["primary"]) for d in stored.diagnoses] == [("I10", True), ("I21.9", False)]


def test_a_down_referral_contains_its_care_plan(county, fhir_as):
    refer(county)  # 张三 up to the lead hospital first: his record is open to it
    body = service_request_body(
        county, to="east", kind="down", contained=[care_plan_resource(county)],
        supportingInfo=[{"reference": "#plan"}],
    )
    response = fhir_as("county_specialist").post("/fhir/ServiceRequest", body)
    assert response.status_code == 201, response.content.decode()
    referral = Referral.objects.get(uuid=response.json()["id"])
    plan = CarePlan.objects.get(referral=referral)
    assert plan.treatment_summary == "PCI术后，病情稳定"
    assert plan.medicines == [{"name": "阿托伐他汀钙片", "dose": "20 mg", "frequency": "每晚一次", "days": 30}]
    assert plan.follow_up == [{"due": "2026-12-01", "what": "复查血脂、肝功能"}]
    assert plan.warning_signs == "胸痛再发、呼吸困难立即返院"
    assert plan.responsible_practitioner == county.practitioners["county_specialist"]
    assert response.json()["supportingInfo"] == [
        {"reference": f"CarePlan/{plan.uuid}", "display": "下转康复计划"}
    ]
    read_back = fhir_as("township_doctor").get("/fhir/CarePlan", {"based-on": f"ServiceRequest/{referral.uuid}"})
    assert read_back.json()["total"] == 1


def test_an_idempotency_key_makes_a_retried_referral_one_referral(county, fhir_as):
    client = fhir_as("village_doctor")
    body = service_request_body(county)
    first = client.post("/fhir/ServiceRequest", body, **{"Idempotency-Key": "flaky-village-1"})
    again = client.post("/fhir/ServiceRequest", body, **{"Idempotency-Key": "flaky-village-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"]
    assert first["Location"] == again["Location"]
    assert Referral.objects.count() == 1
    changed = service_request_body(county, priority="urgent")
    outcome(client.post("/fhir/ServiceRequest", changed, **{"Idempotency-Key": "flaky-village-1"}), 422)
    assert Referral.objects.count() == 1
    other = client.post("/fhir/ServiceRequest", body, **{"Idempotency-Key": "flaky-village-2"})
    assert other.status_code == 201 and Referral.objects.count() == 2


def plan_without_author(county):
    plan = care_plan_resource(county)
    del plan["author"]
    return plan


@pytest.mark.parametrize(
    ("elements", "status", "where"),
    [
        ({"subject": None}, 400, "ServiceRequest.subject"),
        ({"priority": 5}, 400, "ServiceRequest.priority"),
        ({"priority": "soon"}, 422, "ServiceRequest.priority"),
        ({"status": "draft"}, 422, "ServiceRequest.status"),
        ({"intent": "wish"}, 422, "ServiceRequest.intent"),
        ({"intent": "proposal"}, 422, "ServiceRequest.intent"),
        ({"code": {"coding": [{"system": referrals_fhir.REFERRAL_KIND_SYSTEM, "code": "sideways"}]}}, 422,
         "ServiceRequest.code"),
        ({"code": {"text": "转诊"}}, 422, "ServiceRequest.code"),
        ({"category": [{"coding": [{"system": "http://snomed.info/sct", "code": "108252007"}]}]}, 422,
         "ServiceRequest.category"),
        ({"reasonCode": [{"coding": [{"system": ICD10, "code": "Z99.999"}]}, {"text": "x"}]}, 422,
         "ServiceRequest.reasonCode[0]"),
        ({"reasonCode": [{"text": "胸痛"}]}, 422, "ServiceRequest.reasonCode"),
        ({"reasonCode": [{"coding": [{"system": ICD10, "code": "I21.9"}]}]}, 422, "ServiceRequest.reasonCode"),
        ({"performer": []}, 422, "ServiceRequest.performer"),
        ({"performer": [{"reference": "Organization/not-a-uuid"}]}, 422, "ServiceRequest.performer[0]"),
        ({"performer": [{"reference": "HealthcareService/1"}]}, 422, "ServiceRequest.performer[0]"),
        ({"extension": [{"url": referrals_fhir.EXT_RECEIVING_DEPARTMENT, "valueString": "GP"}]}, 422,
         "ServiceRequest.extension"),
        ({"priority": "urgent", "code": {"coding": [{"system": referrals_fhir.REFERRAL_KIND_SYSTEM,
                                                     "code": "down"}]}}, 422, "ServiceRequest.performer"),
    ],
    ids=["no-subject", "wrong-type", "unknown-priority", "draft", "unknown-intent", "proposal", "unknown-kind",
         "no-kind", "not-a-referral", "unknown-icd10", "no-diagnosis", "no-reason", "no-receiver",
         "bad-receiver", "receiver-not-org", "department-elsewhere", "down-from-a-village"],
)
def test_a_malformed_referral_is_refused_naming_the_element_and_changes_nothing(county, fhir_as, elements, status,
                                                                                where):
    body = {k: v for k, v in (service_request_body(county) | elements).items() if v is not None}
    before = records_snapshot()
    issues = outcome(fhir_as("village_doctor").post("/fhir/ServiceRequest", body), status)
    assert where in expression(issues), issues
    assert records_snapshot() == before


@pytest.mark.parametrize(
    ("plan", "where"),
    [
        (None, "ServiceRequest.contained"),
        ({"status": "draft"}, "ServiceRequest.contained(plan).status"),
        ({"author": None}, "ServiceRequest.contained(plan).author"),
        ({"period": None}, "ServiceRequest.contained(plan).period.end"),
        ({"description": None}, "ServiceRequest.contained"),
        ({"activity": [{"detail": {"kind": "MedicationRequest", "status": "maybe"}}]},
         "ServiceRequest.contained(plan).activity[0].detail.status"),
        ({"activity": [{"detail": {"kind": "NutritionOrder", "status": "scheduled"}}]},
         "ServiceRequest.contained(plan).activity[0].detail.kind"),
        ({"activity": [{"detail": {"kind": "Appointment", "status": "scheduled", "code": {"text": "复查"}}}]},
         "ServiceRequest.contained(plan).activity[0].detail.scheduledTiming.event"),
        ({"subject": {"reference": "Patient/00000000-0000-4000-8000-000000000000"}},
         "ServiceRequest.contained(plan).subject"),
    ],
    ids=["no-plan", "draft-plan", "no-responsible-doctor", "no-end", "no-summary", "unknown-activity-status",
         "unsupported-activity", "follow-up-without-date", "another-patient"],
)
def test_a_down_referral_with_a_malformed_care_plan_is_refused_and_changes_nothing(county, fhir_as, plan, where):
    refer(county)
    contained = [] if plan is None else [
        {k: v for k, v in (care_plan_resource(county) | plan).items() if v is not None}
    ]
    body = service_request_body(county, to="east", kind="down", contained=contained)
    before = records_snapshot()
    issues = outcome(fhir_as("county_specialist").post("/fhir/ServiceRequest", body), 422)
    assert where in expression(issues), issues
    assert records_snapshot() == before


def test_a_care_plan_on_an_up_referral_is_refused(county, fhir_as):
    body = service_request_body(county, contained=[care_plan_resource(county)])
    issues = outcome(fhir_as("village_doctor").post("/fhir/ServiceRequest", body), 422)
    assert "ServiceRequest.contained" in expression(issues)


def test_only_the_lead_hospital_refers_out_of_county(county, fhir_as):
    body = service_request_body(county, to="partner", kind="out_of_county")
    before = records_snapshot()
    outcome(fhir_as("village_doctor").post("/fhir/ServiceRequest", body), 403)
    assert records_snapshot() == before


def test_a_patient_outside_scope_cannot_be_referred(county, fhir_as):
    before = records_snapshot()
    issues = outcome(fhir_as("west_doctor").post("/fhir/ServiceRequest", service_request_body(county)), 422)
    assert "ServiceRequest.subject" in expression(issues)
    assert records_snapshot() == before


def test_a_receiver_in_another_community_is_refused(county, fhir_as, other_community):
    body = service_request_body(county, performer=[reference(other_community["organization"], "Organization")])
    issues = outcome(fhir_as("village_doctor").post("/fhir/ServiceRequest", body), 422)
    assert "ServiceRequest.performer[0]" in expression(issues)


@pytest.mark.parametrize("role", ["bureau_viewer", "resident", "community_admin", "centre_reader"])
def test_only_doctors_refer(county, fhir_as, role):
    before = records_snapshot()
    outcome(fhir_as(role).post("/fhir/ServiceRequest", service_request_body(county)), 403)
    assert records_snapshot() == before
