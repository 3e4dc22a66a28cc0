"""In a real browser (Debian Chromium): the community administrator opens the dashboard of a materialised year,
the monthly trend charts draw (ECharts, SVG), a headline card carries its definition on hover and leads to the
indicator's page, the breakdown leads to a member, and the member's records behind the number open. Four months
of activity (tests/assessment/page_helpers.py) give the charts their points. No screenshots are kept."""

from __future__ import annotations

import pytest
from tests.assessment.page_helpers import live_months  # noqa: F401  (fixture)
from tests.conftest import PASSWORD
from tests.web.conftest import chromium, page, sign_in  # noqa: F401  (fixtures)

from countycare.assessment.definitions import get
from countycare.assessment.views import TREND_CODES

pytestmark = pytest.mark.browser

CHARTS_READY = """selector => {
  const nodes = [...document.querySelectorAll(selector)];
  return nodes.length > 0 && nodes.every(n => n.dataset.ready === "1" && n.querySelector("svg"));
}"""


def test_the_administrator_reads_the_dashboard_down_to_a_members_records(live_months, live_server, page):  # noqa: F811
    county = live_months
    base = live_server.url
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, base, "community_admin", PASSWORD)

    # -- the dashboard of the year: headline, and a chart per trend with the four months on its axis
    page.goto(f"{base}/assessment/")
    assert "统计期 2025-01-01 – 2025-12-31" in page.locator(".subtitle").inner_text()
    page.wait_for_function(CHARTS_READY, arg="[data-trends] [data-trend]")
    assert page.locator("[data-trend] svg").count() == len(TREND_CODES)
    visits = page.locator("[data-testid=trend-county_visit_rate] svg")
    assert all(month in visits.text_content() for month in ("2025-01", "2025-02", "2025-03", "2025-04"))
    assert visits.locator("path").count() > 3  # axes, the line, the target
    card = page.locator("[data-testid=kpi-county_visit_rate]")
    assert card.locator(".kpi-value").inner_text().startswith("85.2%")  # 7+10+13+16 of 9+12+15+18 visits

    # -- the card explains itself on hover and leads to the indicator's page
    card.hover()
    assert get("county_visit_rate").question in card.get_attribute("title")
    card.click()
    page.wait_for_url("**/assessment/indicators/county_visit_rate/**")
    assert get("county_visit_rate").numerator in page.locator("[data-testid=definition]").inner_text()
    page.wait_for_function(CHARTS_READY, arg="[data-trend=county_visit_rate]")

    # -- the breakdown leads to a member: 东镇分院 and its village clinics
    east = county.orgs["east"]
    page.locator("[data-testid=indicator-breakdown] a", has_text=east.name).click()
    page.wait_for_url(f"**unit=member:{east.pk}**")
    assert east.name in page.locator("h1").inner_text() or east.name in page.locator(".subtitle").inner_text()
    breakdown = page.locator("[data-testid=indicator-breakdown]").inner_text()
    assert "东村卫生室" in breakdown and "南村卫生室" in breakdown and "西村卫生室" not in breakdown
    page.wait_for_function(CHARTS_READY, arg="[data-trend=county_visit_rate]")

    # -- and the records behind the member's number
    page.click("[data-testid=records-link]")
    page.wait_for_url("**/assessment/indicators/county_visit_rate/records/**")
    rows = page.locator("[data-testid=records] tbody tr")
    assert rows.count() > 0
    listed = rows.all_inner_texts()
    assert any("张三" in r for r in listed) and not any("王五" in r for r in listed)  # 王五 lives under 西镇
    assert "计入分子" in page.locator(".subtitle").inner_text()
    assert errors == []
