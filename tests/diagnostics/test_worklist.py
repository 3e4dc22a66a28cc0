"""The centre's worklist: reading order (effective priority, pre-read score, waiting time), claiming only on
duty, claim_next, and — with real threads on PostgreSQL — two readers claiming at once: exactly one wins, and
two claim_next at once take different items.

The race tests follow tests/referrals/test_referral_concurrency.py: each thread has its own connection and is
released by a barrier; on SQLite (one writer at a time) the same calls run one after the other."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from tests.concurrency import race
from tests.conftest import allow_flush_after_test, build_county
from tests.diagnostics.helpers import AT, DUTY_END, ensure_exam_types, make_centres
from tests.diagnostics.services_flow import MINUTE, acquire, claim, move, order, publish, second_reader

from countycare.core.errors import Conflict, PermissionDenied
from countycare.diagnostics import queries, services
from countycare.diagnostics.models import ExamEvent, ExamRequest, ExamStatus, Priority, RosterShift


def lab_request(dx, priority: str, minutes: int) -> ExamRequest:
    """A lab request acquired `minutes` after AT."""
    request = order(dx, "BMP", priority=priority)
    return acquire(dx, request, at=AT + minutes * MINUTE)


def test_the_worklist_reads_by_priority_then_waiting_time(dx):
    routine_late = lab_request(dx, Priority.ROUTINE, 5)
    stat = lab_request(dx, Priority.STAT, 20)
    routine_early = lab_request(dx, Priority.ROUTINE, 1)
    urgent = lab_request(dx, Priority.URGENT, 10)
    claimed = lab_request(dx, Priority.STAT, 0)
    claim(dx, claimed)
    listed = list(queries.worklist(dx.users["centre_reader"], dx.centres["lab"]))
    assert listed == [stat, urgent, routine_early, routine_late]
    assert [r.rank for r in listed] == [2000, 1000, 0, 0]
    assert list(queries.in_progress(dx.users["centre_reader"], dx.centres["lab"])) == [claimed]


def test_a_critical_pre_read_makes_a_routine_ecg_stat_and_the_score_orders_within_a_priority(dx):
    sinus = acquire(dx, order(dx, "ECG12"), at=AT)
    af_rapid = acquire(dx, order(dx, "ECG12"), at=AT + 5 * MINUTE, rhythm="af", heart_rate=150)
    urgent_sinus = acquire(dx, order(dx, "ECG12", priority=Priority.URGENT), at=AT + MINUTE)
    brady = acquire(dx, order(dx, "ECG12"), at=AT + 2 * MINUTE, rhythm="brady", heart_rate=45)
    for request in (sinus, af_rapid, urgent_sinus, brady):
        request.refresh_from_db()
    assert af_rapid.pre_read.critical and "af_rapid" in af_rapid.pre_read.flags
    assert af_rapid.priority == Priority.ROUTINE and af_rapid.rank == 2000 + af_rapid.pre_read.score
    assert services.effective_priority(af_rapid.rank) == Priority.STAT
    assert brady.rank == brady.pre_read.score > sinus.rank == sinus.pre_read.score
    assert urgent_sinus.rank == 1000 + urgent_sinus.pre_read.score
    listed = list(queries.worklist(dx.users["centre_reader"], dx.centres["ecg"]))
    # the critical AF first though acquired last; the bradycardia's flag puts it before the older sinus ECG
    assert listed == [af_rapid, urgent_sinus, brady, sinus]


def test_only_a_reader_of_the_centre_sees_its_worklist(dx):
    for key in ("village_doctor", "county_specialist", "bureau_viewer"):
        with pytest.raises(PermissionDenied):
            queries.worklist(dx.users[key], dx.centres["ecg"])
    assert queries.worklist(dx.users["community_admin"], dx.centres["ecg"]).count() == 0
    assert set(queries.centres_for(dx.users["centre_reader"])) == set(dx.centres.values())
    assert not queries.centres_for(dx.users["village_doctor"]).exists()


def test_a_reader_off_duty_or_not_reading_for_the_centre_cannot_claim(dx):
    request = lab_request(dx, Priority.ROUTINE, 0)
    with pytest.raises(PermissionDenied) as off_duty:
        services.claim(user=dx.users["centre_reader"], request=request, now=DUTY_END)  # the shift ends exclusive
    assert "排班" in off_duty.value.message
    with pytest.raises(PermissionDenied):
        services.claim(user=dx.users["county_specialist"], request=request, now=AT)
    RosterShift.objects.filter(centre=dx.centres["lab"]).delete()
    with pytest.raises(PermissionDenied):
        services.claim_next(user=dx.users["centre_reader"], centre=dx.centres["lab"], now=AT)
    assert ExamRequest.objects.get(pk=request.pk).status == ExamStatus.ACQUIRED
    last_moment = DUTY_END - dt.timedelta(microseconds=1)
    RosterShift.objects.create(organization=dx.orgs["lead"], centre=dx.centres["lab"],
                               practitioner=dx.practitioners["centre_reader"], starts_at=AT, ends_at=DUTY_END)
    claimed = services.claim(user=dx.users["centre_reader"], request=request, now=last_moment)
    assert (claimed.status, claimed.claimed_by, claimed.claimed_at) == (
        ExamStatus.CLAIMED, dx.practitioners["centre_reader"], last_moment)


def test_claim_next_takes_the_top_of_the_worklist_and_none_when_it_is_empty(dx):
    routine = lab_request(dx, Priority.ROUTINE, 0)
    urgent = lab_request(dx, Priority.URGENT, 3)
    reader = dx.users["centre_reader"]
    assert services.claim_next(user=reader, centre=dx.centres["lab"], now=AT) == urgent
    assert services.claim_next(user=reader, centre=dx.centres["lab"], now=AT) == routine
    assert services.claim_next(user=reader, centre=dx.centres["lab"], now=AT) is None
    assert ExamEvent.objects.filter(action="claim").count() == 2


def test_claim_next_passes_over_the_second_reading_of_the_readers_own_preliminary(dx):
    second_reader(dx)
    own = move(dx, order(dx, priority=Priority.STAT), ExamStatus.SECOND_READING)
    other = lab_request(dx, Priority.ROUTINE, 1)
    assert services.claim_next(user=dx.users["centre_reader"], centre=dx.centres["lab"], now=AT) == other
    assert services.claim_next(user=dx.users["centre_reader"], centre=dx.centres["lab"], now=AT) is None
    # another senior reader takes the second reading
    assert services.claim_next(user=dx.users["second_reader"], centre=dx.centres["lab"], now=AT) == own


def test_a_junior_reader_does_not_give_second_readings(dx):
    second_reader(dx, "junior", senior=False)
    request = move(dx, order(dx), ExamStatus.SECOND_READING)
    with pytest.raises(PermissionDenied):
        services.claim(user=dx.users["junior"], request=request, now=AT)
    assert services.claim_next(user=dx.users["junior"], centre=dx.centres["lab"], now=AT) is None
    # but claims and reports first readings
    first = lab_request(dx, Priority.ROUTINE, 1)
    taken = services.claim_next(user=dx.users["junior"], centre=dx.centres["lab"], now=AT)
    assert taken == first
    assert publish(dx, taken, by="junior").author == dx.practitioners["junior"]


def test_release_gives_the_item_back_to_the_worklist(dx):
    request = move(dx, order(dx), ExamStatus.CLAIMED)
    released = services.release(user=dx.users["centre_reader"], request=request, expected_version=request.version,
                                now=AT)
    assert (released.status, released.claimed_by) == (ExamStatus.ACQUIRED, None)
    assert list(queries.worklist(dx.users["centre_reader"], dx.centres["lab"])) == [released]


def test_a_junior_reader_cannot_release_someone_elses_claim(dx):
    second_reader(dx, "junior", senior=False)
    request = move(dx, order(dx), ExamStatus.CLAIMED)
    with pytest.raises(PermissionDenied):
        services.release(user=dx.users["junior"], request=request, expected_version=request.version, now=AT)


def test_accession_numbers_count_on_past_9999_and_ignore_numbers_in_another_form(dx):
    first = order(dx, "ECG12")
    assert first.accession_number == "ECG-260302-0001"
    ExamRequest.objects.filter(pk=first.pk).update(accession_number="ECG-260302-9999")
    other = order(dx, "ECG12")
    ExamRequest.objects.filter(pk=other.pk).update(accession_number="ECG-260302-X1")  # typed in by hand
    assert [order(dx, "ECG12").accession_number for _ in range(2)] == ["ECG-260302-10000", "ECG-260302-10001"]


# --- real concurrency --------------------------------------------------------------------------------------

@pytest.fixture
def live_dx(request, transactional_db, django_db_blocker):
    """`dx` committed (threads see only committed rows), with a second senior reader on duty."""
    county = build_county()
    county.centres = make_centres(county)
    county.exam_types = ensure_exam_types()
    second_reader(county)
    yield county
    allow_flush_after_test(request, django_db_blocker)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_two_readers_claiming_at_once_exactly_one_wins(live_dx, attempt):
    dx = live_dx
    request = lab_request(dx, Priority.STAT, 0)

    def claim_as(key: str) -> Callable[[], Any]:
        return lambda: services.claim(user=dx.users[key], request=ExamRequest.objects.get(pk=request.pk), now=AT)

    results = race([claim_as("centre_reader"), claim_as("second_reader")])
    winners = [r for r in results if isinstance(r, ExamRequest)]
    losers = [r for r in results if isinstance(r, Conflict)]
    assert (len(winners), len(losers)) == (1, 1), results
    stored = ExamRequest.objects.get(pk=request.pk)
    assert stored.status == ExamStatus.CLAIMED and stored.claimed_by == winners[0].claimed_by
    assert ExamEvent.objects.filter(request=request, action="claim").count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_readers_taking_the_next_item_at_once_take_different_items(live_dx, attempt):
    dx = live_dx
    first = lab_request(dx, Priority.URGENT, 0)
    second = lab_request(dx, Priority.ROUTINE, 1)
    centre = dx.centres["lab"]

    def next_as(key: str) -> Callable[[], Any]:
        return lambda: services.claim_next(user=dx.users[key], centre=centre, now=AT)

    results = race([next_as("centre_reader"), next_as("second_reader"), next_as("centre_reader")])
    taken = [r for r in results if isinstance(r, ExamRequest)]
    assert sorted(r.pk for r in taken) == sorted([first.pk, second.pk]), results
    assert results.count(None) == 1
    assert ExamEvent.objects.filter(action="claim").count() == 2
    assert set(ExamRequest.objects.values_list("status", flat=True)) == {ExamStatus.CLAIMED}


@pytest.mark.django_db(transaction=True)
def test_requests_ordered_at_once_get_distinct_accession_numbers_in_sequence(live_dx):
    dx = live_dx
    results = race([lambda: order(dx, "ECG12") for _ in range(6)])
    assert all(isinstance(r, ExamRequest) for r in results), results
    numbers = sorted(r.accession_number for r in results)
    assert numbers == [f"ECG-260302-{n:04d}" for n in range(1, 7)]
