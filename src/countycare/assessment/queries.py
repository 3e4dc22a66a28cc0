"""Reads of the assessment: materialised results for dashboards and reports (aggregates, open to every staff role
of the community), and the records behind a number (patient data: scoped to the user and audited)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet

from countycare.core import audit
from countycare.core.codes import AGGREGATE_ONLY_ROLES, Role
from countycare.core.errors import InvalidInput, NotFound, PermissionDenied
from countycare.core.scope import resident_filter
from countycare.diagnostics.models import Centre
from countycare.registry.models import Organization, Resident

from . import drilldown, services
from .definitions import CENTRE, COUNT, COUNTY, LOWER, MEMBER, NEUTRAL, VILLAGE, Indicator, get
from .engine import all_indicators
from .facts import Period
from .models import ComputationRun, IndicatorResult, PeriodKind, Score

GOOD, NEAR, BAD, NONE = "good", "near", "bad", "none"
# How close to the target "near" (amber) is: 5 points for a percentage, 10 % of the target for other units.
NEAR_POINTS = Decimal("0.05")
NEAR_SHARE = Decimal("0.10")


def require_aggregate_access(user: Any) -> None:
    if user.role == Role.RESIDENT:
        raise PermissionDenied("居民账号不能查看医共体考核指标 (residents do not see the community's indicators)")


@dataclass(frozen=True)
class Shown:
    """One indicator's number for one unit and period, with what the page shows beside it."""

    indicator: Indicator
    level: str
    unit_key: str
    unit_name: str
    organization_id: int | None
    numerator: Decimal | None
    denominator: Decimal | None
    value: Decimal | None
    target: Decimal | None
    target_source: str
    status: str
    computed_at: dt.datetime | None

    @property
    def has_fraction(self) -> bool:
        """Whether numerator and denominator mean what the definition says (not for counts, changes, percentiles)."""
        return self.indicator.form in ("ratio", "per_10k", "mean")

    @property
    def display(self) -> str:
        return format_value(self.indicator, self.value)

    @property
    def target_display(self) -> str:
        return format_value(self.indicator, self.target) if self.target is not None else ""


def format_value(indicator: Indicator, value: Decimal | None) -> str:
    if value is None:
        return "—"
    if indicator.percent:
        return f"{value * 100:.1f}%"
    if indicator.form == "change_points":
        return f"{value:+.2f}"
    if indicator.form == COUNT:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def status_of(indicator: Indicator, value: Decimal | None, target: Decimal | None) -> str:
    """Traffic light: green at or beyond the target, amber near it, red otherwise; none without a target or value."""
    if value is None or target is None or indicator.direction == NEUTRAL:
        return NONE
    gap = (target - value) if indicator.direction != LOWER else (value - target)
    if gap <= 0:
        return GOOD
    near = NEAR_POINTS if indicator.percent else abs(target) * NEAR_SHARE
    if indicator.form == "change_points":
        near = Decimal("0.5")
    return NEAR if gap <= near else BAD


@dataclass(frozen=True)
class MaterialisedPeriod:
    kind: str
    start: dt.date
    end: dt.date  # exclusive
    computed_at: dt.datetime

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    @property
    def key(self) -> str:
        return f"{self.start.isoformat()}_{self.end.isoformat()}"

    @property
    def label(self) -> str:
        if self.kind == PeriodKind.MONTH:
            return f"{self.start:%Y-%m}"
        if self.kind == PeriodKind.YEAR:
            return f"{self.start:%Y}"
        return f"{self.start} – {self.last_day}"


def periods(community_id: int, kind: str | None = None) -> list[MaterialisedPeriod]:
    """Materialised periods, newest first (the latest run of each)."""
    qs = ComputationRun.objects.filter(community_id=community_id)
    if kind:
        qs = qs.filter(period_kind=kind)
    seen: dict[tuple[dt.date, dt.date], MaterialisedPeriod] = {}
    for k, start, end, at in qs.order_by("-period_start", "-computed_at").values_list(
            "period_kind", "period_start", "period_end", "computed_at"):
        seen.setdefault((start, end), MaterialisedPeriod(k, start, end, at))
    return sorted(seen.values(), key=lambda p: (p.start, p.end), reverse=True)


def parse_period(community_id: int, key: str | None) -> MaterialisedPeriod | None:
    """The materialised period a page asked for (`start_end`), else the latest year, else the latest month."""
    known = periods(community_id)
    if key:
        for p in known:
            if p.key == key:
                return p
        raise NotFound("未找到该统计期，请先计算 (no results for that period: compute it first)")
    years = [p for p in known if p.kind == PeriodKind.YEAR]
    return (years or known or [None])[0]


@dataclass(frozen=True)
class Labels:
    """What `results` shows beside the stored numbers: the targets in force and the units' names. A page that
    calls `results` several times reads them once (`read_labels`) and passes them to each call."""

    targets: dict[str, tuple[Decimal | None, str]]
    orgs: dict[int, Organization]
    centres: dict[int, Centre]


def read_labels(community_id: int) -> Labels:
    orgs = {o.pk: o for o in Organization.objects.filter(community_id=community_id).only(
        "id", "name", "short_name", "org_type", "parent_id", "uuid")}
    centres = {c.pk: c for c in Centre.objects.filter(community_id=community_id).only("id", "name", "kind")}
    return Labels(services.targets(community_id), orgs, centres)


def results(community_id: int, period: MaterialisedPeriod, *, level: str | None = None,
            unit_keys: list[str] | None = None, codes: list[str] | None = None,
            labels: Labels | None = None) -> list[Shown]:
    """Stored results of the period, with names, targets in force and traffic lights, in registry order."""
    qs = IndicatorResult.objects.filter(community_id=community_id, period_start=period.start,
                                        period_end=period.end)
    if level:
        qs = qs.filter(level=level)
    if unit_keys is not None:
        qs = qs.filter(unit_key__in=unit_keys)
    if codes is not None:
        qs = qs.filter(code__in=codes)
    labels = labels or read_labels(community_id)
    targets, orgs, centres = labels.targets, labels.orgs, labels.centres
    order = {i.code: n for n, i in enumerate(all_indicators())}
    shown = []
    for row in qs.order_by():
        indicator = get(row.code)
        if indicator is None:
            continue
        target, source = targets[row.code]
        if row.level == CENTRE:
            name = centres[row.centre_id].name if row.centre_id in centres else row.unit_key
        elif row.organization_id:
            org = orgs.get(row.organization_id)
            name = (org.short_name or org.name) if org else row.unit_key
        else:
            name = "全县 County"
        shown.append(Shown(indicator, row.level, row.unit_key, name, row.organization_id, row.numerator,
                           row.denominator, row.value, target, source, status_of(indicator, row.value, target),
                           row.computed_at))
    shown.sort(key=lambda s: (order.get(s.indicator.code, 999), s.level, s.unit_name))
    return shown


def headline(community_id: int, period: MaterialisedPeriod) -> list[Shown]:
    return results(community_id, period, level=COUNTY)


def parse_unit(unit_key: str) -> tuple[str, int | None]:
    """A unit key's level and the id after its colon ("member:12" → ("member", 12)); the id is None unless it is
    ASCII digits within a bigint. (`str.isdigit` also accepts "²" and unbounded lengths, which `int()` or the
    database then refuse with a 500.)"""
    level, _sep, raw = unit_key.partition(":")
    return level, int(raw) if re.fullmatch(r"[0-9]{1,18}", raw) else None


def unit_children(community_id: int, unit_key: str, period: MaterialisedPeriod) -> tuple[str, list[str]]:
    """The level below a unit and its units' keys: the county's members with results in the period, a branch's
    village clinics."""
    if unit_key == COUNTY:
        keys = (IndicatorResult.objects.filter(community_id=community_id, period_start=period.start,
                                               period_end=period.end, level=MEMBER)
                .order_by().values_list("unit_key", flat=True).distinct())
        return MEMBER, list(keys)
    level, unit = parse_unit(unit_key)
    if level != MEMBER or unit is None:
        return "", []
    villages = Organization.objects.filter(community_id=community_id, parent_id=unit,
                                           org_type="village_clinic").values_list("id", flat=True)
    return VILLAGE, [f"{VILLAGE}:{v}" for v in villages]


def trend(community_id: int, code: str, unit_key: str = COUNTY, months: int = 12) -> list[tuple[str, Decimal | None]]:
    """The indicator's monthly values for the unit, oldest first (the last `months` materialised months)."""
    rows = list(IndicatorResult.objects.filter(community_id=community_id, period_kind=PeriodKind.MONTH, code=code,
                                               unit_key=unit_key)
                .order_by("-period_start").values_list("period_start", "value")[:months])
    return [(f"{start:%Y-%m}", value) for start, value in reversed(rows)]


def league(community_id: int, period: MaterialisedPeriod) -> list[Score]:
    """Members ranked by the share of marks earned under the newest scheme version scored for the period."""
    latest = (Score.objects.filter(community_id=community_id, period_start=period.start, period_end=period.end)
              .order_by("-scheme_version__created_at", "-scheme_version__number").first())
    if latest is None:
        return []
    return list(Score.objects.filter(scheme_version_id=latest.scheme_version_id, period_start=period.start,
                                     period_end=period.end)
                .select_related("organization", "scheme_version__scheme").order_by("rank", "unit_key"))


def unit_of(user: Any) -> str | None:
    """The member a clinician's home shows numbers for: their organisation's member (a village clinic's
    branch's for the member view, the clinic itself at village level)."""
    org = getattr(user, "organization", None)
    if org is None:
        return None
    if org.org_type == "village_clinic":
        return f"{VILLAGE}:{org.pk}"
    return f"{MEMBER}:{org.pk}"


# --- drill-down to records ---------------------------------------------------------------------------------

def _unit_orgs(community_id: int, unit_key: str) -> list[int] | None:
    """Organisation (or centre) ids a unit's records are attributed to; None for the whole county."""
    if unit_key == COUNTY:
        return None
    level, unit = parse_unit(unit_key)
    if unit is None or level not in (MEMBER, VILLAGE, CENTRE):
        raise InvalidInput("单位参数无效 (unknown unit)", field="unit")
    if level == MEMBER:
        return [unit, *Organization.objects.filter(community_id=community_id, parent_id=unit,
                                                   org_type="village_clinic").values_list("id", flat=True)]
    return [unit]


def records_behind(user: Any, *, code: str, start: dt.date, end: dt.date, unit_key: str = COUNTY
              ) -> tuple[drilldown.Spec, QuerySet, Q | None]:
    """The records behind an indicator for a period and unit that this user may see: (spec, queryset,
    numerator filter). Bureau accounts see aggregates only; the caller audits the rows it shows (`audit_shown`)."""
    require_aggregate_access(user)
    spec = drilldown.SPECS.get(code)
    if spec is None:
        raise NotFound("未找到该指标 (no such indicator)")
    if spec.patient_data and user.role in AGGREGATE_ONLY_ROLES:
        raise PermissionDenied("卫健局账号只能查看汇总指标，不能查看个人记录 "
                               "(the bureau sees aggregates, not individual records)")
    qs = spec.base(Period(user.community_id, start, end))
    orgs = _unit_orgs(user.community_id, unit_key)
    if orgs is not None:
        qs = qs.filter(**{f"{spec.attribution}__in": orgs})
    if spec.patient_data:
        qs = qs.filter(resident__in=Resident.objects.filter(resident_filter(user)))
    return spec, qs, spec.numerator


def audit_shown(user: Any, spec: drilldown.Spec, rows: list[Any], *, code: str, channel: str = "web") -> None:
    if not spec.patient_data or not rows:
        return
    audit.record_many(audit.Actor.of(user, channel), [
        audit.Entry("list", type(row).__name__, str(getattr(row, "uuid", row.pk)),
                    resident_id=str(row.resident.uuid), reason=f"indicator drill-down {code}")
        for row in rows])


# The few numbers a clinician's home shows for their own unit.
HOME_CODES = ["county_visit_rate", "grassroots_visit_share", "up_referrals", "down_referrals",
              "referral_completion_rate", "village_ecg_coverage", "remote_diagnoses_per_10k"]


def home_numbers(user: Any) -> tuple[MaterialisedPeriod | None, list[Shown]]:
    """The user's unit's numbers for the latest materialised month (what a clinician's home shows)."""
    unit_key = unit_of(user)
    months = periods(user.community_id, PeriodKind.MONTH)
    if unit_key is None or not months:
        return None, []
    # the latest complete month when there is one: the current month is still filling
    period = months[1] if len(months) > 1 else months[0]
    return period, results(user.community_id, period, unit_keys=[unit_key], codes=HOME_CODES)
