"""GET /api/residents/{uuid}/timeline and GET /api/icd10: a resident's record across members, and the code
search the encounter form uses."""

import pytest
from tests.records.record_helpers import chronic_visit, visit

from countycare.core.models import AuditEvent


@pytest.fixture
def history(county):
    first = chronic_visit(county, "village_doctor", "zhang_san", "I10", days=20)
    second = chronic_visit(county, "township_doctor", "zhang_san", "E11.9", days=3)
    return first, second


def test_a_doctor_reads_the_timeline_of_a_resident_in_scope(county, api_as, history):
    first, second = history
    response = api_as("township_doctor").get(f"/api/residents/{county.residents['zhang_san'].uuid}/timeline")
    assert response.status_code == 200, response.content
    items = response.json()
    assert [(i["kind"], i["ref_type"]) for i in items[:3]] == [
        ("encounter", "Encounter"), ("diagnosis", "Diagnosis"), ("problem", "Problem")]
    assert items[0]["ref"] == str(second.uuid) and items[0]["organization"] == "城关县人民医院东镇分院"
    assert items[-1]["title"] == "I10 特发性（原发性）高血压"
    assert AuditEvent.objects.filter(object_type="Timeline", channel="api").count() == 1


def test_the_timeline_pages_back(county, api_as, history):
    first, second = history
    client = api_as("township_doctor")
    path = f"/api/residents/{county.residents['zhang_san'].uuid}/timeline"
    older = client.get(path, {"before": second.started_at.isoformat(), "limit": 2}).json()
    assert [i["ref"] for i in older] == [str(first.uuid), str(first.diagnoses.get().uuid)]


def test_a_resident_reads_their_own_timeline(county, api_as):
    visit(county, "west_doctor", "resident_self")
    response = api_as("resident").get(f"/api/residents/{county.residents['resident_self'].uuid}/timeline")
    assert response.status_code == 200 and response.json()[0]["kind"] == "encounter"


@pytest.mark.parametrize("who, status", [("west_doctor", 404), ("resident", 404), ("bureau_viewer", 403),
                                         ("county_specialist", 404)])
def test_the_timeline_is_refused_outside_scope(county, api_as, history, who, status):
    response = api_as(who).get(f"/api/residents/{county.residents['zhang_san'].uuid}/timeline")
    assert response.status_code == status
    assert not AuditEvent.objects.filter(object_type="Timeline").exists()


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"before": "yesterday"}, {"before": "12345"}])
def test_bad_timeline_parameters_are_422(county, api_as, params):
    response = api_as("village_doctor").get(f"/api/residents/{county.residents['zhang_san'].uuid}/timeline", params)
    assert response.status_code == 422


def test_a_bound_before_any_record_finds_nothing(county, api_as, history):
    path = f"/api/residents/{county.residents['zhang_san'].uuid}/timeline"
    response = api_as("township_doctor").get(path, {"before": "0001-01-01T00:00:00+14:00"})
    assert response.status_code == 200 and response.json() == []


def test_the_timeline_needs_a_token(county, anonymous):
    assert anonymous.get(f"/api/residents/{county.residents['zhang_san'].uuid}/timeline").status_code == 401


def test_icd10_search_by_code_name_and_initials(county, api_as):
    client = api_as("village_doctor")
    assert client.get("/api/icd10", {"q": "I10"}).json()[0] == {
        "code": "I10", "name": "特发性（原发性）高血压", "name_en": "Essential (primary) hypertension",
        "chapter": "IX", "chronic": True}
    assert client.get("/api/icd10", {"q": "gxy"}).json()[0]["code"] == "I10"
    found = client.get("/api/icd10", {"q": "阑尾炎", "limit": 3}).json()
    assert [c["code"] for c in found] == ["K35", "K35.2", "K35.3"]


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "I1", "limit": 101}, {"q": "x" * 51}])
def test_icd10_search_parameters_are_checked(county, api_as, params):
    assert api_as("village_doctor").get("/api/icd10", params).status_code == 422


def test_icd10_search_needs_a_token(county, anonymous):
    assert anonymous.get("/api/icd10", {"q": "I10"}).status_code == 401
