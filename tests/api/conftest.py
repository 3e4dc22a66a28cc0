"""A JSON client for /api/ and a bearer token per user of the test county."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from countycare.accounts.tokens import issue_token


class ApiClient:
    """Django's test client speaking JSON, with an optional bearer token."""

    def __init__(self, token: str | None = None) -> None:
        self.client = Client()
        self.token = token

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**headers, **(extra or {})}

    def get(self, path: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None):
        return self.client.get(path, params or {}, headers=self._headers(headers))

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None):
        data = body if isinstance(body, str | bytes) else json.dumps(body, default=str)
        return self.client.post(path, data, content_type="application/json", headers=self._headers(headers))

    def patch(self, path: str, body: Any, headers: dict[str, str] | None = None):
        return self.client.patch(
            path,
            json.dumps(body, default=str),
            content_type="application/json",
            headers=self._headers(headers),
        )


@pytest.fixture(autouse=True)
def api_only_urls(settings):
    settings.ROOT_URLCONF = "tests.api.urls"


@pytest.fixture
def api_as(county):
    """`api_as("village_doctor")`: a client carrying a fresh token of that county user."""

    def make(key: str) -> ApiClient:
        raw, _ = issue_token(county.users[key])
        return ApiClient(raw)

    return make


@pytest.fixture
def anonymous(db) -> ApiClient:
    return ApiClient()
