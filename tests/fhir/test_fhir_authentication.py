"""Who may call the FHIR API: bearer tokens or the web session; 401 without either."""

import datetime as dt
import json

from django.test import Client
from django.utils import timezone
from tests.fhir.conftest import FHIR_JSON, FhirClient, outcome, patient_body, snapshot

from countycare.accounts.models import ApiToken
from countycare.accounts.tokens import issue_token


def test_a_request_without_a_token_is_refused_with_401(county, anonymous):
    issues = outcome(anonymous.get(f"/fhir/Patient/{county.residents['zhang_san'].uuid}"), 401)
    assert issues[0]["code"] == "login"


def test_the_401_names_the_bearer_scheme(county, anonymous):
    response = anonymous.get("/fhir/Organization")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_token_is_refused_with_401(county):
    outcome(FhirClient("not-a-token").get("/fhir/Organization"), 401)


def test_an_expired_token_is_refused_with_401(county):
    raw, token = issue_token(county.users["township_doctor"])
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    outcome(FhirClient(raw).get("/fhir/Organization"), 401)


def test_a_token_of_a_deactivated_user_is_refused_with_401(county):
    raw, _ = issue_token(county.users["township_doctor"])
    county.users["township_doctor"].is_active = False
    county.users["township_doctor"].save()
    outcome(FhirClient(raw).get("/fhir/Organization"), 401)


def test_a_write_without_a_token_is_refused_and_changes_nothing(county, anonymous):
    before = snapshot()
    outcome(anonymous.post("/fhir/Patient", patient_body(county)), 401)
    assert snapshot() == before


def test_a_logged_in_web_session_can_read(county):
    client = Client()
    client.force_login(county.users["township_doctor"])
    response = client.get(f"/fhir/Patient/{county.residents['zhang_san'].uuid}")
    assert response.status_code == 200


def test_a_session_write_without_the_csrf_token_is_refused(county):
    client = Client(enforce_csrf_checks=True)
    client.force_login(county.users["township_doctor"])
    before = snapshot()
    response = client.post("/fhir/Patient", json.dumps(patient_body(county)), content_type=FHIR_JSON)
    issues = outcome(response, 403)
    assert issues[0]["code"] == "security"
    assert snapshot() == before


def test_a_bearer_write_needs_no_csrf_token(county):
    raw, _ = issue_token(county.users["township_doctor"])
    client = FhirClient(raw)
    client.client = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {raw}"})
    assert client.post("/fhir/Patient", patient_body(county)).status_code == 201
