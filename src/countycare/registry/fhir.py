"""The registry as FHIR R4 resources: Patient (Resident), Organization, Practitioner and PractitionerRole
(Posting).

Every identifier system, code system and extension URL used here is listed in docs/fhir.md. Incoming bodies
are validated by `fhir.resources` (R4B models) in `core.fhir` before they reach the `*_data` functions below,
which turn them into the registry's service inputs; the services keep every rule (national-ID check digit,
scope, duplicates, optimistic locking) so pages, the JSON API and FHIR refuse the same things.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from fhir.resources.R4B.organization import Organization as FhirOrganization
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.practitioner import Practitioner as FhirPractitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole as FhirPractitionerRole

from countycare.core import fhir
from countycare.core.codes import (
    CODESYSTEM_BASE,
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
    system_url,
)
from countycare.core.errors import InvalidInput, NotFound, PermissionDenied
from countycare.core.pinyin import COMPOUND_SURNAMES, SURNAME_READINGS
from countycare.core.pinyin import syllables as pinyin_syllables

from . import queries, services
from .models import Department, Organization, Posting, Practitioner, Resident

FHIR_BASE = CODESYSTEM_BASE.removesuffix("CodeSystem/")
# The national ID (公民身份号码, GB 11643). No official health-information OID for it could be confirmed
# from a primary source (see docs/fhir.md), so CountyCare publishes its own URI; change it here only.
NATIONAL_ID_SYSTEM = FHIR_BASE + "sid/national-id"
DIVISION_CODE_SYSTEM = FHIR_BASE + "sid/division-code"  # GB/T 2260 division code of an organisation
LICENCE_SYSTEM = FHIR_BASE + "sid/practitioner-licence"  # 医师/护士/乡村医生执业证书编号
OTHER_IDENTIFIER_BASE = system_url("identifier-type") + "/"  # + passport, birth_certificate, …
V2_IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
EN_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"

EXTENSION_BASE = FHIR_BASE + "StructureDefinition/"
EXT_INSURANCE_SCHEME = EXTENSION_BASE + "insurance-scheme"
EXT_INSURANCE_NUMBER = EXTENSION_BASE + "insurance-number"
EXT_KEY_POPULATION = EXTENSION_BASE + "key-population"
EXT_DIVISION_CODE = EXTENSION_BASE + "division-code"
EXT_ORGANIZATION_LEVEL = EXTENSION_BASE + "organization-level"
EXT_COMMUNITY_MEMBER = EXTENSION_BASE + "community-member"
EXT_SPECIALTY = EXTENSION_BASE + "specialty"
EXT_POSTING_KIND = EXTENSION_BASE + "posting-kind"
EXT_DEPARTMENT = EXTENSION_BASE + "department"

CONFIRM_VALUES = frozenset({"true", "1", "yes"})


# --------------------------------------------------------------------------------------------------- helpers


def coding(system_name: str, enum: Any, code: str) -> dict[str, str]:
    return {"system": system_url(system_name), "code": code, "display": str(enum(code).label)}


def reference(obj: Any, resource_type: str) -> dict[str, str]:
    return {"reference": f"{resource_type}/{obj.uuid}", "display": obj.name}


def compact(resource: dict[str, Any]) -> dict[str, Any]:
    """Drop empty elements: FHIR forbids empty strings, lists and objects."""
    return {key: value for key, value in resource.items() if value not in (None, "", [], {})}


def uuid_or_none(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def lookup_uuid(resource_id: str, message: str) -> str:
    found = uuid_or_none(resource_id)
    if found is None:
        raise NotFound(message)
    return found


def token(value: str, system: str) -> str | None:
    """The code of a token search value when its system (if given) is ours; None when it cannot match."""
    given_system, code = fhir.split_token(value)
    if given_system not in (None, system):
        return None
    return code


def referenced(value: Any, resource_type: str, field: str, expression: str) -> str:
    """The uuid of a Reference's target; InvalidInput naming the element when it is not one of ours."""
    target = getattr(value, "reference", None) if value is not None else None
    if not target:
        raise InvalidInput(
            f"缺少引用 {expression} (a reference to a {resource_type} is required)", field=field
        )
    parts = target.rstrip("/").split("/")
    found = uuid_or_none(parts[-1]) if len(parts) >= 2 and parts[-2] == resource_type else None
    if found is None:
        raise InvalidInput(
            f"引用须为 {resource_type}/<id> (reference must be {resource_type}/<id>, got {target[:80]})",
            field=field,
        )
    return found


def extension_values(resource: Any, url: str) -> list[Any]:
    return [ext for ext in (resource.extension or []) if ext.url == url]


def coded(ext: Any, system_name: str, field: str) -> str:
    value = ext.valueCoding
    if value is None or not value.code or (value.system and value.system != system_url(system_name)):
        raise InvalidInput(
            f"扩展 {ext.url} 须为 {system_url(system_name)} 中的 valueCoding "
            f"(extension needs a valueCoding from {system_url(system_name)})",
            field=field,
        )
    return str(value.code)


def full_date(value: Any, field: str) -> dt.date | None:
    """A FHIR date the registry can store: a full day (a partial date like 1960-05 is refused)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    if isinstance(value, dt.date):
        return value
    raise InvalidInput(f"须为完整日期 YYYY-MM-DD (a full date is required, got {value})", field=field)


def gender_of(value: str | None, field: str = "sex") -> str:
    if value == "other":
        raise InvalidInput(
            "性别只能登记为 male、female 或 unknown (gender 'other' cannot be stored)", field=field
        )
    return value or ""


def phone_of(resource: Any) -> str:
    return next((str(t.value) for t in resource.telecom or [] if t.system == "phone" and t.value), "")


def is_alphabetic(name: Any) -> bool:
    return any(ext.url == EN_REPRESENTATION and ext.valueCode == "ABC" for ext in name.extension or [])


def name_of(resource: Any) -> str:
    """The Chinese name: the first HumanName not marked as its alphabetic (pinyin) form."""
    for name in resource.name or []:
        if is_alphabetic(name):
            continue
        if name.text:
            return str(name.text)
        return str(name.family or "") + "".join(str(g) for g in name.given or [])
    return ""


def surname_length(name: str) -> int:
    compound = next((s for s in COMPOUND_SURNAMES if name.startswith(s) and len(name) > len(s)), None)
    return len(compound) if compound else 1


def human_names(name: str) -> list[dict[str, Any]]:
    """The name as written (ideographic) and its Hanyu Pinyin (alphabetic): 张三丰 -> Zhang Sanfeng."""
    chinese = bool(name) and all("\u3400" <= char <= "\u9fff" for char in name)
    if not chinese or len(name) < 2:
        return [{"use": "official", "text": name}]
    cut = surname_length(name)
    ideographic = {
        "extension": [{"url": EN_REPRESENTATION, "valueCode": "IDE"}],
        "use": "official",
        "text": name,
        "family": name[:cut],
        "given": [name[cut:]],
    }
    syllables = pinyin_syllables(name)
    family_syllables = 1 if name[:cut] in SURNAME_READINGS or cut == 1 else cut
    family = "".join(syllables[:family_syllables]).capitalize()
    given = "".join(syllables[family_syllables:]).capitalize()
    alphabetic = {
        "extension": [{"url": EN_REPRESENTATION, "valueCode": "ABC"}],
        "use": "official",
        "text": f"{family} {given}",
        "family": family,
        "given": [given],
    }
    return [ideographic, alphabetic]


def telecom(phone: str) -> list[dict[str, str]]:
    return [{"system": "phone", "value": phone}] if phone else []


# --------------------------------------------------------------------------------------------------- Patient


class PatientHandler(fhir.ResourceHandler):
    resource_type = "Patient"
    model = FhirPatient
    documentation = (
        f"Residents. Identifier {NATIONAL_ID_SYSTEM} is the national ID (GB 11643). managingOrganization is "
        "the home village clinic or branch and decides which clinicians' scope the resident is in. Reads and "
        "searches are scoped and audited; the health bureau gets 403. A merged record reads as active=false "
        "with link replaced-by. Create with X-Confirm-Not-Duplicate: true after checking a 409 duplicate "
        "warning."
    )
    search_params = {
        "_id": fhir.SearchParam("token", "The logical id"),
        "name": fhir.SearchParam(
            "string", "Chinese name prefix (张), pinyin initials (zs) or full pinyin prefix"
        ),
        "identifier": fhir.SearchParam("token", "system|value: the national ID or another identifier"),
        "birthdate": fhir.SearchParam(
            "date", "Birth date; YYYY, YYYY-MM or YYYY-MM-DD with eq/ne/lt/le/gt/ge"
        ),
        "gender": fhir.SearchParam("token", "male | female | unknown"),
        "phone": fhir.SearchParam("token", "Phone number (exact)"),
        "organization": fhir.SearchParam("reference", "The managing (home) organisation"),
    }
    field_expressions = {
        "name": "Patient.name",
        "sex": "Patient.gender",
        "birth_date": "Patient.birthDate",
        "national_id": "Patient.identifier",
        "identifiers": "Patient.identifier",
        "phone": "Patient.telecom",
        "address": "Patient.address",
        "village_code": "Patient.address",
        "home_organization": "Patient.managingOrganization",
        "insurance_scheme": "Patient.extension",
        "insurance_number": "Patient.extension",
        "tags": "Patient.extension",
    }

    def read(self, user: Any, resource_id: str) -> Resident:
        return queries.get_resident(user, resource_id, channel="fhir", include_merged=True)

    def read_for_update(self, user: Any, resource_id: str) -> Resident:
        # no audit of its own: the update that follows is audited, and nothing is handed out before it
        queries.require_patient_access(user)
        resident = (
            queries.visible_residents(user, include_merged=True)
            .select_related("home_organization")
            .filter(uuid=lookup_uuid(resource_id, "未找到该居民 (resident not found)"))
            .first()
        )
        if resident is None:
            raise NotFound("未找到该居民，或不在您的管辖范围内 (resident not found or outside your scope)")
        return resident

    def version(self, obj: Resident) -> str:
        return str(obj.version)

    def last_updated(self, obj: Resident) -> dt.datetime | None:
        return obj.updated_at

    def to_fhir(self, obj: Resident) -> dict[str, Any]:
        extensions: list[dict[str, Any]] = [
            {
                "url": EXT_INSURANCE_SCHEME,
                "valueCoding": coding("insurance-scheme", InsuranceScheme, obj.insurance_scheme),
            },
        ]
        if obj.insurance_number:
            extensions.append({"url": EXT_INSURANCE_NUMBER, "valueString": obj.insurance_number})
        extensions += [
            {"url": EXT_KEY_POPULATION, "valueCoding": coding("key-population", KeyPopulation, tag.tag)}
            for tag in sorted(obj.tags.all(), key=lambda t: t.tag)
        ]
        identifiers: list[dict[str, Any]] = []
        if obj.national_id:
            identifiers.append(
                {
                    "use": "official",
                    "type": {
                        "coding": [
                            {
                                "system": V2_IDENTIFIER_TYPE,
                                "code": "NI",
                                "display": "National unique individual identifier",
                            }
                        ],
                        "text": "居民身份证",
                    },
                    "system": NATIONAL_ID_SYSTEM,
                    "value": obj.national_id,
                }
            )
        identifiers += [
            {
                "use": "secondary",
                "type": {"coding": [coding("identifier-type", IdentifierType, other.type)]},
                "system": OTHER_IDENTIFIER_BASE + other.type,
                "value": other.value,
            }
            for other in sorted(obj.identifiers.all(), key=lambda i: (i.type, i.value))
        ]
        address = compact(
            {
                "extension": [{"url": EXT_DIVISION_CODE, "valueCode": obj.village_code}]
                if obj.village_code
                else [],
                "use": "home",
                "text": obj.address,
            }
        )
        links = []
        if obj.merged_into_id:
            links.append({"other": {"reference": f"Patient/{obj.merged_into.uuid}"}, "type": "replaced-by"})
        links += [
            {"other": {"reference": f"Patient/{merged.uuid}"}, "type": "replaces"}
            for merged in obj.merged_records.all()
        ]
        return compact(
            {
                "resourceType": "Patient",
                "id": str(obj.uuid),
                "meta": {"versionId": str(obj.version), "lastUpdated": fhir.instant(obj.updated_at)},
                "extension": extensions,
                "identifier": identifiers,
                "active": not obj.is_merged,
                "name": human_names(obj.name),
                "telecom": telecom(obj.phone),
                "gender": obj.sex,
                "birthDate": obj.birth_date.isoformat(),
                "address": [address] if len(address) > 1 else [],
                "managingOrganization": reference(obj.home_organization, "Organization"),
                "link": links,
            }
        )

    def condition(self, user: Any, name: str, value: str) -> Q:
        nothing = Q(pk__in=[])
        if name == "_id":
            found = uuid_or_none(value)
            return Q(uuid=found) if found else nothing
        if name == "name":
            condition = None if queries.DIGITS.match(value) else queries.search_condition(value)
            return condition if condition is not None else nothing
        if name == "identifier":
            return identifier_condition(value)
        if name == "birthdate":
            return fhir.date_condition("birth_date", value)
        if name == "gender":
            code = token(value, "http://hl7.org/fhir/administrative-gender")
            if code not in ("male", "female", "other", "unknown"):
                raise fhir.FhirError(400, f"gender 须为 male、female、other 或 unknown (got {value[:40]})")
            return Q(sex=code)
        if name == "phone":
            return Q(phone=value) if value else nothing
        if name == "organization":
            found = uuid_or_none(fhir.reference_id(value, "Organization"))
            return Q(home_organization__uuid=found) if found else nothing
        raise fhir.FhirError(400, f"unknown search parameter {name}")

    def search(
        self, user: Any, condition: Q, *, offset: int, count: int, query: str
    ) -> tuple[list[Any], int]:
        queries.require_patient_access(user)
        matches = queries.visible_residents(user).filter(condition)
        total = matches.count()
        rows = list(
            matches.select_related("home_organization", "merged_into")
            .prefetch_related("tags", "identifiers", "merged_records")
            .order_by("name_initials", "name", "id")[offset : offset + count]
        )
        queries.audit_residents(user, rows, action="search", channel="fhir", detail={"query": query[:200]})
        return rows, total

    def check_can_write(self, user: Any) -> None:
        if user.role not in REGISTERING_ROLES:
            raise PermissionDenied(
                "您的角色不能登记或修改居民档案 (your role cannot register or edit residents)"
            )

    def create(self, user: Any, resource: Any, *, headers: Mapping[str, str],
               within: Callable[[Any], None]) -> Resident:
        confirmed = headers.get(fhir.CONFIRM_NOT_DUPLICATE_HEADER, "").strip().lower() in CONFIRM_VALUES
        return services.register_resident(
            user=user, data=resident_data(user, resource), channel="fhir", confirmed_not_duplicate=confirmed,
            within=within,
        )

    def update(
        self,
        user: Any,
        obj: Resident,
        resource: Any,
        *,
        expected_version: str | None,
        headers: Mapping[str, str],
    ) -> Resident:
        expected = None
        if expected_version is not None:
            if not expected_version.isdigit():
                raise fhir.FhirError(
                    412, f"版本 {expected_version} 不是当前版本 (version is not current)", code="conflict"
                )
            expected = int(expected_version)
        data = resident_data(user, resource, household=obj.household, relation_to_head=obj.relation_to_head)
        return services.update_resident(
            user=user, resident=obj, data=data, channel="fhir", expected_version=expected
        )

    def outcome_issues(self, error: Any) -> list[dict[str, Any]]:
        issues = super().outcome_issues(error)
        if isinstance(error, services.DuplicateSuspected):
            issues.append(
                fhir.issue(
                    f"确认不是同一人后，请带请求头 {fhir.CONFIRM_NOT_DUPLICATE_HEADER}: true 重新提交 "
                    f"(after checking, resend with the header {fhir.CONFIRM_NOT_DUPLICATE_HEADER}: true)",
                    code="informational",
                    severity="information",
                )
            )
        return issues


def identifier_condition(value: str) -> Q:
    system, code = fhir.split_token(value)
    code = code.strip().upper()
    if not code:
        return Q(pk__in=[])
    by_national_id = Q(national_id=code)
    other = Q(identifiers__value=code)
    if system is None:
        return by_national_id | Q(pk__in=Resident.objects.filter(other).values("pk"))
    if system == NATIONAL_ID_SYSTEM:
        return by_national_id
    if system.startswith(OTHER_IDENTIFIER_BASE):
        id_type = system.removeprefix(OTHER_IDENTIFIER_BASE)
        return Q(
            pk__in=Resident.objects.filter(identifiers__type=id_type, identifiers__value=code).values("pk")
        )
    return Q(pk__in=[])


def resident_data(
    user: Any, resource: Any, *, household: Any = None, relation_to_head: str = ""
) -> services.ResidentData:
    national_ids: list[str] = []
    others: list[tuple[str, str]] = []
    for index, identifier in enumerate(resource.identifier or []):
        system, value = identifier.system or "", str(identifier.value or "")
        if system == NATIONAL_ID_SYSTEM:
            national_ids.append(value)
        elif system.startswith(OTHER_IDENTIFIER_BASE):
            others.append((system.removeprefix(OTHER_IDENTIFIER_BASE), value))
        else:
            raise InvalidInput(
                f"不支持的证件标识体系 Patient.identifier[{index}].system {system[:80] or '(none)'} "
                f"(unsupported identifier system; use {NATIONAL_ID_SYSTEM} or {OTHER_IDENTIFIER_BASE}<type>)",
                field="identifiers",
            )
    if len(national_ids) > 1:
        raise InvalidInput("只能有一个身份证号 (at most one national ID)", field="national_id")
    scheme = InsuranceScheme.RESIDENT.value
    for ext in extension_values(resource, EXT_INSURANCE_SCHEME)[:1]:
        scheme = coded(ext, "insurance-scheme", "insurance_scheme")
    number = next(
        (str(ext.valueString or "") for ext in extension_values(resource, EXT_INSURANCE_NUMBER)), ""
    )
    tags = [coded(ext, "key-population", "tags") for ext in extension_values(resource, EXT_KEY_POPULATION)]
    address = (resource.address or [None])[0]
    village_code = ""
    if address is not None:
        village_code = next(
            (
                str(ext.valueCode or ext.valueString or "")
                for ext in extension_values(address, EXT_DIVISION_CODE)
            ),
            "",
        )
    address_text = str(address.text or " ".join(str(line) for line in address.line or [])) if address else ""
    # column widths the registration service does not check itself yet (PostgreSQL would refuse the row)
    widths = [
        (address_text, 200, "address"),
        (village_code, 12, "village_code"),
        (number, 30, "insurance_number"),
        *[(value, 40, "identifiers") for _, value in others],
    ]
    for value, limit, field in widths:
        if len(value) > limit:
            raise InvalidInput(
                f"内容过长（最多{limit}个字符）(too long: at most {limit} characters)", field=field
            )
    home = Organization.objects.filter(
        community_id=user.community_id,
        uuid=referenced(
            resource.managingOrganization, "Organization", "home_organization", "Patient.managingOrganization"
        ),
    ).first()
    if home is None:
        raise InvalidInput(
            "managingOrganization 不是本医共体的机构 (managing organisation not found in this community)",
            field="home_organization",
        )
    return services.ResidentData(
        name=name_of(resource),
        sex=gender_of(resource.gender),
        birth_date=full_date(resource.birthDate, "birth_date"),
        national_id=national_ids[0] if national_ids else "",
        phone=phone_of(resource),
        address=address_text,
        village_code=village_code,
        home_organization=home,
        household=household,
        relation_to_head=relation_to_head,
        insurance_scheme=scheme,
        insurance_number=number,
        tags=tags,
        identifiers=others,
    )


# ---------------------------------------------------------------------------------------------- Organization


class ReferenceDataHandler(fhir.ResourceHandler):
    """Organisations, practitioners and postings: readable by every user of the community, written by its
    administrators. Not patient data, so reads are not audited (writes are)."""

    def check_can_write(self, user: Any) -> None:
        if user.role != Role.COMMUNITY_ADMIN:
            raise PermissionDenied(
                "只有医共体管理员可以维护机构和人员 (only a community administrator can edit "
                "organisations, practitioners and postings)"
            )

    def version(self, obj: Any) -> str:
        return services.content_version(obj)

    def create(self, user: Any, resource: Any, *, headers: Mapping[str, str],
               within: Callable[[Any], None]) -> Any:
        with transaction.atomic():
            obj = self.create_object(user, resource)
            within(obj)
        return obj

    def create_object(self, user: Any, resource: Any) -> Any:
        """The service call that writes a new object from the validated resource."""
        raise NotImplementedError

    def page(self, matches: Any, *, offset: int, count: int) -> tuple[list[Any], int]:
        return list(matches[offset : offset + count]), matches.count()


class OrganizationHandler(ReferenceDataHandler):
    resource_type = "Organization"
    model = FhirOrganization
    documentation = (
        f"Members and partners of the community. type uses {system_url('organization-type')}; partOf is the "
        f"parent in the tree; identifier {DIVISION_CODE_SYSTEM} is the GB/T 2260 division code."
    )
    search_params = {
        "_id": fhir.SearchParam("token", "The logical id"),
        "name": fhir.SearchParam("string", "Name or short name prefix"),
        "type": fhir.SearchParam("token", "Organisation type code, e.g. village_clinic"),
        "partof": fhir.SearchParam("reference", "The parent organisation: Organization/<id>"),
        "identifier": fhir.SearchParam("token", "The division code: " + DIVISION_CODE_SYSTEM + "|<code>"),
        "active": fhir.SearchParam("token", "true | false"),
    }
    field_expressions = {
        "name": "Organization.name",
        "short_name": "Organization.alias",
        "org_type": "Organization.type",
        "level": "Organization.extension",
        "division_code": "Organization.identifier",
        "parent": "Organization.partOf",
        "phone": "Organization.telecom",
        "address": "Organization.address",
    }

    def read(self, user: Any, resource_id: str) -> Organization:
        found = (
            Organization.objects.select_related("parent")
            .filter(
                community_id=user.community_id,
                uuid=lookup_uuid(resource_id, "未找到该机构 (organisation not found)"),
            )
            .first()
        )
        if found is None:
            raise NotFound("未找到该机构 (organisation not found)")
        return found

    def to_fhir(self, obj: Organization) -> dict[str, Any]:
        return compact(
            {
                "resourceType": "Organization",
                "id": str(obj.uuid),
                "meta": {"versionId": self.version(obj)},
                "extension": [
                    {
                        "url": EXT_ORGANIZATION_LEVEL,
                        "valueCoding": coding("organization-level", Level, obj.level),
                    },
                    {"url": EXT_COMMUNITY_MEMBER, "valueBoolean": obj.is_member},
                ],
                "identifier": [
                    {"use": "official", "system": DIVISION_CODE_SYSTEM, "value": obj.division_code}
                ],
                "active": obj.active,
                "type": [{"coding": [coding("organization-type", OrganizationType, obj.org_type)]}],
                "name": obj.name,
                "alias": [obj.short_name] if obj.short_name and obj.short_name != obj.name else [],
                "telecom": telecom(obj.phone),
                "address": [{"text": obj.address}] if obj.address else [],
                "partOf": reference(obj.parent, "Organization") if obj.parent_id else None,
            }
        )

    def condition(self, user: Any, name: str, value: str) -> Q:
        nothing = Q(pk__in=[])
        if name == "_id":
            found = uuid_or_none(value)
            return Q(uuid=found) if found else nothing
        if name == "name":
            return Q(name__startswith=value) | Q(short_name__startswith=value) if value else nothing
        if name == "type":
            code = token(value, system_url("organization-type"))
            return Q(org_type=code) if code else nothing
        if name == "partof":
            found = uuid_or_none(fhir.reference_id(value, "Organization"))
            return Q(parent__uuid=found) if found else nothing
        if name == "identifier":
            code = token(value, DIVISION_CODE_SYSTEM)
            return Q(division_code=code) if code else nothing
        if name == "active":
            return Q(active=boolean_token(value))
        raise fhir.FhirError(400, f"unknown search parameter {name}")

    def search(
        self, user: Any, condition: Q, *, offset: int, count: int, query: str
    ) -> tuple[list[Any], int]:
        matches = (
            Organization.objects.filter(community_id=user.community_id)
            .filter(condition)
            .select_related("parent")
            .order_by("division_code", "id")
        )
        return self.page(matches, offset=offset, count=count)

    def create_object(self, user: Any, resource: Any) -> Organization:
        return services.create_organization(user=user, data=organization_data(user, resource), channel="fhir")

    def update(
        self,
        user: Any,
        obj: Organization,
        resource: Any,
        *,
        expected_version: str | None,
        headers: Mapping[str, str],
    ) -> Organization:
        return services.update_organization(
            user=user,
            organization=obj,
            data=organization_data(user, resource),
            channel="fhir",
            expected_version=expected_version,
        )


def boolean_token(value: str) -> bool:
    if value not in ("true", "false"):
        raise fhir.FhirError(400, f"须为 true 或 false (must be true or false, got {value[:20]})")
    return value == "true"


def organization_data(user: Any, resource: Any) -> services.OrganizationData:
    org_type = ""
    for concept in resource.type or []:
        for code in concept.coding or []:
            if code.system == system_url("organization-type"):
                org_type = str(code.code or "")
    if not org_type:
        raise InvalidInput(
            f"缺少机构类型 (Organization.type needs a coding from {system_url('organization-type')})",
            field="org_type",
        )
    level = next(
        (
            coded(ext, "organization-level", "level")
            for ext in extension_values(resource, EXT_ORGANIZATION_LEVEL)
        ),
        "",
    )
    member = next((ext.valueBoolean for ext in extension_values(resource, EXT_COMMUNITY_MEMBER)), None)
    division_code = next(
        (str(i.value or "") for i in resource.identifier or [] if i.system == DIVISION_CODE_SYSTEM), ""
    )
    parent = None
    if resource.partOf is not None:
        parent = (
            Organization.objects.filter(
                community_id=user.community_id,
                uuid=referenced(resource.partOf, "Organization", "parent", "Organization.partOf"),
            )
            .select_related("parent")
            .first()
        )
        if parent is None:
            raise InvalidInput(
                "partOf 不是本医共体的机构 (partOf is not an organisation of this community)", field="parent"
            )
    address = (resource.address or [None])[0]
    return services.OrganizationData(
        name=str(resource.name or ""),
        org_type=org_type,
        division_code=division_code,
        level=level,
        parent=parent,
        is_member=member,
        short_name=str((resource.alias or [""])[0]),
        address=str(address.text or "") if address is not None else "",
        phone=phone_of(resource),
        active=resource.active is not False,
    )


# ---------------------------------------------------------------------------------------------- Practitioner


class PractitionerHandler(ReferenceDataHandler):
    resource_type = "Practitioner"
    model = FhirPractitioner
    documentation = (
        f"Health workers. qualification carries the professional title ({system_url('professional-title')}); "
        f"identifier {LICENCE_SYSTEM} is the practising licence number."
    )
    search_params = {
        "_id": fhir.SearchParam("token", "The logical id"),
        "name": fhir.SearchParam("string", "Name prefix"),
        "identifier": fhir.SearchParam("token", "The licence number: " + LICENCE_SYSTEM + "|<number>"),
    }
    field_expressions = {
        "name": "Practitioner.name",
        "title": "Practitioner.qualification",
        "sex": "Practitioner.gender",
        "birth_date": "Practitioner.birthDate",
        "licence_number": "Practitioner.identifier",
        "phone": "Practitioner.telecom",
    }

    def read(self, user: Any, resource_id: str) -> Practitioner:
        found = Practitioner.objects.filter(
            community_id=user.community_id,
            uuid=lookup_uuid(resource_id, "未找到该人员 (practitioner not found)"),
        ).first()
        if found is None:
            raise NotFound("未找到该人员 (practitioner not found)")
        return found

    def to_fhir(self, obj: Practitioner) -> dict[str, Any]:
        return compact(
            {
                "resourceType": "Practitioner",
                "id": str(obj.uuid),
                "meta": {"versionId": self.version(obj)},
                "extension": [{"url": EXT_SPECIALTY, "valueString": s} for s in obj.specialties or []],
                "identifier": (
                    [{"use": "official", "system": LICENCE_SYSTEM, "value": obj.licence_number}]
                    if obj.licence_number
                    else []
                ),
                "active": obj.active,
                "name": human_names(obj.name),
                "telecom": telecom(obj.phone),
                "gender": obj.sex,
                "birthDate": obj.birth_date.isoformat() if obj.birth_date else None,
                "qualification": [{"code": {"coding": [coding("professional-title", Title, obj.title)]}}],
            }
        )

    def condition(self, user: Any, name: str, value: str) -> Q:
        nothing = Q(pk__in=[])
        if name == "_id":
            found = uuid_or_none(value)
            return Q(uuid=found) if found else nothing
        if name == "name":
            return Q(name__startswith=value) if value else nothing
        if name == "identifier":
            code = token(value, LICENCE_SYSTEM)
            return Q(licence_number=code) if code else nothing
        raise fhir.FhirError(400, f"unknown search parameter {name}")

    def search(
        self, user: Any, condition: Q, *, offset: int, count: int, query: str
    ) -> tuple[list[Any], int]:
        matches = (
            Practitioner.objects.filter(community_id=user.community_id)
            .filter(condition)
            .order_by("name", "id")
        )
        return self.page(matches, offset=offset, count=count)

    def create_object(self, user: Any, resource: Any) -> Practitioner:
        return services.create_practitioner(user=user, data=practitioner_data(resource), channel="fhir")

    def update(
        self,
        user: Any,
        obj: Practitioner,
        resource: Any,
        *,
        expected_version: str | None,
        headers: Mapping[str, str],
    ) -> Practitioner:
        return services.update_practitioner(
            user=user,
            practitioner=obj,
            data=practitioner_data(resource),
            channel="fhir",
            expected_version=expected_version,
        )


def practitioner_data(resource: Any) -> services.PractitionerData:
    title = ""
    for qualification in resource.qualification or []:
        for code in qualification.code.coding or []:
            if code.system == system_url("professional-title"):
                title = str(code.code or "")
    return services.PractitionerData(
        name=name_of(resource),
        title=title,
        sex=gender_of(resource.gender) or Sex.UNKNOWN,
        birth_date=full_date(resource.birthDate, "birth_date"),
        licence_number=next(
            (str(i.value or "") for i in resource.identifier or [] if i.system == LICENCE_SYSTEM), ""
        ),
        specialties=[
            str(ext.valueString) for ext in extension_values(resource, EXT_SPECIALTY) if ext.valueString
        ],
        phone=phone_of(resource),
        active=resource.active is not False,
    )


# ------------------------------------------------------------------------------------------ PractitionerRole


class PractitionerRoleHandler(ReferenceDataHandler):
    resource_type = "PractitionerRole"
    model = FhirPractitionerRole
    documentation = (
        f"Postings: a practitioner serving an organisation in a role ({system_url('user-role')}) for a "
        f"period, with the posting kind ({system_url('posting-kind')}) as an extension. active is derived "
        "from the period. The id is the posting's number (postings have no uuid yet)."
    )
    search_params = {
        "_id": fhir.SearchParam("token", "The logical id"),
        "practitioner": fhir.SearchParam("reference", "Practitioner/<id>"),
        "organization": fhir.SearchParam("reference", "Organization/<id>"),
        "role": fhir.SearchParam("token", "Role code, e.g. township_doctor"),
        "active": fhir.SearchParam("token", "true: in force today; false: ended or not yet started"),
    }
    field_expressions = {
        "practitioner": "PractitionerRole.practitioner",
        "organization": "PractitionerRole.organization",
        "role": "PractitionerRole.code",
        "kind": "PractitionerRole.extension",
        "department": "PractitionerRole.extension",
        "start": "PractitionerRole.period.start",
        "end": "PractitionerRole.period.end",
    }

    def resource_id(self, obj: Posting) -> str:
        return str(obj.uuid)

    def read(self, user: Any, resource_id: str) -> Posting:
        found = None
        posting_uuid = uuid_or_none(resource_id)
        if posting_uuid is not None:
            found = (
                Posting.objects.select_related("practitioner", "organization", "department")
                .filter(uuid=posting_uuid, organization__community_id=user.community_id)
                .first()
            )
        if found is None:
            raise NotFound("未找到该岗位 (practitioner role not found)")
        return found

    def to_fhir(self, obj: Posting) -> dict[str, Any]:
        today = timezone.localdate()
        extensions: list[dict[str, Any]] = [
            {"url": EXT_POSTING_KIND, "valueCoding": coding("posting-kind", PostingKind, obj.kind)},
        ]
        if obj.department_id:
            extensions.append({"url": EXT_DEPARTMENT, "valueString": obj.department.code})
        return compact(
            {
                "resourceType": "PractitionerRole",
                "id": str(obj.uuid),
                "meta": {"versionId": self.version(obj)},
                "extension": extensions,
                "active": obj.start <= today and (obj.end is None or obj.end >= today),
                "period": compact(
                    {"start": obj.start.isoformat(), "end": obj.end.isoformat() if obj.end else None}
                ),
                "practitioner": reference(obj.practitioner, "Practitioner"),
                "organization": reference(obj.organization, "Organization"),
                "code": [{"coding": [coding("user-role", Role, obj.role)]}],
            }
        )

    def condition(self, user: Any, name: str, value: str) -> Q:
        nothing = Q(pk__in=[])
        if name == "_id":
            found = uuid_or_none(value)
            return Q(uuid=found) if found else nothing
        if name == "practitioner":
            found = uuid_or_none(fhir.reference_id(value, "Practitioner"))
            return Q(practitioner__uuid=found) if found else nothing
        if name == "organization":
            found = uuid_or_none(fhir.reference_id(value, "Organization"))
            return Q(organization__uuid=found) if found else nothing
        if name == "role":
            code = token(value, system_url("user-role"))
            return Q(role=code) if code else nothing
        if name == "active":
            today = timezone.localdate()
            in_force = Q(start__lte=today) & (Q(end__isnull=True) | Q(end__gte=today))
            return in_force if boolean_token(value) else ~in_force
        raise fhir.FhirError(400, f"unknown search parameter {name}")

    def search(
        self, user: Any, condition: Q, *, offset: int, count: int, query: str
    ) -> tuple[list[Any], int]:
        matches = (
            Posting.objects.filter(organization__community_id=user.community_id)
            .filter(condition)
            .select_related("practitioner", "organization", "department")
            .order_by("-start", "id")
        )
        return self.page(matches, offset=offset, count=count)

    def create_object(self, user: Any, resource: Any) -> Posting:
        return services.create_posting(user=user, data=posting_data(user, resource), channel="fhir")

    def update(
        self,
        user: Any,
        obj: Posting,
        resource: Any,
        *,
        expected_version: str | None,
        headers: Mapping[str, str],
    ) -> Posting:
        return services.update_posting(
            user=user,
            posting=obj,
            data=posting_data(user, resource),
            channel="fhir",
            expected_version=expected_version,
        )


def posting_data(user: Any, resource: Any) -> services.PostingData:
    practitioner = Practitioner.objects.filter(
        community_id=user.community_id,
        uuid=referenced(
            resource.practitioner, "Practitioner", "practitioner", "PractitionerRole.practitioner"
        ),
    ).first()
    organization = Organization.objects.filter(
        community_id=user.community_id,
        uuid=referenced(
            resource.organization, "Organization", "organization", "PractitionerRole.organization"
        ),
    ).first()
    role = ""
    for concept in resource.code or []:
        for code in concept.coding or []:
            if code.system == system_url("user-role"):
                role = str(code.code or "")
    kind = next(
        (coded(ext, "posting-kind", "kind") for ext in extension_values(resource, EXT_POSTING_KIND)),
        PostingKind.HOME.value,
    )
    department = None
    department_code = next(
        (str(ext.valueString or "") for ext in extension_values(resource, EXT_DEPARTMENT)), ""
    )
    if department_code:
        department = Department.objects.filter(organization=organization, code=department_code).first()
        if department is None:
            raise InvalidInput(
                f"该机构没有科室 {department_code} (no such department at this organisation)",
                field="department",
            )
    period = resource.period
    return services.PostingData(
        practitioner=practitioner,
        organization=organization,
        role=role,
        start=full_date(period.start, "start") if period else None,
        end=full_date(period.end, "end") if period else None,
        kind=kind,
        department=department,
    )


for handler in (PatientHandler(), OrganizationHandler(), PractitionerHandler(), PractitionerRoleHandler()):
    fhir.register_resource(handler)
