"""Reading the engine's results for the small county (tests/assessment/conftest.py), and the arithmetic the
indicator tests write their expected values with: the same rounding the engine applies (ratios to 0.0001,
per-10,000 rates, means and points of change to 0.01), applied to numbers worked out by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from countycare.assessment import engine  # noqa: F401  registers the catalogue
from countycare.assessment.engine import Result, compute
from countycare.assessment.facts import Period

FOUR = Decimal("0.0001")
TWO = Decimal("0.01")


def ratio(num: int, den: int) -> Decimal:
    return (Decimal(num) / Decimal(den)).quantize(FOUR)


def per_10k(num: int, den: int) -> Decimal:
    return (Decimal(num) * 10000 / Decimal(den)).quantize(TWO)


def mean(total: int, n: int) -> Decimal:
    return (Decimal(total) / Decimal(n)).quantize(TWO)


def change_points(now: Decimal, before: Decimal) -> Decimal:
    """(this period's ratio − a year earlier's) × 100, each ratio as the engine stores it (to 0.0001)."""
    return ((now - before) * 100).quantize(TWO)


def growth(now: Decimal, before: Decimal) -> Decimal:
    """This period's mean / a year earlier's − 1, each mean as the engine stores it (to 0.01)."""
    return (now / before - 1).quantize(FOUR)


class Results:
    """One computation's results by indicator and unit: `r.county("code")`, `r.member("code", "east")`,
    `r.village("code", "east_v1")`, `r.centre("code", "ecg")`; each a `Result`, or None when there is no row."""

    def __init__(self, county, results: list[Result]):
        self.county_ = county
        self.rows = {(r.code, r.unit_key): r for r in results}
        assert len(self.rows) == len(results), "one result per indicator and unit"

    def get(self, code: str, key: str) -> Result | None:
        return self.rows.get((code, key))

    def county(self, code: str) -> Result | None:
        return self.get(code, "county")

    def member(self, code: str, org: str) -> Result | None:
        return self.get(code, f"member:{self.county_.orgs[org].pk}")

    def village(self, code: str, org: str) -> Result | None:
        return self.get(code, f"village:{self.county_.orgs[org].pk}")

    def centre(self, code: str, centre: str) -> Result | None:
        return self.get(code, f"centre:{self.county_.centres[centre].pk}")

    def units(self, code: str) -> set[str]:
        return {key for c, key in self.rows if c == code}

    def value(self, code: str, level: str = "county", org: str | None = None) -> Decimal | None:
        row = self.county(code) if level == "county" else getattr(self, level)(code, org)
        assert row is not None, f"no {level} row for {code} {org or ''}"
        return row.value


def computed(county, start: dt.date, end: dt.date, codes=None) -> Results:
    return Results(county, compute(Period(county.community.pk, start, end), codes))
