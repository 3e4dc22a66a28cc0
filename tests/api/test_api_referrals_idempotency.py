"""Idempotency-Key on POST /api/referrals: a retried submission from a flaky village connection creates one
referral and gets the first answer; the same key with a different body is a client bug (422)."""

from __future__ import annotations

import pytest
from tests.referrals.helpers import ensure_codes

from countycare.referrals.models import Referral


@pytest.fixture(autouse=True)
def codes(county):
    ensure_codes()


def body(county, reason="胸痛2小时"):
    return {"resident": str(county.residents["zhang_san"].uuid), "kind": "up",
            "to_organization": str(county.orgs["lead"].uuid), "reason": reason,
            "diagnoses": [{"code": "I21", "primary": True}]}


def test_the_same_key_twice_makes_one_referral_and_the_same_answer(county, api_as):
    api = api_as("village_doctor")
    first = api.post("/api/referrals", body(county), headers={"Idempotency-Key": "village-42"})
    second = api.post("/api/referrals", body(county), headers={"Idempotency-Key": "village-42"})
    assert first.status_code == second.status_code == 201
    assert first.content == second.content and first["Location"] == second["Location"]
    assert Referral.objects.count() == 1


def test_the_same_key_with_a_different_body_is_422(county, api_as):
    api = api_as("village_doctor")
    api.post("/api/referrals", body(county), headers={"Idempotency-Key": "village-43"})
    changed = api.post("/api/referrals", body(county, reason="胸闷"), headers={"Idempotency-Key": "village-43"})
    assert changed.status_code == 422
    assert Referral.objects.count() == 1


def test_without_a_key_each_post_is_a_new_referral(county, api_as):
    api = api_as("village_doctor")
    api.post("/api/referrals", body(county))
    api.post("/api/referrals", body(county))
    assert Referral.objects.count() == 2


def test_keys_belong_to_their_user(county, api_as):
    api_as("village_doctor").post("/api/referrals", body(county), headers={"Idempotency-Key": "shared"})
    other = api_as("township_doctor").post("/api/referrals", body(county), headers={"Idempotency-Key": "shared"})
    assert other.status_code == 201
    assert Referral.objects.count() == 2


def test_a_refused_referral_stores_no_answer_so_a_corrected_retry_goes_through(county, api_as):
    api = api_as("village_doctor")
    bad = {**body(county), "diagnoses": [{"code": "NOPE1"}]}
    assert api.post("/api/referrals", bad, headers={"Idempotency-Key": "k-1"}).status_code == 422
    assert api.post("/api/referrals", body(county), headers={"Idempotency-Key": "k-2"}).status_code == 201


def test_a_copy_that_loses_the_race_for_its_key_is_409_and_leaves_nothing(county, api_as, monkeypatch):
    """Two copies of one request at once: both look the key up before either commits, the second to store its
    answer is refused whole (the stored answer has no savepoint of its own: its failure fails the write)."""
    from countycare.api import idempotency
    from countycare.core import audit
    from countycare.core.models import AuditEvent

    api = api_as("village_doctor")
    assert api.post("/api/referrals", body(county), headers={"Idempotency-Key": "village-46"}).status_code == 201
    events = AuditEvent.objects.count()
    monkeypatch.setattr(idempotency, "lookup", lambda *args: None)  # looked before the first copy committed
    second = api.post("/api/referrals", body(county), headers={"Idempotency-Key": "village-46"})
    assert second.status_code == 409 and second.json()["code"] == "conflict"
    assert Referral.objects.count() == 1 and AuditEvent.objects.count() == events
    assert audit.verify_chain().ok
