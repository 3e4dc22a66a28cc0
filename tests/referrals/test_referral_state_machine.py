"""Every (status, action) pair of the workflow table: allowed pairs move the referral, refused ones are a 409
that changes nothing."""

from __future__ import annotations

import itertools

import pytest
from tests.referrals.helpers import move, up

from countycare.core.errors import Conflict, PermissionDenied
from countycare.core.models import AuditEvent
from countycare.referrals import services, workflow
from countycare.referrals.models import Referral, ReferralEvent, ReferralStatus

USER_ACTIONS = [t.action for t in workflow.TRANSITIONS if t.side != workflow.Side.SYSTEM]
ACTOR = {workflow.Side.RECEIVER: "county_specialist", workflow.Side.SENDER: "village_doctor"}
PAIRS = list(itertools.product(ReferralStatus.values, USER_ACTIONS))


def _snapshot(referral: Referral) -> tuple:
    row = Referral.objects.filter(pk=referral.pk).values("status", "version", "status_reason", "booking_id",
                                                         "arrival_encounter_id").get()
    return (row, ReferralEvent.objects.filter(referral=referral).count(),
            AuditEvent.objects.filter(object_id=str(referral.uuid)).count())


def test_the_table_names_every_action_once_and_targets_only_known_statuses():
    assert len(workflow.BY_ACTION) == len(workflow.TRANSITIONS)
    for t in workflow.TRANSITIONS:
        assert t.target in ReferralStatus.values
        assert t.sources <= set(ReferralStatus.values)
        assert not (t.sources & workflow.TERMINAL)


@pytest.mark.parametrize(("status", "action"), PAIRS, ids=[f"{s}-{a}" for s, a in PAIRS])
def test_each_status_and_action_is_allowed_exactly_when_the_table_says_so(world, status, action):
    step = workflow.BY_ACTION[action]
    referral = move(up(world), status)
    user = world.users[ACTOR[step.side]]
    before = _snapshot(referral)
    seen = referral.version
    if status in step.sources:
        moved = services.transition(user=user, referral=referral, action=action, expected_version=seen,
                                    reason="按流程处理", channel="web")
        stored = Referral.objects.get(pk=referral.pk)
        assert stored.status == moved.status == step.target
        assert stored.version == moved.version == seen + 1
        event = ReferralEvent.objects.filter(referral=referral).latest("id")
        assert (event.action, event.from_status, event.to_status) == (action, status, step.target)
        assert AuditEvent.objects.filter(object_id=str(referral.uuid), action=action).count() == 1
    else:
        with pytest.raises(Conflict):
            services.transition(user=user, referral=referral, action=action, expected_version=referral.version,
                                reason="按流程处理", channel="web")
        assert _snapshot(referral) == before


@pytest.mark.parametrize("status", ReferralStatus.values)
def test_no_user_may_expire_a_referral_by_hand(world, status):
    referral = move(up(world), status)
    before = _snapshot(referral)
    for key in ("county_specialist", "village_doctor"):
        with pytest.raises(PermissionDenied):
            services.transition(user=world.users[key], referral=referral, action="expire",
                                expected_version=referral.version, channel="web")
    assert _snapshot(referral) == before


def test_a_stale_version_is_a_conflict_and_changes_nothing(world):
    referral = up(world)
    services.transition(user=world.users["county_specialist"], referral=referral, action="accept",
                        expected_version=1, channel="web")
    stale = Referral.objects.get(pk=referral.pk)
    stale.version = 1
    before = _snapshot(referral)
    with pytest.raises(Conflict) as refused:
        services.transition(user=world.users["village_doctor"], referral=stale, action="cancel",
                            expected_version=1, reason="患者拒绝转诊", channel="web")
    assert "刷新" in refused.value.message
    assert _snapshot(referral) == before


def test_a_referral_walks_the_happy_path_to_completed(world):
    referral = up(world)
    specialist = world.users["county_specialist"]
    for version, action in enumerate(["accept", "arrive", "complete"], start=1):
        referral = services.transition(user=specialist, referral=referral, action=action, expected_version=version,
                                       channel="web")
    stored = Referral.objects.get(pk=referral.pk)
    assert stored.status == ReferralStatus.COMPLETED
    assert stored.accepted_at and stored.arrived_at and stored.completed_at
    assert list(stored.events.values_list("action", flat=True)) == ["create", "accept", "arrive", "complete"]
