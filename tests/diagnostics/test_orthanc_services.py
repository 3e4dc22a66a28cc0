"""Imaging acquisitions through the services against a real Orthanc: attach_dicom sends the study and keeps
its references, a refused acquisition (not DICOM, wrong modality, another patient, Orthanc down) changes
nothing on either side, and quality control returns an acquisition with a reason."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from countycare.core.errors import Conflict, InvalidInput
from countycare.diagnostics import imaging, services
from countycare.diagnostics.imaging import OrthancUnavailable
from countycare.diagnostics.models import Acquisition, AcquisitionKind, ExamRequest, ExamStatus
from countycare.diagnostics.services import UploadedFile

pytest_plugins = ["tests.diagnostics.orthanc_fixture"]  # fixtures orthanc_server (session) and orthanc


def chest_request(dx, code: str = "DR-CHEST") -> ExamRequest:
    return services.request_exam(user=dx.users["village_doctor"], resident=dx.residents["zhang_san"],
                                 exam_type=dx.exam_types[code], clinical_question="咳嗽两周，发热 Cough two weeks")


def dicom_of(request: ExamRequest, *, modality: str = "DX", seed: int = 0, patient_id: str | None = None,
             accession: bool = True, **kwargs) -> UploadedFile:
    resident = request.resident
    content = imaging.synthetic_dicom(
        patient_name=resident.name, patient_id=patient_id or str(resident.uuid), modality=modality, seed=seed,
        accession_number=request.accession_number if accession else "", **kwargs)
    return UploadedFile("image.dcm", "application/dicom", content)


def instance_count(client) -> int:
    return client._json("GET", "/statistics")["CountInstances"]


def assert_unchanged(request: ExamRequest, *, status: str = ExamStatus.REQUESTED) -> None:
    fresh = ExamRequest.objects.get(pk=request.pk)
    assert (fresh.status, fresh.version, fresh.acquired_at) == (status, request.version, request.acquired_at)
    assert Acquisition.objects.filter(request=request, current=True).count() == (status != ExamStatus.REQUESTED)


def test_attaching_a_study_moves_the_request_to_acquired_and_keeps_its_references(dx, orthanc):
    request = chest_request(dx)
    first = dicom_of(request, seed=1)
    dataset = imaging.check_dicom(first.content)
    second = UploadedFile("lateral.dcm", "application/dicom", imaging.synthetic_dicom(
        patient_name=request.resident.name, patient_id=str(request.resident.uuid), modality="DX", seed=1,
        accession_number=request.accession_number, study_uid=str(dataset.StudyInstanceUID),
        series_uid=str(dataset.SeriesInstanceUID), instance_number=2))

    acquisition = services.attach_dicom(user=dx.users["village_doctor"], request=request, files=[first, second],
                                        expected_version=request.version)

    request.refresh_from_db()
    assert request.status == ExamStatus.ACQUIRED and request.acquired_at is not None
    assert acquisition.kind == AcquisitionKind.DICOM and acquisition.current
    assert acquisition.study_instance_uid == dataset.StudyInstanceUID
    assert acquisition.orthanc_study_id == orthanc.lookup_study(dataset.StudyInstanceUID)
    [series] = acquisition.series
    assert series["uid"] == dataset.SeriesInstanceUID and series["modality"] == "DX"
    assert len(series["instances"]) == 2
    # The references lead back to the images: Orthanc's preview, the patient's Chinese name, the study link.
    png = orthanc.preview_png(series["instances"][0])
    assert Image.open(io.BytesIO(png)).size == (64, 64)
    assert orthanc.study(acquisition.orthanc_study_id)["PatientMainDicomTags"]["PatientName"] == "张三"
    assert acquisition.orthanc_study_id in orthanc.study_url(acquisition.orthanc_study_id)


def test_a_phosphor_plate_film_serves_a_chest_x_ray_request(dx, orthanc):
    request = chest_request(dx)
    acquisition = services.attach_dicom(user=dx.users["village_doctor"], request=request,
                                        files=[dicom_of(request, modality="CR", seed=2)],
                                        expected_version=request.version)
    assert acquisition.series[0]["modality"] == "CR"


@pytest.mark.parametrize("refused", ["not dicom", "wrong modality", "another patient", "two studies"])
def test_a_refused_acquisition_changes_nothing(dx, orthanc, refused):
    request = chest_request(dx)
    files = {
        "not dicom": [UploadedFile("chest.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + b"\0" * 500)],
        "wrong modality": [dicom_of(request, modality="CT", seed=3)],
        "another patient": [dicom_of(request, seed=4, patient_id="someone-else", accession=False)],
        "two studies": [dicom_of(request, seed=5), dicom_of(request, seed=6)],
    }[refused]
    before = instance_count(orthanc)
    with pytest.raises(InvalidInput) as error:
        services.attach_dicom(user=dx.users["village_doctor"], request=request, files=files,
                              expected_version=request.version)
    assert error.value.status == 422 and "\u4e00" <= error.value.message[0] <= "\u9fff"  # Chinese first
    assert_unchanged(request)
    assert instance_count(orthanc) == before


def test_a_stale_form_sends_nothing_to_orthanc(dx, orthanc):
    request = chest_request(dx)
    before = instance_count(orthanc)
    with pytest.raises(Conflict):
        services.attach_dicom(user=dx.users["village_doctor"], request=request, files=[dicom_of(request, seed=10)],
                              expected_version=request.version - 1)
    assert_unchanged(request)
    assert instance_count(orthanc) == before


def test_orthanc_unreachable_is_a_503_and_changes_nothing(dx, settings):
    settings.ORTHANC_URL = f"http://127.0.0.1:{imaging.free_port()}"
    request = chest_request(dx)
    with pytest.raises(OrthancUnavailable) as error:
        services.attach_dicom(user=dx.users["village_doctor"], request=request, files=[dicom_of(request, seed=7)],
                              expected_version=request.version)
    assert error.value.status == 503
    assert_unchanged(request)


def test_quality_control_returns_the_acquisition_with_a_reason_and_the_clinic_sends_again(dx, orthanc):
    request = chest_request(dx)
    first = services.attach_dicom(user=dx.users["village_doctor"], request=request, files=[dicom_of(request, seed=8)],
                                  expected_version=request.version)
    request.refresh_from_db()
    reader = dx.users["centre_reader"]
    with pytest.raises(InvalidInput):
        services.return_acquisition(user=reader, request=request, reason=" ", expected_version=request.version)
    returned = services.return_acquisition(user=reader, request=request, reason="体位不正，肺尖未包全 (apices cut off)",
                                           expected_version=request.version)
    assert returned.status == ExamStatus.RETURNED
    first.refresh_from_db()
    assert not first.current and first.returned_at is not None and first.return_reason.startswith("体位不正")
    # The images of the returned acquisition stay in Orthanc (the history shows what was sent back).
    assert orthanc.study(first.orthanc_study_id)["ID"] == first.orthanc_study_id

    again = services.attach_dicom(user=dx.users["village_doctor"], request=returned,
                                  files=[dicom_of(returned, seed=9)], expected_version=returned.version)
    returned.refresh_from_db()
    assert returned.status == ExamStatus.ACQUIRED and again.current and again.pk != first.pk
    assert again.orthanc_study_id != first.orthanc_study_id
    assert Acquisition.objects.filter(request=returned).count() == 2
