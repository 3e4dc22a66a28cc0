"""The assessment pages for the cast of the test county: the dashboard (headline, period, drill-down to a member's
village clinics), an indicator's page with its definition, the monthly trends, computing a period on demand, the
printable report, and the numbers on the clinician's and the bureau's home pages. The activity behind the numbers
is described in tests/assessment/page_helpers.py."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from tests.assessment.page_helpers import (
    MONTH,
    STAFF_USERS,
    YEAR,
    add_month,
    key_of,
    kpis,
    march,  # noqa: F401  (fixture)
    materialise_month,
    prepare,
    stored,
    text_of,
)
from tests.web.conftest import as_role  # noqa: F401  (fixture)

from countycare.assessment.definitions import all_indicators, get
from countycare.assessment.models import ComputationRun, IndicatorResult, PeriodKind
from countycare.assessment.views import TREND_CODES

PAGES = ["/assessment/", "/assessment/indicators/county_visit_rate/",
         "/assessment/indicators/county_visit_rate/records/", "/assessment/trends.json", "/assessment/report/"]


def percent(value) -> str:
    return f"{value * 100:.1f}%"


@pytest.mark.parametrize("role", STAFF_USERS)
def test_every_staff_role_opens_the_dashboard(county, as_role, role):  # noqa: F811
    assert as_role(role).get("/assessment/").status_code == 200


@pytest.mark.parametrize("path", PAGES)
def test_a_resident_is_refused_every_assessment_page(march, as_role, path):  # noqa: F811
    assert as_role("resident").get(path).status_code == 403


def test_with_nothing_materialised_the_dashboard_says_so(county, as_role):  # noqa: F811
    body = as_role("community_admin").get("/assessment/").content.decode()
    assert "尚未计算" in body
    assert 'data-testid="headline"' not in body and 'data-testid="report-link"' not in body


def test_the_dashboard_shows_the_stored_headline_the_period_and_when_it_was_computed(county, march, as_role):  # noqa: F811
    body = as_role("community_admin").get("/assessment/").content.decode()  # the only period: March
    shown = kpis(body)
    assert shown["county_visit_rate"] == percent(stored(march, "county_visit_rate").value) == "77.8%"  # 7 of 9
    assert shown["grassroots_visit_share"] == percent(stored(march, "grassroots_visit_share").value) == "44.4%"
    assert shown["referral_completion_rate"] == "50.0%"  # 2 completed of 4 closed (the open down-referral waits)
    assert shown["up_referrals"] == "3"
    assert shown["inpatient_cost_per_stay"] == "5,500.00"  # (8,000 + 3,000) / 2 in-county discharges
    assert shown["exam_within_target_share"] == "50.0%"  # the ECG in 12 minutes, not the panel in 300
    assert "统计期 2025-03-01 – 2025-03-31 · 由平台业务数据于 2025-04-01 02:00 计算" in text_of(body)
    assert f'?period={key_of(march)}' in body  # the report and Excel links name the period


def test_the_headline_shows_every_county_result_of_the_period(county, march, as_role):  # noqa: F811
    body = as_role("bureau_viewer").get(f"/assessment/?period={key_of(march)}").content.decode()
    county_codes = set(IndicatorResult.objects.filter(run=march, level="county").values_list("code", flat=True))
    assert set(kpis(body)) == county_codes


def test_a_member_drill_down_shows_the_member_and_its_village_clinics(county, march, as_role):  # noqa: F811
    east = county.orgs["east"]
    body = as_role("community_admin").get(f"/assessment/?period={key_of(march)}&unit=member:{east.pk}").content.decode()
    assert re.search(r'<span class="h1-meta">城关县人民医院东镇分院</span>', body)
    assert kpis(body)["county_visit_rate"] == percent(stored(march, "county_visit_rate", f"member:{east.pk}").value) \
        == "66.7%"  # 张三 2 of 3, 曾丽 1 of 1, 李四 1 of 2
    breakdown = body.split('data-testid="breakdown"')[1].split("</section>")[0]
    assert "东村卫生室" in breakdown and "南村卫生室" in breakdown
    assert "西村卫生室" not in breakdown and "西镇分院" not in breakdown
    assert 'data-testid="league"' not in body  # the league table is the county's


def test_the_county_breakdown_links_each_member(county, march, as_role):  # noqa: F811
    body = as_role("community_admin").get("/assessment/").content.decode()
    breakdown = body.split('data-testid="breakdown"')[1].split("</section>")[0]
    for key in ("lead", "east", "west"):
        assert f"unit=member:{county.orgs[key].pk}" in breakdown


def test_an_unknown_period_is_not_found(county, march, as_role):  # noqa: F811
    client = as_role("community_admin")
    for path in PAGES[:3] + ["/assessment/report/", "/assessment/report.xlsx"]:
        assert client.get(path, {"period": "2024-01-01_2024-02-01"}).status_code == 404, path


@pytest.mark.parametrize("unit", ["xyz", "member:abc", "member:", "member:²", "member:99999999999999999999",
                                  "centre:abc", "OTHER"])
@pytest.mark.parametrize("path", PAGES[:3])
def test_a_malformed_or_foreign_unit_is_a_client_error_never_a_server_error(county, march, as_role,  # noqa: F811
                                                                             other_community, unit, path):
    if unit == "OTHER":  # an organisation of the neighbouring community
        unit = f"member:{other_community['organization'].pk}"
    response = as_role("community_admin").get(path, {"unit": unit, "period": key_of(march)})
    assert 400 <= response.status_code < 500


def test_the_indicator_page_shows_its_definition_and_number(county, march, as_role):  # noqa: F811
    indicator = get("county_visit_rate")
    response = as_role("township_doctor").get(f"/assessment/indicators/county_visit_rate/?period={key_of(march)}")
    assert response.status_code == 200
    body = response.content.decode()
    definition = text_of(body.split('data-testid="definition"')[1].split("</dl>")[0])
    for part in (indicator.question, indicator.numerator, indicator.denominator, indicator.target_source):
        assert part in definition
    assert "目标 90.0% " in definition  # the policy's target (a ratio of 0.90), shown as the value is
    assert kpis(body)["county_visit_rate"] == "77.8%"
    breakdown = body.split('data-testid="indicator-breakdown"')[1].split("</section>")[0]
    assert f"unit=member:{county.orgs['east'].pk}" in breakdown  # drills down to the members


def test_an_unknown_indicator_is_not_found(county, march, as_role):  # noqa: F811
    client = as_role("community_admin")
    assert client.get("/assessment/indicators/no_such_thing/").status_code == 404
    assert client.get("/assessment/indicators/no_such_thing/records/").status_code == 404


def test_the_trends_are_monthly_series_of_the_stored_values(county, as_role):  # noqa: F811
    prepare(county)
    runs = []
    for n, month in enumerate((1, 2, 3)):
        add_month(county, YEAR, month, extra=n)
        runs.append(materialise_month(county, YEAR, month))
    data = json.loads(as_role("bureau_viewer").get("/assessment/trends.json").content)
    assert data["unit"] == "county"
    assert [s["code"] for s in data["series"]] == list(TREND_CODES)
    visits = data["series"][0]
    assert visits["months"] == ["2025-01", "2025-02", "2025-03"]
    assert visits["values"] == [round(float(stored(r, "county_visit_rate").value) * 100, 2) for r in runs] \
        == [77.78, 80.0, 81.82]  # 7/9, 8/10, 9/11
    assert visits["percent"] is True and visits["target"] == 90.0
    one = json.loads(as_role("bureau_viewer").get(
        f"/assessment/trends.json?code=up_referrals&unit=member:{county.orgs['east'].pk}").content)
    # 东村's and 东镇's each month
    assert [(s["code"], s["values"], s["percent"]) for s in one["series"]] == [("up_referrals", [2, 2, 2], False)]


# --- computing a period on demand ----------------------------------------------------------------------------

def test_the_administrator_computes_a_custom_period_and_is_taken_to_it(county, as_role):  # noqa: F811
    prepare(county)
    add_month(county)
    response = as_role("community_admin").post("/assessment/compute/", {"start": "2025-03-01", "end": "2025-03-15"})
    run = ComputationRun.objects.get()
    assert (run.period_kind, run.period_start, run.period_end) == (PeriodKind.CUSTOM, dt.date(2025, 3, 1),
                                                                    dt.date(2025, 3, 16))  # the last day included
    assert response.status_code == 302 and response["Location"] == "/assessment/?period=2025-03-01_2025-03-16"
    body = as_role("community_admin").get(response["Location"]).content.decode()
    assert "统计期 2025-03-01 – 2025-03-15" in text_of(body)
    assert kpis(body)["up_referrals"] == "3"  # all three were requested by the 8th


@pytest.mark.parametrize("role", [u for u in STAFF_USERS if u != "community_admin"] + ["resident"])
def test_only_the_administrator_may_compute(county, as_role, role):  # noqa: F811
    response = as_role(role).post("/assessment/compute/", {"start": "2025-03-01", "end": "2025-03-31"})
    assert response.status_code == 403
    assert not ComputationRun.objects.exists()


def test_a_period_ending_before_it_starts_is_refused_with_a_message(county, as_role):  # noqa: F811
    client = as_role("community_admin")
    response = client.post("/assessment/compute/", {"start": "2025-03-10", "end": "2025-03-01"}, follow=True)
    assert response.status_code == 200
    assert "结束日期不能早于开始日期。" in response.content.decode()
    assert not ComputationRun.objects.exists() and not IndicatorResult.objects.exists()


def test_computing_is_a_post(county, as_role):  # noqa: F811
    assert as_role("community_admin").get("/assessment/compute/").status_code == 405


# --- cost, report, home pages --------------------------------------------------------------------------------

def test_the_dashboard_runs_a_bounded_number_of_queries(county, march, as_role,  # noqa: F811
                                                        django_assert_max_num_queries):
    client = as_role("community_admin")
    client.get("/assessment/")
    # 15 today: session and user; the periods (twice); the targets (the policy numbers are kept in the process),
    # organisation and centre names, once for the page; the county's results, its members' and the centres'; the
    # members' keys; the league; the navigation's community, practitioner and organisation. (22 when each of the
    # three reads of results read the targets and names again.) Two to spare, but a query per indicator or per
    # unit would break it.
    with django_assert_max_num_queries(17):
        response = client.get(f"/assessment/?period={key_of(march)}")
    assert response.status_code == 200


def test_the_printable_report_has_the_county_table_and_the_definitions(county, march, as_role):  # noqa: F811
    response = as_role("bureau_viewer").get(f"/assessment/report/?period={key_of(march)}")
    assert response.status_code == 200
    body = text_of(response.content.decode())
    assert "城关县医共体" in body and "2025-03-01 – 2025-03-31" in body
    county_part = body.split("一、")[1].split("二、")[0]
    assert "县域就诊率 77.8%" in county_part  # the value beside its name
    assert "转诊完成率 50.0%" in county_part
    definitions = body.split("五、")[1]
    for indicator in all_indicators():
        assert indicator.name in definitions and indicator.numerator in definitions, indicator.code


def test_the_report_needs_a_computed_period(county, as_role):  # noqa: F811
    assert as_role("community_admin").get("/assessment/report/").status_code == 404


@pytest.mark.parametrize(("role", "unit"), [("township_doctor", "east"), ("village_doctor", "east_v1")])
def test_a_clinicians_home_shows_their_units_numbers_once_a_month_is_materialised(county, as_role,  # noqa: F811
                                                                                    role, unit):
    client = as_role(role)
    assert "本单位指标" not in client.get("/").content.decode()
    prepare(county)
    add_month(county)
    run = materialise_month(county)
    body = client.get("/").content.decode()
    section = body.split('data-testid="home-indicators"')[1].split("</section>")[0]
    assert "本单位指标" in section and county.orgs[unit].name in section and f"{YEAR}-{MONTH:02d}" in section
    level = "member" if unit == "east" else "village"
    assert kpis(section)["county_visit_rate"] == percent(stored(run, "county_visit_rate",
                                                                f"{level}:{county.orgs[unit].pk}").value)


def test_the_bureaus_home_shows_the_headline(county, march, as_role):  # noqa: F811
    body = as_role("bureau_viewer").get("/").content.decode()
    section = body.split('data-testid="bureau-headline"')[1].split("</section>")[0]
    shown = kpis(section)
    assert shown["county_visit_rate"] == "77.8%" and shown["inpatient_cost_per_stay"] == "5,500.00"
    assert "up_referrals" not in shown  # the bureau's home shows the headline only; the dashboard has the rest
