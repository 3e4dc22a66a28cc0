"""GET /fhir/Patient/<id>: the resident as a FHIR Patient, in scope only, audited."""

import datetime as dt

import pytest
from tests.conftest import make_resident
from tests.fhir.conftest import FHIR_JSON, outcome, valid

from countycare.core.codes import system_url
from countycare.core.models import AuditEvent
from countycare.registry import fhir as registry_fhir
from countycare.registry import services
from countycare.registry.models import ResidentIdentifier


def read(client, resident):
    return client.get(f"/fhir/Patient/{resident.uuid}")


def test_it_reads_a_resident_as_a_valid_patient(county, fhir_as):
    zhang = county.residents["zhang_san"]
    response = read(fhir_as("village_doctor"), zhang)
    assert response.status_code == 200
    assert response["Content-Type"].startswith(FHIR_JSON)
    patient = valid(response.json())
    assert patient.id == str(zhang.uuid)
    assert patient.gender == "male" and patient.birthDate == dt.date(1960, 5, 1)
    assert patient.active is True


def test_the_national_id_has_the_documented_system(county, fhir_as):
    zhang = county.residents["zhang_san"]
    body = read(fhir_as("village_doctor"), zhang).json()
    assert {"system": registry_fhir.NATIONAL_ID_SYSTEM, "value": zhang.national_id}.items() <= body[
        "identifier"
    ][0].items()


def test_other_identifiers_use_a_system_per_identifier_type(county, fhir_as):
    zhang = county.residents["zhang_san"]
    ResidentIdentifier.objects.create(resident=zhang, type="passport", value="E12345678")
    body = read(fhir_as("village_doctor"), zhang).json()
    assert {"system": system_url("identifier-type") + "/passport", "value": "E12345678"}.items() <= body[
        "identifier"
    ][1].items()


def test_the_name_comes_as_written_and_in_pinyin(county, fhir_as):
    names = read(fhir_as("township_doctor"), county.residents["zeng_li"]).json()["name"]
    assert (names[0]["text"], names[0]["family"], names[0]["given"]) == ("曾丽", "曾", ["丽"])
    assert (names[1]["text"], names[1]["family"]) == ("Zeng Li", "Zeng")  # surname reading, not "ceng"


def test_the_home_clinic_is_the_managing_organization(county, fhir_as):
    body = read(fhir_as("village_doctor"), county.residents["zhang_san"]).json()
    assert body["managingOrganization"]["reference"] == f"Organization/{county.orgs['east_v1'].uuid}"
    assert body["address"][0]["extension"][0]["valueCode"] == county.orgs["east_v1"].division_code


def test_phone_insurance_and_key_population_tags_are_included(county, fhir_as):
    body = read(fhir_as("west_doctor"), county.residents["wang_wu"]).json()
    assert "telecom" not in body  # wang_wu has no phone: no empty element
    extensions = {(e["url"], (e.get("valueCoding") or {}).get("code")) for e in body["extension"]}
    assert (registry_fhir.EXT_INSURANCE_SCHEME, "resident") in extensions
    assert (registry_fhir.EXT_KEY_POPULATION, "elderly_65") in extensions
    assert (registry_fhir.EXT_KEY_POPULATION, "diabetes") in extensions


def test_the_etag_and_version_id_are_the_resident_version(county, fhir_as):
    response = read(fhir_as("village_doctor"), county.residents["zhang_san"])
    assert response["ETag"] == 'W/"1"'
    assert response.json()["meta"]["versionId"] == "1"


def test_a_read_is_audited_on_the_fhir_channel(county, fhir_as):
    zhang = county.residents["zhang_san"]
    read(fhir_as("village_doctor"), zhang)
    event = AuditEvent.objects.get(action="read", resident_id=str(zhang.uuid))
    assert (event.channel, event.username) == ("fhir", "village_doctor")


@pytest.mark.parametrize(
    "role, resident",
    [
        ("village_doctor", "wang_wu"),  # another township's village
        ("west_doctor", "zhang_san"),
        ("county_specialist", "zhang_san"),  # no posting at the branch
        ("resident", "zhang_san"),  # a resident sees only themself
    ],
)
def test_a_resident_outside_scope_is_not_found(county, fhir_as, role, resident):
    issues = outcome(read(fhir_as(role), county.residents[resident]), 404)
    assert issues[0]["code"] == "not-found"
    assert not AuditEvent.objects.filter(action="read").exists()


def test_a_resident_reads_their_own_record(county, fhir_as):
    assert read(fhir_as("resident"), county.residents["resident_self"]).status_code == 200


def test_the_bureau_is_refused_individual_records_with_403(county, fhir_as):
    outcome(read(fhir_as("bureau_viewer"), county.residents["zhang_san"]), 403)


@pytest.mark.parametrize("resource_id", ["00000000-0000-0000-0000-000000000000", "not-a-uuid", "1"])
def test_an_unknown_id_is_not_found(county, fhir_as, resource_id):
    outcome(fhir_as("community_admin").get(f"/fhir/Patient/{resource_id}"), 404)


def test_a_merged_record_reads_as_inactive_and_replaced_by_the_survivor(county, fhir_as):
    survivor = county.residents["zhang_san"]
    duplicate = make_resident(county, "dup", "张三", "east_v1", birth=dt.date(1960, 5, 1), with_id=False)
    services.merge_residents(
        user=county.users["community_admin"], survivor=survivor, duplicate=duplicate, reason="same person"
    )
    client = fhir_as("village_doctor")
    body = read(client, duplicate).json()
    assert body["active"] is False
    assert body["link"] == [{"other": {"reference": f"Patient/{survivor.uuid}"}, "type": "replaced-by"}]
    survivor_body = read(client, survivor).json()
    assert survivor_body["link"] == [
        {"other": {"reference": f"Patient/{duplicate.uuid}"}, "type": "replaces"}
    ]


def test_the_current_version_can_be_read_by_version_id(county, fhir_as):
    zhang = county.residents["zhang_san"]
    client = fhir_as("village_doctor")
    assert client.get(f"/fhir/Patient/{zhang.uuid}/_history/1").status_code == 200
    outcome(client.get(f"/fhir/Patient/{zhang.uuid}/_history/7"), 404)
