"""Scoped reads: who sees which referral, the inbox and the sent list, the tracking board's counts, audited
reads, open slots, and the referrals' part of the resident's timeline."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from tests.referrals.helpers import down, out_of_county, slot, up

from countycare.core.errors import InvalidInput, NotFound, PermissionDenied
from countycare.core.models import AuditEvent
from countycare.records import queries as records_queries
from countycare.referrals import queries, services
from countycare.referrals.models import Slot


def test_a_referral_is_visible_to_both_sides_and_to_whoever_may_see_the_resident(world):
    referral = up(world)
    for key in ("village_doctor", "township_doctor", "county_specialist", "community_admin"):
        assert queries.visible_referrals(world.users[key]).filter(pk=referral.pk).exists(), key
    for key in ("west_doctor", "resident"):
        assert not queries.visible_referrals(world.users[key]).filter(pk=referral.pk).exists(), key
    assert not queries.visible_referrals(world.users["bureau_viewer"]).exists()


def test_reading_a_referral_is_audited_and_outsiders_get_404(world):
    referral = up(world)
    found = queries.get_referral(world.users["county_specialist"], referral.uuid, channel="web", reason="接诊")
    assert found == referral
    event = AuditEvent.objects.get(action="read", object_id=str(referral.uuid))
    assert (event.username, event.reason, event.resident_id) == ("county_specialist", "接诊",
                                                                 str(world.residents["zhang_san"].uuid))
    with pytest.raises(NotFound):
        queries.get_referral(world.users["west_doctor"], referral.uuid, channel="web")
    with pytest.raises(NotFound):
        queries.get_referral(world.users["county_specialist"], "not-a-uuid", channel="web")
    with pytest.raises(PermissionDenied):
        queries.get_referral(world.users["bureau_viewer"], referral.uuid, channel="web")


def test_the_inbox_holds_open_referrals_and_filters_by_status_kind_and_urgency(world):
    open_one = up(world)
    closed = up(world)
    services.transition(user=world.users["county_specialist"], referral=closed, action="reject",
                        expected_version=1, reason="非本院范围", channel="web")
    urgent = up(world, urgent=True)
    inbox = world.users["county_specialist"]
    assert list(queries.inbox(inbox)) == [urgent, open_one]
    assert list(queries.inbox(inbox, status="rejected")) == [closed]
    assert list(queries.inbox(inbox, urgent=False)) == [open_one]
    assert list(queries.inbox(inbox, kind="down")) == []
    with pytest.raises(InvalidInput):
        list(queries.inbox(inbox, status="lost"))


def test_the_inbox_reads_a_page_in_a_fixed_number_of_queries(world):
    def read_page():
        world.users["county_specialist"].__dict__.pop("_covered_org_ids", None)  # each page is a new request
        with CaptureQueriesContext(connection) as counted:
            rows = list(queries.inbox(world.users["county_specialist"])[:50])
            [(r.resident.name, r.from_organization.name, r.to_organization.name) for r in rows]
        return len(counted)

    for _ in range(3):
        up(world)
    few = read_page()
    for _ in range(10):
        up(world)
    assert read_page() == few


def test_the_board_counts_sent_and_received_by_kind_and_status(world):
    up(world)
    services.transition(user=world.users["county_specialist"], referral=up(world), action="accept",
                        expected_version=1, channel="web")
    down(world)
    out_of_county(world)
    lead = queries.board_counts(world.users["county_specialist"])
    assert lead["received"]["up"]["requested"] == 1 and lead["received"]["up"]["accepted"] == 1
    assert lead["sent"]["down"]["requested"] == 1 and lead["sent"]["out_of_county"]["requested"] == 1
    assert lead["received"]["total"]["requested"] == 1 and lead["sent"]["total"]["requested"] == 2
    village = queries.board_counts(world.users["village_doctor"])
    assert village["sent"]["total"] == {**dict.fromkeys(village["sent"]["total"], 0), "requested": 1,
                                        "accepted": 1}
    assert queries.board_counts(world.users["village_doctor"], kind="down")["sent"]["total"]["requested"] == 0


def test_the_sender_tracks_every_status(world):
    referral = up(world)
    services.transition(user=world.users["village_doctor"], referral=referral, action="cancel",
                        expected_version=1, reason="患者拒绝", channel="web")
    assert list(queries.sent(world.users["village_doctor"])) == [referral]
    assert list(queries.sent(world.users["village_doctor"], status=["requested"])) == []


def test_listing_is_audited_per_referral(world):
    rows = [up(world), up(world)]
    queries.audit_listed(world.users["county_specialist"], rows, channel="web", reason="inbox")
    assert AuditEvent.objects.filter(action="list", object_type="Referral").count() == 2


def test_open_slots_leave_out_full_and_past_slots_and_respect_the_reserve(world):
    free = slot(world, capacity=10)
    general_full = slot(world, capacity=10)
    Slot.objects.filter(pk=general_full.pk).update(booked_general=8)
    full = slot(world, capacity=1)
    Slot.objects.filter(pk=full.pk).update(booked_reserved=1)
    past = slot(world, capacity=10, starts_in=dt.timedelta(hours=2))
    Slot.objects.filter(pk=past.pk).update(starts_at=past.starts_at - dt.timedelta(days=2),
                                           ends_at=past.starts_at - dt.timedelta(days=1))
    user = world.users["county_specialist"]
    assert set(queries.open_slots(user, organization=world.orgs["lead"])) == {free, general_full}
    assert set(queries.open_slots(user, organization=world.orgs["lead"], for_referral=False)) == {free}
    assert list(queries.open_slots(user, organization=world.orgs["lead"], kind="bed")) == []


def test_referrals_and_care_plans_appear_on_the_residents_timeline(world):
    referral = down(world)
    items = records_queries.timeline(world.users["township_doctor"], world.residents["zhang_san"], channel="web")
    mine = [i for i in items if i.kind in ("referral", "care_plan")]
    assert {i.kind for i in mine} == {"referral", "care_plan"}
    item = next(i for i in mine if i.kind == "referral")
    assert item.obj == referral and "城关县人民医院 → 城关县人民医院东镇分院" in item.title
