"""A request that fails unexpectedly answers in its surface's own language, and a database that is down is a 503
with Retry-After ("try again shortly"), not a 500 ("something is broken").

The database is made unreachable for one thread only: the request runs in a thread whose connection points at
a port nothing listens on (PostgreSQL) or a file in a directory that does not exist (SQLite).
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from countycare.accounts.tokens import issue_token
from countycare.referrals import queries as referral_queries
from countycare.registry import fhir as registry_fhir


def unreachable() -> dict[str, Any]:
    wrapper = connections["default"]
    if wrapper.vendor == "sqlite":
        return {"NAME": "/nonexistent-countycare-dir/countycare.sqlite3"}
    with socket.socket() as probe:  # a free port: nothing will answer on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return {"HOST": "127.0.0.1", "PORT": port}


def without_database(request: Any) -> Any:
    """Run `request()` in a thread whose database connection cannot connect."""
    out: dict[str, Any] = {}

    def run() -> None:
        wrapper = connections["default"]
        wrapper.settings_dict = {**wrapper.settings_dict, **unreachable()}
        try:
            out["response"] = request()
        finally:
            wrapper.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    return out["response"]


def client() -> Client:
    return Client(raise_request_exception=False)


def broken(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("a bug")


@pytest.fixture
def token(county) -> str:
    return issue_token(county.users["county_specialist"])[0]


def test_the_json_api_answers_503_json_while_the_database_is_down(token):
    response = without_database(lambda: client().get("/api/referrals/inbox",
                                                     headers={"Authorization": f"Bearer {token}"}))
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "5"
    body = response.json()
    assert body["code"] == "database_unavailable"
    assert body["detail"].startswith("数据库暂时不可用")


def test_the_fhir_api_answers_503_operation_outcome_while_the_database_is_down(token):
    response = without_database(lambda: client().get("/fhir/Patient", headers={"Authorization": f"Bearer {token}"}))
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/fhir+json")
    assert response["Retry-After"] == "5"
    outcome = json.loads(response.content)
    assert outcome["resourceType"] == "OperationOutcome"
    assert [(i["severity"], i["code"]) for i in outcome["issue"]] == [("fatal", "transient")]
    assert "try again shortly" in outcome["issue"][0]["diagnostics"]


def test_a_page_answers_the_bilingual_503_page_while_the_database_is_down(county):
    signed_in = client()
    signed_in.force_login(county.users["village_doctor"])  # the session lives in the database
    response = without_database(lambda: signed_in.get("/workstation/"))
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    page = response.content.decode()
    assert "数据库暂时不可用" in page and "Temporarily unavailable" in page
    assert "系统出错了" not in page


def test_an_unexpected_failure_is_a_500_in_the_apis_own_format(token, monkeypatch):
    monkeypatch.setattr(referral_queries, "inbox", broken)
    response = client().get("/api/referrals/inbox", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert "Retry-After" not in response

    monkeypatch.setattr(registry_fhir.PatientHandler, "search", broken)
    response = client().get("/fhir/Patient", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 500
    outcome = json.loads(response.content)
    assert [(i["severity"], i["code"]) for i in outcome["issue"]] == [("fatal", "exception")]


def test_an_unexpected_failure_on_a_page_is_the_500_page(county, monkeypatch):
    monkeypatch.setattr(referral_queries, "inbox", broken)  # the workstation lists the referrals arriving today
    signed_in = client()
    signed_in.force_login(county.users["village_doctor"])
    response = signed_in.get("/workstation/")
    assert response.status_code == 500
    assert "系统出错了" in response.content.decode()
