"""Clients of the FHIR API for the county's cast of users, resource bodies, and a snapshot of the database to
prove that a refused write changed nothing."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client
from tests.conftest import COUNTY

from countycare.core import nationalid
from countycare.core.codes import system_url
from countycare.registry import fhir as registry_fhir

FHIR_JSON = "application/fhir+json"


class FhirClient:
    """A Django test client that speaks FHIR JSON with one user's bearer token."""

    def __init__(self, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = Client(headers=headers)

    def get(self, path: str, params: dict[str, Any] | None = None, **headers: str):
        return self.client.get(path, params or {}, headers=headers)

    def post(self, path: str, body: Any, *, content_type: str = FHIR_JSON, **headers: str):
        return self.client.post(path, data=_encode(body), content_type=content_type, headers=headers)

    def put(self, path: str, body: Any, *, content_type: str = FHIR_JSON, **headers: str):
        return self.client.put(path, data=_encode(body), content_type=content_type, headers=headers)

    def delete(self, path: str):
        return self.client.delete(path)


def _encode(body: Any) -> str:
    return body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)


@pytest.fixture
def fhir_as(county):
    """`fhir_as("village_doctor")` -> a FhirClient authenticated as that user of the county."""
    from countycare.accounts.tokens import issue_token

    def make(role: str) -> FhirClient:
        raw, _ = issue_token(county.users[role])
        return FhirClient(raw)

    return make


@pytest.fixture
def anonymous() -> FhirClient:
    return FhirClient(None)


def organization_ref(county, key: str) -> dict[str, str]:
    return {"reference": f"Organization/{county.orgs[key].uuid}"}


def patient_body(
    county,
    *,
    name: str = "孙七",
    birth: dt.date = dt.date(1970, 7, 7),
    sex: str = "female",
    seq: int = 11,
    home: str = "east_v1",
    with_id: bool = True,
    **elements: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Patient",
        "name": [{"use": "official", "text": name}],
        "gender": sex,
        "birthDate": birth.isoformat(),
        "telecom": [{"system": "phone", "value": "13900000007"}],
        "address": [{"text": "东村12号"}],
        "managingOrganization": organization_ref(county, home),
        "extension": [
            {
                "url": registry_fhir.EXT_INSURANCE_SCHEME,
                "valueCoding": {"system": system_url("insurance-scheme"), "code": "resident"},
            },
            {
                "url": registry_fhir.EXT_KEY_POPULATION,
                "valueCoding": {"system": system_url("key-population"), "code": "diabetes"},
            },
        ],
    }
    if with_id:
        body["identifier"] = [
            {"system": registry_fhir.NATIONAL_ID_SYSTEM, "value": nationalid.build(COUNTY, birth, seq, sex)}
        ]
    body.update(elements)
    return body


def snapshot() -> dict[str, Any]:
    """Everything a FHIR write could touch, to compare before and after a refused one."""
    from countycare.core.models import AuditEvent, IdempotencyRecord
    from countycare.registry.models import (
        Organization,
        Posting,
        Practitioner,
        Resident,
        ResidentIdentifier,
        ResidentTag,
    )

    return {
        "residents": sorted(
            Resident.objects.values_list(
                "uuid", "version", "name", "phone", "home_organization_id", "national_id", "merged_into_id"
            )
        ),
        "tags": sorted(ResidentTag.objects.values_list("resident_id", "tag")),
        "identifiers": sorted(ResidentIdentifier.objects.values_list("resident_id", "type", "value")),
        "organizations": sorted(
            Organization.objects.values_list(
                "uuid", "name", "parent_id", "org_type", "division_code", "active"
            )
        ),
        "practitioners": sorted(Practitioner.objects.values_list("uuid", "name", "title", "licence_number")),
        "postings": sorted(
            Posting.objects.values_list("pk", "practitioner_id", "organization_id", "role", "start", "end")
        ),
        "audit_events": AuditEvent.objects.count(),
        "idempotency": IdempotencyRecord.objects.count(),
    }


def valid(body: dict[str, Any]) -> Any:
    """Validate a response body with the R4B model of its resourceType (Bundles validate their entries)."""
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(body["resourceType"]).model_validate(body)


def outcome(response, status: int) -> list[dict[str, Any]]:
    """Assert that the response is an OperationOutcome with this status; return its issues."""
    assert response.status_code == status, response.content.decode()[:2000]
    assert response["Content-Type"].startswith(FHIR_JSON)
    body = response.json()
    valid(body)
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"]


def diagnostics(issues: list[dict[str, Any]]) -> str:
    return " ".join(i.get("diagnostics", "") for i in issues)


def organization_body(county, **elements: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Organization",
        "identifier": [{"system": registry_fhir.DIVISION_CODE_SYSTEM, "value": "330122101203"}],
        "active": True,
        "type": [{"coding": [{"system": system_url("organization-type"), "code": "village_clinic"}]}],
        "name": "北村卫生室",
        "telecom": [{"system": "phone", "value": "0571-1234567"}],
        "address": [{"text": "北村1号"}],
        "partOf": organization_ref(county, "east"),
    }
    body.update(elements)
    return body


def practitioner_body(**elements: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Practitioner",
        "identifier": [{"system": registry_fhir.LICENCE_SYSTEM, "value": "110330122000123"}],
        "name": [{"text": "欧阳明"}],
        "gender": "male",
        "birthDate": "1980-03-04",
        "qualification": [
            {
                "code": {
                    "coding": [{"system": system_url("professional-title"), "code": "attending_physician"}]
                }
            }
        ],
        "extension": [{"url": registry_fhir.EXT_SPECIALTY, "valueString": "cardiology"}],
    }
    body.update(elements)
    return body


def practitioner_role_body(
    county, *, practitioner: str = "county_specialist", organization: str = "west", **elements: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "extension": [
            {
                "url": registry_fhir.EXT_POSTING_KIND,
                "valueCoding": {"system": system_url("posting-kind"), "code": "county_to_township"},
            }
        ],
        "period": {"start": "2026-01-01", "end": "2026-12-31"},
        "practitioner": {"reference": f"Practitioner/{county.practitioners[practitioner].uuid}"},
        "organization": organization_ref(county, organization),
        "code": [{"coding": [{"system": system_url("user-role"), "code": "county_specialist"}]}],
    }
    body.update(elements)
    return body
