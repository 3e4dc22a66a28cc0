"""The OpenAPI document: served without a token, and honest about every status an operation can answer."""

import json
import re
import uuid

import pytest
from django.urls import resolve

from countycare.api import api

METHODS = {"get", "post", "put", "patch", "delete"}
# As a client reads it: JSON, so status codes are strings.
SCHEMA = json.loads(json.dumps(api.get_openapi_schema(path_prefix="/api/"), default=str))
OPERATIONS = sorted(
    (path, method, operation)
    for path, item in SCHEMA["paths"].items()
    for method, operation in item.items()
    if method in METHODS
)
PUBLIC = {("/api/auth/token", "post")}


def takes_input(operation):
    return bool(operation.get("parameters") or operation.get("requestBody"))


def test_the_openapi_document_is_served_without_a_token(anonymous):
    response = anonymous.get("/api/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "CountyCare API"
    assert "/api/residents/{resident_uuid}" in schema["paths"]
    assert schema["components"]["securitySchemes"]["BearerToken"] == {"type": "http", "scheme": "bearer"}


def test_the_docs_page_is_served(anonymous):
    response = anonymous.get("/api/docs")
    assert response.status_code == 200 and b"openapi.json" in response.content


@pytest.mark.parametrize("path, method, operation", OPERATIONS, ids=[f"{m} {p}" for p, m, _ in OPERATIONS])
def test_every_operation_documents_its_errors(path, method, operation):
    statuses = set(operation["responses"])
    if (path, method) not in PUBLIC:
        assert "401" in statuses and operation["security"] == [{"BearerToken": []}]
    if takes_input(operation):
        assert "422" in statuses
    if "{" in path:
        assert "404" in statuses
    if operation.get("requestBody"):
        assert "400" in statuses  # a body that is not JSON
    for status, response in operation["responses"].items():
        if status.startswith("4"):
            ref = response["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith(("/ErrorOut", "/ValidationErrorOut"))


@pytest.mark.parametrize("path, method", sorted({(p, m) for p, m, _ in OPERATIONS} - PUBLIC))
def test_every_operation_but_the_token_needs_a_token(anonymous, path, method):
    url = re.sub(r"\{[a-z_]+\}", lambda _: str(uuid.uuid4()), path)
    if method == "get":
        response = anonymous.client.get(url)
    else:
        response = getattr(anonymous.client, method)(url, "{}", content_type="application/json")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_the_project_mounts_the_api_at_api(settings):
    settings.ROOT_URLCONF = "countycare.urls"
    assert resolve("/api/openapi.json").namespace == "api"
    assert resolve("/api/residents").url_name is not None
