"""The county specialist posted down to the east branch (县管乡用), so the lead hospital's doctor has the east
branch's residents in scope and can record at both the lead hospital and the branch; and a transactional
database whose end-of-test flush the audit table's append-only triggers allow (as tests/web/conftest.py does)."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.db import connection
from tests.helpers import post_specialist


@pytest.fixture
def posted_specialist(county):
    post_specialist(county, "east", dt.date(2020, 1, 1))
    return county.users["county_specialist"]


def _audit_triggers(direction: str) -> None:
    migration = importlib.import_module("countycare.core.migrations.0002_audit_append_only")
    with connection.schema_editor(atomic=False) as editor:
        getattr(migration, direction)(None, editor)


REARM_AUDIT_TRIGGERS = pytest.StashKey[object]()


@pytest.fixture
def flushed_db(request, transactional_db, django_db_blocker):
    """A transactional test: the database is flushed at its end (the triggers are dropped for the flush and
    re-created after it)."""
    yield
    _audit_triggers("backwards")
    request.node.stash[REARM_AUDIT_TRIGGERS] = django_db_blocker


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield
    blocker = item.stash.get(REARM_AUDIT_TRIGGERS, None)
    if blocker is not None:
        with blocker.unblock():
            _audit_triggers("forwards")
