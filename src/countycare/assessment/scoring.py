"""The scoring rule of one scheme item: a value against its target (and floor) in the indicator's direction."""

from __future__ import annotations

from decimal import Decimal

from .definitions import LOWER

TWO = Decimal("0.01")


def meets(value: Decimal, target: Decimal, direction: str) -> bool:
    return value <= target if direction == LOWER else value >= target


def points(*, value: Decimal | None, target: Decimal | None, floor: Decimal | None, weight: Decimal,
           rule: str, direction: str) -> Decimal | None:
    """Marks earned, or None when the item cannot be scored (no value for the period, or no target).

    threshold: the weight at or beyond the target, nothing short of it.
    linear: the weight at or beyond the target, nothing at or beyond the floor (on the bad side of the target),
    in proportion between them. A linear item without a floor scores as a threshold item.
    """
    if value is None or target is None:
        return None
    if meets(value, target, direction):
        return weight.quantize(TWO)
    if rule == "threshold" or floor is None or floor == target:
        return Decimal(0).quantize(TWO)
    share = (value - floor) / (target - floor)  # 1 at the target, 0 at the floor, whichever side is better
    share = min(max(share, Decimal(0)), Decimal(1))
    return (weight * share).quantize(TWO)
