"""Bearer tokens for the JSON and FHIR APIs. The raw token is shown once; only its SHA-256 is stored."""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from countycare.core.compiled import CompiledLookup

from .models import ApiToken, User

# `last_used_at` is kept to the minute: writing it on every call cost each API request a write and a commit.
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)


def issue_token(user: User) -> tuple[str, ApiToken]:
    """A new token. Its issue counts as its first use (a token is issued to a client that has just signed in),
    so every request within the minute after costs the same: no write."""
    raw = secrets.token_urlsafe(32)
    now = timezone.now()
    token = ApiToken.objects.create(
        user=user,
        digest=ApiToken.digest_of(raw),
        expires_at=now + dt.timedelta(hours=settings.API_TOKEN_TTL_HOURS),
        last_used_at=now,
    )
    return raw, token


# The user with what every request uses; a resident's own record (only residents' accounts have one) is read
# when used: a fifth table in the join cost every request ~0.2 ms of CPU and as much of planning. Compiled once:
# building this four-table SQL was most of the CPU of an authenticated API request's token check.
_TOKEN = CompiledLookup(
    lambda digest, now: (
        ApiToken.objects.select_related("user__organization", "user__practitioner")
        .filter(digest=digest, expires_at__gt=now, user__is_active=True)
        .order_by()[:1]  # the digest is unique: no ORDER BY
    ),
    ApiToken._meta.get_field("digest"), ApiToken._meta.get_field("expires_at"),
)


def user_for_token(raw: str) -> User | None:
    """The active user a valid, unexpired token belongs to, else None. Its `last_used_at` is brought up to date
    when it is a minute or more behind (a conditional UPDATE: of concurrent requests at most one writes it)."""
    if not raw:
        return None
    now = timezone.now()
    token = _TOKEN.get(ApiToken.digest_of(raw), now)
    if token is None:
        return None
    stale = now - LAST_USED_RESOLUTION
    if token.last_used_at is None or token.last_used_at < stale:
        ApiToken.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale), pk=token.pk).update(
            last_used_at=now)
        token.last_used_at = now
    return token.user


def user_for_authorization_header(header: str | None) -> User | None:
    if not header:
        return None
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return user_for_token(raw.strip())
