"""Every (status, action) pair of the exam workflow: allowed pairs move the request (one ExamEvent, one audit
entry, version + 1), refused ones are a 409 that changes nothing; the wrong side is a 403, a missing reason a
422, a stale version or a double submit a 409."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from tests.diagnostics.helpers import AT
from tests.diagnostics.services_flow import move, order, second_reader

from countycare.core.errors import Conflict, InvalidInput, PermissionDenied
from countycare.core.models import AuditEvent
from countycare.diagnostics import services, workflow
from countycare.diagnostics.models import ExamEvent, ExamRequest, ExamStatus, Report

USER_ACTIONS = [t.action for t in workflow.TRANSITIONS if t.side != workflow.Side.SYSTEM]
PAIRS = list(itertools.product(ExamStatus.values, USER_ACTIONS))
REASON = "按流程处理"


def act(dx, request: ExamRequest, action: str, *, user: Any = None, version: int | None = None,
        reason: str = REASON) -> Any:
    """Perform one workflow action through its service, as the side the table names (or `user`)."""
    v = request.version if version is None else version
    requester, reader = dx.users["village_doctor"], dx.users["centre_reader"]
    calls: dict[str, Callable[[], Any]] = {
        "acquire": lambda: services.attach_specimen(user=user or requester, request=request, specimen_type="静脉血",
                                                    expected_version=v, now=AT),
        "return": lambda: services.return_acquisition(user=user or reader, request=request, reason=reason,
                                                      expected_version=v, now=AT),
        # a second reading is claimed by another senior reader: its preliminary's author may not
        "claim": lambda: services.claim(user=user or (dx.users["second_reader"] if request.status ==
                                                      ExamStatus.SECOND_READING else reader),
                                        request=request, expected_version=v, now=AT),
        "release": lambda: services.release(user=user or reader, request=request, expected_version=v, now=AT),
        "second_reading": lambda: services.write_report(user=user or reader, request=request, findings="所见",
                                                        conclusion="初步意见", second_reading=True,
                                                        expected_version=v, now=AT),
        "publish": lambda: services.write_report(user=user or reader, request=request, findings="所见",
                                                 conclusion="未见异常", expected_version=v, now=AT),
        "revise": lambda: services.revise_report(user=user or reader, request=request, findings="所见（修订）",
                                                 conclusion="修订意见", reason=reason, expected_version=v, now=AT),
        "cancel": lambda: services.cancel_request(user=user or requester, request=request, reason=reason,
                                                  expected_version=v, now=AT),
    }
    return calls[action]()


def snapshot(request: ExamRequest) -> tuple:
    row = ExamRequest.objects.filter(pk=request.pk).values("status", "version", "claimed_by_id", "acquired_at",
                                                          "reported_at", "status_reason").get()
    return (row, ExamEvent.objects.filter(request=request).count(), Report.objects.filter(request=request).count(),
            AuditEvent.objects.filter(object_id=str(request.uuid)).count())


def test_the_table_names_every_action_once_and_targets_only_known_statuses():
    assert len(workflow.BY_ACTION) == len(workflow.TRANSITIONS)
    for t in workflow.TRANSITIONS:
        assert t.target in ExamStatus.values
        assert t.sources <= set(ExamStatus.values)
        assert not (t.sources & workflow.TERMINAL)
        assert t.label[0] > "\u4e00"  # Chinese first
    assert {t.action for t in workflow.allowed_actions(ExamStatus.CLAIMED)} == {"release", "second_reading",
                                                                                 "publish"}


@pytest.mark.parametrize(("status", "action"), PAIRS, ids=[f"{s}-{a}" for s, a in PAIRS])
def test_each_status_and_action_is_allowed_exactly_when_the_table_says_so(dx, status, action):
    second_reader(dx)
    step = workflow.BY_ACTION[action]
    request = move(dx, order(dx), status)
    before = snapshot(request)
    seen = request.version
    audited = AuditEvent.objects.filter(object_id=str(request.uuid), action=action).count()
    if status in step.sources:
        act(dx, request, action)
        stored = ExamRequest.objects.get(pk=request.pk)
        assert stored.status == step.target
        assert stored.version == seen + 1
        event = ExamEvent.objects.filter(request=request).latest("id")
        assert (event.action, event.from_status, event.to_status) == (action, status, step.target)
        assert AuditEvent.objects.filter(object_id=str(request.uuid), action=action).count() == audited + 1
    else:
        with pytest.raises(Conflict):
            act(dx, request, action)
        assert snapshot(request) == before


REQUESTER_ACTIONS = {"acquire": ExamStatus.REQUESTED, "cancel": ExamStatus.REQUESTED}
CENTRE_ACTIONS = {"return": ExamStatus.ACQUIRED, "claim": ExamStatus.ACQUIRED, "release": ExamStatus.CLAIMED,
                  "second_reading": ExamStatus.CLAIMED, "publish": ExamStatus.CLAIMED,
                  "revise": ExamStatus.PUBLISHED}


@pytest.mark.parametrize("action", [*REQUESTER_ACTIONS, *CENTRE_ACTIONS])
def test_the_wrong_side_is_refused_with_403_and_changes_nothing(dx, action):
    status = {**REQUESTER_ACTIONS, **CENTRE_ACTIONS}[action]
    request = move(dx, order(dx), status)
    before = snapshot(request)
    # the reader is not a requesting doctor; the village doctor reads for no centre; the west branch's doctor
    # neither covers the east village clinic that ordered nor reads
    wrong = ["west_doctor", "centre_reader" if action in REQUESTER_ACTIONS else "village_doctor"]
    for key in wrong:
        with pytest.raises(PermissionDenied) as refused:
            act(dx, request, action, user=dx.users[key])
        assert refused.value.status == 403 and refused.value.message[0] > "\u4e00"
    assert snapshot(request) == before


def test_the_ordering_clinics_township_may_act_for_its_village_clinic(dx):
    request = order(dx)
    cancelled = services.cancel_request(user=dx.users["township_doctor"], request=request, reason="重复开单",
                                        expected_version=request.version, now=AT)
    assert cancelled.status == ExamStatus.CANCELLED and cancelled.cancelled_at == AT


@pytest.mark.parametrize(("action", "status"), [("cancel", ExamStatus.REQUESTED), ("return", ExamStatus.ACQUIRED),
                                                ("revise", ExamStatus.PUBLISHED)])
@pytest.mark.parametrize("reason", ["", "   "])
def test_a_missing_reason_is_a_422_and_changes_nothing(dx, action, status, reason):
    request = move(dx, order(dx), status)
    before = snapshot(request)
    with pytest.raises(InvalidInput) as refused:
        act(dx, request, action, reason=reason)
    assert refused.value.status == 422 and refused.value.field == "reason"
    assert snapshot(request) == before


def test_a_stale_version_is_a_409_and_changes_nothing(dx):
    request = move(dx, order(dx), ExamStatus.ACQUIRED)
    stale = request.version - 1
    before = snapshot(request)
    for action in ("return", "claim", "cancel"):
        with pytest.raises(services.Stale) as refused:
            act(dx, request, action, version=stale)
        assert refused.value.status == 409 and "刷新" in refused.value.message
    assert snapshot(request) == before


def test_a_report_submitted_twice_is_written_once(dx):
    request = move(dx, order(dx), ExamStatus.CLAIMED)
    seen = request.version
    first = act(dx, request, "publish", version=seen)
    with pytest.raises(Conflict):
        act(dx, request, "publish", version=seen)
    assert list(Report.objects.filter(request=request).values_list("pk", flat=True)) == [first.pk]
    assert ExamEvent.objects.filter(request=request, action="publish").count() == 1


def test_only_the_claiming_reader_writes_the_report(dx):
    second_reader(dx)
    request = move(dx, order(dx), ExamStatus.CLAIMED)
    before = snapshot(request)
    with pytest.raises(PermissionDenied):
        act(dx, request, "publish", user=dx.users["second_reader"])
    assert snapshot(request) == before


def test_a_returned_acquisition_is_kept_and_the_clinic_acquires_again(dx):
    request = move(dx, order(dx), ExamStatus.RETURNED)
    first = request.acquisitions.get()
    assert (first.current, first.return_reason, first.returned_at) == (False, "导联脱落", AT)
    assert request.status_reason == "导联脱落"
    act(dx, request, "acquire")
    request.refresh_from_db()
    assert request.status == ExamStatus.ACQUIRED and request.status_reason == ""
    assert request.acquisitions.count() == 2 and request.acquisitions.filter(current=True).count() == 1


def test_bad_input_is_a_422_with_a_chinese_message_and_nothing_is_stored(dx):
    count = ExamRequest.objects.count()
    user, resident = dx.users["village_doctor"], dx.residents["zhang_san"]
    for kwargs in ({"clinical_question": " "}, {"clinical_question": "x" * 1001},
                   {"clinical_question": "胸痛", "priority": "asap"}, {"clinical_question": "a\x00b"}):
        with pytest.raises(InvalidInput) as refused:
            services.request_exam(user=user, resident=resident, exam_type=dx.exam_types["BMP"], now=AT, **kwargs)
        assert refused.value.message[0] > "\u4e00"
    request = order(dx)
    png = services.UploadedFile("a.png", "image/png", b"\x89PNG\r\n\x1a\nx")
    for kwargs in ({"specimen_type": ""}, {"specimen_type": "血", "collected_at": AT.replace(year=2030)},
                   {"specimen_type": "血", "slides": [png]}):  # slides are for pathology
        with pytest.raises(InvalidInput):
            services.attach_specimen(user=user, request=request, expected_version=request.version, now=AT, **kwargs)
    assert ExamRequest.objects.count() == count + 1
    assert request.acquisitions.count() == 0


def test_someone_outside_the_residents_scope_cannot_order_and_the_bureau_not_at_all(dx):
    with pytest.raises(Exception) as outside:
        order(dx, by="west_doctor")
    assert outside.value.status == 404
    for key in ("centre_reader", "bureau_viewer", "pharmacist"):
        with pytest.raises(PermissionDenied):
            order(dx, by=key)
    assert not ExamRequest.objects.exists()
