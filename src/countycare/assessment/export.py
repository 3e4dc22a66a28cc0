"""The assessment report of a period as an Excel workbook: a definitions sheet, one sheet per level (county,
members, village clinics, centres) and the scores. Numbers are written as numbers (percentages formatted as such),
so the bureau can recompute from them."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from countycare.core.models import Community

from . import queries, services
from .definitions import CENTRE, COUNTY, LEVEL_NAMES, MEMBER, PENDING, VILLAGE, Indicator
from .engine import all_indicators

HEADER = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="0F6F8F")
STATUS_FILL = {queries.GOOD: "D1FADF", queries.NEAR: "FEF0C7", queries.BAD: "FEE4E2"}
STATUS_TEXT = {queries.GOOD: "达标 met", queries.NEAR: "接近 near", queries.BAD: "未达标 not met", queries.NONE: ""}


def number_format(indicator: Indicator) -> str:
    if indicator.percent:
        return "0.0%"
    if indicator.form == "count":
        return "#,##0"
    return "#,##0.00"


def _sheet(book: Workbook, title: str, headers: list[str], widths: list[int]) -> Any:
    sheet = book.create_sheet(title)
    sheet.append(headers)
    for n, width in enumerate(widths, start=1):
        cell = sheet.cell(row=1, column=n)
        cell.font, cell.fill = HEADER, HEADER_FILL
        sheet.column_dimensions[get_column_letter(n)].width = width
    sheet.freeze_panes = "A2"
    return sheet


def _value(indicator: Indicator, value: Any) -> Any:
    return None if value is None else float(value)


def workbook(community: Community, period: queries.MaterialisedPeriod) -> bytes:
    book = Workbook()
    book.remove(book.active)
    info = book.create_sheet("说明 About")
    info.append(["医共体考核报告 Community assessment report"])
    info["A1"].font = Font(bold=True, size=14)
    info.append(["医共体 Community", community.name])
    info.append(["统计期 Period", f"{period.start.isoformat()} – {period.last_day.isoformat()}"])
    info.append(["计算时间 Computed", period.computed_at.isoformat(timespec="seconds")])
    info.append(["来源 Source", "CountyCare：由平台业务数据（就诊、转诊、检查、人员派驻）以 SQL 汇总计算 "
                              "computed from the platform's own activity"])
    info.column_dimensions["A"].width = 22
    info.column_dimensions["B"].width = 90

    targets = services.targets(community.pk)
    defs = _sheet(book, "指标定义 Definitions",
                  ["代码 Code", "指标 Indicator", "English", "问题 Question", "分子 Numerator", "分母 Denominator",
                   "单位 Unit", "方向 Better", "目标 Target", "目标来源 Target source", "层级 Levels", "模块 Module",
                   "国家监测 National"],
                  [28, 26, 34, 50, 50, 50, 8, 8, 10, 50, 24, 12, 8])
    for i in all_indicators():
        target = targets[i.code][0]
        defs.append([i.code, i.name, i.name_en, i.question, i.numerator, i.denominator, i.unit,
                     {"higher": "高 higher", "lower": "低 lower"}.get(i.direction, "—"),
                     None if target is None else float(target), targets[i.code][1],
                     " / ".join(LEVEL_NAMES[level] for level in i.levels), i.module, "是" if i.national else ""])
    for p in PENDING:
        defs.append([p.code, p.name, p.name_en, "待接入 pending", "", "", "", "", None, "", "", p.module,
                     "是" if p.national else ""])
    for row in defs.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")

    rows = queries.results(community.pk, period)
    for level, title in ((COUNTY, "县域 County"), (MEMBER, "成员单位 Members"), (VILLAGE, "村卫生室 Villages"),
                         (CENTRE, "诊断中心 Centres")):
        sheet = _sheet(book, title, ["单位 Unit", "代码 Code", "指标 Indicator", "分子 Numerator", "分母 Denominator",
                                     "值 Value", "单位 Unit", "目标 Target", "状态 Status"],
                       [26, 28, 30, 14, 14, 12, 8, 10, 14])
        for line, s in enumerate((r for r in rows if r.level == level), start=2):
            fmt = number_format(s.indicator)
            sheet.append([s.unit_name, s.indicator.code, s.indicator.name,
                          None if s.numerator is None else float(s.numerator),
                          None if s.denominator is None else float(s.denominator),
                          _value(s.indicator, s.value), s.indicator.unit,
                          None if s.target is None else float(s.target), STATUS_TEXT[s.status]])
            sheet.cell(row=line, column=6).number_format = fmt
            sheet.cell(row=line, column=8).number_format = fmt
            if s.status in STATUS_FILL:
                sheet.cell(row=line, column=9).fill = PatternFill("solid", fgColor=STATUS_FILL[s.status])

    scores = queries.league(community.pk, period)
    sheet = _sheet(book, "评分 Scores", ["名次 Rank", "单位 Unit", "得分 Score", "可得分 Possible", "得分率 Share",
                                        "方案 Scheme", "版本 Version"], [8, 30, 10, 12, 10, 40, 8])
    for line, score in enumerate(scores, start=2):
        name = "全县 County" if score.organization is None else score.organization.name
        share = float(score.total / score.possible) if score.possible else None
        sheet.append([score.rank, name, float(score.total), float(score.possible), share,
                      score.scheme_version.scheme.name, score.scheme_version.number])
        sheet.cell(row=line, column=5).number_format = "0.0%"
    out = BytesIO()
    book.save(out)
    return out.getvalue()
