"""POST /fhir/Patient: registering a resident through FHIR, with the patient index's rules."""

import datetime as dt

import pytest
from tests.conftest import COUNTY
from tests.fhir.conftest import diagnostics, organization_ref, outcome, patient_body, snapshot, valid

from countycare.core import nationalid
from countycare.core.models import AuditEvent
from countycare.registry import fhir as registry_fhir
from countycare.registry.models import Resident


def test_it_creates_a_patient_with_201_location_and_etag(county, fhir_as):
    response = fhir_as("village_doctor").post("/fhir/Patient", patient_body(county))
    assert response.status_code == 201, response.content
    created = valid(response.json())
    resident = Resident.objects.get(uuid=created.id)
    assert response["Location"] == f"http://testserver/fhir/Patient/{resident.uuid}/_history/1"
    assert response["ETag"] == 'W/"1"'
    assert (resident.name, resident.sex, resident.birth_date) == ("孙七", "female", dt.date(1970, 7, 7))
    assert resident.home_organization == county.orgs["east_v1"]
    assert list(resident.tags.values_list("tag", flat=True)) == ["diabetes"]


def test_the_location_can_be_read_back(county, fhir_as):
    client = fhir_as("village_doctor")
    location = client.post("/fhir/Patient", patient_body(county))["Location"]
    assert client.get(location.removeprefix("http://testserver")).status_code == 200


def test_a_creation_is_audited_on_the_fhir_channel(county, fhir_as):
    created = fhir_as("village_doctor").post("/fhir/Patient", patient_body(county)).json()
    assert AuditEvent.objects.filter(action="create", resident_id=created["id"], channel="fhir").count() == 1


def test_other_identifiers_and_the_insurance_number_are_stored(county, fhir_as):
    body = patient_body(
        county,
        with_id=False,
        identifier=[
            {"system": registry_fhir.OTHER_IDENTIFIER_BASE + "passport", "value": "e7654321"},
        ],
    )
    body["extension"].append({"url": registry_fhir.EXT_INSURANCE_NUMBER, "valueString": "YB0001"})
    created = fhir_as("village_doctor").post("/fhir/Patient", body).json()
    resident = Resident.objects.get(uuid=created["id"])
    assert list(resident.identifiers.values_list("type", "value")) == [("passport", "E7654321")]
    assert resident.insurance_number == "YB0001" and resident.national_id is None


def test_a_repeated_idempotency_key_returns_the_first_answer_and_creates_once(county, fhir_as):
    client = fhir_as("village_doctor")
    first = client.post("/fhir/Patient", patient_body(county), **{"Idempotency-Key": "k-1"})
    again = client.post("/fhir/Patient", patient_body(county), **{"Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again["Location"] == first["Location"]
    assert Resident.objects.filter(name="孙七").count() == 1


def test_an_idempotency_key_reused_for_another_body_is_refused(county, fhir_as):
    client = fhir_as("village_doctor")
    client.post("/fhir/Patient", patient_body(county), **{"Idempotency-Key": "k-2"})
    before = snapshot()
    outcome(
        client.post("/fhir/Patient", patient_body(county, name="孙八"), **{"Idempotency-Key": "k-2"}), 422
    )
    assert snapshot() == before


def test_a_national_id_that_exists_is_a_409_naming_the_existing_patient(county, fhir_as):
    zhang = county.residents["zhang_san"]
    body = patient_body(
        county,
        name="张叁",
        identifier=[{"system": registry_fhir.NATIONAL_ID_SYSTEM, "value": zhang.national_id}],
        sex="male",
        birth=dt.date(1960, 5, 1),
    )
    before = snapshot()
    issues = outcome(fhir_as("village_doctor").post("/fhir/Patient", body), 409)
    assert issues[0]["code"] == "duplicate"
    assert f"Patient/{zhang.uuid}" in diagnostics(issues)
    assert issues[0]["expression"] == ["Patient.identifier"]
    assert snapshot() == before


def test_a_wrong_check_digit_is_refused_naming_the_check_character(county, fhir_as):
    good = nationalid.build(COUNTY, dt.date(1970, 7, 7), 11, "female")
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    body = patient_body(county, identifier=[{"system": registry_fhir.NATIONAL_ID_SYSTEM, "value": bad}])
    before = snapshot()
    issues = outcome(fhir_as("village_doctor").post("/fhir/Patient", body), 422)
    assert f"check character should be {good[17]}" in diagnostics(issues)
    assert issues[0]["expression"] == ["Patient.identifier"]
    assert snapshot() == before


def test_a_birth_date_that_disagrees_with_the_national_id_is_refused(county, fhir_as):
    body = patient_body(county)
    body["birthDate"] = "1971-07-07"
    issues = outcome(fhir_as("village_doctor").post("/fhir/Patient", body), 422)
    assert "1970-07-07" in diagnostics(issues) and issues[0]["expression"] == ["Patient.birthDate"]


def test_a_likely_duplicate_without_national_id_is_a_409_naming_the_candidates(county, fhir_as):
    zhang = county.residents["zhang_san"]
    body = patient_body(
        county,
        name="章三",
        sex="male",
        birth=dt.date(1960, 5, 1),
        with_id=False,
        telecom=[{"system": "phone", "value": "13800000001"}],
    )
    before = snapshot()
    issues = outcome(fhir_as("village_doctor").post("/fhir/Patient", body), 409)
    assert f"Patient/{zhang.uuid}" in diagnostics(issues)
    assert "X-Confirm-Not-Duplicate" in diagnostics(issues)
    # nothing is written but the audit of the candidates shown (showing them is a read of their records)
    shown = AuditEvent.objects.filter(action="duplicate-check")
    assert list(shown.values_list("resident_id", "channel")) == [(str(zhang.uuid), "fhir")]
    assert snapshot() == {**before, "audit_events": before["audit_events"] + 1}


def test_a_likely_duplicate_can_be_confirmed_as_a_different_person(county, fhir_as):
    body = patient_body(
        county,
        name="章三",
        sex="male",
        birth=dt.date(1960, 5, 1),
        with_id=False,
        telecom=[{"system": "phone", "value": "13800000001"}],
    )
    response = fhir_as("village_doctor").post("/fhir/Patient", body, **{"X-Confirm-Not-Duplicate": "true"})
    assert response.status_code == 201
    event = AuditEvent.objects.get(action="create", resident_id=response.json()["id"])
    assert event.detail == {"confirmed_not_duplicate": True}


@pytest.mark.parametrize(
    "role", ["bureau_viewer", "resident", "pharmacist", "insurance_officer", "cdc_officer"]
)
def test_roles_that_do_not_register_residents_get_403(county, fhir_as, role):
    before = snapshot()
    outcome(fhir_as(role).post("/fhir/Patient", patient_body(county)), 403)
    assert snapshot() == before


def test_registering_at_a_clinic_outside_scope_is_refused_with_403(county, fhir_as):
    before = snapshot()
    outcome(fhir_as("village_doctor").post("/fhir/Patient", patient_body(county, home="west_v1")), 403)
    assert snapshot() == before


def test_a_patient_without_managing_organization_is_refused(county, fhir_as):
    body = patient_body(county)
    del body["managingOrganization"]
    issues = outcome(fhir_as("village_doctor").post("/fhir/Patient", body), 422)
    assert issues[0]["expression"] == ["Patient.managingOrganization"]


def test_a_managing_organization_that_is_not_a_clinic_or_branch_is_refused(county, fhir_as):
    body = patient_body(county, managingOrganization=organization_ref(county, "cdc"))
    outcome(fhir_as("community_admin").post("/fhir/Patient", body), 422)


def test_a_managing_organization_of_another_type_of_resource_is_refused(county, fhir_as):
    body = patient_body(
        county, managingOrganization={"reference": f"Patient/{county.residents['li_si'].uuid}"}
    )
    outcome(fhir_as("community_admin").post("/fhir/Patient", body), 422)


def test_gender_other_cannot_be_stored(county, fhir_as):
    issues = outcome(
        fhir_as("village_doctor").post("/fhir/Patient", patient_body(county, with_id=False, gender="other")),
        422,
    )
    assert issues[0]["expression"] == ["Patient.gender"]


def test_a_partial_birth_date_cannot_be_stored(county, fhir_as):
    body = patient_body(county, with_id=False, birthDate="1970-07")
    issues = outcome(fhir_as("village_doctor").post("/fhir/Patient", body), 422)
    assert issues[0]["expression"] == ["Patient.birthDate"]


def test_an_unknown_identifier_system_is_refused_rather_than_dropped(county, fhir_as):
    body = patient_body(county, identifier=[{"system": "urn:oid:1.2.3.4", "value": "X1"}])
    issues = outcome(fhir_as("village_doctor").post("/fhir/Patient", body), 422)
    assert "urn:oid:1.2.3.4" in diagnostics(issues)


def test_an_unknown_key_population_code_is_refused(county, fhir_as):
    body = patient_body(county)
    body["extension"][1]["valueCoding"]["code"] = "smoker"
    issues = outcome(fhir_as("village_doctor").post("/fhir/Patient", body), 422)
    assert issues[0]["expression"] == ["Patient.extension"]


def test_a_missing_name_is_refused(county, fhir_as):
    body = patient_body(county)
    del body["name"]
    issues = outcome(fhir_as("village_doctor").post("/fhir/Patient", body), 422)
    assert issues[0]["expression"] == ["Patient.name"]


def test_a_client_id_in_the_body_is_ignored_on_create(county, fhir_as):
    response = fhir_as("village_doctor").post("/fhir/Patient", patient_body(county, id="my-own-id"))
    assert response.status_code == 201 and response.json()["id"] != "my-own-id"


@pytest.mark.parametrize(
    "element, value, where",
    [
        ("address", [{"text": "东" * 201}], "Patient.address"),
        (
            "identifier",
            [{"system": registry_fhir.OTHER_IDENTIFIER_BASE + "passport", "value": "E" * 41}],
            "Patient.identifier",
        ),
    ],
)
def test_values_longer_than_their_columns_are_refused_on_every_database(
    county, fhir_as, element, value, where
):
    body = {**patient_body(county, with_id=False), element: value}
    before = snapshot()
    issues = outcome(fhir_as("village_doctor").post("/fhir/Patient", body), 422)
    assert issues[0]["expression"] == [where]
    assert snapshot() == before
