"""The audit trail: who read or wrote which patient data, when and why, in a hash chain.

Writes of the trail happen inside the caller's transaction, so a change and its audit entry land
together or not at all. The chain is linear: appends take a lock (an advisory lock on PostgreSQL; SQLite
writers are already serialised by BEGIN IMMEDIATE).

Each event's `prev_hash` must be its committed predecessor's hash, so the lock is held until the appending
transaction commits: every audited write is serialised from its append to its commit. Services therefore
append last, and on PostgreSQL the append is one round trip — the lock and an INSERT that reads the chain's
head and computes the hashes in SQL (sha256 of the previous hash and the canonical bytes made here) — and
opens no savepoint inside the caller's transaction.
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


COLUMNS = ("at", "community_id", "user_id", "username", "role", "organization_id", "organization_name", "action",
           "object_type", "object_id", "resident_id", "reason", "channel", "detail")
# PostgreSQL types of COLUMNS as the VALUES list of the append sends them (then the canonical bytes)
_CASTS = ("timestamptz", "bigint", "bigint", "text", "text", "bigint", "text", "text", "text", "text", "text",
          "text", "text", "jsonb")
_ROW = "(" + ", ".join(["%s::int"] + [f"%s::{cast}" for cast in _CASTS] + ["%s::bytea"]) + ")"
# The head is read by the INSERT, a statement after the lock's: in READ COMMITTED its snapshot sees the
# predecessor that held the lock (and committed) before us. Rows are numbered from 1; the recursive CTE chains
# them; ids are drawn in that order (ORDER BY n), so the chain follows the ids verify_chain walks.
_APPEND = """
WITH RECURSIVE new (n, {columns}, canonical) AS (VALUES {rows}),
chain (n, prev_hash, hash) AS (
    SELECT 0, NULL::varchar, COALESCE((SELECT hash FROM core_auditevent ORDER BY id DESC LIMIT 1), %s)::varchar
    UNION ALL
    SELECT new.n, chain.hash, encode(sha256(convert_to(chain.hash, 'UTF8') || new.canonical), 'hex')::varchar
    FROM chain JOIN new ON new.n = chain.n + 1
)
INSERT INTO core_auditevent ({columns}, prev_hash, hash)
SELECT {selected}, chain.prev_hash, chain.hash FROM new JOIN chain ON chain.n = new.n ORDER BY new.n
RETURNING id, prev_hash, hash"""


def _append_postgresql(events: list[AuditEvent]) -> list[AuditEvent]:
    """Lock the chain and insert the events after its head in one round trip: two statements in one query string
    when the driver binds parameters client-side (COUNTYCARE_PREPARED_STATEMENTS=0); with server-side binding,
    the default on PostgreSQL, two prepared statements sent together in pipeline mode."""
    append = _APPEND.format(columns=", ".join(COLUMNS), rows=", ".join([_ROW] * len(events)),
                            selected=", ".join(f"new.{c}" for c in COLUMNS))
    params: list[Any] = []
    canonical = []
    for n, event in enumerate(events, start=1):
        canonical.append(_canonical(event))
        params += [n, *(getattr(event, c) for c in COLUMNS[:-1]), json.dumps(event.detail), canonical[-1]]
    params.append(GENESIS)
    lock = "SELECT pg_advisory_xact_lock(%s)"
    with connection.cursor() as cursor:
        if connection.settings_dict.get("OPTIONS", {}).get("server_side_binding"):
            # one query string holds one statement: the two go out together in pipeline mode and PostgreSQL runs
            # them in order (the INSERT's snapshot still follows the lock), so the lock is not held across a
            # second round trip — which in a busy threaded worker is also a wait for the GIL
            with connection.cursor() as locking, connection.wrap_database_errors, connection.connection.pipeline():
                locking.execute(lock, [ADVISORY_LOCK_KEY])
                cursor.execute(append, params)
        else:
            cursor.execute(f"{lock};{append}", [ADVISORY_LOCK_KEY, *params])
            cursor.nextset()
        rows = sorted(cursor.fetchall())
    # the hashes PostgreSQL computed must be the ones verify_chain will: checked before the commit
    prev = rows[0][1] if rows else ""
    for event, data, (pk, prev_hash, hash_) in zip(events, canonical, rows, strict=True):
        if prev_hash != prev or hash_ != hashlib.sha256(prev.encode() + data).hexdigest():
            raise RuntimeError("audit chain: the hash written is not the one verify_chain computes")
        event.pk, event.prev_hash, event.hash = pk, prev_hash, hash_
        event._state.adding, event._state.db = False, connection.alias
        prev = hash_
    return events


def _append_python(events: list[AuditEvent]) -> list[AuditEvent]:
    """SQLite: the transaction (BEGIN IMMEDIATE) already holds the database's write lock."""
    prev = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS
    for event in events:
        event.prev_hash = prev
        event.hash = compute_hash(prev, event)
        prev = event.hash
    return AuditEvent.objects.bulk_create(events)


def record_many(actor: Actor, entries: Iterable[Entry]) -> list[AuditEvent]:
    entries = list(entries)
    if not entries:
        return []
    now = timezone.now()
    events = [
        AuditEvent(
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
        )
        for entry in entries
    ]
    # inside the caller's transaction: no savepoint (a failed append fails the caller's write with it);
    # outside one: a transaction of its own, which the lock lasts for
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            return _append_postgresql(events)
        return _append_python(events)


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
