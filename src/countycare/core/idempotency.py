"""Idempotency-Key support: a retried write (flaky village network) gets the first answer again.

    replay = idempotency.lookup(user_id, key, method, path, body)
    if replay: return replay-as-response
    ... do the write inside transaction.atomic() ...
    idempotency.store(user_id, key, method, path, body, status, headers, response_body)

Reusing a key for a different request body is a 422: the client has a bug.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from .compiled import CompiledLookup, insert
from .errors import Conflict, InvalidInput
from .models import IdempotencyRecord

MAX_KEY_LENGTH = 200


@dataclass
class StoredResponse:
    status: int
    headers: dict[str, str]
    body: str


def _request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


# compiled once (core.compiled): every create that carries a key looks it up first
_RECORD = CompiledLookup(
    lambda user_id, key: IdempotencyRecord.objects.filter(user_id=user_id, key=key).order_by()[:1],  # unique
    IdempotencyRecord._meta.get_field("user_id"), IdempotencyRecord._meta.get_field("key"),
)


def lookup(user_id: int, key: str | None, method: str, path: str, body: bytes) -> StoredResponse | None:
    if not key:
        return None
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput("Idempotency-Key 过长 (at most 200 characters)")
    record = _RECORD.get(user_id, key)
    if record is None:
        return None
    if record.request_hash != _request_hash(method, path, body):
        raise InvalidInput("同一 Idempotency-Key 用于了不同的请求 (Idempotency-Key reused for a different request)")
    return StoredResponse(record.status, record.headers, record.body)


def store(user_id: int, key: str | None, method: str, path: str, body: bytes, response: StoredResponse) -> None:
    """Call inside the write's transaction, so the answer and the write land together. A key stored by a
    concurrent copy fails that transaction (or its innermost savepoint) whole: the write must not land twice, so
    no savepoint of our own — two round trips saved on every idempotent create."""
    if not key:
        return
    try:
        with transaction.atomic(savepoint=False):
            insert(IdempotencyRecord(
                user_id=user_id, key=key, method=method, path=path, request_hash=_request_hash(method, path, body),
                status=response.status, headers=response.headers, body=response.body,
            ))
    except IntegrityError:
        # a concurrent retry with the same key got there first: this write must not land twice
        raise Conflict(
            "相同请求正在处理或已完成，请稍后刷新 (a request with this Idempotency-Key already ran)"
        ) from None
