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

`CompiledUpdate` does the same for a conditional UPDATE of fixed shape (the referral's status change, a slot's
place taken): `build(*values)` returns the QuerySet and the `update()` arguments. Its constants (an `__in` list
of statuses, the 1 of `F("booked") + 1`) stay as compiled; a value passed must fill a parameter of its own, and a
string that still carries a stand-in after Django changed it (`__startswith`) is refused.

`insert(obj)` does the same for a new row: `obj.save(force_insert=True)` with the model's INSERT compiled once per
process. The values are prepared by each field as `save()` prepares them (`pre_save`, `get_db_prep_save`); a
model with `pre_save`/`post_save` receivers, parents or ordering, or a value that is an expression, goes through
`save()`.

Why: in a profile of the referral API's create + accept pairs (in process, CPU time), a quarter of the Python
CPU was in the pair's six `objects.create()` and an eighth in its three `update()`s, most of it compiling SQL that
never changes. With both compiled the pair's Python CPU fell by 22 % (8.04 → 6.23 ms, `benchmarks/referral_cpu.py`
side by side with the build before; docs/api.md, "Speed").
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Field, Model
from django.db.models.query import get_related_populators
from django.db.models.signals import post_save, pre_save
from django.db.models.sql import InsertQuery, UpdateQuery


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


STAND_IN_MARK = "compiled-lookup-stand-in"


def _stand_in(field: Field, n: int) -> Any:
    """A value of the field's type that no real call passes and that differs for each position `n`."""
    kind = field.get_internal_type()
    if kind in {"DateTimeField"}:
        return dt.datetime(1901, 1, 1, 0, 0, n, tzinfo=dt.UTC)
    if kind == "DateField":
        return dt.date(1901, 1, 1 + n)
    if kind == "UUIDField":
        return uuid.UUID(int=0x5EED_0000 + n)
    # inside each type's range: Django finds nothing for a value its column cannot hold, without asking
    if kind in {"PositiveSmallIntegerField", "SmallIntegerField"}:
        return 32_000 + n
    if kind == "PositiveIntegerField":
        return 2_100_000_000 + n
    if kind in {"BigAutoField", "AutoField", "BigIntegerField", "IntegerField", "ForeignKey"}:
        return -987_654_000 - n
    if kind in {"CharField", "TextField"}:
        return f"\x1f{STAND_IN_MARK}-{n}\x1f"
    raise TypeError(f"CompiledLookup: no stand-in value for a {kind}")


class _Compiled:
    """A statement built by `build(*values)`, compiled once per database; `fields[i]` is the model field
    `values[i]` is compared with or stored in (it decides how the value is prepared for the database)."""

    def __init__(self, build: Callable[..., Any], *fields: Field) -> None:
        self.build = build
        self.fields = fields
        self._plans: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def _prepare(self, n: int, value: Any, connection: Any) -> Any:
        return self.fields[n].get_db_prep_value(value, connection, prepared=False)

    def _cached(self, alias: str, compile_plan: Callable[[str, list[Any], list[Any]], Any]) -> Any:
        """This database's plan, made on first use by `compile_plan(alias, stand_ins, prepared_stand_ins)`."""
        connection = connections[alias]
        key = (alias, connection.vendor)
        plan = self._plans.get(key)
        if plan is None:
            with self._lock:
                stand_ins = [_stand_in(field, n) for n, field in enumerate(self.fields)]
                prepared = [self._prepare(n, value, connection) for n, value in enumerate(stand_ins)]
                plan = self._plans[key] = compile_plan(alias, stand_ins, prepared)
        return plan

    @staticmethod
    def _filled_by(param: Any, prepared: list[Any]) -> list[int]:
        """Which values' stand-ins a compiled query parameter is."""
        return [n for n, value in enumerate(prepared) if value == param and type(value) is type(param)]


class CompiledLookup(_Compiled):
    """`build(*values)` returns the QuerySet; `fields[i]` is the model field `values[i]` is compared with."""

    def _plan(self, alias: str) -> _Plan:
        return self._cached(alias, self._compile)

    def _compile(self, alias: str, stand_ins: list[Any], prepared: list[Any]) -> _Plan:
        qs = self.build(*stand_ins)
        compiler = qs.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        slots = []
        for param in params:
            matches = self._filled_by(param, prepared)
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
        return _Plan(
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


@dataclass(frozen=True)
class _UpdatePlan:
    sql: str
    # for each query parameter: (True, which value fills it) or (False, the constant compiled into it)
    params: tuple[tuple[bool, Any], ...]


class CompiledUpdate(_Compiled):
    """`build(*values)` returns `(queryset, update_kwargs)`; `fields[i]` is the model field `values[i]` is
    compared with or stored in. `run(*values)` returns the number of rows updated, as `update()` does."""

    def _update_plan(self, alias: str) -> _UpdatePlan:
        return self._cached(alias, self._compile)

    def _compile(self, alias: str, stand_ins: list[Any], prepared: list[Any]) -> _UpdatePlan:
        qs, changes = self.build(*stand_ins)
        query = qs.query.chain(UpdateQuery)
        query.add_update_values(changes)
        query.clear_select_clause()
        compiler = query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        if query.related_updates or query.count_active_tables() != 1:
            raise ValueError("CompiledUpdate: an update of one table, by its own columns, only")
        slots: list[tuple[bool, Any]] = []
        for param in params:
            matches = self._filled_by(param, prepared)
            if len(matches) > 1:
                raise ValueError(f"CompiledUpdate: the parameter {param!r} matches several values passed")
            if matches:
                slots.append((True, matches[0]))
            elif isinstance(param, str) and STAND_IN_MARK in param:
                raise ValueError("CompiledUpdate: a value passed was changed on its way into the SQL")
            else:
                slots.append((False, param))
        if {n for bound, n in slots if bound} != set(range(len(self.fields))):
            raise ValueError("CompiledUpdate: a value passed fills no query parameter")
        return _UpdatePlan(sql, tuple(slots))

    def run(self, *values: Any, using: str = DEFAULT_DB_ALIAS) -> int:
        """Bind the values and run the UPDATE (a None compares as `= NULL`, never true: pass keys)."""
        plan = self._update_plan(using)
        connection = connections[using]
        prepared = [self._prepare(n, value, connection) for n, value in enumerate(values)]
        with transaction.mark_for_rollback_on_error(using=using), connection.cursor() as cursor:
            cursor.execute(plan.sql, [prepared[p] if bound else p for bound, p in plan.params])
            return cursor.rowcount


@dataclass(frozen=True)
class _InsertPlan:
    sql: str
    fields: tuple[Field, ...]  # each fills one placeholder, in order
    returning: tuple[Field, ...]  # set on the instance from the RETURNING row
    returning_params: Any


_INSERT_PLANS: dict[tuple[type[Model], str, str], _InsertPlan | None] = {}
_INSERT_LOCK = threading.Lock()


def _insert_plan(model: type[Model], alias: str) -> _InsertPlan | None:
    """The INSERT `save()` would send for a new `model` row with an automatic key, or None when `save()` has to
    run (parents to save first, an order to compute, placeholders other than one per value, converted
    returning values)."""
    connection = connections[alias]
    key = (model, alias, connection.vendor)
    if key in _INSERT_PLANS:
        return _INSERT_PLANS[key]
    with _INSERT_LOCK:
        meta = model._meta
        plan = None
        if not meta.parents and not meta.order_with_respect_to and meta.auto_field is not None:
            fields = tuple(f for f in meta.local_concrete_fields if not f.generated and f is not meta.auto_field)
            returning = tuple(meta.db_returning_fields)
            query = InsertQuery(model)
            query.insert_values(fields, [model()], raw=False)  # stand-in values: only the SQL is kept
            compiler = query.get_compiler(using=alias)
            compiler.returning_fields = returning
            (sql, params), *more = compiler.as_sql()
            converters = compiler.get_converters([f.get_col(meta.db_table) for f in returning])
            if not more and not converters and len(params) == len(fields) == sql.count("%s") and (
                    not returning or connection.features.can_return_columns_from_insert):
                plan = _InsertPlan(sql, fields, returning, compiler.returning_params)
        _INSERT_PLANS[key] = plan
        return plan


def insert(obj: Model, using: str = DEFAULT_DB_ALIAS) -> Model:
    """Insert a new instance as `obj.save(force_insert=True)` does — its key and returned columns set, its state
    saved — with the statement compiled once per model. Returns `obj`."""
    model = type(obj)
    plan = _insert_plan(model, using)
    if (plan is None or obj.pk is not None or pre_save.has_listeners(model) or post_save.has_listeners(model)):
        obj.save(force_insert=True, using=using)
        return obj
    obj._prepare_related_fields_for_save(operation_name="save")  # an unsaved related object is refused alike
    values = [field.pre_save(obj, True) for field in plan.fields]
    if any(hasattr(value, "resolve_expression") for value in values):
        obj.save(force_insert=True, using=using)
        return obj
    connection = connections[using]
    params = [field.get_db_prep_save(value, connection) for field, value in zip(plan.fields, values, strict=True)]
    with transaction.mark_for_rollback_on_error(using=using), connection.cursor() as cursor:  # as save() does
        cursor.execute(plan.sql, params)
        if plan.returning:
            row = connection.ops.fetch_returned_insert_columns(cursor, plan.returning_params)
            for field, value in zip(plan.returning, row, strict=True):
                setattr(obj, field.attname, value)
    obj._state.adding, obj._state.db = False, using
    return obj
