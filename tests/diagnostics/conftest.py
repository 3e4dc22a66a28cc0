"""The test county with its diagnostic centres and exam types (tests/diagnostics/helpers.py)."""

from __future__ import annotations

import pytest
from tests.diagnostics.helpers import ensure_exam_types, make_centres


@pytest.fixture
def dx(county):
    """The county, its centres by kind (`dx.centres["ecg"]`) and exam types by code (`dx.exam_types["ECG12"]`)."""
    county.centres = make_centres(county)
    county.exam_types = ensure_exam_types()
    return county
