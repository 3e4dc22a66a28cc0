"""Shared-record data for the records tests and the encounter API tests, on top of the test county
(tests/conftest.py): encounters written through `records.services`, as a clinician would, and a snapshot of
the record's tables to prove that a refused write changed nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from countycare.records import services
from countycare.records.models import Diagnosis, Encounter, Observation, Order, Problem


def days_ago(days: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    """A moment `days` before today, at a clock time in Asia/Shanghai."""
    day = timezone.localdate() - dt.timedelta(days=days)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def data(**overrides: Any) -> dict[str, Any]:
    """An outpatient visit for a cold, with vital signs, an order and costs."""
    values: dict[str, Any] = {
        "kind": "outpatient",
        "started_at": days_ago(1),
        "chief_complaint": "咳嗽、流涕2天",
        "note": "咽部充血，双肺呼吸音清。",
        "costs": {"drugs": Decimal("23.50"), "exams": Decimal("15.00"), "treatment": Decimal("5")},
        "diagnoses": [{"code": "J06.9", "primary": True}],
        "vitals": [
            {"code": "8310-5", "value": Decimal("37.8"), "unit": "℃"},
            {"code": "8480-6", "value": Decimal("128"), "unit": "mmHg"},
            {"code": "8462-4", "value": Decimal("82"), "unit": "mmHg"},
            {"code": "8867-4", "value": Decimal("88")},
        ],
        "orders": [{"kind": "lab", "description": "血常规", "code": "CBC"}],
    }
    return {**values, **overrides}


def visit(county, user: str, resident: str, *, channel: str = "web", **overrides: Any) -> Encounter:
    return services.record_encounter(
        user=county.users[user], resident=county.residents[resident], data=data(**overrides), channel=channel
    )


def chronic_visit(county, user: str, resident: str, *codes: str, days: int = 1, **overrides: Any) -> Encounter:
    """A follow-up visit with the given diagnoses, the first primary."""
    values = {"diagnoses": [{"code": code, "primary": i == 0} for i, code in enumerate(codes)],
              "started_at": days_ago(days), "vitals": [], "orders": []}
    return visit(county, user, resident, **{**values, **overrides})


def admission(county, user: str = "county_specialist", resident: str = "zhang_san", *, days: int = 5,
              **overrides: Any) -> Encounter:
    values = {"kind": "inpatient", "ward": "心内科3病区12床", "started_at": days_ago(days, 10),
              "diagnoses": [{"code": "I21.9", "primary": True}, {"code": "I10", "primary": False}],
              "department": county.orgs["lead"].departments.get(code="CARD"), "vitals": [], "orders": [],
              "costs": {"beds": Decimal("120.00")}, "chief_complaint": "胸痛3小时"}
    return visit(county, user, resident, **{**values, **overrides})


def snapshot() -> dict[str, list[Any]]:
    """Every row of the record's tables, to compare before and after a refused write."""
    return {
        model.__name__: sorted(model.objects.values_list("uuid", flat=True))
        for model in (Encounter, Diagnosis, Observation, Order, Problem)
    } | {"versions": sorted(Encounter.objects.values_list("uuid", "version", "status", "ended_at"))}
