"""Every write of tiered care and two-way referral: catalogue suggestions, referrals and their workflow,
down-referral care plans, the record access care grants, and published capacity with its reserved share.

One transaction per function, audited inside it. Counters and statuses change only through conditional
UPDATEs (`... WHERE version = expected AND status IN sources`, `... WHERE booked < limit`) whose row count
says who won, so concurrent accepts and bookings cannot both succeed on PostgreSQL or SQLite.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any

from django.db import transaction
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.utils import timezone

from countycare.core import audit, compiled, nationalid, policy
from countycare.core.codes import BRANCH_TYPES, GRASSROOTS_TYPES, Level, OrganizationType, Role
from countycare.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from countycare.records import icd10
from countycare.records import services as records_services
from countycare.records.models import Encounter, EncounterKind, EncounterStatus
from countycare.registry import queries as registry_queries
from countycare.registry.models import Department, Organization, Posting, Practitioner, Resident
from countycare.registry.scope import base_scope_covers, covered_organization_ids, posted_organization_ids

from . import catalogue, workflow
from .models import (
    OPEN_STATUSES,
    AccessReason,
    Booking,
    BookingStatus,
    CareAccess,
    CarePlan,
    CarePlanStatus,
    CatalogueEntry,
    Referral,
    ReferralEvent,
    ReferralKind,
    ReferralStatus,
    Slot,
    SlotKind,
)
from .workflow import Side

# Who writes referrals and their steps: the doctors of the three levels.
REFERRING_ROLES = frozenset({Role.VILLAGE_DOCTOR, Role.TOWNSHIP_DOCTOR, Role.COUNTY_SPECIALIST})
# Who publishes capacity: the doctors of the receiving organisation and the community's administrators.
PUBLISHING_ROLES = REFERRING_ROLES | {Role.COMMUNITY_ADMIN}
COUNTY_HOSPITALS = (OrganizationType.LEAD_HOSPITAL, OrganizationType.TCM_HOSPITAL, OrganizationType.MCH)
MAX_DIAGNOSES = 20
MAX_SLOT_CAPACITY = 10_000
LEVEL_NAMES = {Level.VILLAGE: "村卫生室", Level.TOWNSHIP: "乡镇卫生院", Level.COUNTY: "县级医院",
               Level.OUTSIDE: "县外医院"}
STAMP = {
    ReferralStatus.ACCEPTED: "accepted_at",
    ReferralStatus.ARRIVED: "arrived_at",
    ReferralStatus.COMPLETED: "completed_at",
    ReferralStatus.REJECTED: "closed_at",
    ReferralStatus.CANCELLED: "closed_at",
    ReferralStatus.EXPIRED: "closed_at",
}
EXPIRE_CHUNK = 2000  # referrals expired per transaction
NO_BED = "未能预留床位：接收机构暂无空床 (no free bed at the receiving organisation)"


def resident_not_found() -> NotFound:
    """Outside scope reads as not there at all, so a referral does not reveal who exists elsewhere."""
    return NotFound("未找到该居民，或不在您的管辖范围内 (resident not found or outside your scope)", field="resident")


# --- catalogue suggestions ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Suggestion:
    """What the catalogue advises. `to_organization` is None for an out-of-county referral from the lead
    hospital: the doctor chooses the partner hospital."""

    kind: str  # ReferralKind
    to_level: str  # Level
    to_organization: Organization | None
    entries: list[CatalogueEntry] = field(default_factory=list)
    message: str = ""


def lead_hospital(community_id: int) -> Organization | None:
    return (Organization.objects.filter(community_id=community_id, org_type=OrganizationType.LEAD_HOSPITAL,
                                        active=True).order_by("id").first())


def branch_of(organization: Organization) -> Organization | None:
    """The township or community centre a village clinic belongs to (a branch is its own)."""
    if organization.org_type in BRANCH_TYPES:
        return organization
    if organization.org_type == OrganizationType.VILLAGE_CLINIC and organization.parent_id:
        parent = organization.parent
        return parent if parent.org_type in BRANCH_TYPES and parent.active else None
    return None


def _unique(entries: Iterable[CatalogueEntry]) -> list[CatalogueEntry]:
    return list({e.pk: e for e in entries}.values())


def suggest_up_referral(*, organization: Organization, codes: list[str]) -> Suggestion | None:
    """The catalogue says this organisation's level should not treat one of `codes`: where to send the patient.
    A village clinic sends to its branch when the branch may treat every such code, else to the lead
    hospital; a township to the lead hospital; the lead hospital out of county."""
    level = organization.level
    may_treat = {Level.VILLAGE: "village_may_treat", Level.TOWNSHIP: "township_may_treat",
                 Level.COUNTY: "county_may_treat"}.get(level)
    if may_treat is None:
        return None
    found = _unique(catalogue.entries_for(codes, organization.community_id).values())
    beyond = [e for e in found if not getattr(e, may_treat)]
    if not beyond:
        return None
    names = "、".join(e.name for e in beyond)
    criteria = "；".join(e.up_criteria for e in beyond if e.up_criteria)
    county_can = all(e.county_may_treat for e in beyond)
    if level == Level.VILLAGE and all(e.township_may_treat for e in beyond) and branch_of(organization):
        target, to_level = branch_of(organization), Level.TOWNSHIP
    elif level != Level.COUNTY:
        target, to_level = lead_hospital(organization.community_id), Level.COUNTY
    else:
        target, to_level = None, Level.OUTSIDE
    if to_level == Level.OUTSIDE:
        message = (f"{names}超出县级医院诊治范围，建议由牵头医院开具转诊单转县外合作医院。{criteria} "
                   f"(the catalogue lists this for care outside the county: refer out of county)")
        return Suggestion(ReferralKind.OUT_OF_COUNTY, to_level, None, beyond, message)
    where = target.name if target else LEVEL_NAMES[to_level]
    extra = "" if county_can else "（需经牵头医院转县外）"
    message = (f"{names}不属于{LEVEL_NAMES[level]}诊治范围，建议上转至{where}{extra}。{criteria} "
               f"(the catalogue lists this for a higher level: refer up to {where})")
    return Suggestion(ReferralKind.UP, to_level, target, beyond, message)


def suggest_down_referral(*, encounter: Encounter) -> Suggestion | None:
    """A discharged lead-hospital inpatient whose primary diagnosis is down-referable: suggest the branch of
    the resident's village (or their own branch). None once a down-referral was made from this stay."""
    org = encounter.organization
    if org.org_type != OrganizationType.LEAD_HOSPITAL or encounter.kind != EncounterKind.INPATIENT:
        return None
    if encounter.status != EncounterStatus.FINISHED and encounter.ended_at is None:
        return None
    diagnoses = list(encounter.diagnoses.order_by("-is_primary", "id").values_list("code", "is_primary"))
    primary = [code for code, is_primary in diagnoses if is_primary] or [code for code, _ in diagnoses]
    found = catalogue.entries_for(primary, org.community_id)
    down = _unique(e for e in found.values() if e.down_referable)
    if not down:
        return None
    target = branch_of(encounter.resident.home_organization)
    if target is None:
        return None
    if Referral.objects.filter(source_encounter=encounter, kind=ReferralKind.DOWN).exclude(
            status__in=[ReferralStatus.REJECTED, ReferralStatus.CANCELLED, ReferralStatus.EXPIRED]).exists():
        return None
    names = "、".join(e.name for e in down)
    criteria = "；".join(e.down_criteria for e in down if e.down_criteria)
    message = (f"{names}病情稳定后可下转至{target.name}继续康复和随访。{criteria} "
               f"(down-referable: refer down to {target.name} with a care plan)")
    return Suggestion(ReferralKind.DOWN, Level.TOWNSHIP, target, down, message)


# --- referrals ---------------------------------------------------------------------------------------------

def _text(data: dict[str, Any], key: str, limit: int, *, required: bool = False, label: str = "") -> str:
    value = data.get(key) or ""
    if not isinstance(value, str):
        raise InvalidInput(f"{label or key}应为文本 ({key} must be text)", field=key)
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"请填写{label} ({key} is required)", field=key)
    if len(value) > limit:
        raise InvalidInput(f"{label or key}过长，最多{limit}个字符 ({key}: at most {limit} characters)", field=key)
    if "\x00" in value:
        raise InvalidInput(f"{label or key}含空字符 ({key} contains a NUL character)", field=key)
    return value


def _posted_at(practitioner: Practitioner, organization: Organization, on: dt.date) -> bool:
    return Posting.objects.filter(practitioner=practitioner, organization=organization, start__lte=on).filter(
        Q(end__isnull=True) | Q(end__gte=on)).exists()


def clean_diagnoses(raw: Any) -> list[dict[str, Any]]:
    """[{"code", "primary"}] checked against the ICD-10 table: the stored list with Chinese displays, exactly
    one primary (the first when none is marked)."""
    if not isinstance(raw, list) or not raw:
        raise InvalidInput("请至少填写一个诊断 (at least one diagnosis is required)", field="diagnoses")
    if len(raw) > MAX_DIAGNOSES:
        raise InvalidInput(f"诊断最多{MAX_DIAGNOSES}个 (at most {MAX_DIAGNOSES} diagnoses)", field="diagnoses")
    codes = []
    for item in raw:
        code = str((item or {}).get("code") or "").strip().upper() if isinstance(item, dict) else ""
        if not code:
            raise InvalidInput("诊断编码不能为空 (a diagnosis code is empty)", field="diagnoses")
        codes.append(code)
    if len(set(codes)) != len(codes):
        raise InvalidInput("诊断编码重复 (a diagnosis code is repeated)", field="diagnoses")
    known = {code: c.name for code, c in icd10.active_codes(codes).items()}
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise InvalidInput(f"未知的ICD-10编码 {', '.join(unknown)} (unknown ICD-10 code)", field="diagnoses")
    primaries = [i for i, item in enumerate(raw) if bool(item.get("primary"))]
    if len(primaries) > 1:
        raise InvalidInput("只能有一个主要诊断 (only one primary diagnosis)", field="diagnoses")
    first = primaries[0] if primaries else 0
    return [{"code": code, "display": known[code], "primary": i == first} for i, code in enumerate(codes)]


def _is_partner(org: Organization) -> bool:
    return org.org_type == OrganizationType.PARTNER_HOSPITAL


def _check_kind(kind: str, sender: Organization, receiver: Organization) -> None:
    """Which way a kind of referral may go between two levels."""
    if kind == ReferralKind.UP:
        ok = (sender.level == Level.VILLAGE and receiver.level == Level.TOWNSHIP) or (
            sender.level in (Level.VILLAGE, Level.TOWNSHIP) and receiver.org_type in COUNTY_HOSPITALS)
        if not ok:
            raise InvalidInput("上转只能由村卫生室转乡镇卫生院，或由村、乡转县级医院 (an up-referral goes village → "
                               "township, or village/township → county hospital)", field="to_organization")
    elif kind == ReferralKind.DOWN:
        if _is_partner(sender):
            ok = receiver.level in (Level.COUNTY, Level.TOWNSHIP, Level.VILLAGE)
        else:
            ok = sender.org_type in COUNTY_HOSPITALS and receiver.level in (Level.TOWNSHIP, Level.VILLAGE)
        if not ok:
            raise InvalidInput("下转只能由县级医院转乡镇卫生院或村卫生室（或县外合作医院转回）(a down-referral goes "
                               "county → township/village, or back from a partner hospital)",
                               field="to_organization")
    elif kind == ReferralKind.OUT_OF_COUNTY:
        if sender.org_type != OrganizationType.LEAD_HOSPITAL:
            raise PermissionDenied("县外转诊只能由牵头医院开具转诊单 (only the lead hospital refers out of county)")
        if not _is_partner(receiver):
            raise InvalidInput("县外转诊的接收方须为县外合作医院 (an out-of-county referral goes to a partner "
                               "hospital)", field="to_organization")
    else:
        raise InvalidInput(f"未知的转诊类型 {kind} (unknown referral kind)", field="kind")


def _clean_care_plan(raw: Any, *, community_id: int, today: dt.date) -> dict[str, Any]:
    if not isinstance(raw, dict) or not raw:
        raise InvalidInput("下转须附康复/随访计划 (a down-referral needs a care plan)", field="care_plan")
    plan: dict[str, Any] = {
        "treatment_summary": _text(raw, "treatment_summary", 4000, required=True, label="治疗经过"),
        "warning_signs": _text(raw, "warning_signs", 2000, label="警示症状"),
    }
    medicines = raw.get("medicines") or []
    if not isinstance(medicines, list) or len(medicines) > 50 or not all(
            isinstance(m, dict) and str(m.get("name") or "").strip() for m in medicines):
        raise InvalidInput("继续用药每项须有药名，最多50项 (each medicine needs a name; at most 50)",
                           field="care_plan.medicines")
    follow_up = raw.get("follow_up") or []
    if not isinstance(follow_up, list) or len(follow_up) > 50 or not all(
            isinstance(f, dict) and str(f.get("what") or "").strip() for f in follow_up):
        raise InvalidInput("随访安排每项须写明内容，最多50项 (each follow-up needs what to do; at most 50)",
                           field="care_plan.follow_up")
    plan["medicines"] = [{k: v for k, v in m.items() if k in ("name", "dose", "frequency", "days")}
                         for m in medicines]
    plan["follow_up"] = [{"due": str(f.get("due") or ""), "what": str(f["what"]).strip()} for f in follow_up]
    responsible = raw.get("responsible_practitioner")
    if not isinstance(responsible, Practitioner):
        raise InvalidInput("请指定牵头医院的责任医生 (name the responsible lead-hospital doctor)",
                           field="care_plan.responsible_practitioner")
    lead = lead_hospital(community_id)
    if lead is None or responsible.community_id != community_id or not _posted_at(responsible, lead, today):
        raise InvalidInput("责任医生须为牵头医院在岗医生 (the responsible doctor must work at the lead hospital)",
                           field="care_plan.responsible_practitioner")
    plan["responsible_practitioner"] = responsible
    plan["responsible_organization"] = lead
    period_end = raw.get("period_end") or today + dt.timedelta(
        days=int(policy.get("care_plan_follow_days", community_id)))
    if not isinstance(period_end, dt.date) or isinstance(period_end, dt.datetime) or period_end <= today:
        raise InvalidInput("随访截止日期须晚于今天 (the follow-up end must be after today)",
                           field="care_plan.period_end")
    plan["period_end"] = period_end
    return plan


def create_referral(*, user: Any, resident: Resident, data: dict[str, Any], channel: str,
                    within: Callable[[Referral], None] | None = None) -> Referral:
    """Send a resident up, down or out of county: up from a village to a township, or from a village or
    township to a county hospital; down from a county hospital to a township or village with a care plan (or a
    partner hospital's return, recorded by the receiving side); out of county from the lead hospital to a
    partner hospital, with a slip number. The resident must be in the sender's scope.

    data: kind, to_organization, to_department, to_practitioner, urgent, reason, clinical_summary, diagnoses
    ([{"code", "primary"}]), source_encounter, slip_number (out of county), from_organization (default the
    user's organisation; a partner hospital when the receiving side records a return from out of county),
    care_plan (down: treatment_summary, medicines, follow_up, warning_signs, responsible_practitioner,
    period_end). `within(referral)` runs inside the transaction (an API's idempotent answer)."""
    if user.role not in REFERRING_ROLES:
        raise PermissionDenied("只有医生可以发起转诊 (only doctors refer patients)")
    community_id = user.community_id
    kind = data.get("kind")
    if kind not in ReferralKind.values:
        raise InvalidInput(f"未知的转诊类型 {kind} (unknown referral kind)", field="kind")
    receiver = data.get("to_organization")
    if not isinstance(receiver, Organization) or receiver.community_id != community_id or not receiver.active:
        raise InvalidInput("接收机构不存在或不属于本医共体 (no such receiving organisation in your community)",
                           field="to_organization")
    if not (receiver.is_member or _is_partner(receiver)) or receiver.org_type == OrganizationType.CDC:
        raise InvalidInput("接收机构须为本医共体的医疗机构 (the receiver must be a care-giving member)",
                           field="to_organization")
    sender = data.get("from_organization") or user.organization
    if not isinstance(sender, Organization) or sender.community_id != community_id:
        raise InvalidInput("转出机构不存在 (no such sending organisation)", field="from_organization")
    covered = covered_organization_ids(user)
    if _is_partner(sender):
        if kind != ReferralKind.DOWN or receiver.id not in covered:
            raise PermissionDenied("县外合作医院转回的患者由接收方登记 (a return from a partner hospital is recorded "
                                   "by the receiving side)")
    elif sender.id not in covered:
        raise PermissionDenied(f"您不在{sender.name}执业，不能以其名义转诊 (you do not work at {sender.name})")
    if sender.id == receiver.id:
        raise InvalidInput("不能转诊到本机构 (cannot refer to the same organisation)", field="to_organization")
    _check_kind(kind, sender, receiver)
    if (resident.community_id != community_id or resident.is_merged
            or not (base_scope_covers(user, resident)  # most senders: decided without a query
                    or registry_queries.visible_residents(user).filter(pk=resident.pk).exists())):
        raise resident_not_found()
    today = timezone.localdate()
    from_department = data.get("from_department")
    if from_department is not None and (not isinstance(from_department, Department)
                                        or from_department.organization_id != sender.id):
        raise InvalidInput("转出科室不属于转出机构 (the department is not at the sending organisation)",
                           field="from_department")
    department = data.get("to_department")
    if department is not None and (not isinstance(department, Department)
                                   or department.organization_id != receiver.id):
        raise InvalidInput("接收科室不属于接收机构 (the department is not at the receiving organisation)",
                           field="to_department")
    practitioner = data.get("to_practitioner")
    if practitioner is not None and (not isinstance(practitioner, Practitioner)
                                     or not _posted_at(practitioner, receiver, today)):
        raise InvalidInput("接诊医生不在接收机构执业 (the doctor does not work at the receiving organisation)",
                           field="to_practitioner")
    urgent = bool(data.get("urgent"))
    if urgent and kind != ReferralKind.UP:
        raise InvalidInput("绿色通道只用于上转 (the green channel is for up-referrals)", field="urgent")
    reason = _text(data, "reason", 1000, required=True, label="转诊原因")
    summary = _text(data, "clinical_summary", 4000, label="病情摘要")
    diagnoses = clean_diagnoses(data.get("diagnoses"))
    source = data.get("source_encounter")
    if source is not None and (not isinstance(source, Encounter) or source.resident_id != resident.pk):
        raise InvalidInput("来源就诊不属于该居民 (the source encounter is not this resident's)",
                           field="source_encounter")
    slip = _text(data, "slip_number", 30, label="转诊单号")
    if slip and kind != ReferralKind.OUT_OF_COUNTY:
        raise InvalidInput("转诊单号只用于县外转诊 (a slip number is for out-of-county referrals)",
                           field="slip_number")
    plan = None
    if kind == ReferralKind.DOWN:
        plan = _clean_care_plan(data.get("care_plan"), community_id=community_id, today=today)
    elif data.get("care_plan"):
        raise InvalidInput("只有下转附康复/随访计划 (only a down-referral carries a care plan)", field="care_plan")

    now = timezone.now()
    numbers = policy_numbers(community_id, "referral_expiry_days", "referral_record_access_days")
    due_at = now + dt.timedelta(days=int(numbers["referral_expiry_days"]))
    access_days = int(numbers["referral_record_access_days"])
    with transaction.atomic():
        referral = compiled.insert(Referral(
            community_id=community_id, resident=resident, kind=kind, urgent=urgent, from_organization=sender,
            from_department=from_department,
            # a partner's return is recorded by the receiving side: the recorder is not the referring doctor
            from_practitioner=None if _is_partner(sender) else user.practitioner,
            to_organization=receiver, to_department=department, to_practitioner=practitioner,
            source_encounter=source, reason=reason, clinical_summary=summary, diagnoses=diagnoses,
            requested_at=now, due_at=due_at, slip_number=slip, created_by=user,
        ))
        changes: dict[str, Any] = {}
        note = ""
        if kind == ReferralKind.OUT_OF_COUNTY and not slip:
            changes["slip_number"] = f"{sender.division_code[:6]}{timezone.localtime(now):%Y%m%d}{referral.pk:06d}"
        if urgent:
            bed = _reserve_bed(referral, user=user, now=now)
            if bed is None:
                note = NO_BED
            else:
                changes["bed_booking"] = bed
        if changes:
            Referral.objects.filter(pk=referral.pk).update(**changes)
            for name, value in changes.items():
                setattr(referral, name, value)
        compiled.insert(CareAccess(
            community_id=community_id, resident=resident, organization=receiver, practitioner=practitioner,
            reason=AccessReason.REFERRAL, referral=referral, starts_at=now,
            ends_at=now + dt.timedelta(days=access_days),
        ))
        if plan is not None:
            CarePlan.objects.create(community_id=community_id, referral=referral, resident=resident,
                                                diagnoses=diagnoses, **plan)
            CareAccess.objects.create(
                community_id=community_id, resident=resident, practitioner=plan["responsible_practitioner"],
                reason=AccessReason.CARE_TEAM, referral=referral, starts_at=now,
                ends_at=_end_of_day(plan["period_end"]),
            )
        else:
            referral._state.fields_cache["care_plan"] = None  # known to have none: no query to find out
        compiled.insert(ReferralEvent(referral=referral, at=now, action="create", to_status=referral.status,
                                      reason=note, user=user, username=user.get_username(),
                                      organization=user.organization))
        if within is not None:
            within(referral)
        # last: the audit append serialises writers until the commit, so nothing else follows it
        audit.record(
            audit.Actor.of(user, channel), "create", "Referral", referral.uuid, resident_id=resident.uuid,
            detail={"kind": kind, "from": str(sender.uuid), "to": str(receiver.uuid), "urgent": urgent,
                    "diagnoses": [d["code"] for d in diagnoses], "bed_reserved": "bed_booking" in changes,
                    **({"care_plan": str(referral.care_plan.uuid)} if plan is not None else {})},
        )
    return referral


def policy_numbers(community_id: int, *keys: str) -> dict[str, Decimal]:
    """`policy.get` for several keys in one query: the community's row, else the default row, else the code
    default."""
    return policy.get_many(community_id, *keys)


def _end_of_day(day: dt.date) -> dt.datetime:
    """The last moment of a local (Asia/Shanghai) day, as an aware datetime."""
    return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min)) - dt.timedelta(
        microseconds=1)


def is_family_doctor_referral(referral: Referral) -> bool:
    """Sent from a grassroots member (village clinic or branch): it may use the reserved share."""
    sender = referral.from_organization
    return sender.is_member and sender.org_type in GRASSROOTS_TYPES


def _reserve_bed(referral: Referral, *, user: Any, now: dt.datetime) -> Booking | None:
    """Green channel: a bed at the receiving organisation (the receiving department's when named), the
    earliest one still free, reserved share first. None when every bed is taken."""
    beds = Slot.objects.filter(organization_id=referral.to_organization_id, kind=SlotKind.BED, ends_at__gt=now,
                               starts_at__lte=referral.due_at,
                               booked_general__lt=F("capacity") - F("booked_reserved"))
    if referral.to_department_id:
        beds = beds.filter(Q(department_id=referral.to_department_id) | Q(department__isnull=True))
    for slot in beds.order_by("starts_at", "id")[:10]:
        from_reserve = _take_place(slot, for_referral=is_family_doctor_referral(referral), now=now)
        if from_reserve is not None:
            return compiled.insert(Booking(community_id=slot.community_id, slot=slot,
                                           resident_id=referral.resident_id, from_reserve=from_reserve,
                                           booked_at=now, booked_by=user))
    return None


class Stale(Conflict):
    """A transition that lost: the referral moved on since the caller read it."""


def _acting_sides(user: Any, referral: Referral) -> set[str]:
    """Which sides of the referral the user may act for. A partner hospital has no users here: for an
    out-of-county referral the sending side records the partner's steps, for a partner's return the
    receiving side records the partner's."""
    if user.role not in REFERRING_ROLES or user.community_id != referral.community_id:
        return set()
    covered = covered_organization_ids(user)
    sides = set()
    if referral.to_organization_id in covered:
        sides.add(Side.RECEIVER)
    if referral.from_organization_id in covered:
        sides.add(Side.SENDER)
    if referral.kind == ReferralKind.OUT_OF_COUNTY and Side.SENDER in sides:
        sides.add(Side.RECEIVER)
    if Side.RECEIVER in sides and _is_partner(referral.from_organization):
        sides.add(Side.SENDER)
    return sides


def transition(*, user: Any, referral: Referral, action: str, expected_version: int, reason: str = "",
               slot: Slot | None = None, channel: str) -> Referral:
    """Move a referral along `workflow.TRANSITIONS`. The status changes by one conditional UPDATE (version as
    read, status among the transition's sources): of two concurrent accepts exactly one wins; the loser, a
    stale version or a status the action does not start from is a 409 and changes nothing."""
    step = workflow.BY_ACTION.get(action)
    if step is None:
        raise InvalidInput(f"未知的操作 {action} (unknown action)", field="action")
    if step.side == Side.SYSTEM:
        raise PermissionDenied("过期由系统按期处理 (expiry is done by the system)")
    if step.side not in _acting_sides(user, referral):
        who = "接收方" if step.side == Side.RECEIVER else "转出方"
        raise PermissionDenied(f"只有{who}可以执行“{step.label}” (only the {step.side} side may {action})")
    reason = (reason or "").strip()
    if step.reason_required and not reason:
        raise InvalidInput("请填写原因 (a reason is required)", field="reason")
    if len(reason) > 200 or "\x00" in reason:
        raise InvalidInput("原因过长，最多200个字符 (reason: at most 200 characters)", field="reason")
    if slot is not None and action != "accept":
        raise InvalidInput("只有接收时预约号源 (a slot is booked only when accepting)", field="slot")
    now = timezone.now()
    if slot is not None:
        if slot.organization_id != referral.to_organization_id:
            raise InvalidInput("号源不属于接收机构 (the slot is not at the receiving organisation)", field="slot")
        if slot.ends_at <= now:
            raise InvalidInput("号源已过期 (the slot is over)", field="slot")
    if referral.version != expected_version:
        referral.refresh_from_db()
    from_status = referral.status
    with transaction.atomic():
        changes = _status_changes(step, now, reason)
        won = _status_update(step, with_reason=bool(reason)).run(referral.pk, expected_version, now,
                                                                  *([reason] if reason else []))
        if not won:
            raise _lost(referral, step, expected_version)
        # before the booking: a slot's row stays locked from its booking to the commit, keep that short
        compiled.insert(ReferralEvent(referral=referral, at=now, action=action, from_status=from_status,
                                      to_status=step.target, reason=reason, user=user,
                                      username=user.get_username(), organization=user.organization))
        links: dict[str, Any] = {}
        if slot is not None:
            links["booking"] = _book(slot, referral.resident_id, user=user, now=now,
                                     for_referral=is_family_doctor_referral(referral))
        if step.target in (ReferralStatus.REJECTED, ReferralStatus.CANCELLED):
            release_bookings([b for b in (referral.booking_id, referral.bed_booking_id) if b])
            for name in ("booking", "bed_booking"):
                if Referral._meta.get_field(name).is_cached(referral) and getattr(referral, name) is not None:
                    getattr(referral, name).status = BookingStatus.CANCELLED
            _end_access([referral.pk], now)
        if step.target == ReferralStatus.ARRIVED and referral.kind != ReferralKind.OUT_OF_COUNTY:
            links["arrival_encounter"] = _record_arrival(user, referral, now, channel)
        if links:
            _link_update(*links).run(referral.pk, *(linked.pk for linked in links.values()))
        audit.record(
            audit.Actor.of(user, channel), action, "Referral", referral.uuid, resident_id=referral.resident.uuid,
            reason=reason, detail={"from": from_status, "to": step.target, "version": expected_version + 1,
                                   **({"slot": str(slot.uuid)} if slot is not None else {})},
        )
    for name, value in {**changes, **links}.items():
        if name not in ("version",):
            setattr(referral, name, value)
    referral.version = expected_version + 1
    return referral


# The UPDATEs of a transition, their SQL compiled once per shape (core.compiled)
_STATUS_UPDATES: dict[tuple[str, bool], compiled.CompiledUpdate] = {}
_LINK_UPDATES: dict[tuple[str, ...], compiled.CompiledUpdate] = {}


def _status_changes(step: workflow.Transition, now: dt.datetime, reason: str) -> dict[str, Any]:
    """What a transition writes on the referral: its status, version, stamps and the reason when one is given."""
    changes: dict[str, Any] = {"status": step.target, "version": F("version") + 1, "updated_at": now,
                               STAMP[step.target]: now}
    if reason:
        changes["status_reason"] = reason
    return changes


def _status_update(step: workflow.Transition, *, with_reason: bool) -> compiled.CompiledUpdate:
    """`run(pk, expected_version, now[, reason])`: the status change if the version and status are as read."""
    key = (step.action, with_reason)
    if key not in _STATUS_UPDATES:
        field = Referral._meta.get_field

        def build(pk: int, version: int, now: dt.datetime, reason: str = "") -> tuple[Any, dict[str, Any]]:
            return (Referral.objects.filter(pk=pk, version=version, status__in=step.sources),
                    _status_changes(step, now, reason))

        _STATUS_UPDATES[key] = compiled.CompiledUpdate(
            build, field("id"), field("version"), field("updated_at"), *([field("status_reason")] * with_reason))
    return _STATUS_UPDATES[key]


def _link_update(*names: str) -> compiled.CompiledUpdate:
    """`run(pk, *ids)`: point the referral at what the transition made (its booking, its arrival encounter)."""
    if names not in _LINK_UPDATES:
        _LINK_UPDATES[names] = compiled.CompiledUpdate(
            lambda pk, *ids: (Referral.objects.filter(pk=pk), dict(zip(names, ids, strict=True))),
            Referral._meta.get_field("id"), *(Referral._meta.get_field(name) for name in names))
    return _LINK_UPDATES[names]


def _lost(referral: Referral, step: workflow.Transition, expected_version: int) -> Conflict:
    current = Referral.objects.filter(pk=referral.pk).values("status", "version").first()
    if current is None:
        return Conflict("转诊已不存在 (the referral no longer exists)")
    if current["version"] != expected_version:
        return Stale("转诊已被他人处理，请刷新 (the referral was changed by someone else; reload)",
                     detail={"status": current["status"], "version": current["version"]})
    label = ReferralStatus(current["status"]).label
    return Conflict(f"转诊当前状态为“{label}”，不能执行“{step.label}” (the referral is {current['status']}; "
                    f"it cannot be {step.action}ed)", detail={"status": current["status"],
                                                              "version": current["version"]})


def _record_arrival(user: Any, referral: Referral, now: dt.datetime, channel: str) -> Encounter:
    """The encounter the patient arrives into: inpatient when a bed was booked, else outpatient."""
    slots = list(Slot.objects.filter(bookings__pk__in=[b for b in (referral.booking_id, referral.bed_booking_id)
                                                       if b]).select_related("department"))
    bed = next((s for s in slots if s.kind == SlotKind.BED), None)
    department = referral.to_department or next((s.department for s in slots if s.department_id), None)
    return records_services.record_encounter(
        user=user, resident=referral.resident, channel=channel,
        data={
            "kind": EncounterKind.INPATIENT if bed else EncounterKind.OUTPATIENT,
            "ward": (bed.label or "待分配床位")[:40] if bed else "",
            "organization": referral.to_organization,
            "department": department,
            "started_at": now,
            "chief_complaint": f"转诊：{referral.reason}"[:200],
            "note": referral.clinical_summary,
            "diagnoses": [{"code": d["code"], "primary": d.get("primary", False)} for d in referral.diagnoses],
        },
    )


def _end_access(referral_ids: list[int], now: dt.datetime) -> None:
    """A refused, cancelled or expired referral no longer opens the record: not to the receiving side, and —
    the patient never arrived under it — its care plan is revoked and the responsible doctor's care-team access
    that came with the plan ends too. (A completed referral keeps both until the plan's end.)"""
    CareAccess.objects.filter(referral_id__in=referral_ids, ends_at__gt=now, starts_at__lt=now).update(ends_at=now)
    CarePlan.objects.filter(referral_id__in=referral_ids, status=CarePlanStatus.ACTIVE).update(
        status=CarePlanStatus.REVOKED)


def expire_overdue(*, now: dt.datetime | None = None) -> int:
    """Expire every requested or accepted referral not arrived by its due time, release its bookings and end
    the access it granted. Set-based: one locking read, one UPDATE, one bulk insert of events per chunk."""
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            rows = list(
                Referral.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status__in=[ReferralStatus.REQUESTED, ReferralStatus.ACCEPTED], due_at__lt=now)
                .order_by("id")
                .values_list("id", "uuid", "status", "booking_id", "bed_booking_id", "resident__uuid",
                             "community_id")[:EXPIRE_CHUNK]
            )
            if not rows:
                return total
            ids = [r[0] for r in rows]
            Referral.objects.filter(pk__in=ids).update(
                status=ReferralStatus.EXPIRED, closed_at=now, updated_at=now, version=F("version") + 1,
                status_reason="逾期未到诊 (not arrived in time)",
            )
            release_bookings([b for r in rows for b in r[3:5] if b])
            _end_access(ids, now)
            ReferralEvent.objects.bulk_create(
                ReferralEvent(referral_id=r[0], at=now, action="expire", from_status=r[2],
                              to_status=ReferralStatus.EXPIRED, username="system") for r in rows
            )
            for community_id in {r[6] for r in rows}:
                actor = audit.Actor(username="system", community_id=community_id, channel="cli")
                audit.record_many(actor, [
                    audit.Entry("expire", "Referral", str(r[1]), resident_id=str(r[5]), detail={"from": r[2]})
                    for r in rows if r[6] == community_id
                ])
            total += len(rows)


# --- first contact: a walk-in from outside the area ---------------------------------------------------------

WALK_IN_NOT_FOUND = ("未找到身份证号与姓名相符的居民，请核对证件；未建档者请先建档 "
                     "(no resident with this national ID and name: check the ID card, or register the patient)")


def admit_walk_in(*, user: Any, national_id: str, name: str, organization: Organization, channel: str,
                  now: dt.datetime | None = None) -> Resident:
    """A patient from outside the user's area walks in (首诊): identified by the national ID on their card and
    their name, both matching the record exactly, the record opens to the organisation and the doctor for
    `first_contact_access_days`. A wrong check digit is a 422; an ID and name that do not match one resident are
    a 404 that says nothing about who exists. Both outcomes are audited; an ID already in scope grants nothing
    new."""
    if user.role not in REFERRING_ROLES:
        raise PermissionDenied("只有医生可以接诊 (only doctors admit patients)")
    if organization.community_id != user.community_id or organization.id not in posted_organization_ids(user):
        raise PermissionDenied(f"您未在{organization.name}执业 (you are not posted to {organization.name})")
    try:
        parsed = nationalid.parse(national_id)
    except nationalid.NationalIdError as exc:
        raise InvalidInput(exc.message, field="national_id") from None
    name = (name or "").strip()
    if not name or len(name) > 50:
        raise InvalidInput("请填写证件上的姓名 (the name on the ID card is required)", field="name")
    now = now or timezone.now()
    actor = audit.Actor.of(user, channel)
    resident = (Resident.objects.filter(community_id=user.community_id, national_id=parsed.value,
                                        merged_into__isnull=True).first())
    if resident is None or resident.name != name:
        audit.record(actor, "first-contact", "Resident", "", reason="首诊接诊 walk-in",
                     detail={"found": False, "national_id_tail": parsed.value[-4:]})
        raise NotFound(WALK_IN_NOT_FOUND, field="national_id")
    with transaction.atomic():
        if not registry_queries.visible_residents(user).filter(pk=resident.pk).exists():
            days = int(policy.get("first_contact_access_days", user.community_id))
            CareAccess.objects.create(
                community_id=user.community_id, resident=resident, organization=organization,
                practitioner_id=user.practitioner_id, reason=AccessReason.FIRST_CONTACT, starts_at=now,
                ends_at=now + dt.timedelta(days=days))
            granted = True
        else:
            granted = False
        audit.record(actor, "first-contact", "Resident", resident.uuid, resident_id=resident.uuid,
                     reason="首诊接诊 walk-in", detail={"found": True, "granted": granted,
                                                       "organization": str(organization.uuid)})
    return resident


# --- capacity: slots and bookings --------------------------------------------------------------------------

def reserved_share(capacity: int, share: Decimal) -> int:
    """ceil(capacity × share): 10 places at 0.20 keep 2 for referrals."""
    return int((Decimal(capacity) * share).to_integral_value(rounding=ROUND_CEILING))


def publish_slots(*, user: Any, organization: Organization, department: Department | None, kind: str,
                  starts_at: dt.datetime, ends_at: dt.datetime, capacity: int, label: str = "",
                  practitioner: Practitioner | None = None, channel: str) -> Slot:
    """Publish capacity (a clinic session, beds, exam places); the policy share is held for referrals."""
    if user.role not in PUBLISHING_ROLES:
        raise PermissionDenied("您的角色不能发布号源 (your role cannot publish slots)")
    if organization.community_id != user.community_id or not organization.is_member or not organization.active:
        raise InvalidInput("机构不属于本医共体 (no such organisation in your community)", field="organization")
    if user.role != Role.COMMUNITY_ADMIN and organization.id not in covered_organization_ids(user):
        raise PermissionDenied(f"您不能为{organization.name}发布号源 (you do not work at {organization.name})")
    if kind not in SlotKind.values:
        raise InvalidInput(f"未知的号源类型 {kind} (unknown slot kind)", field="kind")
    if department is not None and department.organization_id != organization.id:
        raise InvalidInput("科室不属于该机构 (the department is not at this organisation)", field="department")
    if practitioner is not None and not _posted_at(practitioner, organization, timezone.localdate()):
        raise InvalidInput("医生不在该机构执业 (the doctor does not work at this organisation)", field="practitioner")
    if not isinstance(capacity, int) or isinstance(capacity, bool) or not 1 <= capacity <= MAX_SLOT_CAPACITY:
        raise InvalidInput(f"数量应为1到{MAX_SLOT_CAPACITY} (capacity must be 1 to {MAX_SLOT_CAPACITY})",
                           field="capacity")
    if timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        raise InvalidInput("时间须带时区 (times need a time zone)", field="starts_at")
    if ends_at <= starts_at:
        raise InvalidInput("结束时间须晚于开始时间 (the end must be after the start)", field="ends_at")
    if ends_at <= timezone.now():
        raise InvalidInput("不能发布已结束的号源 (the slot is already over)", field="ends_at")
    label = _text({"label": label}, "label", 100, label="名称")
    reserved = reserved_share(capacity, policy.get("reserved_slot_share", organization.community_id))
    with transaction.atomic():
        slot = Slot.objects.create(community_id=organization.community_id, organization=organization,
                                   department=department, practitioner=practitioner, kind=kind, label=label,
                                   starts_at=starts_at, ends_at=ends_at, capacity=capacity,
                                   reserved=min(reserved, capacity))
        audit.record(audit.Actor.of(user, channel), "create", "Slot", slot.uuid,
                     detail={"organization": str(organization.uuid), "kind": kind, "capacity": capacity,
                             "reserved": slot.reserved, "starts_at": starts_at.isoformat()})
    return slot


def reserve_released(slot: Slot, now: dt.datetime, release_hours: int) -> bool:
    """From `release_hours` before the start, the unused reserved places are open to everyone."""
    return now >= slot.starts_at - dt.timedelta(hours=release_hours)


def _take_place(slot: Slot, *, for_referral: bool, now: dt.datetime, release_hours: int | None = None
                ) -> bool | None:
    """Take one place with a conditional UPDATE and say which pool it came from (True: reserved, False:
    general), or None when there is none. Referrals take the reserved pool first; others only the general
    pool (capacity − reserved) until the reserve is released."""
    if for_referral and _TAKE_RESERVED.run(slot.pk):
        return True
    if release_hours is None:  # read only when the general pool is needed: most referrals stop at the reserve
        release_hours = int(policy.get("reserved_slot_release_hours", slot.community_id))
    if (_TAKE_ANY if reserve_released(slot, now, release_hours) else _TAKE_GENERAL).run(slot.pk):
        return False
    return None


# A place taken: the three conditional UPDATEs of _take_place, compiled once (core.compiled). A free place is
# one of capacity − booked_reserved not yet booked from the general pool; the general pool alone is
# capacity − reserved.
_FREE = Q(booked_general__lt=F("capacity") - F("booked_reserved"))
_TAKE_RESERVED = compiled.CompiledUpdate(
    lambda pk: (Slot.objects.filter(_FREE, pk=pk, booked_reserved__lt=F("reserved")),
                {"booked_reserved": F("booked_reserved") + 1}),
    Slot._meta.get_field("id"))
_TAKE_ANY = compiled.CompiledUpdate(  # the reserve released: any free place
    lambda pk: (Slot.objects.filter(_FREE, pk=pk), {"booked_general": F("booked_general") + 1}),
    Slot._meta.get_field("id"))
_TAKE_GENERAL = compiled.CompiledUpdate(
    lambda pk: (Slot.objects.filter(booked_general__lt=F("capacity") - F("reserved"), pk=pk),
                {"booked_general": F("booked_general") + 1}),
    Slot._meta.get_field("id"))


def _book(slot: Slot, resident_id: int, *, user: Any, now: dt.datetime, for_referral: bool) -> Booking:
    from_reserve = _take_place(slot, for_referral=for_referral, now=now)
    if from_reserve is None:
        raise Conflict("该号源已约满，请选择其他号源 (the slot is full; choose another)", field="slot")
    return compiled.insert(Booking(community_id=slot.community_id, slot=slot, resident_id=resident_id,
                                   from_reserve=from_reserve, booked_at=now, booked_by=user))


def book_slot(*, user: Any, slot: Slot, resident: Resident, for_referral: bool, channel: str) -> Booking:
    """Book a place for a resident in your scope. `for_referral` (the reserved share) is for family doctors —
    users at a village clinic or branch booking for the patient they refer."""
    if user.role not in PUBLISHING_ROLES:
        raise PermissionDenied("您的角色不能预约号源 (your role cannot book slots)")
    if slot.community_id != user.community_id or resident.community_id != user.community_id:
        raise NotFound("未找到该号源 (slot not found)")
    if not registry_queries.visible_residents(user).filter(pk=resident.pk).exists():
        raise PermissionDenied("该居民不在您的管辖范围内 (the resident is outside your scope)")
    if for_referral and (user.organization is None or user.organization.org_type not in GRASSROOTS_TYPES):
        raise PermissionDenied("预留号源只供家庭医生（村卫生室、分院）转诊使用 (the reserved share is for referrals by "
                               "family doctors at village clinics and branches)")
    now = timezone.now()
    if slot.ends_at <= now:
        raise InvalidInput("号源已过期 (the slot is over)", field="slot")
    with transaction.atomic():
        booking = _book(slot, resident.pk, user=user, now=now, for_referral=for_referral)
        audit.record(audit.Actor.of(user, channel), "book", "Slot", slot.uuid, resident_id=resident.uuid,
                     detail={"booking": str(booking.uuid), "from_reserve": booking.from_reserve})
    return booking


def release_bookings(booking_ids: list[int]) -> int:
    """Cancel bookings and give their places back, set-based: one UPDATE of the bookings and one of the slots."""
    if not booking_ids:
        return 0
    rows = list(Booking.objects.select_for_update().filter(pk__in=booking_ids, status=BookingStatus.BOOKED)
                .values_list("pk", "slot_id", "from_reserve"))
    if not rows:
        return 0
    Booking.objects.filter(pk__in=[r[0] for r in rows]).update(status=BookingStatus.CANCELLED)
    reserved = Counter(slot for _, slot, from_reserve in rows if from_reserve)
    general = Counter(slot for _, slot, from_reserve in rows if not from_reserve)

    def minus(counts: Counter[int]) -> Case:
        return Case(*[When(pk=slot, then=Value(n)) for slot, n in counts.items()], default=Value(0),
                    output_field=IntegerField())

    Slot.objects.filter(pk__in={r[1] for r in rows}).update(
        booked_reserved=F("booked_reserved") - minus(reserved), booked_general=F("booked_general") - minus(general)
    )
    return len(rows)


def cancel_booking(*, user: Any, booking: Booking, channel: str) -> Booking:
    """Give a place back. A referral's booking goes with the referral (cancel or reject it instead)."""
    slot = booking.slot
    if user.community_id != booking.community_id or not (
            booking.booked_by_id == user.pk or slot.organization_id in covered_organization_ids(user)):
        raise PermissionDenied("只能取消本人或本机构的预约 (you may cancel only your own or your organisation's "
                               "bookings)")
    if Referral.objects.filter(Q(booking=booking) | Q(bed_booking=booking), status__in=OPEN_STATUSES).exists():
        raise Conflict("该预约属于进行中的转诊，请撤销或拒收转诊 (the booking belongs to an open referral)")
    with transaction.atomic():
        if not release_bookings([booking.pk]):
            raise Conflict("该预约已取消 (the booking is already cancelled)")
        audit.record(audit.Actor.of(user, channel), "cancel-booking", "Slot", slot.uuid,
                     resident_id=booking.resident.uuid, detail={"booking": str(booking.uuid)})
    booking.status = BookingStatus.CANCELLED
    return booking
