"""/fhir/Practitioner: health workers with their title and licence."""

import pytest
from tests.fhir.conftest import diagnostics, outcome, practitioner_body, snapshot, valid

from countycare.core.codes import system_url
from countycare.core.models import AuditEvent
from countycare.registry import fhir as registry_fhir
from countycare.registry.models import Practitioner


def test_it_reads_a_practitioner_with_title_and_licence(county, fhir_as):
    doctor = county.practitioners["township_doctor"]
    response = fhir_as("village_doctor").get(f"/fhir/Practitioner/{doctor.uuid}")
    assert response.status_code == 200
    practitioner = valid(response.json())
    coding = practitioner.qualification[0].code.coding[0]
    assert (coding.system, coding.code) == (system_url("professional-title"), "attending_physician")
    assert (practitioner.identifier[0].system, practitioner.identifier[0].value) == (
        registry_fhir.LICENCE_SYSTEM,
        doctor.licence_number,
    )


def test_it_searches_practitioners_by_name_and_licence(county, fhir_as):
    client = fhir_as("resident")
    bundle = client.get("/fhir/Practitioner", {"name": "医生west"}).json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == [str(county.practitioners["west_doctor"].uuid)]
    licence = county.practitioners["pharmacist"].licence_number
    bundle = client.get(
        "/fhir/Practitioner", {"identifier": f"{registry_fhir.LICENCE_SYSTEM}|{licence}"}
    ).json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == [str(county.practitioners["pharmacist"].uuid)]


def test_a_practitioner_of_another_community_is_not_found(county, fhir_as, other_community):
    outcome(fhir_as("community_admin").get(f"/fhir/Practitioner/{other_community['practitioner'].uuid}"), 404)
    bundle = fhir_as("community_admin").get("/fhir/Practitioner", {"identifier": "OTHER-1"}).json()
    assert bundle["total"] == 0


def test_an_administrator_creates_a_practitioner(county, fhir_as):
    response = fhir_as("community_admin").post("/fhir/Practitioner", practitioner_body())
    assert response.status_code == 201, response.content
    created = Practitioner.objects.get(uuid=response.json()["id"])
    assert (created.name, created.title, created.licence_number, created.sex) == (
        "欧阳明",
        "attending_physician",
        "110330122000123",
        "male",
    )
    assert created.specialties == ["cardiology"]
    assert response.json()["name"][1]["text"] == "Ouyang Ming"
    assert AuditEvent.objects.filter(action="create", object_type="Practitioner").count() == 1


def test_an_administrator_updates_a_practitioner_with_if_match(county, fhir_as):
    admin = fhir_as("community_admin")
    doctor = county.practitioners["west_doctor"]
    read = admin.get(f"/fhir/Practitioner/{doctor.uuid}")
    body = read.json()
    body["qualification"][0]["code"]["coding"][0]["code"] = "attending_physician"
    response = admin.put(f"/fhir/Practitioner/{doctor.uuid}", body, **{"If-Match": read["ETag"]})
    assert response.status_code == 200, response.content
    doctor.refresh_from_db()
    assert doctor.title == "attending_physician"
    outcome(admin.put(f"/fhir/Practitioner/{doctor.uuid}", body, **{"If-Match": read["ETag"]}), 412)


def test_a_licence_number_already_registered_is_a_409_naming_the_holder(county, fhir_as):
    holder = county.practitioners["pharmacist"]
    body = practitioner_body(
        identifier=[{"system": registry_fhir.LICENCE_SYSTEM, "value": holder.licence_number}]
    )
    before = snapshot()
    issues = outcome(fhir_as("community_admin").post("/fhir/Practitioner", body), 409)
    assert f"Practitioner/{holder.uuid}" in diagnostics(issues)
    assert snapshot() == before


@pytest.mark.parametrize(
    "change, where",
    [
        ({"qualification": []}, "Practitioner.qualification"),
        (
            {
                "qualification": [
                    {"code": {"coding": [{"system": system_url("professional-title"), "code": "wizard"}]}}
                ]
            },
            "Practitioner.qualification",
        ),
        ({"name": []}, "Practitioner.name"),
        ({"gender": "other"}, "Practitioner.gender"),
        ({"birthDate": "1980"}, "Practitioner.birthDate"),
    ],
)
def test_invalid_practitioners_are_refused_with_422(county, fhir_as, change, where):
    body = practitioner_body(**change)
    if not change.get("qualification", True):
        del body["qualification"]
    if change.get("name") == []:
        del body["name"]
    before = snapshot()
    issues = outcome(fhir_as("community_admin").post("/fhir/Practitioner", body), 422)
    assert issues[0]["expression"] == [where]
    assert snapshot() == before


@pytest.mark.parametrize("role", ["township_doctor", "resident"])
def test_only_administrators_write_practitioners(county, fhir_as, role):
    before = snapshot()
    outcome(fhir_as(role).post("/fhir/Practitioner", practitioner_body()), 403)
    assert snapshot() == before
