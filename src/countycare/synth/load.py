"""Bulk loading of generated rows into the Django tables, without the ORM per row.

PostgreSQL: `COPY ... FROM STDIN` through psycopg's `cursor.copy()`. SQLite: `executemany` inside the
caller's transaction. Rows are plain tuples in the order of the column names the caller declares; the
column names are checked against the model's `_meta`, so a model change that adds a required column
fails here loudly instead of loading half a row.

Primary keys are reserved in blocks (`reserve_ids`) so that generators can refer to rows (a resident's
household, a tag's resident) before they are loaded; `pool_ids` makes those blocks large, so that reserving
rarely needs the database. Datetimes may be given as aware datetimes or as UTC text in the database's own
form (faster to make and to send by the million). Inside `concurrently()` the COPYs run in a worker thread
while the caller computes the next rows: the database server and Python each get a core.
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import Model

Converter = Callable[[Any], Any] | None


@dataclass
class TableStats:
    table: str
    rows: int = 0
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


class BulkLoader:
    def __init__(self, using: str = "default") -> None:
        self.connection = connections[using]
        self.vendor = self.connection.vendor
        self.stats: dict[str, TableStats] = {}
        self._next_id: dict[str, int] = {}
        self.rebuild_seconds = 0.0
        self.rebuilt: list[tuple[str, float]] = []  # index and key statements run after a load, with seconds
        self._columns_checked: dict[tuple[str, tuple[str, ...]], list[Converter]] = {}
        self._pool: dict[str, tuple[int, int]] = {}  # table -> (next free id, ids left) of a fetched block
        self._pool_size: dict[str, int] = {}
        self._queue: queue.Queue[tuple | None] | None = None
        self._worker_error: BaseException | None = None

    # --- keys ---------------------------------------------------------------------------------------------
    def pool_ids(self, expected: dict[type[Model], int]) -> None:
        """Reserve ids for these models in blocks of (at least) the expected number of rows: what a block leaves
        unused stays a gap in the sequence, which costs nothing."""
        for model, rows in expected.items():
            self._pool_size[model._meta.db_table] = max(1, rows)

    def reserve_ids(self, model: type[Model], count: int) -> int:
        """The first of `count` consecutive primary keys nobody else will be given."""
        if count <= 0:
            return 0
        table = model._meta.db_table
        if self.vendor == "postgresql" and table in self._pool_size:
            first, left = self._pool.get(table, (0, 0))
            if left < count:
                size = max(count, self._pool_size[table])
                first, left = self._fetch_ids(model, size), size
            self._pool[table] = (first + count, left - count)
            return first
        return self._fetch_ids(model, count)

    def _fetch_ids(self, model: type[Model], count: int) -> int:
        table = model._meta.db_table
        pk = model._meta.pk.column
        with self.connection.cursor() as cursor:
            if self.vendor == "postgresql":
                cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, pk])
                sequence = cursor.fetchone()[0]
                cursor.execute("SELECT nextval(%s)", [sequence])
                first = cursor.fetchone()[0]
                if count > 1:
                    cursor.execute("SELECT setval(%s, %s)", [sequence, first + count - 1])
                return int(first)
            if table not in self._next_id:
                quoted = self.connection.ops.quote_name(table)
                cursor.execute(f"SELECT COALESCE(MAX({self.connection.ops.quote_name(pk)}), 0) FROM {quoted}")
                highest = cursor.fetchone()[0]
                cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
                row = cursor.fetchone()
                self._next_id[table] = max(highest, row[0] if row else 0) + 1
            first = self._next_id[table]
            self._next_id[table] = first + count
            return first

    # --- rows ---------------------------------------------------------------------------------------------
    def _converters(self, model: type[Model], columns: Sequence[str]) -> list[Converter]:
        key = (model._meta.label, tuple(columns))
        if key in self._columns_checked:
            return self._columns_checked[key]
        fields = {f.column: f for f in model._meta.concrete_fields}
        unknown = [c for c in columns if c not in fields]
        if unknown:
            raise ValueError(f"{model._meta.label} has no column(s) {', '.join(unknown)}")
        missing = [
            f.column for f in fields.values() if f.column not in columns and not f.null and not f.primary_key
        ]
        if missing:
            raise ValueError(f"{model._meta.label}: required column(s) not supplied: {', '.join(missing)}")
        converters: list[Converter] = []
        for column in columns:
            kind = fields[column].get_internal_type()
            converters.append(self._converter(kind))
        self._columns_checked[key] = converters
        return converters

    def _converter(self, kind: str) -> Converter:
        if kind == "JSONField":
            return lambda v: json.dumps(v, ensure_ascii=False)
        if self.vendor != "sqlite":
            return None
        ops = self.connection.ops
        if kind == "UUIDField":
            return lambda v: v if v is None or isinstance(v, str) else v.hex
        if kind == "DateField":
            return lambda v: v.isoformat() if v is not None else None
        if kind == "DateTimeField":
            adapt = ops.adapt_datetimefield_value

            def utc_text(value: Any) -> Any:  # what Django stores for an aware UTC datetime, without its detours
                if isinstance(value, str):  # already UTC text in SQLite's form ("2026-06-29 01:30:00")
                    return value
                if value is not None and value.tzinfo is dt.UTC:
                    return str(value.replace(tzinfo=None))
                return adapt(value)

            return utc_text
        if kind == "BooleanField":
            return None  # sqlite3 stores True/False as 1/0 itself
        return None

    def load(
        self,
        model: type[Model],
        columns: Sequence[str],
        rows: Iterable[tuple[Any, ...]],
        on_chunk: Callable[[int], None] | None = None,
        chunk: int = 20_000,
    ) -> int:
        """Insert the rows; returns how many. `on_chunk(n)` is called as rows go in (for a progress bar)."""
        converters = self._converters(model, columns)
        if any(converters):
            rows = _converted(rows, [(i, c) for i, c in enumerate(converters) if c])
        table = model._meta.db_table
        quote = self.connection.ops.quote_name
        column_list = ", ".join(quote(c) for c in columns)
        if self._queue is not None:
            if self._worker_error is not None:
                raise self._worker_error
            batch = rows if isinstance(rows, list) else list(rows)
            self._queue.put((table, f"COPY {quote(table)} ({column_list}) FROM STDIN", batch))
            if on_chunk:
                on_chunk(len(batch))
            return len(batch)
        stats = self.stats.setdefault(table, TableStats(table))
        started = time.perf_counter()
        count = 0
        with self.connection.cursor() as cursor:
            if self.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {quote(table)} ({column_list}) FROM STDIN") as copy:
                    write = copy.write_row
                    for row in rows:
                        write(row)
                        count += 1
                        if on_chunk and count % chunk == 0:
                            on_chunk(chunk)
            else:
                sql = f"INSERT INTO {quote(table)} ({column_list}) VALUES ({', '.join('?' * len(columns))})"
                raw = cursor.cursor  # the sqlite3 cursor: executemany without Django's per-row formatting
                batch = []
                for row in rows:
                    batch.append(row)
                    if len(batch) == chunk:
                        raw.executemany(sql, batch)
                        count += len(batch)
                        batch.clear()
                        if on_chunk:
                            on_chunk(chunk)
                if batch:
                    raw.executemany(sql, batch)
                    count += len(batch)
        if on_chunk and count % chunk:
            on_chunk(count % chunk)
        stats.rows += count
        stats.seconds += time.perf_counter() - started
        return count

    @contextmanager
    def concurrently(self, backlog: int = 12) -> Iterator[None]:
        """On PostgreSQL, `load` hands its rows to one worker thread that COPYs them, in order, on the same
        connection and transaction, while the caller computes the next rows. psycopg lets one statement run
        at a time, so anything else the caller sends waits for the COPY in progress; at most `backlog` loads
        wait in line (then `load` waits: memory stays bounded). The worker's error is raised by the next
        `load` or at the end. Elsewhere (SQLite) loading stays in the caller's thread."""
        if self.vendor != "postgresql" or self._queue is not None:
            yield
            return
        self.connection.ensure_connection()
        raw = self.connection.connection
        self._queue = work = queue.Queue(maxsize=backlog)
        self._worker_error = None

        def copy_all() -> None:
            while (item := work.get()) is not None:
                if self._worker_error is not None:
                    continue  # keep taking items so that the caller never blocks on a full queue
                table, statement, batch = item
                started = time.perf_counter()
                try:
                    with raw.cursor() as cursor, cursor.copy(statement) as copy:
                        write = copy.write_row
                        for row in batch:
                            write(row)
                except BaseException as exc:  # handed to the caller's thread
                    self._worker_error = exc
                    continue
                stats = self.stats.setdefault(table, TableStats(table))
                stats.rows += len(batch)
                stats.seconds += time.perf_counter() - started

        worker = threading.Thread(target=copy_all, name="countycare-copy", daemon=True)
        worker.start()
        try:
            yield
        finally:
            work.put(None)
            worker.join()
            self._queue = None
        if self._worker_error is not None:
            error, self._worker_error = self._worker_error, None
            raise error

    @contextmanager
    def indexes_deferred(
        self, expected_rows: dict[type[Model], int], keep: dict[type[Model], set[tuple[str, ...]]] | None = None
    ) -> Iterator[None]:
        """On PostgreSQL, drop the secondary indexes, unique constraints (that no key refers to) and foreign
        keys of tables about to receive more rows than they hold, and build them again after the load: one
        index build and one join to validate each key cost far less than maintaining them row by row (the
        way pg_restore loads); the rebuild gets a larger sort memory for this transaction. `keep` names, by
        their columns, indexes and unique constraints to leave in place: those whose keys the load appends
        in ascending order (a resident's rows when residents come in id order) cost little to maintain, and
        the database does it while Python computes. Must run inside the loading transaction: other sessions
        wait on these tables until it commits, and a failure rolls the drops back with everything else.
        Definitions are read back from the catalog, so what is recreated is exactly what the migrations
        made."""
        if self.vendor != "postgresql":
            yield
            return
        quote = self.connection.ops.quote_name
        rebuild: list[str] = []
        with self.connection.cursor() as cursor:
            # keys cannot be dropped while rows checked at commit are pending: check those now
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            for model, rows in expected_rows.items():
                table = model._meta.db_table
                cursor.execute(f"SELECT count(*) FROM (SELECT 1 FROM {quote(table)} LIMIT %s) s", [rows])
                if cursor.fetchone()[0] >= rows:
                    continue
                kept = (keep or {}).get(model, set())
                cursor.execute(
                    "SELECT c.conname, pg_get_constraintdef(c.oid), c.contype, ARRAY(SELECT a.attname FROM "
                    "unnest(c.conkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = c.conrelid "
                    "AND a.attnum = k.n ORDER BY k.i) FROM pg_constraint c "
                    "WHERE c.conrelid = %s::regclass AND (c.contype = 'f' OR (c.contype = 'u' AND NOT EXISTS ("
                    "SELECT 1 FROM pg_constraint r WHERE r.contype = 'f' AND r.conindid = c.conindid))) "
                    "ORDER BY c.contype DESC, c.conname",
                    [table],
                )
                for name, definition, kind, columns in cursor.fetchall():
                    if kind == "u" and tuple(columns) in kept:
                        continue
                    cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
                    rebuild.append(f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}")
                cursor.execute(
                    "SELECT i.relname, pg_get_indexdef(i.oid), ARRAY(SELECT a.attname FROM "
                    "unnest(x.indkey) WITH ORDINALITY k(n, j) JOIN pg_attribute a ON a.attrelid = x.indrelid "
                    "AND a.attnum = k.n ORDER BY k.j) "
                    "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                    "WHERE x.indrelid = %s::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
                    "WHERE c.conrelid = x.indrelid AND c.conindid = x.indexrelid) ORDER BY i.relname",
                    [table],
                )
                for name, definition, columns in cursor.fetchall():
                    if tuple(columns) in kept:
                        continue
                    cursor.execute(f"DROP INDEX {quote(name)}")
                    rebuild.insert(0, definition)  # indexes first, then the keys
        yield
        with self.connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            for statement in rebuild:
                started = time.perf_counter()
                cursor.execute(statement)
                seconds = time.perf_counter() - started
                self.rebuild_seconds += seconds
                self.rebuilt.append((statement, seconds))

    def analyze(self, models: Iterable[type[Model]]) -> None:
        """Fresh planner statistics after a bulk load (without them PostgreSQL misjudges the new rows)."""
        quote = self.connection.ops.quote_name
        with self.connection.cursor() as cursor:
            for model in models:
                cursor.execute(f"ANALYZE {quote(model._meta.db_table)}")


def _converted(rows: Iterable[Sequence[Any]], active: list[tuple[int, Callable[[Any], Any]]]) -> Iterator[list[Any]]:
    """The rows with the columns that need it converted (only those: most columns pass through)."""
    for row in rows:
        out = list(row)
        for i, convert in active:
            out[i] = convert(out[i])
        yield out
