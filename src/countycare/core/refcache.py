"""Reference data kept in each process for a short time instead of read on every request.

Policy numbers and the ICD-10 code set change a few times a year, by an administrator or an import, but the
referral and encounter writes read them on every call: two of a referral create's fifteen statements, about a
tenth of its CPU (docs/api.md, "Speed"). A `ProcessCache` keeps what was read for `COUNTYCARE_REFERENCE_CACHE_SECONDS`
(default 30; 0 turns the caches off):

- a change saved through the ORM (admin, a form, `Model.save`/`delete`) clears the cache of the process that
  saved it at once, and again when its transaction commits (a value read inside a transaction that is then
  rolled back can outlive it by the time-to-live: there is no hook for a rollback);
- the import commands clear it themselves;
- every other process sees the change within the time-to-live.

Only values read from the database are kept, never a refusal (an unknown code is looked up again each time, so
bad input cannot grow the cache). Entries are replaced whole, so a thread never sees half an update; two threads
that miss at once both read, which is harmless.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Model
from django.db.models.signals import post_delete, post_save

_ALL: list[ProcessCache] = []


class ProcessCache:
    def __init__(self, name: str) -> None:
        self.name = name
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self.clock: Callable[[], float] = time.monotonic  # tests move it on
        _ALL.append(self)

    @property
    def ttl(self) -> float:
        return float(getattr(settings, "COUNTYCARE_REFERENCE_CACHE_SECONDS", 30))

    def _fresh(self, key: Hashable) -> tuple[bool, Any]:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self.clock():
            return False, None
        return True, entry[1]

    def get(self, key: Hashable, load: Callable[[], Any]) -> Any:
        """The value kept for `key`, or `load()` (kept for the time-to-live)."""
        found, value = self._fresh(key)
        if found:
            return value
        value = load()
        if self.ttl > 0:
            self._entries[key] = (self.clock() + self.ttl, value)
        return value

    def get_many(self, keys: Iterable[Hashable], load: Callable[[list[Any]], dict[Any, Any]]) -> dict[Any, Any]:
        """{key: value} for the keys found: the kept ones, and `load(missing)` for the rest in one call. Keys that
        `load` does not return are not kept (looked up again next time)."""
        result: dict[Any, Any] = {}
        missing = []
        for key in keys:
            found, value = self._fresh(key)
            if found:
                result[key] = value
            else:
                missing.append(key)
        if missing:
            loaded = load(missing)
            if self.ttl > 0:
                expires = self.clock() + self.ttl
                self._entries.update((key, (expires, value)) for key, value in loaded.items())
            result.update(loaded)
        return result

    def clear(self) -> None:
        self._entries = {}

    def clear_now_and_on_commit(self, **kwargs: Any) -> None:
        """A signal receiver: a value read inside the saving transaction must not outlive it."""
        self.clear()
        transaction.on_commit(self.clear)

    def follow(self, model: type[Model] | str) -> None:
        """Clear when a row of `model` is saved or deleted through the ORM (bulk writes send no signals: their
        callers clear it themselves)."""
        for signal, event in ((post_save, "saved"), (post_delete, "deleted")):
            signal.connect(self.clear_now_and_on_commit, sender=model,
                           dispatch_uid=f"countycare.refcache.{self.name}.{event}")


def clear_all() -> None:
    """Forget every process cache (tests, between cases whose rows were rolled back)."""
    for cache in _ALL:
        cache.clear()
