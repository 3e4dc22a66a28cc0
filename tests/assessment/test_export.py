"""The Excel export (/assessment/report.xlsx): a workbook openpyxl opens, with the report's sheets, every indicator
defined, and the county's numbers equal to what the dashboard shows for the same period."""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO

import pytest
from openpyxl import load_workbook
from tests.assessment.page_helpers import (
    YEAR,
    add_month,
    key_of,
    kpis,
    materialise_month,
    materialise_year,
    number,
    prepare,
    shown_precision,
)
from tests.web.conftest import as_role  # noqa: F401  (fixture)

from countycare.assessment import services
from countycare.assessment.definitions import PENDING, all_indicators
from countycare.assessment.models import IndicatorResult, Score

SHEETS = ["说明 About", "指标定义 Definitions", "县域 County", "成员单位 Members", "村卫生室 Villages",
          "诊断中心 Centres", "评分 Scores"]


@pytest.fixture
def year(county):
    """Three months of activity under the default assessment scheme; each month and the year materialised."""
    services.ensure_default_scheme(community_id=county.community.pk)
    prepare(county)
    for n, month in enumerate((1, 2, 3)):
        add_month(county, YEAR, month, extra=n)
        materialise_month(county, YEAR, month)
    county.run = materialise_year(county)
    return county


def workbook(client, run):
    response = client.get(f"/assessment/report.xlsx?period={key_of(run)}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"] == f'attachment; filename="assessment-{key_of(run)}.xlsx"'
    return load_workbook(BytesIO(response.content))


def rows(sheet) -> list[tuple]:
    return list(sheet.iter_rows(min_row=2, values_only=True))


def test_the_workbook_opens_with_the_reports_sheets(year, as_role):  # noqa: F811
    book = workbook(as_role("bureau_viewer"), year.run)
    assert book.sheetnames == SHEETS
    about = {row[0]: row[1] for row in book["说明 About"].iter_rows(values_only=True) if row[0]}
    assert about["医共体 Community"] == "城关县医共体"
    assert about["统计期 Period"] == "2025-01-01 – 2025-12-31"


def test_every_indicator_is_defined_in_the_workbook(year, as_role):  # noqa: F811
    book = workbook(as_role("community_admin"), year.run)
    defined = {row[0]: row for row in rows(book["指标定义 Definitions"])}
    for indicator in all_indicators():
        code, name, _en, question, numerator, denominator, *_rest = defined[indicator.code]
        assert (name, question, numerator, denominator) == (indicator.name, indicator.question, indicator.numerator,
                                                            indicator.denominator)
    assert {p.code for p in PENDING} <= set(defined)  # and the ones waiting for their module
    assert defined["county_visit_rate"][8] == 0.9  # the target in force (the policy's)


@pytest.mark.parametrize("which", ["year", "month"])
def test_the_county_sheet_has_the_numbers_the_dashboard_shows(year, as_role, which):  # noqa: F811
    client = as_role("community_admin")
    months = IndicatorResult.objects.filter(period_kind="month")
    run = year.run if which == "year" else months.latest("period_start").run
    shown = kpis(client.get(f"/assessment/?period={key_of(run)}").content.decode())
    sheet = {row[1]: row for row in rows(workbook(client, run)["县域 County"])}
    assert set(sheet) == set(shown) and len(sheet) > 15
    for code, text in shown.items():
        value = sheet[code][5]
        if text == "—":
            assert value is None, code
        else:
            assert value is not None and abs(number(text) - Decimal(str(value))) <= shown_precision(text), \
                (code, text, value)
    expected = {"year": ("80.0%", 24 / 30), "month": ("81.8%", 9 / 11)}[which]
    assert (shown["county_visit_rate"], sheet["county_visit_rate"][5]) == (expected[0], pytest.approx(expected[1],
                                                                                                      abs=1e-4))


def test_each_level_sheet_has_a_row_per_stored_result(year, as_role):  # noqa: F811
    book = workbook(as_role("community_admin"), year.run)
    levels = (("成员单位 Members", "member"), ("村卫生室 Villages", "village"), ("诊断中心 Centres", "centre"))
    for title, level in levels:
        stored = IndicatorResult.objects.filter(run=year.run, level=level)
        listed = rows(book[title])
        assert len(listed) == stored.count() > 0, title
        assert {r[1] for r in listed} == set(stored.values_list("code", flat=True))
    centre_names = {r[0] for r in rows(book["诊断中心 Centres"])}
    assert {"心电诊断中心", "医学检验中心"} <= centre_names
    village_names = {r[0] for r in rows(book["村卫生室 Villages"])}
    assert {"东村卫生室", "南村卫生室", "西村卫生室"} == village_names


def test_the_scores_sheet_ranks_the_members(year, as_role):  # noqa: F811
    scores = rows(workbook(as_role("community_admin"), year.run)["评分 Scores"])
    stored = Score.objects.filter(period_start=year.run.period_start, period_end=year.run.period_end)
    assert len(scores) == stored.count() > 1
    ranks = [r[0] for r in scores if r[0] is not None]
    assert ranks == list(range(1, len(ranks) + 1))
    assert "全县 County" in {r[1] for r in scores}


def test_a_resident_may_not_export(year, as_role):  # noqa: F811
    assert as_role("resident").get(f"/assessment/report.xlsx?period={key_of(year.run)}").status_code == 403


def test_there_is_nothing_to_export_before_a_computation(county, as_role):  # noqa: F811
    assert as_role("community_admin").get("/assessment/report.xlsx").status_code == 404
