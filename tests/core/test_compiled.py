"""A compiled lookup gives exactly what iterating its QuerySet gives — the row, its select_related relations, the
values converted alike on SQLite and PostgreSQL — and refuses a query whose parameters it cannot bind."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from tests.referrals.helpers import ensure_codes, up

from countycare.accounts.models import ApiToken
from countycare.accounts.tokens import issue_token
from countycare.core.compiled import CompiledLookup
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
