"""GET /fhir/Encounter/<id> and /fhir/Encounter?…: visits as FHIR Encounters, in scope only, audited."""

from decimal import Decimal

from tests.fhir.conftest import FHIR_JSON, outcome, valid
from tests.fhir.records_helpers import encounter, shanghai

from countycare.core.codes import system_url
from countycare.core.models import AuditEvent
from countycare.records import fhir as records_fhir


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content.decode()[:2000]
    bundle = response.json()
    valid(bundle)
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def test_it_reads_a_visit_as_a_valid_encounter(county, fhir_as):
    visit = encounter(county, "zhang_san", "east_v1", practitioner="village_doctor", chief_complaint="头晕3天",
                      diagnoses=(("I10", True), ("E11", False)), cost_drugs=Decimal("35.50"),
                      cost_exams=Decimal("12.00"), cost_total=Decimal("47.50"))
    response = fhir_as("village_doctor").get(f"/fhir/Encounter/{visit.uuid}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith(FHIR_JSON)
    assert response["ETag"] == 'W/"1"'
    resource = valid(response.json())
    assert resource.id == str(visit.uuid)
    assert resource.status == "in-progress"
    assert resource.class_fhir.code == "AMB"
    assert resource.subject.reference == f"Patient/{county.residents['zhang_san'].uuid}"
    assert resource.serviceProvider.reference == f"Organization/{county.orgs['east_v1'].uuid}"
    assert resource.reasonCode[0].text == "头晕3天"


def test_the_kind_is_the_type_and_the_primary_diagnosis_ranks_first(county, fhir_as):
    visit = encounter(county, "zhang_san", "east_v1", diagnoses=(("E11", False), ("I10", True)))
    body = fhir_as("village_doctor").get(f"/fhir/Encounter/{visit.uuid}").json()
    assert body["type"][0]["coding"][0] == {
        "system": system_url("encounter-kind"), "code": "outpatient", "display": body["type"][0]["coding"][0]["display"]
    }
    assert [(d["condition"]["display"], d["rank"]) for d in body["diagnosis"]] == [
        ("I10 特发性（原发性）高血压", 1), ("E11 2型糖尿病", 2)
    ]


def test_costs_come_split_by_insurance_category_in_yuan(county, fhir_as):
    visit = encounter(county, "zhang_san", "east_v1", cost_drugs=Decimal("35.50"), cost_exams=Decimal("12.00"),
                      cost_total=Decimal("47.50"))
    body = fhir_as("village_doctor").get(f"/fhir/Encounter/{visit.uuid}").json()
    cost = next(e for e in body["extension"] if e["url"] == records_fhir.EXT_ENCOUNTER_COST)
    parts = {part["url"]: part["valueMoney"] for part in cost["extension"]}
    assert parts["drugs"] == {"value": 35.5, "currency": "CNY"}
    assert parts["exams"]["value"] == 12
    assert parts["total"]["value"] == 47.5


def test_a_discharged_inpatient_stay_has_its_ward_and_length_in_days(county, fhir_as):
    stay = encounter(county, "zhang_san", "lead", kind="inpatient", at=shanghai(2026, 3, 1, 10),
                     ended=shanghai(2026, 3, 8, 9), ward="心内科3床")
    body = fhir_as("community_admin").get(f"/fhir/Encounter/{stay.uuid}").json()
    assert body["class"]["code"] == "IMP"
    assert body["status"] == "finished"
    assert body["location"][0]["location"]["display"] == "心内科3床"
    assert body["length"] == {"value": 7, "unit": "天", "system": "http://unitsofmeasure.org", "code": "d"}
    assert body["period"]["end"].startswith("2026-03-08T09:00:00")


def test_a_read_is_audited_on_the_fhir_channel(county, fhir_as):
    visit = encounter(county, "zhang_san", "east_v1")
    fhir_as("township_doctor").get(f"/fhir/Encounter/{visit.uuid}")
    event = AuditEvent.objects.get(action="read", object_id=str(visit.uuid))
    assert (event.channel, event.username, event.resident_id) == (
        "fhir", "township_doctor", str(county.residents["zhang_san"].uuid)
    )


def test_a_visit_outside_the_doctors_scope_is_not_found(county, fhir_as):
    visit = encounter(county, "zhang_san", "east_v1")
    before = AuditEvent.objects.count()
    outcome(fhir_as("west_doctor").get(f"/fhir/Encounter/{visit.uuid}"), 404)
    outcome(fhir_as("west_doctor").get("/fhir/Encounter/not-a-uuid"), 404)
    assert AuditEvent.objects.count() == before


def test_the_bureau_gets_no_individual_visits(county, fhir_as):
    visit = encounter(county, "zhang_san", "east_v1")
    outcome(fhir_as("bureau_viewer").get(f"/fhir/Encounter/{visit.uuid}"), 403)
    outcome(fhir_as("bureau_viewer").get("/fhir/Encounter"), 403)


def test_a_resident_reads_their_own_visits_only(county, fhir_as):
    own = encounter(county, "resident_self", "west_v1")
    other = encounter(county, "wang_wu", "west_v1")
    client = fhir_as("resident")
    assert client.get(f"/fhir/Encounter/{own.uuid}").status_code == 200
    outcome(client.get(f"/fhir/Encounter/{other.uuid}"), 404)
    assert ids(client.get("/fhir/Encounter")) == [str(own.uuid)]


def test_search_by_patient_returns_only_that_residents_visits_newest_first(county, fhir_as):
    older = encounter(county, "zhang_san", "east_v1", at=shanghai(2026, 1, 5))
    newer = encounter(county, "zhang_san", "east", at=shanghai(2026, 2, 5))
    encounter(county, "zeng_li", "east_v2")
    found = ids(fhir_as("township_doctor").get(
        "/fhir/Encounter", {"patient": f"Patient/{county.residents['zhang_san'].uuid}"}
    ))
    assert found == [str(newer.uuid), str(older.uuid)]


def test_search_leaves_out_visits_outside_scope(county, fhir_as):
    mine = encounter(county, "zhang_san", "east_v1")
    encounter(county, "wang_wu", "west_v1")
    assert ids(fhir_as("village_doctor").get("/fhir/Encounter")) == [str(mine.uuid)]


def test_search_by_status(county, fhir_as):
    open_visit = encounter(county, "zhang_san", "east_v1")
    closed = encounter(county, "zhang_san", "east_v1", ended=shanghai(2026, 3, 2, 10))
    client = fhir_as("village_doctor")
    assert ids(client.get("/fhir/Encounter", {"status": "in-progress"})) == [str(open_visit.uuid)]
    assert ids(client.get("/fhir/Encounter", {"status": "finished"})) == [str(closed.uuid)]
    outcome(client.get("/fhir/Encounter", {"status": "done"}), 400)


def test_search_by_service_provider_organisation(county, fhir_as):
    encounter(county, "zhang_san", "east_v1")
    at_branch = encounter(county, "zhang_san", "east")
    found = ids(fhir_as("township_doctor").get(
        "/fhir/Encounter", {"service-provider": f"Organization/{county.orgs['east'].uuid}"}
    ))
    assert found == [str(at_branch.uuid)]


def test_search_by_date_uses_shanghai_days_and_prefixes(county, fhir_as):
    late_evening = encounter(county, "zhang_san", "east_v1", at=shanghai(2026, 3, 1, 23, 30))
    next_morning = encounter(county, "zhang_san", "east_v1", at=shanghai(2026, 3, 2, 0, 30))
    client = fhir_as("village_doctor")
    assert ids(client.get("/fhir/Encounter", {"date": "2026-03-01"})) == [str(late_evening.uuid)]
    assert ids(client.get("/fhir/Encounter", {"date": "ge2026-03-02"})) == [str(next_morning.uuid)]
    assert len(ids(client.get("/fhir/Encounter", {"date": "2026-03"}))) == 2
    outcome(client.get("/fhir/Encounter", {"date": "2026-13"}), 400)


def test_search_by_class_type_and_practitioner(county, fhir_as):
    visit = encounter(county, "zhang_san", "east_v1", practitioner="village_doctor")
    home = encounter(county, "zhang_san", "east_v1", kind="home_visit")
    client = fhir_as("village_doctor")
    assert ids(client.get("/fhir/Encounter", {"class": "HH"})) == [str(home.uuid)]
    assert ids(client.get("/fhir/Encounter", {"type": "outpatient"})) == [str(visit.uuid)]
    practitioner = county.practitioners["village_doctor"]
    assert ids(client.get("/fhir/Encounter", {"practitioner": f"Practitioner/{practitioner.uuid}"})) == [
        str(visit.uuid)
    ]


def test_every_visit_a_search_hands_out_is_audited_with_the_query(county, fhir_as):
    first = encounter(county, "zhang_san", "east_v1")
    second = encounter(county, "zeng_li", "east_v2")
    fhir_as("township_doctor").get("/fhir/Encounter", {"_count": "5"})
    events = AuditEvent.objects.filter(action="search", object_type="Encounter")
    assert {e.object_id for e in events} == {str(first.uuid), str(second.uuid)}
    assert all(e.channel == "fhir" and "_count=5" in e.detail["query"] for e in events)


def test_an_unknown_search_parameter_is_refused(county, fhir_as):
    issues = outcome(fhir_as("village_doctor").get("/fhir/Encounter", {"reason": "x"}), 400)
    assert "service-provider" in issues[0]["diagnostics"]


def test_encounters_cannot_be_replaced_by_put(county, fhir_as):
    visit = encounter(county, "zhang_san", "east_v1")
    body = fhir_as("village_doctor").get(f"/fhir/Encounter/{visit.uuid}").json()
    response = fhir_as("village_doctor").put(f"/fhir/Encounter/{visit.uuid}", body)
    outcome(response, 405)


def test_search_dates_at_the_edges_of_the_calendar_answer_instead_of_failing(county, fhir_as):
    visit = encounter(county, "zhang_san", "east_v1")
    client = fhir_as("village_doctor")
    assert ids(client.get("/fhir/Encounter", {"date": "9999-12-31"})) == []
    assert ids(client.get("/fhir/Encounter", {"date": "0001-01-01"})) == []
    assert ids(client.get("/fhir/Encounter", {"date": "lt0001"})) == []
    assert ids(client.get("/fhir/Encounter", {"date": "gt9999"})) == []
    assert ids(client.get("/fhir/Encounter", {"date": "ge0001"})) == [str(visit.uuid)]
    assert ids(client.get("/fhir/Encounter", {"date": "le9999-12-31"})) == [str(visit.uuid)]
    assert ids(client.get("/fhir/Encounter", {"date": "ne0001-01-01"})) == [str(visit.uuid)]
