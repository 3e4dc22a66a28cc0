"""Every diagnostics page in a real browser with a fortnight of work behind it, photographed for a look by eye
(COUNTYCARE_FLOW_SCREENSHOTS=dir keeps the pictures): the clinic's home with critical values, requests, the
request form meeting a recognised result, lab / imaging (a real Orthanc) / pathology requests, the centres, a
busy worklist, the reading pages of each kind, a second reading, an error shown on the page, the turnaround
board with its ECharts chart, and the reading page in English."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from tests.conftest import PASSWORD, make_resident
from tests.diagnostics.test_browser_exam_flow import live_dx, shots, switch_user  # noqa: F401  (fixtures)
from tests.diagnostics.test_pages_helpers import acquired, claimed, ecg_csv, fresh, published, requested
from tests.diagnostics.test_pages_imaging import dicom_upload
from tests.web.conftest import chromium, page, sign_in, switch_language  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
pytest_plugins = ["tests.diagnostics.orthanc_fixture"]  # fixtures orthanc_server (session) and orthanc


def fortnight_of_ecgs(dx) -> None:
    """Three ECGs a day for two weeks from the township, reported 8–70 minutes after the acquisition."""
    from countycare.diagnostics import services
    from countycare.diagnostics.models import RosterShift

    reader = dx.users["centre_reader"]
    now = timezone.now()
    RosterShift.objects.create(organization=dx.orgs["lead"], centre=dx.centres["ecg"],
                               practitioner=dx.practitioners["centre_reader"], starts_at=now - dt.timedelta(days=15),
                               ends_at=now - dt.timedelta(hours=11))
    delays = [12, 25, 41, 8, 33, 55, 18, 27, 70, 22, 15, 38, 29, 45, 11, 19, 61, 24, 31, 17]
    for day in range(13, 0, -1):
        for slot in range(3):
            i = day * 3 + slot
            resident = make_resident(dx, f"h{i}", f"随访{i:02d}", "east", birth=dt.date(1950 + i % 40, 1 + i % 12, 3),
                                     seq=10 + i % 80)
            start = now - dt.timedelta(days=day, hours=slot * 3 + 1)
            exam = services.request_exam(user=dx.users["township_doctor"], resident=resident,
                                         exam_type=dx.exam_types["ECG12"], clinical_question="高血压随访",
                                         priority="urgent" if slot == 0 else "routine", now=start)
            services.attach_ecg(user=dx.users["township_doctor"], request=exam, now=start + dt.timedelta(minutes=4),
                                files=[services.UploadedFile("ecg.csv", "text/csv", ecg_csv(heart_rate=64 + i % 30))],
                                expected_version=exam.version)
            exam = fresh(exam)
            delay = delays[i % len(delays)]
            services.claim(user=reader, request=exam, expected_version=exam.version,
                           now=start + dt.timedelta(minutes=4 + delay // 2))
            exam = fresh(exam)
            services.write_report(user=reader, request=exam, findings="窦性心律。", conclusion="正常心电图",
                                  expected_version=exam.version, now=start + dt.timedelta(minutes=4 + delay))


def test_every_diagnostics_page_in_chromium(live_dx, live_server, page, shots, orthanc):  # noqa: F811
    from countycare.diagnostics import services
    from countycare.diagnostics.models import CentreReader, ExamStatus, RosterShift

    dx = live_dx
    base = live_server.url
    now = timezone.now()
    fortnight_of_ecgs(dx)

    # today: a report for 张三 (recognised), waiting work of each priority, a critical pre-read, one being read
    published(dx, conclusion="1. 窦性心律 2. 左心室高电压")
    acquired(dx, resident="li_si", user="township_doctor", heart_rate=78)
    acquired(dx, resident="zeng_li", user="township_doctor", heart_rate=36, rhythm="brady")
    acquired(dx, resident="li_si", user="township_doctor", priority="urgent", heart_rate=128, rhythm="af",
             repeat_reason="心悸加重")
    reading = claimed(dx, resident="zeng_li", user="township_doctor", heart_rate=66, repeat_reason="复查")
    # a preliminary report waiting for its second reading by the county specialist, a senior reader on duty
    specialist = dx.practitioners["county_specialist"]
    CentreReader.objects.create(centre=dx.centres["ecg"], practitioner=specialist, senior=True)
    RosterShift.objects.create(organization=dx.orgs["lead"], centre=dx.centres["ecg"], practitioner=specialist,
                               starts_at=now - dt.timedelta(hours=2), ends_at=now + dt.timedelta(hours=6))
    second = claimed(dx, resident="li_si", user="township_doctor", heart_rate=92, repeat_reason="胸痛复查")
    services.write_report(user=dx.users["centre_reader"], request=second, findings="窦性心律，V4-V6 ST段压低0.1mV。",
                          conclusion="ST段改变，请结合临床", second_reading=True, expected_version=second.version)
    # a lab panel with a critical potassium, a pathology specimen with a slide, a chest X-ray in Orthanc
    lab = requested(dx, exam="BMP", priority="urgent")
    services.attach_specimen(user=dx.users["village_doctor"], request=lab, specimen_type="静脉血（血清）",
                             specimen_id="S-0001", expected_version=lab.version)
    services.publish_lab_results(request=fresh(lab), results=[
        {"code": "2823-3", "display": "血钾 K", "value": Decimal("6.8"), "unit": "mmol/L",
         "reference_low": Decimal("3.5"), "reference_high": Decimal("5.3")},
        {"code": "2951-2", "display": "血钠 Na", "value": Decimal("139"), "unit": "mmol/L",
         "reference_low": Decimal("137"), "reference_high": Decimal("147")},
        {"code": "2345-7", "display": "血糖 Glu", "value": Decimal("7.9"), "unit": "mmol/L",
         "reference_low": Decimal("3.9"), "reference_high": Decimal("6.1")},
        {"code": "2160-0", "display": "肌酐 Cr", "value": Decimal("88"), "unit": "umol/L",
         "reference_low": Decimal("57"), "reference_high": Decimal("111")},
    ], verifier=dx.practitioners["centre_reader"])
    from tests.diagnostics.test_diagnostics_pages import tiny_png

    biopsy = requested(dx, exam="BIOPSY")
    services.attach_specimen(user=dx.users["village_doctor"], request=biopsy, specimen_type="胃黏膜活检组织",
                             specimen_id="P-0001", site="胃窦", note="胃镜下取材3块，10%甲醛固定",
                             slides=[services.UploadedFile("slide-1.png", "image/png", tiny_png())],
                             expected_version=biopsy.version)
    chest = requested(dx, exam="DR-CHEST", priority="urgent")
    services.attach_dicom(user=dx.users["village_doctor"], request=chest, expected_version=chest.version,
                          files=[services.UploadedFile("chest.dcm", "application/dicom",
                                                       dicom_upload(chest, seed=4).read())])
    waiting_lab = requested(dx, exam="CBC")

    # -- the village doctor
    sign_in(page, base, "village_doctor", PASSWORD)
    page.locator("[data-testid=critical-alert]").first.wait_for()
    shots(page, "tour-01-home-with-critical-value")
    page.goto(f"{base}/exams/")
    page.locator("[data-testid=critical-alert]").first.wait_for()
    shots(page, "tour-02-requests")
    page.goto(f"{base}/exams/alerts/")
    page.locator("[data-testid=critical-alert]").first.wait_for()
    shots(page, "tour-03-alerts")
    zhang = dx.residents["zhang_san"]
    page.goto(f"{base}/patients/{zhang.uuid}/exams/new/")
    page.select_option("[data-testid=exam-type]", str(dx.exam_types["ECG12"].pk))
    page.locator("[data-testid=recognised-result]").wait_for()  # htmx asks as the exam is chosen
    shots(page, "tour-04-request-form-recognised-result")
    page.fill("textarea[name=clinical_question]", "复查")
    page.click("[data-testid=send-request]")
    page.locator("[data-testid=repeat-reason]").wait_for()
    shots(page, "tour-05-request-refused-without-reason")
    page.goto(f"{base}/exams/{lab.uuid}/")
    shots(page, "tour-06-lab-results")
    page.goto(f"{base}/exams/{lab.uuid}/report/")
    shots(page, "tour-07-lab-report-sheet")
    page.goto(f"{base}/exams/{waiting_lab.uuid}/")
    shots(page, "tour-08-lab-specimen-form")
    page.goto(f"{base}/exams/{chest.uuid}/")
    shots(page, "tour-09-imaging-request")

    # -- the centre's reader
    switch_user(page, base, "centre_reader")
    page.goto(f"{base}/centres/")
    shots(page, "tour-10-centres")
    page.goto(f"{base}/centres/{dx.centres['ecg'].pk}/")
    page.locator("[data-testid=worklist-row]").first.wait_for()
    shots(page, "tour-11-worklist")
    first = page.locator("[data-testid=worklist] [data-testid=worklist-row]").first
    assert "36" in first.inner_text() or "严重心动过缓" in first.inner_text()  # the critical pre-read on top
    page.goto(f"{base}/centres/exams/{reading.uuid}/")
    page.locator("#tracing svg").wait_for()
    page.fill("textarea[name=conclusion]", "正常心电图")
    page.click("[data-testid=publish]")  # findings left empty: refused on the page
    page.locator("[data-testid=action-error]").wait_for()
    shots(page, "tour-12-reading-error-shown")
    page.locator("[data-testid=critical-box] summary").click()
    shots(page, "tour-13-critical-value-box")
    page.goto(f"{base}/centres/exams/{chest.uuid}/")
    page.locator("[data-testid=previews] img").first.wait_for()
    page.wait_for_function("Array.from(document.querySelectorAll('[data-testid=previews] img'))"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    shots(page, "tour-14-imaging-reading")
    page.goto(f"{base}/centres/exams/{biopsy.uuid}/")
    shots(page, "tour-15-pathology-reading")
    page.goto(f"{base}/centres/{dx.centres['ecg'].pk}/turnaround/")
    page.wait_for_function("document.getElementById('turnaround-chart').dataset.ready === '1'")
    shots(page, "tour-16-turnaround-board")
    page.goto(f"{base}/centres/exams/{fresh(second).uuid}/")
    shots(page, "tour-17-second-reading-waiting")

    # -- the county specialist gives the second reading
    switch_user(page, base, "county_specialist")
    page.goto(f"{base}/centres/exams/{second.uuid}/")
    page.click("[data-testid=claim]")
    page.locator("[data-testid=report-form]").wait_for()
    assert page.locator("textarea[name=conclusion]").input_value() == "ST段改变，请结合临床"
    shots(page, "tour-18-second-reading")
    page.click("[data-testid=publish]")
    page.locator("[data-testid=report]").wait_for()
    assert fresh(second).status == ExamStatus.PUBLISHED

    # -- English
    switch_user(page, base, "centre_reader")
    page.goto(f"{base}/centres/exams/{reading.uuid}/")
    switch_language(page, "English")
    page.locator("#tracing svg").wait_for()
    assert "Assistance only, not the report" in page.locator("[data-testid=pre-read]").inner_text()
    shots(page, "tour-19-reading-english")

    # -- the community office follows the centres' turnaround
    switch_language(page, "中文")
    switch_user(page, base, "community_admin")
    page.click("nav.sidenav >> text=诊断中心")
    page.locator("[data-testid=centres]").wait_for()
    shots(page, "tour-20-centres-community-office")
    page.goto(f"{base}/centres/{dx.centres['lab'].pk}/turnaround/")
    page.wait_for_function("document.getElementById('turnaround-chart').dataset.ready === '1'")
    shots(page, "tour-21-lab-turnaround-community-office")
