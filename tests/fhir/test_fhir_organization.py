"""/fhir/Organization: the community's organisations, readable by its users, written by its administrators."""

import pytest
from tests.fhir.conftest import organization_body, organization_ref, outcome, patient_body, snapshot, valid

from countycare.core.codes import system_url
from countycare.core.models import AuditEvent
from countycare.registry import fhir as registry_fhir
from countycare.registry.models import Organization


def names(response) -> set[str]:
    assert response.status_code == 200, response.content
    valid(response.json())
    return {entry["resource"]["name"] for entry in response.json().get("entry", [])}


@pytest.mark.parametrize("role", ["village_doctor", "bureau_viewer", "resident", "community_admin"])
def test_any_user_of_the_community_reads_an_organization(county, fhir_as, role):
    east = county.orgs["east"]
    response = fhir_as(role).get(f"/fhir/Organization/{east.uuid}")
    assert response.status_code == 200
    organization = valid(response.json())
    assert organization.name == east.name
    assert organization.type[0].coding[0].system == system_url("organization-type")
    assert organization.type[0].coding[0].code == "township_centre"
    assert organization.partOf.reference == f"Organization/{county.orgs['lead'].uuid}"
    assert organization.identifier[0].system == registry_fhir.DIVISION_CODE_SYSTEM
    assert organization.identifier[0].value == "330122101"
    assert response["ETag"] == f'W/"{organization.meta.versionId}"'


def test_reading_organizations_is_not_audited(county, fhir_as):
    fhir_as("village_doctor").get(f"/fhir/Organization/{county.orgs['east'].uuid}")
    assert not AuditEvent.objects.exists()


def test_an_organization_of_another_community_is_not_found(county, fhir_as, other_community):
    outcome(fhir_as("community_admin").get(f"/fhir/Organization/{other_community['organization'].uuid}"), 404)
    assert "临县人民医院" not in names(fhir_as("community_admin").get("/fhir/Organization"))


def test_it_searches_by_partof(county, fhir_as):
    response = fhir_as("village_doctor").get(
        "/fhir/Organization", {"partof": organization_ref(county, "east")["reference"]}
    )
    assert names(response) == {"东村卫生室", "南村卫生室"}


def test_it_searches_by_type_with_or_without_system(county, fhir_as):
    client = fhir_as("village_doctor")
    assert names(client.get("/fhir/Organization", {"type": "township_centre"})) == {
        "城关县人民医院东镇分院",
        "城关县人民医院西镇分院",
    }
    system = system_url("organization-type")
    assert names(client.get("/fhir/Organization", {"type": f"{system}|cdc"})) == {"城关县疾病预防控制中心"}
    assert names(client.get("/fhir/Organization", {"type": "urn:other|cdc"})) == set()


def test_it_searches_by_name_prefix_and_division_code(county, fhir_as):
    client = fhir_as("village_doctor")
    assert names(client.get("/fhir/Organization", {"name": "东村"})) == {"东村卫生室"}
    code = f"{registry_fhir.DIVISION_CODE_SYSTEM}|330122102201"
    assert names(client.get("/fhir/Organization", {"identifier": code})) == {"西村卫生室"}


def test_it_combines_partof_and_type(county, fhir_as):
    response = fhir_as("village_doctor").get(
        f"/fhir/Organization?partof=Organization/{county.orgs['lead'].uuid}&type=township_centre,village_clinic"
    )
    assert names(response) == {"城关县人民医院东镇分院", "城关县人民医院西镇分院"}


def test_an_administrator_creates_an_organization(county, fhir_as):
    response = fhir_as("community_admin").post("/fhir/Organization", organization_body(county))
    assert response.status_code == 201, response.content
    created = Organization.objects.get(uuid=response.json()["id"])
    assert (created.name, created.org_type, created.level, created.parent) == (
        "北村卫生室",
        "village_clinic",
        "village",
        county.orgs["east"],
    )
    assert created.is_member and created.community == county.community
    assert response["Location"].endswith(
        f"/fhir/Organization/{created.uuid}/_history/{response.json()['meta']['versionId']}"
    )
    assert AuditEvent.objects.filter(action="create", object_type="Organization", channel="fhir").count() == 1


def test_a_new_organization_can_be_a_patients_home(county, fhir_as):
    admin = fhir_as("community_admin")
    created = admin.post("/fhir/Organization", organization_body(county)).json()
    body = patient_body(county, managingOrganization={"reference": f"Organization/{created['id']}"})
    assert admin.post("/fhir/Patient", body).status_code == 201


@pytest.mark.parametrize("role", ["township_doctor", "bureau_viewer", "resident", "cdc_officer"])
def test_only_administrators_write_organizations(county, fhir_as, role):
    before = snapshot()
    outcome(fhir_as(role).post("/fhir/Organization", organization_body(county)), 403)
    east = county.orgs["east"]
    body = fhir_as(role).get(f"/fhir/Organization/{east.uuid}").json()
    outcome(fhir_as(role).put(f"/fhir/Organization/{east.uuid}", body), 403)
    assert snapshot() == before


def test_an_administrator_updates_an_organization_with_if_match(county, fhir_as):
    admin = fhir_as("community_admin")
    west_v1 = county.orgs["west_v1"]
    read = admin.get(f"/fhir/Organization/{west_v1.uuid}")
    body = read.json() | {"name": "西村第一卫生室"}
    response = admin.put(f"/fhir/Organization/{west_v1.uuid}", body, **{"If-Match": read["ETag"]})
    assert response.status_code == 200, response.content
    assert response["ETag"] != read["ETag"]
    west_v1.refresh_from_db()
    assert west_v1.name == "西村第一卫生室"


def test_it_refuses_a_stale_if_match_on_an_organization(county, fhir_as):
    admin = fhir_as("community_admin")
    west_v1 = county.orgs["west_v1"]
    read = admin.get(f"/fhir/Organization/{west_v1.uuid}")
    Organization.objects.filter(pk=west_v1.pk).update(phone="0571-7654321")  # someone else's edit
    before = snapshot()
    outcome(
        admin.put(
            f"/fhir/Organization/{west_v1.uuid}", read.json() | {"name": "改名"}, **{"If-Match": read["ETag"]}
        ),
        412,
    )
    assert snapshot() == before


def test_an_organization_cannot_be_put_under_its_own_descendant(county, fhir_as):
    admin = fhir_as("community_admin")
    east = county.orgs["east"]
    body = admin.get(f"/fhir/Organization/{east.uuid}").json()
    body["partOf"] = organization_ref(county, "east_v1")
    before = snapshot()
    issues = outcome(admin.put(f"/fhir/Organization/{east.uuid}", body), 422)
    assert issues[0]["expression"] == ["Organization.partOf"]
    assert snapshot() == before


@pytest.mark.parametrize(
    "change, where",
    [
        (
            {"type": [{"coding": [{"system": system_url("organization-type"), "code": "spa"}]}]},
            "Organization.type",
        ),
        ({"type": [{"text": "村卫生室"}]}, "Organization.type"),
        (
            {"identifier": [{"system": registry_fhir.DIVISION_CODE_SYSTEM, "value": "3301"}]},
            "Organization.identifier",
        ),
        ({"name": " "}, "Organization.name"),
    ],
)
def test_invalid_organizations_are_refused_with_422(county, fhir_as, change, where):
    before = snapshot()
    issues = outcome(
        fhir_as("community_admin").post("/fhir/Organization", organization_body(county, **change)), 422
    )
    assert issues[0]["expression"] == [where]
    assert snapshot() == before


def test_a_partof_in_another_community_is_refused(county, fhir_as, other_community):
    body = organization_body(
        county, partOf={"reference": f"Organization/{other_community['organization'].uuid}"}
    )
    outcome(fhir_as("community_admin").post("/fhir/Organization", body), 422)
