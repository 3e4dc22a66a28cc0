"""The audit append: one round trip inside the caller's transaction, and a chain that stays linear when
many transactions append at once (real threads, each with its own connection)."""

from __future__ import annotations

import contextlib
import threading

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from countycare.core import audit
from countycare.core.models import AuditEvent

ACTOR = audit.Actor(username="doctor", user_id=1, role="township_doctor", organization_id=3,
                    organization_name="东镇分院", community_id=1, channel="api")


def entry(i: int) -> audit.Entry:
    return audit.Entry("read", "Resident", f"r{i}", resident_id=f"r{i}", reason="门诊",
                       detail={"n": i, "名": "张三", "nested": {"b": [1, 2.5, None], "a": True}})


def test_several_entries_chain_in_order_and_verify(db):
    audit.record(ACTOR, "read", "Resident", "r0")
    events = audit.record_many(ACTOR, [entry(i) for i in range(1, 6)])
    stored = list(AuditEvent.objects.order_by("id"))
    assert [e.id for e in events] == [e.id for e in stored[1:]]
    assert [e.hash for e in events] == [e.hash for e in stored[1:]]
    assert events[0].prev_hash == stored[0].hash
    assert all(b.prev_hash == a.hash for a, b in zip(stored, stored[1:], strict=False))
    assert stored[3].detail == entry(3).detail and stored[3].organization_name == "东镇分院"
    report = audit.verify_chain()
    assert report.ok and report.checked == 6


def test_the_returned_events_are_the_stored_rows(db):
    event = audit.record(ACTOR, "create", "Referral", "x1", resident_id="r1", detail={"to": "lead"})
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.hash, stored.prev_hash, stored.action, stored.at) == (event.hash, event.prev_hash, "create",
                                                                         event.at)
    assert audit.compute_hash(stored.prev_hash, stored) == stored.hash


def test_inside_a_transaction_the_append_opens_no_savepoint(db):
    audit.record(ACTOR, "read", "Resident", "r0")
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        audit.record(ACTOR, "read", "Resident", "r1")
    sql = [q["sql"].upper() for q in captured.captured_queries]
    assert not any("SAVEPOINT" in s for s in sql), sql
    if connection.vendor == "postgresql":
        # the lock and the INSERT (the test's transaction: no COMMIT) in one round trip: one query string, or two
        # statements sent together (pipeline) when the server binds the parameters (one statement per string)
        server_binding = connection.settings_dict.get("OPTIONS", {}).get("server_side_binding")
        assert len(sql) == (2 if server_binding else 1), sql
    assert audit.verify_chain().ok


def test_a_rolled_back_write_takes_its_entry_with_it(db):
    audit.record(ACTOR, "read", "Resident", "r0")
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        audit.record(ACTOR, "read", "Resident", "gone")
        1 / 0  # noqa: B018
    audit.record(ACTOR, "read", "Resident", "r2")
    assert list(AuditEvent.objects.order_by("id").values_list("object_id", flat=True)) == ["r0", "r2"]
    assert audit.verify_chain().ok


@pytest.fixture
def live_audit(transactional_db, request, django_db_blocker):
    from tests.conftest import allow_flush_after_test

    yield
    allow_flush_after_test(request, django_db_blocker)


def test_many_transactions_appending_at_once_keep_one_linear_chain(live_audit):
    """Each thread appends inside a transaction of its own that does other work after the append; on
    PostgreSQL they truly race for the head. SQLite writers are serialised by the database (the tests' shared
    in-memory database answers "table is locked" instead of waiting, so the threads take turns here)."""
    threads_n, rounds = 8, 5
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []
    turns = threading.Lock() if connection.vendor == "sqlite" else contextlib.nullcontext()

    def work(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            for r in range(rounds):
                with turns, transaction.atomic():
                    audit.record_many(ACTOR, [entry(index * 100 + r * 10 + k) for k in range(1 + r % 3)])
                    AuditEvent.objects.exists()  # more statements before the commit
        except BaseException as exc:  # noqa: BLE001  reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    expected = threads_n * sum(1 + r % 3 for r in range(rounds))
    report = audit.verify_chain()
    assert report.ok and report.checked == expected, report
    assert AuditEvent.objects.values("prev_hash").distinct().count() == expected  # no fork
