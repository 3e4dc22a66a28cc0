"""HL7 ORU^R01 ingestion: a good message lands as coded observations and a published request; a broken one is
refused whole with AE/AR and an ERR segment, and the database is unchanged; a repeated control ID is
acknowledged again without storing twice; MLLP framing, other segment separators and GB 18030 are read."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from tests.diagnostics.test_hl7_fixtures import (
    ack_fields,
    counts,
    good_message,
    lab_request,
    replace_segment,
    segment,
    set_field,
)

from countycare.diagnostics import lab
from countycare.diagnostics.models import ExamRequest, ExamStatus, Report, ReportStatus
from countycare.records.models import Observation


@pytest.fixture
def bmp(dx):
    return lab_request(dx)


def reader(dx):
    return dx.users["centre_reader"]


def test_a_good_message_is_stored_as_coded_observations_and_publishes_the_request(dx, bmp):
    message = good_message(bmp, verifier=dx.practitioners["centre_reader"])
    outcome = lab.receive(message, actor=reader(dx))

    assert outcome.code == "AA", outcome.ack
    fields = ack_fields(outcome.ack)
    assert fields["MSA"][1:3] == ["AA", "MSG0001"]
    assert fields["MSH"][8] == "ACK^R01^ACK" and fields["MSH"][4] == "LIS"
    assert "ERR" not in fields
    bmp.refresh_from_db()
    assert bmp.status == ExamStatus.PUBLISHED
    observations = {o.code: o for o in Observation.objects.filter(resident=bmp.resident)}
    assert set(observations) == {"2823-3", "2951-2", "14749-6", "14682-9"}  # local GLU/CREA coded in LOINC
    potassium = observations["2823-3"]
    assert potassium.value_quantity == Decimal("4.1") and potassium.unit == "mmol/L"
    assert (potassium.reference_low, potassium.reference_high) == (Decimal("3.5"), Decimal("5.3"))
    assert potassium.interpretation == "N" and potassium.category == "laboratory"
    creatinine = observations["14682-9"]
    assert creatinine.unit == "umol/L" and creatinine.interpretation == "H"
    assert set(bmp.observations.values_list("code", flat=True)) == set(observations)
    report = Report.objects.get(request=bmp, current=True)
    assert report.status == ReportStatus.FINAL
    assert report.verifier == dx.practitioners["centre_reader"]
    assert outcome.reports == [report]


def test_default_reference_ranges_follow_the_patients_sex(dx):
    request = lab_request(dx, code="CBC", resident="zeng_li")  # a woman
    message = lab.make_oru(request, [{"code": "HGB", "value": Decimal("120"), "system": "99LIS", "reference": ""},
                                     {"code": "WBC", "value": Decimal("11.2"), "system": "99LIS", "unit": "10^9/L",
                                      "reference": ""}], control_id="CBC1")
    assert lab.receive(message, actor=reader(dx)).code == "AA"
    hb = Observation.objects.get(code="718-7")
    assert (hb.reference_low, hb.reference_high, hb.unit, hb.interpretation) == (Decimal(115), Decimal(150), "g/L",
                                                                                "N")
    wbc = Observation.objects.get(code="6690-2")
    assert (wbc.unit, wbc.interpretation) == ("10*9/L", "H")


def test_glucose_in_mg_per_dl_is_converted_to_mmol_per_l_with_its_range(dx, bmp):
    results = [{"code": "2345-7", "value": Decimal("100"), "unit": "mg/dL", "reference": "70-110"}]
    bmp.exam_type = dx.exam_types["BMP"]
    outcome = lab.receive(good_message(bmp, results=results), actor=reader(dx))
    assert outcome.code == "AA", outcome.ack
    glucose = Observation.objects.get(resident=bmp.resident)
    # 100 mg/dL × 0.05551 = 5.551 → 5.55 mmol/L; recoded from the mass code 2345-7 to 14749-6
    assert (glucose.code, glucose.value_quantity, glucose.unit) == ("14749-6", Decimal("5.55"), "mmol/L")
    assert (glucose.reference_low, glucose.reference_high) == (Decimal("3.89"), Decimal("6.11"))


def test_a_corrected_result_for_a_published_request_amends_the_report(dx, bmp):
    first = good_message(bmp, control_id="V1")
    assert lab.receive(first, actor=reader(dx)).code == "AA"
    corrected = good_message(bmp, control_id="V2", results=[{"code": "2823-3", "value": Decimal("4.4")}],
                             status="C")
    outcome = lab.receive(corrected, actor=reader(dx))
    assert outcome.code == "AA", outcome.ack
    reports = list(Report.objects.filter(request=bmp).order_by("version"))
    assert [r.version for r in reports] == [1, 2]
    assert reports[-1].current and reports[-1].status == ReportStatus.AMENDED


def test_preliminary_results_do_not_publish(dx, bmp):
    outcome = lab.receive(good_message(bmp, status="P"), actor=reader(dx))
    assert outcome.code == "AA", outcome.ack
    bmp.refresh_from_db()
    assert bmp.status != ExamStatus.PUBLISHED
    assert Report.objects.get(request=bmp).status == ReportStatus.PRELIMINARY


# --- broken messages -------------------------------------------------------------------------------------------

def _bad_obx(message: str, n: int, field_no: int, value: str) -> str:
    return set_field(message, "OBX", field_no, value, occurrence=n)


BROKEN = {
    # name: (change to the good message, expected MSA-1, HL7 error code, location segment)
    "missing MSH": (lambda m, r: replace_segment(m, "MSH", None), "AR", 100, "PID"),
    "wrong message type": (lambda m, r: set_field(m, "MSH", 9, "ADT^A01^ADT_A01"), "AR", 200, "MSH"),
    "wrong event": (lambda m, r: set_field(m, "MSH", 9, "ORU^R30"), "AR", 201, "MSH"),
    "unsupported version": (lambda m, r: set_field(m, "MSH", 12, "2.7"), "AR", 203, "MSH"),
    "training message": (lambda m, r: set_field(m, "MSH", 11, "T"), "AR", 202, "MSH"),
    "no control ID": (lambda m, r: set_field(m, "MSH", 10, ""), "AR", 101, "MSH"),
    "bad encoding characters": (lambda m, r: m.replace("MSH|^~\\&|", "MSH|^~|", 1), "AR", 102, "MSH"),
    "unknown accession": (lambda m, r: set_field(set_field(m, "OBR", 2, "NOPE-1"), "OBR", 3, "NOPE-1"), "AE", 204,
                          "OBR"),
    "PID national ID of someone else": (
        lambda m, r: set_field(m, "PID", 3, "330122199008080035^^^CHN^NN"), "AE", 204, "PID"),
    "PID national ID with a wrong check digit": (
        lambda m, r: set_field(m, "PID", 3, r.resident.national_id[:17] + (
            "0" if r.resident.national_id[17] != "0" else "1") + "^^^CHN^NN"), "AE", 102, "PID"),
    "PID name of someone else": (lambda m, r: set_field(m, "PID", 5, "李^四"), "AE", 204, "PID"),
    "PID birth date differs": (lambda m, r: set_field(m, "PID", 7, "19610501"), "AE", 204, "PID"),
    "PID without identifiers": (lambda m, r: set_field(m, "PID", 3, ""), "AE", 101, "PID"),
    "PID only with an identifier we cannot check": (lambda m, r: set_field(m, "PID", 3, "LIS-778^^^LIS^MR"), "AE",
                                                    204, "PID"),
    "non-numeric NM": (lambda m, r: _bad_obx(m, 4, 5, "12O"), "AE", 102, "OBX"),
    "unknown unit": (lambda m, r: _bad_obx(m, 1, 6, "mg/dL^^UCUM"), "AE", 103, "OBX"),
    "missing unit": (lambda m, r: _bad_obx(m, 2, 6, ""), "AE", 101, "OBX"),
    "empty OBX-3": (lambda m, r: _bad_obx(m, 2, 3, ""), "AE", 101, "OBX"),
    "unknown local code": (lambda m, r: _bad_obx(m, 2, 3, "XYZ^某项目^99LIS"), "AE", 103, "OBX"),
    "LOINC with a wrong check digit": (lambda m, r: _bad_obx(m, 1, 3, "2823-4^钾^LN"), "AE", 102, "OBX"),
    "the same test twice": (lambda m, r: _bad_obx(m, 2, 3, "2823-3^钾^LN"), "AE", 205, "OBX"),
    "bad value type": (lambda m, r: _bad_obx(m, 1, 2, "ED"), "AE", 103, "OBX"),
    "bad reference range": (lambda m, r: _bad_obx(m, 1, 7, "normal"), "AE", 102, "OBX"),
    "bad abnormal flag": (lambda m, r: _bad_obx(m, 1, 8, "X"), "AE", 103, "OBX"),
    "bad result status": (lambda m, r: _bad_obx(m, 1, 11, "X"), "AE", 103, "OBX"),
    "missing result status": (lambda m, r: _bad_obx(m, 1, 11, ""), "AE", 101, "OBX"),
    "missing value": (lambda m, r: _bad_obx(m, 3, 5, ""), "AE", 101, "OBX"),
    "observation time in the future": (
        lambda m, r: _bad_obx(m, 1, 14, lab.format_ts(timezone.now() + dt.timedelta(days=1))), "AE", 102, "OBX"),
    "bad observation time": (lambda m, r: _bad_obx(m, 1, 14, "2026-03-02"), "AE", 102, "OBX"),
    "unknown verifier": (lambda m, r: _bad_obx(m, 1, 16, "NO-SUCH-LICENCE^某人"), "AE", 204, "OBX"),
    "OBX before OBR": (lambda m, r: m.replace("\r" + "|".join(segment(m, "OBR")), "").replace(
        "\rOBX|4|", "\r" + "|".join(segment(m, "OBR")) + "\rOBX|4|"), "AE", 100, "OBX"),
    "PID after OBR": (lambda m, r: replace_segment(m, "PID", None).replace(
        "\rOBX|1|", "\r" + "|".join(segment(m, "PID")) + "\rOBX|1|"), "AE", 100, "ORC"),
    "ORC without OBR": (lambda m, r: replace_segment(m, "OBR", None), "AE", 100, "OBX"),
    "OBR without OBX": (lambda m, r: "\r".join(s for s in m.split("\r") if not s.startswith("OBX")), "AE", 100,
                        "OBR"),
    "unknown segment": (lambda m, r: m + "XYZ|1|2\r", "AE", 100, "XYZ"),
    "two messages in one body": (lambda m, r: m + m.replace("MSG0001", "MSG0002"), "AR", 100, "MSH"),
    "OBR-4 is another exam": (lambda m, r: set_field(m, "OBR", 4, "58410-2^血常规^LN"), "AE", 207, "OBR"),
    "no order number": (lambda m, r: set_field(set_field(m, "OBR", 2, ""), "OBR", 3, ""), "AE", 101, "OBR"),
    "empty body": (lambda m, r: "", "AR", 100, ""),
    "not HL7 at all": (lambda m, r: '{"resourceType": "Observation"}', "AR", 100, ""),
}


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_a_broken_message_is_refused_whole_and_nothing_is_stored(dx, bmp, case):
    change, ack_code, error_code, where = BROKEN[case]
    message = change(good_message(bmp, verifier=dx.practitioners["centre_reader"]), bmp)
    before = counts()

    outcome = lab.receive(message, actor=reader(dx))

    assert outcome.code == ack_code, outcome.ack
    assert outcome.error is not None and outcome.error.code == error_code, outcome.error
    fields = ack_fields(outcome.ack)
    assert fields["MSA"][1] == ack_code
    err = fields["ERR"]
    assert err[3].split("^")[0] == str(error_code) and err[3].endswith("HL70357")
    assert err[2].split("^")[0] == where
    assert err[4] == "E"
    text = err[8]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text) and "(" in text  # Chinese, then English
    assert 400 <= outcome.http_status < 500
    assert counts() == before
    bmp.refresh_from_db()
    assert bmp.status == ExamStatus.ACQUIRED


def test_the_ack_echoes_the_control_id_of_a_refused_message(dx, bmp):
    message = set_field(good_message(bmp, control_id="CTL-42"), "OBX", 5, "abc")
    fields = ack_fields(lab.ingest(message, actor=reader(dx)))
    assert fields["MSA"][1:3] == ["AE", "CTL-42"]
    assert "abc" in fields["MSA"][3] and "NM" in fields["MSA"][3]


@pytest.mark.parametrize("status", [ExamStatus.CANCELLED, ExamStatus.RETURNED])
def test_a_request_that_cannot_take_results_refuses_the_message(dx, status):
    request = lab_request(dx, status=status)
    before = counts()
    outcome = lab.receive(good_message(request), actor=reader(dx))
    assert (outcome.code, outcome.error.code, outcome.http_status) == ("AE", 207, 409)
    assert counts() == before


def test_results_for_an_ecg_request_are_refused(dx):
    request = lab_request(dx, code="ECG12")
    outcome = lab.receive(good_message(request), actor=reader(dx))
    assert (outcome.code, outcome.error.code) == ("AE", 207)
    assert Observation.objects.count() == 0


# --- who may send ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["village_doctor", "county_specialist", "bureau_viewer", "resident"])
def test_only_centre_staff_and_administrators_may_send(dx, bmp, who):
    outcome = lab.receive(good_message(bmp), actor=dx.users[who])
    assert (outcome.code, outcome.error.code, outcome.http_status) == ("AR", 207, 403)
    assert ack_fields(outcome.ack)["MSA"][2] == "MSG0001"
    assert Observation.objects.count() == 0


@pytest.mark.parametrize("who", ["centre_reader", "community_admin", None])
def test_centre_readers_administrators_and_the_system_may_send(dx, bmp, who):
    actor = dx.users[who] if who else None
    assert lab.receive(good_message(bmp), actor=actor).code == "AA"


def test_a_reader_of_another_community_may_not_send(dx, bmp, other_community):
    from countycare.accounts.models import User

    stranger = User.objects.create_user(username="other_reader", role="centre_reader",
                                        community=other_community["organization"].community,
                                        organization=other_community["organization"])
    outcome = lab.receive(good_message(bmp), actor=stranger)
    assert (outcome.code, outcome.http_status) == ("AR", 403)
    assert Observation.objects.count() == 0


# --- duplicates, framing, encodings ----------------------------------------------------------------------------

def test_a_repeated_control_id_gets_the_same_ack_and_stores_nothing_twice(dx, bmp):
    message = good_message(bmp)
    first = lab.receive(message, actor=reader(dx))
    after_first = counts()
    again = lab.receive(message, actor=reader(dx))
    restamped = lab.receive(set_field(message, "MSH", 7, "20260302101010"), actor=reader(dx))
    assert first.code == again.code == restamped.code == "AA"
    assert again.ack == first.ack == restamped.ack and again.replayed and restamped.replayed
    assert counts() == after_first


def test_a_used_control_id_on_another_message_is_refused(dx, bmp):
    assert lab.receive(good_message(bmp), actor=reader(dx)).code == "AA"
    other = good_message(bmp, results=[{"code": "2823-3", "value": Decimal("5.0")}], status="C")
    before = counts()
    outcome = lab.receive(other, actor=reader(dx))
    assert (outcome.code, outcome.error.code, outcome.http_status) == ("AE", 205, 409)
    assert counts() == before


def test_the_same_control_id_from_another_sender_is_another_message(dx, bmp):
    second = lab_request(dx)
    assert lab.receive(good_message(bmp), actor=reader(dx)).code == "AA"
    outcome = lab.receive(good_message(second, sending_application="LIS2"), actor=reader(dx))
    assert outcome.code == "AA" and not outcome.replayed


@pytest.mark.parametrize("separator", ["\r", "\n", "\r\n"])
def test_mllp_framing_and_any_segment_separator_are_accepted(dx, bmp, separator):
    message = good_message(bmp, segment_separator=separator)
    outcome = lab.receive(lab.frame(message), actor=reader(dx))
    assert outcome.code == "AA", outcome.ack
    assert Observation.objects.filter(resident=bmp.resident).count() == 4


def test_gb18030_is_read_when_msh18_declares_it(dx, bmp):
    message = good_message(bmp).replace("UNICODE UTF-8", "GB 18030-2000")
    outcome = lab.receive(message.encode("gb18030"), actor=reader(dx))
    assert outcome.code == "AA", outcome.ack


def test_bytes_that_are_not_utf8_without_a_declaration_are_refused(dx, bmp):
    message = good_message(bmp).replace("|UNICODE UTF-8", "|")
    outcome = lab.receive(message.encode("gb18030"), actor=reader(dx))
    assert (outcome.code, outcome.error.code) == ("AR", 102)


def test_escaped_characters_and_structured_numbers(dx):
    request = lab_request(dx, code="TNI")
    message = lab.make_oru(request, [{"code": "10839-9", "value": ("<", "0.01"), "value_type": "SN"}],
                           control_id="TNI-1")
    outcome = lab.receive(message, actor=reader(dx))
    assert outcome.code == "AA", outcome.ack
    troponin = Observation.objects.get(code="10839-9")
    assert troponin.value_quantity is None and troponin.value_text == "<0.01"
    other = lab_request(dx, code="TNI")
    text = lab.make_oru(other, [{"code": "10839-9", "value": "溶血|标本^重采", "value_type": "ST"}],
                        control_id="TNI-2")
    assert lab.receive(text, actor=reader(dx)).code == "AA"
    assert Observation.objects.get(code="10839-9", value_text__startswith="溶血").value_text == "溶血|标本^重采"


# --- batches ---------------------------------------------------------------------------------------------------

def test_ingest_many_stores_each_good_message_whole_and_refuses_each_bad_one_whole(dx):
    requests = [lab_request(dx) for _ in range(4)]
    good = [good_message(r, control_id=f"B{i}") for i, r in enumerate(requests)]
    bad = set_field(good[2], "OBX", 5, "high", occurrence=3)  # the third OBX of request 2 is broken
    messages = [good[0], good[1], bad, good[3], good[0]]  # … and request 0 once more (a duplicate)

    outcomes = lab.ingest_many(messages, actor=reader(dx))

    assert [o.code for o in outcomes] == ["AA", "AA", "AE", "AA", "AA"]
    assert outcomes[4].ack == outcomes[0].ack
    statuses = list(ExamRequest.objects.filter(pk__in=[r.pk for r in requests]).order_by("pk")
                    .values_list("status", flat=True))
    assert statuses == [ExamStatus.PUBLISHED, ExamStatus.PUBLISHED, ExamStatus.ACQUIRED, ExamStatus.PUBLISHED]
    assert Observation.objects.count() == 12
    assert not Observation.objects.filter(resident=requests[2].resident, exam_requests=requests[2]).exists()


def test_ingest_many_takes_two_messages_for_one_request_in_order(dx, bmp):
    first = good_message(bmp, control_id="S1")
    correction = good_message(bmp, control_id="S2", results=[{"code": "2823-3", "value": Decimal("4.4")}],
                              status="C")
    outcomes = lab.ingest_many([first, correction], actor=reader(dx))
    assert [o.code for o in outcomes] == ["AA", "AA"], [o.ack for o in outcomes]
    assert Report.objects.filter(request=bmp).count() == 2
