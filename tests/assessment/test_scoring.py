"""Scoring: one item's points against its target and floor (`scoring.points`), and a scheme's scores of the county
and its members for a materialised period (`services.score_period`), with the scheme's versions. Values of the
small county (tests/assessment/conftest.py) are the ones worked out in tests/assessment/test_indicators.py."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.assessment.conftest import YEAR
from tests.assessment.helpers import ratio

from countycare.assessment import scoring, services
from countycare.assessment.definitions import HIGHER, LOWER, NEUTRAL
from countycare.assessment.models import AssessmentScheme, IndicatorTarget, PeriodKind, SchemeItem, SchemeVersion, Score
from countycare.core.models import AuditEvent

D = Decimal
TWO = D("0.01")


def points(value, target="0.90", floor="0.80", weight="20", rule="linear", direction=HIGHER):
    return scoring.points(value=None if value is None else D(value), target=None if target is None else D(target),
                          floor=None if floor is None else D(floor), weight=D(weight), rule=rule,
                          direction=direction)


# --- one item --------------------------------------------------------------------------------------------------

def test_an_item_at_or_beyond_its_target_earns_its_weight():
    assert points("0.90") == D("20.00")
    assert points("0.97") == D("20.00")
    assert str(points("1", weight="7.5")) == "7.50"


def test_an_item_at_or_beyond_its_floor_earns_nothing():
    assert points("0.80") == 0
    assert points("0.10") == 0


def test_between_floor_and_target_an_item_earns_in_proportion():
    assert points("0.85") == D("10.00")  # halfway
    assert points("0.8529") == (D(20) * D("0.0529") / D("0.10")).quantize(TWO) == D("10.58")
    assert points("0.82", weight="15") == D("3.00")  # a fifth of the way


def test_for_a_lower_is_better_indicator_the_target_is_below_the_floor():
    # a fall of 2 points on the year before is the target, no fall at all scores nothing
    lower = {"target": "-2", "floor": "0", "weight": "15", "direction": LOWER}
    assert points("-2", **lower) == D("15.00")
    assert points("-3.5", **lower) == D("15.00")
    assert points("-1", **lower) == D("7.50")
    assert points("-0.5", **lower) == D("3.75")
    assert points("0", **lower) == 0
    assert points("1.3", **lower) == 0  # the share rose: nothing, never negative


def test_a_threshold_item_earns_its_weight_at_the_target_and_nothing_short_of_it():
    assert points("0.90", rule="threshold") == D("20.00")
    assert points("0.8999", rule="threshold") == 0  # its floor is ignored
    assert points("0", target="0", floor=None, weight="10", rule="threshold", direction=LOWER) == D("10.00")
    assert points("1", target="0", floor=None, weight="10", rule="threshold", direction=LOWER) == 0


def test_a_linear_item_without_a_floor_scores_as_a_threshold():
    assert points("0.89", floor=None) == 0
    assert points("0.91", floor=None) == D("20.00")


def test_a_floor_equal_to_the_target_scores_as_a_threshold_without_dividing_by_zero():
    assert points("0.89", floor="0.90") == 0
    assert points("0.90", floor="0.90") == D("20.00")


def test_an_item_without_a_value_or_without_a_target_cannot_be_scored():
    assert points(None) is None
    assert points("0.95", target=None) is None
    assert points(None, target=None, floor=None) is None


def test_a_neutral_indicator_is_scored_as_higher_is_better():
    assert points("12", target="10", floor="0", weight="10", direction=NEUTRAL) == D("10.00")
    assert points("5", target="10", floor="0", weight="10", direction=NEUTRAL) == D("5.00")


# --- a scheme's scores -----------------------------------------------------------------------------------------

# code, weight, target (None: the target in force), floor, rule
ITEMS = [
    ("county_visit_rate", "20", None, "0.80", "linear"),  # the policy's 0.90
    ("village_ecg_coverage", "5", "1.00", "0.50", "linear"),
    ("branches_without_posted_senior", "10", None, None, "threshold"),  # the definition's 0
    ("exam_within_target_share", "10", None, "0.80", "linear"),  # the definition's 0.95; county and centres only
    ("lead_down_referral_share", "10", "0.10", "0", "linear"),
    ("inpatient_cost_per_stay_growth", "10", "0.05", "0.30", "linear"),  # lower is better
]


def make_scheme(county, name="城南县考核方案") -> AssessmentScheme:
    scheme = AssessmentScheme.objects.create(community=county.community, name=name)
    SchemeItem.objects.bulk_create(
        SchemeItem(scheme=scheme, code=code, weight=D(weight), target=None if target is None else D(target),
                   floor=None if floor is None else D(floor), rule=rule)
        for code, weight, target, floor, rule in ITEMS)
    return scheme


@pytest.fixture
def materialised(small_county):
    services.materialise_period(community_id=small_county.community.pk, start=YEAR[0], end=YEAR[1],
                                kind=PeriodKind.YEAR)
    return small_county


def linear(weight: str, value: Decimal, target: str, floor: str) -> Decimal:
    share = min(max((value - D(floor)) / (D(target) - D(floor)), D(0)), D(1))
    return (D(weight) * share).quantize(TWO)


def test_a_scheme_scores_the_county_and_members_and_ranks_members_by_share_of_what_they_could_earn(materialised):
    county = materialised
    scheme = make_scheme(county)
    scores = services.score_period(scheme=scheme, start=YEAR[0], end=YEAR[1])
    by_unit = {s.unit_key: s for s in scores}
    member = {key: f"member:{county.orgs[key].pk}" for key in ("east", "west", "lead", "tcm")}
    assert set(by_unit) == {"county", *member.values()}  # the MCH hospital has no value for any item

    # county: visit rate 29/34, ECG coverage 3/4, 1 branch without a senior, 9/14 within target, down 2/3,
    # cost growth 0.2571
    expected = {
        "county_visit_rate": linear("20", ratio(29, 34), "0.9", "0.80"),  # 20 × 0.0529 / 0.10 = 10.58
        "village_ecg_coverage": linear("5", ratio(3, 4), "1.00", "0.50"),  # 5 × 0.25 / 0.50 = 2.50
        "branches_without_posted_senior": D("0.00"),  # threshold 0, one branch without
        "exam_within_target_share": D("0.00"),  # 0.6429 is below the floor
        "lead_down_referral_share": D("10.00"),  # 0.6667 beyond the target
        "inpatient_cost_per_stay_growth": linear("10", D("0.2571"), "0.05", "0.30"),  # 10 × 0.0429 / 0.25 = 1.72
    }
    total = by_unit["county"]
    assert {d["code"]: D(d["points"]) for d in total.details} == expected
    assert (total.total, total.possible, total.rank, total.organization_id) == (D("24.80"), D(65), None, None)

    # east: 17/20 → 10.00; ECG 2/2 → 5; a senior posted → 10; cost growth 0.5 beyond the floor → 0; of 45
    east = by_unit[member["east"]]
    assert (east.total, east.possible) == (D("25.00"), D(45))
    # west: 12/14 → 11.42; ECG 1/2 at the floor → 0; no senior → 0; no cost growth (nothing in 2024): not possible
    west = by_unit[member["west"]]
    assert (west.total, west.possible) == (linear("20", ratio(12, 14), "0.9", "0.80"), D(35)) == (D("11.42"), 35)
    assert {d["code"]: d["points"] for d in west.details}["inpatient_cost_per_stay_growth"] is None
    # lead: down 2/3 → 10; cost growth 0.25 → 2.00; of 20
    lead = by_unit[member["lead"]]
    assert (lead.total, lead.possible) == (D("12.00"), D(20))
    # the TCM hospital's only item (cost growth) has no value: nothing possible, no rank
    assert (by_unit[member["tcm"]].possible, by_unit[member["tcm"]].rank) == (0, None)

    # lead 12/20 = 0.60 > east 25/45 = 0.56 > west 11.42/35 = 0.33
    assert [(s.unit_key, s.rank) for s in Score.objects.filter(rank__isnull=False).order_by("rank")] == [
        (member["lead"], 1), (member["east"], 2), (member["west"], 3)]
    assert Score.objects.count() == 5


def test_a_score_records_the_scheme_version_that_produced_it(materialised):
    scheme = make_scheme(materialised)
    scores = services.score_period(scheme=scheme, start=YEAR[0], end=YEAR[1])
    version = SchemeVersion.objects.get(scheme=scheme)
    assert version.number == 1
    assert {s.scheme_version_id for s in scores} == {version.pk}
    items = {item["code"]: item for item in version.items}
    assert items["county_visit_rate"] == {"code": "county_visit_rate", "weight": "20.00", "rule": "linear",
                                          "target": "0.9", "floor": "0.8000", "direction": HIGHER}
    assert items["branches_without_posted_senior"]["target"] == "0"  # the definition's
    assert items["inpatient_cost_per_stay_growth"]["direction"] == LOWER


def test_scoring_a_period_again_under_the_same_version_replaces_its_scores(materialised):
    scheme = make_scheme(materialised)
    services.score_period(scheme=scheme, start=YEAR[0], end=YEAR[1])
    services.score_period(scheme=scheme, start=YEAR[0], end=YEAR[1])
    assert Score.objects.count() == 5
    assert SchemeVersion.objects.filter(scheme=scheme).count() == 1


def test_publishing_an_unchanged_scheme_returns_its_latest_version(materialised):
    scheme = make_scheme(materialised)
    first = services.publish_scheme_version(scheme=scheme)
    assert services.publish_scheme_version(scheme=scheme) == first
    assert SchemeVersion.objects.filter(scheme=scheme).count() == 1
    assert AuditEvent.objects.filter(action="version", object_type="AssessmentScheme",
                                     object_id=str(scheme.pk)).count() == 1


def test_an_edited_scheme_becomes_a_new_version_and_old_scores_keep_the_old_one(materialised):
    county = materialised
    scheme = make_scheme(county)
    old_scores = services.score_period(scheme=scheme, start=YEAR[0], end=YEAR[1])
    v1 = SchemeVersion.objects.get(scheme=scheme)

    SchemeItem.objects.filter(scheme=scheme, code="county_visit_rate").update(weight=D(40))
    v2 = services.publish_scheme_version(scheme=scheme)
    assert (v2.number, v2.pk != v1.pk) == (2, True)
    v1.refresh_from_db()
    assert {i["code"]: i["weight"] for i in v1.items}["county_visit_rate"] == "20.00"  # unchanged
    assert {i["code"]: i["weight"] for i in v2.items}["county_visit_rate"] == "40.00"
    assert set(Score.objects.filter(pk__in=[s.pk for s in old_scores]).values_list("scheme_version", flat=True)) \
        == {v1.pk}

    new_scores = {s.unit_key: s for s in services.score_period(scheme=scheme, start=YEAR[0], end=YEAR[1])}
    assert {s.scheme_version_id for s in new_scores.values()} == {v2.pk}
    # the county's visit-rate item now weighs 40: 40 × (0.8529 − 0.80) / 0.10 = 21.16 instead of 10.58
    assert new_scores["county"].total == D("24.80") - D("10.58") + D("21.16")
    assert new_scores["county"].possible == 85
    assert Score.objects.filter(scheme_version=v1).count() == 5  # the old version's scores are kept
    assert Score.objects.filter(scheme_version=v2).count() == 5


def test_a_communitys_own_target_in_force_is_part_of_the_version(materialised):
    scheme = make_scheme(materialised)
    v1 = services.publish_scheme_version(scheme=scheme)
    IndicatorTarget.objects.create(community=materialised.community, code="county_visit_rate", target=D("0.85"),
                                   source="县卫健局 2025 年考核")
    v2 = services.publish_scheme_version(scheme=scheme)
    assert v2.number == v1.number + 1
    assert {i["code"]: i["target"] for i in v2.items}["county_visit_rate"] == "0.8500"
    county = {s.unit_key: s for s in services.score_period(scheme=scheme, start=YEAR[0], end=YEAR[1])}["county"]
    # 0.8529 now meets the target of 0.85: the full 20
    assert {d["code"]: D(d["points"]) for d in county.details}["county_visit_rate"] == D("20.00")
