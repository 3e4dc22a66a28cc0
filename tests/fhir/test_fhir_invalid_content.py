"""Bodies the server cannot accept: 400 (or 415/422) with an OperationOutcome, never a 500, nothing stored."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.fhir.conftest import FhirClient, diagnostics, outcome, patient_body, snapshot


@pytest.fixture
def doctor(fhir_as) -> FhirClient:
    return fhir_as("village_doctor")


def changed(body: dict, element: str, value: object) -> dict:
    return {**body, element: value}


def test_malformed_json_is_a_400(county, doctor):
    before = snapshot()
    issues = outcome(doctor.post("/fhir/Patient", '{"resourceType": "Patient", '), 400)
    assert issues[0]["code"] == "structure" and "malformed JSON" in issues[0]["diagnostics"]
    assert snapshot() == before


@pytest.mark.parametrize("body", ["[]", '"Patient"', "null", "NaN", '{"resourceType": NaN}', "{\x00}"])
def test_a_body_that_is_not_a_json_object_is_a_400(county, doctor, body):
    outcome(doctor.post("/fhir/Patient", body), 400)


def test_a_body_that_is_not_utf8_is_a_400(county, doctor):
    response = doctor.client.post(
        "/fhir/Patient", data=b'{"resourceType": "\xff"}', content_type="application/fhir+json"
    )
    outcome(response, 400)


def test_deeply_nested_json_is_a_400(county, doctor):
    outcome(doctor.post("/fhir/Patient", "[" * 100000 + "]" * 100000), 400)


def test_a_wrong_resource_type_is_a_400(county, doctor):
    body = patient_body(county, resourceType="Organization")
    before = snapshot()
    issues = outcome(doctor.post("/fhir/Patient", body), 400)
    assert issues[0]["expression"] == ["Patient.resourceType"]
    assert snapshot() == before


def test_a_missing_resource_type_is_a_400(county, doctor):
    body = patient_body(county)
    del body["resourceType"]
    outcome(doctor.post("/fhir/Patient", body), 400)


def test_an_unknown_field_is_a_400_naming_it(county, doctor):
    before = snapshot()
    issues = outcome(doctor.post("/fhir/Patient", patient_body(county, nickname="小七")), 400)
    assert issues[0]["expression"] == ["Patient.nickname"]
    assert "Extra inputs are not permitted" in issues[0]["diagnostics"]
    assert snapshot() == before


def test_a_bad_gender_code_is_a_400(county, doctor):
    before = snapshot()
    issues = outcome(doctor.post("/fhir/Patient", patient_body(county, gender="x")), 400)
    assert issues[0]["code"] == "code-invalid" and issues[0]["expression"] == ["Patient.gender"]
    assert snapshot() == before


@pytest.mark.parametrize(
    "element, value, where",
    [
        ("telecom", [{"system": "pigeon", "value": "1"}], "Patient.telecom[0].system"),
        ("identifier", [{"use": "main", "system": "urn:x", "value": "1"}], "Patient.identifier[0].use"),
        ("name", [{"use": "real", "text": "孙七"}], "Patient.name[0].use"),
        ("address", [{"type": "home", "text": "x"}], "Patient.address[0].type"),
    ],
)
def test_codes_outside_required_bindings_are_a_400(county, doctor, element, value, where):
    issues = outcome(doctor.post("/fhir/Patient", changed(patient_body(county), element, value)), 400)
    assert issues[0]["expression"] == [where]


def test_every_validation_problem_is_reported(county, doctor):
    body = patient_body(county, birthDate="1970-13-01", active="maybe", nickname="x")
    issues = outcome(doctor.post("/fhir/Patient", body), 400)
    assert {i["expression"][0] for i in issues} >= {"Patient.birthDate", "Patient.nickname"}


def test_a_wrong_type_is_a_400_with_the_pydantic_message(county, doctor):
    issues = outcome(
        doctor.post("/fhir/Patient", changed(patient_body(county), "name", [{"given": "七"}])), 400
    )
    assert issues[0]["expression"] == ["Patient.name[0].given"]
    assert "valid list" in diagnostics(issues)


def test_a_modifier_extension_is_refused(county, doctor):
    body = patient_body(county, modifierExtension=[{"url": "http://example.org/x", "valueBoolean": True}])
    outcome(doctor.post("/fhir/Patient", body), 422)


def test_a_body_that_is_not_fhir_json_is_a_415(county, doctor):
    outcome(doctor.post("/fhir/Patient", json.dumps(patient_body(county)), content_type="text/plain"), 415)


def test_plain_application_json_is_accepted(county, doctor):
    response = doctor.post("/fhir/Patient", patient_body(county), content_type="application/json")
    assert response.status_code == 201


def test_a_body_over_the_size_limit_is_a_413(county, doctor, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    outcome(
        doctor.post(
            "/fhir/Patient",
            patient_body(county, text={"status": "generated", "div": "<div>" + "x" * 2000 + "</div>"}),
        ),
        413,
    )


MUTATIONS = [
    None,
    0,
    -1,
    1.5,
    True,
    "",
    "x",
    "Organization/",
    [],
    {},
    [None],
    [{}],
    [1],
    {"a": 1},
    "\x00",
    "9" * 5000,
    [{"url": 3}],
    [{"reference": None}],
]
ELEMENTS = [
    "identifier",
    "name",
    "gender",
    "birthDate",
    "telecom",
    "address",
    "managingOrganization",
    "extension",
    "active",
    "id",
    "meta",
    "link",
    "contact",
    "text",
]


@pytest.mark.parametrize("element", ELEMENTS)
def test_mangled_elements_never_cause_a_server_error(county, doctor, element):
    for value in MUTATIONS:
        response = doctor.post(
            "/fhir/Patient",
            changed(patient_body(county, with_id=False), element, value),
            **{"X-Confirm-Not-Duplicate": "true"},
        )
        assert response.status_code < 500, (element, value, response.content[:300])
        if response.status_code >= 400:
            outcome(response, response.status_code)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(element=st.sampled_from(ELEMENTS + ["extension", "identifier"]), value=json_values)
def test_arbitrary_json_in_any_element_never_causes_a_server_error(county, doctor, element, value):
    body = changed(patient_body(county, with_id=False), element, value)
    response = doctor.post("/fhir/Patient", body, **{"X-Confirm-Not-Duplicate": "true"})
    assert response.status_code < 500, (element, value, response.content[:300])
    response = doctor.put(f"/fhir/Patient/{county.residents['zhang_san'].uuid}", body)
    assert response.status_code < 500, (element, value, response.content[:300])


def test_control_characters_in_strings_are_a_400(county, doctor):
    body = patient_body(county)
    body["address"] = [{"text": "东村\x00号"}]
    before = snapshot()
    issues = outcome(doctor.post("/fhir/Patient", body), 400)
    assert issues[0]["expression"] == ["Patient.address[0].text"]
    assert snapshot() == before


def test_control_characters_in_search_parameters_are_a_400(county, doctor):
    outcome(doctor.get("/fhir/Patient", {"phone": "138\x00"}), 400)
    outcome(doctor.get("/fhir/Organization", {"name": "东\x01"}), 400)


def test_absurdly_deep_nesting_is_a_400(county, doctor):
    nested = '[{"url": "http://example.org/x", "extension": ' * 200 + "[]" + "}]" * 200
    body = '{"resourceType": "Patient", "extension": ' + nested + "}"
    issues = outcome(doctor.post("/fhir/Patient", body), 400)
    assert "nests deeper" in issues[0]["diagnostics"]
