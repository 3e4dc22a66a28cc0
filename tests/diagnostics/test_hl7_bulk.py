"""The set-based path of `lab.ingest_many` writes exactly what `services.publish_lab_results` writes for the same
message (critical values included), and hands every unusual message (preliminary, corrected, repeated, a request
twice, a request changed meanwhile) to the service one by one."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import F
from django.utils import timezone
from tests.diagnostics.test_hl7_fixtures import BMP_RESULTS, good_message, lab_request

from countycare.core.models import AuditEvent, IdempotencyRecord
from countycare.diagnostics import lab, services
from countycare.diagnostics.models import CriticalAlert, ExamEvent, ExamRequest, ExamStatus, Report, ReportStatus
from countycare.records.models import Observation

REQUEST_FIELDS = ("status", "version", "acquired_at", "reported_at", "updated_at")
REPORT_FIELDS = ("version", "status", "current", "findings", "conclusion", "critical", "author_id", "verifier_id",
                 "revision_reason", "written_at", "published_at", "recognised_until")
OBSERVATION_FIELDS = ("community_id", "resident_id", "encounter_id", "category", "code", "display", "value_quantity",
                      "unit", "value_text", "reference_low", "reference_high", "interpretation", "status",
                      "effective_at", "organization_id", "practitioner_id")
EVENT_FIELDS = ("action", "from_status", "to_status", "at", "user_id", "practitioner_id", "reason")
ALERT_FIELDS = ("community_id", "resident_id", "rule_id", "finding", "status", "raised_at", "raised_by_id",
                "notify_organization_id", "notify_practitioner_id", "ack_due_at")


def rows_of(request: ExamRequest) -> dict:
    request.refresh_from_db()
    uuids = {str(request.uuid): "<request>"}
    reports = list(Report.objects.filter(request=request).order_by("version"))
    observations = list(request.observations.order_by("code"))
    uuids |= {str(r.uuid): "<report>" for r in reports} | {str(o.uuid): "<observation>" for o in observations}
    uuids |= {str(a.uuid): "<alert>" for a in CriticalAlert.objects.filter(request=request)}

    def plain(value):
        return uuids.get(str(value), value)

    audit = sorted(
        (e.action, e.object_type, plain(e.object_id), e.username, e.role, e.channel,
         tuple(sorted((k, plain(v)) for k, v in e.detail.items() if k != "accession")))
        for e in AuditEvent.objects.all()
        if e.object_id in uuids or str(e.detail.get("request", "")) in uuids)
    return {
        "request": {f: getattr(request, f) for f in REQUEST_FIELDS},
        "reports": [{f: getattr(r, f) for f in REPORT_FIELDS} for r in reports],
        "observations": [{f: getattr(o, f) for f in OBSERVATION_FIELDS} for o in observations],
        "events": [{f: getattr(e, f) for f in EVENT_FIELDS} for e in ExamEvent.objects.filter(request=request)],
        "audit": audit,
        "alerts": [({f: getattr(a, f) for f in ALERT_FIELDS}, a.observation.code,
                    [(e.action, e.at, e.practitioner_id, e.user_id, e.detail) for e in a.events.all()])
                   for a in CriticalAlert.objects.filter(request=request)],
        "stored_ack": IdempotencyRecord.objects.filter(key__startswith="hl7:").count() > 0,
    }


@pytest.fixture
def no_service_calls(monkeypatch):
    """Fail if the one-by-one path (the service) is used."""
    def refuse(**kwargs):
        raise AssertionError("services.publish_lab_results was called")

    monkeypatch.setattr(services, "publish_lab_results", refuse)


@pytest.mark.parametrize(("status", "received", "potassium"), [
    (ExamStatus.ACQUIRED, False, "4.1"), (ExamStatus.REQUESTED, False, "4.1"), (ExamStatus.REQUESTED, True, "4.1"),
    (ExamStatus.ACQUIRED, False, "6.9"),  # critical
])
def test_the_bulk_path_writes_what_the_service_writes(dx, monkeypatch, status, received, potassium):
    now = timezone.now()
    requested_at = now - dt.timedelta(hours=3)
    one, two = (lab_request(dx, status=status, requested_at=requested_at) for _ in range(2))
    verifier = dx.practitioners["centre_reader"]
    actor = dx.users["centre_reader"]
    extra = {"verifier": verifier, "received_at": now - dt.timedelta(hours=1) if received else None,
             "observed_at": now - dt.timedelta(minutes=30),
             "results": [{**r, "value": Decimal(potassium)} if r["code"] == "2823-3" else r for r in BMP_RESULTS]}
    assert lab.receive(good_message(one, control_id="ONE", **extra), actor=actor, now=now).code == "AA"
    expected = rows_of(one)
    if received:  # OBR-14, the specimen's receipt, is when a request without a specimen recorded was acquired
        assert expected["request"]["acquired_at"] == (now - dt.timedelta(hours=1)).replace(microsecond=0)

    with monkeypatch.context() as patch:
        patch.setattr(services, "publish_lab_results", lambda **kwargs: pytest.fail("not set-based"))
        [outcome] = lab.ingest_many([good_message(two, control_id="TWO", **extra)], actor=actor, now=now)
    assert outcome.code == "AA", outcome.ack
    assert outcome.reports == list(Report.objects.filter(request=two))
    assert rows_of(two) == expected
    assert expected["request"]["status"] == ExamStatus.PUBLISHED and len(expected["observations"]) == 4
    assert len(expected["alerts"]) == (1 if potassium == "6.9" else 0)


def test_a_repeat_of_a_bulk_message_gets_its_ack(dx):
    request = lab_request(dx)
    message = good_message(request, control_id="REP")
    [first] = lab.ingest_many([message], actor=None)
    before = Observation.objects.count()
    assert lab.receive(message, actor=None).ack == first.ack
    [again] = lab.ingest_many([message], actor=None)
    assert again.ack == first.ack and again.replayed
    assert Observation.objects.count() == before


def test_unusual_messages_go_through_the_service_in_order(dx):
    plain, critical, corrected = lab_request(dx), lab_request(dx), lab_request(dx)
    messages = [
        good_message(plain, control_id="A"),
        good_message(critical, control_id="B", results=[{"code": "2823-3", "value": Decimal("6.8")}]),
        good_message(corrected, control_id="C1", status="P"),
        good_message(corrected, control_id="C2"),
        good_message(corrected, control_id="C3", results=[{"code": "2823-3", "value": Decimal("4.4")}], status="C"),
    ]
    calls = []
    original = services.publish_lab_results

    def spy(**kwargs):
        calls.append(kwargs["request"].pk)
        return original(**kwargs)

    services.publish_lab_results = spy
    try:
        outcomes = lab.ingest_many(messages, actor=dx.users["centre_reader"])
    finally:
        services.publish_lab_results = original
    assert [o.code for o in outcomes] == ["AA"] * 5, [o.ack for o in outcomes]
    assert calls == [corrected.pk, corrected.pk, corrected.pk]  # the critical one went set-based
    assert CriticalAlert.objects.filter(request=critical).count() == 1
    statuses = list(Report.objects.filter(request=corrected).order_by("version").values_list("status", flat=True))
    assert statuses == [ReportStatus.SUPERSEDED, ReportStatus.SUPERSEDED, ReportStatus.AMENDED]


def test_a_request_changed_meanwhile_sends_the_batch_one_by_one(dx, monkeypatch):
    first, second = lab_request(dx), lab_request(dx)
    original = lab._bulk_write

    def changed_meanwhile(eligible, **kwargs):
        ExamRequest.objects.filter(pk=second.pk).update(version=F("version") + 1)  # another writer got there
        return original(eligible, **kwargs)

    monkeypatch.setattr(lab, "_bulk_write", changed_meanwhile)
    outcomes = lab.ingest_many([good_message(first, control_id="X1"), good_message(second, control_id="X2")],
                               actor=None)
    assert [o.code for o in outcomes] == ["AA", "AA"], [o.ack for o in outcomes]
    assert set(ExamRequest.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)) == {
        ExamStatus.PUBLISHED}
    assert Observation.objects.count() == 8
    assert Report.objects.count() == 2


def test_bulk_and_one_by_one_give_the_same_outcomes_for_a_mixed_batch(dx, no_service_calls):
    requests = [lab_request(dx) for _ in range(20)]
    outcomes = lab.ingest_many([good_message(r, control_id=f"M{i}") for i, r in enumerate(requests)], actor=None)
    assert all(o.ok for o in outcomes)
    assert ExamRequest.objects.filter(status=ExamStatus.PUBLISHED).count() == 20
    assert Observation.objects.count() == 80 and Report.objects.count() == 20
    assert AuditEvent.objects.filter(action="create", object_type="Observation").count() == 80
