"""Shared by the diagnostics JSON API and FHIR tests: exams made through the services (requested, acquired,
reported), simulated ECG files, clients of /api/ and /fhir/ with a county user's token."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from django.test import Client
from django.utils import timezone

from countycare.accounts.tokens import issue_token
from countycare.diagnostics import ecg, services
from countycare.diagnostics.models import Acquisition, AcquisitionKind, ExamRequest

FHIR_JSON = "application/fhir+json"
_ECG_CACHE: dict[tuple[float, str], tuple[bytes, bytes, bytes]] = {}


class Api:
    """Django's test client with one user's bearer token, for /api/ and /fhir/."""

    def __init__(self, user: Any | None) -> None:
        headers = {"Authorization": f"Bearer {issue_token(user)[0]}"} if user is not None else {}
        self.client = Client(headers=headers)

    def get(self, path: str, params: dict[str, Any] | None = None, **headers: str):
        return self.client.get(path, params or {}, headers=headers)

    def post(self, path: str, body: Any = None, *, content_type: str = "application/json", **headers: str):
        data = body if isinstance(body, str | bytes) else json.dumps(body, default=str, ensure_ascii=False)
        return self.client.post(path, data, content_type=content_type, headers=headers)

    def fhir_post(self, path: str, body: Any, **headers: str):
        return self.post(path, body, content_type=FHIR_JSON, **headers)

    def upload(self, path: str, data: dict[str, Any], **headers: str):
        """multipart/form-data: files as (name, bytes, content type) triples in lists."""
        from django.core.files.uploadedfile import SimpleUploadedFile

        form: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(value, list) and value and isinstance(value[0], tuple):
                form[key] = [SimpleUploadedFile(name, content, content_type=kind) for name, content, kind in value]
            else:
                form[key] = value
        return self.client.post(path, form, headers=headers)


def client(county, key: str | None) -> Api:
    return Api(county.users[key] if key else None)


def ecg_files(heart_rate: float = 72, rhythm: str = "sinus") -> list[tuple[str, bytes, str]]:
    """A simulated 10-second 12-lead ECG as a WFDB pair (cached: simulating takes a moment)."""
    key = (heart_rate, rhythm)
    if key not in _ECG_CACHE:
        recording = ecg.simulate(heart_rate=heart_rate, rhythm=rhythm, seed=1)
        header, data = ecg.write_wfdb(recording, "rec1")
        csv = "\n".join([f"# sample_rate={recording.sample_rate}", ",".join(recording.lead_names)] + [
            ",".join(f"{v:.4f}" for v in row) for row in recording.signals
        ]).encode()
        _ECG_CACHE[key] = (header, data, csv)
    header, data, _ = _ECG_CACHE[key]
    return [("rec1.hea", header, "text/plain"), ("rec1.dat", data, "application/octet-stream")]


def ecg_csv(heart_rate: float = 72) -> list[tuple[str, bytes, str]]:
    ecg_files(heart_rate)
    return [("leads.csv", _ECG_CACHE[(heart_rate, "sinus")][2], "text/csv")]


def uploaded(files: list[tuple[str, bytes, str]]) -> list[services.UploadedFile]:
    return [services.UploadedFile(filename=name, media_type=kind, content=content) for name, content, kind in files]


def request_exam(dx, code: str = "ECG12", *, by: str = "village_doctor", resident: str = "zhang_san",
                 priority: str = "routine", **kwargs: Any) -> ExamRequest:
    return services.request_exam(user=dx.users[by], resident=dx.residents[resident], exam_type=dx.exam_types[code],
                                 clinical_question="胸闷两天 chest tightness for two days", priority=priority,
                                 channel="web", **kwargs)


def fresh(exam: ExamRequest) -> ExamRequest:
    return ExamRequest.objects.select_related("centre", "resident", "exam_type").get(pk=exam.pk)


def acquired_ecg(dx, *, heart_rate: float = 72, by: str = "village_doctor", **kwargs: Any) -> ExamRequest:
    exam = request_exam(dx, "ECG12", by=by, **kwargs)
    services.attach_ecg(user=dx.users[by], request=fresh(exam), files=uploaded(ecg_files(heart_rate)),
                        expected_version=fresh(exam).version)
    return fresh(exam)


def reported_ecg(dx, *, conclusion: str = "窦性心律，正常心电图 sinus rhythm, normal ECG", critical: bool = False,
                 **kwargs: Any) -> ExamRequest:
    exam = acquired_ecg(dx, **kwargs)
    reader = dx.users["centre_reader"]
    services.claim(user=reader, request=fresh(exam))
    exam = fresh(exam)
    services.write_report(user=reader, request=exam, findings="心率72次/分，PR 160 ms，QRS 90 ms。",
                          conclusion=conclusion, expected_version=exam.version, critical=critical,
                          critical_finding="室性心动过速 ventricular tachycardia" if critical else "")
    return fresh(exam)


def lab_results(value: str = "4.1") -> list[dict[str, Any]]:
    now = timezone.now()
    return [
        {"code": "2823-3", "display": "血钾 Potassium", "value": Decimal(value), "unit": "mmol/L",
         "reference_low": Decimal("3.5"), "reference_high": Decimal("5.3"), "interpretation": "N", "observed_at": now},
        {"code": "2951-2", "display": "血钠 Sodium", "value": Decimal("140"), "unit": "mmol/L",
         "reference_low": Decimal("137"), "reference_high": Decimal("147"), "interpretation": "N", "observed_at": now},
    ]


def imaging_study(dx, *, uid: str = "1.2.826.0.1.3680043.8.498.12345", by: str = "village_doctor") -> Acquisition:
    """An imaging exam with a DICOM acquisition as attach_dicom leaves it (the Orthanc tests send real ones)."""
    exam = request_exam(dx, "DR-CHEST", by=by)
    now = timezone.now()
    ExamRequest.objects.filter(pk=exam.pk).update(status="acquired", acquired_at=now, version=exam.version + 1)
    return Acquisition.objects.create(
        request=exam, kind=AcquisitionKind.DICOM, acquired_at=now, acquired_by=dx.practitioners[by],
        orthanc_study_id="6b9e19d9-62094390-5f9ddb01-4a191ae7-9766b715", study_instance_uid=uid,
        series=[{"orthanc_id": "e8a1c1b3-ac7a2d0c-0b4bc3bc-1b8b4cd2-c61a8f4c", "uid": uid + ".1", "modality": "DX",
                 "description": "胸部正位 PA", "instances": ["a", "b"]}],
    )


def days_ago(days: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)
