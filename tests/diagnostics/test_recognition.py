"""Mutual recognition (结果互认): a quality-controlled centre's result is recognised for the exam type's window
(ECG 7 days in the shipped data) from its first publication. Ordering the exam again inside the window shows
the result and needs a reason; outside it, or from a centre that is not quality-controlled, it does not."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.diagnostics.helpers import AT
from tests.diagnostics.services_flow import order, reported

from countycare.core.errors import InvalidInput
from countycare.core.models import AuditEvent
from countycare.diagnostics import queries, services
from countycare.diagnostics.models import ExamRequest, RecognitionCheck, RecognitionDecision

DAY = dt.timedelta(days=1)


def test_the_shipped_windows_are_the_documented_defaults(dx):
    days = {code: t.recognition_days for code, t in dx.exam_types.items()}
    assert days == {"ECG12": 7, "DR-CHEST": 30, "CT-HEAD": 30, "BMP": 7, "CBC": 7, "TNI": 1, "BIOPSY": 180}


def test_a_result_is_recognised_until_its_window_ends(dx):
    first = reported(dx, "ECG12")
    report = first.reports.get()
    assert report.recognised_until == AT + 7 * DAY
    ecg = dx.exam_types["ECG12"]
    resident = first.resident
    assert queries.recognised_result(resident=resident, exam_type=ecg, at=AT + 6 * DAY) == report
    assert queries.recognised_result(resident=resident, exam_type=ecg, at=AT + 7 * DAY) is None  # until, exclusive
    assert queries.recognised_result(resident=resident, exam_type=ecg, at=AT + 8 * DAY) is None
    assert queries.recognised_result(resident=resident, exam_type=dx.exam_types["BMP"], at=AT + DAY) is None


def test_ordering_again_inside_the_window_shows_the_result_and_creates_nothing(dx):
    first = reported(dx, "ECG12")
    count = ExamRequest.objects.count()
    with pytest.raises(services.RecognisedResultExists) as exists:
        order(dx, "ECG12", by="township_doctor", at=AT + 6 * DAY)
    refused = exists.value
    assert refused.status == 409 and refused.report == first.reports.get()
    assert refused.message.startswith("该居民已有互认有效的十二导联心电图结果") and refused.field == "repeat_reason"
    assert ExamRequest.objects.count() == count and not RecognitionCheck.objects.exists()
    # the result was shown: that is audited
    assert AuditEvent.objects.filter(object_id=str(refused.report.uuid), action="read",
                                     username="township_doctor").count() == 1


def test_a_reason_to_repeat_is_recorded_with_the_result_it_overrode(dx):
    first = reported(dx, "ECG12")
    repeat = order(dx, "ECG12", at=AT + 6 * DAY, repeat_reason="胸痛再发，需复查心电图动态变化")
    assert repeat.recognised_report == first.reports.get() and repeat.repeat_reason.startswith("胸痛再发")
    check = RecognitionCheck.objects.get()
    assert (check.decision, check.reason, check.request, check.report) == (
        RecognitionDecision.REPEATED, repeat.repeat_reason, repeat, first.reports.get())


def test_after_the_window_the_exam_is_simply_ordered(dx):
    reported(dx, "ECG12")
    again = order(dx, "ECG12", at=AT + 8 * DAY, repeat_reason="无关的原因")
    assert again.recognised_report is None and again.repeat_reason == ""
    assert not RecognitionCheck.objects.exists()


def test_a_centre_that_is_not_quality_controlled_is_not_recognised(dx):
    dx.centres["ecg"].quality_controlled = False
    dx.centres["ecg"].save()
    first = reported(dx, "ECG12")
    assert first.reports.get().recognised_until is None
    assert order(dx, "ECG12", at=AT + DAY).recognised_report is None


def test_using_the_recognised_result_counts_an_exam_avoided(dx):
    first = reported(dx, "ECG12")
    report = first.reports.get()
    check = services.use_recognised_result(user=dx.users["township_doctor"], resident=first.resident,
                                           exam_type=dx.exam_types["ECG12"], report=report, now=AT + 2 * DAY)
    assert (check.decision, check.organization, check.report) == (RecognitionDecision.AVOIDED, dx.orgs["east"],
                                                                  report)
    order(dx, "ECG12", at=AT + 3 * DAY, repeat_reason="病情变化")
    with pytest.raises(services.Conflict):  # out of the window by then
        services.use_recognised_result(user=dx.users["township_doctor"], resident=first.resident,
                                       exam_type=dx.exam_types["ECG12"], report=report, now=AT + 9 * DAY)
    counts = queries.recognition_counts(dx.community.pk, since=AT, until=AT + 10 * DAY)
    assert counts == {"avoided": 1, "repeated": 1}
    assert queries.recognition_counts(dx.community.pk, since=AT + 5 * DAY, until=AT + 10 * DAY) == {
        "avoided": 0, "repeated": 0}


def test_a_repeat_reason_that_is_too_long_is_refused(dx):
    reported(dx, "ECG12")
    with pytest.raises(InvalidInput):
        order(dx, "ECG12", at=AT + DAY, repeat_reason="x" * 201)
