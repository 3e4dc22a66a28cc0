"""In a real browser (Debian Chromium), an ECG from request to published report: the village doctor requests a
12-lead ECG for 张三 from his timeline and uploads the machine's WFDB pair; the centre's reader claims it from
the worklist, sees the tracing and the pre-read, picks a template and publishes; the village doctor finds the
report in the clinic's requests and prints it. A second test shows a critical value arriving on the doctor's
home page by the htmx poll, without a reload, and its acknowledgement.

Each step is photographed (COUNTYCARE_FLOW_SCREENSHOTS=dir keeps the pictures)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.conftest import PASSWORD, allow_flush_after_test, build_county
from tests.diagnostics.helpers import ensure_exam_types, make_centres
from tests.web.conftest import chromium, page, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


@pytest.fixture
def live_dx(request, transactional_db, django_db_blocker):
    """The test county with its centres, committed so the live server's thread sees it."""
    county = build_county()
    county.centres = make_centres(county)
    county.exam_types = ensure_exam_types()
    yield county
    allow_flush_after_test(request, django_db_blocker)


@pytest.fixture
def shots(tmp_path):
    out = Path(os.environ.get("COUNTYCARE_FLOW_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)

    def shot(page, name: str) -> None:  # noqa: F811 - the page fixture's name
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(out / f"{name}.png"), full_page=True)

    shot.dir = out
    return shot


def switch_user(page, base: str, username: str) -> None:  # noqa: F811
    page.context.clear_cookies()
    sign_in(page, base, username, PASSWORD)


def test_an_ecg_from_the_village_request_to_the_published_report(live_dx, live_server, page, shots, tmp_path):  # noqa: F811
    from countycare.diagnostics import ecg
    from countycare.diagnostics.models import ExamRequest, Report

    dx = live_dx
    base = live_server.url
    zhang = dx.residents["zhang_san"]

    # -- the village doctor requests an ECG from 张三's timeline
    sign_in(page, base, "village_doctor", PASSWORD)
    page.goto(f"{base}/patients/{zhang.uuid}/")
    page.click("[data-testid=request-exam]")
    page.wait_for_url("**/exams/new/")
    page.select_option("[data-testid=exam-type]", str(dx.exam_types["ECG12"].pk))
    page.check("input[name=priority][value=urgent]")
    page.fill("textarea[name=clinical_question]", "活动后心悸、胸闷半天，既往高血压。")
    shots(page, "dx-01-request-form")
    page.click("[data-testid=send-request]")
    page.wait_for_url("**/exams/*-*/")
    exam = ExamRequest.objects.get()
    assert exam.status == "requested" and exam.priority == "urgent"
    shots(page, "dx-02-requested")

    # -- the ECG machine's WFDB pair, uploaded from the clinic's computer
    recording = ecg.simulate(heart_rate=112, rhythm="sinus", seed=3)
    header, data = ecg.write_wfdb(recording, "zs0001")
    (tmp_path / "zs0001.hea").write_bytes(header)
    (tmp_path / "zs0001.dat").write_bytes(data)
    page.set_input_files("[data-testid=upload-files]", [str(tmp_path / "zs0001.hea"), str(tmp_path / "zs0001.dat")])
    page.click("[data-testid=send-acquisition]")
    page.locator("#tracing svg").wait_for()
    assert "已采集，待诊断" in page.locator("[data-testid=exam-status]").first.inner_text()
    shots(page, "dx-03-acquired-with-tracing")

    # -- the reader on duty claims it from the worklist
    switch_user(page, base, "centre_reader")
    page.click("nav.sidenav >> text=诊断中心")
    page.locator("[data-testid=centres] a", has_text="心电诊断中心").first.click()
    row = page.locator("[data-testid=worklist-row]", has_text=exam.accession_number)
    row.wait_for()
    assert "张三" in row.inner_text() and "加急" in row.inner_text()
    shots(page, "dx-04-worklist")
    row.locator("[data-testid=claim]").click()
    page.wait_for_url("**/centres/exams/*-*/")
    page.locator("#tracing svg polyline").first.wait_for()
    pre_read = page.locator("[data-testid=pre-read]")
    assert "辅助参考，非诊断" in pre_read.inner_text()
    heart_rate = int(page.locator("[data-testid=pre-read-hr]").inner_text())
    assert 105 <= heart_rate <= 119
    shots(page, "dx-05-reading-page")

    # -- a template fills the report; the reader completes and publishes it
    page.select_option("[data-testid=template-picker]", "ecg-sinus-tachy")
    findings = page.locator("textarea[name=findings]")
    assert "窦性心律" in findings.input_value()
    findings.fill(findings.input_value().replace("心率__次/分", f"心率{heart_rate}次/分").replace("__", "—"))
    assert page.locator("textarea[name=conclusion]").input_value() == "窦性心动过速"
    shots(page, "dx-06-template-picked")
    page.click("[data-testid=publish]")
    page.locator("[data-testid=report]").wait_for()
    assert "已发布报告" in page.locator("body").inner_text()
    shots(page, "dx-07-published")
    report = Report.objects.get(request=exam)
    assert (report.status, report.conclusion, report.template_code) == ("final", "窦性心动过速", "ecg-sinus-tachy")

    # -- the village doctor sees the report in the clinic's requests and prints it
    switch_user(page, base, "village_doctor")
    page.click("nav.sidenav >> text=检查申请")
    result = page.locator("[data-testid=requests-table] [data-testid=result-link]", has_text="窦性心动过速")
    result.wait_for()
    shots(page, "dx-08-clinic-requests")
    result.click()
    page.locator("[data-testid=report-sheet]").wait_for()
    page.locator("[data-testid=report-tracing] svg").wait_for()
    assert page.locator("[data-testid=report-conclusion]").inner_text() == "窦性心动过速"
    shots(page, "dx-09-report-sheet")
    page.set_viewport_size({"width": 900, "height": 1270})  # about an A4 page
    page.emulate_media(media="print")
    shots(page, "dx-10-report-print")
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")
    page.emulate_media(media="screen")


def test_a_critical_value_appears_on_the_doctor_s_home_without_a_reload(live_dx, live_server, page, shots):  # noqa: F811
    from tests.diagnostics.test_pages_helpers import claimed, fresh

    from countycare.diagnostics import services
    from countycare.diagnostics.models import AlertStatus, CriticalAlert

    dx = live_dx
    base = live_server.url
    exam = claimed(dx, heart_rate=36, rhythm="brady")
    sign_in(page, base, "village_doctor", PASSWORD)
    page.goto(f"{base}/")
    page.locator("[data-testid=exam-counts]").wait_for()
    assert page.locator("[data-testid=critical-alert]").count() == 0

    services.write_report(user=dx.users["centre_reader"], request=exam, findings="窦性心动过缓，心室率36次/分",
                          conclusion="严重窦性心动过缓", critical=True,
                          critical_finding="严重心动过缓（心室率36次/分）", expected_version=fresh(exam).version)
    alert = page.locator("[data-testid=critical-alert]", has_text="严重心动过缓")
    alert.wait_for(timeout=30_000)  # the htmx poll runs every 20 seconds
    shots(page, "dx-11-critical-value-on-home")
    alert.locator("input[name=action_taken]").fill("已电话通知患者立即到乡镇卫生院急诊")
    alert.locator("[data-testid=acknowledge]").click()
    page.locator(".alert-success").wait_for()
    assert page.locator("[data-testid=critical-alert]").count() == 0
    shots(page, "dx-12-critical-value-acknowledged")
    row = CriticalAlert.objects.get(request=exam)
    assert row.status == AlertStatus.ACKNOWLEDGED and row.acknowledged_by == dx.practitioners["village_doctor"]
