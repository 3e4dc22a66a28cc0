"""Reserved capacity: ceil(capacity × 0.20) of every published slot is held for family-doctor referrals until
24 hours before it starts; over-booking is impossible."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from tests.referrals.helpers import grant, lead_doctor, slot, up

from countycare.core.errors import Conflict, InvalidInput, PermissionDenied
from countycare.core.models import AuditEvent
from countycare.referrals import services
from countycare.referrals.models import Booking, BookingStatus, Slot


def book(world, the_slot, *, by="township_doctor", resident="li_si", for_referral=False):
    return services.book_slot(user=world.users[by], slot=the_slot, resident=world.residents[resident],
                              for_referral=for_referral, channel="web")


@pytest.mark.parametrize(("capacity", "reserved"), [(10, 2), (1, 1), (4, 1), (5, 1), (6, 2), (100, 20)])
def test_the_reserved_share_is_the_ceiling_of_twenty_percent(capacity, reserved):
    assert services.reserved_share(capacity, Decimal("0.20")) == reserved


def test_publishing_ten_places_holds_two_for_referrals(world):
    published = slot(world, capacity=10)
    assert (published.capacity, published.reserved) == (10, 2)
    assert AuditEvent.objects.filter(action="create", object_type="Slot", object_id=str(published.uuid)).exists()


def test_a_community_may_set_its_own_share(world):
    from countycare.core.models import Policy

    Policy.objects.create(community=world.community, key="reserved_slot_share", value=Decimal("0.30"))
    assert slot(world, capacity=10).reserved == 3


def test_general_bookings_stop_at_capacity_minus_the_reserve_before_the_cut_off(world):
    grant(world, "east", "li_si")
    published = slot(world, capacity=10)
    bookings = [book(world, published) for _ in range(8)]
    assert not any(b.from_reserve for b in bookings)
    with pytest.raises(Conflict):
        book(world, published)
    stored = Slot.objects.get(pk=published.pk)
    assert (stored.booked_general, stored.booked_reserved) == (8, 0)


def test_a_family_doctors_referral_takes_the_reserve_first_then_the_general_share(world):
    published = slot(world, capacity=10)
    taken = [book(world, published, for_referral=True) for _ in range(3)]
    assert [b.from_reserve for b in taken] == [True, True, False]
    stored = Slot.objects.get(pk=published.pk)
    assert (stored.booked_reserved, stored.booked_general) == (2, 1)


def test_after_the_cut_off_the_unused_reserve_is_open_to_everyone(world):
    published = slot(world, capacity=10, starts_in=dt.timedelta(hours=23))  # inside the 24-hour release
    taken = [book(world, published) for _ in range(10)]
    assert len(taken) == 10 and not any(b.from_reserve for b in taken)
    with pytest.raises(Conflict):
        book(world, published)
    with pytest.raises(Conflict):
        book(world, published, for_referral=True)


def test_just_before_the_cut_off_the_reserve_is_still_held(world):
    published = slot(world, capacity=10, starts_in=dt.timedelta(hours=25))
    for _ in range(8):
        book(world, published)
    with pytest.raises(Conflict):
        book(world, published)
    assert book(world, published, for_referral=True).from_reserve


def test_only_family_doctors_may_use_the_reserve(world):
    published = slot(world, capacity=10)
    grant(world, "lead", "zhang_san")
    with pytest.raises(PermissionDenied):
        book(world, published, by="county_specialist", resident="zhang_san", for_referral=True)


def test_a_resident_outside_scope_cannot_be_booked(world):
    with pytest.raises(PermissionDenied):
        book(world, slot(world), resident="wang_wu")


def test_accepting_a_family_doctors_referral_books_the_reserve(world):
    published = slot(world, capacity=10)
    referral = up(world)
    services.transition(user=world.users["county_specialist"], referral=referral, action="accept",
                        expected_version=1, slot=published, channel="web")
    referral.refresh_from_db()
    assert referral.booking.from_reserve and referral.booking.slot == published
    assert Slot.objects.get(pk=published.pk).booked_reserved == 1


def test_a_referral_from_the_lead_hospital_books_general_capacity(world):
    east_slot = slot(world, org="east", by="township_doctor", capacity=5)
    grant(world, "lead", "li_si")
    referral = services.create_referral(
        user=world.users["county_specialist"], resident=world.residents["li_si"],
        data={"kind": "down", "to_organization": world.orgs["east"], "reason": "康复",
              "diagnoses": [{"code": "I63"}],
              "care_plan": {"treatment_summary": "脑梗死溶栓后",
                            "responsible_practitioner": world.practitioners["county_specialist"]}},
        channel="web")
    services.transition(user=world.users["township_doctor"], referral=referral, action="accept",
                        expected_version=1, slot=east_slot, channel="web")
    referral.refresh_from_db()
    assert referral.booking.from_reserve is False


def test_accept_refuses_a_slot_elsewhere_and_a_full_slot_changes_nothing(world):
    elsewhere = slot(world, org="east", by="township_doctor")
    referral = up(world)
    with pytest.raises(InvalidInput):
        services.transition(user=world.users["county_specialist"], referral=referral, action="accept",
                            expected_version=1, slot=elsewhere, channel="web")
    full = slot(world, capacity=1)
    Slot.objects.filter(pk=full.pk).update(booked_reserved=1)
    with pytest.raises(Conflict):
        services.transition(user=world.users["county_specialist"], referral=referral, action="accept",
                            expected_version=1, slot=full, channel="web")
    referral.refresh_from_db()
    assert (referral.status, referral.version, referral.booking_id) == ("requested", 1, None)


def test_cancelling_an_accepted_referral_gives_its_place_back(world):
    published = slot(world, capacity=10)
    referral = up(world)
    referral = services.transition(user=world.users["county_specialist"], referral=referral, action="accept",
                                   expected_version=1, slot=published, channel="web")
    services.transition(user=world.users["village_doctor"], referral=referral, action="cancel",
                        expected_version=2, reason="患者病情好转", channel="web")
    assert Slot.objects.get(pk=published.pk).booked_reserved == 0
    assert Booking.objects.get(slot=published).status == BookingStatus.CANCELLED


def test_a_booking_can_be_cancelled_unless_an_open_referral_holds_it(world):
    published = slot(world, capacity=10)
    grant(world, "east", "li_si")
    booking = book(world, published)
    services.cancel_booking(user=world.users["township_doctor"], booking=booking, channel="web")
    assert Slot.objects.get(pk=published.pk).booked_general == 0
    with pytest.raises(Conflict):
        services.cancel_booking(user=world.users["township_doctor"], booking=booking, channel="web")
    referral = services.transition(user=world.users["county_specialist"], referral=up(world), action="accept",
                                   expected_version=1, slot=published, channel="web")
    with pytest.raises(Conflict):
        services.cancel_booking(user=world.users["county_specialist"], booking=referral.booking, channel="web")


@pytest.mark.parametrize(("field", "value"), [("capacity", 0), ("capacity", 10_001), ("ends_at", "before")])
def test_invalid_capacity_or_times_are_refused(world, field, value):
    from django.utils import timezone

    start = timezone.now() + dt.timedelta(days=1)
    args = {"capacity": 10, "starts_at": start, "ends_at": start + dt.timedelta(hours=1)}
    args[field] = start - dt.timedelta(hours=1) if value == "before" else value
    with pytest.raises(InvalidInput):
        services.publish_slots(user=world.users["county_specialist"], organization=world.orgs["lead"],
                               department=None, kind="clinic", channel="web", **args)


def test_only_the_organisations_own_doctors_publish_its_slots(world):
    lead_doctor(world)
    with pytest.raises(PermissionDenied):
        slot(world, org="lead", by="township_doctor")
    assert slot(world, org="lead", by="lead_doctor2").organization == world.orgs["lead"]


def test_the_database_refuses_over_booking_even_without_the_service(world):
    from django.db import IntegrityError, transaction

    published = slot(world, capacity=10)
    with pytest.raises(IntegrityError), transaction.atomic():
        Slot.objects.filter(pk=published.pk).update(booked_reserved=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        Slot.objects.filter(pk=published.pk).update(booked_general=11)
