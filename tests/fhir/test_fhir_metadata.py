"""GET /fhir/metadata: the CapabilityStatement, readable without a token."""

from tests.fhir.conftest import FHIR_JSON, valid


def test_it_publishes_a_valid_capability_statement_without_authentication(db, anonymous):
    response = anonymous.get("/fhir/metadata")
    assert response.status_code == 200
    assert response["Content-Type"].startswith(FHIR_JSON)
    statement = valid(response.json())
    assert statement.fhirVersion == "4.0.1"
    assert statement.kind == "instance"


def test_it_lists_every_resource_with_its_interactions_and_search_parameters(db, anonymous):
    rest = anonymous.get("/fhir/metadata").json()["rest"][0]
    resources = {r["type"]: r for r in rest["resource"]}
    assert set(resources) == {"Patient", "Organization", "Practitioner", "PractitionerRole", "Encounter",
                              "Condition", "Observation", "ServiceRequest", "Task", "CarePlan", "DiagnosticReport",
                              "ImagingStudy", "Media", "Binary", "Measure", "MeasureReport"}
    interactions = {kind: {i["code"] for i in r["interaction"]} for kind, r in resources.items()}
    for kind in ("Patient", "Organization", "Practitioner", "PractitionerRole"):
        assert interactions[kind] >= {"read", "search-type", "create", "update"}
        assert resources[kind]["versioning"] == "versioned-update"
    # only what each type really answers: the shared record is created, never replaced; a referral's status
    # changes through its Task; a care plan arrives inside its down-referral
    for kind in ("Encounter", "Condition", "Observation", "ServiceRequest"):
        assert interactions[kind] == {"read", "vread", "search-type", "create"}
    assert interactions["Task"] == {"read", "vread", "search-type", "update"}
    assert interactions["CarePlan"] == {"read", "vread", "search-type"}
    params = {kind: {p["name"] for p in r["searchParam"]} for kind, r in resources.items()}
    assert params["Patient"] >= {"name", "identifier", "birthdate", "gender"}
    assert params["Organization"] >= {"partof", "type", "name"}
    assert params["Practitioner"] >= {"name", "identifier"}
    assert params["PractitionerRole"] >= {"practitioner", "organization", "role"}


def test_metadata_accepts_only_get(db, anonymous):
    response = anonymous.post("/fhir/metadata", {})
    assert response.status_code == 405
    assert response["Allow"] == "GET"
