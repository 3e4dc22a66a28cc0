"""Two receivers accepting at once, the last reserved place taken twice at once: exactly one wins.

Real threads, each with its own database connection, released together by a barrier. On PostgreSQL the
writes truly race (the conditional UPDATEs decide); SQLite serialises writers, so there the same calls run
one after the other and the result must be the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.concurrency import race
from tests.referrals.helpers import slot, up

from countycare.core.errors import Conflict
from countycare.referrals import services
from countycare.referrals.models import Booking, Referral, ReferralEvent, Slot


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_two_receivers_accepting_at_once_exactly_one_wins(live_world, attempt):
    world = live_world
    referral = up(world)
    clinic = slot(world, capacity=10)

    def accept(key: str) -> Callable[[], Any]:
        return lambda: services.transition(user=world.users[key], referral=Referral.objects.get(pk=referral.pk),
                                           action="accept", expected_version=1, slot=clinic, channel="api")

    results = race([accept("county_specialist"), accept("lead_doctor2")])
    winners = [r for r in results if isinstance(r, Referral)]
    losers = [r for r in results if isinstance(r, Conflict)]
    assert (len(winners), len(losers)) == (1, 1), results
    stored = Referral.objects.get(pk=referral.pk)
    assert (stored.status, stored.version) == ("accepted", 2)
    assert ReferralEvent.objects.filter(referral=referral, action="accept").count() == 1
    assert Booking.objects.filter(slot=clinic).count() == 1
    assert Slot.objects.get(pk=clinic.pk).booked_reserved == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_the_last_reserved_place_taken_twice_at_once_is_booked_once(live_world, attempt):
    world = live_world
    clinic = slot(world, capacity=5)  # 1 reserved, 4 general
    Slot.objects.filter(pk=clinic.pk).update(booked_general=4)  # the general share is gone
    first, second = up(world), up(world, by="township_doctor", resident="li_si")

    def accept(referral: Referral, key: str) -> Callable[[], Any]:
        return lambda: services.transition(user=world.users[key], referral=Referral.objects.get(pk=referral.pk),
                                           action="accept", expected_version=1, slot=clinic, channel="api")

    results = race([accept(first, "county_specialist"), accept(second, "lead_doctor2")])
    assert sum(isinstance(r, Referral) for r in results) == 1, results
    assert sum(isinstance(r, Conflict) for r in results) == 1, results
    stored = Slot.objects.get(pk=clinic.pk)
    assert (stored.booked_reserved, stored.booked_general) == (1, 4)
    assert sorted(Referral.objects.values_list("status", flat=True)) == ["accepted", "requested"]
    assert Booking.objects.filter(slot=clinic).count() == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_family_doctors_booking_ten_places_at_once_never_over_book(live_world):
    world = live_world
    clinic = slot(world, capacity=10)
    booker = world.users["township_doctor"]
    results = race([
        lambda: services.book_slot(user=booker, slot=clinic, resident=world.residents["li_si"], for_referral=True,
                                   channel="api")
        for _ in range(20)
    ])
    assert sum(isinstance(r, Booking) for r in results) == 10
    assert sum(isinstance(r, Conflict) for r in results) == 10
    stored = Slot.objects.get(pk=clinic.pk)
    assert (stored.booked_reserved, stored.booked_general) == (2, 8)
