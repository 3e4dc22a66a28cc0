"""Periods at their edges: year-on-year changes only against a fully recorded year, periods with no activity, and
units whose denominator is zero (a value of None, never a ZeroDivisionError). The small county is described in
tests/assessment/conftest.py; its platform record begins with encounter Y1 at 2024-01-01 09:00."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from tests.assessment.conftest import YEAR, at, build_small_county
from tests.assessment.helpers import Results, computed, growth, mean, per_10k, ratio

from countycare.assessment import engine
from countycare.assessment.definitions import COUNT, DIRECT, MEAN, PER_10K, RATIO, all_indicators, get
from countycare.assessment.facts import Period
from countycare.core.models import Community
from countycare.records.models import Encounter

CHANGES = ("out_of_county_inpatient_share_change", "inpatient_cost_per_stay_growth")


def _move_first_encounter(county, when: dt.datetime) -> None:
    Encounter.objects.filter(pk=county.encounters["Y1"].pk).update(started_at=when, ended_at=when)


# --- year on year ----------------------------------------------------------------------------------------------

def test_a_prior_year_whose_record_begins_during_its_first_day_counts_as_fully_recorded(small_county):
    period = Period(small_county.community.pk, *YEAR)
    assert period.prior_year() == Period(small_county.community.pk, dt.date(2024, 1, 1), dt.date(2025, 1, 1))
    assert period.prior_year().fully_recorded()  # Y1 at 09:00 on 1 January 2024
    _move_first_encounter(small_county, at(2024, 1, 1, 23, 59))
    assert Period(small_county.community.pk, *YEAR).prior_year().fully_recorded()


def test_no_change_is_computed_when_the_record_begins_a_day_into_the_prior_year(small_county):
    _move_first_encounter(small_county, at(2024, 1, 2, 0, 0))
    year = computed(small_county, *YEAR, codes=CHANGES)
    assert year.rows, "the units of this year are still listed"
    for row in year.rows.values():
        assert (row.denominator, row.value) == (None, None), row
    # this year's own value is still given: 3 of 11 admissions out of the county, 44000 yuan over 7 stays
    assert year.county("out_of_county_inpatient_share_change").numerator == ratio(3, 11)
    assert year.county("inpatient_cost_per_stay_growth").numerator == mean(44000, 7)


def test_no_change_is_computed_when_the_record_begins_inside_the_prior_period(small_county):
    # July 2024 – June 2025 against July 2023 – June 2024: the record only begins in January 2024
    start, end = dt.date(2024, 7, 1), dt.date(2025, 7, 1)
    assert not Period(small_county.community.pk, start, end).prior_year().fully_recorded()
    both = computed(small_county, start, end, codes=[*CHANGES, "out_of_county_inpatient_share"])
    for code in CHANGES:
        assert both.units(code), code
        assert all(both.get(code, key).value is None for key in both.units(code)), code
    # this period's own share is still given: admitted July 2024 – June 2025 were Y2 Y5 Y7 Y8 (Y9 ✗) and 4 21 26
    # 28 29 (30 ✗), of them at the partner Y8 4 21 29
    assert both.value("out_of_county_inpatient_share") == ratio(4, 9)
    assert both.county("out_of_county_inpatient_share_change").numerator == ratio(4, 9)


def test_growth_against_a_year_whose_stays_cost_nothing_is_not_computed(small_county):
    # the east branch's 2024 stays (Y5, Y7) recorded without cost: a mean of 0 to grow from
    Encounter.objects.filter(pk__in=[small_county.encounters["Y5"].pk, small_county.encounters["Y7"].pk]).update(
        cost_drugs=0, cost_beds=0, cost_total=0)
    year = computed(small_county, *YEAR, codes=["inpatient_cost_per_stay_growth"])
    east = year.member("inpatient_cost_per_stay_growth", "east")
    assert (east.numerator, east.denominator, east.value) == (mean(6000, 2), 0, None)
    # the county's 2024 mean is now 16000 over 4 stays
    assert year.value("inpatient_cost_per_stay_growth") == growth(mean(44000, 7), mean(16000, 4))


# --- periods with no activity ----------------------------------------------------------------------------------

# The county in 2030, when nothing happened: counts are 0 and ratios have nothing to divide; what is counted over
# organisations or residents rather than activity still has its denominator.
EMPTY_2030 = {
    "county_visit_rate": None, "grassroots_visit_share": None, "in_county_inpatient_share": None,
    "out_of_county_inpatient_share": None, "out_of_county_inpatient_share_change": None, "up_referrals": 0,
    "down_referrals": 0, "out_of_county_referrals": 0, "lead_down_referral_share": None,
    "out_of_county_returns": 0, "referrals_completed": 0, "referrals_rejected": 0, "referrals_expired": 0,
    "referral_completion_rate": None, "inpatient_cost_per_stay": None, "inpatient_cost_per_stay_growth": None,
    "tcm_visit_share": None, "exam_within_target_share": None,
    "remote_diagnoses_per_10k": 0,  # 0 over 13 residents
    "village_ecg_coverage": 0,  # 0 of the 4 active village clinics
    "exams_avoided": 0,
    # the chief posted to west from 2026-01-01 (no end) is still there; east's postings have all ended
    "posted_seniors_per_10k": per_10k(1, 13),
    "branches_without_posted_senior": 1,
}


def test_a_period_without_activity_has_zero_counts_and_no_ratios(small_county):
    empty = computed(small_county, dt.date(2030, 1, 1), dt.date(2031, 1, 1))
    county = {code: empty.county(code).value for code, _unit in empty.rows if empty.county(code) is not None}
    assert county == EMPTY_2030
    direct = {i.code for i in all_indicators() if i.form == DIRECT}
    assert set(EMPTY_2030) | direct == {i.code for i in all_indicators()}
    for code in direct:
        for centre in small_county.centres:
            assert (empty.centre(code, centre).numerator, empty.centre(code, centre).value) == (0, None)
    for code in ("county_visit_rate", "up_referrals", "inpatient_cost_per_stay"):
        assert empty.units(code) == {"county"}, code  # no member or village row without activity


def test_a_community_with_nothing_registered_computes_without_error(db):
    community = Community.objects.create(name="新县医共体", county_name="新县", division_code="330199")
    results = engine.compute(Period(community.pk, dt.date(2025, 1, 1), dt.date(2026, 1, 1)))
    assert {r.unit_key for r in results} == {"county"}
    for r in results:
        form = get(r.code).form
        assert r.value == (0 if form == COUNT else None), r


def test_a_day_holds_what_started_in_it_in_local_time(small_county):
    # 31 December 2025: encounter 12 at 23:30 counts; 15 at 00:30 on 1 January (16:30 UTC on the 31st) does not
    day = computed(small_county, dt.date(2025, 12, 31), dt.date(2026, 1, 1), codes=["county_visit_rate"])
    east_v2 = day.village("county_visit_rate", "east_v2")
    assert (east_v2.numerator, east_v2.denominator) == (1, 1)
    new_year = computed(small_county, dt.date(2026, 1, 1), dt.date(2026, 1, 2), codes=["county_visit_rate"])
    assert new_year.village("county_visit_rate", "east_v2").denominator == 1  # 15


# --- zero denominators -----------------------------------------------------------------------------------------

def test_a_value_over_a_zero_denominator_is_none():
    for form in (RATIO, PER_10K, MEAN):
        assert engine.value_of(form, Decimal(0), Decimal(0)) is None, form
        assert engine.value_of(form, Decimal(3), Decimal(0)) is None, form
        assert engine.value_of(form, None, None) is None, form
    assert engine.value_of(COUNT, Decimal(0), Decimal(0)) == 0
    assert engine.value_of(COUNT, Decimal(2), None) == 2


def test_units_whose_denominator_is_zero_are_listed_without_a_value(small_county):
    year = computed(small_county, *YEAR)
    # west_v2's residents had two visits and no admission: no inpatient share, not 0 %
    for code in ("in_county_inpatient_share", "out_of_county_inpatient_share"):
        row = year.village(code, "west_v2")
        assert (row.numerator, row.denominator, row.value) == (0, 0, None), code
    # the TCM hospital asked a centre for one report and has nobody homed there
    tcm = year.member("remote_diagnoses_per_10k", "tcm")
    assert (tcm.numerator, tcm.denominator, tcm.value) == (1, 0, None)
    # the pathology centre reported nothing in 2025
    assert year.centre("exam_within_target_share", "pathology").value is None


def test_a_second_county_on_the_platform_is_not_counted(small_county):
    other = build_small_county()
    mine, theirs = (Results(c, engine.compute(Period(c.community.pk, *YEAR))) for c in (small_county, other))
    assert mine.county("county_visit_rate").denominator == theirs.county("county_visit_rate").denominator == 34
    assert mine.value("remote_diagnoses_per_10k") == theirs.value("remote_diagnoses_per_10k")
