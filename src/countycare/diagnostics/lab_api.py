"""`POST /api/lab/hl7`: lab results as one HL7 v2 ORU^R01 message (ER7 text, optionally MLLP-framed), answered
with the HL7 ACK as text — the HTTP transport of HL7 v2 that analysers' middleware and branch LIS speak.

Who may post: a centre reader (role `centre_reader`) working at the organisation that runs the request's lab
centre or listed as a reader of that centre — the account a centre's LIS or analyser middleware uses — and the
community administrator; results only for requests of their own community. Everyone else gets AR with 403.

The answer is the ACK as HL7 text (the content type the message came in). A client that accepts only
`application/json` gets JSON instead: `{"code": "AA", "control_id": …, "ack": …}`, or for a refusal the API's
usual error body `{"detail": text, "code": "hl7-<table 0357 code>", "field": location, "ack": …}`.

Statuses: 200 AA (stored, or the same message again: the first ACK replayed); 422 AE (the content is wrong:
a field, a unit, the patient, the request's state); 400 AR (not an ORU^R01 we take: framing, header, type,
version, processing ID); 403 AR (not allowed); 404 AE (unknown accession number); 409 AE (the request cannot take
results now, or the control ID was used for another message); 415 AR (not an HL7 content type); 401 JSON (no
valid bearer token). Every HL7 answer carries MSA-2 = the message's MSH-10 and, on error, an ERR segment.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router

from countycare.api import ErrorOut, user_of

from . import lab

router = Router()
MAX_BYTES = 1_000_000
HL7_TYPES = ("x-application/hl7-v2+er7", "application/hl7-v2+er7", "application/hl7-v2", "text/plain")
ER7 = "x-application/hl7-v2+er7"
TEXT = "text/plain"


JSON = "application/json"
ACK_JSON = {"type": "object", "required": ["code", "control_id", "ack"], "properties": {
    "code": {"type": "string", "enum": ["AA"]}, "control_id": {"type": "string"}, "ack": {"type": "string"}}}


def _text_response(description: str, json_schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "content": {
        ER7: {"schema": {"type": "string"}}, TEXT: {"schema": {"type": "string"}},
        JSON: {"schema": json_schema or {"$ref": "#/components/schemas/ErrorOut"}}}}


OPENAPI = {
    "requestBody": {
        "required": True,
        "description": "One ORU^R01 message in ER7 (segments separated by \\r, \\n or \\r\\n; MLLP framing bytes "
                       "0x0b … 0x1c 0x0d allowed). UTF-8, or GB 18030 when MSH-18 says so or the charset parameter "
                       "names it.",
        "content": {ER7: {"schema": {"type": "string"}}, TEXT: {"schema": {"type": "string"}}},
    },
    "responses": {
        200: _text_response("ACK with MSA-1 AA: the results are stored (or were, for a repeated control ID)",
                            ACK_JSON),
        400: _text_response("ACK with MSA-1 AR and ERR: not a message we take (framing, MSH, type, version, "
                            "processing ID, character set)"),
        403: _text_response("ACK with MSA-1 AR and ERR: you may not send results (for this centre)"),
        404: _text_response("ACK with MSA-1 AE and ERR 204: no request has the accession number of OBR-2/OBR-3"),
        409: _text_response("ACK with MSA-1 AE and ERR: the request cannot take results now (cancelled, returned, "
                            "changed meanwhile), or the control ID was already used for another message"),
        415: _text_response("ACK with MSA-1 AR and ERR: the body is not sent as x-application/hl7-v2+er7 or "
                            "text/plain"),
        422: _text_response("ACK with MSA-1 AE and ERR: a segment or field is wrong (missing, not a number, an "
                            "unknown code or unit, a patient who is not the request's); nothing is stored"),
    },
}


def _media_type(request: HttpRequest) -> tuple[str, str]:
    content_type = request.META.get("CONTENT_TYPE", "") or ""
    media, _, params = content_type.partition(";")
    charset = ""
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media.strip().lower(), charset


def _wants_json(request: HttpRequest) -> bool:
    """Only when the client accepts JSON and no text: HL7 senders get the ACK as HL7 text."""
    accepted = [part.split(";")[0].strip().lower() for part in request.META.get("HTTP_ACCEPT", "").split(",")]
    return JSON in accepted and not any(t in (*HL7_TYPES, "text/*", "*/*") for t in accepted)


def _answer(request: HttpRequest, ack: str, status: int, media: str, error: lab.Hl7Error | None = None,
            control_id: str = "") -> HttpResponse:
    if _wants_json(request):
        if error is None:
            body: dict[str, Any] = {"code": "AA", "control_id": control_id, "ack": ack}
        else:
            body = {"detail": error.message, "code": f"hl7-{error.code}", "field": error.location or None,
                    "ack": ack}
        return HttpResponse(json.dumps(body, ensure_ascii=False), status=status, content_type=JSON)
    return HttpResponse(ack.encode("utf-8"), status=status,
                        content_type=f"{TEXT if media == TEXT else ER7}; charset=utf-8")


def _refuse(request: HttpRequest, error: lab.Hl7Error, media: str) -> HttpResponse:
    return _answer(request, lab.make_ack(None, "AR", error=error), error.http_status, media, error)


@router.post(
    "/lab/hl7", response={401: ErrorOut}, tags=["diagnostics"], summary="Send lab results (HL7 v2 ORU^R01)",
    openapi_extra=OPENAPI,
)
def post_hl7(request: HttpRequest) -> Any:
    """One HL7 v2.3–2.5.1 ORU^R01 message of results for a lab request (OBR-2 or OBR-3 = its accession number),
    answered with the HL7 ACK. The message is checked whole — header, patient, order, every OBX — and refused
    whole (AE/AR with an ERR segment naming the segment, field and HL7 error code, in Chinese then English) if
    anything is wrong; nothing is stored then. Sending the same message again (same sender MSH-3/MSH-4 and
    control ID MSH-10) returns the first ACK and stores nothing twice. Centre readers of the lab's organisation
    and community administrators may send."""
    user = user_of(request)
    media, charset = _media_type(request)
    if not request.body:
        return _refuse(request, lab.Hl7Error(100, "消息为空 (the message is empty)", reject=True, http_status=400),
                       media)
    if media not in HL7_TYPES:
        return _refuse(request, lab.Hl7Error(
            207, f"内容类型“{media or '无'}”不受支持，请用x-application/hl7-v2+er7或text/plain (content type "
                 f"{media or 'none'!r} not supported: send x-application/hl7-v2+er7 or text/plain)", reject=True,
            http_status=415), media)
    body = request.body
    if len(body) > MAX_BYTES:
        return _refuse(request, lab.Hl7Error(
            207, f"消息超过{MAX_BYTES // 1000} KB (message larger than {MAX_BYTES // 1000} KB)", reject=True,
            http_status=400), media)
    message: str | bytes = body
    if charset and charset not in ("utf-8", "utf8"):
        try:
            message = body.decode(charset)
        except (LookupError, UnicodeDecodeError):
            return _refuse(request, lab.Hl7Error(
                102, f"无法按字符集“{charset}”解码 (the body is not valid {charset})", reject=True, http_status=400),
                media)
    outcome = lab.receive(message, actor=user)
    return _answer(request, outcome.ack, outcome.http_status, media, outcome.error, outcome.control_id)
