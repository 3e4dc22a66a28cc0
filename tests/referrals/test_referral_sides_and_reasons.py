"""Who may take each step: the receiving side accepts, rejects, marks arrival and completes; the sending side
cancels; for out-of-county referrals the lead hospital records the partner's steps. Reject and cancel need a
reason."""

from __future__ import annotations

import pytest
from tests.referrals.helpers import down, out_of_county, up

from countycare.core.errors import InvalidInput, PermissionDenied
from countycare.referrals import services
from countycare.referrals.models import Referral, ReferralStatus


def act(world, key, referral, action, reason=""):
    return services.transition(user=world.users[key], referral=referral, action=action,
                               expected_version=referral.version, reason=reason, channel="web")


def test_the_sender_cannot_accept_its_own_referral(world):
    referral = up(world)
    with pytest.raises(PermissionDenied):
        act(world, "village_doctor", referral, "accept")
    assert Referral.objects.get(pk=referral.pk).status == ReferralStatus.REQUESTED


def test_the_receiver_cannot_cancel_a_referral_it_was_sent(world):
    referral = up(world)
    with pytest.raises(PermissionDenied):
        act(world, "county_specialist", referral, "cancel", reason="不想接")


@pytest.mark.parametrize("outsider", ["west_doctor", "pharmacist", "community_admin", "bureau_viewer", "resident"])
def test_someone_on_neither_side_cannot_move_it(world, outsider):
    referral = up(world)
    for action in ("accept", "reject", "cancel"):
        with pytest.raises(PermissionDenied):
            act(world, outsider, referral, action, reason="原因")


def test_the_township_covering_the_village_acts_for_the_sending_side(world):
    referral = up(world)  # from 东村卫生室, under 东镇分院
    cancelled = act(world, "township_doctor", referral, "cancel", reason="患者改去省医院")
    assert cancelled.status == ReferralStatus.CANCELLED


@pytest.mark.parametrize("action", ["reject", "cancel"])
def test_reject_and_cancel_need_a_reason(world, action):
    referral = up(world)
    key = "county_specialist" if action == "reject" else "village_doctor"
    with pytest.raises(InvalidInput) as refused:
        act(world, key, referral, action, reason="   ")
    assert refused.value.field == "reason"
    assert Referral.objects.get(pk=referral.pk).version == 1


def test_a_rejection_keeps_its_reason(world):
    referral = act(world, "county_specialist", up(world), "reject", reason="本院心内科床位已满，建议转西镇")
    stored = Referral.objects.get(pk=referral.pk)
    assert (stored.status, stored.status_reason) == (ReferralStatus.REJECTED, "本院心内科床位已满，建议转西镇")
    assert stored.closed_at is not None


def test_the_lead_hospital_records_the_partner_hospitals_steps_out_of_county(world):
    referral = out_of_county(world)
    for action in ("accept", "arrive", "complete"):
        referral = act(world, "county_specialist", referral, action)
    assert Referral.objects.get(pk=referral.pk).status == ReferralStatus.COMPLETED
    assert referral.arrival_encounter_id is None  # the stay is outside the county: known from claims


def test_a_partner_hospitals_return_is_cancelled_by_the_side_that_recorded_it(world):
    referral = down(world, from_organization=world.orgs["partner"], to="east", by="township_doctor",
                    resident="li_si")
    assert referral.from_organization == world.orgs["partner"]
    cancelled = act(world, "township_doctor", referral, "cancel", reason="录入错误")
    assert cancelled.status == ReferralStatus.CANCELLED


def test_an_unknown_action_is_invalid(world):
    with pytest.raises(InvalidInput):
        act(world, "county_specialist", up(world), "approve")


def test_a_slot_is_booked_only_on_accept(world):
    from tests.referrals.helpers import slot

    referral = up(world)
    with pytest.raises(InvalidInput):
        services.transition(user=world.users["county_specialist"], referral=referral, action="reject",
                            expected_version=1, reason="满", slot=slot(world), channel="web")


def test_a_partner_hospitals_return_names_no_referring_doctor_of_ours(world):
    referral = down(world, from_organization=world.orgs["partner"], to="east", by="township_doctor",
                    resident="li_si")
    assert referral.from_practitioner is None and referral.created_by == world.users["township_doctor"]
