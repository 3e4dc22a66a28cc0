"""Finding and reading residents through the API: scoped, audited, with the full profile."""

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from tests.conftest import make_resident

from countycare.core.models import AuditEvent


def hits(response):
    assert response.status_code == 200, response.content
    return {r["name"] for r in response.json()}


def test_a_village_doctor_finds_a_resident_by_pinyin_initials(county, api_as):
    response = api_as("village_doctor").get("/api/residents", {"q": "zs"})
    assert hits(response) == {"张三"}
    hit = response.json()[0]
    zhang = county.residents["zhang_san"]
    assert hit["uuid"] == str(zhang.uuid) and hit["national_id"] == zhang.national_id
    assert hit["tags"] == ["hypertension"]
    assert hit["home_organization"] == {"uuid": str(county.orgs["east_v1"].uuid), "name": "东村卫生室"}
    assert isinstance(hit["age"], int) and hit["age"] >= 64


def test_every_hit_is_audited_as_an_api_search(county, api_as):
    api_as("village_doctor").get("/api/residents", {"q": "张"})
    event = AuditEvent.objects.get(action="search", resident_id=str(county.residents["zhang_san"].uuid))
    assert (event.channel, event.username, event.detail["query"]) == ("api", "village_doctor", "张")


def test_residents_outside_the_doctors_scope_are_not_found(county, api_as):
    assert hits(api_as("west_doctor").get("/api/residents", {"q": "张三"})) == set()
    assert hits(api_as("west_doctor").get("/api/residents", {"q": "ww"})) == {"王五"}


def test_a_resident_finds_only_themself(county, api_as):
    assert hits(api_as("resident").get("/api/residents", {"q": "赵"})) == {"赵六"}
    assert hits(api_as("resident").get("/api/residents", {"q": "ww"})) == set()


def test_the_bureau_may_not_search_individual_records(county, api_as):
    response = api_as("bureau_viewer").get("/api/residents", {"q": "zs"})
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden" and "aggregates" in response.json()["detail"]


def test_a_search_needs_a_query(county, api_as):
    response = api_as("village_doctor").get("/api/residents")
    assert response.status_code == 422 and response.json()["field"] == "q"
    assert api_as("village_doctor").get("/api/residents", {"q": "zs", "limit": 0}).status_code == 422


def test_a_search_costs_the_same_queries_for_one_hit_or_twenty(county, api_as):
    client = api_as("community_admin")

    def queries_for(q):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/residents", {"q": q}).status_code == 200
        return len(ctx.captured_queries)

    one = queries_for("zs")
    for i in range(20):
        make_resident(
            county,
            f"z{i}",
            "张" + "一二三四五六七八九十"[i % 10] + str(i),
            "east_v1",
            birth=dt.date(1970, 1, 1 + i),
            seq=20 + i,
            tags=("elderly_65", "diabetes"),
        )
    assert queries_for("z") == one


def test_reading_a_resident_in_scope_gives_the_whole_profile(county, api_as):
    zhang = county.residents["zhang_san"]
    response = api_as("township_doctor").get(f"/api/residents/{zhang.uuid}")
    assert response.status_code == 200
    body = response.json()
    assert body["national_id"] == zhang.national_id  # clinicians in scope see the full ID
    assert (body["name"], body["sex"], body["birth_date"]) == ("张三", "male", "1960-05-01")
    assert body["tags"] == ["hypertension"] and body["identifiers"] == []
    assert body["home_organization"]["name"] == "东村卫生室"
    assert body["insurance_scheme"] == "resident" and body["household"] is None
    assert body["version"] == 1 and body["merged_into"] is None
    assert AuditEvent.objects.filter(action="read", channel="api", resident_id=str(zhang.uuid)).count() == 1


def test_a_resident_outside_scope_is_a_404_that_does_not_say_it_exists(county, api_as):
    outside = api_as("village_doctor").get(f"/api/residents/{county.residents['wang_wu'].uuid}")
    unknown = api_as("village_doctor").get(f"/api/residents/{uuid.uuid4()}")
    assert outside.status_code == unknown.status_code == 404
    assert outside.json() == unknown.json()


def test_the_bureau_may_not_read_a_resident(county, api_as):
    assert api_as("bureau_viewer").get(f"/api/residents/{county.residents['zhang_san'].uuid}").status_code == 403


@pytest.mark.parametrize("key, status", [("resident_self", 200), ("wang_wu", 404)])
def test_a_resident_reads_only_their_own_record(county, api_as, key, status):
    assert api_as("resident").get(f"/api/residents/{county.residents[key].uuid}").status_code == status


def test_a_malformed_uuid_is_a_422(county, api_as):
    response = api_as("village_doctor").get("/api/residents/not-a-uuid")
    assert response.status_code == 422 and response.json()["field"] == "resident_uuid"


def test_reading_needs_a_token(county, anonymous):
    assert anonymous.get(f"/api/residents/{county.residents['zhang_san'].uuid}").status_code == 401
    assert anonymous.get("/api/residents", {"q": "zs"}).status_code == 401
