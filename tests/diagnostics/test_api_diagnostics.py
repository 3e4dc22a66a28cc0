"""JSON API of the diagnostic centres: request (Idempotency-Key), read, acquisitions (ECG files, specimen,
slides), worklist, claim / claim-next / release, report and revise, critical values, turnaround; scope and
refusals (4xx with the field, never a 500, nothing changed)."""

import datetime as dt

import pytest
from django.utils import timezone
from tests.diagnostics.api_fhir_helpers import (
    acquired_ecg,
    client,
    ecg_csv,
    ecg_files,
    fresh,
    reported_ecg,
    request_exam,
)

from countycare.core.models import AuditEvent
from countycare.diagnostics.models import (
    AlertStatus,
    CriticalAlert,
    ExamRequest,
    ExamStatus,
    RecognitionCheck,
    Report,
)


def exam_payload(dx, **fields):
    return {"resident": str(dx.residents["zhang_san"].uuid), "exam_type": "ECG12",
            "clinical_question": "心悸一周 palpitations for a week", "priority": "urgent", **fields}


# --- requests ----------------------------------------------------------------------------------------------


def test_a_village_doctor_requests_an_ecg_and_reads_it(dx):
    api = client(dx, "village_doctor")
    response = api.post("/api/exams", exam_payload(dx))
    assert response.status_code == 201, response.content.decode()
    body = response.json()
    exam = ExamRequest.objects.get(uuid=body["uuid"])
    assert response["Location"] == f"/api/exams/{exam.uuid}"
    assert body["status"] == "requested" and body["priority"] == "urgent"
    assert body["exam_type"] == {"code": "ECG12", "name": "十二导联心电图", "centre_kind": "ecg"}
    assert body["centre"]["id"] == dx.centres["ecg"].pk
    assert body["accession_number"] == exam.accession_number and body["version"] == exam.version
    detail = api.get(f"/api/exams/{exam.uuid}")
    assert detail.status_code == 200
    assert detail.json()["acquisitions"] == [] and detail.json()["reports"] == []
    assert detail.json()["events"][0]["action"] == "create"
    assert AuditEvent.objects.filter(object_type="ExamRequest", object_id=str(exam.uuid), action="read",
                                     channel="api").exists()
    listed = api.get("/api/exams", {"status": "requested"}).json()
    assert [item["uuid"] for item in listed["items"]] == [str(exam.uuid)]
    assert client(dx, "west_doctor").get("/api/exams").json()["items"] == []


def test_an_idempotency_key_makes_a_retried_request_one_exam(dx):
    api = client(dx, "village_doctor")
    first = api.post("/api/exams", exam_payload(dx), **{"Idempotency-Key": "tablet-3-1"})
    again = api.post("/api/exams", exam_payload(dx), **{"Idempotency-Key": "tablet-3-1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and first["Location"] == again["Location"]
    assert ExamRequest.objects.count() == 1
    other = api.post("/api/exams", exam_payload(dx, priority="stat"), **{"Idempotency-Key": "tablet-3-1"})
    assert other.status_code == 422
    assert ExamRequest.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({"exam_type": "MRI-KNEE"}, 422, "exam_type"),
        ({"exam_type": "ECG 12"}, 422, "exam_type"),
        ({"priority": "whenever"}, 422, "priority"),
        ({"clinical_question": ""}, 422, "clinical_question"),
        ({"resident": "not-a-uuid"}, 422, "resident"),
        ({"resident": "00000000-0000-4000-8000-000000000000"}, 404, None),
        ({"encounter": "00000000-0000-4000-8000-000000000000"}, 422, "encounter"),
        ({"centre": 999999}, 422, "centre"),
        ({"repeat_reason": "x" * 201}, 422, "repeat_reason"),
    ],
    ids=["unknown-exam", "bad-code", "priority", "no-question", "malformed-resident", "unknown-resident",
         "unknown-encounter", "unknown-centre", "long-reason"],
)
def test_a_bad_request_is_refused_with_the_field_and_creates_nothing(dx, fields, status, field):
    response = client(dx, "village_doctor").post("/api/exams", exam_payload(dx, **fields))
    assert response.status_code == status, response.content.decode()
    if field:
        assert field in response.json()["field"]
    assert ExamRequest.objects.count() == 0


def test_scope_and_roles(dx):
    outsider = client(dx, "west_doctor")
    assert outsider.post("/api/exams", exam_payload(dx)).status_code == 404
    assert client(dx, "insurance_officer").post("/api/exams", exam_payload(dx)).status_code == 403
    exam = request_exam(dx)
    assert outsider.get(f"/api/exams/{exam.uuid}").status_code == 404
    assert client(dx, "bureau_viewer").get(f"/api/exams/{exam.uuid}").status_code == 403
    assert client(dx, "bureau_viewer").get("/api/exams").status_code == 403
    assert client(dx, None).get(f"/api/exams/{exam.uuid}").status_code == 401
    assert client(dx, "village_doctor").get("/api/exams/not-a-uuid").status_code == 422
    assert outsider.post(f"/api/exams/{exam.uuid}/cancel", {"version": exam.version, "reason": "x"}).status_code == 404
    assert ExamRequest.objects.get(pk=exam.pk).status == ExamStatus.REQUESTED


def test_cancel_needs_a_reason_and_the_current_version(dx):
    exam = request_exam(dx)
    api = client(dx, "village_doctor")
    assert api.post(f"/api/exams/{exam.uuid}/cancel", {"version": exam.version, "reason": ""}).status_code == 422
    stale = api.post(f"/api/exams/{exam.uuid}/cancel", {"version": exam.version + 5, "reason": "患者拒绝"})
    assert stale.status_code in (409, 412)
    done = api.post(f"/api/exams/{exam.uuid}/cancel", {"version": exam.version, "reason": "患者拒绝"})
    assert done.status_code == 200 and done.json()["status"] == "cancelled"


def test_reference_lists(dx):
    api = client(dx, "village_doctor")
    codes = {t["code"] for t in api.get("/api/exam-types").json()}
    assert {"ECG12", "DR-CHEST", "BMP", "BIOPSY"} <= codes
    centres = api.get("/api/centres").json()
    assert {c["kind"] for c in centres} == {"ecg", "imaging", "lab", "pathology"}
    assert api.get("/api/centres", {"mine": "true"}).json() == []
    assert len(client(dx, "centre_reader").get("/api/centres", {"mine": "true"}).json()) == 4


# --- acquisitions ------------------------------------------------------------------------------------------


def test_an_ecg_is_attached_as_a_wfdb_pair_and_gets_its_pre_read(dx):
    exam = request_exam(dx)
    api = client(dx, "village_doctor")
    response = api.upload(f"/api/exams/{exam.uuid}/ecg", {"version": exam.version, "files": ecg_files(72)})
    assert response.status_code == 200, response.content.decode()
    body = response.json()
    assert body["status"] == "acquired"
    assert abs(float(body["pre_read"]["heart_rate"]) - 72) <= 5
    files = body["acquisitions"][0]["attachments"]
    assert {f["filename"] for f in files} == {"rec1.hea", "rec1.dat"} and all(f["size"] > 0 for f in files)


def test_an_ecg_may_come_as_one_csv_of_leads(dx):
    exam = request_exam(dx)
    response = client(dx, "village_doctor").upload(f"/api/exams/{exam.uuid}/ecg",
                                                   {"version": exam.version, "files": ecg_csv(80)})
    assert response.status_code == 200, response.content.decode()
    assert response.json()["acquisitions"][0]["kind"] == "ecg_csv"


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({"files": [("notes.txt", b"hello", "text/plain")]}, 422),
        ({"files": [("rec1.hea", b"garbage header", "text/plain"), ("rec1.dat", b"\x00\x01", "application/x")]}, 422),
        ({"files": None}, 422),
        ({"version": 0}, 422),
        ({"version": "abc"}, 422),
        ({"version": 99}, 409),
    ],
    ids=["not-an-ecg", "broken-wfdb", "no-files", "version-zero", "version-text", "stale"],
)
def test_a_bad_ecg_upload_is_refused_and_stores_nothing(dx, data, status):
    exam = request_exam(dx)
    form = {key: value for key, value in ({"version": exam.version, "files": ecg_files()} | data).items()
            if value is not None}
    response = client(dx, "village_doctor").upload(f"/api/exams/{exam.uuid}/ecg", form)
    assert response.status_code == status, response.content.decode()
    assert fresh(exam).status == ExamStatus.REQUESTED and not fresh(exam).acquisitions.exists()


def test_an_ecg_cannot_be_attached_to_a_lab_exam(dx):
    exam = request_exam(dx, "BMP")
    response = client(dx, "village_doctor").upload(f"/api/exams/{exam.uuid}/ecg",
                                                   {"version": exam.version, "files": ecg_files()})
    assert response.status_code == 422


def test_a_specimen_and_slides(dx):
    lab = request_exam(dx, "BMP")
    api = client(dx, "village_doctor")
    response = api.post(f"/api/exams/{lab.uuid}/specimen", {"version": lab.version, "specimen_type": "静脉血",
                                                            "specimen_id": "S-001"})
    assert response.status_code == 200, response.content.decode()
    assert response.json()["acquisitions"][0]["specimen_id"] == "S-001"
    assert api.post(f"/api/exams/{lab.uuid}/specimen", {"version": lab.version, "specimen_type": ""}).status_code == 422
    biopsy = request_exam(dx, "BIOPSY")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    response = api.upload(f"/api/exams/{biopsy.uuid}/slides", {
        "version": biopsy.version, "specimen_type": "胃窦活检", "site": "胃窦",
        "slides": [("s1.png", png, "image/png")]})
    assert response.status_code == 200, response.content.decode()
    assert response.json()["acquisitions"][0]["attachments"][0]["role"] == "slide"
    bad = request_exam(dx, "BIOPSY")
    response = api.upload(f"/api/exams/{bad.uuid}/slides", {
        "version": bad.version, "specimen_type": "活检", "slides": [("s1.png", b"not an image", "image/png")]})
    assert response.status_code == 422


# --- reading -----------------------------------------------------------------------------------------------


def test_the_worklist_claim_release_report_and_revise(dx):
    exam = acquired_ecg(dx)
    reader = client(dx, "centre_reader")
    centre = dx.centres["ecg"].pk
    worklist = reader.get(f"/api/centres/{centre}/worklist")
    assert worklist.status_code == 200, worklist.content.decode()
    assert [item["uuid"] for item in worklist.json()["waiting"]] == [str(exam.uuid)]
    assert worklist.json()["waiting"][0]["pre_read"]["heart_rate"] is not None
    assert client(dx, "village_doctor").get(f"/api/centres/{centre}/worklist").status_code == 403
    assert reader.get("/api/centres/999999/worklist").status_code == 404
    claimed = reader.post(f"/api/centres/{centre}/claim-next").json()["exam"]
    assert claimed["uuid"] == str(exam.uuid) and claimed["status"] == "claimed"
    assert reader.post(f"/api/centres/{centre}/claim-next").json() == {"exam": None}
    assert reader.post(f"/api/exams/{exam.uuid}/claim", {}).status_code == 409
    released = reader.post(f"/api/exams/{exam.uuid}/release", {"version": claimed["version"]})
    assert released.status_code == 200 and released.json()["status"] == "acquired"
    again = reader.post(f"/api/exams/{exam.uuid}/claim", {"version": released.json()["version"]})
    assert again.status_code == 200, again.content.decode()
    report = {"version": again.json()["version"], "findings": "窦性心律，心率72次/分。", "conclusion": "正常心电图"}
    assert client(dx, "village_doctor").post(f"/api/exams/{exam.uuid}/report", report).status_code == 403
    assert reader.post(f"/api/exams/{exam.uuid}/report", report | {"version": 999}).status_code in (409, 412)
    assert reader.post(f"/api/exams/{exam.uuid}/report", report | {"conclusion": ""}).status_code == 422
    written = reader.post(f"/api/exams/{exam.uuid}/report", report)
    assert written.status_code == 201, written.content.decode()
    assert written.json()["status"] == "final" and written.json()["version"] == 1
    published = fresh(exam)
    assert published.status == ExamStatus.PUBLISHED
    revise = {"version": published.version, "findings": "窦性心律。PR 220 ms。", "conclusion": "一度房室传导阻滞",
              "reason": "复核 PR 间期"}
    assert reader.post(f"/api/exams/{exam.uuid}/revise", revise | {"reason": ""}).status_code == 422
    revised = reader.post(f"/api/exams/{exam.uuid}/revise", revise)
    assert revised.status_code == 201, revised.content.decode()
    assert revised.json()["status"] == "amended" and revised.json()["version"] == 2
    versions = client(dx, "village_doctor").get(f"/api/exams/{exam.uuid}/reports").json()
    assert [(v["version"], v["status"]) for v in versions] == [(2, "amended"), (1, "superseded")]
    assert Report.objects.filter(request=exam).count() == 2


def test_two_readers_claiming_at_once_one_wins(dx):
    exam = acquired_ecg(dx)
    reader = client(dx, "centre_reader")
    first = reader.post(f"/api/exams/{exam.uuid}/claim", {"version": exam.version})
    second = reader.post(f"/api/exams/{exam.uuid}/claim", {"version": exam.version})
    assert first.status_code == 200 and second.status_code == 409


def test_a_reader_not_on_duty_cannot_claim(dx):
    from countycare.diagnostics.models import RosterShift

    exam = acquired_ecg(dx)
    RosterShift.objects.filter(practitioner=dx.practitioners["centre_reader"]).delete()
    assert client(dx, "centre_reader").post(f"/api/exams/{exam.uuid}/claim", {}).status_code == 403
    assert client(dx, "centre_reader").post(f"/api/centres/{dx.centres['ecg'].pk}/claim-next").status_code == 403


def test_quality_control_returns_an_acquisition_with_a_reason(dx):
    exam = acquired_ecg(dx)
    reader = client(dx, "centre_reader")
    assert reader.post(f"/api/exams/{exam.uuid}/return", {"version": exam.version, "reason": ""}).status_code == 422
    returned = reader.post(f"/api/exams/{exam.uuid}/return", {"version": exam.version, "reason": "导联脱落 lead off"})
    assert returned.status_code == 200 and returned.json()["status"] == "returned"
    assert client(dx, "village_doctor").post(
        f"/api/exams/{exam.uuid}/return", {"version": returned.json()["version"], "reason": "x"}).status_code == 403


def test_a_preliminary_report_is_for_readers_only(dx):
    exam = acquired_ecg(dx)
    reader = client(dx, "centre_reader")
    claimed = reader.post(f"/api/exams/{exam.uuid}/claim", {}).json()
    written = reader.post(f"/api/exams/{exam.uuid}/report", {
        "version": claimed["version"], "findings": "待审", "conclusion": "疑似房颤", "second_reading": True})
    assert written.status_code == 201 and written.json()["status"] == "preliminary"
    assert client(dx, "village_doctor").get(f"/api/exams/{exam.uuid}").json()["reports"] == []
    assert len(reader.get(f"/api/exams/{exam.uuid}").json()["reports"]) == 1


# --- critical values ---------------------------------------------------------------------------------------


def test_a_critical_finding_reaches_the_requester_who_acknowledges_it_once(dx):
    exam = reported_ecg(dx, critical=True, conclusion="室性心动过速 ventricular tachycardia")
    doctor = client(dx, "village_doctor")
    alerts = doctor.get("/api/alerts").json()
    assert len(alerts) == 1 and alerts[0]["request"]["uuid"] == str(exam.uuid)
    alert = alerts[0]["uuid"]
    assert client(dx, "west_doctor").post(f"/api/alerts/{alert}/acknowledge", {}).status_code == 404
    done = doctor.post(f"/api/alerts/{alert}/acknowledge", {"action_taken": "已电话通知患者急诊 called the patient in"})
    assert done.status_code == 200, done.content.decode()
    assert done.json()["status"] == "acknowledged" and done.json()["acknowledged_by"]["uuid"]
    assert doctor.post(f"/api/alerts/{alert}/acknowledge", {}).status_code == 409
    assert doctor.get("/api/alerts").json() == []
    assert CriticalAlert.objects.get(uuid=alert).status == AlertStatus.ACKNOWLEDGED
    assert fresh(exam).acknowledged_at is not None
    assert doctor.post("/api/alerts/00000000-0000-4000-8000-000000000000/acknowledge", {}).status_code == 404
    assert client(dx, "bureau_viewer").get("/api/alerts").status_code == 403


# --- recognition -------------------------------------------------------------------------------------------


def test_a_recognised_result_is_shown_and_a_repeat_needs_a_reason(dx):
    done = reported_ecg(dx)
    api = client(dx, "village_doctor")
    refused = api.post("/api/exams", exam_payload(dx))
    assert refused.status_code == 409, refused.content.decode()
    assert refused.json()["request"] == str(done.uuid) and refused.json()["field"] == "repeat_reason"
    assert ExamRequest.objects.count() == 1
    used = api.post("/api/exams/recognised", {"resident": str(dx.residents["zhang_san"].uuid), "exam_type": "ECG12",
                                              "report": refused.json()["report"]})
    assert used.status_code == 201, used.content.decode()
    assert used.json()["decision"] == "avoided"
    repeated = api.post("/api/exams", exam_payload(dx, repeat_reason="症状加重 worse since"))
    assert repeated.status_code == 201
    assert RecognitionCheck.objects.filter(decision="repeated").count() == 1
    wrong = api.post("/api/exams/recognised", {"resident": str(dx.residents["zeng_li"].uuid), "exam_type": "ECG12",
                                               "report": refused.json()["report"]})
    assert wrong.status_code == 422


# --- turnaround --------------------------------------------------------------------------------------------


def test_turnaround_of_a_centre(dx):
    reported_ecg(dx)
    acquired_ecg(dx, resident="li_si", by="township_doctor")
    api = client(dx, "community_admin")
    response = api.get(f"/api/centres/{dx.centres['ecg'].pk}/turnaround")
    assert response.status_code == 200, response.content.decode()
    rows = {row["priority"]: row for row in response.json()["rows"]}
    assert rows[None]["reported"] == 1 and rows[None]["waiting"] == 1
    assert rows["routine"]["target_minutes"] == 30 and rows[None]["share_within_target"] == 1.0
    since = (timezone.now() + dt.timedelta(days=1)).isoformat()
    assert api.get(f"/api/centres/{dx.centres['ecg'].pk}/turnaround", {"since": since}).status_code == 422
    assert api.get(f"/api/centres/{dx.centres['ecg'].pk}/turnaround", {"since": "yesterday"}).status_code == 422
    assert api.get("/api/centres/999999/turnaround").status_code == 404


@pytest.mark.parametrize("since, found", [
    ("2026-01-01T00:00:00+20:00", 1),  # an offset PostgreSQL would refuse: read in UTC
    ("9999-12-31T23:59:59-23:59", 0),  # beyond the calendar once in UTC: its last moment
    ("0001-01-01T00:00:00+05:00", 1),  # before it: its first moment
])
def test_a_time_bound_at_the_edge_of_the_calendar_is_read_in_utc_never_a_500(dx, since, found):
    request_exam(dx)
    response = client(dx, "village_doctor").get("/api/exams", {"since": since})
    assert response.status_code == 200, response.content
    assert response.json()["count"] == found
