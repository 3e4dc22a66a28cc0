"""Shared pieces of the HL7 tests (imported by the other test_hl7 modules): lab requests made directly in the
database (the request workflow is tested elsewhere), a good ORU^R01 for one, counts of every table a lab
message may write, and a check of `make_oru` itself."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from countycare.core.models import AuditEvent, IdempotencyRecord
from countycare.diagnostics import lab
from countycare.diagnostics.models import (
    CriticalAlert,
    ExamEvent,
    ExamRequest,
    ExamStatus,
    Report,
)
from countycare.records.models import Observation

_numbers = itertools.count(1)

# The BMP of a routine morning: potassium, sodium, glucose (mmol/L) and creatinine (µmol/L).
BMP_RESULTS = [
    {"code": "2823-3", "value": Decimal("4.1")},
    {"code": "2951-2", "value": Decimal("140")},
    {"code": "GLU", "value": Decimal("5.6"), "system": "99LIS", "display": "葡萄糖"},
    {"code": "CREA", "value": Decimal("120"), "system": "99LIS", "display": "肌酐", "unit": "umol/L",
     "reference": "57-97", "flag": "H"},
]


def lab_request(county, *, code: str = "BMP", resident: str = "zhang_san", status: str = ExamStatus.ACQUIRED,
                requested_at: dt.datetime | None = None) -> ExamRequest:
    """A lab request sent from the resident's village clinic to the lead hospital's lab centre."""
    resident_obj = county.residents[resident]
    requested_at = requested_at or timezone.now() - dt.timedelta(hours=2)
    return ExamRequest.objects.create(
        community=county.community, resident=resident_obj, exam_type=county.exam_types[code],
        centre=county.centres["lab"], requesting_organization=resident_obj.home_organization,
        requesting_practitioner=county.practitioners["village_doctor"], clinical_question="乏力，查电解质",
        status=status, accession_number=f"LAB{next(_numbers):08d}{code[:3]}", requested_at=requested_at,
        acquired_at=requested_at + dt.timedelta(minutes=20) if status != ExamStatus.REQUESTED else None,
    )


def good_message(request: ExamRequest, *, control_id: str = "MSG0001", results=None, **kwargs) -> str:
    kwargs.setdefault("observed_at", timezone.now() - dt.timedelta(minutes=30))
    return lab.make_oru(request, BMP_RESULTS if results is None else results, control_id=control_id, **kwargs)


def replace_segment(message: str, name: str, new: str | None, occurrence: int = 1) -> str:
    """The message with its n-th segment `name` replaced by `new` (None: removed)."""
    segments = message.rstrip("\r").split("\r")
    seen = 0
    for i, segment in enumerate(segments):
        if segment.startswith(name + "|"):
            seen += 1
            if seen == occurrence:
                if new is None:
                    del segments[i]
                else:
                    segments[i] = new
                return "\r".join(segments) + "\r"
    raise AssertionError(f"no {name} #{occurrence}")


def segment(message: str, name: str, occurrence: int = 1) -> list[str]:
    found = [s for s in message.split("\r") if s.startswith(name + "|")]
    return found[occurrence - 1].split("|")


def set_field(message: str, name: str, number: int, value: str, occurrence: int = 1) -> str:
    fields = segment(message, name, occurrence)
    index = number if name != "MSH" else number - 1
    while len(fields) <= index:
        fields.append("")
    fields[index] = value
    return replace_segment(message, name, "|".join(fields), occurrence)


def counts() -> dict[str, int]:
    """Rows of every table an accepted lab message writes to (the audit trail included)."""
    return {model.__name__: model.objects.count() for model in (
        Observation, Report, ExamEvent, CriticalAlert, IdempotencyRecord, AuditEvent)} | {
        "published": ExamRequest.objects.filter(status=ExamStatus.PUBLISHED).count()}


def ack_fields(ack: str) -> dict[str, list[str]]:
    return {s.split("|")[0]: s.split("|") for s in ack.split("\r") if s}


@pytest.fixture
def bmp(dx):
    return lab_request(dx)


def test_make_oru_builds_a_message_parse_oru_accepts(dx, bmp):
    message = good_message(bmp, verifier=dx.practitioners["centre_reader"])
    parsed = lab.parse_oru(message)
    assert parsed.header.control_id == "MSG0001"
    assert parsed.header.version == "2.5.1"
    order = parsed.orders[0]
    assert order.placer == order.filler == bmp.accession_number
    assert [r.code for r in order.results] == ["2823-3", "2951-2", "14749-6", "14682-9"]
    assert order.results[0].unit == "mmol/L"
    assert order.results[0].reference == lab.Range(Decimal("3.5"), Decimal("5.3"))
    assert order.results[3].interpretation == "H"
    assert all(r.observer == dx.practitioners["centre_reader"].licence_number for r in order.results)
    # OBR-22 and OBR-25 sit where HL7 puts them
    obr = segment(message, "OBR")
    assert obr[25] == "F" and obr[22] == obr[7]
