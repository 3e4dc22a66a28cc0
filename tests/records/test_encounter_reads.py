"""Reading encounters: one by uuid (scoped, audited), today's list of an organisation, and the rule that an
organisation always sees the encounters that took place at it."""

import datetime as dt

import pytest
from django.utils import timezone
from tests.records.record_helpers import admission, visit

from countycare.core.errors import NotFound, PermissionDenied
from countycare.core.models import AuditEvent
from countycare.records import queries
from countycare.registry.models import Posting


def test_an_encounter_is_read_with_its_entries_and_the_read_is_audited(county):
    encounter = visit(county, "village_doctor", "zhang_san")
    found = queries.get_encounter(county.users["township_doctor"], encounter.uuid, channel="api", reason="review")
    assert found == encounter
    assert [d.code for d in found.diagnoses.all()] == ["J06.9"] and len(found.observations.all()) == 4
    event = AuditEvent.objects.get(action="read", object_type="Encounter")
    assert (event.object_id, event.reason, event.channel) == (str(encounter.uuid), "review", "api")


@pytest.mark.parametrize("who", ["west_doctor", "county_specialist", "pharmacist"])
def test_an_encounter_outside_scope_is_not_found(county, who):
    encounter = visit(county, "village_doctor", "zhang_san")
    with pytest.raises(NotFound):
        queries.get_encounter(county.users[who], encounter.uuid, channel="web")


def test_the_bureau_reads_no_encounter(county):
    encounter = visit(county, "village_doctor", "zhang_san")
    with pytest.raises(PermissionDenied):
        queries.get_encounter(county.users["bureau_viewer"], encounter.uuid, channel="web")


def test_a_malformed_uuid_is_not_found(county):
    with pytest.raises(NotFound):
        queries.get_encounter(county.users["village_doctor"], "not-a-uuid", channel="web")


def test_the_lead_hospital_keeps_seeing_its_own_encounters_after_the_posting_ends(county, posted_specialist):
    stay = admission(county)
    Posting.objects.filter(organization=county.orgs["east"]).update(end=timezone.localdate() - dt.timedelta(days=1))
    specialist = county.users["county_specialist"]
    del specialist._covered_org_ids  # the scope cache of this user object
    assert queries.get_encounter(specialist, stay.uuid, channel="web") == stay
    assert list(queries.todays_encounters(specialist)) == [stay]  # still in the ward
    with pytest.raises(NotFound):  # the record beyond the hospital's own needs the resident in scope
        queries.timeline(specialist, county.residents["zhang_san"], channel="web")


def test_todays_encounters_are_the_days_visits_at_the_users_organisations(county, posted_specialist):
    now = timezone.now()
    today = visit(county, "township_doctor", "li_si", started_at=now)
    visit(county, "township_doctor", "li_si", started_at=now - dt.timedelta(days=1))  # yesterday
    visit(county, "village_doctor", "zhang_san", started_at=now)  # another organisation
    assert list(queries.todays_encounters(county.users["township_doctor"])) == [today]
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    assert len(queries.todays_encounters(county.users["township_doctor"], yesterday)) == 1


def test_a_posted_specialist_sees_the_branch_day_and_the_wards(county, posted_specialist):
    stay = admission(county, days=3)
    at_branch = visit(county, "township_doctor", "li_si", started_at=timezone.now())
    assert set(queries.todays_encounters(county.users["county_specialist"])) == {stay, at_branch}


def test_todays_list_is_read_with_a_fixed_number_of_queries(county, django_assert_max_num_queries):
    for _ in range(5):
        visit(county, "township_doctor", "li_si", started_at=timezone.now())
    with django_assert_max_num_queries(3):  # postings, encounters with their people, primary diagnoses
        rows = list(queries.todays_encounters(county.users["township_doctor"]))
        [(e.resident.name, e.organization.name, [d.code for d in e.diagnoses.all()]) for e in rows]
    assert len(rows) == 5


def test_audit_encounters_records_one_read_per_row_shown(county):
    rows = [visit(county, "township_doctor", "li_si", started_at=timezone.now()) for _ in range(2)]
    queries.audit_encounters(county.users["township_doctor"], rows, channel="web", reason="today's patients")
    assert AuditEvent.objects.filter(action="read", object_type="Encounter", reason="today's patients").count() == 2


def test_the_bureau_has_no_day_list(county):
    with pytest.raises(PermissionDenied):
        queries.todays_encounters(county.users["bureau_viewer"])
