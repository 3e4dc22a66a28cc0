"""Removing a community and every row that belongs to it (for `generate --replace`).

Which rows belong is worked out from the foreign keys of every installed model, so tables that later
apps add (encounters, referrals, exams...) go too without this module knowing them; a table whose rows
carry their community (a required `community` key) is matched on it alone, which keeps the deletes of a
year of activity (millions of rows) to one indexed pass per table. Rows are deleted children first with
plain DELETE statements (no per-row ORM collection). The audit trail is untouched:
it is append-only and refers to the community by value, not by foreign key.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.apps import apps
from django.db import connections, transaction
from django.db.models import Model, Q

from countycare.core.models import Community


def _foreign_keys(model: type[Model]) -> list[tuple[str, type[Model]]]:
    return [
        (f.name, f.related_model)
        for f in model._meta.get_fields()
        if f.many_to_one and f.concrete and f.related_model is not None and f.related_model is not model
    ]


def erase_community(community: Community, *, using: str = "default") -> dict[str, int]:
    """Delete the community's rows in every table; returns rows deleted per table."""
    models = [m for m in apps.get_models(include_auto_created=True) if not m._meta.proxy]
    members: set[type[Model]] = {Community}
    changed = True
    while changed:  # a model belongs if any of its foreign keys points into something that belongs
        changed = False
        for model in models:
            if model not in members and any(target in members for _, target in _foreign_keys(model)):
                members.add(model)
                changed = True
    conditions: dict[type[Model], Q] = {Community: Q(pk=community.pk)}
    in_progress: set[type[Model]] = set()

    def condition(model: type[Model]) -> Q:
        if model not in conditions and _carries_community(model):
            # its rows say which community they belong to (DESIGN.md: every such table carries it): one
            # indexed test instead of every path through its keys. A row elsewhere still pointing at one of
            # them would make the delete fail on its key, not leave it dangling.
            conditions[model] = Q(community=community.pk)
        if model not in conditions:
            in_progress.add(model)
            q = Q(pk__in=[])
            for name, target in _foreign_keys(model):
                if target in members and target not in in_progress:
                    q |= Q(
                        **{
                            f"{name}__in": target._base_manager.using(using)
                            .filter(condition(target))
                            .values("pk")
                        }
                    )
            in_progress.discard(model)
            conditions[model] = q
        return conditions[model]

    owned = {model: condition(model) for model in sorted(members, key=lambda m: m._meta.label)}
    order = _children_first(list(owned))
    deleted: dict[str, int] = {}
    with transaction.atomic(using=using), _keys_checked_once(order, using):
        for model in order:
            count = model._base_manager.using(using).filter(owned[model])._raw_delete(using)
            if count:
                deleted[model._meta.label] = count
    return deleted


@contextmanager
def _keys_checked_once(models: list[type[Model]], using: str) -> Iterator[None]:
    """On PostgreSQL, drop the foreign keys among these tables for the deletes and add them back after, which
    checks what is left in one pass per key; kept, they would check each deleted row (millions of deferred
    trigger calls at commit for a year of activity). Every key that points into these tables is on one of
    them (that is how the tables were chosen). Inside the caller's transaction: nobody sees the keys gone."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    quote = connection.ops.quote_name
    restore: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        for model in models:
            table = model._meta.db_table
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
                [table],
            )
            for name, definition in cursor.fetchall():
                cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
                restore.append(f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}")
    yield
    with connection.cursor() as cursor:
        for statement in restore:
            cursor.execute(statement)


def _carries_community(model: type[Model]) -> bool:
    return any(
        f.name == "community" and f.concrete and f.many_to_one and not f.null and f.related_model is Community
        for f in model._meta.get_fields()
    )


def _children_first(models: list[type[Model]]) -> list[type[Model]]:
    """Order so that every model comes before the models its foreign keys point to."""
    result: list[type[Model]] = []
    seen: set[type[Model]] = set()

    def visit(model: type[Model]) -> None:
        if model in seen:
            return
        seen.add(model)
        for other in models:
            if other is not model and any(target is model for _, target in _foreign_keys(other)):
                visit(other)
        result.append(model)

    for model in sorted(models, key=lambda m: m._meta.label):
        visit(model)
    return result
