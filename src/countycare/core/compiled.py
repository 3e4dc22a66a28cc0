"""A hot lookup's SQL compiled once per process instead of on every call.

    token = CompiledLookup(
        lambda digest, now: ApiToken.objects.select_related("user").filter(digest=digest, expires_at__gt=now),
        ApiToken._meta.get_field("digest"), ApiToken._meta.get_field("expires_at"),
    )
    found = token.get(raw_digest, timezone.now())  # the first row as the QuerySet would give it, or None

Django compiles a QuerySet's SQL anew every time it runs: for the API's per-request lookups (the bearer token with
its user, organisation and practitioner; a referral with its resident, organisations and doctor) building and
compiling the SQL, its converters and the select_related populators cost 0.3-0.8 ms of CPU each, several times
the database's own time. A CompiledLookup builds the QuerySet once with stand-in values, keeps its SQL and the
machinery that turns a row into model instances, and then only binds the values, runs the statement and builds
the objects — the same objects, with the same select_related relations cached, that iterating the QuerySet
gives (tests/core/test_compiled.py compares them).

Each value fills the query parameter(s) that the stand-in for it produced, prepared for the database the way
the field's own lookup prepares it (a UUID becomes hex text on SQLite, an aware datetime naive UTC text). A
query whose parameters are not exactly those stand-ins (a value used by no filter, a filter that inlines its
value) is refused when it is first compiled, so a lookup cannot silently bind the wrong value. Use it for
lookups by key with a fixed shape only: the SQL must not depend on the values (no `__in` lists, no optional
filters).
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Field, Model, QuerySet
from django.db.models.query import get_related_populators


@dataclass(frozen=True)
class _Plan:
    sql: str
    # for each query parameter: which value fills it
    slots: tuple[int, ...]
    model: type[Model]
    start: int
    end: int
    init_list: tuple[str, ...]
    converters: tuple[tuple[int, tuple[Callable[..., Any], ...], Any], ...]
    populators: tuple[Any, ...]


def _stand_in(field: Field, n: int) -> Any:
    """A value of the field's type that no real call passes and that differs for each position `n`."""
    kind = field.get_internal_type()
    if kind in {"DateTimeField"}:
        return dt.datetime(1901, 1, 1, 0, 0, n, tzinfo=dt.UTC)
    if kind == "DateField":
        return dt.date(1901, 1, 1 + n)
    if kind == "UUIDField":
        return uuid.UUID(int=0x5EED_0000 + n)
    if kind in {"BigAutoField", "AutoField", "BigIntegerField", "IntegerField", "PositiveIntegerField",
                "ForeignKey", "SmallIntegerField", "PositiveSmallIntegerField"}:
        return -987_654_000 - n
    if kind in {"CharField", "TextField"}:
        return f"\x1fcompiled-lookup-stand-in-{n}\x1f"
    raise TypeError(f"CompiledLookup: no stand-in value for a {kind}")


class CompiledLookup:
    """`build(*values)` returns the QuerySet; `fields[i]` is the model field `values[i]` is compared with (it
    decides how the value is prepared for the database)."""

    def __init__(self, build: Callable[..., QuerySet[Any]], *fields: Field) -> None:
        self.build = build
        self.fields = fields
        self._plans: dict[tuple[str, str], _Plan] = {}
        self._lock = threading.Lock()

    def _plan(self, alias: str) -> _Plan:
        connection = connections[alias]
        key = (alias, connection.vendor)
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        with self._lock:
            stand_ins = [_stand_in(field, n) for n, field in enumerate(self.fields)]
            qs = self.build(*stand_ins)
            compiler = qs.query.get_compiler(using=alias)
            sql, params = compiler.as_sql()
            prepared = [self._prepare(n, value, connection) for n, value in enumerate(stand_ins)]
            slots = []
            for param in params:
                matches = [n for n, value in enumerate(prepared) if value == param and type(value) is type(param)]
                if len(matches) != 1:
                    raise ValueError(f"CompiledLookup: the query parameter {param!r} is none of the values passed")
                slots.append(matches[0])
            if set(slots) != set(range(len(self.fields))):
                raise ValueError("CompiledLookup: a value passed fills no query parameter")
            select, klass_info = compiler.select, compiler.klass_info
            if compiler.annotation_col_map or qs._known_related_objects or qs._prefetch_related_lookups:
                raise ValueError("CompiledLookup: annotations, known related objects and prefetches are not kept")
            columns = [s[0] for s in select[:compiler.col_count]]
            fields = klass_info["select_fields"]
            plan = _Plan(
                sql=sql,
                slots=tuple(slots),
                model=klass_info["model"],
                start=fields[0],
                end=fields[-1] + 1,
                init_list=tuple(s[0].target.attname for s in select[fields[0]:fields[-1] + 1]),
                converters=tuple((pos, tuple(convs), expression)
                                 for pos, (convs, expression) in compiler.get_converters(columns).items()),
                populators=tuple(get_related_populators(klass_info, select, alias)),
            )
            self._plans[key] = plan
            return plan

    def _prepare(self, n: int, value: Any, connection: Any) -> Any:
        return self.fields[n].get_db_prep_value(value, connection, prepared=False)

    def get(self, *values: Any, using: str = DEFAULT_DB_ALIAS) -> Any:
        """The first row's object (with its select_related relations), or None. A None value finds nothing (the
        QuerySet would have asked `IS NULL`; these lookups are by keys that are never null)."""
        if any(value is None for value in values):
            return None
        plan = self._plan(using)
        connection = connections[using]
        prepared = [self._prepare(n, value, connection) for n, value in enumerate(values)]
        with connection.cursor() as cursor:
            cursor.execute(plan.sql, [prepared[slot] for slot in plan.slots])
            row = cursor.fetchone()
        if row is None:
            return None
        if plan.converters:
            row = list(row)
            for pos, convs, expression in plan.converters:
                value = row[pos]
                for convert in convs:
                    value = convert(value, expression, connection)
                row[pos] = value
        obj = plan.model.from_db(using, plan.init_list, row[plan.start:plan.end])
        for populator in plan.populators:
            populator.populate(row, obj)
        return obj
