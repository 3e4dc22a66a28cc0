"""Assessment pages: the dashboard (headline against target, trends, league table, drill-down county → member →
village), an indicator's page with its definition and breakdown, the records behind a number, the printable
report and the Excel export. Aggregates are open to every staff role; records only within the user's scope."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from countycare.core.audit import Actor
from countycare.core.codes import Role
from countycare.core.errors import NotFound
from countycare.web.access import STAFF_ROLES, domain_errors, roles_required

from . import export, queries, services
from .definitions import CENTRE, COUNTY, LEVEL_NAMES, MEMBER, PENDING, Indicator, get
from .engine import all_indicators
from .models import PeriodKind

COMPUTE_ROLES = frozenset({Role.COMMUNITY_ADMIN})
RECORDS_PAGE_SIZE = 50
# The indicators drawn as monthly trends on the dashboard.
TREND_CODES = ("county_visit_rate", "grassroots_visit_share", "in_county_inpatient_share", "exam_within_target_share",
               "referral_completion_rate", "tcm_visit_share")


class PeriodForm(forms.Form):
    start = forms.DateField(label=_("First day"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("Last day"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise forms.ValidationError(_("The period must end on or after its first day."))
        if data.get("start") and data.get("end") and (data["end"] - data["start"]).days > 3 * 366:
            raise forms.ValidationError(_("A period of at most three years."))
        return data


def _context(request: HttpRequest) -> dict:
    community_id = request.user.community_id
    period = queries.parse_period(community_id, request.GET.get("period"))
    all_periods = queries.periods(community_id)
    return {"period": period, "years": [p for p in all_periods if p.kind == PeriodKind.YEAR],
            "months": [p for p in all_periods if p.kind == PeriodKind.MONTH][:13],
            "customs": [p for p in all_periods if p.kind == PeriodKind.CUSTOM][:5]}


def _unit_name(request: HttpRequest, unit_key: str) -> str:
    if unit_key == COUNTY:
        return str(_("Whole county"))
    from countycare.diagnostics.models import Centre
    from countycare.registry.models import Organization

    level, pk = queries.parse_unit(unit_key)
    model = Centre if level == CENTRE else Organization
    name = model.objects.filter(community_id=request.user.community_id, pk=pk).values_list("name", flat=True).first() \
        if pk is not None else None
    if name is None:
        raise NotFound("未找到该单位 (no such unit)")
    return name


def _definition(code: str) -> Indicator:
    definition = get(code)
    if definition is None:
        raise NotFound("未找到该指标 (no such indicator)")
    return definition


def _computed_period(request: HttpRequest) -> queries.MaterialisedPeriod:
    period = queries.parse_period(request.user.community_id, request.GET.get("period"))
    if period is None:
        raise NotFound("尚无计算结果 (nothing computed yet)")
    return period


def _grouped(shown: list[queries.Shown]) -> list[tuple[str, list[queries.Shown]]]:
    groups: OrderedDict[str, list[queries.Shown]] = OrderedDict()
    for s in shown:
        groups.setdefault(s.indicator.group, []).append(s)
    return list(groups.items())


@roles_required(STAFF_ROLES)
@domain_errors
def dashboard(request: HttpRequest) -> HttpResponse:
    context = _context(request)
    period = context["period"]
    unit_key = request.GET.get("unit") or COUNTY
    context.update(unit_key=unit_key, unit_name=_unit_name(request, unit_key), trend_codes=TREND_CODES,
                   compute_form=PeriodForm(), can_compute=request.user.role in COMPUTE_ROLES, pending=PENDING)
    if period is not None:
        community_id = request.user.community_id
        labels = queries.read_labels(community_id)
        shown = queries.results(community_id, period, unit_keys=[unit_key], labels=labels)
        child_level, child_keys = queries.unit_children(community_id, unit_key, period)
        children = queries.results(community_id, period, unit_keys=child_keys, labels=labels) if child_keys else []
        columns = [i for i in all_indicators() if child_level in i.levels][:8]
        table: OrderedDict[str, dict] = OrderedDict()
        for s in sorted(children, key=lambda s: s.unit_name):
            row = table.setdefault(s.unit_key, {"name": s.unit_name, "key": s.unit_key, "cells": {}})
            row["cells"][s.indicator.code] = s
        context.update(groups=_grouped(shown), child_level=child_level,
                       child_level_name=LEVEL_NAMES.get(child_level, ""), child_columns=columns,
                       child_rows=[dict(r, cells=[r["cells"].get(c.code) for c in columns]) for r in table.values()],
                       league=queries.league(community_id, period) if unit_key == COUNTY else [],
                       centres=(queries.results(community_id, period, level=CENTRE, labels=labels)
                                if unit_key == COUNTY else []))
    return TemplateResponse(request, "assessment/dashboard.html", context)


@roles_required(STAFF_ROLES)
@domain_errors
def trend_data(request: HttpRequest) -> JsonResponse:
    unit_key = request.GET.get("unit") or COUNTY
    codes = [c for c in request.GET.getlist("code") if get(c)] or list(TREND_CODES)
    targets = services.targets(request.user.community_id)
    series = []
    for code in codes:
        indicator = get(code)
        points = queries.trend(request.user.community_id, code, unit_key)
        percent = indicator.percent
        series.append({"code": code, "name": indicator.name, "name_en": indicator.name_en, "unit": indicator.unit,
                       "percent": percent, "target": _number(targets[code][0], percent),
                       "months": [m for m, _v in points], "values": [_number(v, percent) for _m, v in points]})
    return JsonResponse({"unit": unit_key, "series": series})


def _number(value, percent: bool):
    if value is None:
        return None
    return round(float(value) * (100 if percent else 1), 2)


@roles_required(STAFF_ROLES)
@domain_errors
def indicator(request: HttpRequest, code: str) -> HttpResponse:
    definition = _definition(code)
    context = _context(request)
    period = context["period"]
    unit_key = request.GET.get("unit") or COUNTY
    community_id = request.user.community_id
    labels = queries.read_labels(community_id)
    target = labels.targets[code]
    context.update(indicator=definition, unit_key=unit_key, unit_name=_unit_name(request, unit_key), target=target,
                   target_display=queries.format_value(definition, target[0]) if target[0] is not None else "",
                   levels=[LEVEL_NAMES[lv] for lv in definition.levels])
    if period is not None:
        current = queries.results(community_id, period, unit_keys=[unit_key], codes=[code], labels=labels)
        child_level, child_keys = queries.unit_children(community_id, unit_key, period)
        if definition.levels == (CENTRE,) or (unit_key == COUNTY and CENTRE in definition.levels):
            rows = queries.results(community_id, period, level=CENTRE, codes=[code], labels=labels)
            child_level = CENTRE
        else:
            rows = (queries.results(community_id, period, unit_keys=child_keys, codes=[code], labels=labels)
                    if child_keys else [])
        context.update(current=current[0] if current else None, rows=sorted(rows, key=lambda s: s.unit_name),
                       child_level=child_level, drillable=child_level == MEMBER or child_level == "village")
    return TemplateResponse(request, "assessment/indicator.html", context)


@roles_required(STAFF_ROLES)
@domain_errors
def records(request: HttpRequest, code: str) -> HttpResponse:
    definition = _definition(code)
    period = _computed_period(request)
    unit_key = request.GET.get("unit") or COUNTY
    unit_name = _unit_name(request, unit_key)  # before any record is read and audited: an unknown unit shows none
    spec, qs, numerator = queries.records_behind(request.user, code=code, start=period.start, end=period.end,
                                                 unit_key=unit_key)
    related = {"encounter": ("resident", "organization"), "referral": ("resident", "from_organization",
                                                                        "to_organization"),
               "exam": ("resident", "requesting_organization", "centre", "exam_type"),
               "recognition": ("resident", "organization", "exam_type"),
               "posting": ("practitioner", "organization")}[spec.kind]
    qs = qs.select_related(*related)
    order = {"encounter": "-started_at", "referral": "-requested_at", "exam": "-reported_at",
             "recognition": "-at", "posting": "organization__name"}[spec.kind]
    page = Paginator(qs.order_by(order, "pk"), RECORDS_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    queries.audit_shown(request.user, spec, rows, code=code)
    # which of this page's rows the numerator counts, and how many it counts in all (a count, not every id: a
    # year of the county's visits is millions of rows)
    counted = (set(qs.filter(numerator, pk__in=[row.pk for row in rows]).values_list("pk", flat=True))
               if numerator is not None else None)
    return TemplateResponse(request, "assessment/records.html", {
        "indicator": definition, "period": period, "unit_key": unit_key, "unit_name": unit_name,
        "kind": spec.kind, "page": page, "rows": [(row, counted is None or row.pk in counted) for row in rows],
        "has_numerator": counted is not None, "total": page.paginator.count,
        "numerator_total": qs.filter(numerator).count() if numerator is not None else None})


@roles_required(STAFF_ROLES)
@domain_errors
def report(request: HttpRequest) -> HttpResponse:
    context = _context(request)
    period = _computed_period(request)
    community_id = request.user.community_id
    labels = queries.read_labels(community_id)
    shown = queries.results(community_id, period, labels=labels)
    context.update(county=_grouped([s for s in shown if s.level == COUNTY]),
                   members=_by_unit([s for s in shown if s.level == MEMBER]),
                   centres=[s for s in shown if s.level == CENTRE], league=queries.league(community_id, period),
                   indicators=all_indicators(), targets=labels.targets, pending=PENDING,
                   printed_at=dt.datetime.now(dt.UTC))
    return TemplateResponse(request, "assessment/report.html", context)


def _by_unit(shown: list[queries.Shown]) -> list[tuple[str, list[queries.Shown]]]:
    units: OrderedDict[str, list[queries.Shown]] = OrderedDict()
    for s in sorted(shown, key=lambda s: s.unit_name):
        units.setdefault(s.unit_name, []).append(s)
    return list(units.items())


@roles_required(STAFF_ROLES)
@domain_errors
def export_xlsx(request: HttpRequest) -> HttpResponse:
    period = _computed_period(request)
    body = export.workbook(request.user.community, period)
    response = HttpResponse(body, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="assessment-{period.key}.xlsx"'
    return response


@require_POST
@roles_required(COMPUTE_ROLES)
@domain_errors
def compute(request: HttpRequest) -> HttpResponse:
    """An administrator computes a period on demand (months and years are materialised nightly)."""
    form = PeriodForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("assessment:dashboard")
    start, end = form.cleaned_data["start"], form.cleaned_data["end"] + dt.timedelta(days=1)
    run = services.materialise_period(community_id=request.user.community_id, start=start, end=end,
                                      kind=PeriodKind.CUSTOM, actor=Actor.of(request.user))
    messages.success(request, _("Computed %(n)s results in %(s).1f s.") % {"n": run.results, "s": run.seconds})
    return redirect(reverse("assessment:dashboard") + f"?period={start.isoformat()}_{end.isoformat()}")
