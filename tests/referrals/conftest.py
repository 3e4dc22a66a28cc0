"""The test county with the ICD-10 codes the referral tests use, and a committed copy of it for the tests that
race real threads (each thread has its own database connection, so it only sees committed rows)."""

from __future__ import annotations

import pytest
from tests.conftest import allow_flush_after_test
from tests.referrals.helpers import ensure_codes, lead_doctor


@pytest.fixture
def world(county):
    ensure_codes()
    return county


@pytest.fixture
def live_world(request, transactional_db, django_db_blocker):
    """`world` committed, with a second lead-hospital doctor. A transactional test ends with a flush, which the
    audit table's append-only triggers refuse: they are dropped after the test and re-created once the flush
    is done (tests/conftest.py allow_flush_after_test)."""
    from tests.conftest import build_county

    county = build_county()
    ensure_codes()
    lead_doctor(county)
    yield county
    allow_flush_after_test(request, django_db_blocker)
