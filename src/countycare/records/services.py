"""Every write to the shared record: encounters with their diagnoses, measurements and orders, discharge,
later diagnoses, observations, and the problem list. One transaction each, audited inside it; input is
checked before anything is written, so a refusal changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from countycare.core import audit
from countycare.core.codes import Role
from countycare.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, PreconditionFailed
from countycare.registry import queries as registry_queries
from countycare.registry.models import Department, Organization, Practitioner, Resident
from countycare.registry.scope import posted_organization_ids

from . import icd10, vitals
from .icd10 import normalize_code
from .models import (
    Diagnosis,
    Encounter,
    EncounterKind,
    EncounterStatus,
    Icd10Code,
    Observation,
    ObservationCategory,
    Order,
    OrderKind,
    Problem,
    ProblemStatus,
)

# Who writes the record: the doctors. Diagnostic-centre readers also post results (observations).
RECORDING_ROLES = frozenset({Role.VILLAGE_DOCTOR, Role.TOWNSHIP_DOCTOR, Role.COUNTY_SPECIALIST})
OBSERVING_ROLES = RECORDING_ROLES | {Role.CENTRE_READER}
COST_KEYS = ("drugs", "exams", "treatment", "beds", "other")
MAX_COST = Decimal("9999999999.99")  # max_digits=12, decimal_places=2
MAX_QUANTITY = Decimal("99999999.9999")  # max_digits=12, decimal_places=4
CLOCK_SKEW = dt.timedelta(minutes=5)  # a workstation clock a little ahead is not "in the future"
MAX_DIAGNOSES = 20
MAX_OBSERVATIONS = 50
MAX_ORDERS = 50


# --- checks shared by the writes ---------------------------------------------------------------------------

def check_can_record(user: Any, roles: frozenset[str] = RECORDING_ROLES) -> None:
    """403 unless the user's role writes to the record (doctors; also centre readers for observations)."""
    if getattr(user, "role", None) not in roles:
        raise PermissionDenied("您的角色不能书写病历 (your role cannot write to the medical record)")


def _check_resident(user: Any, resident: Resident) -> None:
    """The resident is one the user may see (404 otherwise: existence does not leak) and not merged away."""
    registry_queries.require_patient_access(user)
    if not registry_queries.visible_residents(user).filter(pk=resident.pk).exists():
        raise NotFound("未找到该居民，或不在您的管辖范围内 (resident not found or outside your scope)")


def _check_posted(user: Any, organization: Organization, on: dt.date) -> None:
    if organization.id not in posted_organization_ids(user, on):
        raise PermissionDenied(
            f"您未在{organization.name}执业，不能以该机构名义书写病历 (you are not posted to {organization.name})"
        )


def _text(values: dict[str, Any], key: str, limit: int | None, label: str) -> str:
    value = values.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{label}应为文本 ({key} must be text)", field=key)
    value = value.strip()
    if "\x00" in value:
        raise InvalidInput(f"{label}含空字符 ({key} contains a NUL character)", field=key)
    if limit is not None and len(value) > limit:
        raise InvalidInput(f"{label}过长，最多{limit}个字符 ({key}: at most {limit} characters)", field=key)
    return value


def _moment(value: Any, field: str, label: str, *, now: dt.datetime) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise InvalidInput(f"{label}应为日期时间 ({field} must be a date and time)", field=field)
    if timezone.is_naive(value):
        raise InvalidInput(f"{label}须带时区 ({field} needs a time zone, e.g. +08:00)", field=field)
    if value.year < 1900:  # also keeps the UTC conversion below from overflowing
        raise InvalidInput(f"{label}无效 ({field} is before 1900)", field=field)
    if value.year > now.year + 1 or value > now + CLOCK_SKEW:
        raise InvalidInput(f"{label}不能晚于现在 ({field} is in the future)", field=field)
    return value.astimezone(dt.UTC)


def _decimal(value: Any, field: str, label: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise InvalidInput(f"{label}应为数字 ({field} must be a number)", field=field)
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"{label}应为数字 ({field} must be a number)", field=field) from None
    if not number.is_finite():
        raise InvalidInput(f"{label}应为数字 ({field} must be a number)", field=field)
    return number


def _costs(costs: Any) -> dict[str, Decimal]:
    if costs is None:
        costs = {}
    if not isinstance(costs, dict):
        raise InvalidInput("费用应为各类别金额 (costs must map categories to amounts)", field="costs")
    unknown = sorted(set(costs) - set(COST_KEYS))
    if unknown:
        raise InvalidInput(f"未知的费用类别 {', '.join(map(str, unknown))} (unknown cost category; use "
                           f"{', '.join(COST_KEYS)})", field="costs")
    values = {}
    for key in COST_KEYS:
        amount = _decimal(costs.get(key, 0) or 0, f"costs.{key}", "费用")
        if amount < 0:
            raise InvalidInput(f"费用不能为负数：{key} (costs cannot be negative: {key})", field=f"costs.{key}")
        if amount > MAX_COST or amount != amount.quantize(Decimal("0.01")):
            raise InvalidInput(f"费用金额无效：{key} (costs.{key}: yuan with at most 2 decimal places)",
                               field=f"costs.{key}")
        values[key] = amount.quantize(Decimal("0.01"))
    return values


def _codes(diagnoses: Any, *, field: str = "diagnoses") -> list[tuple[Icd10Code, bool]]:
    """Each diagnosis resolved to its ICD-10 code (which must be in the code set), with its primary flag."""
    if not isinstance(diagnoses, list | tuple):
        raise InvalidInput("诊断应为列表 (diagnoses must be a list)", field=field)
    if len(diagnoses) > MAX_DIAGNOSES:
        raise InvalidInput(f"诊断最多{MAX_DIAGNOSES}条 (at most {MAX_DIAGNOSES} diagnoses)", field=field)
    wanted: list[tuple[str, bool]] = []
    for item in diagnoses:
        if not isinstance(item, dict) or not isinstance(item.get("code"), str):
            raise InvalidInput("每条诊断需要ICD-10编码 (each diagnosis needs a code)", field=field)
        primary = item.get("primary", False)
        if not isinstance(primary, bool):
            raise InvalidInput("primary 应为 true 或 false (primary must be true or false)", field=field)
        wanted.append((normalize_code(item["code"]), primary))
    codes = [code for code, _ in wanted]
    repeated = sorted({c for c in codes if codes.count(c) > 1})
    if repeated:
        raise InvalidInput(f"诊断重复：{', '.join(repeated)} (diagnosis listed twice)", field=field)
    found = icd10.active_codes(codes)
    unknown = [c for c in codes if c not in found]
    if unknown:
        raise InvalidInput(f"未知的ICD-10编码：{', '.join(unknown)} (unknown ICD-10 code: {', '.join(unknown)})",
                           field=field, detail={"codes": unknown})
    return [(found[code], primary) for code, primary in wanted]


def _one_primary(count: int) -> None:
    if count == 0:
        raise InvalidInput("请指定一个主要诊断 (exactly one diagnosis must be primary; none is)", field="diagnoses")
    if count > 1:
        raise InvalidInput("只能有一个主要诊断 (exactly one diagnosis must be primary; several are)",
                           field="diagnoses")


def _measurements(items: Any, *, field: str) -> list[dict[str, Any]]:
    """Checked measurements: a code from `vitals.MEASURES` with its unit and a possible value, or (for
    results from elsewhere) any code with a category, a display and a value or text."""
    if not isinstance(items, list | tuple):
        raise InvalidInput("测量值应为列表 (measurements must be a list)", field=field)
    if len(items) > MAX_OBSERVATIONS:
        raise InvalidInput(f"测量值最多{MAX_OBSERVATIONS}项 (at most {MAX_OBSERVATIONS})", field=field)
    checked: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("code"), str) or not item["code"].strip():
            raise InvalidInput("每项测量需要LOINC编码 (each measurement needs a code)", field=field)
        code = item["code"].strip()
        measure = vitals.MEASURES.get(code)
        if measure is not None:
            checked.append(_vital(measure, item, field))
        else:
            checked.append(_result(code, item, field))
    codes = [c["code"] for c in checked]
    if len(set(codes)) != len(codes):
        raise InvalidInput("同一测量项目重复 (a measurement is listed twice)", field=field)
    values = {c["code"]: c["value_quantity"] for c in checked}
    systolic, diastolic = values.get(vitals.SYSTOLIC), values.get(vitals.DIASTOLIC)
    if systolic is not None and diastolic is not None and diastolic >= systolic:
        raise InvalidInput(f"舒张压（{diastolic}）应低于收缩压（{systolic}） (diastolic must be below systolic)",
                           field=field)
    return checked


def _vital(measure: vitals.Measure, item: dict[str, Any], field: str) -> dict[str, Any]:
    value = _decimal(item.get("value"), field, measure.name)
    unit = vitals.ucum(str(item.get("unit") or measure.unit))
    if unit != measure.unit:
        raise InvalidInput(f"{measure.name}的单位应为{measure.unit_display}，而非“{item.get('unit')}” "
                           f"({measure.name_en} is measured in {measure.unit})", field=field)
    if not measure.low <= value <= measure.high:
        raise InvalidInput(
            f"{measure.name} {value}{measure.unit_display} 不可能，请核对（应在{measure.low}–{measure.high}之间） "
            f"({measure.name_en} {value} {measure.unit} is not possible: {measure.low}–{measure.high})",
            field=field, detail={"code": measure.code},
        )
    return {"code": measure.code, "display": measure.name, "category": measure.category,
            "value_quantity": value, "unit": measure.unit, "value_text": "",
            "reference_low": None, "reference_high": None, "effective_at": item.get("effective_at")}


def _result(code: str, item: dict[str, Any], field: str) -> dict[str, Any]:
    category = item.get("category")
    if category not in ObservationCategory.values or category == ObservationCategory.VITAL_SIGNS:
        raise InvalidInput(
            f"未知的生命体征编码 {code}；其他结果需注明类别 (unknown vital-sign code {code}; other results need a "
            f"category: {', '.join(c for c in ObservationCategory.values if c != 'vital-signs')})", field=field
        )
    display = _text(item, "display", 100, "项目名称")
    if not display:
        raise InvalidInput(f"结果 {code} 需要项目名称 (result {code} needs a display name)", field=field)
    if len(code) > 20:
        raise InvalidInput("编码过长 (code longer than 20 characters)", field=field)
    value = item.get("value")
    quantity = None if value is None else _decimal(value, field, display)
    text = _text(item, "value_text", 200, "结果")
    if quantity is None and not text:
        raise InvalidInput(f"结果 {display} 没有数值 (result {display} has no value)", field=field)
    if quantity is not None and abs(quantity) > MAX_QUANTITY:
        raise InvalidInput(f"结果 {display} 数值过大 (value out of range)", field=field)
    low = None if item.get("reference_low") is None else _decimal(item["reference_low"], field, "参考范围")
    high = None if item.get("reference_high") is None else _decimal(item["reference_high"], field, "参考范围")
    return {"code": code, "display": display, "category": category, "value_quantity": quantity,
            "unit": _text(item, "unit", 20, "单位"), "value_text": text, "reference_low": low,
            "reference_high": high, "effective_at": item.get("effective_at")}


def _interpretation(quantity: Decimal | None, low: Decimal | None, high: Decimal | None) -> str:
    if quantity is None or (low is None and high is None):
        return ""
    if low is not None and quantity < low:
        return "L"
    if high is not None and quantity > high:
        return "H"
    return "N"


def _orders(items: Any) -> list[dict[str, str]]:
    if not isinstance(items, list | tuple):
        raise InvalidInput("医嘱应为列表 (orders must be a list)", field="orders")
    if len(items) > MAX_ORDERS:
        raise InvalidInput(f"医嘱最多{MAX_ORDERS}条 (at most {MAX_ORDERS} orders)", field="orders")
    checked = []
    for item in items:
        if not isinstance(item, dict) or item.get("kind") not in OrderKind.values:
            raise InvalidInput(f"医嘱类型无效 (order kind must be one of {', '.join(OrderKind.values)})",
                               field="orders")
        description = _text(item, "description", 200, "医嘱内容")
        if not description:
            raise InvalidInput("医嘱内容不能为空 (an order needs a description)", field="orders")
        checked.append({"kind": item["kind"], "description": description, "code": _text(item, "code", 40, "编码")})
    return checked


def _problems_for(encounter: Encounter, diagnoses: Iterable[Diagnosis],
                  codes: dict[str, Icd10Code]) -> list[Problem]:
    """Active problems for the chronic diagnoses the resident does not already have on the list."""
    chronic = [d for d in diagnoses if codes[d.code].chronic]
    if not chronic:
        return []
    active = set(
        Problem.objects.filter(resident_id=encounter.resident_id, status=ProblemStatus.ACTIVE,
                               code__in=[d.code for d in chronic]).values_list("code", flat=True)
    )
    created = []
    for diagnosis in chronic:
        if diagnosis.code in active:
            continue
        try:
            with transaction.atomic():  # a concurrent visit may have added the same problem a moment ago
                created.append(Problem.objects.create(
                    community_id=encounter.community_id, resident_id=encounter.resident_id, code=diagnosis.code,
                    display=diagnosis.display, onset_date=timezone.localtime(encounter.started_at).date(),
                    recorded_at=diagnosis.recorded_at, organization_id=encounter.organization_id,
                    practitioner_id=diagnosis.practitioner_id, source_diagnosis=diagnosis,
                ))
        except IntegrityError:
            continue
    return created


def _problem_entries(problems: list[Problem], resident: Resident) -> list[audit.Entry]:
    return [audit.Entry("create", "Problem", str(p.uuid), str(resident.uuid),
                        detail={"code": p.code, "source_diagnosis": str(p.source_diagnosis.uuid)})
            for p in problems]


def _observations(checked: list[dict[str, Any]], *, resident: Resident, encounter: Encounter | None,
                  organization: Organization, practitioner: Practitioner | None, default_at: dt.datetime,
                  now: dt.datetime) -> list[Observation]:
    rows = []
    for item in checked:
        at = item.pop("effective_at") or default_at
        at = _moment(at, "effective_at", "测量时间", now=now)
        if encounter is not None and at < encounter.started_at:
            raise InvalidInput("测量时间早于就诊开始 (a measurement is dated before the encounter began)",
                               field="effective_at")
        rows.append(Observation(
            community_id=resident.community_id, resident=resident, encounter=encounter, effective_at=at,
            organization=organization, practitioner=practitioner,
            interpretation=_interpretation(item["value_quantity"], item["reference_low"], item["reference_high"]),
            **item,
        ))
    return rows


# --- encounters ---------------------------------------------------------------------------------------------

def record_encounter(*, user: Any, resident: Resident, data: dict[str, Any], channel: str,
                     within: Callable[[Encounter], None] | None = None) -> Encounter:
    """Record an encounter at one of the user's organisations, with its diagnoses (exactly one primary; codes
    from the ICD-10 set), vital signs, orders and costs. Chronic diagnoses go on the problem list.
    `within(encounter)` runs inside the transaction (an API's idempotent answer)."""
    check_can_record(user)
    now = timezone.now()
    kind = data.get("kind")
    if kind not in EncounterKind.values:
        raise InvalidInput(f"就诊类型无效 (kind must be one of {', '.join(EncounterKind.values)})", field="kind")
    organization = data.get("organization") or user.organization
    if not isinstance(organization, Organization):
        raise InvalidInput("请选择就诊机构 (organization is required)", field="organization")
    started_at = _moment(data.get("started_at") or now, "started_at", "就诊时间", now=now)
    ended_at = data.get("ended_at")
    if ended_at is not None:
        ended_at = _moment(ended_at, "ended_at", "结束时间", now=now)
        if ended_at < started_at:
            raise InvalidInput("结束（出院）时间早于开始（入院）时间 (ended_at is before started_at)", field="ended_at")
    department = data.get("department")
    if department is not None and (not isinstance(department, Department)
                                   or department.organization_id != organization.id):
        raise InvalidInput(f"科室不属于{organization.name} (department is not part of the organisation)",
                           field="department")
    practitioner = data.get("practitioner") or user.practitioner
    if practitioner is not None and (not isinstance(practitioner, Practitioner)
                                     or practitioner.community_id != organization.community_id):
        raise InvalidInput("医生不属于本医共体 (practitioner is not of this community)", field="practitioner")
    ward = _text(data, "ward", 40, "病区/床号")
    if kind == EncounterKind.INPATIENT and not ward:
        raise InvalidInput("住院需填写病区/床号 (an admission needs a ward or bed)", field="ward")
    texts = {
        "ward": ward,
        "chief_complaint": _text(data, "chief_complaint", 200, "主诉"),
        "note": _text(data, "note", 20_000, "病历记录"),
    }
    is_tcm = data.get("is_tcm", False)
    if not isinstance(is_tcm, bool):
        raise InvalidInput("is_tcm 应为 true 或 false (is_tcm must be true or false)", field="is_tcm")
    costs = _costs(data.get("costs"))
    diagnoses = _codes(data.get("diagnoses") or [])
    _one_primary(sum(1 for _, primary in diagnoses if primary))
    measurements = _measurements(data.get("vitals") or [], field="vitals")
    orders = _orders(data.get("orders") or [])
    _check_resident(user, resident)
    if organization.community_id != resident.community_id:
        raise InvalidInput("就诊机构不属于该居民的医共体 (organisation is outside the resident's community)",
                           field="organization")
    _check_posted(user, organization, timezone.localtime(started_at).date())
    status = EncounterStatus.FINISHED if ended_at or kind != EncounterKind.INPATIENT else EncounterStatus.IN_PROGRESS

    with transaction.atomic():
        encounter = Encounter.objects.create(
            community_id=resident.community_id, resident=resident, organization=organization,
            department=department, practitioner=practitioner, kind=kind, status=status, started_at=started_at,
            ended_at=ended_at, is_tcm=is_tcm, **texts, **{f"cost_{k}": v for k, v in costs.items()},
            cost_total=sum(costs.values(), Decimal("0.00")),
        )
        rows = Diagnosis.objects.bulk_create([
            Diagnosis(community_id=encounter.community_id, encounter=encounter, resident=resident, code=code.code,
                      display=code.name, is_primary=primary, recorded_at=started_at, practitioner=practitioner)
            for code, primary in diagnoses
        ])
        problems = _problems_for(encounter, rows, {code.code: code for code, _ in diagnoses})
        observations = Observation.objects.bulk_create(_observations(
            measurements, resident=resident, encounter=encounter, organization=organization,
            practitioner=practitioner, default_at=started_at, now=now,
        ))
        Order.objects.bulk_create([
            Order(community_id=encounter.community_id, encounter=encounter, resident=resident, ordered_at=started_at,
                  practitioner=practitioner, **order)
            for order in orders
        ])
        audit.record_many(audit.Actor.of(user, channel), [
            audit.Entry("create", "Encounter", str(encounter.uuid), str(resident.uuid), detail={
                "kind": kind, "organization": str(organization.uuid), "status": status,
                "diagnoses": [d.code for d in rows], "observations": len(observations), "orders": len(orders),
                "cost_total": str(encounter.cost_total),
            }),
            *_problem_entries(problems, resident),
        ])
        if within is not None:
            within(encounter)
    return encounter


def _locked_encounter(user: Any, encounter: Encounter) -> Encounter:
    check_can_record(user)
    _check_resident(user, encounter.resident)
    current = Encounter.objects.select_for_update().select_related("organization", "resident").get(pk=encounter.pk)
    _check_posted(user, current.organization, timezone.localdate())
    return current


def discharge_encounter(*, user: Any, encounter: Encounter, ended_at: dt.datetime, expected_version: int,
                        note: str = "", channel: str) -> Encounter:
    """End an encounter in progress (an inpatient's discharge): only at the treating organisation, only with
    the version the clinician saw (412 if it changed since, 409 if it is no longer in progress)."""
    now = timezone.now()
    ended_at = _moment(ended_at, "ended_at", "出院时间", now=now)
    note = _text({"note": note}, "note", 20_000, "出院记录")
    with transaction.atomic():
        current = _locked_encounter(user, encounter)
        if current.version != expected_version:
            raise PreconditionFailed(f"就诊记录已被他人修改（当前版本{current.version}），请刷新后重试 "
                                     "(the encounter changed since you opened it; reload)")
        if current.status != EncounterStatus.IN_PROGRESS:
            raise Conflict("该就诊已结束，不能再次出院 (the encounter is not in progress)")
        if ended_at < current.started_at:
            raise InvalidInput("出院时间早于入院时间 (ended_at is before the admission)", field="ended_at")
        current.ended_at = ended_at
        current.status = EncounterStatus.FINISHED
        current.note = f"{current.note}\n\n{note}".strip() if note else current.note
        current.version = F("version") + 1
        current.save(update_fields=["ended_at", "status", "note", "version", "updated_at"])
        current.refresh_from_db(fields=["version"])
        audit.record(audit.Actor.of(user, channel), "update", "Encounter", current.uuid,
                     resident_id=current.resident.uuid,
                     detail={"discharged_at": ended_at.isoformat(), "version": current.version,
                             "length_of_stay_days": current.length_of_stay_days})
    return current


def add_diagnoses(*, user: Any, encounter: Encounter, diagnoses: list[dict[str, Any]], channel: str) -> list[Diagnosis]:
    """Add diagnoses to an encounter (a discharge diagnosis, a result that confirmed one). The encounter keeps
    exactly one primary diagnosis; a code already on it is refused."""
    check_can_record(user)
    checked = _codes(diagnoses)
    if not checked:
        raise InvalidInput("没有要添加的诊断 (no diagnoses to add)", field="diagnoses")
    now = timezone.now()
    with transaction.atomic():
        current = _locked_encounter(user, encounter)
        if current.status == EncounterStatus.CANCELLED:
            raise Conflict("该就诊已作废 (the encounter was entered in error)")
        existing = dict(current.diagnoses.values_list("code", "is_primary"))
        again = [code.code for code, _ in checked if code.code in existing]
        if again:
            raise InvalidInput(f"该就诊已有诊断 {', '.join(again)} (already diagnosed at this encounter)",
                               field="diagnoses")
        _one_primary(sum(existing.values()) + sum(1 for _, primary in checked if primary))
        practitioner = user.practitioner
        rows = Diagnosis.objects.bulk_create([
            Diagnosis(community_id=current.community_id, encounter=current, resident_id=current.resident_id,
                      code=code.code, display=code.name, is_primary=primary, recorded_at=now,
                      practitioner=practitioner)
            for code, primary in checked
        ])
        problems = _problems_for(current, rows, {code.code: code for code, _ in checked})
        Encounter.objects.filter(pk=current.pk).update(version=F("version") + 1, updated_at=now)
        audit.record_many(audit.Actor.of(user, channel), [
            audit.Entry("update", "Encounter", str(current.uuid), str(current.resident.uuid),
                        detail={"added_diagnoses": [d.code for d in rows]}),
            *_problem_entries(problems, current.resident),
        ])
    return rows


# --- observations and the problem list ---------------------------------------------------------------------

def record_observations(*, user: Any, resident: Resident, observations: list[dict[str, Any]],
                        encounter: Encounter | None = None, channel: str) -> list[Observation]:
    """Record measurements or results for a resident, at an encounter or on their own (a home reading, a
    result from a shared centre). Vital signs are checked against `vitals.MEASURES`."""
    check_can_record(user, OBSERVING_ROLES)
    now = timezone.now()
    checked = _measurements(observations, field="observations")
    if not checked:
        raise InvalidInput("没有要记录的测量值 (no observations to record)", field="observations")
    _check_resident(user, resident)
    if encounter is not None:
        if encounter.resident_id != resident.pk:
            raise InvalidInput("就诊记录不属于该居民 (the encounter is another resident's)", field="encounter")
        organization = encounter.organization
    else:
        organization = user.organization
    if organization is None:
        raise PermissionDenied("您的账号未关联机构 (your account has no organisation)")
    _check_posted(user, organization, timezone.localdate())
    with transaction.atomic():
        rows = Observation.objects.bulk_create(_observations(
            checked, resident=resident, encounter=encounter, organization=organization,
            practitioner=user.practitioner, default_at=encounter.started_at if encounter else now, now=now,
        ))
        audit.record_many(audit.Actor.of(user, channel), [
            audit.Entry("create", "Observation", str(o.uuid), str(resident.uuid),
                        detail={"code": o.code, "encounter": str(encounter.uuid) if encounter else None})
            for o in rows
        ])
    return rows


def resolve_problem(*, user: Any, problem: Problem, channel: str) -> Problem:
    """Take a condition off the active problem list (cured, or recorded in error)."""
    check_can_record(user)
    _check_resident(user, problem.resident)
    now = timezone.now()
    with transaction.atomic():
        changed = Problem.objects.filter(pk=problem.pk, status=ProblemStatus.ACTIVE, version=problem.version).update(
            status=ProblemStatus.RESOLVED, resolved_at=now, version=F("version") + 1
        )
        if not changed:
            raise Conflict("该问题已被他人修改或已解决，请刷新 (the problem was changed or resolved by someone else; "
                           "reload)")
        problem.refresh_from_db()
        audit.record(audit.Actor.of(user, channel), "update", "Problem", problem.uuid,
                     resident_id=problem.resident.uuid, detail={"status": ProblemStatus.RESOLVED, "code": problem.code})
    return problem
