"""Scope widens with care: the receiving side of a referral sees the patient from the moment it is sent, for
the policy's 90 days; the lead-hospital doctor responsible for a down-referral's care plan keeps seeing the
patient, follow-ups included, until the plan ends."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from tests.referrals.helpers import down, up

from countycare.records import services as records_services
from countycare.referrals import services
from countycare.referrals.models import AccessReason, CareAccess
from countycare.registry import queries as registry_queries


def sees(world, key: str, resident: str = "zhang_san") -> bool:
    return registry_queries.visible_residents(world.users[key]).filter(pk=world.residents[resident].pk).exists()


def test_the_receiving_doctor_sees_the_patient_once_the_referral_is_created(world):
    assert not sees(world, "county_specialist")
    up(world)
    assert sees(world, "county_specialist")


def test_the_receiving_side_stops_seeing_the_patient_when_the_access_expires(world):
    referral = up(world)
    past = timezone.now() - dt.timedelta(seconds=1)
    CareAccess.objects.filter(referral=referral).update(starts_at=past - dt.timedelta(days=90), ends_at=past)
    assert not sees(world, "county_specialist")


def test_access_not_yet_begun_grants_nothing(world):
    referral = up(world)
    future = timezone.now() + dt.timedelta(days=1)
    CareAccess.objects.filter(referral=referral).update(starts_at=future, ends_at=future + dt.timedelta(days=1))
    assert not sees(world, "county_specialist")


def test_a_rejected_referral_no_longer_opens_the_record(world):
    referral = up(world)
    services.transition(user=world.users["county_specialist"], referral=referral, action="reject",
                        expected_version=1, reason="非本院收治范围", channel="web")
    assert not sees(world, "county_specialist")


def test_an_unrelated_doctor_sees_nothing_more(world):
    up(world)
    assert not sees(world, "west_doctor")


def test_the_named_receiving_doctor_sees_the_patient_through_their_own_grant(world):
    referral = up(world, to="west", to_practitioner=world.practitioners["west_doctor"])
    CareAccess.objects.filter(referral=referral).update(organization=None)  # the doctor's part of the grant
    assert sees(world, "west_doctor")
    assert not sees(world, "west_doctor", "zeng_li")


def test_the_responsible_doctor_sees_the_follow_ups_of_a_down_referred_patient(world):
    referral = down(world, resident="li_si")
    CareAccess.objects.filter(referral__isnull=True).delete()  # only the care plan's access is left
    CareAccess.objects.filter(referral=referral, reason=AccessReason.REFERRAL).delete()
    assert sees(world, "county_specialist", "li_si")
    follow_up = records_services.record_encounter(
        user=world.users["township_doctor"], resident=world.residents["li_si"], channel="web",
        data={"kind": "outpatient", "chief_complaint": "下转后随访", "diagnoses": [{"code": "I21", "primary": True}]},
    )
    from countycare.records import queries as records_queries

    visible = records_queries.visible_encounters(world.users["county_specialist"])
    assert visible.filter(pk=follow_up.pk).exists()
    timeline = records_queries.timeline(world.users["county_specialist"], world.residents["li_si"], channel="web")
    kinds = {item.kind for item in timeline}
    assert {"encounter", "referral", "care_plan"} <= kinds


def test_the_care_team_access_ends_with_the_plan(world):
    referral = down(world, resident="li_si")
    CareAccess.objects.filter(referral__isnull=True).delete()
    CareAccess.objects.filter(referral=referral, reason=AccessReason.REFERRAL).delete()
    team = CareAccess.objects.get(referral=referral, reason=AccessReason.CARE_TEAM)
    assert timezone.localtime(team.ends_at).date() == referral.care_plan.period_end
    past = timezone.now() - dt.timedelta(seconds=1)
    CareAccess.objects.filter(pk=team.pk).update(starts_at=past - dt.timedelta(days=180), ends_at=past)
    assert not sees(world, "county_specialist", "li_si")


def test_a_down_referral_cancelled_before_arrival_revokes_its_care_plan_and_the_care_team_access(world):
    from countycare.referrals.models import CarePlanStatus

    referral = down(world, resident="li_si")
    CareAccess.objects.filter(referral__isnull=True).delete()  # only what the referral granted is left
    assert sees(world, "county_specialist", "li_si")
    services.transition(user=world.users["county_specialist"], referral=referral, action="cancel",
                        expected_version=referral.version, reason="患者拒绝下转", channel="web")
    referral.care_plan.refresh_from_db()
    assert referral.care_plan.status == CarePlanStatus.REVOKED
    assert not sees(world, "county_specialist", "li_si")
    assert not CareAccess.objects.filter(referral=referral, ends_at__gt=timezone.now()).exists()


def test_an_expired_down_referral_revokes_its_care_plan(world):
    from countycare.referrals.models import CarePlanStatus

    referral = down(world, resident="li_si")
    services.expire_overdue(now=referral.due_at + dt.timedelta(minutes=1))
    referral.care_plan.refresh_from_db()
    assert referral.care_plan.status == CarePlanStatus.REVOKED
