"""Showing likely duplicates is a read of those residents: it is audited on every front door, even though the
registration that triggered it is refused (the API and FHIR used to roll the audit back with the refusal)."""

import datetime as dt
import json

from django.test import Client
from tests.conftest import make_resident

from countycare.accounts.tokens import issue_token
from countycare.core.codes import system_url
from countycare.core.models import AuditEvent, IdempotencyRecord
from countycare.registry.models import Resident


def bearer(county, key):
    raw, _ = issue_token(county.users[key])
    return {"Authorization": f"Bearer {raw}"}


def lookalike(county):
    """A resident without a national ID in 西村, outside the east township doctor's scope."""
    return make_resident(county, "wang_noid", "王五", "west_v1", birth=dt.date(1950, 1, 1), with_id=False)


def test_the_json_api_audits_the_duplicates_it_shows(county):
    existing = lookalike(county)
    body = {"name": "王五", "sex": "male", "birth_date": "1950-01-01",
            "home_organization": str(county.orgs["east_v1"].uuid)}
    before = Resident.objects.count()
    response = Client().post("/api/residents", json.dumps(body), content_type="application/json",
                             headers={**bearer(county, "township_doctor"), "Idempotency-Key": "dup-1"})
    assert response.status_code == 409
    assert str(existing.uuid) in response.json()["candidates"]
    shown = AuditEvent.objects.get(action="duplicate-check", resident_id=str(existing.uuid))
    assert (shown.username, shown.channel) == ("township_doctor", "api")
    assert Resident.objects.count() == before and not IdempotencyRecord.objects.exists()


def test_fhir_audits_the_duplicates_it_shows(county):
    existing = lookalike(county)
    body = {"resourceType": "Patient", "name": [{"text": "王五"}], "gender": "male", "birthDate": "1950-01-01",
            "managingOrganization": {"reference": f"Organization/{county.orgs['east_v1'].uuid}"}}
    before = Resident.objects.count()
    response = Client().post("/fhir/Patient", json.dumps(body, ensure_ascii=False),
                             content_type="application/fhir+json", headers=bearer(county, "township_doctor"))
    assert response.status_code == 409
    assert f"Patient/{existing.uuid}" in response.content.decode()
    shown = AuditEvent.objects.get(action="duplicate-check", resident_id=str(existing.uuid))
    assert (shown.username, shown.channel) == ("township_doctor", "fhir")
    assert Resident.objects.count() == before


def test_a_registration_and_its_idempotent_answer_still_land_together(county):
    body = {"name": "钱八", "sex": "male", "birth_date": "1999-09-09",
            "home_organization": str(county.orgs["east_v1"].uuid)}
    headers = {**bearer(county, "village_doctor"), "Idempotency-Key": "new-1"}
    first = Client().post("/api/residents", json.dumps(body), content_type="application/json", headers=headers)
    again = Client().post("/api/residents", json.dumps(body), content_type="application/json", headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["uuid"] == again.json()["uuid"]
    assert Resident.objects.filter(name="钱八").count() == 1


def test_fhir_create_of_reference_data_stores_its_idempotent_answer(county):
    title = {"system": system_url("professional-title"), "code": "village_doctor"}
    body = {"resourceType": "Practitioner", "name": [{"text": "周九"}],
            "qualification": [{"code": {"coding": [title]}}]}
    headers = {**bearer(county, "community_admin"), "Idempotency-Key": "pr-1"}
    payload = json.dumps(body, ensure_ascii=False)
    first = Client().post("/fhir/Practitioner", payload, content_type="application/fhir+json", headers=headers)
    again = Client().post("/fhir/Practitioner", payload, content_type="application/fhir+json", headers=headers)
    assert first.status_code == again.status_code == 201
    assert first["Location"] == again["Location"]
    assert IdempotencyRecord.objects.filter(key="pr-1").count() == 1
