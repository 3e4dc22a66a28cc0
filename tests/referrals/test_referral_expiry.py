"""Referrals not arrived within the policy's 7 days expire, set-based, with their bookings released."""

from __future__ import annotations

import datetime as dt

from django.core.management import call_command
from django.utils import timezone
from tests.referrals.helpers import slot, up

from countycare.core.models import AuditEvent
from countycare.referrals import services
from countycare.referrals.models import BookingStatus, CareAccess, Referral, ReferralEvent, ReferralStatus, Slot


def test_requested_and_accepted_referrals_past_their_due_time_expire(world):
    clinic = slot(world, capacity=10, starts_in=dt.timedelta(days=10))
    waiting = up(world)
    accepted = services.transition(user=world.users["county_specialist"],
                                   referral=up(world, by="township_doctor", resident="zeng_li"),
                                   action="accept", expected_version=1, slot=clinic, channel="web")
    arrived = up(world)
    for version, action in enumerate(["accept", "arrive"], start=1):
        arrived = services.transition(user=world.users["county_specialist"], referral=arrived, action=action,
                                      expected_version=version, channel="web")
    later = timezone.now() + dt.timedelta(days=7, minutes=1)
    assert services.expire_overdue(now=later) == 2
    statuses = dict(Referral.objects.values_list("pk", "status"))
    assert statuses == {waiting.pk: "expired", accepted.pk: "expired", arrived.pk: "arrived"}
    assert Slot.objects.get(pk=clinic.pk).booked_reserved == 0
    assert accepted.booking.__class__.objects.get(pk=accepted.booking.pk).status == BookingStatus.CANCELLED
    events = ReferralEvent.objects.filter(action="expire").order_by("referral_id")
    assert [(e.from_status, e.to_status) for e in events] == [("requested", "expired"), ("accepted", "expired")]
    assert AuditEvent.objects.filter(action="expire", object_type="Referral").count() == 2
    assert Referral.objects.get(pk=waiting.pk).version == 2


def test_nothing_expires_before_its_due_time(world):
    up(world)
    assert services.expire_overdue(now=timezone.now() + dt.timedelta(days=6, hours=23)) == 0
    assert Referral.objects.get().status == ReferralStatus.REQUESTED


def test_expiry_ends_the_receivers_record_access(world):
    referral = up(world)
    later = timezone.now() + dt.timedelta(days=8)
    services.expire_overdue(now=later)
    assert CareAccess.objects.get(referral=referral).ends_at == later


def test_the_command_expires_overdue_referrals(world, capsys):
    referral = up(world)
    Referral.objects.filter(pk=referral.pk).update(due_at=timezone.now() - dt.timedelta(minutes=1))
    call_command("expirereferrals")
    assert "referrals expired: 1" in capsys.readouterr().out
    assert Referral.objects.get(pk=referral.pk).status == ReferralStatus.EXPIRED


def test_a_large_sweep_runs_in_chunks_and_expires_every_overdue_referral(world, monkeypatch):
    monkeypatch.setattr(services, "EXPIRE_CHUNK", 2)
    made = [up(world) for _ in range(5)]
    assert services.expire_overdue(now=timezone.now() + dt.timedelta(days=8)) == 5
    assert set(Referral.objects.filter(pk__in=[r.pk for r in made]).values_list("status", flat=True)) == {"expired"}
    assert ReferralEvent.objects.filter(action="expire").count() == 5
