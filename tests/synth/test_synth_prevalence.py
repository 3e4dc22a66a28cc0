"""Key-population tags, age structure and insurance at the documented rates (docs/synthetic-county.md),
on a 20,000-resident county."""

import pytest

from countycare.core.codes import InsuranceScheme, KeyPopulation
from countycare.registry.models import Resident, ResidentTag
from countycare.synth.people import age_on


@pytest.fixture
def county20k(make_county):
    report = make_county(20_000, seed=5)
    as_of = report.plan.as_of
    ages = {pk: age_on(birth, as_of) for pk, birth in Resident.objects.values_list("id", "birth_date")}
    tags: dict[str, set[int]] = {}
    for resident_id, tag in ResidentTag.objects.values_list("resident_id", "tag"):
        tags.setdefault(tag, set()).add(resident_id)
    return ages, tags


def share(part: int, whole: int) -> float:
    return part / whole


def test_chronic_disease_among_adults(county20k):
    ages, tags = county20k
    adults = {pk for pk, age in ages.items() if age >= 18}
    assert share(len(tags[KeyPopulation.HYPERTENSION] & adults), len(adults)) == pytest.approx(0.275, abs=0.015)
    assert share(len(tags[KeyPopulation.DIABETES] & adults), len(adults)) == pytest.approx(0.119, abs=0.012)
    assert not (tags[KeyPopulation.HYPERTENSION] | tags[KeyPopulation.DIABETES]) - adults


def test_chronic_disease_rises_with_age(county20k):
    ages, tags = county20k
    young = {pk for pk, age in ages.items() if 18 <= age < 40}
    old = {pk for pk, age in ages.items() if age >= 60}
    hypertension = tags[KeyPopulation.HYPERTENSION]
    assert share(len(hypertension & old), len(old)) > 3 * share(len(hypertension & young), len(young))


def test_age_tags_follow_birth_dates(county20k):
    ages, tags = county20k
    assert tags[KeyPopulation.ELDERLY] == {pk for pk, age in ages.items() if age >= 65}
    assert tags[KeyPopulation.CHILD_0_6] == {pk for pk, age in ages.items() if age <= 6}


def test_an_ageing_rural_age_structure(county20k):
    ages, _ = county20k
    n = len(ages)
    assert share(sum(age >= 65 for age in ages.values()), n) == pytest.approx(0.177, abs=0.015)
    assert share(sum(age >= 60 for age in ages.values()), n) == pytest.approx(0.238, abs=0.015)
    assert share(sum(age < 15 for age in ages.values()), n) == pytest.approx(0.193, abs=0.015)


def test_other_key_populations(county20k):
    ages, tags = county20k
    n = len(ages)
    assert share(len(tags[KeyPopulation.REGISTERED_POOR]), n) == pytest.approx(0.05, abs=0.01)
    assert share(len(tags[KeyPopulation.DISABLED]), n) == pytest.approx(0.0634, abs=0.008)
    assert share(len(tags[KeyPopulation.SEVERE_MENTAL]), n) == pytest.approx(0.0045, abs=0.0015)
    assert share(len(tags[KeyPopulation.PREGNANT]), n) == pytest.approx(0.0048, abs=0.0015)
    assert 3 <= len(tags[KeyPopulation.TUBERCULOSIS]) <= 20
    assert all(20 <= ages[pk] < 45 for pk in tags[KeyPopulation.PREGNANT])


def test_insurance_and_phones(county20k):
    ages, _ = county20k
    rows = list(Resident.objects.values_list("id", "insurance_scheme", "insurance_number", "phone"))
    schemes = [scheme for _, scheme, _, _ in rows]
    n = len(rows)
    assert share(schemes.count(InsuranceScheme.RESIDENT), n) > 0.8
    assert 0.05 < share(schemes.count(InsuranceScheme.EMPLOYEE), n) < 0.15
    assert share(schemes.count(InsuranceScheme.NONE), n) < 0.05
    assert all(bool(number) == (scheme != InsuranceScheme.NONE) for _, scheme, number, _ in rows)
    adults = [phone for pk, _, _, phone in rows if 18 <= ages[pk] < 60]
    assert share(sum(bool(p) for p in adults), len(adults)) > 0.9
    phones = [p for *_, p in rows if p]
    assert len(phones) == len(set(phones))
