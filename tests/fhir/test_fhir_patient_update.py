"""PUT /fhir/Patient/<id>: replacing a resident's data, guarded by If-Match."""

import datetime as dt

import pytest
from tests.conftest import make_resident
from tests.fhir.conftest import diagnostics, outcome, snapshot

from countycare.core.models import AuditEvent
from countycare.registry import fhir as registry_fhir
from countycare.registry import services
from countycare.registry.models import Resident


@pytest.fixture
def zhang(county):
    return county.residents["zhang_san"]


def edited(client, resident, **changes):
    body = client.get(f"/fhir/Patient/{resident.uuid}").json()
    body.update(changes)
    return body


def test_it_updates_a_patient_and_bumps_the_version(county, fhir_as, zhang):
    client = fhir_as("village_doctor")
    body = edited(client, zhang, telecom=[{"system": "phone", "value": "13911112222"}])
    response = client.put(f"/fhir/Patient/{zhang.uuid}", body, **{"If-Match": 'W/"1"'})
    assert response.status_code == 200, response.content
    assert response["ETag"] == 'W/"2"' and response.json()["meta"]["versionId"] == "2"
    zhang.refresh_from_db()
    assert (zhang.phone, zhang.version) == ("13911112222", 2)
    event = AuditEvent.objects.get(action="update", resident_id=str(zhang.uuid))
    assert event.channel == "fhir" and event.detail["changed"]["phone"] == ["13800000001", "13911112222"]


def test_what_the_server_sent_can_be_sent_back_unchanged(county, fhir_as, zhang):
    client = fhir_as("village_doctor")
    body = edited(client, zhang)
    response = client.put(f"/fhir/Patient/{zhang.uuid}", body, **{"If-Match": 'W/"1"'})
    assert response.status_code == 200
    returned = response.json()
    for element in (
        "identifier",
        "name",
        "telecom",
        "gender",
        "birthDate",
        "address",
        "extension",
        "managingOrganization",
    ):
        assert returned[element] == body[element]


def test_the_key_population_tags_are_replaced_by_the_sent_ones(county, fhir_as, zhang):
    client = fhir_as("village_doctor")
    body = edited(client, zhang)
    body["extension"] = [e for e in body["extension"] if e["url"] != registry_fhir.EXT_KEY_POPULATION]
    body["extension"].append(
        {
            "url": registry_fhir.EXT_KEY_POPULATION,
            "valueCoding": {
                "system": body["extension"][0]["valueCoding"]["system"].replace(
                    "insurance-scheme", "key-population"
                ),
                "code": "diabetes",
            },
        }
    )
    assert client.put(f"/fhir/Patient/{zhang.uuid}", body).status_code == 200
    assert list(zhang.tags.values_list("tag", flat=True)) == ["diabetes"]


def test_it_refuses_a_stale_if_match(county, fhir_as, zhang):
    client = fhir_as("village_doctor")
    body = edited(client, zhang, telecom=[{"system": "phone", "value": "13911112222"}])
    services.update_resident(
        user=county.users["community_admin"],
        resident=zhang,
        data=services.ResidentData(
            name="张三", national_id=zhang.national_id, home_organization=county.orgs["east_v1"]
        ),
    )
    before = snapshot()
    issues = outcome(client.put(f"/fhir/Patient/{zhang.uuid}", body, **{"If-Match": 'W/"1"'}), 412)
    assert "当前版本2" in diagnostics(issues)
    assert snapshot() == before


def test_an_if_match_that_is_not_a_version_number_never_matches(county, fhir_as, zhang):
    client = fhir_as("village_doctor")
    body = edited(client, zhang)
    before = snapshot()
    outcome(client.put(f"/fhir/Patient/{zhang.uuid}", body, **{"If-Match": 'W/"abc"'}), 412)
    assert snapshot() == before


def test_a_malformed_if_match_is_a_400(county, fhir_as, zhang):
    client = fhir_as("village_doctor")
    outcome(
        client.put(f"/fhir/Patient/{zhang.uuid}", edited(client, zhang), **{"If-Match": "version 1"}), 400
    )


def test_an_update_without_if_match_is_applied(county, fhir_as, zhang):
    client = fhir_as("village_doctor")
    assert client.put(f"/fhir/Patient/{zhang.uuid}", edited(client, zhang)).status_code == 200


def test_the_id_in_the_body_must_match_the_url(county, fhir_as, zhang):
    client = fhir_as("village_doctor")
    body = edited(client, zhang, id=str(county.residents["li_si"].uuid))
    before = snapshot()
    issues = outcome(client.put(f"/fhir/Patient/{zhang.uuid}", body), 400)
    assert issues[0]["expression"] == ["Patient.id"]
    assert snapshot() == before


def test_a_resident_outside_scope_cannot_be_updated(county, fhir_as, zhang):
    body = edited(fhir_as("community_admin"), zhang)
    before = snapshot()
    outcome(fhir_as("west_doctor").put(f"/fhir/Patient/{zhang.uuid}", body), 404)
    assert snapshot() == before


def test_a_resident_cannot_be_moved_to_a_clinic_outside_the_editors_scope(county, fhir_as, zhang):
    client = fhir_as("village_doctor")
    body = edited(
        client, zhang, managingOrganization={"reference": f"Organization/{county.orgs['west_v1'].uuid}"}
    )
    before = snapshot()
    outcome(client.put(f"/fhir/Patient/{zhang.uuid}", body), 403)
    assert snapshot() == before


def test_update_as_create_is_not_supported(county, fhir_as, zhang):
    body = edited(fhir_as("village_doctor"), zhang, id="6f1c1a3e-0000-4000-8000-000000000000")
    before = snapshot()
    outcome(fhir_as("village_doctor").put("/fhir/Patient/6f1c1a3e-0000-4000-8000-000000000000", body), 404)
    assert snapshot() == before


@pytest.mark.parametrize("role", ["bureau_viewer", "resident"])
def test_roles_that_do_not_edit_residents_get_403(county, fhir_as, zhang, role):
    body = edited(fhir_as("community_admin"), zhang)
    before = snapshot()
    outcome(fhir_as(role).put(f"/fhir/Patient/{zhang.uuid}", body), 403)
    assert snapshot() == before


def test_a_merged_record_cannot_be_edited(county, fhir_as, zhang):
    duplicate = make_resident(county, "dup", "张三", "east_v1", birth=dt.date(1960, 5, 1), with_id=False)
    client = fhir_as("village_doctor")
    body = edited(client, duplicate)
    services.merge_residents(
        user=county.users["community_admin"], survivor=zhang, duplicate=duplicate, reason="same person"
    )
    body["id"] = str(duplicate.uuid)
    before = snapshot()
    outcome(client.put(f"/fhir/Patient/{duplicate.uuid}", body), 409)
    assert snapshot() == before


def test_a_national_id_taken_by_another_resident_is_a_409_naming_them(county, fhir_as, zhang):
    li = county.residents["li_si"]
    client = fhir_as("township_doctor")
    body = edited(client, zhang)
    body["identifier"][0]["value"] = li.national_id
    body["gender"], body["birthDate"] = "male", li.birth_date.isoformat()
    before = snapshot()
    issues = outcome(client.put(f"/fhir/Patient/{zhang.uuid}", body), 409)
    assert f"Patient/{li.uuid}" in diagnostics(issues)
    assert snapshot() == before
    assert Resident.objects.get(pk=zhang.pk).version == 1
