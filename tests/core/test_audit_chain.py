"""The audit trail is append-only and hash-chained; tampering is detected."""

import importlib

import pytest
from django.db import connection, transaction

from countycare.core import audit
from countycare.core.models import AuditEvent

ACTOR = audit.Actor(username="doctor", user_id=1, role="township_doctor", organization_id=3,
                    organization_name="东镇分院", community_id=1)


def write_three():
    return [audit.record(ACTOR, "read", "Resident", f"r{i}", resident_id=f"r{i}", reason="门诊") for i in range(3)]


def test_an_untouched_chain_verifies(db):
    write_three()
    report = audit.verify_chain()
    assert report.ok and report.checked == 3


def test_each_event_links_to_the_one_before(db):
    first, second, third = write_three()
    assert first.prev_hash == audit.GENESIS
    assert second.prev_hash == first.hash and third.prev_hash == second.hash


def test_the_orm_refuses_to_change_or_delete_an_event(db):
    event = write_three()[0]
    event.reason = "changed"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()


def _tamper(sql, params):
    """Change a row behind the ORM's back, as an attacker with owner rights on the database would:
    switch the guard triggers off, edit, switch them back on."""
    guard = importlib.import_module("countycare.core.migrations.0002_audit_append_only")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER USER")
            cursor.execute(sql, params)
            cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER USER")
        else:
            for statement in guard.SQLITE_DROP:
                cursor.execute(statement)
            cursor.execute(sql, params)
            for statement in guard.SQLITE_CREATE:
                cursor.execute(statement)


def test_an_altered_field_is_detected_at_that_event(db):
    events = write_three()
    _tamper("UPDATE core_auditevent SET username = %s WHERE id = %s", ["someone_else", events[1].id])
    report = audit.verify_chain()
    assert not report.ok and report.first_bad_id == events[1].id and "altered" in report.problem


def test_a_deleted_event_breaks_the_link_of_the_next(db):
    events = write_three()
    _tamper("DELETE FROM core_auditevent WHERE id = %s", [events[1].id])
    report = audit.verify_chain()
    assert not report.ok and report.first_bad_id == events[2].id and "link" in report.problem


def test_a_rehashed_forgery_still_breaks_the_chain_after_it(db):
    events = write_three()
    forged = AuditEvent.objects.get(pk=events[0].id)
    forged.reason = "forged"
    new_hash = audit.compute_hash(forged.prev_hash, forged)
    _tamper("UPDATE core_auditevent SET reason = %s, hash = %s WHERE id = %s", ["forged", new_hash, forged.id])
    report = audit.verify_chain()
    assert report.first_bad_id == events[1].id


def test_the_database_itself_refuses_updates_and_deletes(db):
    event = write_three()[0]
    with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditevent SET reason = 'x' WHERE id = %s", [event.id])
    with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE id = %s", [event.id])


def test_the_verify_command_reports_tampering_with_a_nonzero_exit(db):
    from django.core.management import call_command

    events = write_three()
    call_command("verifyaudit")  # passes
    _tamper("UPDATE core_auditevent SET action = %s WHERE id = %s", ["delete", events[2].id])
    with pytest.raises(SystemExit) as excinfo:
        call_command("verifyaudit")
    assert excinfo.value.code == 1
