"""The community's indicators as FHIR R4 Measure and their materialised results as MeasureReport.

- **Measure** — one per registered indicator definition (`definitions.all_indicators()`), plus the indicators
  the current data cannot support yet (`definitions.PENDING`) as `status: draft` with the module that will
  supply them. Definitions are code, not rows: the resources are built when read, with the target in force
  for the user's community (its own row, the platform policy number, or the definition's default). The id is
  the indicator code with `_` written `-` (FHIR ids allow only `[A-Za-z0-9-.]`): `county_visit_rate` →
  `Measure/county-visit-rate`, canonical `https://countycare.example.cn/fhir/Measure/county-visit-rate`.
- **MeasureReport** — one per materialised `IndicatorResult` row (indicator × unit × period), `type: summary`.
  The row has no uuid and is replaced whenever its period is recomputed, so the id is derived from what makes
  the row unique (indicator, unit, period), not from its primary key: `<measure id>.<unit>.<period>` with the
  unit `county`, `m<organisation>` (member), `v<organisation>` (village clinic) or `c<centre>` and the period
  `2026-03` (a calendar month), `2026` (a calendar year) or `20260101-20260314` (first and last day). The
  same figures recomputed keep their id. The period's end is stored exclusive (`period_end`) and published
  inclusive (`period.end` = the last day).

Both are aggregates, no patient data: any user of the community except a resident (403) may read them, and
reads are not audited. Another community's reports are 404. Neither type is created or updated over FHIR
(405): the definitions are code and the results come from `services.materialise_period`. docs/fhir.md
(*Community assessment*) lists the mappings, code systems and extensions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet
from fhir.resources.R4B.measure import Measure as FhirMeasure
from fhir.resources.R4B.measurereport import MeasureReport as FhirMeasureReport

from countycare.core import fhir
from countycare.core.codes import OrganizationType, Role, system_url
from countycare.core.errors import NotFound, PermissionDenied
from countycare.records.fhir import datetime_condition
from countycare.registry.fhir import EXTENSION_BASE, FHIR_BASE, compact, token, uuid_or_none
from countycare.registry.models import Organization

from . import services
from .definitions import (
    CENTRE,
    CHANGE_POINTS,
    COUNT,
    COUNTY,
    DIRECT,
    GROWTH,
    HIGHER,
    LEVEL_NAMES,
    LOWER,
    MEAN,
    MEMBER,
    PENDING,
    PER_10K,
    RATIO,
    RESIDENCE,
    VILLAGE,
    Indicator,
    Pending,
    all_indicators,
)
from .models import IndicatorResult

MEASURE_BASE = FHIR_BASE + "Measure/"  # canonical URL of a Measure: MEASURE_BASE + its id
INDICATOR_CODE_SYSTEM = FHIR_BASE + "sid/indicator-code"  # the indicator code as written in the registry
INDICATOR_FORM_SYSTEM = system_url("indicator-form")
INDICATOR_LEVEL_SYSTEM = system_url("indicator-level")
MEASURE_SCORING_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-scoring"
MEASURE_POPULATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-population"
IMPROVEMENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
PUBLICATION_STATUS_SYSTEM = "http://hl7.org/fhir/publication-status"
REPORT_STATUS_SYSTEM = "http://hl7.org/fhir/measure-report-status"
RESOURCE_TYPES_SYSTEM = "http://hl7.org/fhir/resource-types"
UCUM_SYSTEM = "http://unitsofmeasure.org"
CURRENCY_SYSTEM = "urn:iso:std:iso:4217"
COUNTRY_SYSTEM = "urn:iso:std:iso:3166"

EXT_INDICATOR_UNIT = EXTENSION_BASE + "indicator-unit"
EXT_INDICATOR_LEVEL = EXTENSION_BASE + "indicator-level"
EXT_INDICATOR_MODULE = EXTENSION_BASE + "indicator-module"
EXT_INDICATOR_ATTRIBUTION = EXTENSION_BASE + "indicator-attribution"
EXT_NATIONAL_INDICATOR = EXTENSION_BASE + "national-indicator"
EXT_INDICATOR_TARGET = EXTENSION_BASE + "indicator-target"
EXT_INDICATOR_FIGURES = EXTENSION_BASE + "indicator-figures"

PUBLICATION_STATUSES = frozenset({"draft", "active", "retired", "unknown"})
REPORT_STATUSES = frozenset({"complete", "pending", "error"})
LEVELS = (COUNTY, MEMBER, VILLAGE, CENTRE)
NOTHING = Q(pk__in=[])
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
READ_ONLY = ("read", "vread", "search-type")

# Measure.scoring (measure-scoring, an extensible binding) of each form, with our indicator-form code beside it.
# A count is a cohort (FHIR: "the measure score is the count of the initial population"); a mean and a
# percentile are continuous variables (an aggregate of one observation per member of the measure population —
# population counts are integers, so a sum of yuan cannot be a numerator count); a change or growth on a year
# earlier fits none of FHIR's four and carries only our code.
SCORING = {RATIO: "proportion", PER_10K: "ratio", COUNT: "cohort", MEAN: "continuous-variable",
           DIRECT: "continuous-variable", CHANGE_POINTS: None, GROWTH: None}
SCORING_DISPLAY = {"proportion": "Proportion", "ratio": "Ratio", "cohort": "Cohort",
                   "continuous-variable": "Continuous Variable"}
FORM_DISPLAY = {
    RATIO: "比例（百分比） proportion, as a percentage",
    PER_10K: "每万人 per 10,000",
    COUNT: "计数 count",
    MEAN: "均值 mean",
    CHANGE_POINTS: "同比变化（百分点） change on a year earlier, in percentage points",
    GROWTH: "同比增幅（百分比） growth on a year earlier, as a percentage",
    DIRECT: "直接计算（分位数） computed directly (a percentile)",
}
FORMULA = {
    RATIO: "分子 ÷ 分母，以百分比表示 (numerator ÷ denominator, as a percentage)",
    PER_10K: "分子 ÷ 分母 × 10000 (numerator ÷ denominator × 10,000)",
    COUNT: "分子的计数 (the count of the numerator)",
    MEAN: "观测值之和 ÷ 人次，即分子 ÷ 分母 (the sum of the observations ÷ the measure population: numerator ÷ "
          "denominator)",
    CHANGE_POINTS: "(本期比例 − 去年同期比例) × 100 (this period's share − the same period a year earlier's, × 100)",
    GROWTH: "本期值 ÷ 去年同期值 − 1，以百分比表示 (this period's value ÷ a year earlier's − 1, as a percentage)",
    DIRECT: "观测值的分位数，见说明 (a percentile of the observations; see the description)",
}
# The unit as shown → the coded unit of measureScore and the target (UCUM, or ISO 4217 for yuan). Percentage
# points have no UCUM unit of their own (% would read as a relative change): unit text only.
UNIT_CODES: dict[str, tuple[str, str]] = {
    "%": (UCUM_SYSTEM, "%"),
    "分钟": (UCUM_SYSTEM, "min"),
    "元": (CURRENCY_SYSTEM, "CNY"),
    "每万人": (UCUM_SYSTEM, "/10*4"),
    "人次": (UCUM_SYSTEM, "1"),
    "个": (UCUM_SYSTEM, "1"),
    "次": (UCUM_SYSTEM, "1"),
}
MODULE_NAMES = {
    "records": "共享档案 shared record", "referrals": "双向转诊 referrals",
    "diagnostics": "资源共享中心 diagnostic centres", "registry": "机构与人员 registry",
    "insurance": "医保结算 insurance", "finance": "财务 finance", "publichealth": "公共卫生 public health",
    "familydoctor": "家庭医生签约 family doctors", "pharmacy": "药事 pharmacy",
}


def require_staff(user: Any) -> None:
    """The indicators are the community's aggregates: every role but a resident reads them."""
    if user.role == Role.RESIDENT:
        raise PermissionDenied("居民账号不能查看医共体考核指标 (residents do not see the community's indicators)")


def measure_id(code: str) -> str:
    """`county_visit_rate` → `county-visit-rate` (FHIR ids allow letters, digits, `-` and `.`)."""
    return code.replace("_", "-")


def canonical(code: str) -> str:
    return MEASURE_BASE + measure_id(code)


def computable_name(code: str) -> str:
    """Measure.name, usable as an identifier (FHIR's mdm-0): `county_visit_rate` → `CountyVisitRate`."""
    return "".join(part[:1].upper() + part[1:] for part in code.split("_") if part)


def _folded(text: str) -> str:
    return re.sub(r"[\s_\-]", "", text).casefold()


def scaled(indicator: Indicator, value: Decimal) -> Decimal:
    """A stored value (or target) in the unit published: fractions of the percentage forms × 100."""
    return value * 100 if indicator.percent else value


def number(value: Decimal) -> int | float:
    value = value.normalize()
    return int(value) if value == value.to_integral_value() else float(value)


def quantity(indicator: Indicator, value: Decimal) -> dict[str, Any]:
    coded = UNIT_CODES.get(indicator.unit)
    out: dict[str, Any] = {"value": number(scaled(indicator, value)), "unit": indicator.unit}
    if coded is not None:
        out["system"], out["code"] = coded
    return out


def unit_coding(unit: str) -> dict[str, str]:
    coded = UNIT_CODES.get(unit)
    return {"system": coded[0], "code": coded[1], "display": unit} if coded else {"display": unit}


def level_coding(level: str) -> dict[str, str]:
    return {"system": INDICATOR_LEVEL_SYSTEM, "code": level, "display": LEVEL_NAMES.get(level, level)}


def improvement(indicator: Indicator) -> dict[str, Any] | None:
    if indicator.direction == HIGHER:
        return {"coding": [{"system": IMPROVEMENT_SYSTEM, "code": "increase", "display": "Increased score indicates "
                            "improvement"}]}
    if indicator.direction == LOWER:
        return {"coding": [{"system": IMPROVEMENT_SYSTEM, "code": "decrease", "display": "Decreased score indicates "
                            "improvement"}]}
    return None  # neutral: neither way is better


def named(name: str, build: Callable[[], Q]) -> Q:
    """A bad search value is a 400 that names the parameter."""
    try:
        return build()
    except fhir.FhirError as error:
        for item in error.issues:
            if not item["diagnostics"].startswith(name):
                item["diagnostics"] = f"{name}: {item['diagnostics']}"
        raise


def read_only(resource_type: str) -> fhir.FhirError:
    return fhir.FhirError(405, f"{resource_type} 只读：指标定义是代码，结果由计算生成 ({resource_type} is read-only: "
                               "the definitions are code and the results are computed)",
                          code="not-supported", headers={"Allow": "GET"})


class ReadOnlyHandler(fhir.ResourceHandler):
    interactions = READ_ONLY

    def check_can_write(self, user: Any) -> None:
        raise read_only(self.resource_type)

    def create(self, user: Any, resource: Any, *, headers: Mapping[str, str],
               within: Callable[[Any], None]) -> Any:
        raise read_only(self.resource_type)

    def update(self, user: Any, obj: Any, resource: Any, *, expected_version: str | None,
               headers: Mapping[str, str]) -> Any:
        raise read_only(self.resource_type)


def content_version(body: dict[str, Any]) -> str:
    payload = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------------- Measure


@dataclass
class MeasureView:
    """One Measure as the user's community sees it: a registered indicator with the target in force, or a
    pending one."""

    code: str
    indicator: Indicator | None = None
    pending: Pending | None = None
    target: Decimal | None = None
    target_source: str = ""
    by_code: dict[str, Indicator] = field(default_factory=dict, repr=False)
    _body: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return measure_id(self.code)

    @property
    def title(self) -> str:
        return self.indicator.name if self.indicator else self.pending.name  # type: ignore[union-attr]

    @property
    def subtitle(self) -> str:
        return self.indicator.name_en if self.indicator else self.pending.name_en  # type: ignore[union-attr]

    @property
    def status(self) -> str:
        return "active" if self.indicator else "draft"

    def body(self) -> dict[str, Any]:
        if self._body is None:
            self._body = self._active() if self.indicator else self._draft()
        return self._body

    def _common(self, module: str, national: bool) -> dict[str, Any]:
        return {
            "resourceType": "Measure",
            "id": self.id,
            "extension": [
                {"url": EXT_INDICATOR_MODULE, "valueCode": module},
                {"url": EXT_NATIONAL_INDICATOR, "valueBoolean": national},
            ],
            "url": canonical(self.code),
            "identifier": [{"use": "official", "system": INDICATOR_CODE_SYSTEM, "value": self.code}],
            "name": computable_name(self.code),
            "title": self.title,
            "subtitle": self.subtitle,
            "status": self.status,
            "subjectCodeableConcept": {"coding": [{"system": RESOURCE_TYPES_SYSTEM, "code": "Organization",
                                                   "display": "Organization"}]},
            "publisher": "CountyCare",
            "jurisdiction": [{"coding": [{"system": COUNTRY_SYSTEM, "code": "CN", "display": "China"}]}],
        }

    def _draft(self) -> dict[str, Any]:
        pending = self.pending
        assert pending is not None
        module = MODULE_NAMES.get(pending.module, pending.module)
        resource = self._common(pending.module, pending.national)
        resource["description"] = (
            f"尚未计算：所需数据将由 {module} 模块提供，该模块上线后本指标转为 active。"
            f"(Not computed yet: the {pending.module} module will supply the data; the measure becomes active "
            "when it does.)")
        return compact(resource)

    def _active(self) -> dict[str, Any]:
        indicator = self.indicator
        assert indicator is not None
        resource = self._common(indicator.module, indicator.national)
        extensions = resource["extension"]
        extensions.insert(0, {"url": EXT_INDICATOR_UNIT, "valueCoding": unit_coding(indicator.unit)})
        extensions += [{"url": EXT_INDICATOR_LEVEL, "valueCoding": level_coding(level)} for level in indicator.levels]
        extensions.append({"url": EXT_INDICATOR_ATTRIBUTION, "valueCode": indicator.attribution})
        target: list[dict[str, Any]] = []
        if self.target is not None:
            target.append({"url": "value", "valueQuantity": quantity(indicator, self.target)})
        if self.target_source:
            target.append({"url": "source", "valueString": self.target_source})
        if target:
            extensions.append({"url": EXT_INDICATOR_TARGET, "extension": target})
        scoring_code = SCORING.get(indicator.form)
        codings = [{"system": INDICATOR_FORM_SYSTEM, "code": indicator.form,
                    "display": FORM_DISPLAY.get(indicator.form, indicator.form)}]
        if scoring_code:
            codings.insert(0, {"system": MEASURE_SCORING_SYSTEM, "code": scoring_code,
                               "display": SCORING_DISPLAY[scoring_code]})
        base = self.by_code.get(indicator.base) if indicator.base else None
        resource.update({
            "description": indicator.question,
            "topic": [{"text": indicator.group}] if indicator.group else [],
            "relatedArtifact": [{"type": "depends-on", "display": f"{base.name} {base.name_en}",
                                 "resource": canonical(base.code)}] if base else [],
            "scoring": {"coding": codings},
            "rateAggregation": rate_aggregation(indicator),
            "improvementNotation": improvement(indicator),
            "group": [{
                "description": FORMULA.get(indicator.form, ""),
                "population": [
                    {"code": {"coding": [{"system": MEASURE_POPULATION_SYSTEM, "code": code}]},
                     "description": text,
                     "criteria": {"language": "text/plain", "expression": text}}
                    for code, text in measure_populations(indicator)
                ],
            }],
        })
        return compact(resource)


def measure_populations(indicator: Indicator) -> list[tuple[str, str]]:
    """(measure-population code, description) of each population the indicator's form has."""
    num, den = indicator.numerator, indicator.denominator
    has_den = bool(den) and den.strip() not in ("—", "-")
    if indicator.form == COUNT:
        return [("initial-population", num)]
    if indicator.form == MEAN:
        return [("measure-population", den),
                ("measure-observation", f"每人次一个观测值，其和为：{num} (one observation per member of the measure "
                                        "population; their sum is the numerator)")]
    if indicator.form == DIRECT:
        return [("measure-population", num),
                ("measure-observation", f"每个成员一个观测值（{indicator.unit}），评分为其分位数 (one observation "
                                        f"per member, in {indicator.unit}; the score is a percentile of them)")]
    return [("numerator", num)] + ([("denominator", den)] if has_den else [])


def rate_aggregation(indicator: Indicator) -> str:
    whose = ("按居民归属机构归集 (attributed to the residents' home organisation)" if indicator.attribution == RESIDENCE
             else "按提供服务的机构归集 (attributed to the organisation that gave the care)")
    if indicator.form in (CHANGE_POINTS, GROWTH):
        return ("每个单位本期值与去年同期值相比；平台未完整记录去年同期时无值 (each unit's value against the same "
                "unit a year earlier; no value when the platform does not hold the whole earlier period)")
    if CENTRE in indicator.levels:
        if indicator.form == DIRECT:
            return "每个诊断中心单独计算，不汇总 (each centre on its own; not aggregated)"
        return "各诊断中心的分子、分母相加得县域值 (the county sums its centres' numerators and denominators)"
    return (f"{whose}；村卫生室 → 分院（成员单位）→ 县域逐级相加分子与分母后再计算 (numerators and denominators are "
            "summed village clinic → member → county, then the value is formed)")


def all_measures(community_id: int) -> list[MeasureView]:
    """Every Measure as this community sees it: the registered indicators in registration order with the target
    in force, then the pending ones."""
    indicators = all_indicators()
    by_code = {i.code: i for i in indicators}
    in_force = services.targets(community_id)
    views = []
    for indicator in indicators:
        target, source = in_force.get(indicator.code, (indicator.target, indicator.target_source))
        views.append(MeasureView(indicator.code, indicator=indicator, target=target, target_source=source,
                                 by_code=by_code))
    return views + [MeasureView(p.code, pending=p) for p in PENDING if p.code not in by_code]


def measure_ids() -> dict[str, str]:
    """Measure id → indicator code, registered and pending."""
    codes = [i.code for i in all_indicators()] + [p.code for p in PENDING]
    return {measure_id(code): code for code in codes}


def _holds(condition: Q, code: str) -> bool:
    """Whether a condition built by `MeasureHandler.condition` (Q(code__in=…) nodes) holds for one code."""
    results = []
    for child in condition.children:
        if isinstance(child, Q):
            results.append(_holds(child, code))
        else:
            lookup, allowed = child
            assert lookup == "code__in"
            results.append(code in allowed)
    held = (any(results) if condition.connector == Q.OR else all(results)) if results else True
    return not held if condition.negated else held


class MeasureHandler(ReadOnlyHandler):
    resource_type = "Measure"
    model = FhirMeasure
    documentation = (
        "The community's indicators (医共体监测与考核指标): one Measure per registered indicator (status active), and "
        "the indicators waiting for a module's data (status draft). The id is the indicator code with _ written "
        f"-; url {MEASURE_BASE}<id>. title is the Chinese name, subtitle the English. Read-only; any user of the "
        "community except residents."
    )
    search_params = {
        "_id": fhir.SearchParam("token", "The logical id (county-visit-rate)"),
        "name": fhir.SearchParam("string", "Prefix of the computable name (CountyVisitRate) or the indicator code; "
                                           "case, _ and - ignored"),
        "title": fhir.SearchParam("string", "Prefix of the Chinese title or the English subtitle, case-insensitive"),
        "status": fhir.SearchParam("token", "active | draft (retired, unknown match nothing)"),
        "url": fhir.SearchParam("uri", f"The canonical URL, {MEASURE_BASE}<id>"),
        "identifier": fhir.SearchParam("token", f"The indicator code: {INDICATOR_CODE_SYSTEM}|county_visit_rate"),
    }

    def read(self, user: Any, resource_id: str) -> MeasureView:
        require_staff(user)
        found = next((m for m in all_measures(user.community_id) if m.id == resource_id), None)
        if found is None:
            raise NotFound("未找到该指标 (measure not found)")
        return found

    def resource_id(self, obj: MeasureView) -> str:
        return obj.id

    def version(self, obj: MeasureView) -> str:
        return content_version(obj.body())

    def to_fhir(self, obj: MeasureView) -> dict[str, Any]:
        body = obj.body()
        return {"resourceType": "Measure", "id": obj.id, "meta": {"versionId": self.version(obj)},
                **{key: value for key, value in body.items() if key not in ("resourceType", "id")}}

    def condition(self, user: Any, name: str, value: str) -> Q:
        return named(name, lambda: Q(code__in=frozenset(self._matching(name, value))))

    def _matching(self, name: str, value: str) -> set[str]:
        ids = measure_ids()
        titles = {m.code: (m.title, m.subtitle) for m in definitions_only()}
        codes = set(ids.values())
        if name == "_id":
            return {ids[value]} if value in ids else set()
        if name == "name":
            wanted = _folded(value)
            return {c for c in codes if wanted and _folded(computable_name(c)).startswith(wanted)}
        if name == "title":
            wanted = value.strip().casefold()
            return {c for c, texts in titles.items()
                    if wanted and any(t.casefold().startswith(wanted) for t in texts)}
        if name == "status":
            code = token(value, PUBLICATION_STATUS_SYSTEM)
            if code is None:
                return set()
            fhir.require_choice("status", code, PUBLICATION_STATUSES)
            registered = {i.code for i in all_indicators()}
            return {c for c in codes if ("active" if c in registered else "draft") == code}
        if name == "url":
            url = value.partition("|")[0]  # a canonical may carry |version; measures here have none
            return {c for c in codes if canonical(c) == url}
        if name == "identifier":
            code = token(value, INDICATOR_CODE_SYSTEM)
            return {code} if code in codes else set()
        raise fhir.FhirError(400, f"unknown search parameter {name}")

    def search(self, user: Any, condition: Q, *, offset: int, count: int, query: str
               ) -> tuple[list[Any], int]:
        require_staff(user)
        matches = [m for m in all_measures(user.community_id) if _holds(condition, m.code)]
        return (matches[offset: offset + count] if count else []), len(matches)


def definitions_only() -> list[MeasureView]:
    """The Measures without the community's targets (what a search matches on: no query needed)."""
    by_code = {i.code: i for i in all_indicators()}
    return ([MeasureView(i.code, indicator=i) for i in by_code.values()]
            + [MeasureView(p.code, pending=p) for p in PENDING if p.code not in by_code])


# ------------------------------------------------------------------------------------------------ MeasureReport

UNIT_LETTER = {MEMBER: "m", VILLAGE: "v", CENTRE: "c"}
LEVEL_OF_LETTER = {letter: level for level, letter in UNIT_LETTER.items()}
REPORT_ID = re.compile(r"(?P<measure>[a-z0-9\-]{1,60})\.(?P<unit>county|[mvc][0-9]{1,12})\."
                       r"(?P<period>[0-9]{4}|[0-9]{4}-[0-9]{2}|[0-9]{8}-[0-9]{8})")


def next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def period_key(start: dt.date, end: dt.date) -> str:
    """[start, end) as it appears in a MeasureReport id: `2026` (a calendar year), `2026-03` (a calendar month),
    else `20260101-20260314` (the first and the last day)."""
    if start.month == 1 and start.day == 1 and end == dt.date(start.year + 1, 1, 1):
        return f"{start.year:04d}"
    if start.day == 1 and end == next_month(start):
        return f"{start.year:04d}-{start.month:02d}"
    return f"{start:%Y%m%d}-{end - dt.timedelta(days=1):%Y%m%d}"


def parse_period_key(key: str) -> tuple[dt.date, dt.date] | None:
    try:
        if len(key) == 4:
            start = dt.date(int(key), 1, 1)
            return start, dt.date(start.year + 1, 1, 1)
        if len(key) == 7:
            start = dt.date(int(key[:4]), int(key[5:]), 1)
            return start, next_month(start)
        first = dt.datetime.strptime(key[:8], "%Y%m%d").date()
        last = dt.datetime.strptime(key[9:], "%Y%m%d").date()
        if last < first or last == dt.date.max:
            return None
        return first, last + dt.timedelta(days=1)
    except (ValueError, OverflowError):
        return None


def report_id(row: IndicatorResult) -> str:
    if row.level == COUNTY or row.unit_key == COUNTY:
        unit = COUNTY
    else:
        unit = UNIT_LETTER.get(row.level, "x") + row.unit_key.partition(":")[2]
    return f"{measure_id(row.code)}.{unit}.{period_key(row.period_start, row.period_end)}"


def report_key(resource_id: str) -> Q | None:
    """The condition selecting the one row a MeasureReport id names, or None when it names none."""
    match = REPORT_ID.fullmatch(resource_id)
    if match is None:
        return None
    code = measure_ids().get(match["measure"])
    period = parse_period_key(match["period"])
    if code is None or period is None:
        return None
    unit = match["unit"]
    unit_key = COUNTY if unit == COUNTY else f"{LEVEL_OF_LETTER[unit[0]]}:{int(unit[1:])}"
    return Q(code=code, unit_key=unit_key, period_start=period[0], period_end=period[1])


def lead_hospital(community_id: int) -> Organization | None:
    """The organisation that stands for the county as a whole: the community's lead hospital (牵头医院)."""
    return (Organization.objects.filter(community_id=community_id, org_type=OrganizationType.LEAD_HOSPITAL)
            .order_by("id").first())


def period_condition(value: str) -> Q:
    """FHIR date search over a Period [period_start, period_end): `eq` the report's period lies within the
    value's range, `ne` it does not, `gt` / `lt` it extends after / before the range, `ge` / `le` either."""
    prefix = value[:2] if value[:2] in fhir.DATE_PREFIXES else "eq"
    first, last = fhir.date_range(value[2:] if value[:2] in fhir.DATE_PREFIXES else value)
    within = Q(period_start__gte=first)
    after = NOTHING
    if last != dt.date.max:
        following = last + dt.timedelta(days=1)
        within &= Q(period_end__lte=following)
        after = Q(period_end__gt=following)
    before = Q(period_start__lt=first)
    return {"eq": within, "ne": ~within, "gt": after, "lt": before, "ge": after | within,
            "le": before | within}[prefix]


class MeasureReportHandler(ReadOnlyHandler):
    resource_type = "MeasureReport"
    model = FhirMeasureReport
    documentation = (
        "The materialised results of the indicators: one summary MeasureReport per indicator, unit (county, member, "
        "village clinic, diagnostic centre) and period. measure is the Measure's canonical URL; reporter the unit's "
        "Organization (the county: the lead hospital; a centre: its host organisation); the extension "
        "indicator-level says which. period.end is the last day. Read-only; any user of the community except "
        "residents; ids <measure id>.<unit>.<period> stay the same when a period is recomputed."
    )
    search_params = {
        "_id": fhir.SearchParam("token", "The logical id (county-visit-rate.county.2026-03)"),
        "measure": fhir.SearchParam("reference", f"The Measure: its id, Measure/<id> or {MEASURE_BASE}<id>"),
        "period": fhir.SearchParam("date", "The reported period (eq: within the value; gt/lt: extends after/before)"),
        "date": fhir.SearchParam("date", "When the figures were computed"),
        "reporter": fhir.SearchParam("reference", "The unit's Organization/<id> (the lead hospital for the county "
                                                  "and its centres)"),
        "subject": fhir.SearchParam("reference", "Same as reporter (R4 allows no Organization as subject)"),
        "status": fhir.SearchParam("token", "complete (pending, error match nothing)"),
        "level": fhir.SearchParam("token", f"county | member | village | centre ({INDICATOR_LEVEL_SYSTEM})"),
    }

    def rows(self, user: Any) -> QuerySet[IndicatorResult]:
        return (IndicatorResult.objects.filter(community_id=user.community_id,
                                               code__in=[i.code for i in all_indicators()])
                .select_related("community", "organization", "centre__organization"))

    def _prepared(self, user: Any, rows: list[IndicatorResult]) -> list[IndicatorResult]:
        indicators = {i.code: i for i in all_indicators()}
        lead = lead_hospital(user.community_id) if any(r.level == COUNTY for r in rows) else None
        for row in rows:
            row.fhir_indicator = indicators[row.code]  # type: ignore[attr-defined]
            row.fhir_lead = lead  # type: ignore[attr-defined]
        return rows

    def read(self, user: Any, resource_id: str) -> IndicatorResult:
        require_staff(user)
        key = report_key(resource_id)
        found = self.rows(user).filter(key).first() if key is not None else None
        if found is None:
            raise NotFound("未找到该指标结果 (measure report not found)")
        return self._prepared(user, [found])[0]

    def search(self, user: Any, condition: Q, *, offset: int, count: int, query: str
               ) -> tuple[list[Any], int]:
        require_staff(user)
        matches = self.rows(user).filter(condition)
        total = matches.count()
        rows = (list(matches.order_by("-period_start", "period_end", "code", "level", "unit_key", "id")
                     [offset: offset + count]) if count else [])
        return self._prepared(user, rows), total

    def resource_id(self, obj: IndicatorResult) -> str:
        return report_id(obj)

    def version(self, obj: IndicatorResult) -> str:
        return content_version({"computed_at": obj.computed_at.isoformat(), "numerator": str(obj.numerator),
                                "denominator": str(obj.denominator), "value": str(obj.value)})

    def last_updated(self, obj: IndicatorResult) -> dt.datetime | None:
        return obj.computed_at

    def reporter(self, obj: IndicatorResult) -> dict[str, str] | None:
        if obj.level == CENTRE and obj.centre is not None:
            host = obj.centre.organization
            return {"reference": f"Organization/{host.uuid}", "display": f"{host.name} {obj.centre.name}"}
        if obj.organization is not None:
            return {"reference": f"Organization/{obj.organization.uuid}", "display": obj.organization.name}
        lead = getattr(obj, "fhir_lead", None)
        if obj.level == COUNTY and lead is not None:
            return {"reference": f"Organization/{lead.uuid}",
                    "display": f"{obj.community.name}（县域，由牵头医院 {lead.name} 代表 the county as a whole）"}
        return None

    def to_fhir(self, obj: IndicatorResult) -> dict[str, Any]:
        indicator: Indicator = obj.fhir_indicator  # type: ignore[attr-defined]
        figures = [{"url": part, "valueDecimal": number(value)}
                   for part, value in (("numerator", obj.numerator), ("denominator", obj.denominator))
                   if value is not None]
        group: dict[str, Any] = {
            "extension": [{"url": EXT_INDICATOR_FIGURES, "extension": figures}] if figures else [],
            "population": report_populations(indicator, obj),
            "measureScore": quantity(indicator, obj.value) if obj.value is not None else None,
        }
        return compact({
            "resourceType": "MeasureReport",
            "id": report_id(obj),
            "meta": {"versionId": self.version(obj), "lastUpdated": fhir.instant(obj.computed_at)},
            "extension": [{"url": EXT_INDICATOR_LEVEL, "valueCoding": level_coding(obj.level)}],
            "status": "complete",
            "type": "summary",
            "measure": canonical(obj.code),
            "date": fhir.instant(obj.computed_at),
            "reporter": self.reporter(obj),
            "period": {"start": obj.period_start.isoformat(),
                       "end": (obj.period_end - dt.timedelta(days=1)).isoformat()},
            "improvementNotation": improvement(indicator),
            "group": [compact(group)],
        })

    def condition(self, user: Any, name: str, value: str) -> Q:
        return named(name, lambda: self._condition(user, name, value))

    def _condition(self, user: Any, name: str, value: str) -> Q:
        if name == "_id":
            key = report_key(value)
            return key if key is not None else NOTHING
        if name == "measure":
            target = fhir.reference_id(value.partition("|")[0], "Measure")
            code = measure_ids().get(target)
            return Q(code=code) if code else NOTHING
        if name == "period":
            return period_condition(value)
        if name == "date":
            return datetime_condition("computed_at", value)
        if name in ("reporter", "subject"):
            found = uuid_or_none(fhir.reference_id(value, "Organization"))
            if found is None:
                return NOTHING
            by_unit = Q(organization__uuid=found) | Q(centre__organization__uuid=found)
            lead = lead_hospital(user.community_id)
            return by_unit | Q(level=COUNTY) if lead is not None and str(lead.uuid) == found else by_unit
        if name == "status":
            code = token(value, REPORT_STATUS_SYSTEM)
            if code is None:
                return NOTHING
            fhir.require_choice("status", code, REPORT_STATUSES)
            return Q(pk__isnull=False) if code == "complete" else NOTHING
        if name == "level":
            code = token(value, INDICATOR_LEVEL_SYSTEM)
            if code is None:
                return NOTHING
            fhir.require_choice("level", code, LEVELS)
            return Q(level=code)
        raise fhir.FhirError(400, f"unknown search parameter {name}")


def report_populations(indicator: Indicator, row: IndicatorResult) -> list[dict[str, Any]]:
    """The populations of the report whose counts are whole numbers (FHIR counts are integers); the stored
    numerator and denominator themselves are in the indicator-figures extension."""
    if indicator.form in (RATIO, PER_10K):
        pairs = [("numerator", row.numerator), ("denominator", row.denominator)]
    elif indicator.form == COUNT:
        pairs = [("initial-population", row.numerator)]
    elif indicator.form == MEAN:
        pairs = [("measure-population", row.denominator)]
    elif indicator.form == DIRECT:
        pairs = [("measure-population", row.numerator)]
    else:  # a change or growth compares two values, not counts
        pairs = []
    return [{"code": {"coding": [{"system": MEASURE_POPULATION_SYSTEM, "code": code}]}, "count": int(count)}
            for code, count in pairs if count is not None and count == count.to_integral_value()]


def check_measure_ids() -> None:
    """Every indicator code gives a valid, distinct Measure id (a later module registering a code that breaks
    this is a programming error, found by the tests)."""
    ids = [measure_id(i.code) for i in all_indicators()] + [measure_id(p.code) for p in PENDING]
    bad = [i for i in ids if not FHIR_ID.fullmatch(i) or "." in i]
    if bad or len(set(ids)) != len(ids):
        raise ValueError(f"indicator codes that make no distinct FHIR id: {bad or ids}")


for handler in (MeasureHandler(), MeasureReportHandler()):
    fhir.register_resource(handler)
