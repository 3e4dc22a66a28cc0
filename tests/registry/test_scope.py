"""Each role sees exactly the residents it should."""

import pytest

from countycare.core.errors import NotFound, PermissionDenied
from countycare.registry import queries

ALL = {"zhang_san", "zeng_li", "li_si", "wang_wu", "resident_self"}
EXPECTED = {
    "village_doctor": {"zhang_san"},  # 东村 only
    "township_doctor": {"zhang_san", "zeng_li", "li_si"},  # 东镇 and its villages
    "west_doctor": {"wang_wu", "resident_self"},
    "county_specialist": set(),  # widened later by referrals
    "centre_reader": set(),
    "pharmacist": set(),
    "insurance_officer": ALL,
    "community_admin": ALL,
    "cdc_officer": ALL,
    "resident": {"resident_self"},
}


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_each_role_sees_exactly_its_residents(county, role):
    user = county.users[role]
    visible = set(queries.visible_residents(user).values_list("pk", flat=True))
    expected = {county.residents[k].pk for k in EXPECTED[role]}
    assert visible == expected


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_reading_outside_scope_is_not_found(county, role):
    user = county.users[role]
    for key in ALL - EXPECTED[role]:
        with pytest.raises(NotFound):
            queries.get_resident(user, county.residents[key].uuid, channel="web")


def test_the_bureau_gets_no_individual_records(county):
    with pytest.raises(PermissionDenied):
        queries.search_residents(county.users["bureau_viewer"], "zs", channel="web")


def test_a_posting_to_a_branch_widens_scope_for_its_period(county):
    import datetime as dt

    from countycare.core.codes import PostingKind, Role
    from countycare.registry.models import Posting

    specialist = county.users["county_specialist"]
    Posting.objects.create(practitioner=specialist.practitioner, organization=county.orgs["west"],
                           role=Role.COUNTY_SPECIALIST, kind=PostingKind.COUNTY_TO_TOWNSHIP,
                           start=dt.date(2020, 1, 1), end=dt.date(2099, 12, 31))
    Posting.objects.create(practitioner=specialist.practitioner, organization=county.orgs["east"],
                           role=Role.COUNTY_SPECIALIST, kind=PostingKind.COUNTY_TO_TOWNSHIP,
                           start=dt.date(2019, 1, 1), end=dt.date(2019, 12, 31))  # ended: no longer counts
    visible = set(queries.visible_residents(specialist).values_list("pk", flat=True))
    assert visible == {county.residents["wang_wu"].pk, county.residents["resident_self"].pk}


def test_search_is_audited_per_resident_shown(county):
    from countycare.core.models import AuditEvent

    rows = queries.search_residents(county.users["township_doctor"], "zs", channel="web")
    assert [r.name for r in rows] == ["张三"]
    event = AuditEvent.objects.get(action="search")
    assert event.resident_id == str(county.residents["zhang_san"].uuid)
    assert event.username == "township_doctor" and event.detail == {"query": "zs"}
