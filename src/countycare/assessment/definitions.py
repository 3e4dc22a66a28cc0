"""The registry of indicator definitions: what each number means, how it is counted, its target and where the
target comes from. Definitions are code (reviewed like any rule); the target in force and the scoring weights are
policy, edited in admin (`IndicatorTarget`, `AssessmentScheme`).

An indicator is computed by `engine.py` from the *facts* it names (set-based SQL aggregates over the platform's
tables, one scan each per period) and attributed to an organisation: the resident's home organisation
(`RESIDENCE`: what happens to the people of a place) or the organisation that gave the care (`PROVIDER`: what a
member does). Results roll up village clinic → its branch (member) → county by summing numerators and
denominators, so every level answers the same question about a different group.

Later modules (pharmacy, insurance, family doctors, public health) add their indicators with `register()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# Levels an indicator can be broken down by.
COUNTY = "county"
MEMBER = "member"
VILLAGE = "village"
CENTRE = "centre"
LEVEL_NAMES = {COUNTY: "县域 County", MEMBER: "成员单位 Member", VILLAGE: "村卫生室 Village clinic",
               CENTRE: "诊断中心 Centre"}

# How the value is formed from numerator and denominator.
RATIO = "ratio"  # num / den, shown as a percentage
PER_10K = "per_10k"  # num / den × 10,000
COUNT = "count"  # num
MEAN = "mean"  # num / den (e.g. yuan per stay)
CHANGE_POINTS = "change_points"  # (this period's ratio − the same period a year earlier) × 100
GROWTH = "growth"  # this period's mean / the same period a year earlier's − 1
DIRECT = "direct"  # the value is computed directly (percentiles)

HIGHER = "higher"
LOWER = "lower"
NEUTRAL = "neutral"

UNIT_EN = {"人次": "", "次": "", "个": "", "元": "yuan", "分钟": "min", "每万人": "per 10,000", "百分点": "points"}

RESIDENCE = "residence"
PROVIDER = "provider"

DOMAIN = "DOMAIN.md（县域医共体实施方案 2017–2025，国家功能指引 2025）"
NATIONAL = "紧密型县域医疗卫生共同体监测指标体系（试行）2020 / 2022 年版 — national monitoring indicators"


@dataclass(frozen=True)
class Indicator:
    code: str
    name: str  # Chinese
    name_en: str
    question: str  # the question it answers, Chinese then English
    numerator: str
    denominator: str
    form: str  # RATIO, PER_10K, COUNT, MEAN, CHANGE_POINTS, GROWTH, DIRECT
    unit: str  # "%", "人次", "元", "分钟", "每万人", "百分点", "个"
    direction: str  # HIGHER, LOWER, NEUTRAL
    levels: tuple[str, ...]
    module: str  # the app whose data it needs
    attribution: str = PROVIDER
    target: Decimal | None = None  # in the unit shown (a ratio as 0.90, points as -2)
    target_source: str = ""
    national: bool = False  # one of the national monitoring indicators of tight county communities
    base: str = ""  # CHANGE_POINTS / GROWTH: the indicator compared with a year earlier
    group: str = ""  # heading on the dashboard
    # measure(period) → {organisation id: (numerator, denominator)} at the attribution level, or for CENTRE
    # indicators {centre id: (numerator, denominator, value)}; None for CHANGE_POINTS / GROWTH (from `base`).
    measure: Callable[[Any], Any] | None = field(default=None, repr=False, compare=False)

    @property
    def percent(self) -> bool:
        """Shown as a percentage (a ratio or a growth, stored as a fraction)."""
        return self.form in (RATIO, GROWTH)

    @property
    def unit_en(self) -> str:
        return UNIT_EN.get(self.unit, self.unit)


@dataclass(frozen=True)
class Pending:
    """An indicator the current data cannot support yet, and the module that will supply it."""

    code: str
    name: str
    name_en: str
    module: str
    national: bool = True


_registry: dict[str, Indicator] = {}
PENDING: list[Pending] = [
    Pending("fund_spending_share", "医保基金县域内支出占比", "Share of the insurance fund spent inside the county",
            "insurance"),
    Pending("grassroots_fund_share", "基层医疗卫生机构医保基金占比", "Share of the fund spent at the grassroots",
            "insurance"),
    Pending("service_income_ratio", "医疗服务收入占医疗收入比例",
            "Medical-service income as a share of medical income", "finance"),
    Pending("chronic_admission_rate", "慢病患者住院率", "Admission rate of chronic-disease patients",
            "publichealth"),
    Pending("premature_chronic_mortality", "重大慢性病过早死亡率", "Premature mortality from major chronic diseases",
            "publichealth"),
    Pending("contract_coverage", "家庭医生签约率", "Family-doctor contract coverage", "familydoctor"),
    Pending("essential_medicine_share", "基本药物使用占比", "Essential medicines share of drugs used", "pharmacy"),
]


def register(indicator: Indicator) -> Indicator:
    if indicator.code in _registry and _registry[indicator.code] is not indicator:
        raise ValueError(f"indicator {indicator.code} registered twice")
    _registry[indicator.code] = indicator
    return indicator


def all_indicators() -> list[Indicator]:
    return list(_registry.values())


def get(code: str) -> Indicator | None:
    return _registry.get(code)
