"""Materialised results: a period's indicators stored once (a second run replaces the first), stamped with when
they were computed, the run recorded and audited, and scored with every scheme in use."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from tests.assessment.conftest import YEAR, at
from tests.assessment.helpers import ratio

from countycare.assessment import services
from countycare.assessment.engine import compute
from countycare.assessment.facts import Period
from countycare.assessment.models import (
    AssessmentScheme,
    ComputationRun,
    IndicatorResult,
    PeriodKind,
    SchemeItem,
    Score,
)
from countycare.core.errors import InvalidInput
from countycare.core.models import AuditEvent

FIRST = at(2026, 1, 2, 2)
SECOND = at(2026, 1, 3, 2)


def materialise(county, now=FIRST, start=YEAR[0], end=YEAR[1], kind=PeriodKind.YEAR):
    return services.materialise_period(community_id=county.community.pk, start=start, end=end, kind=kind, now=now)


def test_materialising_a_period_stores_every_result_of_the_computation(small_county):
    run = materialise(small_county)
    expected = compute(Period(small_county.community.pk, *YEAR))
    stored = IndicatorResult.objects.filter(community=small_county.community)
    assert run.results == len(expected) == stored.count()
    assert {(r.code, r.unit_key, r.numerator, r.denominator, r.value) for r in expected} == set(
        stored.values_list("code", "unit_key", "numerator", "denominator", "value"))
    visit_rate = stored.get(code="county_visit_rate", unit_key="county")
    assert (visit_rate.value, visit_rate.organization_id, visit_rate.level) == (ratio(29, 34), None, "county")
    east = small_county.orgs["east"]
    assert stored.get(code="county_visit_rate", unit_key=f"member:{east.pk}").organization == east
    ecg = small_county.centres["ecg"]
    p95 = stored.get(code="exam_turnaround_p95", unit_key=f"centre:{ecg.pk}")
    assert (p95.centre, p95.organization, p95.value) == (ecg, None, Decimal("39.4"))
    assert set(stored.values_list("period_kind", "period_start", "period_end", "computed_at")) == {
        (PeriodKind.YEAR, *YEAR, FIRST)}


def test_materialising_a_period_again_replaces_its_results(small_county):
    first = materialise(small_county, now=FIRST)
    count = IndicatorResult.objects.count()
    second = materialise(small_county, now=SECOND)
    assert IndicatorResult.objects.count() == count
    keys = list(IndicatorResult.objects.values_list("code", "unit_key"))
    assert len(keys) == len(set(keys))
    assert set(IndicatorResult.objects.values_list("run", "computed_at")) == {(second.pk, SECOND)}
    runs = ComputationRun.objects.filter(community=small_county.community).order_by("computed_at")
    assert [(r.pk, r.computed_at, r.period_start, r.period_end, r.period_kind) for r in runs] == [
        (first.pk, FIRST, *YEAR, PeriodKind.YEAR), (second.pk, SECOND, *YEAR, PeriodKind.YEAR)]
    assert all(r.seconds >= 0 and r.results == count for r in runs)


def test_another_period_is_kept_when_one_is_materialised_again(small_county):
    materialise(small_county, start=dt.date(2025, 1, 1), end=dt.date(2025, 2, 1), kind=PeriodKind.MONTH)
    january = IndicatorResult.objects.filter(period_end=dt.date(2025, 2, 1)).count()
    materialise(small_county)
    materialise(small_county, now=SECOND)
    assert IndicatorResult.objects.filter(period_end=dt.date(2025, 2, 1)).count() == january > 0


def test_every_computation_is_audited_with_its_period(small_county):
    materialise(small_county)
    materialise(small_county, now=SECOND)
    events = AuditEvent.objects.filter(action="compute", object_type="IndicatorPeriod")
    assert [(e.object_id, e.username, e.channel, e.community_id) for e in events] == [
        ("2025-01-01/2026-01-01", "system", "cli", small_county.community.pk)] * 2
    assert events[0].detail["kind"] == "year"
    assert events[0].detail["results"] == IndicatorResult.objects.count()


@pytest.mark.parametrize("end", [dt.date(2025, 1, 1), dt.date(2024, 12, 31)])
def test_a_period_that_does_not_end_after_it_starts_is_refused(small_county, end):
    with pytest.raises(InvalidInput) as refused:
        materialise(small_county, start=dt.date(2025, 1, 1), end=end)
    assert refused.value.status == 422
    assert not IndicatorResult.objects.exists()
    assert not ComputationRun.objects.exists()


def test_materialising_scores_the_period_with_every_scheme_in_use(small_county):
    in_use = services.ensure_default_scheme(community_id=small_county.community.pk)
    retired = AssessmentScheme.objects.create(community=small_county.community, name="旧方案", active=False)
    SchemeItem.objects.create(scheme=retired, code="county_visit_rate", weight=Decimal(100))
    materialise(small_county)
    assert set(Score.objects.values_list("scheme_version__scheme", flat=True)) == {in_use.pk}
    county = Score.objects.get(unit_key="county")
    assert (county.period_start, county.period_end, county.computed_at) == (*YEAR, FIRST)
    # the default scheme's county visit rate item: 20 points, target 0.90, floor 0.80, at 29/34
    visit = {d["code"]: d for d in county.details}["county_visit_rate"]
    assert (visit["value"], visit["points"]) == (str(ratio(29, 34)), "10.58")


def test_the_months_of_a_span_are_calendar_months(db):
    assert list(services.months(dt.date(2025, 11, 15), dt.date(2026, 2, 1))) == [
        (dt.date(2025, 11, 1), dt.date(2025, 12, 1)), (dt.date(2025, 12, 1), dt.date(2026, 1, 1)),
        (dt.date(2026, 1, 1), dt.date(2026, 2, 1))]


def test_materialising_a_span_stores_its_months_and_calendar_years(small_county):
    runs = services.materialise(community_id=small_county.community.pk, start=dt.date(2025, 12, 1),
                                end=dt.date(2026, 1, 1))
    assert [(r.period_kind, r.period_start, r.period_end) for r in runs] == [
        (PeriodKind.MONTH, dt.date(2025, 12, 1), dt.date(2026, 1, 1)), (PeriodKind.YEAR, *YEAR)]
    # December alone: 12 (b1 at 23:30 on the 31st), 16 (b2 admitted on the 29th); 15 is in January
    december = IndicatorResult.objects.get(code="county_visit_rate", unit_key="county",
                                           period_end=dt.date(2026, 1, 1), period_start=dt.date(2025, 12, 1))
    assert (december.numerator, december.denominator) == (2, 2)
