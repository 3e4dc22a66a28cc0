"""The covered organisations in one query, cached on the user for the day, and the base-rule shortcut that
agrees with `visible_residents`."""

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from countycare.core.codes import PostingKind, Role
from countycare.registry import queries as registry_queries
from countycare.registry import scope
from countycare.registry.models import Posting, Resident


def fresh(user):
    user.__dict__.pop("_covered_org_ids", None)
    return user


def test_a_township_doctor_covers_the_branch_and_its_villages_in_one_query(county):
    user = fresh(county.users["township_doctor"])
    with CaptureQueriesContext(connection) as captured:
        covered = scope.covered_organization_ids(user)
        again = scope.covered_organization_ids(user)
    assert len(captured.captured_queries) == 1
    assert covered == again == {county.orgs[k].id for k in ("east", "east_v1", "east_v2")}


def test_a_village_doctor_and_a_specialist_cover_their_own_organisation(county):
    assert scope.covered_organization_ids(fresh(county.users["village_doctor"])) == {county.orgs["east_v1"].id}
    assert scope.covered_organization_ids(fresh(county.users["county_specialist"])) == {county.orgs["lead"].id}


def test_postings_in_force_count_and_ended_or_future_ones_do_not(county):
    user = county.users["village_doctor"]
    today = timezone.localdate()
    Posting.objects.create(practitioner=user.practitioner, organization=county.orgs["west"],
                           role=Role.TOWNSHIP_DOCTOR, kind=PostingKind.MULTI_SITE, start=today - dt.timedelta(days=3))
    Posting.objects.create(practitioner=user.practitioner, organization=county.orgs["lead"],
                           role=Role.COUNTY_SPECIALIST, kind=PostingKind.MULTI_SITE,
                           start=today - dt.timedelta(days=30), end=today - dt.timedelta(days=1))
    Posting.objects.create(practitioner=user.practitioner, organization=county.orgs["mch"],
                           role=Role.COUNTY_SPECIALIST, kind=PostingKind.MULTI_SITE, start=today + dt.timedelta(days=2))
    covered = scope.covered_organization_ids(fresh(user))
    assert covered == {county.orgs[k].id for k in ("east_v1", "west", "west_v1")}
    assert covered == scope.posted_organization_ids(user) | {county.orgs["west_v1"].id}


def test_the_cache_lasts_the_day(county, monkeypatch):
    user = county.users["township_doctor"]
    today = timezone.localdate()
    Posting.objects.create(practitioner=user.practitioner, organization=county.orgs["west"],
                           role=Role.TOWNSHIP_DOCTOR, kind=PostingKind.MULTI_SITE, start=today, end=today)
    first = scope.covered_organization_ids(fresh(user))
    assert county.orgs["west_v1"].id in first
    Posting.objects.filter(organization=county.orgs["west"]).delete()
    assert scope.covered_organization_ids(user) == first  # same day: cached
    monkeypatch.setattr(scope.timezone, "localdate", lambda: today + dt.timedelta(days=1))
    assert scope.covered_organization_ids(user) == {county.orgs[k].id for k in ("east", "east_v1", "east_v2")}


def test_the_base_rule_shortcut_never_shows_what_the_scope_hides(county):
    merged = Resident.objects.get(pk=county.residents["li_si"].pk)
    Resident.objects.filter(pk=merged.pk).update(merged_into=county.residents["zhang_san"])
    residents = list(Resident.objects.all())
    for user in county.users.values():
        fresh(user)
        visible = set(registry_queries.visible_residents(user).values_list("pk", flat=True))
        for resident in residents:
            if scope.base_scope_covers(user, resident):
                assert resident.pk in visible, (user.username, resident.name)
        clinical = user.role not in (Role.RESIDENT, Role.BUREAU_VIEWER)
        if clinical:  # and for clinicians and managers, it decides every resident the base rule shows
            assert {r.pk for r in residents if scope.base_scope_covers(user, r)} == visible, user.username
