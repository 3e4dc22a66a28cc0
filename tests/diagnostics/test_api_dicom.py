"""DICOM through the JSON API into a real Orthanc (tests/diagnostics/orthanc_fixture.py), read back as a FHIR
ImagingStudy that points at Orthanc's DICOMweb; Orthanc unreachable is a 503 that stores nothing."""

from tests.diagnostics.api_fhir_helpers import client, fresh, request_exam
from tests.fhir.conftest import valid

from countycare.diagnostics import imaging
from countycare.diagnostics.models import Acquisition, ExamStatus

pytest_plugins = ["tests.diagnostics.orthanc_fixture"]


STUDY = "1.2.826.0.1.3680043.8.498.7701"


def dicom_for(dx, exam, *, seed=0):
    return imaging.synthetic_dicom(patient_name="张三", patient_id=str(dx.residents["zhang_san"].uuid),
                                   modality="DX", accession_number=exam.accession_number, seed=seed,
                                   study_uid=STUDY, series_uid=STUDY + ".1", instance_number=seed + 1)


def test_dicom_goes_to_orthanc_and_reads_back_as_an_imaging_study(dx, orthanc):
    exam = request_exam(dx, "DR-CHEST")
    api = client(dx, "village_doctor")
    response = api.upload(f"/api/exams/{exam.uuid}/dicom", {
        "version": exam.version, "files": [("1.dcm", dicom_for(dx, exam), "application/dicom"),
                                           ("2.dcm", dicom_for(dx, exam, seed=1), "application/dicom")]})
    assert response.status_code == 200, response.content.decode()
    acquisition = response.json()["acquisitions"][0]
    assert acquisition["kind"] == "dicom" and acquisition["study_instance_uid"]
    stored = Acquisition.objects.get(uuid=acquisition["uuid"])
    study = api.get(f"/fhir/ImagingStudy/{stored.uuid}")
    assert study.status_code == 200, study.content.decode()
    body = study.json()
    valid(body)
    assert body["identifier"][0]["value"] == f"urn:oid:{stored.study_instance_uid}"
    assert body["contained"][0]["address"] == f"{orthanc.public_url}/dicom-web"
    assert body["series"][0]["modality"]["code"] == "DX"
    assert orthanc.lookup_study(stored.study_instance_uid) == stored.orthanc_study_id


def test_orthanc_unreachable_is_a_503_and_nothing_is_stored(dx, settings):
    settings.ORTHANC_URL = settings.ORTHANC_PUBLIC_URL = "http://127.0.0.1:9"
    exam = request_exam(dx, "DR-CHEST")
    response = client(dx, "village_doctor").upload(f"/api/exams/{exam.uuid}/dicom", {
        "version": exam.version, "files": [("1.dcm", dicom_for(dx, exam), "application/dicom")]})
    assert response.status_code == 503, response.content.decode()
    assert response.json()["code"] == "unavailable"
    assert fresh(exam).status == ExamStatus.REQUESTED and not Acquisition.objects.filter(request=exam).exists()


def test_a_file_that_is_not_dicom_is_a_422(dx, orthanc):
    exam = request_exam(dx, "DR-CHEST")
    response = client(dx, "village_doctor").upload(f"/api/exams/{exam.uuid}/dicom", {
        "version": exam.version, "files": [("1.dcm", b"not dicom at all", "application/dicom")]})
    assert response.status_code == 422, response.content.decode()
    assert fresh(exam).status == ExamStatus.REQUESTED
