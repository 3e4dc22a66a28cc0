"""The shipped reference data of the shared centres: exam types, report templates and critical-value rules
(`data/*.csv`, sources in `data/README.md`), and the default turnaround targets a new centre starts from.

Loading only adds default rows (community null) whose code is missing, so an administrator's edits in admin
are never overwritten; `countycare loaddiagnostics --update` puts the shipped values back on purpose. After
`migrate` (and a test's flush) each table is filled when it has no default rows at all, so a fresh database
has them without a separate step and a row an administrator deleted stays deleted.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.db import transaction

from .models import CentreKind, CriticalRule, ExamType, ReportTemplate

DATA = Path(__file__).resolve().parent / "data"
EXAM_TYPES_FILE = DATA / "exam_types.csv"
TEMPLATES_FILE = DATA / "report_templates.csv"
CRITICAL_RULES_FILE = DATA / "critical_rules.csv"

# Turnaround targets (minutes from acquisition to the published report) a new centre starts from, per kind:
# (routine, urgent, stat). Sources and reasoning in docs/diagnostics.md.
DEFAULT_TARGETS: dict[str, tuple[int, int, int]] = {
    CentreKind.ECG: (30, 30, 10),  # DOMAIN.md: an ECG is read within 30 minutes; a critical one within 10
    CentreKind.IMAGING: (24 * 60, 2 * 60, 30),
    CentreKind.LAB: (4 * 60, 60, 30),
    CentreKind.PATHOLOGY: (5 * 24 * 60, 2 * 24 * 60, 30),  # 5 days; frozen section 30 minutes
}


class ReferenceFileError(ValueError):
    pass


@dataclass(frozen=True)
class Loaded:
    exam_types: int
    templates: int
    critical_rules: int


def _rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise ReferenceFileError(f"{path.name}: missing column {', '.join(missing)}")
        return [(line, {k: (v or "").strip() for k, v in row.items() if k}) for line, row in
                enumerate(reader, start=2)]


def _kind(value: str, path: Path, line: int) -> str:
    if value not in CentreKind.values:
        raise ReferenceFileError(f"{path.name} line {line}: unknown centre kind {value!r}")
    return value


def _decimal(value: str, path: Path, line: int) -> Decimal | None:
    if not value:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ReferenceFileError(f"{path.name} line {line}: {value!r} is not a number") from None
    if not number.is_finite():
        raise ReferenceFileError(f"{path.name} line {line}: {value!r} is not a number")
    return number


def read_exam_types(path: Path = EXAM_TYPES_FILE) -> list[dict[str, Any]]:
    found = []
    for line, row in _rows(path, ("code", "name", "centre_kind", "recognition_days")):
        if not row["code"] or not row["name"]:
            raise ReferenceFileError(f"{path.name} line {line}: code and name are required")
        try:
            days = int(row["recognition_days"])
        except ValueError:
            raise ReferenceFileError(f"{path.name} line {line}: recognition_days must be a whole number") from None
        if days < 0:
            raise ReferenceFileError(f"{path.name} line {line}: recognition_days must not be negative")
        found.append({
            "code": row["code"], "name": row["name"], "name_en": row.get("name_en", ""),
            "centre_kind": _kind(row["centre_kind"], path, line), "modality": row.get("modality", ""),
            "loinc": row.get("loinc", ""), "recognition_days": days,
            "components": [c.strip() for c in row.get("components", "").split(";") if c.strip()],
        })
    return found


def read_templates(path: Path = TEMPLATES_FILE) -> list[dict[str, Any]]:
    found = []
    for line, row in _rows(path, ("code", "centre_kind", "name", "findings", "conclusion")):
        if not all(row[c] for c in ("code", "name", "findings", "conclusion")):
            raise ReferenceFileError(f"{path.name} line {line}: code, name, findings and conclusion are required")
        found.append({"code": row["code"], "centre_kind": _kind(row["centre_kind"], path, line),
                      "exam_type_code": row.get("exam_type_code", ""), "name": row["name"],
                      "findings": row["findings"], "conclusion": row["conclusion"]})
    return found


def read_critical_rules(path: Path = CRITICAL_RULES_FILE) -> list[dict[str, Any]]:
    found = []
    for line, row in _rows(path, ("code", "name", "centre_kind", "low", "high", "unit", "source")):
        if not row["code"] or not row["name"]:
            raise ReferenceFileError(f"{path.name} line {line}: code and name are required")
        low, high = _decimal(row["low"], path, line), _decimal(row["high"], path, line)
        if low is not None and high is not None and low >= high:
            raise ReferenceFileError(f"{path.name} line {line}: low must be below high")
        kind = _kind(row["centre_kind"], path, line)
        if kind == CentreKind.LAB and low is None and high is None:
            raise ReferenceFileError(f"{path.name} line {line}: a laboratory rule needs a low or a high limit")
        found.append({"code": row["code"], "name": row["name"], "centre_kind": kind, "low": low, "high": high,
                      "unit": row["unit"], "source": row["source"]})
    return found


def _load(model: Any, rows: list[dict[str, Any]], *, update: bool, using: str) -> int:
    manager = model._default_manager.db_manager(using)
    existing = {row.code: row for row in manager.filter(community__isnull=True)}
    new = [model(**row) for row in rows if row["code"] not in existing]
    manager.bulk_create(new, ignore_conflicts=True)
    changed = 0
    if update:
        for row in rows:
            stored = existing.get(row["code"])
            if stored is not None and any(getattr(stored, k) != v for k, v in row.items()):
                for key, value in row.items():
                    setattr(stored, key, value)
                stored.save(using=using)
                changed += 1
    return len(new) + changed


def load_defaults(*, update: bool = False, using: str = "default", models: dict[str, Any] | None = None,
                  only_empty: bool = False) -> Loaded:
    """Add the shipped rows missing from the default reference data; `update` also rewrites default rows
    that differ from the files. `only_empty` (after migrate) loads a table only when it has no default rows.
    A malformed file raises ReferenceFileError naming its line, and nothing is written."""
    models = models or {"ExamType": ExamType, "ReportTemplate": ReportTemplate, "CriticalRule": CriticalRule}
    files = {"ExamType": read_exam_types(), "ReportTemplate": read_templates(),
             "CriticalRule": read_critical_rules()}
    counts = {}
    with transaction.atomic(using=using):
        for name, rows in files.items():
            model = models[name]
            if only_empty and model._default_manager.db_manager(using).filter(community__isnull=True).exists():
                counts[name] = 0
                continue
            counts[name] = _load(model, rows, update=update, using=using)
    return Loaded(counts["ExamType"], counts["ReportTemplate"], counts["CriticalRule"])


def load_after_migrate(sender: Any, *, using: str = "default", apps: Any = None, **kwargs: Any) -> None:
    """post_migrate (and a test's flush): fill the empty default tables, through the migrated state of the
    models as Django's own hooks do (flush sends the signal without `apps`: the installed models are the
    state then)."""
    if apps is None:
        from django.apps import apps
    try:
        models = {name: apps.get_model("diagnostics", name) for name in ("ExamType", "ReportTemplate",
                                                                          "CriticalRule")}
    except LookupError:  # diagnostics not migrated (yet) in this database
        return
    load_defaults(using=using, models=models, only_empty=True)
