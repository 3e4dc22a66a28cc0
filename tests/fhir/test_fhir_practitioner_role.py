"""/fhir/PractitionerRole: postings — who serves where, in which role, for which period."""

import datetime as dt

import pytest
from tests.fhir.conftest import outcome, practitioner_role_body, snapshot, valid

from countycare.core.codes import system_url
from countycare.core.models import AuditEvent
from countycare.registry import fhir as registry_fhir
from countycare.registry.models import Department, Posting


def ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    valid(response.json())
    return {entry["resource"]["id"] for entry in response.json().get("entry", [])}


def posting_of(county, key: str) -> Posting:
    return Posting.objects.get(practitioner=county.practitioners[key])


def test_it_reads_a_posting_as_a_practitioner_role(county, fhir_as):
    posting = posting_of(county, "township_doctor")
    response = fhir_as("village_doctor").get(f"/fhir/PractitionerRole/{posting.uuid}")
    role = valid(response.json())
    assert role.practitioner.reference == f"Practitioner/{county.practitioners['township_doctor'].uuid}"
    assert role.organization.reference == f"Organization/{county.orgs['east'].uuid}"
    assert (role.code[0].coding[0].system, role.code[0].coding[0].code) == (
        system_url("user-role"),
        "township_doctor",
    )
    assert role.period.start == dt.date(2020, 1, 1) and role.active is True
    assert (
        role.extension[0].url == registry_fhir.EXT_POSTING_KIND
        and role.extension[0].valueCoding.code == "home"
    )


def test_it_searches_by_practitioner_organization_and_role(county, fhir_as):
    client = fhir_as("village_doctor")
    doctor = posting_of(county, "township_doctor")
    assert ids(
        client.get(
            "/fhir/PractitionerRole",
            {"practitioner": f"Practitioner/{county.practitioners['township_doctor'].uuid}"},
        )
    ) == {str(doctor.uuid)}
    at_lead = ids(
        client.get("/fhir/PractitionerRole", {"organization": f"Organization/{county.orgs['lead'].uuid}"})
    )
    assert len(at_lead) == 6  # specialist, reader, pharmacist, officer, admin, bureau
    both = ids(client.get("/fhir/PractitionerRole", {"role": "township_doctor"}))
    assert both == {str(doctor.uuid), str(posting_of(county, "west_doctor").uuid)}
    assert ids(
        client.get(
            "/fhir/PractitionerRole",
            {"role": "township_doctor", "organization": f"Organization/{county.orgs['west'].uuid}"},
        )
    ) == {str(posting_of(county, "west_doctor").uuid)}


def test_it_searches_postings_in_force(county, fhir_as):
    ended = Posting.objects.create(
        practitioner=county.practitioners["county_specialist"],
        organization=county.orgs["east"],
        role="county_specialist",
        start=dt.date(2019, 1, 1),
        end=dt.date(2019, 12, 31),
    )
    client = fhir_as("community_admin")
    assert str(ended.uuid) in ids(client.get("/fhir/PractitionerRole", {"active": "false"}))
    assert str(ended.uuid) not in ids(client.get("/fhir/PractitionerRole", {"active": "true"}))


def test_a_posting_of_another_community_is_not_found(county, fhir_as, other_community):
    outcome(fhir_as("community_admin").get(f"/fhir/PractitionerRole/{other_community['posting'].uuid}"), 404)


def test_an_administrator_posts_a_county_specialist_to_a_branch(county, fhir_as):
    Department.objects.create(organization=county.orgs["west"], code="IM", name="内科")
    body = practitioner_role_body(county)
    body["extension"].append({"url": registry_fhir.EXT_DEPARTMENT, "valueString": "IM"})
    response = fhir_as("community_admin").post("/fhir/PractitionerRole", body)
    assert response.status_code == 201, response.content
    posting = Posting.objects.get(uuid=response.json()["id"])
    assert (posting.organization, posting.kind, posting.start, posting.end, posting.department.code) == (
        county.orgs["west"],
        "county_to_township",
        dt.date(2026, 1, 1),
        dt.date(2026, 12, 31),
        "IM",
    )
    assert AuditEvent.objects.filter(action="create", object_type="Posting").count() == 1


def test_an_administrator_updates_a_posting_with_if_match(county, fhir_as):
    admin = fhir_as("community_admin")
    posting = posting_of(county, "west_doctor")
    read = admin.get(f"/fhir/PractitionerRole/{posting.uuid}")
    body = read.json()
    body["period"]["end"] = "2030-06-30"
    response = admin.put(f"/fhir/PractitionerRole/{posting.uuid}", body, **{"If-Match": read["ETag"]})
    assert response.status_code == 200, response.content
    posting.refresh_from_db()
    assert posting.end == dt.date(2030, 6, 30)
    before = snapshot()
    outcome(admin.put(f"/fhir/PractitionerRole/{posting.uuid}", body, **{"If-Match": read["ETag"]}), 412)
    assert snapshot() == before


def test_an_end_before_the_start_is_refused_and_nothing_is_stored(county, fhir_as):
    body = practitioner_role_body(county, period={"start": "2026-06-01", "end": "2026-01-01"})
    before = snapshot()
    issues = outcome(fhir_as("community_admin").post("/fhir/PractitionerRole", body), 422)
    assert issues[0]["expression"] == ["PractitionerRole.period.end"]
    assert snapshot() == before


@pytest.mark.parametrize(
    "change, where",
    [
        ({"period": {"end": "2026-01-01"}}, "PractitionerRole.period.start"),
        (
            {"code": [{"coding": [{"system": system_url("user-role"), "code": "astronaut"}]}]},
            "PractitionerRole.code",
        ),
        (
            {"code": [{"coding": [{"system": system_url("user-role"), "code": "resident"}]}]},
            "PractitionerRole.code",
        ),
        (
            {"practitioner": {"reference": "Practitioner/00000000-0000-0000-0000-000000000000"}},
            "PractitionerRole.practitioner",
        ),
        ({"organization": {"display": "somewhere"}}, "PractitionerRole.organization"),
    ],
)
def test_invalid_postings_are_refused_with_422(county, fhir_as, change, where):
    before = snapshot()
    body = {**practitioner_role_body(county), **change}
    issues = outcome(fhir_as("community_admin").post("/fhir/PractitionerRole", body), 422)
    assert issues[0]["expression"] == [where]
    assert snapshot() == before


def test_a_posting_to_another_communitys_organization_is_refused(county, fhir_as, other_community):
    body = practitioner_role_body(county)
    body["organization"] = {"reference": f"Organization/{other_community['organization'].uuid}"}
    outcome(fhir_as("community_admin").post("/fhir/PractitionerRole", body), 422)


def test_only_administrators_write_postings(county, fhir_as):
    before = snapshot()
    outcome(fhir_as("township_doctor").post("/fhir/PractitionerRole", practitioner_role_body(county)), 403)
    assert snapshot() == before


def test_a_new_posting_widens_the_specialists_scope(county, fhir_as):
    specialist = fhir_as("county_specialist")
    wang = county.residents["wang_wu"]
    outcome(specialist.get(f"/fhir/Patient/{wang.uuid}"), 404)
    body = practitioner_role_body(county, period={"start": "2020-01-01"})
    assert fhir_as("community_admin").post("/fhir/PractitionerRole", body).status_code == 201
    assert specialist.get(f"/fhir/Patient/{wang.uuid}").status_code == 200
