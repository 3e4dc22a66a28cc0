"""Every registered indicator against the small hand-built county (tests/assessment/conftest.py, whose docstring
lists every row): the county, a member and, where the indicator breaks down by village, a village clinic, each
worked out here from the fixture's rows. Counts are written out in the comments; the arithmetic is the test's own
and only the rounding is the engine's (tests/assessment/helpers.py).

Period: the calendar year 2025 in local time, [2025-01-01, 2026-01-01)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from tests.assessment.conftest import YEAR, at
from tests.assessment.helpers import change_points, computed, growth, mean, per_10k, ratio

from countycare.assessment.definitions import all_indicators
from countycare.diagnostics.models import ExamRequest, ExamStatus

TESTED: set[str] = set()


def covers(*codes: str):
    """Marks the indicators a test works out, so an indicator without a test is noticed."""
    TESTED.update(codes)
    return lambda test: test


@pytest.fixture
def year(small_county):
    return computed(small_county, *YEAR)


def test_every_registered_indicator_is_worked_out_by_a_test_here():
    assert TESTED == {indicator.code for indicator in all_indicators()}


# --- where care happens (by the resident's home) -------------------------------------------------------------
#
# 2025 encounters by home, cancelled ones (10, 30) and those outside the period (15, the Y rows) left out:
#            visits                      in county        at branch/village       admissions   in county
# east_v1    1 2 3 4 5 6 7 8 9    = 9   9 − {4, 9} = 7    1 2 5 8      = 4        4 7    = 2     7      = 1
# east_v2    11 12 13 14 16       = 5   5              11 12 13     = 3        13 16  = 2     13 16  = 2
# east       17 18 19 20 21 22    = 6   6 − {21} = 5     17 18 19     = 3        19 21 22 = 3   19 22  = 2
# west_v1    23 24 25 26 27 28 29 = 7   7 − {29} = 6     23 24 25 28  = 4        26 28 29 = 3   26 28  = 2
# west_v2    31 32                = 2   2              31           = 1        —      = 0     —      = 0
# west       33 34 35 36 37       = 5   5 − {37} = 4     33           = 1        35     = 1     35     = 1
# member east (east, east_v1, east_v2): visits 20, in county 17, grassroots 10, admissions 7, in county 5
# member west (west, west_v1, west_v2): visits 14, in county 12, grassroots 6, admissions 4, in county 3
# county: visits 34, in county 29, grassroots 16, admissions 11, in county 8

@covers("county_visit_rate")
def test_the_county_visit_rate_counts_residents_visits_inside_the_county_over_all_their_visits(year):
    code = "county_visit_rate"
    assert year.value(code) == ratio(29, 34)
    assert (year.county(code).numerator, year.county(code).denominator) == (29, 34)
    assert year.value(code, "member", "east") == ratio(17, 20)
    assert year.value(code, "member", "west") == ratio(12, 14)
    assert year.value(code, "village", "east_v1") == ratio(7, 9)  # the partner's stay 4 and visit 9 are outside
    assert year.value(code, "village", "west_v2") == ratio(2, 2)  # 32 at the MCH hospital is in the county
    # the lead hospital, TCM and MCH hospitals have no residents: no row of their own
    assert year.member(code, "lead") is None and year.member(code, "tcm") is None


@covers("grassroots_visit_share")
def test_the_grassroots_share_counts_visits_at_branches_and_village_clinics(year):
    code = "grassroots_visit_share"
    assert year.value(code) == ratio(16, 34)
    assert year.value(code, "member", "east") == ratio(10, 20)
    assert year.value(code, "member", "west") == ratio(6, 14)  # the community centre is a branch too
    assert year.value(code, "village", "east_v1") == ratio(4, 9)  # 8 at the east branch at 00:00 on 1 January
    assert year.value(code, "village", "west_v1") == ratio(4, 7)


@covers("in_county_inpatient_share")
def test_the_in_county_inpatient_share_counts_admissions_not_discharges(year):
    code = "in_county_inpatient_share"
    assert year.value(code) == ratio(8, 11)  # 16 (admitted 29 Dec) and 22 (still in) count; Y2 was admitted in 2024
    assert year.value(code, "member", "east") == ratio(5, 7)
    assert year.value(code, "member", "west") == ratio(3, 4)
    assert year.value(code, "village", "east_v1") == ratio(1, 2)
    assert year.value(code, "village", "west_v1") == ratio(2, 3)  # the cancelled stay 30 is not an admission


@covers("out_of_county_inpatient_share")
def test_the_out_of_county_inpatient_share_is_the_admissions_at_the_partner_from_claims(year):
    code = "out_of_county_inpatient_share"
    assert year.value(code) == ratio(11 - 8, 11)  # 4, 21, 29
    assert year.value(code, "member", "east") == ratio(2, 7)  # 4, 21
    assert year.value(code, "member", "west") == ratio(1, 4)  # 29
    assert year.value(code, "village", "east_v1") == ratio(1, 2)
    assert year.value(code, "village", "west_v1") == ratio(1, 3)
    assert year.value(code, "village", "east_v2") == ratio(0, 2)


# 2024 admissions by home (Y9 cancelled): east_v1 Y2 lead, Y3 partner → 1 of 2 out; east_v2 Y4 lead, Y5 east → 0 of
# 2; east Y6 lead, Y7 east → 0 of 2; west_v1 Y8 partner → 1 of 1. Member east 1 of 6, west 1 of 1, county 2 of 7.
# The platform's record begins with Y1 on 2024-01-01, so the prior year is fully recorded.

@covers("out_of_county_inpatient_share_change")
def test_the_change_in_the_out_of_county_share_is_in_points_on_the_fully_recorded_year_before(year):
    code = "out_of_county_inpatient_share_change"
    county = year.county(code)
    assert (county.numerator, county.denominator) == (ratio(3, 11), ratio(2, 7))  # this year's share, last year's
    assert county.value == change_points(ratio(3, 11), ratio(2, 7)) == Decimal("-1.30")
    assert year.value(code, "member", "east") == change_points(ratio(2, 7), ratio(1, 6)) == Decimal("11.90")
    assert year.value(code, "member", "west") == change_points(ratio(1, 4), ratio(1, 1)) == Decimal("-75.00")
    assert year.value(code, "village", "west_v1") == change_points(ratio(1, 3), ratio(1, 1)) == Decimal("-66.67")
    assert year.value(code, "village", "east_v1") == change_points(ratio(1, 2), ratio(1, 2)) == 0
    assert year.village(code, "west_v2").value is None  # no admission this year: no share to compare


# --- referrals (by the sending organisation unless said) -------------------------------------------------------
# In 2025: R1–R14. R15 (2024-12-31 23:00) and R16 (2026-01-01 00:10) are outside the period.

@covers("up_referrals")
def test_up_referrals_are_counted_by_the_sender_and_rolled_up_from_the_village(year):
    code = "up_referrals"
    assert year.value(code) == 6  # R1–R6, the cancelled R5 and the open R6 included: requested in the period
    assert year.value(code, "member", "east") == 4  # east_v1 R1 R2, east R3, east_v2 R6
    assert year.value(code, "member", "west") == 2  # west_v1 R4, west R5
    assert year.value(code, "village", "east_v1") == 2
    assert year.value(code, "village", "west_v1") == 1
    assert year.village(code, "west_v2") is None  # R16 belongs to 2026


@covers("down_referrals")
def test_down_referrals_include_the_partner_hospitals_returns_at_the_county_only(year):
    code = "down_referrals"
    assert year.value(code) == 6  # lead R7 R8 R9, partner R12 R13, TCM hospital R14
    assert year.value(code, "member", "lead") == 3
    assert year.value(code, "member", "tcm") == 1
    assert year.get(code, f"member:{year.county_.orgs['partner'].pk}") is None  # not a member
    assert not any(key.startswith("village:") for key in year.units(code))  # no village level


@covers("out_of_county_referrals")
def test_out_of_county_referrals_are_the_lead_hospitals_slips_to_the_partner(year):
    code = "out_of_county_referrals"
    assert year.value(code) == 2  # R10, R11
    assert year.value(code, "member", "lead") == 2
    assert year.value(code, "member", "east") == 0  # east sent up-referrals only (R3): a row, with none of these


@covers("lead_down_referral_share")
def test_the_lead_hospitals_down_referral_share_is_per_discharge_without_cancelled_ones(year):
    code = "lead_down_referral_share"
    # down-referrals R7 R8 (R9 cancelled) over the lead's 2025 discharges Y2 (admitted 2024), 7 and 26; 16 leaves
    # in 2026, 22 is still in, 30 was entered in error
    assert year.value(code) == ratio(2, 3)
    assert year.value(code, "member", "lead") == ratio(2, 3)
    assert year.member(code, "east") is None  # a branch has no lead-hospital discharges


@covers("out_of_county_returns")
def test_returns_from_the_partner_are_counted_at_the_receiver(year):
    code = "out_of_county_returns"
    assert year.value(code) == 2  # R12 to east, R13 to lead
    assert year.value(code, "member", "east") == 1
    assert year.value(code, "member", "lead") == 1
    assert year.member(code, "west") is None  # R14 came down from the TCM hospital, not from the partner


@covers("referrals_completed")
def test_completed_referrals_are_counted_by_the_sender(year):
    code = "referrals_completed"
    assert year.value(code) == 6  # R1 R4 R7 R10 R12 R14 (R15, completed, was requested in 2024)
    assert year.value(code, "member", "east") == 1  # R1 from east_v1
    assert year.value(code, "member", "lead") == 2  # R7 R10
    assert year.value(code, "village", "east_v1") == 1
    assert year.value(code, "village", "west_v1") == 1  # R4


@covers("referrals_rejected")
def test_rejected_referrals_are_counted_by_the_sender(year):
    code = "referrals_rejected"
    assert year.value(code) == 1  # R2
    assert year.value(code, "member", "east") == 1
    assert year.value(code, "member", "west") == 0
    assert year.value(code, "village", "east_v1") == 1


@covers("referrals_expired")
def test_expired_referrals_are_counted_by_the_sender(year):
    code = "referrals_expired"
    assert year.value(code) == 1  # R3, sent by the east branch itself
    assert year.value(code, "member", "east") == 1
    assert year.value(code, "village", "east_v1") == 0


@covers("referral_completion_rate")
def test_the_completion_rate_is_over_the_referrals_that_have_closed(year):
    code = "referral_completion_rate"
    # closed: R1 ✓ R2 rejected R3 expired R4 ✓ R5 cancelled R7 ✓ R9 cancelled R10 ✓ R12 ✓ R14 ✓ (R6 R8 R11 R13 open)
    assert year.value(code) == ratio(6, 10)
    assert year.value(code, "member", "east") == ratio(1, 3)  # R1 R2 R3
    assert year.value(code, "member", "west") == ratio(1, 2)  # R4 R5
    assert year.value(code, "member", "lead") == ratio(2, 3)  # R7 R9 R10
    assert year.value(code, "village", "east_v1") == ratio(1, 2)  # R1 R2
    assert year.village(code, "east_v2") is None  # only R6, still open: nothing closed to rate


# --- cost and TCM (by the organisation that gave the care) ---------------------------------------------------
# Discharged in 2025 at in-county organisations (finished; the partner's stays are outside the county):
# lead Y2 10000 + 7 12000 + 26 8000 = 30000 over 3; east 13 2500 + 19 3500 = 6000 over 2; west 28 2000 over 1;
# TCM hospital 35 6000 over 1; county 44000 over 7. Not: 16 (leaves 2026-01-02), 22 (in hospital), 30 (✗).
# Discharged in 2024: lead Y4 8000 + Y6 8000 over 2; east Y5 2000 + Y7 2000 over 2; west Y9 was entered in error;
# county 20000 over 4.

@covers("inpatient_cost_per_stay")
def test_the_cost_per_stay_is_the_total_cost_of_stays_discharged_in_the_period_over_their_number(year):
    code = "inpatient_cost_per_stay"
    county = year.county(code)
    assert (county.numerator, county.denominator, county.value) == (44000, 7, mean(44000, 7))
    assert year.value(code, "member", "lead") == mean(30000, 3) == Decimal("10000.00")
    assert year.value(code, "member", "east") == mean(6000, 2)
    assert year.value(code, "member", "tcm") == mean(6000, 1)
    assert year.member(code, "partner") is None


@covers("inpatient_cost_per_stay_growth")
def test_the_cost_per_stay_grows_against_the_fully_recorded_year_before(year):
    code = "inpatient_cost_per_stay_growth"
    assert year.value(code) == growth(mean(44000, 7), mean(20000, 4)) == Decimal("0.2571")
    assert year.value(code, "member", "lead") == growth(mean(30000, 3), mean(16000, 2)) == Decimal("0.25")
    assert year.value(code, "member", "east") == growth(mean(6000, 2), mean(4000, 2)) == Decimal("0.5")
    assert year.member(code, "west").value is None  # its only 2024 stay was entered in error
    assert year.member(code, "tcm").value is None  # no stay a year earlier


# In-county visits in 2025 by the organisation that gave them (TCM ones marked *):
# east_v1 1 2 5* = 3 · east_v2 11 12 = 2 · east 8 13 17 18* 19 = 5 · west_v1 23 24* 25 = 3 · west_v2 31 = 1 ·
# west 28 33 = 2 · lead 3 6 7 16 20 22 26 27 34 = 9 · TCM hospital 14* 35* 36* = 3 · MCH 32 = 1; in all 29, TCM 6.
# 37 (TCM at the partner) is not an in-county visit.

@covers("tcm_visit_share")
def test_the_tcm_share_counts_in_county_tcm_visits_where_they_were_given(year):
    code = "tcm_visit_share"
    assert year.value(code) == ratio(6, 29)
    assert year.value(code, "member", "tcm") == ratio(3, 3)
    assert year.value(code, "member", "east") == ratio(2, 3 + 2 + 5)
    assert year.value(code, "member", "west") == ratio(1, 3 + 1 + 2)
    assert year.value(code, "member", "lead") == 0
    assert year.value(code, "village", "east_v1") == ratio(1, 3)
    assert year.value(code, "village", "east_v2") == 0


# --- shared centres ------------------------------------------------------------------------------------------
# Reported in 2025 (X12 acquired 2024-12-31 23:50, reported 2025-01-01 00:10, belongs to 2025; X9 and P1 to 2024):
# ECG        12 25 31 18 45 8 29 12 20 → sorted 8 12 12 18 20 25 29 31 45 (n 9)
# imaging    600 150 90 → sorted 90 150 600
# lab        100 300
# percentile_cont(f): h = f × (n − 1), x[⌊h⌋] + (h − ⌊h⌋) × (x[⌊h⌋ + 1] − x[⌊h⌋])

@covers("exam_turnaround_p50")
def test_the_median_turnaround_interpolates_as_percentile_cont_does(year):
    code = "exam_turnaround_p50"
    ecg = year.centre(code, "ecg")
    assert (ecg.numerator, ecg.denominator, ecg.value) == (9, None, Decimal(20))  # h = 4: x[4]
    assert year.centre(code, "imaging").value == 150  # h = 1
    assert year.centre(code, "lab").value == Decimal(100) + Decimal("0.5") * (300 - 100)  # h = 0.5: 200
    pathology = year.centre(code, "pathology")
    assert (pathology.numerator, pathology.value) == (0, None)  # nothing reported in 2025
    assert year.county(code) is None  # a percentile is not summed over centres


@covers("exam_turnaround_p95")
def test_the_95th_percentile_turnaround_interpolates_as_percentile_cont_does(year):
    code = "exam_turnaround_p95"
    assert year.centre(code, "ecg").value == Decimal(31) + Decimal("0.6") * (45 - 31)  # h = 7.6: 39.4
    assert year.centre(code, "imaging").value == Decimal(150) + Decimal("0.9") * (600 - 150)  # h = 1.9: 555
    assert year.centre(code, "lab").value == Decimal(100) + Decimal("0.95") * (300 - 100)  # h = 0.95: 290
    assert year.centre(code, "pathology").value is None


@covers("exam_within_target_share")
def test_reports_within_target_are_measured_against_the_priority_the_worklist_used(year):
    code = "exam_within_target_share"
    # ECG (routine/urgent 30, STAT 10): X1 12 ✓ X2 25 ✓ X3 31 ✗ X4 18 ✓ X5 45 ✗ X6 STAT 8 ✓ X7 urgent 29 ✓
    # X8 routine read as STAT 12 ✗ X12 20 ✓ → 6 of 9
    ecg = year.centre(code, "ecg")
    assert (ecg.numerator, ecg.denominator, ecg.value) == (6, 9, ratio(6, 9))
    # imaging (routine 1440, urgent 120): I1 600 ✓ I2 urgent 150 ✗ I3 90 ✓ → 2 of 3
    assert year.centre(code, "imaging").value == ratio(2, 3)
    # lab (routine 240): L1 100 ✓ L2 300 ✗ → 1 of 2
    assert year.centre(code, "lab").value == ratio(1, 2)
    assert year.centre(code, "pathology").value is None  # 0 of 0
    assert year.value(code) == ratio(6 + 2 + 1, 9 + 3 + 2)


@covers("remote_diagnoses_per_10k")
def test_remote_diagnoses_are_reports_from_a_centre_hosted_elsewhere_per_10k_residents_homed_there(year):
    code = "remote_diagnoses_per_10k"
    # reported in 2025 by a centre of another organisation, by requester: east_v1 X1 X7 X8 = 3; east_v2 X2 X12 L2
    # = 3; east X4 I1 = 2 (L1 is its own lab); west X3 I2 = 2; TCM hospital X5 = 1; lead none (X6, I3 its own)
    # residents: east_v1 3 (the merged duplicate not counted), east_v2 2, east 2, west_v1 2, west_v2 2, west 2
    assert year.value(code) == per_10k(3 + 3 + 2 + 2 + 1, 13)
    assert year.value(code, "member", "east") == per_10k(3 + 3 + 2, 3 + 2 + 2)
    assert year.value(code, "member", "west") == per_10k(2, 2 + 2 + 2)
    assert year.value(code, "village", "east_v2") == per_10k(3, 2) == Decimal("15000.00")
    assert year.value(code, "village", "west_v2") == 0
    tcm = year.member(code, "tcm")
    assert (tcm.numerator, tcm.denominator, tcm.value) == (1, 0, None)  # nobody is homed at the TCM hospital


@covers("village_ecg_coverage")
def test_village_ecg_coverage_counts_active_clinics_that_requested_an_ecg_in_the_period(year):
    code = "village_ecg_coverage"
    # requested in 2025 and not cancelled: east_v1 (X1 X7 X8), east_v2 (X2), west_v1 (X10, still waiting);
    # west_v2 only X11, cancelled; west_v3 is closed and not counted at all
    assert year.value(code) == ratio(3, 4)
    assert year.value(code, "member", "east") == ratio(2, 2)
    assert year.value(code, "member", "west") == ratio(1, 2)
    assert year.value(code, "village", "west_v1") == 1
    assert year.value(code, "village", "west_v2") == 0
    assert year.village(code, "west_v3") is None


@covers("exams_avoided")
def test_exams_avoided_count_orders_that_used_a_recognised_result(year):
    code = "exams_avoided"
    assert year.value(code) == 3  # east_v1 ×2, west ×1 (the repeats and the 2024 check not counted)
    assert year.value(code, "member", "east") == 2
    assert year.value(code, "member", "west") == 1
    assert year.value(code, "member", "lead") == 0  # it repeated one
    assert year.value(code, "village", "east_v1") == 2


# --- doctors posted down ---------------------------------------------------------------------------------------
# east: the lead's chief physician (two stints, one doctor) and attending (until 2025-01-01, the first day) → 2;
# west: none (associate chief until 2024-12-31, a resident physician, a chief from 2026, an east attending).

@covers("posted_seniors_per_10k")
def test_posted_senior_doctors_are_distinct_lead_hospital_doctors_of_attending_rank_per_10k_residents(year):
    code = "posted_seniors_per_10k"
    assert year.value(code) == per_10k(2, 13)
    assert year.value(code, "member", "east") == per_10k(2, 7)
    assert year.value(code, "member", "west") == per_10k(0, 6) == 0


@covers("branches_without_posted_senior")
def test_a_branch_without_a_posted_senior_is_counted(year):
    code = "branches_without_posted_senior"
    assert year.value(code) == 1
    assert year.value(code, "member", "east") == 0
    assert year.value(code, "member", "west") == 1
    assert year.member(code, "lead") is None  # not a branch


def test_an_exam_reported_exactly_at_its_target_is_within_it(small_county):
    x1 = small_county.exams["X1"]
    # an ECG acquired on the hour every hour of 1 March 2027 and reported 30 minutes later: the routine target
    ExamRequest.objects.bulk_create(
        ExamRequest(community=small_county.community, resident=x1.resident, exam_type=x1.exam_type,
                    centre=x1.centre, requesting_organization=x1.requesting_organization, clinical_question="请诊断",
                    status=ExamStatus.PUBLISHED, accession_number=f"ON-TARGET-{hour}", requested_at=start,
                    acquired_at=start, reported_at=start + dt.timedelta(minutes=30))
        for hour, start in ((hour, at(2027, 3, 1, hour)) for hour in range(24)))
    day = computed(small_county, dt.date(2027, 3, 1), dt.date(2027, 3, 2), codes=["exam_within_target_share"])
    ecg = day.centre("exam_within_target_share", "ecg")
    assert (ecg.numerator, ecg.denominator) == (24, 24)
