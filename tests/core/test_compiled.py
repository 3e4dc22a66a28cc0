"""A compiled lookup gives exactly what iterating its QuerySet gives — the row, its select_related relations, the
values converted alike on SQLite and PostgreSQL — and refuses a query whose parameters it cannot bind."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from tests.referrals.helpers import ensure_codes, up

from countycare.accounts.models import ApiToken
from countycare.accounts.tokens import issue_token
from countycare.core import compiled
from countycare.core.compiled import CompiledLookup, CompiledUpdate
from countycare.core.models import IdempotencyRecord, Policy
from countycare.referrals import queries
from countycare.referrals.models import Referral
from countycare.registry.models import Organization

TOKEN = CompiledLookup(
    lambda digest, now: ApiToken.objects.select_related("user__organization", "user__practitioner")
    .filter(digest=digest, expires_at__gt=now, user__is_active=True).order_by()[:1],
    ApiToken._meta.get_field("digest"), ApiToken._meta.get_field("expires_at"),
)


def same(a, b) -> None:
    """Same class, field values, database state and cached relations (compared the same way, recursively)."""
    assert type(a) is type(b)
    assert {k: v for k, v in vars(a).items() if k != "_state"} == {k: v for k, v in vars(b).items() if k != "_state"}
    assert (a._state.adding, a._state.db) == (b._state.adding, b._state.db) == (False, "default")
    assert a._state.fields_cache.keys() == b._state.fields_cache.keys()
    for name, related in a._state.fields_cache.items():
        if related is None:
            assert b._state.fields_cache[name] is None
        else:
            same(related, b._state.fields_cache[name])


def test_the_token_lookup_gives_the_querysets_objects_with_their_relations(county):
    raw, _ = issue_token(county.users["township_doctor"])
    digest, now = ApiToken.digest_of(raw), timezone.now()
    expected = TOKEN.build(digest, now).get()
    for _ in range(2):  # compiled on the first call, reused on the second
        with CaptureQueriesContext(connection) as captured:
            found = TOKEN.get(digest, now)
        assert len(captured.captured_queries) == 1
        same(found, expected)
    assert found.user.organization.name == county.orgs["east"].name
    assert found.user.practitioner == county.practitioners["township_doctor"]


def test_the_values_bind_to_their_own_parameters(county):
    raw, token = issue_token(county.users["township_doctor"])
    digest = ApiToken.digest_of(raw)
    assert TOKEN.get(digest, token.expires_at - dt.timedelta(seconds=1)) is not None
    assert TOKEN.get(digest, token.expires_at) is None  # expires_at > now is false
    assert TOKEN.get("0" * 64, timezone.now()) is None
    assert TOKEN.get(None, timezone.now()) is None


def test_a_referral_by_uuid_has_what_its_detail_has(county):
    ensure_codes()
    referral = up(county, by="township_doctor", resident="li_si", urgent=True)
    expected = queries.detail(Referral.objects.filter(uuid=referral.uuid, community_id=county.community.pk))
    found = queries.detail_by_uuid(referral.uuid, county.community.pk)
    same(found, expected)
    assert found.requested_at == referral.requested_at and found.diagnoses == referral.diagnoses
    assert queries.detail_by_uuid(referral.uuid, county.community.pk + 1) is None


def test_a_query_with_a_parameter_of_its_own_is_refused_when_compiled(county):
    fixed = CompiledLookup(
        lambda community_id: Organization.objects.filter(community_id=community_id, name__startswith="城关")[:1],
        Organization._meta.get_field("community"),
    )
    with pytest.raises(ValueError, match="none of the values"):
        fixed.get(county.community.pk)
    unused = CompiledLookup(lambda community_id, name: Organization.objects.filter(community_id=community_id)[:1],
                            Organization._meta.get_field("community"), Organization._meta.get_field("name"))
    with pytest.raises(ValueError, match="fills no query parameter"):
        unused.get(county.community.pk, "x")


def test_an_insert_writes_the_row_save_would_and_compiles_once(county):
    """The same row as save(): key returned, auto_now_add set, JSON and text stored as given; SQL reused."""
    compiled._INSERT_PLANS.clear()
    made = []
    for n in range(2):
        with CaptureQueriesContext(connection) as captured:
            record = compiled.insert(IdempotencyRecord(
                key=f"k-{n}", user_id=7, method="POST", path="/api/referrals", request_hash="a" * 64, status=201,
                headers={"Location": "/api/referrals/x", "中文": "是"}, body='{"uuid": "x"}'))
        assert len(captured.captured_queries) == 1 and captured.captured_queries[0]["sql"].startswith("INSERT")
        assert record.pk is not None and not record._state.adding and record._state.db == "default"
        assert record.created_at is not None
        made.append(record)
    assert len(compiled._INSERT_PLANS) == 1
    by_save = IdempotencyRecord(key="k-save", user_id=7, method="POST", path="/api/referrals",
                                request_hash="a" * 64, status=201,
                                headers={"Location": "/api/referrals/x", "中文": "是"}, body='{"uuid": "x"}')
    by_save.save()
    stored = {r.key: r for r in IdempotencyRecord.objects.filter(user_id=7)}
    for record in made:
        again = stored[record.key]
        assert (again.pk, again.created_at, again.headers, again.body) == (
            record.pk, record.created_at, record.headers, record.body)
        assert {k: v for k, v in vars(again).items() if k not in ("_state", "id", "key", "created_at")} == {
            k: v for k, v in vars(stored["k-save"]).items() if k not in ("_state", "id", "key", "created_at")}
    assert made[1].pk > made[0].pk


def test_an_insert_that_breaks_a_constraint_fails_like_save(county):
    row = {"key": "dup", "user_id": 8, "method": "POST", "path": "/p", "request_hash": "b" * 64, "status": 201,
           "body": ""}
    compiled.insert(IdempotencyRecord(**row))
    with pytest.raises(IntegrityError), transaction.atomic():
        compiled.insert(IdempotencyRecord(**row))
    assert IdempotencyRecord.objects.filter(key="dup").count() == 1


def test_an_insert_keeps_the_saving_signals_of_models_that_have_receivers(county):
    """Policy rows clear a process cache on post_save (core.refcache): those go through save()."""
    seen = []

    def receiver(sender, instance, created, **kwargs):
        seen.append((instance.key, created))

    from django.db.models.signals import post_save

    post_save.connect(receiver, sender=Policy)
    try:
        policy = compiled.insert(Policy(key="test-only", value=9, community=county.community))
    finally:
        post_save.disconnect(receiver, sender=Policy)
    assert seen == [("test-only", True)] and policy.pk is not None


VERSIONED = CompiledUpdate(
    lambda pk, version, now, reason: (
        Referral.objects.filter(pk=pk, version=version, status__in=["requested", "accepted"]),
        {"status": "cancelled", "version": F("version") + 1, "updated_at": now, "closed_at": now,
         "status_reason": reason}),
    Referral._meta.get_field("id"), Referral._meta.get_field("version"), Referral._meta.get_field("updated_at"),
    Referral._meta.get_field("status_reason"),
)


def test_a_compiled_update_changes_what_update_would_and_only_when_its_conditions_hold(county):
    ensure_codes()
    referral = up(county, by="township_doctor", resident="li_si")
    other = up(county, by="township_doctor", resident="li_si")
    now = timezone.now()
    assert VERSIONED.run(referral.pk, referral.version + 1, now, "x") == 0  # stale version: nothing
    for _ in range(2):  # compiled on the first call, reused on the second
        with CaptureQueriesContext(connection) as captured:
            assert VERSIONED.run(referral.pk, 1, now, "患者要求 (patient asked)") == 1
        assert len(captured.captured_queries) == 1
        assert VERSIONED.run(referral.pk, 1, now, "again") == 0  # version moved on
        Referral.objects.filter(pk=referral.pk).update(version=1, status="requested")
    VERSIONED.run(referral.pk, 1, now, "患者要求 (patient asked)")
    row = Referral.objects.values("status", "version", "updated_at", "closed_at", "status_reason").get(pk=referral.pk)
    assert row == {"status": "cancelled", "version": 2, "updated_at": now, "closed_at": now,
                   "status_reason": "患者要求 (patient asked)"}
    Referral.objects.filter(pk=other.pk).update(status="arrived")
    assert VERSIONED.run(other.pk, 1, now, "x") == 0  # a status the filter's constant list leaves out
    assert Referral.objects.get(pk=other.pk).status == "arrived"


def test_an_update_whose_value_changes_on_its_way_into_the_sql_is_refused(county):
    prefixed = CompiledUpdate(
        lambda name: (Organization.objects.filter(name__startswith=name), {"active": True}),
        Organization._meta.get_field("name"))
    with pytest.raises(ValueError, match="changed on its way"):
        prefixed.run("城关")
    unused = CompiledUpdate(lambda pk, name: (Organization.objects.filter(pk=pk), {"active": True}),
                            Organization._meta.get_field("id"), Organization._meta.get_field("name"))
    with pytest.raises(ValueError, match="fills no query parameter"):
        unused.run(1, "x")
