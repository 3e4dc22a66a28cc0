"""Writes of the assessment: materialising a period's results, versioning assessment schemes, scoring.

Results are aggregates, not patient data; a computation is still recorded in the audit trail (who ran it, for which
period) so the numbers a bureau receives can be traced to a run.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from countycare.core import audit, policy
from countycare.core.errors import InvalidInput

from . import scoring
from .definitions import COUNTY, MEMBER, Indicator, all_indicators, get
from .engine import Result, compute
from .facts import Period
from .models import (
    AssessmentScheme,
    ComputationRun,
    IndicatorResult,
    IndicatorTarget,
    PeriodKind,
    SchemeItem,
    SchemeVersion,
    Score,
)

# Targets that are policy numbers of the whole platform (core.policy), with the factor from the policy's unit to
# the indicator's: the yearly fall of 0.02 in the out-of-county share is a change of −2 points.
POLICY_TARGETS = {
    "county_visit_rate": ("county_visit_rate_target", Decimal(1)),
    "grassroots_visit_share": ("grassroots_visit_share_target", Decimal(1)),
    "out_of_county_inpatient_share_change": ("out_of_county_inpatient_share_drop", Decimal(-100)),
}


def targets(community_id: int) -> dict[str, tuple[Decimal | None, str]]:
    """The target in force for every indicator, with its source: the community's own row, else the platform's
    policy number, else the definition's default."""
    own = {row.code: row for row in IndicatorTarget.objects.filter(community_id=community_id)}
    keys = [key for key, _factor in POLICY_TARGETS.values()]
    numbers = policy.get_many(community_id, *keys)
    out: dict[str, tuple[Decimal | None, str]] = {}
    for indicator in all_indicators():
        if indicator.code in own:
            row = own[indicator.code]
            out[indicator.code] = (row.target, row.source or "本医共体设定 set by the community")
        elif indicator.code in POLICY_TARGETS:
            key, factor = POLICY_TARGETS[indicator.code]
            out[indicator.code] = ((numbers[key] * factor).normalize(), indicator.target_source)
        else:
            out[indicator.code] = (indicator.target, indicator.target_source)
    return out


def months(start: dt.date, end: dt.date) -> Iterator[tuple[dt.date, dt.date]]:
    """Calendar months [first, first of next) covering [start, end)."""
    first = start.replace(day=1)
    while first < end:
        following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        yield first, following
        first = following


def _rows(community_id: int, run: ComputationRun, results: Iterable[Result], now: dt.datetime
          ) -> list[IndicatorResult]:
    rows = []
    for r in results:
        is_centre = r.level == "centre"
        rows.append(IndicatorResult(
            community_id=community_id, run=run, code=r.code, period_kind=run.period_kind,
            period_start=run.period_start, period_end=run.period_end, level=r.level, unit_key=r.unit_key,
            organization_id=None if is_centre else r.unit_id, centre_id=r.unit_id if is_centre else None,
            numerator=r.numerator, denominator=r.denominator, value=r.value, computed_at=now))
    return rows


def materialise_period(*, community_id: int, start: dt.date, end: dt.date, kind: str,
                       actor: audit.Actor | None = None, now: dt.datetime | None = None) -> ComputationRun:
    """Compute every indicator for [start, end) and replace the stored results of that period (one transaction:
    a dashboard never sees half a period), then score it with every scheme in use."""
    if end <= start:
        raise InvalidInput("统计期结束日须晚于开始日 (the period must end after it starts)", field="end")
    now = now or timezone.now()
    began = time.perf_counter()
    results = compute(Period(community_id, start, end))
    seconds = time.perf_counter() - began
    with transaction.atomic():
        IndicatorResult.objects.filter(community_id=community_id, period_start=start, period_end=end).delete()
        run = ComputationRun.objects.create(community_id=community_id, period_kind=kind, period_start=start,
                                            period_end=end, computed_at=now, seconds=round(seconds, 3),
                                            results=len(results))
        IndicatorResult.objects.bulk_create(_rows(community_id, run, results, now), batch_size=2000)
        for scheme in AssessmentScheme.objects.filter(community_id=community_id, active=True):
            score_period(scheme=scheme, start=start, end=end, now=now)
        audit.record(actor or audit.Actor(username="system", community_id=community_id, channel="cli"),
                     "compute", "IndicatorPeriod", f"{start.isoformat()}/{end.isoformat()}",
                     detail={"kind": kind, "results": len(results), "seconds": round(seconds, 3)})
    return run


def materialise(*, community_id: int, start: dt.date, end: dt.date, actor: audit.Actor | None = None,
                progress: Any = None) -> list[ComputationRun]:
    """The months covering [start, end), and each calendar year they touch, materialised (the nightly job)."""
    periods = [(a, b, PeriodKind.MONTH) for a, b in months(start, end)]
    for year in sorted({a.year for a, _b, _k in periods}):
        periods.append((dt.date(year, 1, 1), dt.date(year + 1, 1, 1), PeriodKind.YEAR))
    runs = []
    for a, b, kind in periods:
        runs.append(materialise_period(community_id=community_id, start=a, end=b, kind=kind, actor=actor))
        if progress is not None:
            progress(a, b, kind)
    return runs


# --- schemes and scores ------------------------------------------------------------------------------------

def _snapshot(scheme: AssessmentScheme) -> list[dict[str, Any]]:
    in_force = targets(scheme.community_id)
    items = []
    for item in scheme.items.order_by("code"):
        indicator = get(item.code)
        if indicator is None:
            continue
        target = item.target if item.target is not None else in_force[item.code][0]
        items.append({"code": item.code, "weight": str(item.weight), "rule": item.rule,
                      "target": None if target is None else str(target),
                      "floor": None if item.floor is None else str(item.floor), "direction": indicator.direction})
    return items


def publish_scheme_version(*, scheme: AssessmentScheme, user: Any = None,
                           now: dt.datetime | None = None) -> SchemeVersion:
    """The scheme's items as in force now, as a new immutable version — or the latest version when nothing
    changed since it was made."""
    with transaction.atomic():
        AssessmentScheme.objects.select_for_update().get(pk=scheme.pk)
        items = _snapshot(scheme)
        latest = scheme.versions.order_by("-number").first()
        if latest is not None and latest.items == items:
            return latest
        version = SchemeVersion.objects.create(
            scheme=scheme, number=(latest.number + 1) if latest else 1, items=items, created_at=now or timezone.now(),
            created_by=user if getattr(user, "pk", None) else None)
        audit.record(audit.Actor.of(user, "admin") if getattr(user, "pk", None) else
                     audit.Actor(username="system", community_id=scheme.community_id, channel="cli"),
                     "version", "AssessmentScheme", scheme.pk, detail={"version": version.number, "items": items})
        return version


def score_period(*, scheme: AssessmentScheme, start: dt.date, end: dt.date,
                 now: dt.datetime | None = None) -> list[Score]:
    """Scores of the county and every member for a materialised period under the scheme's current version;
    members ranked by the share of the marks they could earn."""
    version = publish_scheme_version(scheme=scheme, now=now)
    now = now or timezone.now()
    codes = [item["code"] for item in version.items]
    values: dict[str, dict[str, Decimal | None]] = {}
    orgs: dict[str, int | None] = {}
    for code, unit_key, org_id, value in (
            IndicatorResult.objects.filter(community_id=scheme.community_id, period_start=start, period_end=end,
                                           code__in=codes, level__in=(COUNTY, MEMBER))
            .values_list("code", "unit_key", "organization_id", "value")):
        values.setdefault(unit_key, {})[code] = value
        orgs[unit_key] = org_id
    scores = []
    for unit_key, by_code in values.items():
        details, total, possible = [], Decimal(0), Decimal(0)
        for item in version.items:
            weight = Decimal(item["weight"])
            value = by_code.get(item["code"])
            got = scoring.points(value=value, target=_dec(item["target"]), floor=_dec(item["floor"]), weight=weight,
                                 rule=item["rule"], direction=item["direction"])
            details.append({"code": item["code"], "value": None if value is None else str(value),
                            "target": item["target"], "floor": item["floor"], "weight": item["weight"],
                            "points": None if got is None else str(got)})
            if got is not None:
                total += got
                possible += weight
        scores.append(Score(community_id=scheme.community_id, scheme_version=version, period_start=start,
                            period_end=end, level=COUNTY if unit_key == COUNTY else MEMBER, unit_key=unit_key,
                            organization_id=orgs[unit_key], total=total, possible=possible, details=details,
                            computed_at=now))
    members = sorted((s for s in scores if s.level == MEMBER and s.possible),
                     key=lambda s: (-(s.total / s.possible), s.organization_id or 0))
    for rank, score in enumerate(members, start=1):
        score.rank = rank
    with transaction.atomic():
        Score.objects.filter(scheme_version=version, period_start=start, period_end=end).delete()
        Score.objects.bulk_create(scores)
    return scores


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


DEFAULT_SCHEME = "医共体年度考核 Community annual assessment"
# (indicator, weight, target override, floor, rule): CountyCare's starting scheme, for the community's assessment
# committee to adjust; targets are DOMAIN.md's where it has one.
DEFAULT_ITEMS: list[tuple[str, str, str | None, str | None, str]] = [
    ("county_visit_rate", "20", None, "0.80", "linear"),
    ("grassroots_visit_share", "20", None, "0.50", "linear"),
    ("out_of_county_inpatient_share_change", "15", None, "0", "linear"),
    ("referral_completion_rate", "10", "0.90", "0.60", "linear"),
    ("lead_down_referral_share", "10", "0.10", "0", "linear"),
    ("exam_within_target_share", "10", None, "0.80", "linear"),
    ("village_ecg_coverage", "5", "0.90", "0.50", "linear"),
    ("branches_without_posted_senior", "10", None, None, "threshold"),
]


def ensure_default_scheme(*, community_id: int) -> AssessmentScheme:
    """The community's starting scheme (created once; administrators edit it in admin from then on)."""
    with transaction.atomic():
        scheme, created = AssessmentScheme.objects.get_or_create(
            community_id=community_id, name=DEFAULT_SCHEME,
            defaults={"description": "CountyCare 默认方案：权重与下限由医共体考核委员会调整 "
                                     "(a starting scheme: weights and floors are the committee's to change)"})
        if created:
            SchemeItem.objects.bulk_create(
                SchemeItem(scheme=scheme, code=code, weight=Decimal(weight),
                           target=None if target is None else Decimal(target),
                           floor=None if floor is None else Decimal(floor), rule=rule)
                for code, weight, target, floor, rule in DEFAULT_ITEMS)
    return scheme


def indicator_by_code() -> dict[str, Indicator]:
    return {i.code: i for i in all_indicators()}
