"""--population scales the county: townships and villages grow with it, residents are exactly N."""

import datetime as dt

import pytest

from countycare.core.codes import OrganizationType
from countycare.registry.models import Organization, Practitioner, Resident
from countycare.synth.county import plan_county

AS_OF = dt.date(2026, 6, 30)


def shape(population: int) -> tuple[int, int]:
    plan = plan_county(population=population, seed=1, as_of=AS_OF)
    return len(plan.townships), sum(len(t.villages) for t in plan.townships)


def test_full_size_county_has_about_twelve_branches_and_two_hundred_villages():
    townships, villages = shape(400_000)
    assert townships == 12
    assert 180 <= villages <= 220


@pytest.mark.parametrize("population, branches", [(2_000, 2), (20_000, 3), (100_000, 6), (600_000, 15)])
def test_smaller_and_larger_counties(population, branches):
    townships, villages = shape(population)
    assert townships == branches
    assert villages >= 2 * townships


def test_populations_add_up_to_n():
    plan = plan_county(population=123_457, seed=9, as_of=AS_OF)
    assert sum(t.population for t in plan.townships) == 123_457


def test_a_bigger_county_has_more_of_everything(make_county):
    small = make_county(1500, seed=4)
    small_counts = (Resident.objects.count(), Organization.objects.count(), Practitioner.objects.count())
    assert small_counts[0] == 1500
    from countycare.synth.erase import erase_community

    erase_community(small.community)
    make_county(20_000, seed=4)
    assert Resident.objects.count() == 20_000
    assert Organization.objects.count() > small_counts[1]
    assert Practitioner.objects.count() > small_counts[2]
    assert Organization.objects.filter(org_type=OrganizationType.VILLAGE_CLINIC).count() >= 4
