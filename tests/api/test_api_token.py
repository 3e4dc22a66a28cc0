"""POST /api/auth/token and the bearer tokens it issues."""

import datetime as dt
import json

from django.test import Client
from django.utils import timezone
from tests.conftest import PASSWORD

from countycare.accounts.models import ApiToken

TOKEN_URL = "/api/auth/token"


def test_the_right_password_gets_a_bearer_token_that_works(county, anonymous):
    response = anonymous.post(TOKEN_URL, {"username": "village_doctor", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert dt.datetime.fromisoformat(body["expires_at"]) > timezone.now()
    anonymous.token = body["access_token"]
    assert anonymous.get("/api/me").json()["username"] == "village_doctor"


def test_only_the_digest_of_a_token_is_stored(county, anonymous):
    raw = anonymous.post(TOKEN_URL, {"username": "village_doctor", "password": PASSWORD}).json()["access_token"]
    token = ApiToken.objects.get(user=county.users["village_doctor"])
    assert token.digest == ApiToken.digest_of(raw) and raw not in token.digest


def test_a_wrong_password_is_a_401_with_a_message(county, anonymous):
    response = anonymous.post(TOKEN_URL, {"username": "village_doctor", "password": "wrong-password"})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid-credentials"
    assert "wrong user name or password" in response.json()["detail"]
    assert not ApiToken.objects.exists()


def test_an_unknown_user_gets_the_same_401(county, anonymous):
    response = anonymous.post(TOKEN_URL, {"username": "nobody", "password": PASSWORD})
    assert response.status_code == 401 and response.json()["code"] == "invalid-credentials"


def test_an_inactive_user_gets_no_token(county, anonymous):
    user = county.users["village_doctor"]
    user.is_active = False
    user.save()
    response = anonymous.post(TOKEN_URL, {"username": "village_doctor", "password": PASSWORD})
    assert response.status_code == 401
    assert not ApiToken.objects.exists()


def test_five_failures_lock_the_user_out_even_with_the_right_password(county, anonymous):
    statuses = [
        anonymous.post(TOKEN_URL, {"username": "village_doctor", "password": f"wrong-{i}"}).status_code
        for i in range(5)
    ]
    assert statuses == [401, 401, 401, 401, 429]
    response = anonymous.post(TOKEN_URL, {"username": "village_doctor", "password": PASSWORD})
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json()["code"] == "locked-out" and "15 minutes" in response.json()["detail"]
    assert not ApiToken.objects.exists()


def test_a_lock_out_is_for_that_user_name_only(county, anonymous):
    for i in range(5):
        anonymous.post(TOKEN_URL, {"username": "village_doctor", "password": f"wrong-{i}"})
    response = anonymous.post(TOKEN_URL, {"username": "township_doctor", "password": PASSWORD})
    assert response.status_code == 200


def test_a_success_before_the_limit_resets_the_count(county, anonymous):
    for i in range(4):
        anonymous.post(TOKEN_URL, {"username": "village_doctor", "password": f"wrong-{i}"})
    assert anonymous.post(TOKEN_URL, {"username": "village_doctor", "password": PASSWORD}).status_code == 200
    assert anonymous.post(TOKEN_URL, {"username": "village_doctor", "password": "wrong"}).status_code == 401


def test_missing_credentials_are_a_422_naming_the_field(county, anonymous):
    response = anonymous.post(TOKEN_URL, {"username": "village_doctor"})
    assert response.status_code == 422
    assert response.json()["field"] == "password"


def test_a_body_that_is_not_json_is_a_400(county, anonymous):
    response = anonymous.post(TOKEN_URL, "{not json")
    assert response.status_code == 400 and response.json()["code"] == "bad-request"


def test_an_expired_token_is_a_401(county, api_as):
    client = api_as("village_doctor")
    ApiToken.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = client.get("/api/me")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["code"] == "unauthorized"


def test_a_token_of_a_deactivated_user_is_a_401(county, api_as):
    client = api_as("village_doctor")
    county.users["village_doctor"].is_active = False
    county.users["village_doctor"].save()
    assert client.get("/api/me").status_code == 401


def test_no_token_a_wrong_token_or_another_scheme_is_a_401(county, anonymous):
    assert anonymous.get("/api/me").status_code == 401
    assert anonymous.get("/api/me", headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    assert anonymous.get("/api/me", headers={"Authorization": f"Basic {PASSWORD}"}).status_code == 401


def test_api_clients_need_no_csrf_token(county):
    """Bearer tokens are not sent by browsers on their own, so the API is exempt from CSRF checks."""
    client = Client(enforce_csrf_checks=True)
    body = json.dumps({"username": "village_doctor", "password": PASSWORD})
    response = client.post(TOKEN_URL, body, content_type="application/json")
    assert response.status_code == 200
    token = response.json()["access_token"]
    response = client.post(
        "/api/residents", "{}", content_type="application/json", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 422  # validated, not refused for CSRF


def test_a_session_cookie_alone_does_not_open_the_api(county):
    client = Client()
    client.force_login(county.users["village_doctor"])
    assert client.get("/api/me").status_code == 401
