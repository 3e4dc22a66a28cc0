"""The generated exams through the platform's real paths: the newest lab results as HL7 messages received by
lab.receive, synthetic DICOM studies stored in a real Orthanc with their references kept, and the same seed
giving the same year of exams."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from countycare.diagnostics.models import Acquisition, CriticalAlert, ExamEvent, ExamRequest, Report
from countycare.records.models import Observation
from countycare.synth.erase import erase_community
from countycare.synth.generate import generate_county

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.diagnostics.orthanc_fixture"]
AS_OF = dt.date(2026, 6, 30)


def test_the_newest_lab_results_arrive_as_hl7_messages_and_studies_go_to_orthanc(orthanc):
    report = generate_county(population=1200, seed=3, as_of=AS_OF, activity=True, hl7_messages=12,
                             dicom_uploads=4)
    counts = report.exams
    assert counts.hl7_messages == 12 and counts.hl7_refused == 0
    received = ExamRequest.objects.filter(community=report.community, events__action="report_results",
                                          events__user__isnull=True)
    by_hl7 = received.filter(reports__author__isnull=False).distinct()
    assert by_hl7.count() >= 12
    newest = ExamRequest.objects.filter(community=report.community, exam_type__centre_kind="lab",
                                        status="published").order_by("-reported_at")[:12]
    for request in newest:
        assert request.observations.filter(category="laboratory").exists()
        assert Report.objects.get(request=request, current=True).status == "final"
    assert not CriticalAlert.objects.filter(community=report.community, status="open",
                                            raised_at__lt=dt.datetime(2026, 6, 29, tzinfo=dt.UTC)).exists()
    assert counts.dicom_uploaded == 4
    stored = Acquisition.objects.filter(request__community=report.community, kind="dicom").exclude(
        orthanc_study_id="")
    assert stored.count() == 4
    for acquisition in stored:
        study = orthanc.study(acquisition.orthanc_study_id)
        assert study["MainDicomTags"]["AccessionNumber"] == acquisition.request.accession_number
        instance = acquisition.series[0]["instances"][0]
        assert orthanc.preview_png(instance).startswith(b"\x89PNG")
    assert Acquisition.objects.filter(request__community=report.community, kind="dicom",
                                      orthanc_study_id="").exists()  # the others: references only


def exams_fingerprint(community_id: int) -> str:
    digest = hashlib.sha256()
    for rows in (
        ExamRequest.objects.filter(community_id=community_id).order_by("accession_number").values_list(
            "accession_number", "uuid", "resident__uuid", "exam_type__code", "priority", "status", "rank",
            "requested_at", "acquired_at", "claimed_at", "reported_at", "acknowledged_at", "repeat_reason"),
        Report.objects.filter(request__community_id=community_id).order_by("uuid").values_list(
            "uuid", "version", "status", "findings", "conclusion", "written_at"),
        ExamEvent.objects.filter(request__community_id=community_id).order_by(
            "request__accession_number", "at", "action").values_list("request__accession_number", "action", "at"),
        Observation.objects.filter(exam_requests__community_id=community_id).order_by("uuid").values_list(
            "uuid", "code", "value_quantity", "value_text"),
    ):
        for row in rows:
            digest.update(repr(row).encode())
    return digest.hexdigest()


def test_same_seed_gives_the_same_exams():
    first = generate_county(population=800, seed=9, as_of=AS_OF, activity=True)
    printed = exams_fingerprint(first.community.pk)
    assert ExamRequest.objects.filter(community=first.community).count() > 500
    erase_community(first.community)
    second = generate_county(population=800, seed=9, as_of=AS_OF, activity=True)
    assert exams_fingerprint(second.community.pk) == printed
