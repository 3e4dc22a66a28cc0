"""Exams in each state for the page tests, made through the services as the pages would make them."""

from __future__ import annotations

from django.test import Client

from countycare.diagnostics import ecg, services
from countycare.diagnostics.models import ExamRequest

ECG_QUESTION = "胸闷2小时，既往高血压"


def client_for(county, role: str) -> Client:
    client = Client()
    client.force_login(county.users[role])
    return client


def ecg_csv(*, heart_rate: float = 72, rhythm: str = "sinus", seed: int = 0) -> bytes:
    return ecg.to_csv(ecg.simulate(heart_rate=heart_rate, rhythm=rhythm, seed=seed))


def fresh(exam: ExamRequest) -> ExamRequest:
    return ExamRequest.objects.get(pk=exam.pk)


def requested(dx, *, exam: str = "ECG12", priority: str = "routine", user: str = "village_doctor",
              resident: str = "zhang_san", repeat_reason: str = "") -> ExamRequest:
    return services.request_exam(user=dx.users[user], resident=dx.residents[resident],
                                 exam_type=dx.exam_types[exam], clinical_question=ECG_QUESTION, priority=priority,
                                 repeat_reason=repeat_reason)


def acquired(dx, *, heart_rate: float = 72, rhythm: str = "sinus", **kwargs) -> ExamRequest:
    exam = requested(dx, **kwargs)
    services.attach_ecg(user=dx.users[kwargs.get("user", "village_doctor")], request=exam,
                        files=[services.UploadedFile("ecg.csv", "text/csv", ecg_csv(heart_rate=heart_rate,
                                                                                    rhythm=rhythm))],
                        expected_version=exam.version)
    return fresh(exam)


def claimed(dx, **kwargs) -> ExamRequest:
    exam = acquired(dx, **kwargs)
    services.claim(user=dx.users["centre_reader"], request=exam, expected_version=exam.version)
    return fresh(exam)


def published(dx, *, conclusion: str = "1. 窦性心律 2. 正常心电图", **kwargs) -> ExamRequest:
    exam = claimed(dx, **kwargs)
    services.write_report(user=dx.users["centre_reader"], request=exam, findings="窦性心律，心率72次/分。",
                          conclusion=conclusion, expected_version=exam.version)
    return fresh(exam)
