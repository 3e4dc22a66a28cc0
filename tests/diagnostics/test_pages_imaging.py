"""The imaging pages against a real Orthanc: DICOM uploaded on the request page, the reader's previews proxied
from Orthanc (only instances of the request's study, audited), a link to the study, and an unreachable Orthanc
shown as a 503 message rather than a 500."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from tests.diagnostics.test_pages_helpers import client_for, fresh, requested

from countycare.core.models import AuditEvent
from countycare.diagnostics import imaging
from countycare.diagnostics.models import ExamStatus

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.diagnostics.orthanc_fixture"]  # fixtures orthanc_server (session) and orthanc


def dicom_upload(exam, *, seed: int = 0, name: str = "chest.dcm") -> SimpleUploadedFile:
    content = imaging.synthetic_dicom(patient_name=exam.resident.name, patient_id=str(exam.resident.uuid),
                                      modality="DX", seed=seed, accession_number=exam.accession_number)
    return SimpleUploadedFile(name, content, content_type="application/dicom")


def test_dicom_uploaded_on_the_page_is_previewed_for_the_reader(dx, orthanc):
    exam = requested(dx, exam="DR-CHEST")
    doctor = client_for(dx, "village_doctor")
    assert 'accept=".dcm' in doctor.get(f"/exams/{exam.uuid}/").content.decode()
    response = doctor.post(f"/exams/{exam.uuid}/acquire/", {"version": exam.version, "files": [dicom_upload(exam)]})
    assert response.status_code == 302
    exam = fresh(exam)
    assert exam.status == ExamStatus.ACQUIRED
    instance = exam.acquisitions.get().series[0]["instances"][0]

    reader = client_for(dx, "centre_reader")
    html = reader.get(f"/centres/exams/{exam.uuid}/").content.decode()
    assert f"/exams/{exam.uuid}/preview/{instance}/" in html and 'data-testid="study-link"' in html
    png = reader.get(f"/exams/{exam.uuid}/preview/{instance}/")
    assert png.status_code == 200 and png["Content-Type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert AuditEvent.objects.filter(action="read-preview", object_id=str(exam.uuid)).exists()
    assert client_for(dx, "west_doctor").get(f"/exams/{exam.uuid}/preview/{instance}/").status_code == 404


def test_a_file_that_is_not_dicom_is_refused_on_the_page(dx, orthanc):
    exam = requested(dx, exam="DR-CHEST")
    bad = SimpleUploadedFile("chest.dcm", b"not a dicom file" * 20, content_type="application/dicom")
    response = client_for(dx, "village_doctor").post(f"/exams/{exam.uuid}/acquire/",
                                                     {"version": exam.version, "files": [bad]})
    assert response.status_code == 422 and 'data-testid="action-error"' in response.content.decode()
    assert fresh(exam).status == ExamStatus.REQUESTED


def test_an_unreachable_orthanc_is_a_503_message(dx, orthanc, settings):
    exam = requested(dx, exam="DR-CHEST")
    client_for(dx, "village_doctor").post(f"/exams/{exam.uuid}/acquire/",
                                          {"version": exam.version, "files": [dicom_upload(exam)]})
    instance = fresh(exam).acquisitions.get().series[0]["instances"][0]
    settings.ORTHANC_URL = "http://127.0.0.1:9"  # nothing listens there
    response = client_for(dx, "centre_reader").get(f"/exams/{exam.uuid}/preview/{instance}/")
    assert response.status_code == 503 and "Orthanc" in response.content.decode()
    later = requested(dx, exam="DR-CHEST", resident="li_si", user="township_doctor")
    refused = client_for(dx, "township_doctor").post(f"/exams/{later.uuid}/acquire/",
                                                     {"version": later.version, "files": [dicom_upload(later)]})
    assert refused.status_code == 503 and fresh(later).status == ExamStatus.REQUESTED
