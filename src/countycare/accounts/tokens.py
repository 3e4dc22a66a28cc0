"""Bearer tokens for the JSON and FHIR APIs. The raw token is shown once; only its SHA-256 is stored."""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.utils import timezone

from .models import ApiToken, User


def issue_token(user: User) -> tuple[str, ApiToken]:
    raw = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        digest=ApiToken.digest_of(raw),
        expires_at=timezone.now() + dt.timedelta(hours=settings.API_TOKEN_TTL_HOURS),
    )
    return raw, token


def user_for_token(raw: str) -> User | None:
    """The active user a valid, unexpired token belongs to, else None."""
    if not raw:
        return None
    token = (
        ApiToken.objects.select_related("user__organization", "user__practitioner", "user__resident")
        .filter(digest=ApiToken.digest_of(raw), expires_at__gt=timezone.now(), user__is_active=True)
        .first()
    )
    if token is None:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user


def user_for_authorization_header(header: str | None) -> User | None:
    if not header:
        return None
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return user_for_token(raw.strip())
