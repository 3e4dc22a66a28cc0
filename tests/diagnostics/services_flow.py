"""One-line ways through the exam workflow for the services tests: order, acquire (a simulated ECG or a
specimen), claim, report, and drive a request to any status through the services themselves."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from tests.diagnostics.helpers import AT

from countycare.diagnostics import services
from countycare.diagnostics.models import CentreReader, ExamRequest, ExamStatus, RosterShift
from countycare.diagnostics.services import UploadedFile

MINUTE = dt.timedelta(minutes=1)


@functools.cache
def _wfdb(rhythm: str, heart_rate: float, seed: int) -> tuple[bytes, bytes]:
    from countycare.diagnostics import ecg

    recording = ecg.simulate(heart_rate=heart_rate, rhythm=rhythm, seed=seed)
    return ecg.write_wfdb(recording, "ecg")


def ecg_files(rhythm: str = "sinus", heart_rate: float = 72, seed: int = 0) -> list[UploadedFile]:
    """A simulated 12-lead ECG as the WFDB pair a cart would send."""
    header, data = _wfdb(rhythm, heart_rate, seed)
    return [UploadedFile("ecg.hea", "text/plain", header), UploadedFile("ecg.dat", "application/octet-stream", data)]


def order(dx, code: str = "BMP", *, by: str = "village_doctor", resident: str = "zhang_san",
          priority: str = "routine", at: dt.datetime = AT, **kwargs: Any) -> ExamRequest:
    return services.request_exam(user=dx.users[by], resident=dx.residents[resident], exam_type=dx.exam_types[code],
                                  clinical_question="胸闷两天，请协助诊断", priority=priority, now=at, **kwargs)


def acquire(dx, request: ExamRequest, *, by: str | None = None, at: dt.datetime = AT, **ecg: Any
            ) -> ExamRequest:
    """The ordering doctor (or `by`) sends the acquisition at `at`."""
    user = dx.users[by] if by else request.created_by
    if request.centre.kind == "ecg":
        services.attach_ecg(user=user, request=request, files=ecg_files(**ecg), expected_version=request.version,
                            now=at)
    else:
        services.attach_specimen(user=user, request=request, specimen_type="静脉血", specimen_id="S-1",
                                 expected_version=request.version, now=at)
    return request


def claim(dx, request: ExamRequest, *, by: str = "centre_reader", at: dt.datetime = AT) -> ExamRequest:
    return services.claim(user=dx.users[by], request=request, expected_version=request.version, now=at)


def publish(dx, request: ExamRequest, *, by: str = "centre_reader", at: dt.datetime = AT, **kwargs: Any):
    return services.write_report(user=dx.users[by], request=request, findings="所见：未见明显异常",
                                 conclusion=kwargs.pop("conclusion", "未见明显异常"), expected_version=request.version,
                                 now=at, **kwargs)


def reported(dx, code: str = "BMP", *, at: dt.datetime = AT, **kwargs: Any) -> ExamRequest:
    """Ordered, acquired, claimed and published at `at`."""
    request = order(dx, code, at=at, **kwargs)
    acquire(dx, request, at=at)
    claim(dx, request, at=at)
    publish(dx, request, at=at)
    return ExamRequest.objects.get(pk=request.pk)


def move(dx, request: ExamRequest, status: str, *, at: dt.datetime = AT) -> ExamRequest:
    """Drive a fresh request to `status` through the services."""
    if status == ExamStatus.REQUESTED:
        return request
    if status == ExamStatus.CANCELLED:
        return services.cancel_request(user=request.created_by, request=request, reason="患者拒绝检查",
                                       expected_version=request.version, now=at)
    acquire(dx, request, at=at)
    if status == ExamStatus.RETURNED:
        return services.return_acquisition(user=dx.users["centre_reader"], request=request, reason="导联脱落",
                                           expected_version=request.version, now=at)
    if status == ExamStatus.ACQUIRED:
        return request
    claim(dx, request, at=at)
    if status == ExamStatus.CLAIMED:
        return request
    if status == ExamStatus.SECOND_READING:
        publish(dx, request, at=at, second_reading=True)
        return ExamRequest.objects.get(pk=request.pk)
    publish(dx, request, at=at)
    return ExamRequest.objects.get(pk=request.pk)


def second_reader(dx, key: str = "second_reader", *, senior: bool = True):
    """Another reader of every centre, on duty like `centre_reader`."""
    from countycare.accounts.models import User
    from countycare.core.codes import Role, Title
    from countycare.registry.models import Posting, Practitioner

    practitioner = Practitioner.objects.create(community=dx.community, name=f"读片{key}",
                                               title=Title.ATTENDING_PHYSICIAN, licence_number=f"L-{key}")
    Posting.objects.create(practitioner=practitioner, organization=dx.orgs["lead"], role=Role.CENTRE_READER,
                           start=dt.date(2020, 1, 1))
    user = User.objects.create_user(username=key, password="x-Test-pass-2026", role=Role.CENTRE_READER,
                                    community=dx.community, organization=dx.orgs["lead"], practitioner=practitioner)
    for centre in dx.centres.values():
        CentreReader.objects.create(centre=centre, practitioner=practitioner, senior=senior)
        for shift in RosterShift.objects.filter(centre=centre, practitioner=dx.practitioners["centre_reader"]):
            RosterShift.objects.create(organization=shift.organization, centre=centre, practitioner=practitioner,
                                       starts_at=shift.starts_at, ends_at=shift.ends_at)
    dx.users[key] = user
    dx.practitioners[key] = practitioner
    return user
