"""Reports: a second reading by another senior reader, every version kept on revision, the conclusion in the
shared record (an Observation, amended on revision) and the request on the resident's timeline; lab results
from HL7 become observations, a report and, when beyond a rule, critical values."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from tests.diagnostics.helpers import AT
from tests.diagnostics.services_flow import MINUTE, acquire, claim, move, order, publish, reported, second_reader

from countycare.core.errors import Conflict, InvalidInput, PermissionDenied
from countycare.core.models import AuditEvent
from countycare.diagnostics import queries, services
from countycare.diagnostics.models import CriticalAlert, ExamRequest, ExamStatus, Report, ReportStatus
from countycare.records import queries as records_queries
from countycare.records.models import Observation


def test_a_second_reading_is_given_by_another_senior_reader_and_both_are_named(dx):
    second_reader(dx)
    request = move(dx, order(dx, "ECG12"), ExamStatus.CLAIMED)
    preliminary = publish(dx, request, second_reading=True, conclusion="窦性心律，T波改变？")
    assert preliminary.status == ReportStatus.PRELIMINARY and preliminary.published_at is None
    request.refresh_from_db()
    assert request.status == ExamStatus.SECOND_READING and request.reported_at is None
    assert not request.observations.exists()  # nothing reaches the record before the second reading
    with pytest.raises(PermissionDenied) as own:
        claim(dx, request)
    assert "自己" in own.value.message
    claim(dx, request, by="second_reader")
    final = publish(dx, request, by="second_reader", conclusion="窦性心律，下壁T波低平")
    assert (final.status, final.version, final.author, final.verifier) == (
        ReportStatus.FINAL, 2, dx.practitioners["centre_reader"], dx.practitioners["second_reader"])
    preliminary.refresh_from_db()
    assert (preliminary.status, preliminary.current) == (ReportStatus.SUPERSEDED, False)
    assert [r.version for r in queries.reports_of(request)] == [2, 1]


def test_a_second_reader_who_gives_the_item_back_returns_it_to_second_reading(dx):
    second_reader(dx)
    request = move(dx, order(dx), ExamStatus.SECOND_READING)
    claim(dx, request, by="second_reader")
    released = services.release(user=dx.users["second_reader"], request=request, expected_version=request.version,
                                now=AT)
    assert released.status == ExamStatus.SECOND_READING


def test_publishing_puts_the_conclusion_in_the_shared_record_and_the_request_on_the_timeline(dx):
    request = move(dx, order(dx, "ECG12"), ExamStatus.CLAIMED)
    report = publish(dx, request, conclusion="窦性心律，正常心电图", at=AT + 12 * MINUTE)
    request.refresh_from_db()
    assert (request.status, request.reported_at) == (ExamStatus.PUBLISHED, AT + 12 * MINUTE)
    assert report.published_at == AT + 12 * MINUTE and report.author == dx.practitioners["centre_reader"]
    observation = request.observations.get()
    assert (observation.category, observation.code, observation.value_text, observation.status) == (
        "exam", "11524-6", "窦性心律，正常心电图", "final")
    assert observation.effective_at == request.acquired_at and observation.resident == request.resident
    assert observation.organization == dx.orgs["lead"]
    items = records_queries.timeline(dx.users["village_doctor"], request.resident, channel="web")
    exam = next(i for i in items if i.kind == "exam")
    assert exam.obj == request and "窦性心律，正常心电图" in exam.detail and request.accession_number in exam.detail
    assert exam.url == f"/exams/{request.uuid}/"
    assert any(i.kind == "observation" and i.obj == observation for i in items)


def test_a_revision_adds_a_version_keeps_every_other_and_amends_the_record(dx):
    request = reported(dx, "ECG12")
    first = request.reports.get()
    with pytest.raises(InvalidInput):
        services.revise_report(user=dx.users["centre_reader"], request=request, findings="所见", conclusion="改",
                               reason="", expected_version=request.version, now=AT)
    revised = services.revise_report(user=dx.users["centre_reader"], request=request, findings="所见（复核）",
                                     conclusion="窦性心动过缓", reason="复核心率计算有误",
                                     expected_version=request.version, now=AT + dt.timedelta(days=2))
    again = services.revise_report(user=dx.users["centre_reader"], request=request, findings="所见（再次复核）",
                                   conclusion="窦性心动过缓，一度房室传导阻滞", reason="PR间期补充",
                                   expected_version=request.version, now=AT + dt.timedelta(days=3))
    versions = list(Report.objects.filter(request=request).order_by("version").values_list(
        "version", "status", "current", "conclusion"))
    assert versions == [
        (1, ReportStatus.SUPERSEDED, False, first.conclusion),
        (2, ReportStatus.SUPERSEDED, False, "窦性心动过缓"),
        (3, ReportStatus.AMENDED, True, "窦性心动过缓，一度房室传导阻滞"),
    ]
    assert (revised.revision_reason, again.revision_reason) == ("复核心率计算有误", "PR间期补充")
    # the window of recognition still counts from the first publication: the exam is no newer
    assert again.recognised_until == first.recognised_until == AT + dt.timedelta(days=7)
    observation = request.observations.get()
    assert (observation.value_text, observation.status) == ("窦性心动过缓，一度房室传导阻滞", "amended")
    request.refresh_from_db()
    assert request.reported_at == AT and request.status == ExamStatus.PUBLISHED
    assert AuditEvent.objects.filter(object_id=str(request.uuid), action="revise").count() == 2


def test_someone_who_does_not_read_for_the_centre_cannot_revise(dx):
    request = reported(dx)
    with pytest.raises(PermissionDenied):
        services.revise_report(user=dx.users["county_specialist"], request=request, findings="x", conclusion="y",
                               reason="z", expected_version=request.version, now=AT)
    assert request.reports.count() == 1


def test_a_report_from_a_template_names_it_and_an_unknown_template_is_refused(dx):
    request = move(dx, order(dx, "ECG12"), ExamStatus.CLAIMED)
    with pytest.raises(InvalidInput):
        publish(dx, request, template_code="no-such-template")
    with pytest.raises(InvalidInput):  # a template of another kind of centre
        publish(dx, request, template_code="xr-chest-normal")
    assert publish(dx, request, template_code="ecg-normal").template_code == "ecg-normal"


def test_get_request_is_audited_and_shows_every_version(dx):
    request = reported(dx)
    shown = queries.get_request(dx.users["village_doctor"], request.uuid, channel="api")
    assert shown == request and [r.version for r in shown.reports.all()] == [1]
    assert AuditEvent.objects.filter(object_id=str(request.uuid), action="read", channel="api").count() == 1


# --- laboratory results ------------------------------------------------------------------------------------

def result(code: str, display: str, value: str, unit: str, low: str | None, high: str | None, **extra):
    return {"code": code, "display": display, "value": Decimal(value), "unit": unit,
            "reference_low": None if low is None else Decimal(low),
            "reference_high": None if high is None else Decimal(high), "interpretation": "",
            "observed_at": AT + 30 * MINUTE, **extra}


BMP = [result("2823-3", "钾", "4.1", "mmol/L", "3.5", "5.3"), result("2951-2", "钠", "150", "mmol/L", "137", "147"),
       result("14749-6", "葡萄糖", "5.2", "mmol/L", "3.9", "6.1")]


def test_lab_results_become_observations_and_a_published_report(dx):
    request = order(dx, "BMP")
    report = services.publish_lab_results(request=request, results=BMP, verifier=dx.practitioners["centre_reader"],
                                          now=AT + 40 * MINUTE, received_at=AT + 10 * MINUTE)
    request.refresh_from_db()
    assert (request.status, request.acquired_at, request.reported_at) == (
        ExamStatus.PUBLISHED, AT + 10 * MINUTE, AT + 40 * MINUTE)
    assert (report.status, report.version, report.author, report.critical) == (
        ReportStatus.FINAL, 1, dx.practitioners["centre_reader"], False)
    assert "钠 150 mmol/L（参考 137–147） ↑" in report.findings and report.conclusion == "异常：钠↑"
    rows = {o.code: o for o in request.observations.all()}
    assert set(rows) == {"2823-3", "2951-2", "14749-6"}
    assert (rows["2951-2"].category, rows["2951-2"].value_quantity, rows["2951-2"].interpretation) == (
        "laboratory", Decimal("150"), "H")
    assert rows["2823-3"].effective_at == AT + 30 * MINUTE
    assert AuditEvent.objects.filter(action="create", object_type="Observation").count() == 3


def test_a_repeat_message_amends_the_results_and_the_report(dx):
    request = order(dx, "BMP")
    services.publish_lab_results(request=request, results=BMP, now=AT + 40 * MINUTE)
    corrected = [*BMP[:1], result("2951-2", "钠", "140", "mmol/L", "137", "147"), BMP[2]]
    amended = services.publish_lab_results(request=request, results=corrected, now=AT + 60 * MINUTE)
    assert (amended.status, amended.version, amended.current) == (ReportStatus.AMENDED, 2, True)
    assert amended.conclusion == "所列项目均在参考范围内"
    sodium = Observation.objects.get(exam_requests=request, code="2951-2")
    assert (sodium.value_quantity, sodium.interpretation, sodium.status) == (Decimal("140"), "N", "amended")
    assert request.observations.count() == 3
    with pytest.raises(Conflict):
        services.publish_lab_results(request=request, results=BMP, final=False, now=AT + 70 * MINUTE)


def test_preliminary_results_wait_for_the_final_ones_but_raise_a_critical_value_at_once(dx):
    request = order(dx, "BMP")
    high_k = [result("2823-3", "钾", "6.8", "mmol/L", "3.5", "5.3")]
    preliminary = services.publish_lab_results(request=request, results=high_k, final=False, now=AT + 35 * MINUTE)
    request.refresh_from_db()
    assert preliminary.status == ReportStatus.PRELIMINARY and request.status == ExamStatus.ACQUIRED
    assert not request.observations.exists()
    alert = CriticalAlert.objects.get(request=request)
    assert alert.finding == "血钾 K 6.8 mmol/L (> 6.2)" and alert.rule.code == "2823-3"
    final = services.publish_lab_results(request=request, results=[*high_k, *BMP[1:]], now=AT + 50 * MINUTE)
    assert final.status == ReportStatus.FINAL and final.critical
    assert CriticalAlert.objects.filter(request=request).count() == 1  # one alert per rule and request


@pytest.mark.parametrize("results", [[], [{"code": "2823-3"}], [BMP[0], BMP[0]],
                                     [{**BMP[0], "value": Decimal("1e20")}], [{**BMP[0], "observed_at": AT.replace(
                                         year=2030)}], [{**BMP[0], "reference_low": "abc"}]])
def test_bad_lab_results_are_refused_whole(dx, results):
    request = order(dx, "BMP")
    with pytest.raises(InvalidInput):
        services.publish_lab_results(request=request, results=results, now=AT)
    assert ExamRequest.objects.get(pk=request.pk).status == ExamStatus.REQUESTED
    assert not Observation.objects.exists() and not Report.objects.exists()


def test_lab_results_for_an_ecg_request_are_refused(dx):
    request = acquire(dx, order(dx, "ECG12"))
    with pytest.raises(InvalidInput):
        services.publish_lab_results(request=request, results=BMP, now=AT)
