"""Lab results from HL7 v2 ORU^R01 messages (v2.3 – 2.5.1, ER7 text), sent by an analyser or a branch LIS.

    ack = lab.ingest(message, actor=user)        # the ACK text: MSA-1 AA, or AE/AR with an ERR segment

A message is checked whole before anything is written: its MSH (encoding characters, ORU^R01, control ID,
processing ID P, version), the grammar (MSH [SFT] PID [PD1 NTE NK1 PV1 PV2] { [ORC] OBR [NTE…] { OBX [NTE…] } }
[DSC]; Z-segments ignored; one patient per message), the patient (PID-3 identifiers, name, birth date and sex
must agree with the request's resident), each OBR (OBR-2 placer / OBR-3 filler order number is the request's
accession number; the request must be a lab request that can still receive results; OBR-4 names its exam
type) and each OBX (value type NM/SN/ST/TX/CE/CWE, OBX-3 a LOINC code or a local code of
`data/lab_codes.csv`, a number for NM, a unit the table accepts — mg/dL and the like converted where the table
gives the factor —, OBX-7 range, OBX-8 flag N/L/H/LL/HH/A, OBX-11 status F/C/P, OBX-14 time, OBX-16 verifier).
Any fault refuses the whole message with `Hl7Error` (an HL7 table 0357 code and a Chinese-then-English text)
and nothing is stored. A valid message goes to `services.publish_lab_results`, one call per OBR, all in one
transaction.

A message whose sender (MSH-3 + MSH-4) and control ID (MSH-10) were already accepted gets the first ACK again
and stores nothing (core.idempotency's table, keyed by the community as user_id = -community id; MSH-7 may
differ; a different message under a used control ID is AE 205).

Who may send (`check_sender`, `_check_actor`): the system (actor None: the file drop run by an operator),
community administrators of the request's community, and centre readers (role centre_reader) working at the
organisation that runs the request's centre or listed as its readers. Anyone else: AR, HTTP 403.

`ingest_many` takes a batch in one transaction (the file drop, the benchmark): the usual messages are written
set-based (`_bulk_publish`), the others one by one through the service, each in a savepoint; each message
still lands whole or not at all. ER7 is split here, not by python-hl7's `parse` (its object tree cost more CPU
than the database's share of a batched message); tests check the split and the ACKs against python-hl7.

Code table (`data/lab_codes.csv`): local analyser codes and Chinese names → LOINC, the UCUM unit, accepted
spellings of it, conversions with their factor (value × factor), equivalent LOINC codes recoded to the table's
(e.g. 2345-7 glucose mass concentration → 14749-6 moles when the value arrives in mmol/L or is converted),
report decimals and default adult reference ranges (per sex where the source gives them) with the source.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import logging
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from countycare.core import idempotency, nationalid
from countycare.core.codes import Role
from countycare.core.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied

from . import workflow
from .models import CentreKind, CentreReader, CriticalAlert, ExamRequest, ExamStatus

logger = logging.getLogger(__name__)

CODES_FILE = Path(__file__).resolve().parent / "data" / "lab_codes.csv"
SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1")
VALUE_TYPES = frozenset({"NM", "SN", "ST", "TX", "CE", "CWE"})
ABNORMAL_FLAGS = frozenset({"N", "L", "H", "LL", "HH", "A"})
RESULT_STATUSES = {"F": "final", "C": "corrected", "P": "preliminary"}
SEXES = {"M": "male", "F": "female", "U": "unknown", "O": "other", "A": "ambiguous", "N": "not applicable"}
SENDER_ROLES = frozenset({Role.CENTRE_READER, Role.COMMUNITY_ADMIN})
CHANNEL = "hl7"
OUR_APPLICATION = "COUNTYCARE"
FUTURE_TOLERANCE = dt.timedelta(minutes=10)  # analyser clocks drift
MAX_TEXT = 200  # records.Observation.value_text
MAX_UNIT = 20
MAX_DISPLAY = 100
MAX_QUANTITY = Decimal("1e8")  # Observation.value_quantity: 12 digits, 4 decimals
ENCODING = "^~\\&"
IDEMPOTENCY_METHOD = "HL7"
IDEMPOTENCY_PATH = "/hl7/ORU^R01"
AUDIT_CHUNK = 250

# HL7 table 0357 (message error condition codes)
ERROR_NAMES = {
    100: "Segment sequence error",
    101: "Required field missing",
    102: "Data type error",
    103: "Table value not found",
    200: "Unsupported message type",
    201: "Unsupported event code",
    202: "Unsupported processing id",
    203: "Unsupported version id",
    204: "Unknown key identifier",
    205: "Duplicate key identifier",
    206: "Application record locked",
    207: "Application internal error",
}


class Hl7Error(Exception):
    """A refused message: `code` from HL7 table 0357, `message` in Chinese then English, where it was found
    (segment, its occurrence, field, component), AR (`reject`: the message as such is unacceptable — header,
    type, version, framing, sender) or AE (its content is wrong), and the HTTP status the API answers with."""

    def __init__(self, code: int, message: str, *, segment: str = "", sequence: int = 1, field: int | None = None,
                 component: int | None = None, reject: bool = False, http_status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.segment = segment
        self.sequence = sequence
        self.field = field
        self.component = component
        self.reject = reject
        self.http_status = http_status or (400 if reject else 422)

    @property
    def ack_code(self) -> str:
        return "AR" if self.reject else "AE"

    @property
    def location(self) -> str:
        where = self.segment
        if where and self.field is not None:
            where += f"-{self.field}" + (f".{self.component}" if self.component else "")
        return where

    def __str__(self) -> str:
        return f"{self.code} {ERROR_NAMES.get(self.code, '')} {self.location}: {self.message}".strip()


# --- the code table --------------------------------------------------------------------------------------------

def _norm_unit(unit: str) -> str:
    return unit.strip().replace("µ", "u").replace("μ", "u").replace("×", "x").casefold()


@dataclass(frozen=True)
class Range:
    low: Decimal | None
    high: Decimal | None

    def scaled(self, factor: Decimal, places: Decimal) -> Range:
        return Range(None if self.low is None else _quantize(self.low * factor, places),
                     None if self.high is None else _quantize(self.high * factor, places))

    def __str__(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{self.low}-{self.high}"
        return f">={self.low}" if self.low is not None else f"<={self.high}"


@dataclass(frozen=True)
class LabCode:
    local_code: str
    names: tuple[str, ...]
    loinc: str
    display: str
    display_en: str
    value_type: str  # NM or ST
    unit: str
    units: frozenset[str]  # normalised accepted spellings of `unit`
    conversions: Mapping[str, Decimal]  # normalised unit -> factor to `unit`
    also_loinc: tuple[str, ...]
    decimals: int | None
    ref: Range | None
    ref_male: Range | None
    ref_female: Range | None
    source: str

    @property
    def places(self) -> Decimal:
        return Decimal(1).scaleb(-(self.decimals if self.decimals is not None else 4))

    @property
    def dimensionless(self) -> bool:
        return not self.unit or self.unit.startswith("{")

    def default_range(self, sex: str | None) -> Range | None:
        if sex == "male" and self.ref_male:
            return self.ref_male
        if sex == "female" and self.ref_female:
            return self.ref_female
        return self.ref


@dataclass(frozen=True)
class Catalogue:
    codes: tuple[LabCode, ...]
    by_loinc: Mapping[str, LabCode]
    by_key: Mapping[str, LabCode]  # casefolded local code or Chinese name

    def local(self, code: str, text: str) -> LabCode | None:
        return self.by_key.get(code.strip().casefold()) or self.by_key.get(text.strip().casefold())


LOINC_RE = re.compile(r"^(\d{1,7})-(\d)$")


def loinc_valid(code: str) -> bool:
    """LOINC's form and its mod-10 check digit (the Luhn algorithm over the digits before the dash)."""
    match = LOINC_RE.match(code)
    if not match:
        return False
    total = 0
    for i, ch in enumerate(reversed(match.group(1))):
        digit = int(ch) * (2 if i % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return (10 - total % 10) % 10 == int(match.group(2))


def load_catalogue(path: Path = CODES_FILE) -> Catalogue:
    codes = []
    by_loinc: dict[str, LabCode] = {}
    by_key: dict[str, LabCode] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            def split(name: str, row: dict[str, str] = row) -> list[str]:
                return [part.strip() for part in (row[name] or "").split(";") if part.strip()]

            conversions = {}
            for item in split("conversions"):
                unit, _, factor = item.rpartition("=")
                conversions[_norm_unit(unit)] = Decimal(factor)
            code = LabCode(
                local_code=row["local_code"].strip(), names=tuple(split("names")), loinc=row["loinc"].strip(),
                display=row["display"].strip(), display_en=row["display_en"].strip(),
                value_type=row["value_type"].strip() or "NM", unit=row["unit"].strip(),
                units=frozenset(_norm_unit(u) for u in [row["unit"], *split("unit_aliases")] if u.strip()),
                conversions=conversions, also_loinc=tuple(split("also_loinc")),
                decimals=int(row["decimals"]) if row["decimals"].strip() else None,
                ref=parse_range(row["ref"]), ref_male=parse_range(row["ref_male"]),
                ref_female=parse_range(row["ref_female"]), source=row["source"].strip(),
            )
            for loinc in (code.loinc, *code.also_loinc):
                if not loinc_valid(loinc):
                    raise ValueError(f"{path.name} line {line}: {loinc} is not a valid LOINC code")
                if loinc in by_loinc:
                    raise ValueError(f"{path.name} line {line}: LOINC {loinc} listed twice")
                by_loinc[loinc] = code
            for key in (code.local_code, *code.names):
                if by_key.get(key.casefold(), code) is not code:
                    raise ValueError(f"{path.name} line {line}: local code or name {key} listed twice")
                by_key[key.casefold()] = code
            codes.append(code)
    return Catalogue(tuple(codes), by_loinc, by_key)


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    return load_catalogue()


# --- values ------------------------------------------------------------------------------------------------------

NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
RANGE_RE = re.compile(
    r"^\s*(?:(?P<low>[+-]?\d+(?:\.\d+)?)\s*(?:-{1,2}|～|—|–|至)\s*(?P<high>[+-]?\d+(?:\.\d+)?)"
    r"|(?P<op>[<>]=?|≤|≥)\s*(?P<limit>[+-]?\d+(?:\.\d+)?))\s*$"
)
TS_RE = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,4}))?([+-]\d{4})?$")


def _quantize(value: Decimal, places: Decimal) -> Decimal:
    return value.quantize(places, rounding=ROUND_HALF_UP)


def parse_range(text: str | None) -> Range | None:
    """"3.5-5.3", "3.5--5.3", "3.5～5.3", "<5.2", "<=5.2", ">=1.0", "≤26"; None when blank; ValueError else."""
    if not text or not text.strip():
        return None
    match = RANGE_RE.match(text)
    if not match:
        raise ValueError(text)
    if match.group("low") is not None:
        low, high = Decimal(match.group("low")), Decimal(match.group("high"))
        if low > high:
            raise ValueError(text)
        return Range(low, high)
    limit = Decimal(match.group("limit"))
    return Range(None, limit) if match.group("op") in ("<", "<=", "≤") else Range(limit, None)


def parse_ts(text: str, *, date_only: bool = False) -> dt.datetime | dt.date:
    """An HL7 DTM/TS (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]); local time (Asia/Shanghai) without an offset."""
    match = TS_RE.match(text.strip())
    if not match:
        raise ValueError(text)
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if date_only:
        return dt.date(int(year), int(month or 1), int(day or 1))
    tz: dt.tzinfo
    if offset:
        sign = 1 if offset[0] == "+" else -1
        tz = dt.timezone(sign * dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
    else:
        tz = timezone.get_default_timezone()
    micro = int((fraction or "0").ljust(6, "0")[:6])
    return dt.datetime(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
                       int(second or 0), micro, tzinfo=tz)


def format_ts(moment: dt.datetime) -> str:
    local = timezone.localtime(moment) if timezone.is_aware(moment) else moment
    return local.strftime("%Y%m%d%H%M%S") + (local.strftime("%z") if timezone.is_aware(moment) else "")


# --- ER7 text ----------------------------------------------------------------------------------------------------

def escape(text: Any) -> str:
    """Escape a value for a field built with the standard encoding characters |^~\\&."""
    value = "" if text is None else str(text)
    if not any(c in value for c in "\\|^~&\r\n"):
        return value
    value = value.replace("\\", "\\E\\").replace("|", "\\F\\").replace("^", "\\S\\").replace("&", "\\T\\")
    return value.replace("~", "\\R\\").replace("\r\n", "\\.br\\").replace("\n", "\\.br\\").replace("\r", "\\.br\\")


def _decode_hex(hexes: str) -> str:
    try:
        return bytes.fromhex(hexes).decode("utf-8")
    except ValueError:
        return bytes.fromhex(hexes).decode("latin-1") if len(hexes) % 2 == 0 else ""


def frame(message: str) -> bytes:
    """MLLP framing: <VT> message <FS><CR>."""
    return b"\x0b" + message.encode("utf-8") + b"\x1c\r"


def decode(raw: bytes | str) -> str:
    """Bytes to text: UTF-8, or GB 18030 when MSH-18 declares it (Chinese LIS often do)."""
    if isinstance(raw, str):
        return raw
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    head = raw[:600].decode("latin-1")
    declared = ""
    msh = head.find("MSH")
    if msh >= 0 and len(head) > msh + 3:
        fields = re.split(r"[\r\n]", head[msh:])[0].split(head[msh + 3])
        declared = fields[17].strip().upper().replace(" ", "") if len(fields) > 17 else ""
    if declared.startswith(("GB18030", "GBK", "GB2312")):
        return raw.decode("gb18030", errors="strict")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Hl7Error(102, "消息不是UTF-8编码；GB 18030编码须在MSH-18中声明 (the message is not UTF-8; declare "
                            "GB 18030 in MSH-18)", segment="MSH", field=18, reject=True) from None


def split_messages(text: str | bytes) -> list[str]:
    """The messages of a file or body: MLLP frames removed, \\r, \\n or \\r\\n taken as segment separators,
    FHS/BHS/BTS/FTS batch envelopes dropped, a new message at each MSH. Each comes back with \\r separators."""
    text = decode(text).replace("\x0b", "\r").replace("\x1c", "\r").replace("\ufeff", "")
    messages: list[list[str]] = []
    for line in re.split(r"\r\n|\r|\n", text):
        segment = line.strip()
        if not segment or segment[:3] in ("FHS", "BHS", "BTS", "FTS"):
            continue
        if segment.startswith("MSH") or not messages:
            messages.append([segment])
        else:
            messages[-1].append(segment)
    return ["\r".join(segments) + "\r" for segments in messages]


class _Segment:
    """One segment: `raw(n)` the n-th field as sent, `reps(n)`, `comps(n)` and `comp(n, c)` unescaped."""

    __slots__ = ("name", "fields", "occurrence", "seps", "esc", "_comps")

    def __init__(self, name: str, fields: list[str], occurrence: int, seps: tuple[str, str, str, str], esc: str):
        self.name = name
        self.fields = fields
        self.occurrence = occurrence
        self.seps = seps  # repetition, component, subcomponent, field
        self.esc = esc
        self._comps: dict[tuple[int, int], list[str]] = {}

    def raw(self, n: int) -> str:
        return self.fields[n] if n < len(self.fields) else ""

    def unescape(self, value: str) -> str:
        esc = self.esc
        if not esc or esc not in value:
            return value
        out = []
        parts = value.split(esc)
        # parts at odd positions are escape sequences (an unterminated one is kept as text)
        for i, part in enumerate(parts):
            if i % 2 == 0 or i == len(parts) - 1:
                out.append(part if i % 2 == 0 else esc + part)
                continue
            rep, comp, sub, fs = self.seps
            mapping = {"F": fs, "R": rep, "S": comp, "T": sub, "E": esc, ".br": "\n", ".sp": "\n"}
            if part in mapping:
                out.append(mapping[part])
            elif part[:1] == "X" and re.fullmatch(r"[0-9A-Fa-f]*", part[1:]):
                out.append(_decode_hex(part[1:]))
            # other sequences (highlighting, formatting, character set switches) are dropped
        return "".join(out)

    def reps(self, n: int) -> list[str]:
        raw = self.raw(n)
        return raw.split(self.seps[0]) if raw else []

    def comps(self, n: int, rep: int = 0) -> list[str]:
        found = self._comps.get((n, rep))
        if found is None:
            reps = self.reps(n)
            found = [] if rep >= len(reps) else [
                self.unescape(c.split(self.seps[2])[0]) for c in reps[rep].split(self.seps[1])]
            self._comps[(n, rep)] = found
        return found

    def comp(self, n: int, c: int = 1, rep: int = 0) -> str:
        comps = self.comps(n, rep)
        return comps[c - 1].strip() if c <= len(comps) else ""

    def text(self, n: int) -> str:
        """The whole field unescaped (a value that is not split into components)."""
        return self.unescape(self.raw(n)).strip()

    def error(self, code: int, message: str, field: int | None = None, component: int | None = None,
              **kwargs: Any) -> Hl7Error:
        return Hl7Error(code, message, segment=self.name, sequence=self.occurrence, field=field, component=component,
                        **kwargs)


# --- the parsed message -----------------------------------------------------------------------------------------

@dataclass
class Header:
    control_id: str = ""
    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    version: str = "2.5"
    processing_id: str = "P"
    message_time: dt.datetime | None = None

    @property
    def sender(self) -> str:
        return f"{self.sending_application}|{self.sending_facility}"


@dataclass(frozen=True)
class PatientId:
    value: str
    authority: str
    type: str

    @property
    def is_national_id(self) -> bool:
        return self.type.upper().startswith("NN") or self.authority.upper() in ("CHN", "NNCHN")

    @property
    def is_countycare(self) -> bool:
        return self.authority.upper() == OUR_APPLICATION


@dataclass
class Patient:
    identifiers: list[PatientId]
    names: list[str]
    birth_date: dt.date | None
    sex: str  # PID-8 code, "" when absent


@dataclass
class Result:
    set_id: int
    code: str  # LOINC when known, else the local code
    display: str
    value: Decimal | str
    unit: str
    reference: Range | None
    flag: str  # as sent (OBX-8), "" when absent
    status: str  # F, C, P
    observed_at: dt.datetime | None
    observer: str  # OBX-16 ID number
    value_type: str
    coding_system: str  # LN or the local system
    local_code: str = ""
    lab_code: LabCode | None = None
    converted_from: str = ""  # the unit as sent when converted

    @property
    def interpretation(self) -> str:
        if self.flag:
            return self.flag
        if isinstance(self.value, Decimal) and self.reference is not None:
            if self.reference.low is not None and self.value < self.reference.low:
                return "L"
            if self.reference.high is not None and self.value > self.reference.high:
                return "H"
            return "N"
        return ""

    def as_service_result(self) -> dict[str, Any]:
        """The dict `services.publish_lab_results` takes."""
        return {
            "code": self.code, "display": self.display, "value": self.value, "unit": self.unit,
            "reference_low": self.reference.low if self.reference else None,
            "reference_high": self.reference.high if self.reference else None,
            "interpretation": self.interpretation, "observed_at": self.observed_at,
        }


@dataclass
class Order:
    occurrence: int
    placer: str
    filler: str
    service_code: str
    service_text: str
    service_system: str
    observed_at: dt.datetime | None
    received_at: dt.datetime | None = None  # OBR-14: the specimen reached the lab
    results: list[Result] = field(default_factory=list)

    @property
    def final(self) -> bool:
        return all(r.status in ("F", "C") for r in self.results)


@dataclass
class ParsedResult:
    header: Header
    patient: Patient
    orders: list[Order]
    text: str  # the message as parsed (\r separators)

    @property
    def results(self) -> list[Result]:
        return [r for order in self.orders for r in order.results]

    def content_hash(self) -> bytes:
        """What makes a resend "the same message": everything but MSH-7 (a resend may be re-stamped)."""
        lines = self.text.split("\r")
        msh = lines[0].split(lines[0][3]) if lines and len(lines[0]) > 3 else []
        if len(msh) > 6:
            msh[6] = ""
            lines[0] = lines[0][3].join(msh)
        return "\r".join(lines).encode("utf-8")


GRAMMAR_SKIPPED = frozenset({"PD1", "NK1", "PV1", "PV2"})
GROUP_SKIPPED = frozenset({"TQ1", "TQ2", "CTD", "FT1", "CTI", "SPM"})


def parse_oru(message: str | bytes, *, now: dt.datetime | None = None) -> ParsedResult:
    """Parse and validate an ORU^R01 without touching the database; Hl7Error on the first fault. The header
    parsed so far rides on the error as `error.header` (for the ACK's MSA-2)."""
    header = Header()
    try:
        return _parse(message, header, now or timezone.now())
    except Hl7Error as exc:
        exc.header = header  # type: ignore[attr-defined]
        raise


def _parse(message: str | bytes, header: Header, now: dt.datetime) -> ParsedResult:
    messages = split_messages(message)
    if not messages:
        raise Hl7Error(100, "消息为空 (the message is empty)", reject=True)
    text = messages[0]
    if not text.startswith("MSH"):
        raise Hl7Error(100, f"消息须以MSH段开头，实为“{text[:3]}” (the message must begin with an MSH segment, "
                            f"got {text[:3]!r})", segment=text[:3] if re.fullmatch(r"[A-Z][A-Z0-9]{2}", text[:3])
                       else "", reject=True)
    if len(messages) > 1:
        raise Hl7Error(100, f"一次只能提交一条消息，收到{len(messages)}条 (one message per request, got "
                            f"{len(messages)}: use the file drop for batches)", segment="MSH", sequence=2,
                       reject=True)
    separator = text[3:4]
    encoding = text[4:].split(separator, 1)[0] if separator else ""
    if (not separator or separator.isalnum() or len(encoding) != 4 or len(set(encoding + separator)) != 5
            or any(c.isalnum() or c.isspace() for c in encoding)):
        raise Hl7Error(102, f"MSH-1/MSH-2 分隔符无效：“{text[3:9]}”，应为“|^~\\&” (invalid field separator or "
                            f"encoding characters {text[3:9]!r}: expected |^~\\&)", segment="MSH", field=2,
                       reject=True)
    component, repetition, esc, subcomponent = encoding
    # Segments and fields split here rather than by python-hl7's parse, which builds every component and
    # subcomponent as objects: ~1.5 ms a message, more than the database's share of a batched message.
    # tests/diagnostics/test_hl7_parse.py checks the split against python-hl7's.
    segments: list[_Segment] = []
    counts: dict[str, int] = {}
    for line in text.rstrip("\r").split("\r"):
        if line.startswith("MSH"):
            fields = ["MSH", separator, *line[4:].split(separator)]
        else:
            fields = line.split(separator)
        name = fields[0] if fields else ""
        counts[name] = counts.get(name, 0) + 1
        if not re.fullmatch(r"[A-Z][A-Z0-9]{2}", name):
            raise Hl7Error(100, f"无效的段名“{name[:10]}” (invalid segment name {name[:10]!r})", reject=True)
        segments.append(_Segment(name, fields, counts[name], (repetition, component, subcomponent, separator), esc))
    msh = segments[0]
    _parse_msh(msh, header)

    patient: Patient | None = None
    orders: list[Order] = []
    current: Order | None = None
    pending_orc: _Segment | None = None
    for index, seg in enumerate(segments[1:], start=1):
        name = seg.name
        if name.startswith("Z"):
            continue
        if pending_orc is not None and name != "OBR":
            raise seg.error(100, f"ORC段之后应为OBR段，实为{name} (ORC must be followed by OBR, got {name})")
        if name == "MSH":
            raise seg.error(100, "一次只能提交一条消息 (one message per request)", reject=True)
        if name == "SFT":
            if patient is not None:
                raise seg.error(100, "SFT段须紧跟MSH段 (SFT must follow MSH)")
        elif name == "PID":
            if patient is not None:
                raise seg.error(100, "每条消息只能有一个患者（一个PID段） (one patient, one PID, per message)")
            patient = _parse_pid(seg)
        elif name in GRAMMAR_SKIPPED:
            if patient is None or orders:
                raise seg.error(100, f"{name}段位置错误：应在PID之后、OBR之前 ({name} belongs after PID, before OBR)")
        elif name == "ORC":
            if patient is None:
                raise seg.error(100, "ORC段出现在PID段之前 (ORC before PID)")
            pending_orc = seg
        elif name == "OBR":
            if patient is None:
                raise seg.error(100, "OBR段出现在PID段之前 (OBR before PID: the patient comes first)")
            if current is not None and not current.results:
                raise seg.error(100, f"第{current.occurrence}个OBR段没有OBX结果 (OBR {current.occurrence} has no OBX "
                                     "results)")
            pending_orc = None
            current = _parse_obr(seg, header)
            orders.append(current)
        elif name == "OBX":
            if current is None:
                raise seg.error(100, "OBX段出现在OBR段之前 (OBX outside an OBR group: OBR must come first)")
            result = _parse_obx(seg, current, header, now)
            if any(r.code == result.code for r in current.results):
                raise seg.error(205, f"检验项目{result.display}（{result.code}）在同一OBR中出现两次 (test "
                                     f"{result.code} appears twice in one OBR group)", 3, 1)
            current.results.append(result)
        elif name == "NTE":
            if patient is None:
                raise seg.error(100, "NTE段出现在PID段之前 (NTE before PID)")
        elif name in GROUP_SKIPPED:
            if current is None:
                raise seg.error(100, f"{name}段须在OBR段之后 ({name} belongs in an OBR group)")
        elif name == "DSC":
            if index != len(segments) - 1:
                raise seg.error(100, "DSC段须为最后一段 (DSC must be the last segment)")
        else:
            raise seg.error(100, f"ORU^R01中不应出现{name}段 (unexpected segment {name} in ORU^R01)")
    if pending_orc is not None:
        raise pending_orc.error(100, "ORC段之后缺少OBR段 (ORC without its OBR)")
    if patient is None:
        raise Hl7Error(100, "缺少PID段（患者信息） (PID segment missing: the patient is required)", segment="PID")
    if not orders:
        raise Hl7Error(100, "缺少OBR段（检验申请） (OBR segment missing: the order is required)", segment="OBR")
    if not orders[-1].results:
        raise Hl7Error(100, f"第{orders[-1].occurrence}个OBR段没有OBX结果 (OBR {orders[-1].occurrence} has no OBX "
                            "results)", segment="OBR", sequence=orders[-1].occurrence)
    return ParsedResult(header=header, patient=patient, orders=orders, text=text)


def _parse_msh(msh: _Segment, header: Header) -> None:
    header.control_id = msh.text(10)
    header.sending_application = msh.text(3)
    header.sending_facility = msh.text(4)
    header.receiving_application = msh.text(5)
    header.receiving_facility = msh.text(6)
    version = msh.comp(12)
    if version:
        header.version = version
    if not header.control_id:
        raise msh.error(101, "缺少消息控制号 MSH-10 (message control ID MSH-10 missing)", 10, reject=True)
    if len(header.control_id) > 199:
        raise msh.error(102, "消息控制号过长 (message control ID longer than 199 characters)", 10, reject=True)
    message_type, event, structure = msh.comp(9, 1), msh.comp(9, 2), msh.comp(9, 3)
    if not message_type:
        raise msh.error(101, "缺少消息类型 MSH-9 (message type MSH-9 missing)", 9, 1, reject=True)
    if message_type != "ORU":
        raise msh.error(200, f"不支持的消息类型{message_type}，仅接受ORU^R01 (unsupported message type "
                             f"{message_type}: only ORU^R01 is accepted)", 9, 1, reject=True)
    if event != "R01":
        raise msh.error(201, f"不支持的触发事件“{event}”，仅接受ORU^R01 (unsupported event {event!r}: only ORU^R01)",
                        9, 2, reject=True)
    if structure and structure != "ORU_R01":
        raise msh.error(200, f"消息结构{structure}应为ORU_R01 (message structure {structure}: expected ORU_R01)",
                        9, 3, reject=True)
    processing = msh.comp(11)
    if not processing:
        raise msh.error(101, "缺少处理标识 MSH-11 (processing ID MSH-11 missing)", 11, reject=True)
    if processing != "P":
        raise msh.error(202, f"处理标识为{processing}：只接收正式（P）消息，测试/调试消息不入库 (processing ID "
                             f"{processing}: only production (P) messages are stored)", 11, reject=True)
    if not version:
        raise msh.error(101, "缺少版本号 MSH-12 (version MSH-12 missing)", 12, reject=True)
    if version not in SUPPORTED_VERSIONS:
        raise msh.error(203, f"不支持的HL7版本{version}，支持2.3–2.5.1 (unsupported HL7 version {version}: 2.3 to "
                             "2.5.1)", 12, reject=True)
    stamp = msh.comp(7)
    if stamp:
        try:
            header.message_time = parse_ts(stamp)  # type: ignore[assignment]
        except ValueError:
            raise msh.error(102, f"消息时间“{stamp}”格式错误 (message time {stamp!r} is not an HL7 timestamp)", 7,
                            reject=True) from None
    elif version not in ("2.3", "2.3.1"):
        raise msh.error(101, "缺少消息时间 MSH-7 (message date/time MSH-7 missing)", 7, reject=True)
    charset = msh.text(18).upper().replace(" ", "")
    if charset and charset not in ("UNICODEUTF-8", "UNICODE", "ASCII", "GB18030-2000", "GB18030", "8859/1"):
        raise msh.error(103, f"不支持的字符集“{msh.text(18)}” (unsupported character set {msh.text(18)!r}: UNICODE "
                             "UTF-8 or GB 18030-2000)", 18, reject=True)


def _parse_pid(pid: _Segment) -> Patient:
    identifiers = []
    for rep in range(len(pid.reps(3))):
        value = pid.comp(3, 1, rep)
        if not value:
            continue
        authority, id_type = pid.comp(3, 4, rep), pid.comp(3, 5, rep)
        identifier = PatientId(value, authority, id_type)
        if identifier.is_national_id:
            try:
                nationalid.parse(value)
            except nationalid.NationalIdError as exc:
                raise pid.error(102, f"PID-3 身份证号{value}无效：{exc.message}", 3, 1) from None
            identifier = PatientId(nationalid.normalize(value), authority, id_type)
        identifiers.append(identifier)
    if not identifiers:
        raise pid.error(101, "缺少患者标识 PID-3 (patient identifier list PID-3 missing)", 3, 1)
    names = []
    for rep in range(len(pid.reps(5))):
        name = "".join(pid.comps(5, rep)[:2]).strip()
        if name and name != '""':
            names.append(name)
    birth_date = None
    if birth := pid.comp(7):
        try:
            birth_date = parse_ts(birth, date_only=True)
        except ValueError:
            raise pid.error(102, f"出生日期“{birth}”格式错误 (birth date {birth!r} is not YYYYMMDD)", 7) from None
    sex = pid.comp(8).upper()
    if sex and sex not in SEXES:
        raise pid.error(103, f"性别代码“{sex}”无效，应为M/F/U/O/A/N (sex {sex!r} is not in HL7 table 0001)", 8)
    return Patient(identifiers=identifiers, names=names, birth_date=birth_date, sex=sex)  # type: ignore[arg-type]


def _parse_obr(obr: _Segment, header: Header) -> Order:
    placer, filler = obr.comp(2), obr.comp(3)
    if not placer and not filler:
        raise obr.error(101, "缺少检验申请号：OBR-2（申请方）或OBR-3（执行方）须填写检查号 (order number missing: "
                             "OBR-2 placer or OBR-3 filler must carry the accession number)", 2, 1)
    code, text, system = obr.comp(4, 1), obr.comp(4, 2), obr.comp(4, 3)
    if not code and not text:
        raise obr.error(101, "缺少检验项目 OBR-4 (universal service identifier OBR-4 missing)", 4, 1)
    observed_at = None
    if stamp := obr.comp(7):
        try:
            observed_at = parse_ts(stamp)
        except ValueError:
            raise obr.error(102, f"采样时间“{stamp}”格式错误 (observation time {stamp!r} is not an HL7 timestamp)",
                            7) from None
    received_at = None
    if stamp := obr.comp(14):
        try:
            received_at = parse_ts(stamp)
        except ValueError:
            raise obr.error(102, f"标本接收时间“{stamp}”格式错误 (specimen received time {stamp!r} is not an HL7 "
                                 "timestamp)", 14) from None
    return Order(occurrence=obr.occurrence, placer=placer, filler=filler, service_code=code, service_text=text,
                 service_system=system, observed_at=observed_at, received_at=received_at)  # type: ignore[arg-type]


def _number(value: str) -> Decimal | None:
    if not NUMBER_RE.match(value):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def _parse_obx(obx: _Segment, order: Order, header: Header, now: dt.datetime) -> Result:
    n = obx.occurrence
    label = f"第{n}个结果 (OBX {n})"
    set_id = obx.comp(1)
    if set_id and not set_id.isdigit():
        raise obx.error(102, f"{label}：序号OBX-1“{set_id}”不是数字 (set ID {set_id!r} is not a number)", 1)
    value_type = obx.comp(2).upper()
    if not value_type:
        raise obx.error(101, f"{label}：缺少值类型OBX-2 (value type OBX-2 missing)", 2)
    if value_type not in VALUE_TYPES:
        raise obx.error(103, f"{label}：不支持的值类型{value_type}，应为NM/SN/ST/TX/CE/CWE (value type {value_type} "
                             "not supported: NM, SN, ST, TX, CE or CWE)", 2)

    # OBX-3: the test
    code, text, system = obx.comp(3, 1), obx.comp(3, 2), obx.comp(3, 3).upper()
    alt_code, alt_system = obx.comp(3, 4), obx.comp(3, 6).upper()
    if not code and not text:
        raise obx.error(101, f"{label}：缺少检验项目代码OBX-3 (observation identifier OBX-3 is empty)", 3, 1)
    table = catalogue()
    lab_code = None
    loinc = ""
    local_code = ""
    if system == "LN" or (alt_system == "LN" and alt_code):
        loinc = code if system == "LN" else alt_code
        if not loinc_valid(loinc):
            raise obx.error(102, f"{label}：“{loinc}”不是有效的LOINC代码（格式或校验位错误） ({loinc!r} is not a "
                                 "valid LOINC code: wrong form or check digit)", 3, 1 if system == "LN" else 4)
        lab_code = table.by_loinc.get(loinc)
        if system != "LN":
            local_code = code
            lab_code = lab_code or table.local(code, text)
    else:
        local_code = code
        lab_code = table.local(code, text)
        if lab_code is None:
            raise obx.error(103, f"{label}：本地项目代码“{code or text}”未在检验项目对照表中 (local test code "
                                 f"{code or text!r} is not in the lab code table and no LOINC code was given)", 3, 1)
    display = (lab_code.display if lab_code else text or loinc)[:MAX_DISPLAY]
    result_code = lab_code.loinc if lab_code else loinc

    # OBX-11: status
    status = obx.comp(11).upper()
    if not status:
        raise obx.error(101, f"{label}：缺少结果状态OBX-11 (result status OBX-11 missing)", 11)
    if status not in RESULT_STATUSES:
        raise obx.error(103, f"{label}：结果状态“{status}”不被接受，应为F（最终）、C（更正）或P（初步） (result status "
                             f"{status!r} not accepted: F final, C corrected or P preliminary)", 11)

    # OBX-5: the value
    reps = obx.reps(5)
    if not reps or not any(r.strip() for r in reps):
        raise obx.error(101, f"{label}（{display}）：缺少结果值OBX-5 (observation value OBX-5 missing)", 5)
    if len(reps) > 1 and value_type != "TX":
        raise obx.error(102, f"{label}（{display}）：{value_type}类型的结果值不能重复 (a {value_type} value cannot "
                             "repeat)", 5)
    value: Decimal | str
    if value_type == "NM":
        raw = obx.text(5)
        number = _number(raw)
        if number is None:
            raise obx.error(102, f"{label}（{display}）：结果值“{raw}”不是数字（值类型NM） (value {raw!r} is not a "
                                 "number, value type NM)", 5)
        value = number
    elif value_type == "SN":
        comparator, num1, separator, num2 = (obx.comps(5) + ["", "", "", ""])[:4]
        number = _number(num1.strip())
        if number is None or separator.strip() or num2.strip() or comparator.strip() not in (
                "", "=", "<", ">", "<=", ">=", "<>"):
            raise obx.error(102, f"{label}（{display}）：结构化数值“{obx.raw(5)}”无效，仅支持比较符加一个数 "
                                 "(structured numeric value not supported: a comparator and one number only)", 5)
        value = number if comparator.strip() in ("", "=") else f"{comparator.strip()}{num1.strip()}"
    elif value_type in ("CE", "CWE"):
        value = obx.comp(5, 2) or obx.comp(5, 1)
    elif value_type == "TX":
        value = "\n".join(obx.unescape(r) for r in reps).strip()
    else:
        value = obx.text(5)
    if isinstance(value, str):
        # an analyser that sends a number as ST for a numeric test: take the number
        number = _number(value) if lab_code and lab_code.value_type == "NM" else None
        if number is not None:
            value = number
        elif len(value) > MAX_TEXT:
            raise obx.error(102, f"{label}（{display}）：文本结果超过{MAX_TEXT}字 (text value longer than {MAX_TEXT} "
                                 "characters)", 5)
    if isinstance(value, Decimal) and abs(value) >= MAX_QUANTITY:
        raise obx.error(102, f"{label}（{display}）：结果值{value}超出范围 (value {value} out of range)", 5)

    # OBX-6: the unit, checked and converted
    sent_unit = obx.comp(6, 1) or obx.comp(6, 2)
    unit = sent_unit
    factor: Decimal | None = None
    if isinstance(value, Decimal) and lab_code is not None and lab_code.value_type == "NM":
        normalised = _norm_unit(sent_unit)
        if not sent_unit:
            if not lab_code.dimensionless:
                raise obx.error(101, f"{label}（{display}）：缺少单位OBX-6，应为{lab_code.unit} (unit OBX-6 missing: "
                                     f"expected {lab_code.unit})", 6)
            unit = lab_code.unit
        elif normalised in lab_code.units:
            unit = lab_code.unit
        elif normalised in lab_code.conversions:
            factor = lab_code.conversions[normalised]
            value = _quantize(value * factor, lab_code.places)
            unit = lab_code.unit
        else:
            accepted = lab_code.unit + "".join(
                f"、{u}" for u in sorted({*(_label_unit(u) for u in lab_code.conversions)}))
            raise obx.error(103, f"{label}（{display}）：单位“{sent_unit}”不适用，应为{accepted} (unit {sent_unit!r} "
                                 f"is not valid for {lab_code.display_en}: expected {lab_code.unit}"
                                 + (" or a unit converted from" if lab_code.conversions else "") + ")", 6)
    if len(unit) > MAX_UNIT:
        raise obx.error(102, f"{label}（{display}）：单位过长 (unit longer than {MAX_UNIT} characters)", 6)

    # OBX-7: reference range (in the unit as sent)
    reference = None
    if (raw_range := obx.text(7)) and isinstance(value, Decimal):
        try:
            reference = parse_range(raw_range)
        except ValueError:
            raise obx.error(102, f"{label}（{display}）：参考范围“{raw_range}”格式错误，应如3.5-5.3、<5.2 "
                                 f"(reference range {raw_range!r} not understood: e.g. 3.5-5.3 or <5.2)", 7) from None
        if reference is not None and factor is not None and lab_code is not None:
            reference = reference.scaled(factor, lab_code.places)

    # OBX-8: abnormal flag
    flag = obx.comp(8).upper()
    if flag and flag not in ABNORMAL_FLAGS:
        raise obx.error(103, f"{label}（{display}）：异常标志“{flag}”无效，应为N/L/H/LL/HH/A (abnormal flag {flag!r} "
                             "not accepted: N, L, H, LL, HH or A)", 8)

    # OBX-14: time of the observation
    observed_at = order.observed_at or header.message_time
    if stamp := obx.comp(14):
        try:
            observed_at = parse_ts(stamp)  # type: ignore[assignment]
        except ValueError:
            raise obx.error(102, f"{label}（{display}）：观察时间“{stamp}”格式错误 (observation time {stamp!r} is not "
                                 "an HL7 timestamp)", 14) from None
    if observed_at is not None and observed_at > now + FUTURE_TOLERANCE:
        raise obx.error(102, f"{label}（{display}）：观察时间{format_ts(observed_at)}晚于当前时间 (observation time "
                             "is in the future)", 14)

    return Result(
        set_id=int(set_id) if set_id else n, code=result_code or local_code, display=display, value=value, unit=unit,
        reference=reference, flag=flag, status=status, observed_at=observed_at, observer=obx.comp(16, 1),
        value_type=value_type, coding_system="LN" if result_code else system, local_code=local_code,
        lab_code=lab_code, converted_from=sent_unit if factor is not None else "",
    )


def _label_unit(normalised: str) -> str:
    return normalised.replace("/dl", "/dL").replace("/l", "/L").replace("/ml", "/mL")


# --- matching the request ---------------------------------------------------------------------------------------

@dataclass
class Bound:
    """An order matched to its request, ready to publish."""

    order: Order
    request: ExamRequest
    verifier: Any
    results: list[dict[str, Any]]
    final: bool


def _find_requests(parsed: ParsedResult) -> dict[str, ExamRequest]:
    numbers = {n for order in parsed.orders for n in (order.placer, order.filler) if n}
    return {r.accession_number: r for r in ExamRequest.objects.select_related(
        "resident", "centre", "exam_type").filter(accession_number__in=numbers)}


def _request_of(order: Order, found: Mapping[str, ExamRequest]) -> ExamRequest:
    candidates = [found[n] for n in (order.placer, order.filler) if n and n in found]
    if not candidates:
        number = order.placer or order.filler
        raise Hl7Error(204, f"未找到检查号为“{number}”的检验申请 (no exam request with accession number {number!r})",
                       segment="OBR", sequence=order.occurrence, field=2 if order.placer else 3, component=1,
                       http_status=404)
    if len({c.pk for c in candidates}) > 1:
        raise Hl7Error(207, f"OBR-2与OBR-3指向不同的检验申请 (OBR-2 {order.placer!r} and OBR-3 {order.filler!r} "
                            "name different requests)", segment="OBR", sequence=order.occurrence, field=3)
    return candidates[0]


def check_sender(actor: Any) -> None:
    """Who may post results at all: a system (None: the file drop run by an operator), a centre reader, or a
    community administrator. The request's centre is checked once it is known (`_check_actor`)."""
    if actor is None:
        return
    if getattr(actor, "role", None) not in SENDER_ROLES:
        raise Hl7Error(207, "无权提交检验结果：须为诊断中心人员或医共体管理员 (not allowed to send lab results: "
                            "diagnostic-centre staff or community administrators only)", reject=True, http_status=403)


def _check_actor(actor: Any, request: ExamRequest, order: Order) -> None:
    if actor is None:
        return
    check_sender(actor)
    allowed = actor.community_id == request.community_id and (
        actor.role == Role.COMMUNITY_ADMIN
        or actor.organization_id == request.centre.organization_id
        or (actor.practitioner_id and CentreReader.objects.filter(
            centre=request.centre, practitioner_id=actor.practitioner_id, active=True).exists())
    )
    if not allowed:
        raise Hl7Error(207, f"无权为{request.centre.name}提交检验结果 (not allowed to send results for this centre)",
                       segment="OBR", sequence=order.occurrence, field=2, reject=True, http_status=403)


def _check_patient(patient: Patient, request: ExamRequest) -> None:
    resident = request.resident
    matched = False

    def mismatch(what: str, field_no: int) -> Hl7Error:
        return Hl7Error(204, f"PID与检验申请的患者不符：{what} (the PID does not identify the request's patient: "
                             f"{_EN.get(field_no, 'identifier')} differs; accession "
                             f"{request.accession_number})", segment="PID", field=field_no)

    other_ids = None
    for identifier in patient.identifiers:
        if identifier.is_national_id:
            if identifier.value != (resident.national_id or ""):
                raise mismatch("身份证号不一致", 3)
            matched = True
        elif identifier.is_countycare:
            if identifier.value.lower() != str(resident.uuid):
                raise mismatch("平台患者号不一致", 3)
            matched = True
        else:
            if other_ids is None:
                other_ids = {v.strip().upper() for v in resident.identifiers.values_list("value", flat=True)}
            if identifier.value.upper() in other_ids:
                matched = True
    if not matched:
        raise Hl7Error(204, "PID-3中没有可核对的患者标识（身份证号或平台患者号） (PID-3 carries no identifier that "
                            "can be checked against the request's patient: send the national ID or the CountyCare "
                            "patient ID)", segment="PID", field=3, component=1)
    if patient.names:
        wanted = {resident.name.replace(" ", ""), resident.name_pinyin.replace(" ", "").casefold()}
        if not any(n.replace(" ", "") in wanted or n.replace(" ", "").casefold() in wanted for n in patient.names):
            raise mismatch(f"姓名“{patient.names[0]}”与申请的“{resident.name}”不一致", 5)
    if patient.birth_date and patient.birth_date != resident.birth_date:
        raise mismatch("出生日期不一致", 7)
    if patient.sex in ("M", "F") and resident.sex in ("male", "female") and SEXES[patient.sex] != resident.sex:
        raise mismatch("性别不一致", 8)


_EN = {3: "identifier", 5: "name", 7: "birth date", 8: "sex"}


def results_step(status: str, final: bool) -> str:
    """The workflow transition results take a request through (services.publish_lab_results decides the same)."""
    return "amend_results" if status == ExamStatus.PUBLISHED else "report_results" if final else "receive_results"


def _check_order(order: Order, request: ExamRequest) -> None:
    if request.exam_type.centre_kind != CentreKind.LAB:
        raise Hl7Error(207, f"检查号{request.accession_number}不是检验申请 (accession {request.accession_number} is "
                            "not a laboratory request)", segment="OBR", sequence=order.occurrence, field=2)
    if request.status == ExamStatus.PUBLISHED and not order.final:
        raise Hl7Error(207, f"检验申请{request.accession_number}已发布，不能再接收初步结果（OBX-11为P） (request "
                            f"{request.accession_number} is published: preliminary results cannot follow)",
                       segment="OBR", sequence=order.occurrence, field=2, http_status=409)
    if request.status not in workflow.BY_ACTION[results_step(request.status, order.final)].sources:
        raise Hl7Error(207, f"检验申请{request.accession_number}当前为“{request.get_status_display()}”，不能接收"
                            f"{'' if order.final else '初步'}结果 (request {request.accession_number} is "
                            f"{request.status}: it cannot take {'' if order.final else 'preliminary '}results)",
                       segment="OBR", sequence=order.occurrence, field=2, http_status=409)
    exam = request.exam_type
    if not ({order.service_code, order.service_text} & {exam.code, exam.loinc, exam.name} - {""}):
        raise Hl7Error(207, f"OBR-4检验项目“{order.service_code or order.service_text}”与申请的“{exam.name}”不符 "
                            f"(OBR-4 {order.service_code or order.service_text!r} is not the requested exam "
                            f"{exam.code})", segment="OBR", sequence=order.occurrence, field=4, component=1)


def _verifier(order: Order, request: ExamRequest, cache: dict[tuple[int, str], Any]) -> Any:
    from countycare.registry.models import Practitioner

    ids = [r.observer for r in order.results if r.observer]
    if not ids:
        return None
    key = (request.community_id, ids[0])
    if key not in cache:
        cache[key] = Practitioner.objects.filter(community_id=request.community_id, licence_number=ids[0],
                                                 active=True).first()
    if cache[key] is None:
        occurrence = next(r.set_id for r in order.results if r.observer)
        raise Hl7Error(204, f"审核者“{ids[0]}”不是本医共体的在职人员（OBX-16填执业证号） (responsible observer "
                            f"{ids[0]!r} is not an active practitioner of the community: OBX-16 carries the licence "
                            "number)",
                       segment="OBX", sequence=occurrence, field=16, component=1)
    return cache[key]


def bind(parsed: ParsedResult, *, actor: Any, found: Mapping[str, ExamRequest] | None = None,
         verifiers: dict[tuple[int, str], Any] | None = None) -> list[Bound]:
    """Match every order of a parsed message to its request and check the patient, the sender and the state;
    Hl7Error otherwise. Reads only."""
    found = _find_requests(parsed) if found is None else found
    verifiers = {} if verifiers is None else verifiers
    bound = []
    seen: set[int] = set()
    for order in parsed.orders:
        request = _request_of(order, found)
        if request.pk in seen:
            raise Hl7Error(207, f"同一检验申请{request.accession_number}在消息中出现两次 (request "
                                f"{request.accession_number} appears twice in the message)", segment="OBR",
                           sequence=order.occurrence, field=2)
        seen.add(request.pk)
        _check_actor(actor, request, order)
        _check_order(order, request)
        _check_patient(parsed.patient, request)
        for result in order.results:
            if result.reference is None and result.lab_code is not None and isinstance(result.value, Decimal):
                result.reference = result.lab_code.default_range(request.resident.sex)
        bound.append(Bound(order=order, request=request, verifier=_verifier(order, request, verifiers),
                           results=[r.as_service_result() for r in order.results], final=order.final))
    return bound


# --- the ACK ------------------------------------------------------------------------------------------------------

def make_ack(header: Header | None, code: str = "AA", *, error: Hl7Error | None = None,
             now: dt.datetime | None = None) -> str:
    """ACK^R01: MSH, MSA (AA / AE / AR, MSA-2 the message's control ID, MSA-3 the text) and, on error, ERR with
    the location, the HL7 error code (table 0357), severity E and the text for the user."""
    header = header or Header()
    now = now or timezone.now()
    msh = "|".join([
        "MSH", ENCODING, OUR_APPLICATION, escape(header.receiving_facility), escape(header.sending_application),
        escape(header.sending_facility), format_ts(now), "", "ACK^R01^ACK", "A" + secrets.token_hex(9).upper(),
        "P", header.version if header.version in SUPPORTED_VERSIONS else "2.5", "", "", "", "", "CHN",
        "UNICODE UTF-8",
    ])
    msa = ["MSA", code, escape(header.control_id)]
    segments = [msh]
    if error is not None:
        msa.append(escape(error.message)[:MAX_TEXT * 4])
        name = ERROR_NAMES.get(error.code, "")
        location = [escape(error.segment), str(error.sequence) if error.segment else "",
                    str(error.field) if error.field is not None else "", "1" if error.field is not None else "",
                    str(error.component) if error.component else ""]
        eld = "^".join(location[:3] + [f"{error.code}&{name}&HL70357"])
        erl = "^".join(location).rstrip("^")
        segments.append("|".join(msa))
        segments.append("|".join(["ERR", eld, erl, f"{error.code}^{name}^HL70357", "E", "", "", "",
                                  escape(error.message)]))
    else:
        segments.append("|".join(msa))
    return "\r".join(segments) + "\r"


# --- ingestion ---------------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    ack: str
    code: str  # AA, AE, AR
    control_id: str
    error: Hl7Error | None = None
    reports: list[Any] = field(default_factory=list)
    replayed: bool = False

    @property
    def ok(self) -> bool:
        return self.code == "AA"

    @property
    def http_status(self) -> int:
        return 200 if self.error is None else self.error.http_status


def _refused(header: Header | None, error: Hl7Error, now: dt.datetime | None = None) -> Outcome:
    logger.info("HL7 message %s refused: %s", header.control_id if header else "?", error)
    return Outcome(ack=make_ack(header, error.ack_code, error=error, now=now), code=error.ack_code,
                   control_id=header.control_id if header else "", error=error)


def _idempotency_key(parsed: ParsedResult) -> str:
    header = parsed.header
    digest = hashlib.sha256(f"{header.sender}\x00{header.control_id}".encode()).hexdigest()
    return f"hl7:{digest}"


def _replay(parsed: ParsedResult, community_id: int) -> Outcome | None:
    try:
        stored = idempotency.lookup(-community_id, _idempotency_key(parsed), IDEMPOTENCY_METHOD, IDEMPOTENCY_PATH,
                                    parsed.content_hash())
    except InvalidInput:
        raise Hl7Error(205, f"消息控制号{parsed.header.control_id}已被同一发送方的另一条消息使用 (control ID "
                            f"{parsed.header.control_id!r} was already used by another message from this sender)",
                       segment="MSH", field=10, http_status=409) from None
    if stored is None:
        return None
    return Outcome(ack=stored.body, code="AA", control_id=parsed.header.control_id, replayed=True)


def _domain_error(exc: DomainError) -> Hl7Error:
    code = 204 if isinstance(exc, NotFound) else 206 if isinstance(exc, Conflict) else 207
    return Hl7Error(code, exc.message, reject=isinstance(exc, PermissionDenied), http_status=exc.status)


def _publish(parsed: ParsedResult, bound: list[Bound], *, actor: Any, now: dt.datetime | None) -> Outcome:
    from . import services

    ack = make_ack(parsed.header, "AA", now=now)
    reports = []
    for item in bound:
        reports.append(services.publish_lab_results(
            request=item.request, results=item.results, verifier=item.verifier, final=item.final, channel=CHANNEL,
            now=now, actor=actor, received_at=item.order.received_at))
    idempotency.store(-bound[0].request.community_id, _idempotency_key(parsed), IDEMPOTENCY_METHOD,
                      IDEMPOTENCY_PATH, parsed.content_hash(), idempotency.StoredResponse(200, {}, ack))
    return Outcome(ack=ack, code="AA", control_id=parsed.header.control_id, reports=reports)


def receive(message: str | bytes, *, actor: Any, now: dt.datetime | None = None) -> Outcome:
    """Parse, check and store one message; the Outcome carries the ACK and the HTTP status to answer with.
    Never raises for a bad message: it is refused whole with AE/AR."""
    header: Header | None = None
    try:
        check_sender(actor)
    except Hl7Error as exc:  # refused before anything is checked; the ACK still echoes the control ID
        try:
            header = parse_oru(message, now=now).header
        except Hl7Error as parse_error:
            header = getattr(parse_error, "header", None)
        return _refused(header, exc, now)
    try:
        parsed = parse_oru(message, now=now)
        header = parsed.header
        found = _find_requests(parsed)
        bound = bind(parsed, actor=actor, found=found)
        return _publish_once(parsed, bound, actor=actor, now=now)
    except Hl7Error as exc:
        return _refused(header or getattr(exc, "header", None), exc, now)
    except DomainError as exc:
        return _refused(header, _domain_error(exc), now)


def ingest(message: str | bytes, *, actor: Any) -> str:
    """One ORU^R01 in, its ACK out (MSA-1 AA, or AE/AR with an ERR segment and the reason)."""
    return receive(message, actor=actor).ack


def ingest_many(messages: Iterable[str | bytes], *, actor: Any, now: dt.datetime | None = None,
                bulk: bool = True) -> list[Outcome]:
    """Many messages in one transaction (the file drop, the benchmark), one Outcome per message in order; each
    message still lands whole or not at all. The requests are read once per batch and the commit is paid once.

    With `bulk` the usual message — final results for a request that has none yet, its request alone in the
    batch — is written set-based (`_bulk_publish`: one conditional UPDATE of the requests, one INSERT (COPY on
    PostgreSQL) each for reports, observations, their links, events, audit entries and stored ACKs, critical
    values through `services.raise_critical`, all in a savepoint); every other message (corrections,
    preliminary results, a request twice in the batch, a repeated control ID) and the whole bulk set if its
    savepoint fails go one by one through `services.publish_lab_results`, each in its own savepoint. Refused
    messages store nothing either way."""
    outcomes: list[Outcome | None] = []
    parsed_list: list[tuple[int, ParsedResult]] = []
    for i, message in enumerate(messages):
        try:
            parsed = parse_oru(message, now=now)
            check_sender(actor)
        except Hl7Error as exc:
            outcomes.append(_refused(getattr(exc, "header", None), exc, now))
            continue
        outcomes.append(None)
        parsed_list.append((i, parsed))
    numbers = sorted({n for _, p in parsed_list for order in p.orders for n in (order.placer, order.filler) if n})
    found: dict[str, ExamRequest] = {}
    for start in range(0, len(numbers), 500):
        found.update((r.accession_number, r) for r in ExamRequest.objects.select_related(
            "resident", "centre", "exam_type").filter(accession_number__in=numbers[start:start + 500]))
    verifiers: dict[tuple[int, str], Any] = {}
    with transaction.atomic():
        pending: list[tuple[int, ParsedResult, list[Bound]]] = []
        for i, parsed in parsed_list:
            try:
                pending.append((i, parsed, bind(parsed, actor=actor, found=found, verifiers=verifiers)))
            except Hl7Error as exc:
                outcomes[i] = _refused(parsed.header, exc, now)
        one_by_one = [(i, parsed) for i, parsed, _ in pending]
        if bulk and pending:
            one_by_one = _bulk_publish(pending, outcomes, actor=actor, now=now)
        for i, parsed in one_by_one:
            outcomes[i] = _receive_bound(parsed, actor=actor, now=now, found=found, verifiers=verifiers)
    return [o for o in outcomes if o is not None]


def _bulk_publish(pending: list[tuple[int, ParsedResult, list[Bound]]], outcomes: list[Outcome | None], *,
                  actor: Any, now: dt.datetime | None) -> list[tuple[int, ParsedResult]]:
    """Write the usual messages of a batch set-based, as `services.publish_lab_results` writes one (the same
    checks through its `_lab_result`, the same report text, state change, observations, event and audit entries
    — tests/diagnostics/test_hl7_bulk.py compares the rows). Fills their outcomes; returns the others, in order,
    for the one-by-one path."""
    from collections import Counter

    from django.db import IntegrityError

    from countycare.core.models import IdempotencyRecord

    from . import services

    now = services._now(now)
    requests = [item.request for _, _, bound in pending for item in bound]
    seen = Counter(r.pk for r in requests)
    ids = sorted(seen)
    keys = {i: (-bound[0].request.community_id, _idempotency_key(parsed)) for i, parsed, bound in pending}
    stored = set(IdempotencyRecord.objects.filter(key__in=sorted({k for _, k in keys.values()}))
                 .values_list("user_id", "key"))
    with_lab_results = set(ExamRequest.observations.through.objects.filter(
        examrequest_id__in=ids, observation__category="laboratory").values_list("examrequest_id", flat=True))
    alerted = set(CriticalAlert.objects.filter(request_id__in=ids, rule__isnull=False)
                  .values_list("request_id", "rule__code"))
    codes: dict[int, set[str]] = {}
    for item in (item for _, _, bound in pending for item in bound):
        codes.setdefault(item.request.community_id, set()).update(r["code"] for r in item.results)
    rules = {cid: services.rules_for(cid, sorted(c), kind=CentreKind.LAB) for cid, c in codes.items()}

    eligible: list[tuple[int, ParsedResult, list[Bound], list[_Prepared]]] = []
    others: list[tuple[int, ParsedResult]] = []
    for i, parsed, bound in pending:
        checked = _bulk_checked(bound, keys[i] in stored, seen, with_lab_results, rules, alerted, now)
        if checked is None:
            others.append((i, parsed))
        else:
            eligible.append((i, parsed, bound, checked))
    if not eligible:
        return others
    try:
        with transaction.atomic():
            written = _bulk_write(eligible, actor=actor, now=now)
    except (IntegrityError, DomainError) as exc:  # a concurrent change: take them one by one instead
        logger.info("HL7 bulk write of %d messages fell back to one by one: %s", len(eligible), exc)
        for request in (item.request for _, _, bound, _ in eligible for item in bound):
            request.refresh_from_db()
        return sorted(others + [(i, parsed) for i, parsed, _, _ in eligible], key=lambda pair: pair[0])
    for i, outcome in written.items():
        outcomes[i] = outcome
    return others


@dataclass
class _Prepared:
    """An order ready for the set-based write: the service's normalised results and its critical values
    (rule, result, finding) — all of them, and those not alerted for the request before."""

    checked: list[dict[str, Any]]
    critical: list[tuple[Any, dict[str, Any], str]]
    to_alert: list[tuple[Any, dict[str, Any], str]]


def _bulk_checked(bound: list[Bound], repeated: bool, seen: Mapping[int, int], with_lab_results: set[int],
                  rules: Mapping[int, Mapping[str, Any]], alerted: set[tuple[int, str]], now: dt.datetime
                  ) -> list[_Prepared] | None:
    """Each order prepared as the service prepares it when the message can go set-based, else None."""
    from . import services

    if repeated:
        return None
    prepared = []
    for item in bound:
        request = item.request
        if (seen[request.pk] > 1 or not item.final or request.status == ExamStatus.PUBLISHED
                or request.pk in with_lab_results):
            return None
        try:
            checked = [services._lab_result(r, n, now) for n, r in enumerate(item.results)]
        except DomainError:
            return None  # the service will say what is wrong
        community_rules = rules[request.community_id]
        critical = []
        for r in checked:
            rule = community_rules.get(r["code"])
            limit = services.beyond_limit(rule, r["value_quantity"], r["unit"]) \
                if rule is not None and r["value_quantity"] is not None else None
            if limit is not None:
                critical.append((rule, r, f"{rule.name} {services._number(r['value_quantity'])} {r['unit']} "
                                          f"({limit})"))
        prepared.append(_Prepared(checked, critical, [c for c in critical if (request.pk, c[0].code) not in alerted]))
    return prepared


def _bulk_write(eligible: list[tuple[int, ParsedResult, list[Bound], list[_Prepared]]], *, actor: Any,
                now: dt.datetime) -> dict[int, Outcome]:
    from django.db import connection
    from django.db.models import Max

    from countycare.core import audit
    from countycare.core.models import IdempotencyRecord
    from countycare.records.models import Observation, ObservationCategory, ObservationStatus

    from . import services
    from .models import ExamEvent, Report, ReportStatus

    step = workflow.BY_ACTION["report_results"]
    items = [(item, prepared) for _, _, bound, prepared_all in eligible for item, prepared in zip(
        bound, prepared_all, strict=True)]
    requests = [item.request for item, _ in items]
    ids = [r.pk for r in requests]
    acquired = {item.request.pk: min(item.request.acquired_at or item.order.received_at
                                     or min(r["effective_at"] for r in prepared.checked), now)
                for item, prepared in items}
    # 1. every request moves at once, each only from the version and state it was read in
    if _move_all(requests, acquired, step, now) != len(requests):
        raise DomainError("检验申请已被同时修改 (a request changed meanwhile)")
    last_versions = dict(Report.objects.filter(request_id__in=ids).values("request_id").annotate(
        last=Max("version")).values_list("request_id", "last"))
    if last_versions:
        Report.objects.filter(request_id__in=ids, current=True).update(current=False,
                                                                        status=ReportStatus.SUPERSEDED)
    # 2. the rows, built as the service builds them
    user = services._user_or_none(actor)
    reports, observations, events = [], [], []
    for item, prepared in items:
        request, checked = item.request, prepared.checked
        practitioner = services._practitioner_of(item.verifier)
        abnormal = [f"{r['display']}{'↑' if r['interpretation'] in ('H', 'HH') else '↓'}" for r in checked
                    if r["interpretation"] in ("H", "L", "HH", "LL")]
        conclusion = ("异常：" + "、".join(abnormal)) if abnormal else "所列项目均在参考范围内"
        reports.append(Report(
            request=request, version=last_versions.get(request.pk, 0) + 1, status=ReportStatus.FINAL, current=True,
            findings="\n".join(services._result_line(r) for r in checked)[:services.MAX_FINDINGS],
            conclusion=conclusion[:services.MAX_CONCLUSION], critical=bool(prepared.critical), author=practitioner,
            verifier=practitioner, revision_reason="", written_at=now, published_at=now,
            recognised_until=services._recognised_until(request, request.reported_at or now)))
        observations.append([Observation(
            community_id=request.community_id, resident_id=request.resident_id, encounter_id=request.encounter_id,
            category=ObservationCategory.LABORATORY, organization_id=request.centre.organization_id,
            practitioner=practitioner, status=ObservationStatus.FINAL, created_at=now, **r) for r in checked])
        events.append(ExamEvent(request=request, action=step.action, from_status=request.status,
                                to_status=step.target, at=now, user=user, reason="",
                                practitioner=practitioner or services._practitioner_of(user)))
    outcomes: dict[int, Outcome] = {}
    records = []
    by_request = {id(r.request): r for r in reports}
    for i, parsed, bound, _ in eligible:
        ack = make_ack(parsed.header, "AA", now=now)
        records.append(IdempotencyRecord(
            user_id=-bound[0].request.community_id, key=_idempotency_key(parsed), method=IDEMPOTENCY_METHOD,
            path=IDEMPOTENCY_PATH, request_hash=idempotency._request_hash(IDEMPOTENCY_METHOD, IDEMPOTENCY_PATH,
                                                                          parsed.content_hash()),
            status=200, headers={}, body=ack, created_at=now))
        outcomes[i] = Outcome(ack=ack, code="AA", control_id=parsed.header.control_id,
                              reports=[by_request[id(item.request)] for item in bound])
    # 3. one statement per table (COPY on PostgreSQL)
    flat = [o for group in observations for o in group]
    _insert(Report, reports, need_ids=True)
    _insert(Observation, flat, need_ids=True)
    links = [(request.pk, o.pk) for request, group in zip(requests, observations, strict=True) for o in group]
    through = ExamRequest.observations.through
    if connection.vendor == "postgresql":  # plain rows: no model instance per link
        with connection.cursor() as cursor, cursor.cursor.copy(
                f"COPY {through._meta.db_table} (examrequest_id, observation_id) FROM STDIN") as copy:
            for link in links:
                copy.write_row(link)
    else:
        through.objects.bulk_create([through(examrequest_id=r, observation_id=o) for r, o in links])
    _insert(ExamEvent, events)
    _insert(IdempotencyRecord, records)
    # critical values through the service's own raise_critical (notification, due time, events, audit)
    for (item, prepared), group in zip(items, observations, strict=True):
        by_code = {o.code: o for o in group}
        for rule, r, finding in prepared.to_alert:
            services.raise_critical(request=item.request, finding=finding, rule=rule, observation=by_code[r["code"]],
                                    raised_by=services._practitioner_of(item.verifier), channel=CHANNEL, now=now,
                                    user=services._actor(actor, CHANNEL, item.request.community_id))
    # 4. the audit entries last: the chain's lock is held from here to the commit
    entries: dict[int, list[audit.Entry]] = {}
    for (item, prepared), report, group in zip(items, reports, observations, strict=True):
        request = item.request
        resident = str(request.resident.uuid)
        entries.setdefault(request.community_id, []).extend([
            services._entry(step.action, request, detail={"results": len(prepared.checked),
                                                          "critical": len(prepared.critical)}),
            audit.Entry("create", "DiagnosticReport", str(report.uuid), resident,
                        detail={"request": str(request.uuid), "version": report.version, "status": report.status}),
            *[audit.Entry("create", "Observation", str(o.uuid), resident, detail={"code": o.code}) for o in group],
        ])
    for community_id, community_entries in entries.items():
        actor_ = services._actor(actor, CHANNEL, community_id)
        for start in range(0, len(community_entries), AUDIT_CHUNK):  # the append costs more per entry past this
            audit.record_many(actor_, community_entries[start:start + AUDIT_CHUNK])
    for request in requests:
        request.status, request.version = step.target, request.version + 1
        request.acquired_at = request.acquired_at or acquired[request.pk]
        request.reported_at = request.reported_at or now
    return outcomes


def _move_all(requests: list[ExamRequest], acquired: Mapping[int, dt.datetime], step: workflow.Transition,
              now: dt.datetime) -> int:
    """The conditional UPDATE of many requests in one statement; the number moved."""
    from django.db import connection
    from django.db.models import Case, F, Q, Value, When
    from django.db.models.functions import Coalesce

    if connection.vendor == "postgresql":
        table = ExamRequest._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS r SET status = %s, version = r.version + 1, updated_at = %s, "
                "acquired_at = COALESCE(r.acquired_at, v.acquired_at), reported_at = COALESCE(r.reported_at, %s) "
                "FROM unnest(%s::bigint[], %s::integer[], %s::timestamptz[]) AS v(id, version, acquired_at) "
                "WHERE r.id = v.id AND r.version = v.version AND r.status = ANY(%s::varchar[])",
                [step.target, now, now, [r.pk for r in requests], [r.version for r in requests],
                 [acquired[r.pk] for r in requests], sorted(step.sources)])
            return cursor.rowcount
    condition = Q()
    for r in requests:
        condition |= Q(pk=r.pk, version=r.version)
    return ExamRequest.objects.filter(condition, status__in=step.sources).update(
        status=step.target, version=F("version") + 1, updated_at=now,
        acquired_at=Coalesce(F("acquired_at"), Case(*(When(pk=pk, then=Value(at)) for pk, at in acquired.items()))),
        reported_at=Coalesce(F("reported_at"), Value(now)))


def _insert(model: Any, objects: list[Any], *, need_ids: bool = False) -> None:
    """Insert model instances in one statement: COPY on PostgreSQL (ids drawn from the table's sequence first
    when the caller needs them), bulk_create elsewhere. Every field must be set on the instances (COPY runs no
    pre_save: auto_now_add fields are given)."""
    import json

    from django.db import connection

    if not objects:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objects)
        return
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not (f.primary_key and not need_ids)]
    with connection.cursor() as cursor:
        if need_ids:
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                           [meta.db_table, meta.pk.column, len(objects)])
            for obj, (pk,) in zip(objects, cursor.fetchall(), strict=True):
                obj.pk = pk
        json_fields = {f.attname for f in fields if f.get_internal_type() == "JSONField"}
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        names = [f.attname for f in fields]
        with cursor.cursor.copy(f"COPY {connection.ops.quote_name(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for obj in objects:
                copy.write_row([json.dumps(getattr(obj, n)) if n in json_fields else getattr(obj, n)
                                for n in names])
    for obj in objects:
        obj._state.adding, obj._state.db = False, connection.alias


def _publish_once(parsed: ParsedResult, bound: list[Bound], *, actor: Any, now: dt.datetime | None) -> Outcome:
    """Store a bound message unless its control ID was stored before (then the first answer again); the same
    message arriving twice at once: the other copy stored it first, and its answer is replayed."""
    community_id = bound[0].request.community_id
    if (replay := _replay(parsed, community_id)) is not None:
        return replay
    try:
        with transaction.atomic():
            return _publish(parsed, bound, actor=actor, now=now)
    except Conflict:
        if (replay := _replay(parsed, community_id)) is not None:
            return replay
        raise


def _receive_bound(parsed: ParsedResult, *, actor: Any, now: dt.datetime | None, found: dict[str, ExamRequest],
                   verifiers: dict[tuple[int, str], Any]) -> Outcome:
    """One message of a batch, in a savepoint of the batch's transaction."""
    bound: list[Bound] = []
    try:
        bound = bind(parsed, actor=actor, found=found, verifiers=verifiers)
        return _publish_once(parsed, bound, actor=actor, now=now)
    except Hl7Error as exc:
        return _refused(parsed.header, exc, now)
    except DomainError as exc:
        return _refused(parsed.header, _domain_error(exc), now)
    finally:
        for item in bound:  # the service moved it (or a rollback undid that): later messages see the stored state
            item.request.refresh_from_db()


# --- building messages --------------------------------------------------------------------------------------------

def _fields(name: str, values: Mapping[int, str]) -> str:
    """A segment from {field number: ER7 text}."""
    return "|".join([name, *(values.get(i, "") for i in range(1, max(values) + 1))])


def _sex_code(sex: str) -> str:
    return {"male": "M", "female": "F"}.get(sex, "U")


def make_oru(request: ExamRequest, results: Sequence[Mapping[str, Any]], *, control_id: str,
             observed_at: dt.datetime | None = None, received_at: dt.datetime | None = None,
             verifier: Any = None, status: str = "F",
             sending_application: str = "LIS", sending_facility: str = "", version: str = "2.5.1",
             message_time: dt.datetime | None = None, segment_separator: str = "\r") -> str:
    """A valid ORU^R01 for a request (synth, tests, benchmarks). Each result is a mapping with `code` (a LOINC
    code or a local code of the table), `value`, and optionally `unit` (default: the table's), `reference`
    ("3.5-5.3"; default: the table's range for the patient's sex), `flag`, `status`, `value_type`, `system`
    ("LN" for LOINC — the default when the code is a valid LOINC code — else a local system such as "99LIS"),
    `display`, `observed_at`. `verifier` is a Practitioner (OBX-16 carries the licence number)."""
    resident = request.resident
    observed_at = observed_at or timezone.now()
    message_time = message_time or observed_at
    accession = request.accession_number
    exam = request.exam_type
    table = catalogue()
    name = resident.name
    identifiers = [f"{resident.uuid}^^^{OUR_APPLICATION}^PI"]
    if resident.national_id:
        identifiers.append(f"{resident.national_id}^^^CHN^NN")
    service = (f"{escape(exam.loinc)}^{escape(exam.name)}^LN" if exam.loinc
               else f"{escape(exam.code)}^{escape(exam.name)}^99CC")
    segments = [
        "|".join(["MSH", ENCODING, escape(sending_application),
                  escape(sending_facility or request.centre.name), OUR_APPLICATION, "", format_ts(message_time), "",
                  "ORU^R01^ORU_R01", escape(control_id), "P", version, "", "", "AL", "NE", "CHN", "UNICODE UTF-8"]),
        "|".join(["PID", "1", "", "~".join(identifiers), "", f"{escape(name[:1])}^{escape(name[1:])}", "",
                  resident.birth_date.strftime("%Y%m%d"), _sex_code(resident.sex)]),
        "|".join(["ORC", "RE", escape(accession), escape(accession)]),
        _fields("OBR", {1: "1", 2: escape(accession), 3: escape(accession), 4: service, 7: format_ts(observed_at),
                        14: format_ts(received_at) if received_at else "", 22: format_ts(observed_at),
                        25: status}),
    ]
    observer = ""
    if verifier is not None:
        observer = f"{escape(verifier.licence_number)}^{escape(verifier.name)}"
    for index, item in enumerate(results, start=1):
        code = str(item["code"])
        lab_code = table.by_loinc.get(code) or table.local(code, "")
        system = item.get("system") or ("LN" if loinc_valid(code) else "99LIS")
        display = item.get("display") or (lab_code.display if lab_code else code)
        value = item["value"]
        value_type = item.get("value_type") or ("NM" if isinstance(value, int | float | Decimal) else "ST")
        # a tuple is a value's components, e.g. ("<", "0.01") for SN
        er7_value = "^".join(escape(v) for v in value) if isinstance(value, tuple) else escape(value)
        unit = item.get("unit", lab_code.unit if lab_code else "")
        reference = item.get("reference")
        if reference is None and lab_code is not None and value_type == "NM":
            default = lab_code.default_range(resident.sex)
            reference = str(default) if default else ""
        segments.append("|".join([
            "OBX", str(index), value_type, f"{escape(code)}^{escape(display)}^{system}", "", er7_value,
            f"{escape(unit)}^^UCUM" if unit else "", escape(reference or ""), escape(item.get("flag", "")), "", "",
            item.get("status", status), "", "", format_ts(item.get("observed_at") or observed_at), "", observer,
        ]))
    return segment_separator.join(segments) + segment_separator
