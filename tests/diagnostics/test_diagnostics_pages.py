"""The diagnostics pages with Django's test client: each page for the roles it serves, 403/404 for the others and
outside scope, the forms posting through the services, and refusals shown on the page (never a 500)."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from tests.diagnostics.test_pages_helpers import (
    acquired,
    claimed,
    client_for,
    ecg_csv,
    fresh,
    published,
    requested,
)

from countycare.core.models import AuditEvent
from countycare.diagnostics.models import (
    AlertStatus,
    CriticalAlert,
    CriticalRule,
    ExamRequest,
    ExamStatus,
    RecognitionCheck,
    RecognitionDecision,
    Report,
)

pytestmark = pytest.mark.django_db


def body(response) -> str:
    return response.content.decode()


def form_token(html: str) -> str:
    return re.search(r'name="form_token" value="([^"]+)"', html).group(1)


# ---------------------------------------------------------------- who may open what


def test_signed_out_visitors_are_sent_to_the_login(dx):
    for url in ("/exams/", "/centres/", f"/patients/{dx.residents['zhang_san'].uuid}/exams/new/"):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("role,url,status", [
    ("village_doctor", "/exams/", 200),
    ("county_specialist", "/exams/", 200),
    ("centre_reader", "/exams/", 403),
    ("bureau_viewer", "/exams/", 403),
    ("centre_reader", "/centres/", 200),
    ("community_admin", "/centres/", 200),
    ("village_doctor", "/centres/", 403),
    ("pharmacist", "/centres/", 403),
    ("village_doctor", "/exams/alerts/", 200),
    ("centre_reader", "/exams/alerts/", 403),
])
def test_each_page_is_offered_to_its_roles(dx, role, url, status):
    assert client_for(dx, role).get(url).status_code == status


def test_the_request_form_is_for_doctors_of_the_patient(dx):
    zhang, wang = dx.residents["zhang_san"], dx.residents["wang_wu"]
    doctor = client_for(dx, "village_doctor")
    page = doctor.get(f"/patients/{zhang.uuid}/exams/new/")
    assert page.status_code == 200
    html = body(page)
    assert "申请检查" in html and "十二导联心电图" in html and "临床问题" in html
    assert doctor.get(f"/patients/{wang.uuid}/exams/new/").status_code == 404  # another village's resident
    assert client_for(dx, "centre_reader").get(f"/patients/{zhang.uuid}/exams/new/").status_code == 403


def test_the_timeline_and_the_encounter_link_to_the_request_form(dx):
    zhang = dx.residents["zhang_san"]
    html = body(client_for(dx, "village_doctor").get(f"/patients/{zhang.uuid}/"))
    assert f"/patients/{zhang.uuid}/exams/new/" in html and "申请检查" in html


def test_a_request_outside_scope_is_a_404_and_a_worklist_outside_the_reader_s_centres_too(dx, other_community):
    exam = requested(dx)
    assert client_for(dx, "west_doctor").get(f"/exams/{exam.uuid}/").status_code == 404
    assert client_for(dx, "village_doctor").get(f"/exams/{exam.uuid}/").status_code == 200
    assert client_for(dx, "centre_reader").get(f"/exams/{exam.uuid}/").status_code == 200
    assert client_for(dx, "village_doctor").get(f"/centres/exams/{exam.uuid}/").status_code == 403
    assert client_for(dx, "centre_reader").get("/centres/999999/").status_code == 404
    assert client_for(dx, "county_specialist").get(f"/centres/{dx.centres['ecg'].pk}/").status_code == 404


# ---------------------------------------------------------------- requesting


def request_data(dx, token: str, **changes) -> dict:
    data = {"form_token": token, "exam_type": dx.exam_types["ECG12"].pk, "priority": "urgent",
            "clinical_question": "胸痛1小时", "repeat_reason": "", "encounter": ""}
    data.update(changes)
    return data


def test_a_doctor_requests_an_exam_and_a_double_click_makes_one_request(dx):
    zhang = dx.residents["zhang_san"]
    doctor = client_for(dx, "village_doctor")
    url = f"/patients/{zhang.uuid}/exams/new/"
    token = form_token(body(doctor.get(url)))
    first = doctor.post(url, request_data(dx, token))
    second = doctor.post(url, request_data(dx, token))
    assert first.status_code == 302 and second.status_code == 302
    assert first["Location"] == second["Location"]
    exam = ExamRequest.objects.get()
    assert first["Location"] == f"/exams/{exam.uuid}/"
    assert (exam.priority, exam.status, exam.centre, exam.clinical_question) == (
        "urgent", ExamStatus.REQUESTED, dx.centres["ecg"], "胸痛1小时")
    html = body(doctor.get(first["Location"]))
    assert exam.accession_number in html and "上传采集" in html and "WFDB" in html


def test_an_incomplete_request_shows_what_is_missing_and_creates_nothing(dx):
    zhang = dx.residents["zhang_san"]
    doctor = client_for(dx, "village_doctor")
    url = f"/patients/{zhang.uuid}/exams/new/"
    response = doctor.post(url, request_data(dx, form_token(body(doctor.get(url))), clinical_question=""))
    assert response.status_code == 422
    assert "这个字段是必填项" in body(response) or "必填" in body(response)
    assert not ExamRequest.objects.exists()


def test_a_recognised_result_is_shown_and_used_instead_of_repeating(dx):
    earlier = published(dx, conclusion="窦性心律，正常心电图")
    zhang = dx.residents["zhang_san"]
    doctor = client_for(dx, "township_doctor")
    url = f"/patients/{zhang.uuid}/exams/new/"
    shown = body(doctor.get(url, {"exam": "ECG12"}))
    assert 'data-testid="recognised-result"' in shown and "窦性心律，正常心电图" in shown and "使用互认结果" in shown
    fragment = body(doctor.get(url, {"fragment": "recognised", "exam_type": dx.exam_types["ECG12"].pk},
                               HTTP_HX_REQUEST="true"))
    assert "窦性心律，正常心电图" in fragment and "<html" not in fragment
    report = Report.objects.get(request=earlier)
    response = doctor.post(f"/patients/{zhang.uuid}/exams/recognised/",
                           {"exam_type": dx.exam_types["ECG12"].pk, "report": report.uuid})
    assert response.status_code == 302 and response["Location"] == f"/exams/{earlier.uuid}/report/"
    check = RecognitionCheck.objects.get()
    assert check.decision == RecognitionDecision.AVOIDED and check.report == report
    assert ExamRequest.objects.count() == 1


def test_repeating_a_recognised_exam_needs_a_reason(dx):
    published(dx)
    zhang = dx.residents["zhang_san"]
    doctor = client_for(dx, "village_doctor")
    url = f"/patients/{zhang.uuid}/exams/new/"
    refused = doctor.post(url, request_data(dx, form_token(body(doctor.get(url)))))
    assert refused.status_code == 409
    html = body(refused)
    assert 'data-testid="recognised-result"' in html and "重复检查请填写原因" in html
    assert ExamRequest.objects.count() == 1
    done = doctor.post(url, request_data(dx, form_token(html), repeat_reason="今晨再发胸痛"))
    assert done.status_code == 302
    repeat = ExamRequest.objects.exclude(status=ExamStatus.PUBLISHED).get()
    assert repeat.repeat_reason == "今晨再发胸痛"
    assert RecognitionCheck.objects.get().decision == RecognitionDecision.REPEATED


def test_the_clinic_uploads_a_csv_ecg_and_the_request_waits_for_a_reader(dx):
    exam = requested(dx)
    doctor = client_for(dx, "village_doctor")
    upload = SimpleUploadedFile("ecg.csv", ecg_csv(heart_rate=48), content_type="text/csv")
    response = doctor.post(f"/exams/{exam.uuid}/acquire/", {"version": exam.version, "files": [upload]})
    assert response.status_code == 302
    exam = fresh(exam)
    assert exam.status == ExamStatus.ACQUIRED and exam.pre_read.heart_rate is not None
    html = body(doctor.get(f"/exams/{exam.uuid}/"))
    assert "已采集，待诊断" in html and f"/exams/{exam.uuid}/tracing/" in html
    assert 'data-testid="pre-read"' not in html  # the pre-read is the reader's assistance, not the clinic's result


def test_a_broken_ecg_file_is_refused_on_the_page_and_nothing_changes(dx):
    exam = requested(dx)
    upload = SimpleUploadedFile("ecg.csv", b"not,an\necg,file\n", content_type="text/csv")
    response = client_for(dx, "village_doctor").post(f"/exams/{exam.uuid}/acquire/",
                                                     {"version": exam.version, "files": [upload]})
    assert response.status_code == 422
    assert 'data-testid="action-error"' in body(response)
    assert fresh(exam).status == ExamStatus.REQUESTED and not fresh(exam).acquisitions.exists()


def test_no_file_is_a_422_with_the_form_again(dx):
    exam = requested(dx)
    response = client_for(dx, "village_doctor").post(f"/exams/{exam.uuid}/acquire/", {"version": exam.version})
    assert response.status_code == 422 and 'data-testid="upload-form"' in body(response)


def test_a_lab_sample_is_recorded_with_the_specimen_form(dx):
    exam = requested(dx, exam="BMP")
    html = body(client_for(dx, "village_doctor").get(f"/exams/{exam.uuid}/"))
    assert 'name="specimen_type"' in html and 'name="slides"' not in html
    response = client_for(dx, "village_doctor").post(f"/exams/{exam.uuid}/acquire/", {
        "version": exam.version, "specimen_type": "静脉血（血清）", "specimen_id": "S-001", "note": "空腹"})
    assert response.status_code == 302
    exam = fresh(exam)
    assert exam.status == ExamStatus.ACQUIRED
    assert exam.acquisitions.get().specimen_type == "静脉血（血清）"


def test_cancelling_needs_a_reason(dx):
    exam = requested(dx)
    doctor = client_for(dx, "village_doctor")
    url = f"/exams/{exam.uuid}/cancel/"
    assert doctor.post(url, {"version": exam.version, "reason": ""}).status_code == 422
    assert doctor.post(url, {"version": exam.version, "reason": "患者拒绝"}).status_code == 302
    assert fresh(exam).status == ExamStatus.CANCELLED


def test_the_requests_list_shows_status_waiting_and_results_and_audits_the_rows(dx):
    waiting = acquired(dx)
    done = published(dx, resident="li_si", user="township_doctor")
    html = body(client_for(dx, "township_doctor").get("/exams/"))
    assert waiting.accession_number in html and done.accession_number in html
    assert 'data-since="' in html and "正常心电图" in html and f"/exams/{done.uuid}/report/" in html
    assert AuditEvent.objects.filter(action="list", object_type="ExamRequest", object_id=str(done.uuid)).exists()
    filtered = body(client_for(dx, "township_doctor").get("/exams/", {"status": "published"}))
    assert done.accession_number in filtered and waiting.accession_number not in filtered
    # the village doctor's clinic made only the first
    own = body(client_for(dx, "village_doctor").get("/exams/"))
    assert waiting.accession_number in own and done.accession_number not in own


# ---------------------------------------------------------------- the centre


def test_the_worklist_lists_waiting_work_with_the_pre_read(dx):
    exam = acquired(dx, heart_rate=150)
    reader = client_for(dx, "centre_reader")
    html = body(reader.get(f"/centres/{dx.centres['ecg'].pk}/"))
    assert exam.accession_number in html and "张三" in html and 'data-testid="claim"' in html
    assert "您当前在班" in html
    fragment = body(reader.get(f"/centres/{dx.centres['ecg'].pk}/", HTTP_HX_REQUEST="true"))
    assert exam.accession_number in fragment and "<html" not in fragment
    assert client_for(dx, "village_doctor").get(f"/centres/{dx.centres['ecg'].pk}/").status_code == 403
    centres = body(reader.get("/centres/"))
    assert "心电诊断中心" in centres and f"/centres/{dx.centres['ecg'].pk}/turnaround/" in centres


def test_claiming_leads_to_the_reading_page_and_a_second_claim_is_refused_on_the_worklist(dx):
    exam = acquired(dx)
    reader = client_for(dx, "centre_reader")
    response = reader.post(f"/centres/exams/{exam.uuid}/claim/", {"version": exam.version})
    assert response.status_code == 302 and response["Location"] == f"/centres/exams/{exam.uuid}/"
    assert fresh(exam).status == ExamStatus.CLAIMED
    again = reader.post(f"/centres/exams/{exam.uuid}/claim/", {"version": exam.version}, follow=True)
    assert again.status_code == 200 and 'class="alert alert-error"' in body(again)


def test_claim_next_takes_the_top_of_the_worklist(dx):
    routine = acquired(dx)
    urgent = acquired(dx, priority="stat", resident="li_si", user="township_doctor")
    response = client_for(dx, "centre_reader").post(f"/centres/{dx.centres['ecg'].pk}/claim-next/")
    assert response["Location"] == f"/centres/exams/{urgent.uuid}/"
    assert fresh(routine).status == ExamStatus.ACQUIRED
    client_for(dx, "centre_reader").post(f"/centres/{dx.centres['ecg'].pk}/claim-next/")
    empty = client_for(dx, "centre_reader").post(f"/centres/{dx.centres['ecg'].pk}/claim-next/", follow=True)
    assert "暂无待诊断检查" in body(empty)


def test_the_reading_page_shows_tracing_pre_read_templates_and_the_buttons(dx):
    exam = claimed(dx, heart_rate=45)
    reader = client_for(dx, "centre_reader")
    html = body(reader.get(f"/centres/exams/{exam.uuid}/"))
    assert f"/exams/{exam.uuid}/tracing/" in html
    assert "辅助参考，非诊断" in html and 'data-testid="pre-read-hr"' in html
    assert 'id="report-templates"' in html and "ecg-normal" in html and "正常心电图" in html
    for button in ("发布报告", "提交审核", "危急值", "放回工作列表"):
        assert button in html
    assert "心室颤动" in html  # the ECG critical-value list
    svg = reader.get(f"/exams/{exam.uuid}/tracing/")
    assert svg.status_code == 200 and b"<svg" in svg.content and b'data-lead="II"' in svg.content
    assert client_for(dx, "west_doctor").get(f"/exams/{exam.uuid}/tracing/").status_code == 404


def test_publishing_returns_the_report_to_the_clinic(dx):
    exam = claimed(dx)
    reader = client_for(dx, "centre_reader")
    response = reader.post(f"/centres/exams/{exam.uuid}/report/", {
        "version": exam.version, "template_code": "ecg-normal", "findings": "窦性心律，心率70次/分。",
        "conclusion": "正常心电图", "critical_finding": "", "action": "publish"})
    assert response.status_code == 302
    exam = fresh(exam)
    assert exam.status == ExamStatus.PUBLISHED
    report = Report.objects.get(request=exam)
    assert (report.template_code, report.conclusion, report.author) == (
        "ecg-normal", "正常心电图", dx.practitioners["centre_reader"])
    doctor = client_for(dx, "village_doctor")
    assert "正常心电图" in body(doctor.get(f"/exams/{exam.uuid}/"))
    sheet = body(doctor.get(f"/exams/{exam.uuid}/report/"))
    assert "心电图检查报告单" in sheet and "正常心电图" in sheet and "window.print()" in sheet


def test_an_incomplete_report_is_refused_on_the_reading_page(dx):
    exam = claimed(dx)
    response = client_for(dx, "centre_reader").post(f"/centres/exams/{exam.uuid}/report/", {
        "version": exam.version, "findings": "", "conclusion": "正常心电图", "action": "publish"})
    assert response.status_code == 422 and 'data-testid="action-error"' in body(response)
    assert fresh(exam).status == ExamStatus.CLAIMED


def test_a_stale_report_is_a_409_on_the_page_not_a_500(dx):
    exam = claimed(dx)
    response = client_for(dx, "centre_reader").post(f"/centres/exams/{exam.uuid}/report/", {
        "version": exam.version - 1, "findings": "所见", "conclusion": "结论", "action": "publish"})
    assert response.status_code == 409 and 'data-testid="action-error"' in body(response)
    assert "所见" in body(response)  # what the reader wrote is kept
    assert fresh(exam).status == ExamStatus.CLAIMED


def test_a_second_reading_sends_the_preliminary_report_back_to_the_worklist(dx):
    exam = claimed(dx)
    response = client_for(dx, "centre_reader").post(f"/centres/exams/{exam.uuid}/report/", {
        "version": exam.version, "findings": "所见", "conclusion": "ST段压低，请审核", "action": "second_reading"})
    assert response.status_code == 302 and response["Location"] == f"/centres/{dx.centres['ecg'].pk}/"
    assert fresh(exam).status == ExamStatus.SECOND_READING
    html = body(client_for(dx, "centre_reader").get(f"/centres/{dx.centres['ecg'].pk}/"))
    assert "待审核" in html and "您的初步报告等待其他上级医生审核" in html  # its author cannot claim it
    # the preliminary report stays in the centre until a second reader publishes it
    doctor = client_for(dx, "village_doctor")
    assert "ST段压低，请审核" not in body(doctor.get(f"/exams/{exam.uuid}/"))
    assert doctor.get(f"/exams/{exam.uuid}/report/").status_code == 404
    assert "ST段压低，请审核" in body(client_for(dx, "centre_reader").get(f"/centres/exams/{exam.uuid}/"))


def test_a_critical_value_needs_a_finding_then_reaches_the_ordering_clinician(dx):
    exam = claimed(dx)
    reader = client_for(dx, "centre_reader")
    data = {"version": exam.version, "findings": "V1-V4 ST段抬高", "conclusion": "急性前壁心肌梗死",
            "critical_code": "", "critical_finding": "", "action": "critical"}
    refused = reader.post(f"/centres/exams/{exam.uuid}/report/", data)
    assert refused.status_code == 422 and fresh(exam).status == ExamStatus.CLAIMED
    stemi = CriticalRule.objects.filter(centre_kind="ecg", name__contains="ST段抬高").first()
    done = reader.post(f"/centres/exams/{exam.uuid}/report/", {**data, "critical_code": stemi.code})
    assert done.status_code == 302
    alert = CriticalAlert.objects.get(request=exam)
    assert alert.status == AlertStatus.OPEN
    doctor = client_for(dx, "village_doctor")
    fragment = body(doctor.get("/exams/alerts/", HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="http://x/"))
    assert alert.finding in fragment and 'data-testid="acknowledge"' in fragment and 'value="/"' in fragment
    home = body(doctor.get("/"))
    assert 'data-testid="alert-count">1<' in home and 'hx-trigger="load, every 20s"' in home
    acked = doctor.post(f"/exams/alerts/{alert.uuid}/acknowledge/", {"action_taken": "已通知患者急诊", "next": "/"})
    assert acked.status_code == 302 and acked["Location"] == "/"
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED and alert.action_taken == "已通知患者急诊"
    again = doctor.post(f"/exams/alerts/{alert.uuid}/acknowledge/", {"next": "/"}, follow=True)
    assert "该危急值已被确认" in body(again)


def test_quality_control_returns_an_acquisition_with_a_reason(dx):
    exam = acquired(dx)
    reader = client_for(dx, "centre_reader")
    url = f"/centres/exams/{exam.uuid}/return/"
    assert reader.post(url, {"version": exam.version, "reason": ""}).status_code == 422
    response = reader.post(url, {"version": exam.version, "reason": "肢体导联接反"})
    assert response.status_code == 302
    assert fresh(exam).status == ExamStatus.RETURNED
    html = body(client_for(dx, "village_doctor").get(f"/exams/{exam.uuid}/"))
    assert "肢体导联接反" in html and "重新采集" in html


def test_releasing_puts_the_exam_back_on_the_worklist(dx):
    exam = claimed(dx)
    response = client_for(dx, "centre_reader").post(f"/centres/exams/{exam.uuid}/release/", {"version": exam.version})
    assert response.status_code == 302 and fresh(exam).status == ExamStatus.ACQUIRED
    assert client_for(dx, "centre_reader").post(f"/centres/exams/{exam.uuid}/nonsense/", {}).status_code == 404


def test_a_revision_keeps_every_version(dx):
    exam = published(dx)
    reader = client_for(dx, "centre_reader")
    url = f"/centres/exams/{exam.uuid}/revise/"
    assert reader.post(url, {"version": exam.version, "reason": "", "findings": "a", "conclusion": "b"}
                       ).status_code == 422
    response = reader.post(url, {"version": exam.version, "reason": "补充：QTc延长", "findings": "窦性心律，QTc 480ms",
                                 "conclusion": "窦性心律，QT间期延长"})
    assert response.status_code == 302
    assert list(Report.objects.filter(request=exam).order_by("version").values_list("status", flat=True)) == [
        "superseded", "amended"]
    sheet = body(client_for(dx, "village_doctor").get(f"/exams/{exam.uuid}/report/"))
    assert "QT间期延长" in sheet and "补充：QTc延长" in sheet and "?version=1" in sheet
    first = body(client_for(dx, "village_doctor").get(f"/exams/{exam.uuid}/report/", {"version": 1}))
    assert "正常心电图" in first and "已被修订" in first
    assert client_for(dx, "village_doctor").get(f"/exams/{exam.uuid}/report/", {"version": 9}).status_code == 404


def test_a_request_without_a_report_has_no_report_sheet(dx):
    exam = requested(dx)
    assert client_for(dx, "village_doctor").get(f"/exams/{exam.uuid}/report/").status_code == 404


def test_files_of_the_acquisition_are_served_to_those_who_see_the_request(dx):
    exam = acquired(dx)
    attachment = exam.acquisitions.get().attachments.get()
    url = f"/exams/{exam.uuid}/files/{attachment.uuid}/"
    response = client_for(dx, "centre_reader").get(url)
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    assert client_for(dx, "west_doctor").get(url).status_code == 404


def test_a_preview_of_an_image_outside_the_study_is_a_404(dx):
    exam = acquired(dx)
    assert client_for(dx, "centre_reader").get(f"/exams/{exam.uuid}/preview/abc-123/").status_code == 404


# ---------------------------------------------------------------- turnaround


def test_the_turnaround_board_shows_live_numbers_and_chart_data(dx):
    published(dx)
    acquired(dx, resident="li_si", user="township_doctor")
    centre = dx.centres["ecg"]
    reader = client_for(dx, "centre_reader")
    html = body(reader.get(f"/centres/{centre.pk}/turnaround/"))
    assert 'data-testid="board-waiting">1<' in html and "echarts.min.js" in html and "今日按时完成率" in html
    fragment = body(reader.get(f"/centres/{centre.pk}/turnaround/", HTTP_HX_REQUEST="true"))
    assert 'data-testid="board-numbers"' in fragment and "<html" not in fragment
    data = reader.get(f"/centres/{centre.pk}/turnaround/data/").json()
    assert len(data["days"]) == 14 and data["days"][-1]["reported"] == 1
    assert client_for(dx, "community_admin").get(f"/centres/{centre.pk}/turnaround/").status_code == 200
    assert client_for(dx, "village_doctor").get(f"/centres/{centre.pk}/turnaround/").status_code == 403


def test_the_clinician_home_shows_the_exam_counts(dx):
    requested(dx)
    html = body(client_for(dx, "village_doctor").get("/"))
    assert 'data-testid="exam-counts"' in html and "待上传采集" in html
    assert 'data-testid="exam-counts"' not in body(client_for(dx, "centre_reader").get("/"))


def test_the_pages_switch_to_english(dx):
    exam = claimed(dx)
    reader = client_for(dx, "centre_reader")
    reader.post("/i18n/setlang/", {"language": "en", "next": "/"})
    html = body(reader.get(f"/centres/exams/{exam.uuid}/"))
    assert "Assistance only, not the report" in html and "Publish report" in html and "Being read" in html


def tiny_png() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes([200, 120, 160]) * 4 for _ in range(4))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_a_pathology_specimen_with_slides_is_shown_to_the_reader(dx):
    exam = requested(dx, exam="BIOPSY")
    doctor = client_for(dx, "village_doctor")
    assert 'name="slides"' in body(doctor.get(f"/exams/{exam.uuid}/"))
    slide = SimpleUploadedFile("slide-1.png", tiny_png(), content_type="image/png")
    response = doctor.post(f"/exams/{exam.uuid}/acquire/", {
        "version": exam.version, "specimen_type": "胃黏膜活检组织", "specimen_id": "P-2026-001", "site": "胃窦",
        "note": "10%甲醛固定", "slides": [slide]})
    assert response.status_code == 302
    exam = fresh(exam)
    claim = client_for(dx, "centre_reader").post(f"/centres/exams/{exam.uuid}/claim/", {"version": exam.version})
    assert claim.status_code == 302
    html = body(client_for(dx, "centre_reader").get(f"/centres/exams/{exam.uuid}/"))
    slide_row = exam.acquisitions.get().attachments.get()
    assert "胃黏膜活检组织" in html and "胃窦" in html and f"/exams/{exam.uuid}/files/{slide_row.uuid}/" in html
    image = client_for(dx, "centre_reader").get(f"/exams/{exam.uuid}/files/{slide_row.uuid}/")
    assert image["Content-Type"] == "image/png" and image["Content-Disposition"].startswith("inline")


def queries_for(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_lists_cost_the_same_queries_for_more_rows(dx):
    published(dx)
    acquired(dx, resident="li_si", user="township_doctor")
    claimed(dx, resident="zeng_li", user="township_doctor")
    doctor, reader = client_for(dx, "township_doctor"), client_for(dx, "centre_reader")
    worklist = f"/centres/{dx.centres['ecg'].pk}/"
    few = (queries_for(doctor, "/exams/"), queries_for(reader, worklist))
    for _ in range(3):
        published(dx, resident="li_si", user="township_doctor", repeat_reason="复查")
        acquired(dx, resident="li_si", user="township_doctor", repeat_reason="复查", heart_rate=120)
        claimed(dx, resident="li_si", user="township_doctor", repeat_reason="复查")
    assert (queries_for(doctor, "/exams/"), queries_for(reader, worklist)) == few
