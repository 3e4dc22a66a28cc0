"""Compute indicators for a period: read each fact once (set-based SQL in `facts`), attribute it to organisations,
roll the aggregate rows up to village, member and county, and form each value from its numerator and
denominator. The rows Python touches here are aggregates (one per organisation or centre), never records.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from . import catalogue  # noqa: F401  registers the platform's indicators
from .definitions import (
    CENTRE,
    CHANGE_POINTS,
    COUNT,
    COUNTY,
    DIRECT,
    GROWTH,
    MEAN,
    MEMBER,
    PER_10K,
    RATIO,
    VILLAGE,
    Indicator,
    all_indicators,
)
from .facts import Org, Period

FOUR = Decimal("0.0001")
TWO = Decimal("0.01")


@dataclass(frozen=True)
class Result:
    code: str
    level: str
    unit_id: int | None  # organisation (member, village) or centre id; None for the county
    numerator: Decimal | None
    denominator: Decimal | None
    value: Decimal | None

    @property
    def unit_key(self) -> str:
        return COUNTY if self.unit_id is None else f"{self.level}:{self.unit_id}"


def member_unit(org: Org, orgs: dict[int, Org]) -> int | None:
    """The member an organisation's figures count towards: a village clinic's branch, else itself; None for
    organisations outside the community (partner hospitals)."""
    if not org.is_member and org.level == "outside":
        return None
    if org.is_village and org.parent_id in orgs:
        return org.parent_id
    return org.id


def value_of(form: str, num: Decimal | None, den: Decimal | None) -> Decimal | None:
    if num is None:
        return None
    if form == COUNT:
        return Decimal(num)
    if not den:
        return None
    if form == RATIO:
        return (Decimal(num) / Decimal(den)).quantize(FOUR)
    if form == PER_10K:
        return (Decimal(num) * 10000 / Decimal(den)).quantize(TWO)
    if form == MEAN:
        return (Decimal(num) / Decimal(den)).quantize(TWO)
    raise ValueError(form)


def _rollup(indicator: Indicator, period: Period, rows: dict[int, tuple]) -> list[Result]:
    orgs = period.orgs
    sums: dict[tuple[str, int | None], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    if COUNTY in indicator.levels:
        sums[(COUNTY, None)]  # the county always has a row, zero when nothing happened
    for org_id, (num, den) in rows.items():
        org = orgs.get(org_id)
        if org is None:
            continue
        keys = [(COUNTY, None)]
        member = member_unit(org, orgs)
        if member is not None:
            keys.append((MEMBER, member))
        if org.is_village:
            keys.append((VILLAGE, org.id))
        for key in keys:
            if key[0] in indicator.levels:
                pair = sums[key]
                pair[0] += Decimal(num)
                pair[1] += Decimal(den)
    return [Result(indicator.code, level, unit, num, den, value_of(indicator.form, num, den))
            for (level, unit), (num, den) in sums.items()]


def _centres(indicator: Indicator, rows: dict[int, tuple]) -> list[Result]:
    results = []
    total = [Decimal(0), Decimal(0)]
    for centre_id, (num, den, value) in rows.items():
        num = Decimal(num or 0)
        den = None if den is None else Decimal(den)
        if indicator.form == DIRECT:
            results.append(Result(indicator.code, CENTRE, centre_id, num, den,
                                  None if value is None else Decimal(str(value))))
        else:
            results.append(Result(indicator.code, CENTRE, centre_id, num, den, value_of(indicator.form, num, den)))
            total[0] += num
            total[1] += den or 0
    if COUNTY in indicator.levels:
        results.append(Result(indicator.code, COUNTY, None, total[0], total[1],
                              value_of(indicator.form, total[0], total[1])))
    return results


def _measured(indicator: Indicator, period: Period) -> list[Result]:
    assert indicator.measure is not None
    rows = indicator.measure(period)
    if CENTRE in indicator.levels:
        return _centres(indicator, rows)
    return _rollup(indicator, period, rows)


def _compared(indicator: Indicator, period: Period, by_code: dict[str, Indicator],
              cache: dict[tuple[str, dt.date], list[Result]]) -> list[Result]:
    """This period's value of the base indicator against the same period a year earlier, unit by unit. When the
    platform's record does not reach back over the whole earlier period there is nothing to compare with: a
    part-recorded year would pass for a real change."""
    base = by_code[indicator.base]
    now = {r.unit_key: r for r in _cached(base, period, cache)}
    prior = period.prior_year()
    before = {r.unit_key: r for r in _cached(base, prior, cache)} if prior.fully_recorded() else {}
    results = []
    for key, current in now.items():
        if current.level not in indicator.levels:
            continue
        prior = before.get(key)
        cur, old = _exact(current), None if prior is None else _exact(prior)
        value = None
        if cur is not None and old is not None:
            if indicator.form == CHANGE_POINTS:
                value = ((cur - old) * 100).quantize(TWO)
            elif indicator.form == GROWTH and old:
                value = (cur / old - 1).quantize(FOUR)
        results.append(Result(indicator.code, current.level, current.unit_id, current.value,
                              None if prior is None else prior.value, value))
    return results


def _exact(result: Result) -> Decimal | None:
    """A ratio or mean from its numerator and denominator, unrounded (changes are taken before rounding)."""
    if result.numerator is None or not result.denominator:
        return None
    return Decimal(result.numerator) / Decimal(result.denominator)


def _cached(indicator: Indicator, period: Period, cache: dict[tuple[str, dt.date], list[Result]]) -> list[Result]:
    key = (indicator.code, period.start)
    if key not in cache:
        cache[key] = _measured(indicator, period)
    return cache[key]


def compute(period: Period, codes: Iterable[str] | None = None) -> list[Result]:
    """Every registered indicator (or those named) for the period at every level it breaks down by."""
    by_code = {i.code: i for i in all_indicators()}
    wanted = list(by_code) if codes is None else list(codes)
    cache: dict[tuple[str, dt.date], list[Result]] = {}
    results: list[Result] = []
    for code in wanted:
        indicator = by_code[code]
        if indicator.form in (CHANGE_POINTS, GROWTH):
            results.extend(_compared(indicator, period, by_code, cache))
        else:
            results.extend(_cached(indicator, period, cache))
    return results
