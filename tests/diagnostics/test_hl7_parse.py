"""The parser on its own (no database): ER7 splitting checked against python-hl7, escapes, values, ranges, time
stamps, LOINC check digits, the code table, and the ACK python-hl7 can read back."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import hl7
import pytest

from countycare.diagnostics import lab

MESSAGE = "\r".join([
    "MSH|^~\\&|LIS|检验科|COUNTYCARE||20260302093000+0800||ORU^R01^ORU_R01|C-1|P|2.4|||AL|NE|CHN|UNICODE UTF-8",
    "PID|1||330122196005010118^^^CHN^NN~abc^^^LIS^MR||张^三||19600501|M",
    "PV1|1|O",
    "ORC|RE|ACC-1|ACC-1",
    "OBR|1|ACC-1|ACC-1|BMP^急诊生化^99CC|||20260302080000",
    "NTE|1||标本轻度溶血\\F\\已复核",
    "OBX|1|NM|K^钾^99LIS||4.12|mmol/l|3.5--5.3|N|||F|||20260302090000",
    "OBX|2|NM|2345-7^Glucose^LN||108|mg/dL|70-110||||F",
    "OBX|3|TX|48767-8^备注^LN||第一行~第二行 \\T\\ 说明||||||P",
    "OBX|4|ST|UPRO^尿蛋白^99LIS||阴性||阴性||||F",
    "ZXX|custom|fields",
]) + "\r"


def test_the_split_agrees_with_python_hl7():
    ours = lab._parse(MESSAGE, lab.Header(), dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC))
    theirs = hl7.parse(MESSAGE)
    assert ours.text == MESSAGE
    for segment in theirs:
        name = str(segment[0])
        if name == "OBX":
            index = int(str(segment[1])) - 1
            result = ours.orders[0].results[index]
            assert result.set_id == index + 1
            assert str(segment[5]).split("~")[0].split("^")[0] in (str(result.value), "108", "第一行")
    obx = [s for s in theirs if str(s[0]) == "OBX"]
    assert len(obx) == len(ours.orders[0].results) == 4
    assert str(theirs.segment("MSH")[10]) == ours.header.control_id == "C-1"
    assert str(theirs.segment("PID")[8]) == ours.patient.sex == "M"


def test_values_units_and_ranges_are_read_and_converted():
    parsed = lab.parse_oru(MESSAGE, now=dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC))
    potassium, glucose, note, protein = parsed.orders[0].results
    assert (potassium.code, potassium.value, potassium.unit) == ("2823-3", Decimal("4.12"), "mmol/L")
    assert potassium.reference == lab.Range(Decimal("3.5"), Decimal("5.3"))
    assert potassium.observed_at == dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
    assert (glucose.code, glucose.value, glucose.unit, glucose.converted_from) == (
        "14749-6", Decimal("6.00"), "mmol/L", "mg/dL")
    assert glucose.reference == lab.Range(Decimal("3.89"), Decimal("6.11"))
    assert glucose.observed_at == dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC)  # OBR-7, no OBX-14
    assert note.value == "第一行\n第二行 & 说明" and note.status == "P"
    assert protein.value == "阴性" and protein.reference is None and protein.interpretation == ""
    assert not parsed.orders[0].final
    identifiers = [(i.value, i.is_national_id) for i in parsed.patient.identifiers]
    assert identifiers == [("330122196005010118", True), ("abc", False)]


@pytest.mark.parametrize(("code", "valid"), [("2823-3", True), ("14749-6", True), ("2823-4", False),
                                             ("2823", False), ("LN-1", False), ("12345-5", True)])
def test_loinc_check_digits(code, valid):
    assert lab.loinc_valid(code) is valid


@pytest.mark.parametrize(("text", "low", "high"), [
    ("3.5-5.3", "3.5", "5.3"), ("3.5 -- 5.3", "3.5", "5.3"), ("3.5～5.3", "3.5", "5.3"), ("<5.2", None, "5.2"),
    ("<=26", None, "26"), ("≤26", None, "26"), (">1.0", "1.0", None), ("≥1.0", "1.0", None),
    ("-2-3", "-2", "3"),
])
def test_reference_ranges(text, low, high):
    assert lab.parse_range(text) == lab.Range(Decimal(low) if low else None, Decimal(high) if high else None)


@pytest.mark.parametrize("text", ["normal", "5.3-3.5", "3.5-", "阴性"])
def test_reference_ranges_that_are_not(text):
    with pytest.raises(ValueError):
        lab.parse_range(text)


def test_time_stamps():
    assert lab.parse_ts("20260302093000+0800") == dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.UTC)
    assert lab.parse_ts("202603020930") == dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.UTC)  # Asia/Shanghai
    assert lab.parse_ts("20260302093000.5").microsecond == 500000
    assert lab.parse_ts("19600501", date_only=True) == dt.date(1960, 5, 1)
    for bad in ("2026-03-02", "20261302", "now"):
        with pytest.raises(ValueError):
            lab.parse_ts(bad)


def test_escapes_round_trip():
    text = "a|b^c&d~e\\f\n第二行"
    segment = lab._Segment("OBX", ["OBX", lab.escape(text)], 1, ("~", "^", "&", "|"), "\\")
    assert segment.text(1) == text
    assert segment.unescape("\\XE5BC A0\\".replace(" ", "")) == "张"  # hex escapes are UTF-8 bytes
    assert segment.unescape("\\H\\强调\\N\\") == "强调"


def test_the_code_table_is_consistent():
    table = lab.load_catalogue()
    assert len(table.codes) >= 30
    for code in table.codes:
        assert lab.loinc_valid(code.loinc), code
        assert code.source, code
        if code.value_type == "NM":
            assert code.unit and code.decimals is not None, code
            assert code.ref or (code.ref_male and code.ref_female), code
    # the tests the exam types and critical rules name are known
    for loinc in ("2823-3", "2951-2", "14749-6", "2345-7", "14682-9", "2160-0", "6690-2", "718-7", "777-3",
                  "10839-9", "4548-4", "2000-8"):
        assert loinc in table.by_loinc, loinc
    assert table.local("", "血钾").loinc == "2823-3"
    assert table.local("cTnI", "").loinc == "10839-9"


def test_the_ack_is_read_back_by_python_hl7():
    header = lab.Header(control_id="C-9", sending_application="LIS", sending_facility="检验科", version="2.4")
    error = lab.Hl7Error(102, "第1个结果 (OBX 1)：值|不是^数字", segment="OBX", sequence=1, field=5)
    ack = hl7.parse(lab.make_ack(header, "AE", error=error))
    assert str(ack.segment("MSH")[9]) == "ACK^R01^ACK"
    assert str(ack.segment("MSH")[5]) == "LIS"
    assert str(ack.segment("MSA")[1]) == "AE" and str(ack.segment("MSA")[2]) == "C-9"
    err = ack.segment("ERR")
    assert str(err[3]) == "102^Data type error^HL70357"
    assert str(err[2]) == "OBX^1^5^1"
    assert ack.unescape(str(err[8])) == "第1个结果 (OBX 1)：值|不是^数字"
