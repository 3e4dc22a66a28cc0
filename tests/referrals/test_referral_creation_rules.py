"""Which way each kind of referral may go, who may send it, and what it must carry."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.referrals.helpers import care_plan, down, grant, out_of_county, up

from countycare.core.errors import InvalidInput, NotFound, PermissionDenied
from countycare.core.models import AuditEvent
from countycare.records.models import Icd10Code
from countycare.referrals import services
from countycare.referrals.models import AccessReason, CareAccess, CarePlan, Referral, ReferralKind


@pytest.mark.parametrize(("sender", "resident", "receiver"), [
    ("village_doctor", "zhang_san", "east"),  # village → its township
    ("village_doctor", "zhang_san", "lead"),  # village → county
    ("township_doctor", "li_si", "lead"),  # township → county
])
def test_up_referrals_go_from_village_to_township_or_to_the_county(world, sender, resident, receiver):
    referral = up(world, by=sender, resident=resident, to=receiver)
    assert (referral.kind, referral.to_organization, referral.status) == ("up", world.orgs[receiver], "requested")
    assert referral.from_organization == world.users[sender].organization


@pytest.mark.parametrize(("sender", "resident", "receiver"), [
    ("township_doctor", "li_si", "west"),  # township → township is not up
    ("village_doctor", "zhang_san", "east_v2"),  # village → village
    ("village_doctor", "zhang_san", "cdc"),  # the CDC gives no care
    ("village_doctor", "zhang_san", "partner"),  # out of county only from the lead hospital
])
def test_up_referrals_sideways_or_to_non_clinical_receivers_are_refused(world, sender, resident, receiver):
    with pytest.raises((InvalidInput, PermissionDenied)):
        up(world, by=sender, resident=resident, to=receiver)
    assert not Referral.objects.exists()


def test_the_due_time_and_the_receivers_access_follow_the_policy(world):
    referral = up(world)
    assert referral.due_at - referral.requested_at == dt.timedelta(days=7)
    access = CareAccess.objects.get(referral=referral)
    assert (access.organization, access.reason) == (world.orgs["lead"], AccessReason.REFERRAL)
    assert access.ends_at - referral.requested_at == dt.timedelta(days=90)


def test_the_named_receiving_doctor_gets_access_too(world):
    referral = up(world, to_practitioner=world.practitioners["county_specialist"])
    assert CareAccess.objects.get(referral=referral).practitioner == world.practitioners["county_specialist"]


def test_a_resident_outside_the_senders_scope_cannot_be_referred(world):
    with pytest.raises(NotFound):
        up(world, by="village_doctor", resident="wang_wu")  # 王五 lives in 西村


def test_a_doctor_cannot_send_in_the_name_of_an_organisation_they_do_not_work_at(world):
    with pytest.raises(PermissionDenied):
        up(world, by="village_doctor", from_organization=world.orgs["west_v1"])


@pytest.mark.parametrize(("diagnoses", "field"), [
    ([], "diagnoses"),
    ([{"code": "XYZ99"}], "diagnoses"),
    ([{"code": "I21", "primary": True}, {"code": "I10", "primary": True}], "diagnoses"),
    ([{"code": "I21"}, {"code": "I21"}], "diagnoses"),
])
def test_diagnoses_must_be_known_icd10_codes_with_one_primary(world, diagnoses, field):
    with pytest.raises(InvalidInput) as refused:
        up(world, diagnoses=diagnoses)
    assert refused.value.field == field


def test_diagnoses_carry_their_chinese_names_and_the_first_is_primary_by_default(world):
    names = dict(Icd10Code.objects.filter(code__in=["I21", "I10"]).values_list("code", "name"))
    referral = up(world, diagnoses=[{"code": "i21"}, {"code": "I10"}])
    assert referral.diagnoses == [{"code": "I21", "display": names["I21"], "primary": True},
                                  {"code": "I10", "display": names["I10"], "primary": False}]
    assert "高血压" in names["I10"]


def test_a_reason_is_required(world):
    with pytest.raises(InvalidInput) as refused:
        up(world, reason="  ")
    assert refused.value.field == "reason"


def test_the_green_channel_is_only_for_up_referrals(world):
    with pytest.raises(InvalidInput) as refused:
        down(world, urgent=True)
    assert refused.value.field == "urgent"


def test_a_down_referral_without_a_care_plan_is_refused(world):
    with pytest.raises(InvalidInput) as refused:
        down(world, care_plan=None)
    assert refused.value.field == "care_plan"
    assert not Referral.objects.exists() and not CarePlan.objects.exists()


def test_a_down_referral_carries_its_care_plan_and_keeps_the_responsible_doctor_in_the_care_team(world):
    referral = down(world)
    plan = CarePlan.objects.get(referral=referral)
    assert plan.responsible_practitioner == world.practitioners["county_specialist"]
    assert plan.responsible_organization == world.orgs["lead"]
    assert plan.medicines[0]["name"] == "阿司匹林肠溶片"
    assert (plan.period_end - referral.requested_at.date()).days in (179, 180, 181)
    team = CareAccess.objects.get(referral=referral, reason=AccessReason.CARE_TEAM)
    assert team.practitioner == world.practitioners["county_specialist"] and team.organization is None


def test_the_responsible_doctor_of_a_care_plan_must_work_at_the_lead_hospital(world):
    with pytest.raises(InvalidInput) as refused:
        down(world, care_plan=care_plan(world, responsible_practitioner=world.practitioners["township_doctor"]))
    assert refused.value.field == "care_plan.responsible_practitioner"


def test_only_the_county_refers_down(world):
    with pytest.raises(InvalidInput):
        down(world, by="township_doctor", resident="zhang_san", to="east_v1")


def test_only_down_referrals_carry_a_care_plan(world):
    with pytest.raises(InvalidInput):
        up(world, care_plan=care_plan(world))


def test_an_out_of_county_referral_goes_from_the_lead_hospital_to_a_partner_with_a_slip_number(world):
    referral = out_of_county(world)
    assert referral.kind == ReferralKind.OUT_OF_COUNTY
    assert referral.slip_number.startswith("330122") and referral.slip_number.endswith(f"{referral.pk:06d}")
    assert Referral.objects.get(pk=referral.pk).slip_number == referral.slip_number


def test_a_slip_number_written_on_paper_is_kept(world):
    assert out_of_county(world, slip_number="ZZ-2026-0001").slip_number == "ZZ-2026-0001"


def test_out_of_county_is_refused_from_a_township(world):
    grant(world, "east", "li_si")
    with pytest.raises(PermissionDenied):
        services.create_referral(user=world.users["township_doctor"], resident=world.residents["li_si"], data={
            "kind": "out_of_county", "to_organization": world.orgs["partner"], "reason": "疑难",
            "diagnoses": [{"code": "C91"}]}, channel="web")


def test_out_of_county_goes_only_to_a_partner_hospital(world):
    with pytest.raises(InvalidInput):
        out_of_county(world, to_organization=world.orgs["east"])


def test_a_receiver_of_another_community_is_refused(world, other_community):
    with pytest.raises(InvalidInput) as refused:
        up(world, to_organization=other_community["organization"])
    assert refused.value.field == "to_organization"


def test_creation_is_audited_with_the_resident(world):
    referral = up(world)
    event = AuditEvent.objects.get(action="create", object_type="Referral", object_id=str(referral.uuid))
    assert event.resident_id == str(world.residents["zhang_san"].uuid)
    assert event.username == "village_doctor" and event.detail["diagnoses"] == ["I21"]


def test_a_communitys_own_policy_numbers_set_the_due_time_and_the_access(world):
    from decimal import Decimal

    from countycare.core.models import Policy

    Policy.objects.create(community=world.community, key="referral_expiry_days", value=Decimal("3"))
    Policy.objects.create(community=None, key="referral_record_access_days", value=Decimal("30"))
    referral = up(world)
    assert referral.due_at - referral.requested_at == dt.timedelta(days=3)
    assert CareAccess.objects.get(referral=referral).ends_at - referral.requested_at == dt.timedelta(days=30)
