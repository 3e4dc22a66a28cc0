"""The imaging client against a real Orthanc (tests/diagnostics/orthanc_fixture.py starts one per session):
upload and references, previews, Chinese names, refused files, authentication, an unreachable server."""

from __future__ import annotations

import io
import json
import os
import stat
import urllib.error
import urllib.request

import pydicom
import pytest
from PIL import Image

from countycare.core.errors import InvalidInput, NotFound
from countycare.diagnostics import imaging
from countycare.diagnostics.imaging import OrthancClient, OrthancUnavailable

pytest_plugins = ["tests.diagnostics.orthanc_fixture"]  # fixtures orthanc_server (session) and orthanc
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def instance_count(client: OrthancClient) -> int:
    return client._json("GET", "/statistics")["CountInstances"]


def test_an_upload_gives_study_series_and_instance_references(orthanc):
    content = imaging.synthetic_dicom(patient_name="张三", patient_id="R-0001", modality="DX", seed=1,
                                      accession_number="ACC-0001")
    dataset = imaging.check_dicom(content)
    answer = orthanc.upload(content)
    assert answer["Status"] == "Success"
    assert {"ID", "ParentStudy", "ParentSeries", "ParentPatient"} <= answer.keys()

    refs = orthanc.references(answer["ParentStudy"])
    assert refs["orthanc_study_id"] == answer["ParentStudy"]
    assert refs["study_instance_uid"] == dataset.StudyInstanceUID
    assert refs["series"] == [{
        "orthanc_id": answer["ParentSeries"], "uid": dataset.SeriesInstanceUID, "modality": "DX",
        "description": "胸部正位", "instances": [answer["ID"]],
    }]
    study = orthanc.study(answer["ParentStudy"])
    assert study["MainDicomTags"]["AccessionNumber"] == "ACC-0001"
    assert orthanc.lookup_study(dataset.StudyInstanceUID) == answer["ParentStudy"]
    assert [i["ID"] for i in orthanc.instances(answer["ParentSeries"])] == [answer["ID"]]
    # The same file again is recognised, not duplicated.
    assert orthanc.upload(content)["Status"] == "AlreadyStored"


def test_several_images_in_one_study(orthanc):
    first = imaging.synthetic_dicom(patient_name="李四", patient_id="R-0002", modality="CT", seed=2)
    study_uid = str(imaging.check_dicom(first).StudyInstanceUID)
    series_uid = str(imaging.check_dicom(first).SeriesInstanceUID)
    second = imaging.synthetic_dicom(patient_name="李四", patient_id="R-0002", modality="CT", seed=2,
                                     study_uid=study_uid, series_uid=series_uid, instance_number=2)
    datasets = imaging.check_upload([first, second], modality="CT", patient_id="R-0002")
    assert len({d.SOPInstanceUID for d in datasets}) == 2
    answers = orthanc.upload_all([first, second])
    assert len({a["ParentStudy"] for a in answers}) == 1
    refs = orthanc.references(answers[0]["ParentStudy"])
    assert sorted(refs["series"][0]["instances"]) == sorted(a["ID"] for a in answers)


def test_preview_is_a_png_of_the_image_size(orthanc):
    for modality, size in (("DX", 96), ("CT", 64), ("US", 48), ("CR", 128)):
        answer = orthanc.upload(imaging.synthetic_dicom(patient_name="王五", patient_id="R-0003", modality=modality,
                                                        size=size, seed=3))
        png = orthanc.preview_png(answer["ID"])
        assert png.startswith(PNG_SIGNATURE)
        image = Image.open(io.BytesIO(png))
        assert image.size == (size, size)
        extrema = image.convert("L").getextrema()
        assert extrema[1] - extrema[0] > 100, f"{modality} preview has no contrast: {extrema}"


def test_a_chinese_patient_name_round_trips(orthanc):
    answer = orthanc.upload(imaging.synthetic_dicom(patient_name="欧阳娜娜", patient_id="R-0004", seed=4))
    assert orthanc.instance_tags(answer["ID"])["PatientName"] == "欧阳娜娜"
    assert orthanc.study(answer["ParentStudy"])["PatientMainDicomTags"]["PatientName"] == "欧阳娜娜"
    stored = pydicom.dcmread(io.BytesIO(orthanc.instance_file(answer["ID"])))
    assert str(stored.PatientName) == "欧阳娜娜" and stored.SpecificCharacterSet == "ISO_IR 192"


def test_a_file_that_is_not_dicom_is_refused_and_nothing_is_stored(orthanc):
    before = instance_count(orthanc)
    for content in (b"", b"%PDF-1.7 not an image", b"\0" * 128 + b"DICM" + b"\xff" * 40):
        with pytest.raises(InvalidInput) as refused:
            imaging.check_dicom(content)
        assert "DICOM" in refused.value.message and refused.value.status == 422
    # Orthanc itself refuses it too when something sends it regardless.
    with pytest.raises(InvalidInput):
        orthanc.upload(b"GIF89a" + b"\0" * 400)
    assert instance_count(orthanc) == before


def test_a_dicom_file_without_its_identifiers_is_refused():
    dataset = imaging.check_dicom(imaging.synthetic_dicom(patient_name="赵六", patient_id="R-0005"))
    del dataset.Modality
    out = io.BytesIO()
    dataset.save_as(out, enforce_file_format=True)
    with pytest.raises(InvalidInput, match="Modality"):
        imaging.check_dicom(out.getvalue())


def test_an_acquisition_that_does_not_fit_the_request_is_refused():
    chest = imaging.check_dicom(imaging.synthetic_dicom(patient_name="张三", patient_id="R-0001", modality="CR"))
    imaging.check_fits(chest, modality="DX", patient_id="R-0001")  # a phosphor plate serves a DR request
    imaging.check_fits(chest, modality="", patient_id=None)
    with pytest.raises(InvalidInput, match="CT") as wrong:
        imaging.check_fits(chest, modality="CT", patient_id="R-0001")
    assert wrong.value.message.startswith("影像设备类型不符")
    with pytest.raises(InvalidInput, match="PatientID"):
        imaging.check_fits(chest, modality="DX", patient_id="R-9999")
    other = imaging.synthetic_dicom(patient_name="张三", patient_id="R-0001", modality="CR", seed=9)
    with pytest.raises(InvalidInput, match="2 studies"):
        imaging.check_upload([imaging.synthetic_dicom(patient_name="张三", patient_id="R-0001", modality="CR"),
                              other], modality="DX", patient_id="R-0001")
    with pytest.raises(InvalidInput):
        imaging.check_upload([], modality="DX")


def test_a_failed_batch_removes_what_it_stored_but_keeps_what_was_there(orthanc):
    kept = imaging.synthetic_dicom(patient_name="孙七", patient_id="R-0006", seed=6)
    kept_id = orthanc.upload(kept)["ID"]
    new = imaging.synthetic_dicom(patient_name="孙七", patient_id="R-0006", seed=7)
    before = instance_count(orthanc)
    with pytest.raises(InvalidInput):
        orthanc.upload_all([kept, new, b"not dicom"])
    assert instance_count(orthanc) == before
    assert orthanc.instance_tags(kept_id)["PatientID"] == "R-0006"


def test_deleting_a_study(orthanc):
    answer = orthanc.upload(imaging.synthetic_dicom(patient_name="周八", patient_id="R-0007", seed=8))
    orthanc.delete_study(answer["ParentStudy"])
    with pytest.raises(NotFound):
        orthanc.study(answer["ParentStudy"])


def test_ids_that_are_not_orthanc_ids_never_reach_a_url(orthanc):
    for bad in ("../system", "abc/def", "", "x" * 65):
        with pytest.raises(NotFound):
            orthanc.study(bad)


def test_links_for_readers(orthanc, orthanc_server, settings):
    content = imaging.synthetic_dicom(patient_name="吴九", patient_id="R-0008", seed=10)
    answer = orthanc.upload(content)
    uid = str(imaging.check_dicom(content).StudyInstanceUID)
    assert orthanc.study_url(answer["ParentStudy"]) == (
        f"{orthanc_server.url}/app/explorer.html#study?uuid={answer['ParentStudy']}")
    settings.ORTHANC_PUBLIC_URL = "https://pacs.example.org/orthanc"
    assert OrthancClient().study_url("ab-cd") == "https://pacs.example.org/orthanc/app/explorer.html#study?uuid=ab-cd"
    # The DICOMweb plugin answers for the study (QIDO-RS).
    path = orthanc.dicomweb_url(uid).removeprefix(orthanc.public_url) + "/series"
    series = json.loads(orthanc._call("GET", path, accept="application/dicom+json")[1])
    assert series[0]["0020000E"]["Value"] == [str(imaging.check_dicom(content).SeriesInstanceUID)]


def test_authentication_is_on(orthanc_server):
    for path in ("/system", "/instances", "/app/explorer.html", "/dicom-web/studies"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(orthanc_server.url + path, timeout=5)
        assert refused.value.code == 401, path
    wrong = OrthancClient(orthanc_server.url, orthanc_server.username, "wrong-password")
    assert not wrong.alive()
    with pytest.raises(OrthancUnavailable, match="credentials"):
        wrong.system()
    assert orthanc_server.client().alive() and not orthanc_server.client().open_to_anyone()
    config = json.loads(orthanc_server.config_path.read_text())
    assert config["RemoteAccessAllowed"] is False and config["AuthenticationEnabled"] is True
    assert config["DicomServerEnabled"] is False
    assert stat.S_IMODE(os.stat(orthanc_server.config_path).st_mode) == 0o600


def test_an_unreachable_server_is_a_503_with_a_clear_message():
    closed = OrthancClient(f"http://127.0.0.1:{imaging.free_port()}", "u", "p", timeout=2)
    assert not closed.alive()
    with pytest.raises(OrthancUnavailable) as unavailable:
        closed.upload(imaging.synthetic_dicom(patient_name="张三", patient_id="R-0001"))
    assert unavailable.value.status == 503
    assert unavailable.value.message.startswith("影像服务器（Orthanc）无法连接")
    assert "cannot be reached" in unavailable.value.message


def test_the_client_reads_the_settings(settings):
    settings.ORTHANC_URL = "http://127.0.0.1:9/"
    settings.ORTHANC_PUBLIC_URL = ""
    settings.ORTHANC_USERNAME = "someone"
    settings.ORTHANC_PASSWORD = "secret"
    client = OrthancClient()
    assert client.url == client.public_url == "http://127.0.0.1:9"
    settings.ORTHANC_PUBLIC_URL = "https://pacs.example.org"
    assert OrthancClient().public_url == "https://pacs.example.org"
    assert OrthancClient("http://127.0.0.1:18042").public_url == "http://127.0.0.1:18042"  # another server
    assert "secret" not in repr(client)


def test_synthetic_images_are_repeatable_and_valid():
    one = imaging.synthetic_dicom(patient_name="张三", patient_id="R-0001", seed=1)
    assert one == imaging.synthetic_dicom(patient_name="张三", patient_id="R-0001", seed=1)
    other = imaging.check_dicom(imaging.synthetic_dicom(patient_name="张三", patient_id="R-0001", seed=2))
    dataset = imaging.check_dicom(one)
    assert dataset.StudyInstanceUID != other.StudyInstanceUID
    assert dataset.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert dataset.pixel_array.shape == (64, 64) and dataset.PhotometricInterpretation == "MONOCHROME2"
    with pytest.raises(ValueError):
        imaging.synthetic_dicom(patient_name="张三", patient_id="R-0001", modality="ECG")
