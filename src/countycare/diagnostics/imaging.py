"""Imaging acquisitions go to a real Orthanc server (Debian package `orthanc`) through its REST API; the
platform keeps only study and series references and asks Orthanc for previews.

- `OrthancClient`: upload, study/series/instance look-ups, preview PNGs, links for readers, deletion,
  `alive()`. Standard library HTTP (urllib) with timeouts; an unreachable or misconfigured server raises
  `OrthancUnavailable` (503), a file Orthanc refuses raises `InvalidInput` (422).
- `check_dicom` / `check_fits` / `check_upload`: refuse a file before it reaches Orthanc — not DICOM Part 10,
  missing identifiers, a modality the exam type does not take, another patient, several studies at once.
- `synthetic_dicom`: a small, valid DICOM image (chest, head or ultrasound-like pattern) for the generated
  county and the tests.
- `start_server` / `ensure_demo_server`: run `/usr/sbin/Orthanc` with our own configuration under the data
  dir — HTTP on 127.0.0.1 only (`RemoteAccessAllowed: false`), authentication on, no DICOM port.
"""

from __future__ import annotations

import atexit
import base64
import ctypes
import datetime as dt
import hashlib
import http.client
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from countycare.core.errors import DomainError, InvalidInput, NotFound

ORTHANC_BINARY = "/usr/sbin/Orthanc"
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
TIMEOUT = 10.0  # seconds, for look-ups and previews
UPLOAD_TIMEOUT = 60.0  # seconds, for one instance (a CT slice is ~0.5 MB, a DX image up to ~30 MB)

# Modalities an exam type of the given modality accepts: projection radiography is DX (digital detector) or
# CR (phosphor plate) depending on the township's machine; the other modalities stand alone.
ACCEPTED_MODALITIES: dict[str, frozenset[str]] = {
    "DX": frozenset({"DX", "CR"}),
    "CR": frozenset({"CR", "DX"}),
}

SOP_CLASSES = {
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image Storage - For Presentation
    "CR": "1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography Image Storage
    "CT": "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
    "US": "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image Storage
    "MR": "1.2.840.10008.5.1.4.1.1.4",  # MR Image Storage
}
UID_ROOT = "1.2.826.0.1.3680043.8.498."  # pydicom's root; generate_uid appends a hash of our entropy


class OrthancUnavailable(DomainError):
    status = 503
    code = "unavailable"


# --- client ------------------------------------------------------------------------------------------------

class OrthancClient:
    """Orthanc's REST API. Defaults from settings ORTHANC_URL / ORTHANC_USERNAME / ORTHANC_PASSWORD."""

    def __init__(self, url: str | None = None, username: str | None = None, password: str | None = None,
                 *, public_url: str | None = None, timeout: float = TIMEOUT) -> None:
        if url is None or username is None or password is None:
            from django.conf import settings

            if url is None:  # the configured server, and the address its links are opened at
                url = settings.ORTHANC_URL
                public_url = public_url or getattr(settings, "ORTHANC_PUBLIC_URL", "")
            username = settings.ORTHANC_USERNAME if username is None else username
            password = settings.ORTHANC_PASSWORD if password is None else password
        public_url = public_url or url
        self.url = url.rstrip("/")
        self.public_url = public_url.rstrip("/")
        self.username = username
        self.timeout = timeout
        self._auth = ("Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()) if username else ""

    def __repr__(self) -> str:  # never the password
        return f"OrthancClient({self.url!r}, username={self.username!r})"

    # -- HTTP --
    def _call(self, method: str, path: str, body: bytes | None = None, *, content_type: str = "",
              accept: str = "application/json", timeout: float | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + path, data=body, method=method)
        if self._auth:
            request.add_header("Authorization", self._auth)
        if content_type:
            request.add_header("Content-Type", content_type)
        request.add_header("Accept", accept)
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, detail = error.code, error.read()
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            raise OrthancUnavailable(
                f"影像服务器（Orthanc）无法连接，请稍后再试或联系管理员 (the imaging server at {self.url} cannot be "
                f"reached: {getattr(error, 'reason', error)})", detail={"url": self.url}) from error
        if status in (401, 403):
            raise OrthancUnavailable(
                "影像服务器拒绝了平台的凭据，请管理员检查配置 (Orthanc refused the platform's credentials: check "
                "COUNTYCARE_ORTHANC_USERNAME / COUNTYCARE_ORTHANC_PASSWORD)", detail={"url": self.url})
        if status == 404:
            raise NotFound(f"影像服务器上没有该资源 (not found on the imaging server: {path})")
        if 400 <= status < 500:
            raise InvalidInput(f"影像服务器拒收该文件 (Orthanc refused the request: {_orthanc_message(detail)})")
        raise OrthancUnavailable(
            f"影像服务器出错，请稍后再试 (Orthanc answered {status}: {_orthanc_message(detail)})",
            detail={"url": self.url})

    def _json(self, method: str, path: str, body: bytes | None = None, **kwargs: Any) -> Any:
        _, content = self._call(method, path, body, **kwargs)
        return json.loads(content) if content else None

    # -- the API the platform uses --
    def alive(self) -> bool:
        """True when the server answers with our credentials accepted."""
        try:
            self._call("GET", "/system", timeout=min(self.timeout, 3.0))
        except (OrthancUnavailable, DomainError):
            return False
        return True

    def open_to_anyone(self) -> bool:
        """True when the server answers without credentials (authentication off, e.g. Debian's own service
        with its default configuration) — CountyCare refuses to send images there."""
        anonymous = urllib.request.Request(self.url + "/system", headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(anonymous, timeout=min(self.timeout, 3.0)) as answer:
                return answer.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def system(self) -> dict:
        return self._json("GET", "/system")

    def upload(self, dicom: bytes) -> dict:
        """Store one DICOM Part 10 file. Orthanc's answer: ID (the instance), ParentStudy, ParentSeries,
        ParentPatient, Status ("Success" or "AlreadyStored"). InvalidInput when Orthanc refuses the file."""
        answer = self._json("POST", "/instances", dicom, content_type="application/dicom",
                            timeout=UPLOAD_TIMEOUT)
        if not isinstance(answer, dict) or "ID" not in answer:
            raise InvalidInput("影像服务器未接收该文件 (Orthanc did not store the file)")
        return answer

    def upload_all(self, files: Sequence[bytes]) -> list[dict]:
        """Store several files; if one fails, the instances this call newly stored are deleted again (those
        Orthanc already had stay) and the error is raised."""
        answers: list[dict] = []
        try:
            for content in files:
                answers.append(self.upload(content))
        except DomainError:
            for answer in answers:
                if answer.get("Status") == "Success":
                    try:
                        self.delete_instance(answer["ID"])
                    except DomainError:
                        pass
            raise
        return answers

    def study(self, orthanc_id: str) -> dict:
        """ID, MainDicomTags (StudyInstanceUID, StudyDate, AccessionNumber…), PatientMainDicomTags, Series."""
        return self._json("GET", f"/studies/{_id(orthanc_id)}")

    def series_of(self, study_id: str) -> list[dict]:
        """The study's series: ID, MainDicomTags (SeriesInstanceUID, Modality, SeriesDescription…), Instances."""
        return self._json("GET", f"/studies/{_id(study_id)}/series")

    def instances(self, series_id: str) -> list[dict]:
        return self._json("GET", f"/series/{_id(series_id)}/instances")

    def instance_tags(self, instance_id: str) -> dict:
        """The instance's tags by keyword, text decoded (`/instances/{id}/simplified-tags`)."""
        return self._json("GET", f"/instances/{_id(instance_id)}/simplified-tags")

    def instance_file(self, instance_id: str) -> bytes:
        return self._call("GET", f"/instances/{_id(instance_id)}/file", accept="application/dicom")[1]

    def preview_png(self, instance_id: str) -> bytes:
        """The instance rendered by Orthanc as PNG (8-bit, grey levels stretched over the image's range)."""
        return self._call("GET", f"/instances/{_id(instance_id)}/preview", accept="image/png")[1]

    def lookup_study(self, study_instance_uid: str) -> str | None:
        """Orthanc's id for a StudyInstanceUID it holds, else None."""
        found = self._json("POST", "/tools/lookup", study_instance_uid.encode(), content_type="text/plain")
        return next((item["ID"] for item in found or () if item.get("Type") == "Study"), None)

    def references(self, study_id: str) -> dict:
        """What an Acquisition keeps: {"orthanc_study_id", "study_instance_uid", "series": [{"orthanc_id",
        "uid", "modality", "description", "instances": [...]}]}, series in Orthanc's order."""
        study = self.study(study_id)
        return {
            "orthanc_study_id": study["ID"],
            "study_instance_uid": study.get("MainDicomTags", {}).get("StudyInstanceUID", ""),
            "series": [
                {
                    "orthanc_id": series["ID"],
                    "uid": series.get("MainDicomTags", {}).get("SeriesInstanceUID", ""),
                    "modality": series.get("MainDicomTags", {}).get("Modality", ""),
                    "description": series.get("MainDicomTags", {}).get("SeriesDescription", ""),
                    "instances": list(series.get("Instances", [])),
                }
                for series in self.series_of(study_id)
            ],
        }

    def delete_study(self, orthanc_id: str) -> None:
        self._call("DELETE", f"/studies/{_id(orthanc_id)}")

    def delete_instance(self, orthanc_id: str) -> None:
        self._call("DELETE", f"/instances/{_id(orthanc_id)}")

    def study_url(self, orthanc_id: str) -> str:
        """The study in Orthanc's own explorer, for a reader's browser (it asks for Orthanc's credentials)."""
        return f"{self.public_url}/app/explorer.html#study?uuid={_id(orthanc_id)}"

    def dicomweb_url(self, study_instance_uid: str) -> str:
        """The study for a DICOMweb viewer (QIDO-RS/WADO-RS root of the DICOMweb plugin)."""
        return f"{self.public_url}/dicom-web/studies/{urllib.parse.quote(study_instance_uid, safe='.')}"


def _id(orthanc_id: str) -> str:
    """Orthanc ids are SHA-1 digests in dashed groups; anything else never reaches a URL."""
    text = str(orthanc_id)
    if not text or len(text) > 64 or any(c not in "0123456789abcdef-" for c in text):
        raise NotFound(f"影像标识无效 (not an Orthanc id: {text[:70]!r})")
    return text


def _orthanc_message(content: bytes) -> str:
    try:
        answer = json.loads(content)
        return str(answer.get("Details") or answer.get("Message") or answer)[:200]
    except (ValueError, AttributeError):
        return content[:200].decode("utf-8", "replace")


# --- checking files before they are sent -------------------------------------------------------------------

def check_dicom(content: bytes) -> Dataset:
    """The file as a pydicom Dataset, or InvalidInput: not a DICOM Part 10 file (with the 128-byte preamble
    and "DICM"), unreadable, or missing StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID or Modality."""
    if not content or len(content) < 132 or content[128:132] != b"DICM":
        raise InvalidInput("文件不是DICOM影像（缺少DICM文件头）(the file is not DICOM: no Part 10 \"DICM\" header)",
                           field="files")
    try:
        with warnings.catch_warnings():  # pydicom warns, then reads on, through damaged files
            warnings.simplefilter("ignore")
            dataset = pydicom.dcmread(io.BytesIO(content))
    except Exception as error:  # pydicom raises many kinds on a damaged file
        raise InvalidInput(f"DICOM文件已损坏，无法读取 (the DICOM file cannot be read: {error})"[:300],
                           field="files") from error
    missing = [keyword for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "Modality")
               if not str(dataset.get(keyword, "") or "").strip()]
    if missing:
        raise InvalidInput(f"DICOM文件缺少必要字段：{', '.join(missing)} (the DICOM file lacks {', '.join(missing)})",
                           field="files")
    return dataset


def check_fits(dataset: Dataset, *, modality: str, patient_id: str | None = None) -> None:
    """InvalidInput unless the file's modality is one the exam type takes (`ACCEPTED_MODALITIES`; an exam
    type without a modality takes any) and, when `patient_id` is given, the file's PatientID is it."""
    found = str(dataset.get("Modality", "")).strip().upper()
    wanted = (modality or "").strip().upper()
    if wanted and found not in ACCEPTED_MODALITIES.get(wanted, frozenset({wanted})):
        raise InvalidInput(f"影像设备类型不符：该检查需要{wanted}，文件为{found or '未注明'} "
                           f"(wrong modality: the exam takes {wanted}, the file is {found or 'unspecified'})",
                           field="files")
    if patient_id is not None:
        on_file = str(dataset.get("PatientID", "") or "").strip()
        if on_file != str(patient_id).strip():
            raise InvalidInput(f"影像的患者编号（{on_file or '空'}）与申请的患者不符 "
                               f"(the image's PatientID {on_file or '(blank)'} is not this request's patient)",
                               field="files")


def check_upload(files: Sequence[bytes], *, modality: str, patient_id: str | None = None) -> list[Dataset]:
    """Every file checked (check_dicom, check_fits) and all of one study, before anything is sent."""
    if not files:
        raise InvalidInput("请上传至少一个DICOM文件 (upload at least one DICOM file)", field="files")
    datasets = [check_dicom(content) for content in files]
    for dataset in datasets:
        check_fits(dataset, modality=modality, patient_id=patient_id)
    studies = {str(d.StudyInstanceUID) for d in datasets}
    if len(studies) > 1:
        raise InvalidInput(f"一次只能上传同一检查的影像，收到{len(studies)}个检查 "
                           f"(the files belong to {len(studies)} studies; send one study per acquisition)",
                           field="files")
    return datasets


# --- synthetic images --------------------------------------------------------------------------------------

def synthetic_dicom(*, patient_name: str, patient_id: str, modality: str = "DX", study_uid: str | None = None,
                    seed: int = 0, size: int = 64, series_uid: str | None = None, instance_number: int = 1,
                    accession_number: str = "", study_datetime: dt.datetime | None = None,
                    sex: str = "", birth_date: dt.date | None = None, description: str = "") -> bytes:
    """A small valid DICOM Part 10 image (explicit VR little endian, MONOCHROME2) Orthanc stores and
    previews: a chest radiograph-like picture for DX/CR, a head slice for CT/MR, a speckled sector for US.
    PatientName may be Chinese (SpecificCharacterSet ISO_IR 192, UTF-8). UIDs are derived from the
    arguments, so the same call gives the same file; pass `study_uid` to put several images in one study."""
    modality = modality.upper()
    if modality not in SOP_CLASSES:
        raise ValueError(f"no synthetic image for modality {modality}")
    if not 16 <= size <= 1024:
        raise ValueError("size must be 16..1024")
    key = [patient_id, patient_name, modality, str(seed), str(size), accession_number]
    study_uid = study_uid or generate_uid(UID_ROOT, entropy_srcs=["study", *key])
    series_uid = series_uid or generate_uid(UID_ROOT, entropy_srcs=["series", study_uid, *key])
    sop_uid = generate_uid(UID_ROOT, entropy_srcs=["instance", series_uid, str(instance_number), *key])
    when = study_datetime or dt.datetime(2026, 1, 1, 9, 0)

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SOP_CLASSES[modality]
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = UID_ROOT + "1"
    meta.ImplementationVersionName = "COUNTYCARE"

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = SOP_CLASSES[modality]
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.Modality = modality
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientSex = {"male": "M", "female": "F", "M": "M", "F": "F"}.get(sex, "O" if sex else "")
    ds.PatientBirthDate = birth_date.strftime("%Y%m%d") if birth_date else ""
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = when.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = when.strftime("%H%M%S")
    ds.AccessionNumber = accession_number
    ds.StudyID = accession_number[-16:] or "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = instance_number
    ds.StudyDescription = description or {"DX": "胸部正位", "CR": "胸部正位", "CT": "头颅平扫", "MR": "头颅平扫",
                                           "US": "腹部超声"}[modality]
    ds.SeriesDescription = ds.StudyDescription
    ds.Manufacturer = "CountyCare synthetic"
    ds.InstitutionName = "CountyCare"
    ds.ReferringPhysicianName = ""
    ds.BodyPartExamined = {"DX": "CHEST", "CR": "CHEST", "CT": "HEAD", "MR": "HEAD", "US": "ABDOMEN"}[modality]
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    if modality == "DX":
        ds.PresentationIntentType = "FOR PRESENTATION"
    if modality in ("DX", "CR"):
        ds.ViewPosition = "PA"
        ds.PatientOrientation = ["L", "F"]
    if modality in ("CT", "MR"):
        ds.ImagePositionPatient = [0, 0, float(instance_number) * 5]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.SliceThickness = 5
        ds.PixelSpacing = [round(220 / size, 4)] * 2
        ds.FrameOfReferenceUID = generate_uid(UID_ROOT, entropy_srcs=["frame", study_uid])

    image = _synthetic_pixels(modality, size, _seed(seed, patient_id))
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelRepresentation = 0
    if modality == "US":
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        ds.PixelData = image.astype(np.uint8).tobytes()
    else:
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
        ds.PixelData = image.astype(np.uint16).tobytes()
        ds.WindowCenter, ds.WindowWidth = (1064, 160) if modality == "CT" else (2048, 4096)
        if modality == "CT":
            ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _seed(seed: int, patient_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{patient_id}".encode()).digest()[:8], "big")


def _synthetic_pixels(modality: str, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / (size - 1) * 2 - 1  # -1..1, y down

    def ellipse(cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
        return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1

    jitter = rng.normal(0, 0.03, 8)
    if modality in ("DX", "CR"):  # chest PA: soft tissue, dark lungs, bright spine and heart, ribs
        image = np.full((size, size), 300.0)
        image[ellipse(0, 0.1, 0.92 + jitter[0], 1.05)] = 1500
        lungs = ellipse(-0.42 + jitter[1], -0.05, 0.3, 0.62) | ellipse(0.42 + jitter[2], -0.05, 0.3, 0.62)
        image[lungs] = 700
        ribs = (np.sin((y + 1) * 14 + np.abs(x) * 3) > 0.75) & lungs
        image[ribs] += 350
        image[ellipse(0.16 + jitter[3], 0.22, 0.3 + jitter[4], 0.26)] = 1900  # heart, to the patient's left
        image[(np.abs(x) < 0.07) & (y > -0.9)] = 2400  # spine
        image[ellipse(0, 1.0, 1.2, 0.25) & (y > 0.75)] = 2000  # diaphragm and abdomen
        if rng.random() < 0.3:  # a nodule now and then, for the reader
            image[ellipse(rng.uniform(-0.5, 0.5), rng.uniform(-0.4, 0.2), 0.06, 0.06)] += 500
        noise = 60
    elif modality in ("CT", "MR"):  # head slice, stored as HU + 1024: air, skull, brain, ventricles
        image = np.zeros((size, size))
        head = ellipse(0, 0, 0.8 + jitter[0], 0.95)
        image[head] = 1024 + 1000  # bone
        image[ellipse(0, 0, 0.72 + jitter[0], 0.87)] = 1024 + 35  # brain
        image[ellipse(-0.12, -0.05, 0.08, 0.25) | ellipse(0.12, -0.05, 0.08, 0.25)] = 1024 + 8  # ventricles
        if rng.random() < 0.2:  # a bleed
            image[ellipse(rng.uniform(-0.4, 0.4), rng.uniform(-0.4, 0.4), 0.1, 0.08)] = 1024 + 70
        noise = 4
    else:  # ultrasound sector with speckle
        angle, radius = np.arctan2(x, y + 1), np.hypot(x, y + 1)
        sector = (np.abs(angle) < 0.7) & (radius < 1.9) & (radius > 0.15)
        image = np.zeros((size, size))
        image[sector] = 80 + 60 * rng.random(int(sector.sum()))
        image[sector & ellipse(0.1 + jitter[0], 0.3, 0.35, 0.25)] *= 0.35  # an organ's darker echo
        noise = 8
    image += rng.normal(0, noise, image.shape)
    top = 255 if modality == "US" else 4095
    return np.clip(image, 0, top)


# --- running a server --------------------------------------------------------------------------------------

@dataclass
class ServerHandle:
    """A running Orthanc: its client, process (None when it was already running), files."""

    url: str
    username: str
    password: str = field(repr=False)
    process: subprocess.Popen | None
    config_path: Path | None
    log_path: Path | None
    started_seconds: float = 0.0

    def client(self, **kwargs: Any) -> OrthancClient:
        return OrthancClient(self.url, self.username, self.password, public_url=self.url, **kwargs)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server this handle started (a server found running is left alone)."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def orthanc_binary() -> str:
    """The Orthanc executable, or OrthancUnavailable saying how to install it."""
    found = os.environ.get("COUNTYCARE_ORTHANC_BINARY") or (
        ORTHANC_BINARY if os.access(ORTHANC_BINARY, os.X_OK) else shutil.which("Orthanc"))
    if not found:
        raise OrthancUnavailable(
            "未安装Orthanc影像服务器：apt-get install -y --no-install-recommends orthanc orthanc-dicomweb "
            "(Orthanc is not installed: apt-get install -y --no-install-recommends orthanc orthanc-dicomweb)")
    return found


def write_config(data_dir: Path | str, *, port: int, username: str, password: str) -> Path:
    """`<data_dir>/orthanc/orthanc.json` (owner-only: it holds the password) with storage beside it."""
    home = Path(data_dir) / "orthanc"
    storage = home / "storage"
    storage.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(home, 0o700)  # patients' images
    config = {
        "Name": "CountyCare",
        "StorageDirectory": str(storage),
        "IndexDirectory": str(storage),
        "StorageCompression": False,
        "HttpServerEnabled": True,
        "HttpPort": port,
        "RemoteAccessAllowed": False,  # Orthanc binds every interface; this refuses all but 127.0.0.1
        "AuthenticationEnabled": True,
        "RegisteredUsers": {username: password},
        "DicomServerEnabled": False,  # acquisitions arrive through the platform, not C-STORE
        "DefaultEncoding": "Utf8",
        "ExecuteLuaEnabled": False,
        "RestApiWriteToFileSystemEnabled": False,
        "SaveJobs": False,
        "ConcurrentJobs": 1,
        "HttpThreadsCount": 20,
        "HttpTimeout": 60,
        "KeepAlive": True,
        "OverwriteInstances": False,
        "Plugins": [DICOMWEB_PLUGIN] if os.path.exists(DICOMWEB_PLUGIN) else [],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True, "WadoRoot": "/wado",
                     "Ssl": False, "StudiesMetadata": "MainDicomTags", "SeriesMetadata": "Full"},
    }
    path = home / "orthanc.json"
    scratch = home / f".orthanc.json.{os.getpid()}"
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(config, out, indent=2, ensure_ascii=False)
    os.replace(scratch, path)
    return path


def start_server(data_dir: Path | str, port: int = 8042, username: str | None = None,
                 password: str | None = None, *, timeout: float = 30.0) -> ServerHandle:
    """Start `/usr/sbin/Orthanc` with our configuration under `<data_dir>/orthanc/` (HTTP on `port`, local
    access only, authentication on) and wait until it answers. The server stops with `handle.stop()`, and
    also when this process exits."""
    if username is None or password is None:
        from django.conf import settings

        username = settings.ORTHANC_USERNAME if username is None else username
        password = settings.ORTHANC_PASSWORD if password is None else password
    binary = orthanc_binary()
    if _port_in_use(port):
        raise OrthancUnavailable(f"端口{port}已被占用，无法启动Orthanc (port {port} is already in use)")
    config_path = write_config(data_dir, port=port, username=username, password=password)
    log_path = config_path.parent / "orthanc.log"
    started = time.perf_counter()
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [binary, f"--logfile={log_path}", str(config_path)], stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, cwd=config_path.parent, preexec_fn=_die_with_parent)
    handle = ServerHandle(f"http://127.0.0.1:{port}", username, password, process, config_path, log_path)
    atexit.register(handle.stop)
    client = handle.client(timeout=2.0)
    deadline = time.monotonic() + timeout
    while not client.alive():
        if process.poll() is not None or time.monotonic() > deadline:
            handle.stop()
            tail = log_path.read_text(errors="replace")[-1500:] if log_path.exists() else ""
            raise OrthancUnavailable(f"Orthanc未能启动 (Orthanc did not start; its log {log_path} ends):\n{tail}")
        time.sleep(0.05)
    handle.started_seconds = time.perf_counter() - started
    return handle


def ensure_demo_server(data_dir: Path | str | None = None) -> ServerHandle:
    """For `countycare demo`: the Orthanc at settings.ORTHANC_URL if it already answers with our credentials,
    else one started on that URL's port under the data dir (stopped when this process exits, or with
    `handle.stop()`). OrthancUnavailable when it is not installed, the port is taken by something else, or
    ORTHANC_URL points at another machine that does not answer."""
    from django.conf import settings

    client = OrthancClient()
    if client.alive():
        refuse_open_server(client)
        return ServerHandle(client.url, client.username, settings.ORTHANC_PASSWORD, None, None, None)
    parsed = urllib.parse.urlsplit(settings.ORTHANC_URL)
    if parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise OrthancUnavailable(f"Orthanc不可用 (the Orthanc at {settings.ORTHANC_URL} does not answer)")
    return start_server(data_dir or settings.DATA_DIR, port=parsed.port or 80)


def refuse_open_server(client: OrthancClient) -> None:
    """OrthancUnavailable when the server at the client's URL lets anyone in."""
    if client.open_to_anyone():
        raise OrthancUnavailable(
            f"{client.url}上的Orthanc未开启身份验证，平台不会向其发送影像；如为系统自带服务请停用："
            f"systemctl disable --now orthanc (the Orthanc at {client.url} answers without credentials — "
            "probably the Debian service with its default configuration; stop it with `systemctl disable --now "
            "orthanc` and let `countycare orthanc` run one with authentication on)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _die_with_parent() -> None:
    """In the child before exec: Linux sends it SIGTERM when the parent dies, so no Orthanc outlives a killed
    demo or test run."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
