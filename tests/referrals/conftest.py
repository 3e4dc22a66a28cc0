"""The test county with the ICD-10 codes the referral tests use, and a committed copy of it for the tests that
race real threads (each thread has its own database connection, so it only sees committed rows)."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection
from tests.referrals.helpers import ensure_codes, lead_doctor


@pytest.fixture
def world(county):
    ensure_codes()
    return county


def _audit_triggers(direction: str) -> None:
    migration = importlib.import_module("countycare.core.migrations.0002_audit_append_only")
    with connection.schema_editor(atomic=False) as editor:
        getattr(migration, direction)(None, editor)


REARM_AUDIT_TRIGGERS = pytest.StashKey[object]()


@pytest.fixture
def live_world(request, transactional_db, django_db_blocker):
    """`world` committed, with a second lead-hospital doctor. A transactional test ends with a flush, which the
    audit table's append-only triggers refuse: they are dropped after the test and re-created once the flush
    is done (as tests/web/conftest.py does for the live server)."""
    from tests.conftest import build_county

    county = build_county()
    ensure_codes()
    lead_doctor(county)
    yield county
    _audit_triggers("backwards")
    request.node.stash[REARM_AUDIT_TRIGGERS] = django_db_blocker


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield
    blocker = item.stash.get(REARM_AUDIT_TRIGGERS, None)
    if blocker is not None:
        with blocker.unblock():
            _audit_triggers("forwards")
