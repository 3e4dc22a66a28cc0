"""Test data that page, API and screenshot tests add on top of the test county (tests/conftest.py)."""

from __future__ import annotations

import datetime as dt

from tests.conftest import make_resident

from countycare.core.codes import PostingKind, Role, Title
from countycare.registry.models import Posting, Practitioner


def duplicate_of_zhang_san(county):
    """张三 registered a second time, without a national ID: same name, birth date, village and phone."""
    return make_resident(
        county, "zhang_dup", "张三", "east_v1", birth=dt.date(1960, 5, 1), with_id=False, phone="13800000001"
    )


def post_specialist(county, branch: str, start: dt.date, end: dt.date | None = None) -> Posting:
    """The county specialist posted to a branch (县管乡用) from `start`, until `end` if given."""
    return Posting.objects.create(
        practitioner=county.practitioners["county_specialist"],
        organization=county.orgs[branch],
        role=Role.COUNTY_SPECIALIST,
        kind=PostingKind.COUNTY_TO_TOWNSHIP,
        start=start,
        end=end,
    )


def post_down(
    county, *, east: tuple[dt.date, dt.date], west: tuple[dt.date, dt.date | None], licence_number: str
) -> tuple[Practitioner, Practitioner]:
    """The county specialist posted to the east branch and then to the west one (县管乡用, each a (start, end)
    pair), and 王建华, a village doctor hired by the east branch for 南村 since 2024 (乡聘村用)."""
    post_specialist(county, "east", *east)
    post_specialist(county, "west", *west)
    hired = Practitioner.objects.create(
        community=county.community, name="王建华", title=Title.VILLAGE_DOCTOR, licence_number=licence_number
    )
    Posting.objects.create(
        practitioner=hired,
        organization=county.orgs["east_v2"],
        role=Role.VILLAGE_DOCTOR,
        kind=PostingKind.TOWNSHIP_TO_VILLAGE,
        start=dt.date(2024, 1, 1),
    )
    return county.practitioners["county_specialist"], hired
