"""Green channel: an urgent up-referral jumps the receiving queue and reserves a bed."""

from __future__ import annotations

import datetime as dt

from tests.referrals.helpers import slot, up

from countycare.referrals import queries, services
from countycare.referrals.models import BookingStatus, ReferralEvent, Slot


def test_an_urgent_up_referral_reserves_a_bed_from_the_reserve(world):
    beds = slot(world, kind="bed", capacity=10, starts_in=dt.timedelta(hours=-1))
    referral = up(world, urgent=True)
    assert referral.bed_booking is not None
    assert (referral.bed_booking.slot, referral.bed_booking.from_reserve) == (beds, True)
    assert Slot.objects.get(pk=beds.pk).booked_reserved == 1


def test_with_every_bed_taken_the_referral_is_still_made_and_says_no_bed_was_reserved(world):
    beds = slot(world, kind="bed", capacity=1)
    Slot.objects.filter(pk=beds.pk).update(booked_reserved=1)
    referral = up(world, urgent=True)
    assert referral.status == "requested" and referral.bed_booking is None
    assert ReferralEvent.objects.get(referral=referral, action="create").reason == services.NO_BED


def test_urgent_referrals_come_first_in_the_inbox_then_the_longest_waiting(world):
    first = up(world)
    second = up(world, by="township_doctor", resident="zeng_li")
    urgent = up(world, urgent=True, by="township_doctor", resident="zeng_li")
    assert list(queries.inbox(world.users["county_specialist"])) == [urgent, first, second]


def test_arrival_with_a_reserved_bed_admits_the_patient(world):
    slot(world, kind="bed", capacity=5, starts_in=dt.timedelta(hours=-1))
    referral = up(world, urgent=True)
    specialist = world.users["county_specialist"]
    referral = services.transition(user=specialist, referral=referral, action="accept", expected_version=1,
                                   channel="web")
    referral = services.transition(user=specialist, referral=referral, action="arrive", expected_version=2,
                                   channel="web")
    referral.refresh_from_db()
    assert referral.arrival_encounter.kind == "inpatient"
    assert referral.arrival_encounter.organization == world.orgs["lead"]
    assert list(referral.arrival_encounter.diagnoses.values_list("code", flat=True)) == ["I21"]
    assert referral.bed_booking.status == BookingStatus.BOOKED


def test_arrival_without_a_bed_is_an_outpatient_visit(world):
    referral = up(world)
    specialist = world.users["county_specialist"]
    for version, action in enumerate(["accept", "arrive"], start=1):
        referral = services.transition(user=specialist, referral=referral, action=action, expected_version=version,
                                       channel="web")
    referral.refresh_from_db()
    assert referral.arrival_encounter.kind == "outpatient"
