"""The one place that decides which residents a user may see.

Each rule is a *scope provider*: a function of the user returning a Q over Resident (or None). The base
rule (postings and home organisations) lives in registry; later apps widen scope with their own
providers (referrals, family-doctor contracts) through `register_provider`. Every scoped query in every
app filters Resident through `resident_filter(user)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Q

ScopeProvider = Callable[[Any], "Q | None"]
_providers: list[ScopeProvider] = []
NOTHING = Q(pk__in=[])


def register_provider(provider: ScopeProvider) -> ScopeProvider:
    if provider not in _providers:
        _providers.append(provider)
    return provider


def resident_filter(user: Any) -> Q:
    """A Q over Resident: the union of what every provider grants this user (nothing by default)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return NOTHING
    granted = NOTHING
    for provider in _providers:
        q = provider(user)
        if q is not None:
            granted |= q
    return granted
