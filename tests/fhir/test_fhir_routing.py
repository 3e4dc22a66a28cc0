"""Paths and methods the FHIR API does not serve: OperationOutcome 404 and 405."""

import pytest
from tests.fhir.conftest import outcome, patient_body, snapshot


def test_an_unsupported_resource_type_is_a_404(county, fhir_as):
    issues = outcome(fhir_as("community_admin").get("/fhir/Immunization"), 404)
    assert issues[0]["code"] == "not-supported"
    outcome(fhir_as("community_admin").post("/fhir/Immunization", {"resourceType": "Immunization"}), 404)


def test_an_unknown_path_is_a_404(county, fhir_as):
    outcome(fhir_as("community_admin").get("/fhir/Patient/x/y/z/w"), 404)


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("delete", "/fhir/Patient/{id}", "GET, PUT"),
        ("post", "/fhir/Patient/{id}", "GET, PUT"),
        ("put", "/fhir/Patient", "GET, POST"),
        ("delete", "/fhir/Organization", "GET, POST"),
        ("post", "/fhir/Patient/{id}/_history/1", "GET"),
    ],
)
def test_an_unsupported_method_is_a_405_with_allow(county, fhir_as, method, path, allowed):
    client = fhir_as("community_admin")
    path = path.format(id=county.residents["zhang_san"].uuid)
    before = snapshot()
    if method == "delete":
        response = client.delete(path)
    else:
        response = getattr(client, method)(path, patient_body(county))
    outcome(response, 405)
    assert response["Allow"] == allowed
    assert snapshot() == before


def test_a_delete_changes_nothing(county, fhir_as):
    zhang = county.residents["zhang_san"]
    fhir_as("community_admin").delete(f"/fhir/Patient/{zhang.uuid}")
    zhang.refresh_from_db()
    assert zhang.merged_into is None
