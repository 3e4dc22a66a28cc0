"""Removing a community and every row that belongs to it (for `generate --replace`).

Which rows belong is worked out from the foreign keys of every installed model, so tables that later
apps add (encounters, referrals, exams...) go too without this module knowing them. Rows are deleted
children first with plain DELETE statements (no per-row ORM collection). The audit trail is untouched:
it is append-only and refers to the community by value, not by foreign key.
"""

from __future__ import annotations

from django.apps import apps
from django.db import transaction
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
    with transaction.atomic(using=using):
        for model in order:
            count = model._base_manager.using(using).filter(owned[model])._raw_delete(using)
            if count:
                deleted[model._meta.label] = count
    return deleted


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
