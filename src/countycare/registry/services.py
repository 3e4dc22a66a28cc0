"""Every write to residents: registration, edits, merge and its reversal. One transaction each, audited."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import IntegrityError, models, transaction
from django.db.models import Q

from countycare.core import audit, nationalid
from countycare.core.codes import (
    COMMUNITY_WIDE_ROLES,
    GRASSROOTS_TYPES,
    REGISTERING_ROLES,
    IdentifierType,
    InsuranceScheme,
    KeyPopulation,
    Level,
    OrganizationType,
    PostingKind,
    Role,
    Sex,
    Title,
)
from countycare.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, PreconditionFailed
from countycare.core.models import AuditEvent
from countycare.core.pinyin import full as pinyin_full
from countycare.core.pinyin import initials as pinyin_initials

from . import queries
from .models import (
    Department,
    Household,
    Organization,
    Posting,
    Practitioner,
    Resident,
    ResidentIdentifier,
    ResidentTag,
)
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
    for name_, value in values.items():
        limit = getattr(Resident._meta.get_field(name_), "max_length", None)
        if limit and isinstance(value, str) and len(value) > limit:
            raise InvalidInput(f"{Resident._meta.get_field(name_).verbose_name}过长，最多{limit}个字符 "
                               f"(too long: at most {limit} characters)", field=name_)
    if values["sex"] not in Sex.values:
        raise InvalidInput("请选择性别 (sex is required: male, female or unknown)", field="sex")
    if values["birth_date"] is None:
        raise InvalidInput("请填写出生日期 (birth date is required)", field="birth_date")
    if values["birth_date"] > dt.date.today():
        raise InvalidInput("出生日期不能晚于今天 (birth date is in the future)", field="birth_date")
    if values["phone"] and not (values["phone"].replace("-", "").isdigit() and 7 <= len(values["phone"]) <= 20):
        raise InvalidInput("电话号码格式不正确 (phone number is not valid)", field="phone")
    if data.insurance_scheme not in InsuranceScheme.values:
        raise InvalidInput(
            f"未知的医保类型 {data.insurance_scheme} (unknown insurance scheme)", field="insurance_scheme"
        )
    values["insurance_scheme"] = data.insurance_scheme
    unknown = [t for t in data.tags if t not in KeyPopulation.values]
    if unknown:
        raise InvalidInput(f"未知的重点人群标签 {', '.join(unknown)} (unknown key-population tag)", field="tags")
    for id_type, value in data.identifiers:
        if id_type not in IdentifierType.values:
            raise InvalidInput(f"未知的证件类型 {id_type} (unknown identifier type)", field="identifiers")
        if not value.strip():
            raise InvalidInput("证件号码不能为空 (identifier number is empty)", field="identifiers")
        if len(value.strip()) > ResidentIdentifier._meta.get_field("value").max_length:
            raise InvalidInput("证件号码过长 (identifier number is too long)", field="identifiers")
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
    if not (values["village_code"].isdigit() and len(values["village_code"]) in (9, 12)
            and values["village_code"].startswith(home.division_code[:6])):
        raise InvalidInput(
            f"村级区划代码应为本县的9位或12位数字 (village code must be 9 or 12 digits of county "
            f"{home.division_code[:6]})",
            field="village_code",
        )
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


def show_likely_duplicates(*, user: Any, channel: str, reason: str, name: str, birth_date: dt.date | None,
                           sex: str, village_code: str = "", phone: str = "", exclude_id: int | None = None
                           ) -> list[DuplicateCandidate]:
    """Likely duplicates about to be shown to `user` — possibly outside their scope, so the showing is audited."""
    candidates = find_likely_duplicates(community_id=user.community_id, name=name, birth_date=birth_date, sex=sex,
                                        village_code=village_code, phone=phone, exclude_id=exclude_id)
    queries.audit_residents(user, [c.resident for c in candidates], action="duplicate-check", channel=channel,
                            reason=reason)
    return candidates


def _save_tags_and_identifiers(resident: Resident, data: ResidentData) -> None:
    ResidentTag.objects.filter(resident=resident).exclude(tag__in=data.tags).delete()
    existing = set(ResidentTag.objects.filter(resident=resident).values_list("tag", flat=True))
    today = dt.date.today()
    ResidentTag.objects.bulk_create(
        ResidentTag(resident=resident, tag=t, since=today) for t in dict.fromkeys(data.tags) if t not in existing
    )
    wanted = {(t, v.strip().upper()) for t, v in data.identifiers}
    # unchanged identifiers keep their rows: a merge names the rows it moved, and undoing it needs them
    kept = set()
    for row in ResidentIdentifier.objects.filter(resident=resident):
        if (row.type, row.value) in wanted:
            kept.add((row.type, row.value))
        else:
            row.delete()
    added = wanted - kept
    clash = ResidentIdentifier.objects.filter(
        Q(*[Q(type=t, value=v) for t, v in added], _connector=Q.OR) if added else Q(pk__in=[])
    ).select_related("resident").first()
    if clash:
        # identifiers are unique across communities (the table has no community): name the holder only when
        # they are in this one, so the refusal does not reveal another community's resident
        same_community = clash.resident.community_id == resident.community_id
        raise Conflict(f"证件{clash.get_type_display()} {clash.value}已登记给其他居民 (identifier already registered)",
                       field="identifiers",
                       detail={"existing": str(clash.resident.uuid)} if same_community else {})
    try:
        with transaction.atomic():
            ResidentIdentifier.objects.bulk_create(
                ResidentIdentifier(resident=resident, type=t, value=v) for t, v in added
            )
    except IntegrityError:  # a concurrent registration took the same number between the check and the insert
        raise Conflict("证件号码刚被其他登记占用，请核对后重试 (identifier was just registered by someone else)",
                       field="identifiers") from None


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
                      confirmed_not_duplicate: bool = False,
                      within: Callable[[Resident], None] | None = None) -> Resident:
    """Register a resident. `within(resident)` runs inside the registration's transaction, for work that must
    land with it (an API's idempotent answer). Callers must not wrap this call in a transaction of their own:
    showing likely duplicates is audited, and that record has to survive the refusal that follows it."""
    community_id = user.community_id
    values = _clean(data, community_id=community_id)
    _check_can_write(user, values["home_organization"])
    if not values["national_id"] and not confirmed_not_duplicate:
        candidates = show_likely_duplicates(
            user=user, channel=channel, reason="possible duplicate shown at registration",
            name=values["name"], birth_date=values["birth_date"], sex=values["sex"],
            village_code=values["village_code"], phone=values["phone"],
        )
        if candidates:
            raise DuplicateSuspected(candidates)
    with transaction.atomic():
        _national_id_conflict(community_id, values["national_id"])
        try:
            with transaction.atomic():
                resident = Resident.objects.create(community_id=community_id, **values)
        except IntegrityError:  # a concurrent registration of the same ID won the race
            _national_id_conflict(community_id, values["national_id"])
            raise Conflict("同时有另一登记写入了相同信息，请刷新后重试 (a concurrent registration clashed; "
                           "reload and try again)") from None
        _save_tags_and_identifiers(resident, data)
        audit.record(
            audit.Actor.of(user, channel), "create", "Resident", resident.uuid, resident_id=resident.uuid,
            detail={"confirmed_not_duplicate": confirmed_not_duplicate} if confirmed_not_duplicate else {},
        )
        if within is not None:
            within(resident)
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
        # the checks above saw the row as read; without If-Match nothing else stops a write that is stale
        if current.is_merged:
            raise Conflict("该档案已合并到其他档案，请编辑保留的档案 (record was merged; edit the surviving record)")
        if current.home_organization_id != resident.home_organization_id:
            _check_can_write(user, current.home_organization)
        _national_id_conflict(resident.community_id, values["national_id"], exclude_id=resident.pk)
        changed = {
            f: [_plain(getattr(current, f)), _plain(values[f])]
            for f in EDITABLE_FIELDS
            if getattr(current, f) != values[f]
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
        national_id_moved = detail.get("national_id_moved")
        if national_id_moved and survivor.national_id != national_id_moved:
            raise Conflict("合并后保留档案的身份证号已被修改，不能自动撤销 (the surviving record's national ID "
                           "changed since the merge; undo cannot put it back)", field="national_id")
        models_by_label = {m._meta.label: m for m in apps.get_models()}
        moved_back = []
        for label, ids in detail["moved"].items():
            model_label, field_name = label.rsplit(".", 1)
            rows = models_by_label[model_label]._default_manager.filter(pk__in=ids, **{field_name: survivor})
            if rows.count() != len(ids):
                # some moved rows were since deleted or re-pointed: moving the rest back would split the record
                raise Conflict(f"合并后档案已被修改（{model_label}），不能自动撤销 (records changed since the merge: "
                               f"some moved {model_label} rows are gone)", detail={"changed": label})
            moved_back.append((rows, field_name))
        for rows, field_name in moved_back:
            rows.update(**{field_name: duplicate})
        if national_id_moved:
            Resident.objects.filter(pk=survivor.pk).update(national_id=None)
            Resident.objects.filter(pk=duplicate.pk).update(national_id=national_id_moved)
        ResidentTag.objects.bulk_create(
            ResidentTag(resident=duplicate, tag=t) for t in detail.get("dropped_tags", [])
        )
        Resident.objects.filter(pk=duplicate.pk).update(merged_into=None, version=duplicate.version + 1)
        return audit.record(
            audit.Actor.of(user, channel), "unmerge", "Resident", duplicate.uuid, resident_id=survivor.uuid,
            reason=reason, detail={"merge_event": event.pk, "restored": str(duplicate.uuid)},
        )


# ------------------------------------------------------------------------------------------------------------
# Reference data: organisations, practitioners and their postings. Written by community administrators (the
# FHIR API; admin pages edit the same rows). These rows carry no version column, so `content_version` — a
# hash of the stored values — stands in for one in optimistic locking (If-Match).

DEFAULT_LEVELS = {
    OrganizationType.LEAD_HOSPITAL: Level.COUNTY,
    OrganizationType.CDC: Level.COUNTY,
    OrganizationType.MCH: Level.COUNTY,
    OrganizationType.TCM_HOSPITAL: Level.COUNTY,
    OrganizationType.TOWNSHIP_CENTRE: Level.TOWNSHIP,
    OrganizationType.COMMUNITY_CENTRE: Level.TOWNSHIP,
    OrganizationType.VILLAGE_CLINIC: Level.VILLAGE,
    OrganizationType.PRIVATE_CLINIC: Level.VILLAGE,
    OrganizationType.PARTNER_HOSPITAL: Level.OUTSIDE,
}
DIVISION_CODE_LENGTHS = (6, 9, 12)


@dataclass
class OrganizationData:
    """An organisation as a client supplies it; empty `level` and `is_member=None` follow from the type."""

    name: str
    org_type: str
    division_code: str
    level: str = ""
    parent: Organization | None = None
    is_member: bool | None = None
    short_name: str = ""
    address: str = ""
    phone: str = ""
    active: bool = True


@dataclass
class PractitionerData:
    name: str
    title: str
    sex: str = Sex.UNKNOWN
    birth_date: dt.date | None = None
    licence_number: str = ""
    specialties: list[str] = field(default_factory=list)
    phone: str = ""
    active: bool = True


@dataclass
class PostingData:
    practitioner: Practitioner | None
    organization: Organization | None
    role: str
    start: dt.date | None
    end: dt.date | None = None
    kind: str = PostingKind.HOME
    department: Department | None = None


def content_version(instance: models.Model) -> str:
    """A short hash of every stored value of a row: changes whenever the row does."""
    values = {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}
    payload = json.dumps(values, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _require_community_admin(user: Any) -> None:
    if user.role != Role.COMMUNITY_ADMIN or not user.community_id:
        raise PermissionDenied("只有医共体管理员可以维护机构和人员 (only a community administrator can edit "
                               "organisations, practitioners and postings)")


def _replace_values(*, user: Any, channel: str, instance: Any, expected_version: str | None,
                    clean: Callable[[Any], dict[str, Any]]) -> Any:
    """The update of every reference-data row: lock it, refuse a stale version, validate against the locked
    row, write the values and audit what changed, in one transaction."""
    model = type(instance)
    with transaction.atomic():
        current = model._default_manager.select_for_update().get(pk=instance.pk)
        if expected_version is not None and content_version(current) != expected_version:
            raise PreconditionFailed("记录已被他人修改，请刷新后重试 (record changed since you read it)")
        values = clean(current)
        changed = _changes(current, values)
        for name, value in values.items():
            setattr(current, name, value)
        current.save()
        audit.record(audit.Actor.of(user, channel), "update", model.__name__, current.uuid,
                     detail={"changed": changed})
    current.refresh_from_db()
    return current


def _changes(current: models.Model, values: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        name: [_plain(getattr(current, name)), _plain(value)]
        for name, value in values.items() if getattr(current, name) != value
    }


def _clean_organization(data: OrganizationData, *, community_id: int,
                        current: Organization | None = None) -> dict[str, Any]:
    name = (data.name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput("机构名称须为1至100个字 (name is required, at most 100 characters)", field="name")
    if data.org_type not in OrganizationType.values:
        raise InvalidInput(f"未知的机构类型 {data.org_type} (unknown organisation type)", field="org_type")
    level = data.level or DEFAULT_LEVELS[OrganizationType(data.org_type)]
    if level not in Level.values:
        raise InvalidInput(f"未知的机构层级 {level} (unknown level)", field="level")
    code = (data.division_code or "").strip()
    if not code.isdigit() or len(code) not in DIVISION_CODE_LENGTHS:
        raise InvalidInput(f"行政区划代码须为6、9或12位数字 (division code must have 6, 9 or 12 digits, "
                           f"got {code!r})", field="division_code")
    parent = data.parent
    if parent is not None:
        if parent.community_id != community_id:
            raise InvalidInput("上级机构不属于本医共体 (the parent is outside this community)",
                               field="parent")
        ancestor: Organization | None = parent
        while ancestor is not None and current is not None:
            if ancestor.pk == current.pk:
                raise InvalidInput("上级机构不能是自身或下级机构 (an organisation cannot sit under itself)",
                                   field="parent")
            ancestor = ancestor.parent
    short_name = (data.short_name or "").strip()
    if len(short_name) > 50:
        raise InvalidInput("简称过长 (short name is too long)", field="short_name")
    phone, address = (data.phone or "").strip(), (data.address or "").strip()
    if len(phone) > 30:
        raise InvalidInput("电话过长 (phone is too long)", field="phone")
    if len(address) > 200:
        raise InvalidInput("地址过长 (address is too long)", field="address")
    is_member = data.is_member
    if is_member is None:
        is_member = data.org_type != OrganizationType.PARTNER_HOSPITAL
    return {
        "name": name, "short_name": short_name, "org_type": data.org_type, "level": level, "parent": parent,
        "is_member": is_member, "division_code": code, "address": address, "phone": phone,
        "active": bool(data.active),
    }


def create_organization(*, user: Any, data: OrganizationData, channel: str = "web") -> Organization:
    _require_community_admin(user)
    values = _clean_organization(data, community_id=user.community_id)
    with transaction.atomic():
        organization = Organization.objects.create(community_id=user.community_id, **values)
        audit.record(audit.Actor.of(user, channel), "create", "Organization", organization.uuid,
                     detail={"name": organization.name, "type": organization.org_type})
    organization.refresh_from_db()
    return organization


def update_organization(*, user: Any, organization: Organization, data: OrganizationData,
                        channel: str = "web", expected_version: str | None = None) -> Organization:
    """Replace an organisation's values. `expected_version` (from `content_version`) guards lost updates."""
    _require_community_admin(user)
    if organization.community_id != user.community_id:
        raise NotFound("未找到该机构 (organisation not found)")
    return _replace_values(
        user=user, channel=channel, instance=organization, expected_version=expected_version,
        clean=lambda current: _clean_organization(data, community_id=user.community_id, current=current),
    )


def _clean_practitioner(data: PractitionerData, *, community_id: int,
                        current: Practitioner | None = None) -> dict[str, Any]:
    name = "".join((data.name or "").split())
    if not name or len(name) > 50:
        raise InvalidInput("姓名须为1至50个字 (name is required, at most 50 characters)", field="name")
    if data.title not in Title.values:
        raise InvalidInput(f"未知或缺少职称 {data.title} (professional title is missing or unknown)",
                           field="title")
    sex = data.sex or Sex.UNKNOWN
    if sex not in Sex.values:
        raise InvalidInput(f"未知的性别 {sex} (sex must be male, female or unknown)", field="sex")
    if data.birth_date and data.birth_date > dt.date.today():
        raise InvalidInput("出生日期不能晚于今天 (birth date is in the future)", field="birth_date")
    licence = (data.licence_number or "").strip()
    if len(licence) > 30:
        raise InvalidInput("执业证书编号过长 (licence number is too long)", field="licence_number")
    if licence:
        holder = Practitioner.objects.filter(community_id=community_id, licence_number=licence)
        if current is not None:
            holder = holder.exclude(pk=current.pk)
        found = holder.first()
        if found:
            raise Conflict("该执业证书编号已登记 (this licence number is already registered)",
                           field="licence_number", detail={"existing": str(found.uuid)})
    phone = (data.phone or "").strip()
    if len(phone) > 30:
        raise InvalidInput("电话过长 (phone is too long)", field="phone")
    specialties = [s.strip() for s in data.specialties if s and s.strip()]
    return {
        "name": name, "title": data.title, "sex": sex, "birth_date": data.birth_date,
        "licence_number": licence, "specialties": specialties, "phone": phone, "active": bool(data.active),
    }


def create_practitioner(*, user: Any, data: PractitionerData, channel: str = "web") -> Practitioner:
    _require_community_admin(user)
    with transaction.atomic():
        values = _clean_practitioner(data, community_id=user.community_id)
        practitioner = Practitioner.objects.create(community_id=user.community_id, **values)
        audit.record(audit.Actor.of(user, channel), "create", "Practitioner", practitioner.uuid,
                     detail={"name": practitioner.name, "title": practitioner.title})
    practitioner.refresh_from_db()
    return practitioner


def update_practitioner(*, user: Any, practitioner: Practitioner, data: PractitionerData,
                        channel: str = "web", expected_version: str | None = None) -> Practitioner:
    _require_community_admin(user)
    if practitioner.community_id != user.community_id:
        raise NotFound("未找到该人员 (practitioner not found)")
    return _replace_values(
        user=user, channel=channel, instance=practitioner, expected_version=expected_version,
        clean=lambda current: _clean_practitioner(data, community_id=user.community_id, current=current),
    )


def _clean_posting(data: PostingData, *, community_id: int) -> dict[str, Any]:
    if data.practitioner is None or data.practitioner.community_id != community_id:
        raise InvalidInput("请指定本医共体的人员 (a practitioner of this community is required)",
                           field="practitioner")
    if data.organization is None or data.organization.community_id != community_id:
        raise InvalidInput("请指定本医共体的机构 (an organisation of this community is required)",
                           field="organization")
    if data.role not in Role.values or data.role == Role.RESIDENT:
        raise InvalidInput(f"未知或缺少岗位角色 {data.role} (role is missing or unknown)", field="role")
    if data.kind not in PostingKind.values:
        raise InvalidInput(f"未知的派驻类型 {data.kind} (unknown posting kind)", field="kind")
    if data.start is None:
        raise InvalidInput("请填写开始日期 (a start date is required)", field="start")
    if data.end is not None and data.end < data.start:
        raise InvalidInput("结束日期不能早于开始日期 (the end date is before the start date)", field="end")
    if data.department is not None and data.department.organization_id != data.organization.pk:
        raise InvalidInput("科室不属于该机构 (the department belongs to another organisation)",
                           field="department")
    return {
        "practitioner": data.practitioner, "organization": data.organization, "department": data.department,
        "role": data.role, "kind": data.kind, "start": data.start, "end": data.end,
    }


def create_posting(*, user: Any, data: PostingData, channel: str = "web") -> Posting:
    _require_community_admin(user)
    values = _clean_posting(data, community_id=user.community_id)
    with transaction.atomic():
        posting = Posting.objects.create(**values)
        audit.record(audit.Actor.of(user, channel), "create", "Posting", posting.uuid,
                     detail={"practitioner": str(posting.practitioner.uuid),
                             "organization": str(posting.organization.uuid), "role": posting.role})
    posting.refresh_from_db()
    return posting


def update_posting(*, user: Any, posting: Posting, data: PostingData, channel: str = "web",
                   expected_version: str | None = None) -> Posting:
    _require_community_admin(user)
    if posting.organization.community_id != user.community_id:
        raise NotFound("未找到该岗位 (posting not found)")
    return _replace_values(
        user=user, channel=channel, instance=posting, expected_version=expected_version,
        clean=lambda current: _clean_posting(data, community_id=user.community_id),
    )
