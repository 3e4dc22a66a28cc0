"""The generated year keeps the rules the records and referrals services keep: where encounters happen, stays,
diagnoses and problem lists, the referral workflow and its timestamps, care plans and record access, and the
slot counters."""

import datetime as dt
from collections import Counter, defaultdict

import pytest
from django.db.models import Count, F, Q

from countycare.core.codes import GRASSROOTS_TYPES, KeyPopulation, Level, OrganizationType
from countycare.records.models import Diagnosis, Encounter, Observation, Problem
from countycare.referrals import workflow
from countycare.referrals.catalogue import read_file
from countycare.referrals.models import Booking, CareAccess, CarePlan, Referral, ReferralEvent, Slot
from countycare.registry.models import Organization, Posting, ResidentTag
from countycare.synth import clinical
from countycare.synth.clinical import FOLLOW_UP_COMPLAINTS

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2026, 6, 30)  # as in tests/synth/conftest.py
COUNTY_HOSPITALS = (OrganizationType.LEAD_HOSPITAL, OrganizationType.TCM_HOSPITAL, OrganizationType.MCH)
END = dt.datetime.combine(AS_OF, dt.time(0, 0), tzinfo=dt.UTC)  # 08:00 in the county on the as-of day


def test_every_encounter_is_at_a_member_or_the_partner_and_claims_are_the_partners(county_with_a_year):
    community = county_with_a_year.community
    encounters = Encounter.objects.filter(community=community)
    assert not encounters.exclude(organization__community=community).exists()
    assert not encounters.filter(organization__is_member=False).exclude(
        organization__org_type=OrganizationType.PARTNER_HOSPITAL).exists()
    outside = Q(organization__org_type=OrganizationType.PARTNER_HOSPITAL)
    assert not encounters.filter(outside).exclude(source="claim").exists()
    assert not encounters.filter(source="claim").exclude(outside).exists()
    assert not encounters.filter(organization__org_type=OrganizationType.CDC).exists()


def test_the_year_ends_at_eight_on_the_as_of_day(county_with_a_year):
    encounters = Encounter.objects.filter(community=county_with_a_year.community)
    assert not encounters.filter(started_at__gte=END).exists()
    assert not encounters.filter(started_at__lt=END - dt.timedelta(days=366)).exists()
    assert not encounters.filter(ended_at__gt=END).exists()


def test_stays_are_discharged_after_admission_or_still_running(county_with_a_year):
    stays = Encounter.objects.filter(community=county_with_a_year.community, kind="inpatient")
    assert stays.filter(status="in-progress").exists()
    assert not stays.filter(status="in-progress", ended_at__isnull=False).exists()
    assert not stays.filter(status="finished", ended_at__lte=F("started_at")).exists()
    assert not stays.filter(status="finished").exclude(organization__org_type=OrganizationType.PARTNER_HOSPITAL).filter(
        ward="").exists()
    assert not Encounter.objects.filter(community=county_with_a_year.community).exclude(kind="inpatient").filter(
        Q(ended_at__isnull=True) | Q(status="in-progress")).exists()


def test_one_persons_stays_do_not_overlap(county_with_a_year):
    stays = defaultdict(list)
    for resident, start, end in Encounter.objects.filter(
            community=county_with_a_year.community, kind="inpatient").values_list("resident", "started_at",
                                                                                  "ended_at"):
        stays[resident].append((start, end or END))
    for spans in stays.values():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert start >= end


def test_every_encounter_has_exactly_one_primary_diagnosis_named_from_the_code_set(county_with_a_year):
    encounters = Encounter.objects.filter(community=county_with_a_year.community).annotate(
        primaries=Count("diagnoses", filter=Q(diagnoses__is_primary=True)))
    assert set(encounters.values_list("primaries", flat=True)) == {1}
    names = clinical.icd10_names()
    for code, display in Diagnosis.objects.filter(community=county_with_a_year.community).values_list(
            "code", "display").distinct():
        assert names[code][0] == display


def test_grassroots_treat_what_the_catalogue_lets_them_except_what_they_refer_or_receive(county_with_a_year):
    catalogue = read_file()

    def entry(code):
        for e in catalogue:
            if e.code_start <= code[:3] <= e.code_end:
                return e
        return None

    community = county_with_a_year.community
    referred = set(Referral.objects.filter(community=community).values_list("source_encounter", flat=True))
    referred |= set(Referral.objects.filter(community=community).values_list("arrival_encounter", flat=True))
    primaries = Diagnosis.objects.filter(
        community=community, is_primary=True, encounter__organization__org_type__in=GRASSROOTS_TYPES
    ).exclude(encounter__in=[e for e in referred if e]).values_list("code", "encounter__organization__level")
    for code, level in primaries.distinct():
        found = entry(code)
        if found is not None:
            allowed = found.village_may_treat if level == Level.VILLAGE else found.township_may_treat
            assert allowed, f"{code} at {level}"


def test_chronic_patients_have_their_conditions_on_the_problem_list(county_with_a_year):
    community = county_with_a_year.community
    for tag, code in (("hypertension", "I10"), ("diabetes", "E11.9")):
        tagged = set(ResidentTag.objects.filter(resident__community=community, tag=tag).values_list(
            "resident", flat=True))
        listed = set(Problem.objects.filter(community=community, code=code, status="active").values_list(
            "resident", flat=True))
        assert tagged and tagged <= listed


def test_every_chronic_diagnosis_is_on_the_problem_list(county_with_a_year):
    community = county_with_a_year.community
    chronic = [code for code, (_, is_chronic) in clinical.icd10_names().items() if is_chronic]
    diagnosed = set(Diagnosis.objects.filter(community=community, code__in=chronic).values_list("resident", "code"))
    listed = set(Problem.objects.filter(community=community, status="active").values_list("resident", "code"))
    assert diagnosed <= listed
    sourced = Problem.objects.filter(community=community, source_diagnosis__isnull=False)
    assert sourced.exists()
    assert not sourced.exclude(source_diagnosis__code=F("code")).exists()
    assert not sourced.exclude(source_diagnosis__resident=F("resident")).exists()


def test_hypertensives_have_their_blood_pressure_taken(county_with_a_year):
    community = county_with_a_year.community
    hypertensive = ResidentTag.objects.filter(resident__community=community, tag=KeyPopulation.HYPERTENSION).values(
        "resident")
    follow_ups = Encounter.objects.filter(community=community, resident__in=hypertensive,
                                          chief_complaint__in=FOLLOW_UP_COMPLAINTS.values())
    measured = follow_ups.filter(observations__code="8480-6").distinct().count()
    assert measured == follow_ups.count() > 0
    pressures = Observation.objects.filter(community=community, code__in=["8480-6", "8462-4"])
    assert not pressures.exclude(unit="mm[Hg]").exists()
    assert pressures.filter(interpretation="H").exists() and pressures.filter(interpretation="N").exists()


def test_referral_histories_follow_the_workflow(county_with_a_year):
    community = county_with_a_year.community
    steps = {(t.action, source, t.target) for t in workflow.TRANSITIONS for source in t.sources}
    events = defaultdict(list)
    for e in ReferralEvent.objects.filter(referral__community=community).order_by("referral", "at", "id"):
        events[e.referral_id].append(e)
    referrals = Referral.objects.filter(community=community)
    assert referrals.count() == len(events) > 0
    for r in referrals:
        history = events[r.pk]
        assert (history[0].action, history[0].from_status, history[0].to_status) == ("create", "", "requested")
        assert history[0].at == r.requested_at
        for before, after in zip(history, history[1:], strict=False):
            assert (after.action, after.from_status, after.to_status) in steps
            assert after.from_status == before.to_status
            assert after.at > before.at
        assert history[-1].to_status == r.status
        assert r.version == len(history)
        stamps = {e.to_status: e.at for e in history}
        assert r.accepted_at == stamps.get("accepted")
        assert r.arrived_at == stamps.get("arrived")
        assert r.completed_at == stamps.get("completed")
        assert r.due_at == r.requested_at + dt.timedelta(days=7)
        if r.status in workflow.TERMINAL - {"completed"}:
            assert r.closed_at == history[-1].at
            assert r.status_reason
        else:
            assert r.closed_at is None
        if r.status == "expired":
            assert r.closed_at >= r.due_at
            assert history[-1].username == "system" and history[-1].organization_id is None
        if r.arrived_at:
            assert r.arrived_at <= r.due_at
        if r.status in ("requested", "accepted"):
            assert r.due_at > END  # else the expiry sweep would have closed it


def test_referrals_go_the_ways_their_kind_allows(county_with_a_year):
    community = county_with_a_year.community
    orgs = {o.pk: o for o in Organization.objects.filter(community=community)}
    for r in Referral.objects.filter(community=community):
        sender, receiver = orgs[r.from_organization_id], orgs[r.to_organization_id]
        if r.kind == "up":
            assert (sender.level == Level.VILLAGE and receiver.level == Level.TOWNSHIP) or (
                sender.level in (Level.VILLAGE, Level.TOWNSHIP) and receiver.org_type in COUNTY_HOSPITALS)
        elif r.kind == "down":
            assert (sender.org_type in COUNTY_HOSPITALS and receiver.level in (Level.TOWNSHIP, Level.VILLAGE)) or (
                sender.org_type == OrganizationType.PARTNER_HOSPITAL and receiver.level != Level.OUTSIDE)
        else:
            assert r.kind == "out_of_county"
            assert sender.org_type == OrganizationType.LEAD_HOSPITAL
            assert receiver.org_type == OrganizationType.PARTNER_HOSPITAL
            assert r.slip_number.startswith(sender.division_code[:6])
        assert bool(r.slip_number) == (r.kind == "out_of_county")
        assert not r.urgent or r.kind == "up"
        assert r.diagnoses and sum(d["primary"] for d in r.diagnoses) == 1


def test_arrivals_are_the_receivers_encounters_at_the_arrival_time(county_with_a_year):
    community = county_with_a_year.community
    arrived = Referral.objects.filter(community=community, arrival_encounter__isnull=False).select_related(
        "arrival_encounter", "source_encounter")
    assert arrived.exists()
    for r in arrived:
        assert r.arrival_encounter.organization_id == r.to_organization_id
        assert r.arrival_encounter.started_at == r.arrived_at
        assert r.arrival_encounter.resident_id == r.resident_id
    assert not Referral.objects.filter(community=community, status__in=["completed", "arrived"]).exclude(
        kind="out_of_county").filter(arrival_encounter__isnull=True).exists()
    for r in Referral.objects.filter(community=community, source_encounter__isnull=False).select_related(
            "source_encounter"):
        assert r.source_encounter.organization_id == r.from_organization_id
        assert r.source_encounter.started_at <= r.requested_at


def test_down_referrals_carry_a_care_plan_followed_by_a_lead_hospital_doctor(county_with_a_year):
    community = county_with_a_year.community
    lead = Organization.objects.get(community=community, org_type=OrganizationType.LEAD_HOSPITAL)
    down = Referral.objects.filter(community=community, kind="down")
    assert down.exists()
    assert set(CarePlan.objects.filter(community=community).values_list("referral", flat=True)) == set(
        down.values_list("pk", flat=True))
    for plan in CarePlan.objects.filter(community=community).select_related("referral"):
        assert plan.responsible_organization_id == lead.pk
        assert Posting.objects.filter(practitioner=plan.responsible_practitioner, organization=lead).exists()
        assert plan.medicines is not None and plan.follow_up and plan.treatment_summary
        assert plan.period_end == (plan.referral.requested_at + dt.timedelta(hours=8)).date() + dt.timedelta(
            days=180)
        if plan.referral.status in ("rejected", "cancelled", "expired"):
            assert plan.status == "revoked"


def test_care_access_opens_the_record_to_receivers_and_care_teams(county_with_a_year):
    community = county_with_a_year.community
    access = Counter(CareAccess.objects.filter(community=community).values_list("reason", flat=True))
    assert access["referral"] == Referral.objects.filter(community=community).count()
    assert access["care_team"] == CarePlan.objects.filter(community=community).count()
    for a in CareAccess.objects.filter(community=community, reason="referral").select_related("referral"):
        r = a.referral
        assert a.organization_id == r.to_organization_id and a.starts_at == r.requested_at
        if r.closed_at:
            assert a.ends_at == r.closed_at
        else:
            assert a.ends_at == r.requested_at + dt.timedelta(days=90)
    for a in CareAccess.objects.filter(community=community, reason="care_team").select_related("referral"):
        # the service's rule: a referral closed before arrival ends its care team's access with it
        if a.referral.closed_at:
            assert a.ends_at == a.referral.closed_at
        else:
            assert a.ends_at > a.referral.requested_at + dt.timedelta(days=179)


def test_slot_counters_equal_their_bookings(county_with_a_year):
    community = county_with_a_year.community
    slots = Slot.objects.filter(community=community).annotate(
        reserved_taken=Count("bookings", filter=Q(bookings__status="booked", bookings__from_reserve=True)),
        general_taken=Count("bookings", filter=Q(bookings__status="booked", bookings__from_reserve=False)))
    assert slots.filter(booked_reserved__gt=0).exists()
    assert not slots.exclude(booked_reserved=F("reserved_taken")).exists()
    assert not slots.exclude(booked_general=F("general_taken")).exists()
    lead = Organization.objects.get(community=community, org_type=OrganizationType.LEAD_HOSPITAL)
    assert not slots.exclude(organization=lead).exists()
    for capacity, reserved in slots.values_list("capacity", "reserved").distinct():
        assert reserved == -(-capacity * 20 // 100)  # ceil(capacity × 0.20), as services.reserved_share
    assert slots.filter(starts_at__gt=END).exists()  # published ahead: the demo can accept referrals


def test_bookings_of_referrals_live_and_die_with_them(county_with_a_year):
    community = county_with_a_year.community
    for r in Referral.objects.filter(community=community).exclude(booking=None, bed_booking=None):
        for booking in (r.booking, r.bed_booking):
            if booking is None:
                continue
            assert booking.resident_id == r.resident_id
            expected = "cancelled" if r.status in ("rejected", "cancelled", "expired") else "booked"
            assert booking.status == expected
            if booking.from_reserve:
                assert r.from_organization.org_type in GRASSROOTS_TYPES
    assert Booking.objects.filter(community=community, from_reserve=True).exists()


def test_the_demo_inboxes_have_requests_waiting(county_with_a_year):
    community = county_with_a_year.community
    waiting = Referral.objects.filter(community=community, status="requested", requested_at__gt=END - dt.timedelta(
        days=2))
    receivers = set(waiting.values_list("to_organization__org_type", flat=True))
    assert OrganizationType.LEAD_HOSPITAL in receivers
    assert receivers & {OrganizationType.TOWNSHIP_CENTRE, OrganizationType.COMMUNITY_CENTRE}
