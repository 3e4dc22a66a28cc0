"""The same seed gives the same year, row for row (ids aside); another seed gives another year."""

import hashlib

from countycare.records.models import Diagnosis, Encounter, Observation, Problem
from countycare.referrals.models import Booking, CareAccess, CarePlan, Referral, ReferralEvent, Slot
from countycare.synth.erase import erase_community


def activity_fingerprint(community_id: int) -> str:
    """A hash of every activity row, by public ids and values (database ids differ between runs)."""
    digest = hashlib.sha256()
    parts = [
        Encounter.objects.filter(community_id=community_id).order_by("uuid").values_list(
            "uuid", "resident__uuid", "organization__uuid", "department__uuid", "practitioner__uuid", "kind", "status",
            "source", "started_at", "ended_at", "ward", "chief_complaint", "note", "is_tcm", "cost_drugs",
            "cost_exams", "cost_treatment", "cost_beds", "cost_other", "cost_total"),
        Diagnosis.objects.filter(community_id=community_id).order_by("uuid").values_list(
            "uuid", "encounter__uuid", "code", "display", "is_primary", "recorded_at", "practitioner__uuid"),
        Observation.objects.filter(community_id=community_id).order_by("uuid").values_list(
            "uuid", "encounter__uuid", "code", "value_quantity", "unit", "interpretation", "effective_at"),
        Problem.objects.filter(community_id=community_id).order_by("uuid").values_list(
            "uuid", "resident__uuid", "code", "onset_date", "recorded_at", "organization__uuid",
            "source_diagnosis__uuid"),
        Referral.objects.filter(community_id=community_id).order_by("uuid").values_list(
            "uuid", "kind", "status", "urgent", "from_organization__uuid", "to_organization__uuid",
            "source_encounter__uuid", "arrival_encounter__uuid", "requested_at", "accepted_at", "arrived_at",
            "completed_at", "closed_at", "status_reason", "booking__uuid", "bed_booking__uuid", "diagnoses"),
        ReferralEvent.objects.filter(referral__community_id=community_id).order_by("referral__uuid", "at").values_list(
            "referral__uuid", "at", "action", "from_status", "to_status", "reason", "username"),
        CarePlan.objects.filter(community_id=community_id).order_by("uuid").values_list(
            "uuid", "referral__uuid", "medicines", "follow_up", "responsible_practitioner__uuid", "status",
            "period_end"),
        CareAccess.objects.filter(community_id=community_id).order_by("referral__uuid", "reason").values_list(
            "referral__uuid", "reason", "organization__uuid", "practitioner__uuid", "starts_at", "ends_at"),
        Slot.objects.filter(community_id=community_id).order_by("uuid").values_list(
            "uuid", "department__uuid", "kind", "starts_at", "capacity", "reserved", "booked_general",
            "booked_reserved"),
        Booking.objects.filter(community_id=community_id).order_by("uuid").values_list(
            "uuid", "slot__uuid", "resident__uuid", "from_reserve", "status", "booked_at"),
    ]
    for rows in parts:
        for row in rows:
            digest.update(repr(row).encode())
    return digest.hexdigest()


def test_same_seed_gives_the_same_year(make_county):
    first = make_county(1200, seed=5, activity=True)
    first_print = activity_fingerprint(first.community.pk)
    assert Encounter.objects.filter(community=first.community).count() > 5000
    erase_community(first.community)
    assert not Encounter.objects.exists() and not Referral.objects.exists() and not Slot.objects.exists()
    second = make_county(1200, seed=5, activity=True)
    assert activity_fingerprint(second.community.pk) == first_print


def test_another_seed_gives_another_year(make_county):
    first = make_county(1200, seed=5, activity=True)
    first_print = activity_fingerprint(first.community.pk)
    erase_community(first.community)
    other = make_county(1200, seed=6, activity=True)
    assert activity_fingerprint(other.community.pk) != first_print


def test_activity_leaves_the_county_itself_unchanged(make_county, fingerprint):
    plain = make_county(1200, seed=5)
    plain_print = fingerprint(plain.community.pk)
    erase_community(plain.community)
    busy = make_county(1200, seed=5, activity=True)
    assert fingerprint(busy.community.pk) == plain_print


def test_erasing_a_county_takes_its_year_and_leaves_another_countys_intact(make_county):
    kept = make_county(1000, seed=3, activity=True)
    gone = make_county(1000, seed=4, activity=True)
    kept_print = activity_fingerprint(kept.community.pk)
    erase_community(gone.community)
    for model in (Encounter, Diagnosis, Observation, Problem, Referral, CarePlan, CareAccess, Slot, Booking):
        assert not model.objects.filter(community_id=gone.community.pk).exists(), model
        assert model.objects.filter(community_id=kept.community.pk).exists(), model
    assert not ReferralEvent.objects.filter(referral__community_id=gone.community.pk).exists()
    assert activity_fingerprint(kept.community.pk) == kept_print
