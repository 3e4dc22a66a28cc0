"""Every write to residents: registration, edits, merge and its reversal. One transaction each, audited."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import IntegrityError, transaction
from django.db.models import Q

from countycare.core import audit, nationalid
from countycare.core.codes import (
    COMMUNITY_WIDE_ROLES,
    GRASSROOTS_TYPES,
    REGISTERING_ROLES,
    IdentifierType,
    InsuranceScheme,
    KeyPopulation,
    Role,
    Sex,
)
from countycare.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, PreconditionFailed
from countycare.core.models import AuditEvent
from countycare.core.pinyin import full as pinyin_full
from countycare.core.pinyin import initials as pinyin_initials

from .models import Household, Organization, Resident, ResidentIdentifier, ResidentTag
from .scope import covered_organization_ids

EDITABLE_FIELDS = (
    "name", "sex", "birth_date", "national_id", "phone", "address", "village_code", "household",
    "relation_to_head", "home_organization", "insurance_scheme", "insurance_number",
)


@dataclass
class ResidentData:
    """What a registration or an edit supplies. `tags` and `identifiers` replace the stored sets."""

    name: str
    sex: str = ""
    birth_date: dt.date | None = None
    national_id: str = ""
    phone: str = ""
    address: str = ""
    village_code: str = ""
    home_organization: Organization | None = None
    household: Household | None = None
    relation_to_head: str = ""
    insurance_scheme: str = InsuranceScheme.RESIDENT
    insurance_number: str = ""
    tags: list[str] = field(default_factory=list)
    identifiers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class DuplicateCandidate:
    resident: Resident
    score: int
    reasons: list[str]


class DuplicateSuspected(Conflict):
    """Registering without a national ID looks like an existing resident; confirm to go on."""

    def __init__(self, candidates: list[DuplicateCandidate]) -> None:
        names = "、".join(f"{c.resident.name}({c.resident.birth_date})" for c in candidates[:3])
        super().__init__(
            f"疑似重复建档：{names}。请核对，确认不是同一人后再提交 (possible duplicate of an existing resident; "
            "check and confirm it is a different person)",
            detail={"candidates": [str(c.resident.uuid) for c in candidates]},
        )
        self.candidates = candidates


def _check_can_write(user: Any, home: Organization) -> None:
    if user.role not in REGISTERING_ROLES:
        raise PermissionDenied("您的角色不能登记或修改居民档案 (your role cannot register or edit residents)")
    if user.role in COMMUNITY_WIDE_ROLES:
        if home.community_id != user.community_id:
            raise PermissionDenied("该机构不属于本医共体 (organisation is outside your community)")
        return
    if home.id not in covered_organization_ids(user):
        raise PermissionDenied(
            f"{home.name}不在您的管辖范围内，不能在此登记 (you cannot register residents at {home.name})"
        )


def _clean(data: ResidentData, *, community_id: int) -> dict[str, Any]:
    """Validate and normalise; raise InvalidInput naming the field."""
    name = "".join((data.name or "").split())
    if not name:
        raise InvalidInput("请填写姓名 (name is required)", field="name")
    if len(name) > 50:
        raise InvalidInput("姓名过长 (name is too long)", field="name")
    values: dict[str, Any] = {
        "name": name,
        "phone": (data.phone or "").strip(),
        "address": (data.address or "").strip(),
        "village_code": (data.village_code or "").strip(),
        "relation_to_head": data.relation_to_head or "",
        "insurance_number": (data.insurance_number or "").strip(),
        "household": data.household,
        "sex": data.sex or "",
        "birth_date": data.birth_date,
    }
    if data.national_id and data.national_id.strip():
        try:
            nid = nationalid.parse(data.national_id)
        except nationalid.NationalIdError as exc:
            raise InvalidInput(exc.message, field="national_id", detail={"part": exc.part}) from None
        problems = nationalid.check_against(nid, birth_date=data.birth_date, sex=data.sex or None)
        if problems:
            raise InvalidInput("；".join(problems), field="birth_date" if data.birth_date != nid.birth_date else "sex")
        values["national_id"] = nid.value
        values["birth_date"] = nid.birth_date
        values["sex"] = nid.sex
    else:
        values["national_id"] = None
    if values["sex"] not in Sex.values:
        raise InvalidInput("请选择性别 (sex is required: male, female or unknown)", field="sex")
    if values["birth_date"] is None:
        raise InvalidInput("请填写出生日期 (birth date is required)", field="birth_date")
    if values["birth_date"] > dt.date.today():
        raise InvalidInput("出生日期不能晚于今天 (birth date is in the future)", field="birth_date")
    if values["phone"] and not (values["phone"].replace("-", "").isdigit() and 7 <= len(values["phone"]) <= 20):
        raise InvalidInput("电话号码格式不正确 (phone number is not valid)", field="phone")
    if data.insurance_scheme not in InsuranceScheme.values:
        raise InvalidInput(f"未知的医保类型 {data.insurance_scheme} (unknown insurance scheme)", field="insurance_scheme")
    values["insurance_scheme"] = data.insurance_scheme
    unknown = [t for t in data.tags if t not in KeyPopulation.values]
    if unknown:
        raise InvalidInput(f"未知的重点人群标签 {', '.join(unknown)} (unknown key-population tag)", field="tags")
    for id_type, value in data.identifiers:
        if id_type not in IdentifierType.values:
            raise InvalidInput(f"未知的证件类型 {id_type} (unknown identifier type)", field="identifiers")
        if not value.strip():
            raise InvalidInput("证件号码不能为空 (identifier number is empty)", field="identifiers")
    home = data.home_organization
    if home is None:
        raise InvalidInput("请选择所属机构（村卫生室或分院）(home clinic is required)", field="home_organization")
    if home.community_id != community_id or home.org_type not in GRASSROOTS_TYPES:
        raise InvalidInput(
            "所属机构须为本医共体的村卫生室或乡镇/社区分院 (home organisation must be a village clinic or branch of "
            "this community)",
            field="home_organization",
        )
    values["home_organization"] = home
    if not values["village_code"]:
        values["village_code"] = home.division_code
    values["name_pinyin"] = pinyin_full(name)
    values["name_initials"] = pinyin_initials(name)
    return values


def find_likely_duplicates(*, community_id: int, name: str, birth_date: dt.date | None, sex: str,
                           village_code: str = "", phone: str = "", exclude_id: int | None = None
                           ) -> list[DuplicateCandidate]:
    """Residents who look like the same person: same name or same pinyin (homophones, 张/章), birth date,
    sex, village, phone. Scored; a candidate needs name-or-phone plus at least one more agreeing fact."""
    name = "".join(name.split())
    pinyin = pinyin_full(name)
    near = Q(name=name) | Q(name_pinyin=pinyin)
    if phone:
        near |= Q(phone=phone)
    qs = Resident.objects.filter(near, community_id=community_id, merged_into__isnull=True)
    if exclude_id:
        qs = qs.exclude(pk=exclude_id)
    candidates = []
    for r in qs.select_related("home_organization")[:200]:
        score, reasons = 0, []
        if r.name == name:
            score, reasons = score + 3, [*reasons, "同名 same name"]
        elif r.name_pinyin == pinyin:
            score, reasons = score + 2, [*reasons, "同音 same pinyin"]
        if birth_date and r.birth_date == birth_date:
            score, reasons = score + 3, [*reasons, "出生日期相同 same birth date"]
        if sex and r.sex == sex:
            score, reasons = score + 1, [*reasons, "性别相同 same sex"]
        if village_code and r.village_code == village_code:
            score, reasons = score + 1, [*reasons, "同村 same village"]
        if phone and r.phone == phone:
            score, reasons = score + 3, [*reasons, "电话相同 same phone"]
        if score >= 6:
            candidates.append(DuplicateCandidate(r, score, reasons))
    candidates.sort(key=lambda c: -c.score)
    return candidates


def _save_tags_and_identifiers(resident: Resident, data: ResidentData) -> None:
    ResidentTag.objects.filter(resident=resident).exclude(tag__in=data.tags).delete()
    existing = set(ResidentTag.objects.filter(resident=resident).values_list("tag", flat=True))
    ResidentTag.objects.bulk_create(
        ResidentTag(resident=resident, tag=t, since=dt.date.today()) for t in dict.fromkeys(data.tags) if t not in existing
    )
    wanted = {(t, v.strip().upper()) for t, v in data.identifiers}
    ResidentIdentifier.objects.filter(resident=resident).delete()
    clash = ResidentIdentifier.objects.filter(
        Q(*[Q(type=t, value=v) for t, v in wanted], _connector=Q.OR) if wanted else Q(pk__in=[])
    ).first()
    if clash:
        raise Conflict(f"证件{clash.get_type_display()} {clash.value}已登记给其他居民 (identifier already registered)",
                       field="identifiers", detail={"existing": str(clash.resident.uuid)})
    ResidentIdentifier.objects.bulk_create(ResidentIdentifier(resident=resident, type=t, value=v) for t, v in wanted)


def _national_id_conflict(community_id: int, national_id: str | None, exclude_id: int | None = None) -> None:
    if not national_id:
        return
    existing = Resident.objects.filter(community_id=community_id, national_id=national_id)
    if exclude_id:
        existing = existing.exclude(pk=exclude_id)
    found = existing.first()
    if found:
        raise Conflict(
            "该身份证号已登记，不能重复建档 (this national ID is already registered)",
            field="national_id",
            detail={"existing": str(found.uuid)},
        )


def register_resident(*, user: Any, data: ResidentData, channel: str = "web",
                      confirmed_not_duplicate: bool = False) -> Resident:
    community_id = user.community_id
    values = _clean(data, community_id=community_id)
    _check_can_write(user, values["home_organization"])
    with transaction.atomic():
        _national_id_conflict(community_id, values["national_id"])
        if not values["national_id"] and not confirmed_not_duplicate:
            candidates = find_likely_duplicates(
                community_id=community_id, name=values["name"], birth_date=values["birth_date"], sex=values["sex"],
                village_code=values["village_code"], phone=values["phone"],
            )
            if candidates:
                raise DuplicateSuspected(candidates)
        try:
            with transaction.atomic():
                resident = Resident.objects.create(community_id=community_id, **values)
        except IntegrityError:  # a concurrent registration of the same ID won the race
            _national_id_conflict(community_id, values["national_id"])
            raise
        _save_tags_and_identifiers(resident, data)
        audit.record(
            audit.Actor.of(user, channel), "create", "Resident", resident.uuid, resident_id=resident.uuid,
            detail={"confirmed_not_duplicate": confirmed_not_duplicate} if confirmed_not_duplicate else {},
        )
    return resident


def update_resident(*, user: Any, resident: Resident, data: ResidentData, channel: str = "web",
                    expected_version: int | None = None) -> Resident:
    """Apply an edit. `expected_version` (the version the editor saw, FHIR If-Match) guards lost updates."""
    if resident.is_merged:
        raise Conflict("该档案已合并到其他档案，请编辑保留的档案 (record was merged; edit the surviving record)")
    values = _clean(data, community_id=resident.community_id)
    _check_can_write(user, resident.home_organization)
    _check_can_write(user, values["home_organization"])
    with transaction.atomic():
        current = Resident.objects.select_for_update().get(pk=resident.pk)
        if expected_version is not None and current.version != expected_version:
            raise PreconditionFailed(
                f"档案已被他人修改（当前版本{current.version}），请刷新后重试 (record changed since you opened it)"
            )
        _national_id_conflict(resident.community_id, values["national_id"], exclude_id=resident.pk)
        changed = {
            f: [_plain(getattr(current, f)), _plain(values[f])] for f in EDITABLE_FIELDS if getattr(current, f) != values[f]
        }
        for name, value in values.items():
            setattr(current, name, value)
        current.version += 1
        current.save()
        old_tags = sorted(current.tags.values_list("tag", flat=True))
        _save_tags_and_identifiers(current, data)
        if old_tags != sorted(set(data.tags)):
            changed["tags"] = [old_tags, sorted(set(data.tags))]
        audit.record(audit.Actor.of(user, channel), "update", "Resident", current.uuid, resident_id=current.uuid,
                     detail={"changed": changed})
    return current


def _plain(value: Any) -> Any:
    if hasattr(value, "pk"):
        return value.pk
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _references_to_resident() -> list[tuple[Any, str]]:
    """Every (model, field) with a foreign key to Resident, in every installed app: a merge moves them all."""
    refs = []
    for model in apps.get_models():
        for f in model._meta.get_fields():
            if f.many_to_one and f.concrete and f.related_model is Resident and model is not Resident:
                refs.append((model, f.name))
    return refs


def merge_residents(*, user: Any, survivor: Resident, duplicate: Resident, reason: str,
                    channel: str = "web") -> AuditEvent:
    """Fold `duplicate` into `survivor`: every reference moves, the duplicate is kept but marked merged.
    The audit entry lists what moved, so `unmerge_residents` can put it back."""
    if user.role != Role.COMMUNITY_ADMIN:
        raise PermissionDenied("只有医共体管理员可以合并档案 (only a community administrator can merge records)")
    if not reason.strip():
        raise InvalidInput("请填写合并原因 (a reason is required)", field="reason")
    if survivor.pk == duplicate.pk:
        raise InvalidInput("不能与自身合并 (cannot merge a record into itself)")
    with transaction.atomic():
        pair = {r.pk: r for r in Resident.objects.select_for_update().filter(pk__in=[survivor.pk, duplicate.pk])}
        survivor, duplicate = pair[survivor.pk], pair[duplicate.pk]
        if survivor.is_merged or duplicate.is_merged:
            raise Conflict("其中一份档案已被合并 (one of the records is already merged)")
        if survivor.community_id != duplicate.community_id or survivor.community_id != user.community_id:
            raise PermissionDenied("档案不属于本医共体 (records are outside your community)")
        if survivor.national_id and duplicate.national_id and survivor.national_id != duplicate.national_id:
            raise Conflict("两份档案身份证号不同，不是同一人 (different national IDs: not the same person)")
        moved: dict[str, list[int]] = {}
        # tags the survivor already has would collide with its unique constraint: keep the survivor's
        dup_tags = ResidentTag.objects.filter(resident=duplicate, tag__in=survivor.tags.values("tag"))
        dropped_tags = list(dup_tags.values_list("tag", flat=True))
        dup_tags.delete()
        for model, field_name in _references_to_resident():
            label = f"{model._meta.label}.{field_name}"
            ids = list(model._default_manager.filter(**{field_name: duplicate}).values_list("pk", flat=True))
            if ids:
                model._default_manager.filter(pk__in=ids).update(**{field_name: survivor})
                moved[label] = ids
        taken_national_id = None
        if duplicate.national_id and not survivor.national_id:
            taken_national_id = duplicate.national_id
            Resident.objects.filter(pk=duplicate.pk).update(national_id=None)
            Resident.objects.filter(pk=survivor.pk).update(national_id=taken_national_id, version=survivor.version + 1)
        Resident.objects.filter(pk=duplicate.pk).update(merged_into=survivor, version=duplicate.version + 1)
        return audit.record(
            audit.Actor.of(user, channel), "merge", "Resident", duplicate.uuid, resident_id=survivor.uuid,
            reason=reason,
            detail={
                "survivor": str(survivor.uuid),
                "duplicate": str(duplicate.uuid),
                "moved": moved,
                "dropped_tags": dropped_tags,
                "national_id_moved": taken_national_id or "",
            },
        )


def unmerge_residents(*, user: Any, merge_event_id: int, reason: str, channel: str = "web") -> AuditEvent:
    """Reverse a merge from its audit entry: the moved references go back to the restored record."""
    if user.role != Role.COMMUNITY_ADMIN:
        raise PermissionDenied("只有医共体管理员可以撤销合并 (only a community administrator can undo a merge)")
    if not reason.strip():
        raise InvalidInput("请填写撤销原因 (a reason is required)", field="reason")
    event = AuditEvent.objects.filter(pk=merge_event_id, action="merge", community_id=user.community_id).first()
    if event is None:
        raise NotFound("未找到该合并记录 (merge not found)")
    if AuditEvent.objects.filter(action="unmerge", detail__merge_event=event.pk).exists():
        raise Conflict("该合并已撤销 (this merge was already undone)")
    detail = event.detail
    with transaction.atomic():
        duplicate = Resident.objects.select_for_update().get(uuid=detail["duplicate"])
        survivor = Resident.objects.select_for_update().get(uuid=detail["survivor"])
        if duplicate.merged_into_id != survivor.pk:
            raise Conflict("档案状态已变化，不能撤销 (records changed since the merge)")
        models_by_label = {m._meta.label: m for m in apps.get_models()}
        for label, ids in detail["moved"].items():
            model_label, field_name = label.rsplit(".", 1)
            models_by_label[model_label]._default_manager.filter(pk__in=ids).update(**{field_name: duplicate})
        if detail.get("national_id_moved"):
            Resident.objects.filter(pk=survivor.pk).update(national_id=None)
            Resident.objects.filter(pk=duplicate.pk).update(national_id=detail["national_id_moved"])
        ResidentTag.objects.bulk_create(
            ResidentTag(resident=duplicate, tag=t) for t in detail.get("dropped_tags", [])
        )
        Resident.objects.filter(pk=duplicate.pk).update(merged_into=None, version=duplicate.version + 1)
        return audit.record(
            audit.Actor.of(user, channel), "unmerge", "Resident", duplicate.uuid, resident_id=survivor.uuid,
            reason=reason, detail={"merge_event": event.pk, "restored": str(duplicate.uuid)},
        )
