"""Generated counties for the synth tests: small, with a fixed as-of date so results do not depend on the day."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

AS_OF = dt.date(2026, 6, 30)


def generate(population: int = 1500, seed: int = 11, activity: bool = False):
    from countycare.synth.generate import generate_county

    return generate_county(population=population, seed=seed, as_of=AS_OF, activity=activity)


def county_fingerprint(community_id: int) -> str:
    """A hash of everything generated that does not depend on database ids."""
    from countycare.registry.models import Organization, Posting, Practitioner, Resident, ResidentTag

    digest = hashlib.sha256()
    parts = [
        Organization.objects.filter(community_id=community_id).order_by("uuid")
        .values_list("uuid", "name", "org_type", "division_code", "parent__uuid", "beds"),
        Practitioner.objects.filter(community_id=community_id).order_by("uuid")
        .values_list("uuid", "name", "sex", "birth_date", "title", "licence_number", "specialties", "phone"),
        Posting.objects.filter(practitioner__community_id=community_id)
        .order_by("practitioner__uuid", "start", "organization__uuid")
        .values_list("practitioner__uuid", "organization__uuid", "department__code", "role", "kind", "start", "end"),
        Resident.objects.filter(community_id=community_id).order_by("uuid")
        .values_list("uuid", "name", "name_pinyin", "sex", "birth_date", "national_id", "phone", "address",
                     "village_code", "household__code", "relation_to_head", "home_organization__uuid",
                     "insurance_scheme", "insurance_number"),
        ResidentTag.objects.filter(resident__community_id=community_id).order_by("resident__uuid", "tag")
        .values_list("resident__uuid", "tag", "since"),
    ]
    for rows in parts:
        for row in rows:
            digest.update(repr(row).encode())
    return digest.hexdigest()


@pytest.fixture
def small_county(db):
    return generate()


@pytest.fixture
def make_county(db):
    """generate(population, seed) inside the test's database."""
    return generate


@pytest.fixture
def fingerprint():
    return county_fingerprint


@pytest.fixture(scope="module")
def county_with_a_year(django_db_setup, django_db_blocker):
    """A 3,000-resident county with its year of activity, generated once for the module's tests and erased
    after them (it is committed: the tests only read it)."""
    from countycare.synth.erase import erase_community

    with django_db_blocker.unblock():
        report = generate(3000, seed=7, activity=True)
        yield report
        erase_community(report.community)
