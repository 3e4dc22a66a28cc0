"""POST /api/lab/hl7: bearer token, the ACK as text, 200 for AA, 4xx with the ACK otherwise — never a 500."""

from __future__ import annotations

import pytest
from django.test import Client
from tests.diagnostics.test_hl7_fixtures import (
    ack_fields,
    counts,
    good_message,
    lab_request,
    set_field,
)

from countycare.accounts.tokens import issue_token
from countycare.api import api
from countycare.diagnostics import lab
from countycare.diagnostics.models import ExamStatus
from countycare.records.models import Observation


@pytest.fixture
def bmp(dx):
    return lab_request(dx)


URL = "/api/lab/hl7"
ER7 = "x-application/hl7-v2+er7"


@pytest.fixture(autouse=True)
def api_only_urls(settings):
    settings.ROOT_URLCONF = "tests.api.urls"


def post(body, *, token: str | None = None, content_type: str = ER7, accept: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if accept:
        headers["Accept"] = accept
    return Client().post(URL, body, content_type=content_type, headers=headers)


@pytest.fixture
def token(dx):
    return issue_token(dx.users["centre_reader"])[0]


def test_without_a_token_401(dx, bmp):
    response = post(good_message(bmp))
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert Observation.objects.count() == 0


def test_a_good_message_200_with_the_aa_ack(dx, bmp, token):
    response = post(good_message(bmp), token=token)
    assert response.status_code == 200, response.content.decode()
    assert response["Content-Type"].startswith(ER7)
    fields = ack_fields(response.content.decode())
    assert fields["MSA"][1:3] == ["AA", "MSG0001"]
    bmp.refresh_from_db()
    assert bmp.status == ExamStatus.PUBLISHED


def test_plain_text_and_mllp_framing_accepted(dx, bmp, token):
    response = post(lab.frame(good_message(bmp, segment_separator="\n")), token=token, content_type="text/plain")
    assert response.status_code == 200, response.content.decode()
    assert response["Content-Type"].startswith("text/plain")


def test_a_repeat_200_with_the_first_ack(dx, bmp, token):
    first = post(good_message(bmp), token=token)
    again = post(good_message(bmp), token=token)
    assert again.status_code == 200 and again.content == first.content
    assert Observation.objects.count() == 4


@pytest.mark.parametrize(("change", "status", "ack_code"), [
    (lambda m: set_field(m, "OBX", 5, "abc"), 422, "AE"),
    (lambda m: set_field(m, "OBX", 6, "mg/dL"), 422, "AE"),
    (lambda m: set_field(m, "MSH", 9, "ADT^A01"), 400, "AR"),
    (lambda m: set_field(set_field(m, "OBR", 2, "X-1"), "OBR", 3, "X-1"), 404, "AE"),
    (lambda m: "garbage", 400, "AR"),
    (lambda m: "", 400, "AR"),
])
def test_a_bad_message_4xx_with_the_error_ack_and_nothing_stored(dx, bmp, token, change, status, ack_code):
    before = counts()
    response = post(change(good_message(bmp)), token=token)
    assert response.status_code == status, response.content.decode()
    fields = ack_fields(response.content.decode())
    assert fields["MSA"][1] == ack_code and "ERR" in fields
    assert counts() == before


def test_binary_garbage_is_a_4xx_not_a_500(dx, token):
    response = post(b"\x00\xff\xfe\x0b\x1c\rMSH\xff", token=token)
    assert response.status_code == 400
    assert ack_fields(response.content.decode())["MSA"][1] == "AR"


def test_a_user_who_may_not_send_403(dx, bmp):
    response = post(good_message(bmp), token=issue_token(dx.users["village_doctor"])[0])
    assert response.status_code == 403
    fields = ack_fields(response.content.decode())
    assert fields["MSA"][1:3] == ["AR", "MSG0001"]
    assert Observation.objects.count() == 0


def test_another_content_type_415(dx, bmp, token):
    response = post(good_message(bmp), token=token, content_type="application/json")
    assert response.status_code == 415
    assert ack_fields(response.content.decode())["MSA"][1] == "AR"


def test_a_declared_charset_is_used(dx, bmp, token):
    # the test client encodes the text in the declared charset
    response = post(good_message(bmp), token=token, content_type=f"{ER7}; charset=gb18030")
    assert response.status_code == 200, response.content.decode()


def test_a_json_client_gets_json(dx, bmp, token):
    good = post(good_message(bmp), token=token, accept="application/json")
    assert good.status_code == 200 and good["Content-Type"] == "application/json"
    body = good.json()
    assert (body["code"], body["control_id"]) == ("AA", "MSG0001") and body["ack"].startswith("MSH|")
    bad = post(set_field(good_message(bmp, control_id="J2"), "OBX", 5, "abc"), token=token,
               accept="application/json")
    assert bad.status_code == 422
    error = bad.json()
    assert (error["code"], error["field"]) == ("hl7-102", "OBX-5") and "abc" in error["detail"]
    assert ack_fields(error["ack"])["MSA"][1:3] == ["AE", "J2"]
    # anything that accepts text gets the ACK as text
    assert post(good_message(bmp), token=token, accept="*/*")["Content-Type"].startswith(ER7)


def test_openapi_documents_the_operation():
    operation = api.get_openapi_schema(path_prefix="/api/")["paths"][URL]["post"]
    assert set(operation["requestBody"]["content"]) == {ER7, "text/plain"}
    assert {str(s) for s in operation["responses"]} >= {"200", "400", "401", "403", "404", "409", "415", "422"}
    assert set(operation["responses"][422]["content"]) == {ER7, "text/plain", "application/json"}
