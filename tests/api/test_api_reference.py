"""/api/me, organisations and practitioners: the community's reference data, never another community's."""

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from tests.helpers import post_specialist

from countycare.core.codes import Level, OrganizationType, Role, Title
from countycare.registry.models import Organization, Posting, Practitioner


def test_me_names_the_user_their_role_and_organisation(county, api_as):
    body = api_as("township_doctor").get("/api/me").json()
    assert (body["username"], body["role"]) == ("township_doctor", "township_doctor")
    assert body["organization"] == {
        "uuid": str(county.orgs["east"].uuid),
        "name": "城关县人民医院东镇分院",
        "org_type": "township_centre",
        "level": "township",
    }
    assert body["practitioner"]["uuid"] == str(county.practitioners["township_doctor"].uuid)
    assert body["community"]["name"] == "城关县医共体" and body["resident"] is None


def test_me_for_a_resident_names_their_record(county, api_as):
    body = api_as("resident").get("/api/me").json()
    assert body["resident"] == {"uuid": str(county.residents["resident_self"].uuid), "name": "赵六"}
    assert body["organization"] is None and body["practitioner"] is None


def test_organisations_come_flat_with_their_parent(county, api_as, other_community):
    response = api_as("village_doctor").get("/api/organizations")
    assert response.status_code == 200
    orgs = {o["name"]: o for o in response.json()}
    assert len(orgs) == 9 and "临县人民医院" not in orgs
    assert orgs["东村卫生室"]["parent"] == str(county.orgs["east"].uuid)
    assert orgs["城关县人民医院东镇分院"]["parent"] == str(county.orgs["lead"].uuid)
    assert orgs["城关县人民医院"]["parent"] is None and orgs["城关县人民医院"]["org_type"] == "lead_hospital"
    positions = {o["uuid"]: i for i, o in enumerate(response.json())}
    assert all(positions[o["parent"]] < positions[o["uuid"]] for o in response.json() if o["parent"])


def test_an_organisation_comes_with_its_departments_parent_and_children(county, api_as):
    east = county.orgs["east"]
    response = api_as("bureau_viewer").get(f"/api/organizations/{east.uuid}")
    assert response.status_code == 200
    body = response.json()
    assert body["parent"] == {"uuid": str(county.orgs["lead"].uuid), "name": "城关县人民医院"}
    assert [d["name"] for d in body["departments"]] == ["全科"]
    assert {c["name"] for c in body["children"]} == {"东村卫生室", "南村卫生室"}


def test_another_communitys_organisation_is_a_404(county, api_as, other_community):
    org = other_community["organization"]
    assert api_as("community_admin").get(f"/api/organizations/{org.uuid}").status_code == 404
    assert api_as("community_admin").get(f"/api/organizations/{uuid.uuid4()}").status_code == 404


def test_practitioners_filtered_by_organisation_and_title(county, api_as, other_community):
    client = api_as("village_doctor")
    at_east = client.get("/api/practitioners", {"organization": str(county.orgs["east"].uuid)}).json()
    assert at_east["count"] == 1 and at_east["items"][0]["name"] == "医生township_doctor"
    chiefs = client.get("/api/practitioners", {"title": "chief_physician"}).json()
    assert [p["name"] for p in chiefs["items"]] == ["医生county_specialist"]  # not the other county's chief
    everyone = client.get("/api/practitioners", {"limit": 3}).json()
    assert everyone["count"] == 10 and len(everyone["items"]) == 3


def test_a_practitioner_comes_with_their_postings(county, api_as):
    doctor = county.practitioners["county_specialist"]
    post_specialist(county, "west", dt.date(2025, 3, 1), dt.date(2025, 8, 31))
    response = api_as("village_doctor").get(f"/api/practitioners/{doctor.uuid}")
    assert response.status_code == 200
    postings = response.json()["postings"]
    assert [(p["organization"]["name"], p["kind"], p["end"]) for p in postings] == [
        ("城关县人民医院西镇分院", "county_to_township", "2025-08-31"),
        ("城关县人民医院", "home", None),
    ]
    assert response.json()["title"] == "chief_physician"


def test_another_communitys_practitioner_is_a_404(county, api_as, other_community):
    doctor = other_community["practitioner"]
    assert api_as("village_doctor").get(f"/api/practitioners/{doctor.uuid}").status_code == 404


def test_filtering_by_another_communitys_organisation_finds_no_one(county, api_as, other_community):
    org = other_community["organization"]
    response = api_as("village_doctor").get("/api/practitioners", {"organization": str(org.uuid)})
    assert response.status_code == 200 and response.json() == {"count": 0, "items": []}


def test_an_unknown_title_is_a_422(county, api_as):
    client = api_as("village_doctor")
    bad_title = client.get("/api/practitioners", {"title": "wizard"})
    assert bad_title.status_code == 422 and bad_title.json()["field"] == "title"


@pytest.mark.parametrize("url", ["/api/me", "/api/organizations", "/api/practitioners"])
def test_reference_data_needs_a_token(county, anonymous, url):
    assert anonymous.get(url).status_code == 401


def count_queries(client, url, params=None):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, params or {}).status_code == 200
    return len(ctx.captured_queries)


def test_listing_practitioners_and_organisations_costs_the_same_queries_for_more_rows(county, api_as):
    client = api_as("community_admin")
    before = (count_queries(client, "/api/practitioners"), count_queries(client, "/api/organizations"))
    for i in range(15):
        clinic = Organization.objects.create(
            community=county.community,
            name=f"新村{i}卫生室",
            org_type=OrganizationType.VILLAGE_CLINIC,
            level=Level.VILLAGE,
            division_code=f"330122101{300 + i}",
            parent=county.orgs["east"],
        )
        doctor = Practitioner.objects.create(community=county.community, name=f"村医{i}", title=Title.VILLAGE_DOCTOR)
        Posting.objects.create(
            practitioner=doctor, organization=clinic, role=Role.VILLAGE_DOCTOR, start=dt.date(2020, 1, 1)
        )
    assert (count_queries(client, "/api/practitioners"), count_queries(client, "/api/organizations")) == before
