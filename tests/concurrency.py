"""Real concurrency for the race tests: calls started at the same moment in threads of their own, each with its
own database connection (so they only see committed rows: use a transactional fixture)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection, connections


def race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls at the same moment in threads of their own; each result is a value or the exception.
    SQLite serialises writers anyway: there the calls take turns, so the tests assert the same outcome."""
    barrier = threading.Barrier(len(calls))
    serialise = threading.Lock() if connection.vendor == "sqlite" else None
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            if serialise is not None:
                with serialise:
                    results[index] = calls[index]()
            else:
                results[index] = calls[index]()
        except Exception as exc:  # the loser's Conflict is the point of the test
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results
