"""The county specialist posted down to the east branch (县管乡用), so the lead hospital's doctor has the east
branch's residents in scope and can record at both the lead hospital and the branch; and a transactional
database whose end-of-test flush the audit table's append-only triggers allow (allow_flush_after_test in
tests/conftest.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.conftest import allow_flush_after_test
from tests.helpers import post_specialist


@pytest.fixture
def posted_specialist(county):
    post_specialist(county, "east", dt.date(2020, 1, 1))
    return county.users["county_specialist"]


@pytest.fixture
def flushed_db(request, transactional_db, django_db_blocker):
    """A transactional test: the database is flushed at its end (the triggers are dropped for the flush and
    re-created after it)."""
    yield
    allow_flush_after_test(request, django_db_blocker)
