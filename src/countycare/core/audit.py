"""The audit trail: who read or wrote which patient data, when and why, in a hash chain.

Writes of the trail happen inside the caller's transaction, so a change and its audit entry land
together or not at all. The chain is linear: appends take a lock (an advisory lock on PostgreSQL; SQLite
writers are already serialised by BEGIN IMMEDIATE).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from .models import AuditEvent

GENESIS = "0" * 64
ADVISORY_LOCK_KEY = 7_312_026  # arbitrary, fixed: serialises audit appends on PostgreSQL


@dataclass(frozen=True)
class Actor:
    """Who is acting, frozen at the time of the action."""

    username: str
    user_id: int | None = None
    role: str = ""
    organization_id: int | None = None
    organization_name: str = ""
    community_id: int | None = None
    channel: str = "web"

    @classmethod
    def system(cls, channel: str = "cli") -> Actor:
        return cls(username="system", channel=channel)

    @classmethod
    def of(cls, user: Any, channel: str = "web") -> Actor:
        organization = getattr(user, "organization", None)
        return cls(
            username=user.get_username(),
            user_id=user.pk,
            role=getattr(user, "role", ""),
            organization_id=getattr(organization, "pk", None),
            organization_name=getattr(organization, "name", ""),
            community_id=getattr(user, "community_id", None),
            channel=channel,
        )


@dataclass
class Entry:
    action: str
    object_type: str
    object_id: str = ""
    resident_id: str = ""
    reason: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def _canonical(event: AuditEvent) -> bytes:
    payload = [
        event.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        event.community_id,
        event.user_id,
        event.username,
        event.role,
        event.organization_id,
        event.organization_name,
        event.action,
        event.object_type,
        event.object_id,
        event.resident_id,
        event.reason,
        event.channel,
        event.detail,
    ]
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def compute_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256(prev_hash.encode() + _canonical(event)).hexdigest()


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])


def record_many(actor: Actor, entries: Iterable[Entry]) -> list[AuditEvent]:
    entries = list(entries)
    if not entries:
        return []
    with transaction.atomic():
        _lock_chain()
        prev = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS
        now = timezone.now()
        events = []
        for entry in entries:
            event = AuditEvent(
                at=now,
                community_id=actor.community_id,
                user_id=actor.user_id,
                username=actor.username,
                role=actor.role,
                organization_id=actor.organization_id,
                organization_name=actor.organization_name,
                action=entry.action,
                object_type=entry.object_type,
                object_id=str(entry.object_id),
                resident_id=str(entry.resident_id or ""),
                reason=entry.reason[:200],
                channel=actor.channel,
                detail=json.loads(json.dumps(entry.detail, default=str)),
                prev_hash=prev,
            )
            event.hash = compute_hash(prev, event)
            prev = event.hash
            events.append(event)
        return AuditEvent.objects.bulk_create(events)


def record(actor: Actor, action: str, object_type: str, object_id: object = "", *, resident_id: object = "",
           reason: str = "", detail: dict[str, Any] | None = None) -> AuditEvent:
    entry = Entry(action, object_type, str(object_id), str(resident_id or ""), reason, detail or {})
    return record_many(actor, [entry])[0]


@dataclass
class ChainReport:
    checked: int
    first_bad_id: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.first_bad_id is None


def verify_chain(progress: Any = None) -> ChainReport:
    """Recompute every hash in order; report the first event whose content or link does not match."""
    prev = GENESIS
    checked = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=5000):
        if event.prev_hash != prev:
            return ChainReport(checked, event.id, "link broken: an event before it was removed or altered")
        if compute_hash(prev, event) != event.hash:
            return ChainReport(checked, event.id, "content altered after it was written")
        prev = event.hash
        checked += 1
        if progress:
            progress(checked)
    return ChainReport(checked)
