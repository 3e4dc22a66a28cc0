"""A bearer token's last use is kept to the minute: checking a token does not write on every request."""

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from countycare.accounts.models import ApiToken
from countycare.accounts.tokens import LAST_USED_RESOLUTION, issue_token, user_for_token


def _writes(captured):
    return [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("UPDATE")]


def test_a_use_within_the_minute_after_the_last_writes_nothing(county):
    user = county.users["township_doctor"]
    raw, token = issue_token(user)
    issued = ApiToken.objects.get(pk=token.pk).last_used_at
    assert issued is not None  # the issue counts as a use: the first request costs what the later ones do
    for _ in range(2):
        with CaptureQueriesContext(connection) as captured:
            assert user_for_token(raw) == user
        assert len(captured.captured_queries) == 1 and not _writes(captured)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == issued


def test_a_use_a_minute_after_the_last_is_recorded(county):
    user = county.users["township_doctor"]
    raw, token = issue_token(user)
    old = timezone.now() - LAST_USED_RESOLUTION - dt.timedelta(seconds=1)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=old)
    with CaptureQueriesContext(connection) as captured:
        assert user_for_token(raw) == user
    assert len(_writes(captured)) == 1
    assert ApiToken.objects.get(pk=token.pk).last_used_at > old


def test_an_expired_or_unknown_token_is_refused_and_not_touched(county):
    user = county.users["township_doctor"]
    raw, token = issue_token(user)
    old = timezone.now() - dt.timedelta(hours=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1), last_used_at=old)
    assert user_for_token(raw) is None
    assert user_for_token("not-a-token") is None
    assert ApiToken.objects.get(pk=token.pk).last_used_at == old


def test_a_token_never_stamped_is_stamped_on_use(county):
    user = county.users["township_doctor"]
    raw, token = issue_token(user)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=None)  # a token issued before stamping at issue
    assert user_for_token(raw) == user
    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None
