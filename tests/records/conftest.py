"""The county specialist posted down to the east branch (县管乡用), so the lead hospital's doctor has the east
branch's residents in scope and can record at both the lead hospital and the branch."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.helpers import post_specialist


@pytest.fixture
def posted_specialist(county):
    post_specialist(county, "east", dt.date(2020, 1, 1))
    return county.users["county_specialist"]
