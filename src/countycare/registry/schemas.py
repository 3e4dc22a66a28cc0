"""JSON shapes of the registry API: what comes in (checked here, then by the services) and what goes out."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Any

from django.utils import timezone
from ninja import Schema
from pydantic import BeforeValidator, Field, StrictBool, StrictInt, StringConstraints

from countycare.core.codes import IdentifierType, InsuranceScheme, KeyPopulation, Sex

# PostgreSQL cannot store NUL in text; refusing it here keeps such input a 422 instead of a database error.
NO_NUL = r"^[^\x00]*$"


def _text(max_length: int, min_length: int = 0) -> StringConstraints:
    """No longer than its column, without NUL."""
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=NO_NUL)


Name = Annotated[str, _text(50, min_length=1)]
NationalIdText = Annotated[str, _text(32)]  # spaces are dropped; the service checks the 18 characters
Phone = Annotated[str, _text(20)]
Address = Annotated[str, _text(200)]
Relation = Annotated[str, _text(20)]
InsuranceNumber = Annotated[str, _text(30)]
IdentifierValue = Annotated[str, _text(40, min_length=1)]
Reason = Annotated[str, _text(200, min_length=1)]
VillageCode = Annotated[str, StringConstraints(pattern=r"^([0-9]{6}|[0-9]{9}|[0-9]{12})?$")]
# Strict where pydantic's lax mode would read JSON loosely: a number as a date (0 -> 1970-01-01), "2" as a
# version, 1 as true. Bodies arrive as parsed JSON, so strict ints and bools still take JSON numbers/booleans.
Version = Annotated[StrictInt, Field(ge=1, le=2_147_483_647)]
ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _iso_date_text(value: Any) -> Any:
    if isinstance(value, dt.date) or (isinstance(value, str) and ISO_DATE.match(value)):
        return value
    raise ValueError("日期格式应为 YYYY-MM-DD (a date is written YYYY-MM-DD)")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date_text)]


# --- references -------------------------------------------------------------------------------------------

class OrganizationRef(Schema):
    uuid: uuid.UUID
    name: str


class DepartmentRef(Schema):
    uuid: uuid.UUID
    name: str


class HouseholdOut(Schema):
    uuid: uuid.UUID
    code: str
    address: str


# --- residents --------------------------------------------------------------------------------------------

class IdentifierIn(Schema):
    type: IdentifierType
    value: IdentifierValue


class IdentifierOut(Schema):
    type: str
    value: str


def age_on(birth_date: dt.date, today: dt.date) -> int:
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


class ResidentSummary(Schema):
    """A search hit."""

    uuid: uuid.UUID
    name: str
    sex: str
    birth_date: dt.date
    age: int = Field(description="Whole years today (Asia/Shanghai)")
    national_id: str | None
    phone: str
    home_organization: OrganizationRef
    tags: list[str] = Field(description="Key-population codes (key-population code system)")

    @staticmethod
    def resolve_age(obj: Any) -> int:
        return age_on(obj.birth_date, timezone.localdate())

    @staticmethod
    def resolve_tags(obj: Any) -> list[str]:
        return sorted(t.tag for t in obj.tags.all())


class ResidentOut(ResidentSummary):
    """A resident's profile."""

    address: str
    village_code: str
    household: HouseholdOut | None
    relation_to_head: str
    insurance_scheme: str
    insurance_number: str
    identifiers: list[IdentifierOut]
    merged_into: uuid.UUID | None = Field(description="The surviving record, if this one was merged into it")
    version: int = Field(description="Send it back in PATCH to guard against overwriting someone else's edit")
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_identifiers(obj: Any) -> list[dict[str, str]]:
        return [{"type": i.type, "value": i.value} for i in obj.identifiers.all()]

    @staticmethod
    def resolve_merged_into(obj: Any) -> uuid.UUID | None:
        return obj.merged_into.uuid if obj.merged_into_id else None


class ResidentIn(Schema):
    """A registration. Give the national ID when the resident has one: sex and birth date then follow from it
    (and must agree with it if also given)."""

    name: Name
    sex: Sex | None = None
    birth_date: IsoDate | None = None
    national_id: NationalIdText = ""
    phone: Phone = ""
    address: Address = ""
    village_code: VillageCode = ""
    home_organization: uuid.UUID = Field(description="The village clinic or branch the resident belongs to")
    household: uuid.UUID | None = None
    relation_to_head: Relation = ""
    insurance_scheme: InsuranceScheme = InsuranceScheme.RESIDENT
    insurance_number: InsuranceNumber = ""
    tags: list[KeyPopulation] = Field(default=[], max_length=len(KeyPopulation.values))
    identifiers: list[IdentifierIn] = Field(default=[], max_length=10)
    confirm_not_duplicate: StrictBool = Field(
        default=False,
        description="Register even though residents without an ID look like this one (409 otherwise)",
    )


class ResidentPatch(Schema):
    """An edit: only the fields sent change; `tags` and `identifiers`, when sent, replace the stored sets."""

    version: Version = Field(description="The version you read; a stale one is refused with 412")
    name: Name | None = None
    sex: Sex | None = None
    birth_date: IsoDate | None = None
    national_id: NationalIdText | None = None
    phone: Phone | None = None
    address: Address | None = None
    village_code: VillageCode | None = None
    home_organization: uuid.UUID | None = None
    household: uuid.UUID | None = None
    relation_to_head: Relation | None = None
    insurance_scheme: InsuranceScheme | None = None
    insurance_number: InsuranceNumber | None = None
    tags: list[KeyPopulation] | None = Field(default=None, max_length=len(KeyPopulation.values))
    identifiers: list[IdentifierIn] | None = Field(default=None, max_length=10)


class MergeIn(Schema):
    duplicate: uuid.UUID = Field(description="The record folded into the one in the path, which survives")
    reason: Reason


class MergeOut(Schema):
    survivor: ResidentOut
    duplicate: uuid.UUID
    merge_event_id: int = Field(description="The audit event of the merge (what moved; used to undo it)")


# --- organisations and practitioners ------------------------------------------------------------------------

class OrganizationFields(Schema):
    uuid: uuid.UUID
    name: str
    short_name: str
    org_type: str
    level: str
    division_code: str
    is_member: bool


class OrganizationOut(OrganizationFields):
    parent: uuid.UUID | None = Field(description="The parent organisation's uuid; null for a root")


class DepartmentOut(Schema):
    uuid: uuid.UUID
    code: str
    name: str
    specialty: str
    beds: int


class OrganizationDetail(OrganizationFields):
    address: str
    phone: str
    beds: int
    active: bool
    parent: OrganizationRef | None
    children: list[OrganizationRef]
    departments: list[DepartmentOut]

    @staticmethod
    def resolve_children(obj: Any) -> list[dict[str, Any]]:
        return [{"uuid": c.uuid, "name": c.name} for c in obj.children.all()]

    @staticmethod
    def resolve_departments(obj: Any) -> list[Any]:
        return list(obj.departments.all())


class PostingOut(Schema):
    organization: OrganizationRef
    department: DepartmentRef | None
    role: str
    kind: str
    start: dt.date
    end: dt.date | None


class PractitionerOut(Schema):
    uuid: uuid.UUID
    name: str
    sex: str
    title: str
    licence_number: str
    specialties: list[str]
    active: bool
    postings: list[PostingOut]

    @staticmethod
    def resolve_postings(obj: Any) -> list[Any]:
        return sorted(obj.postings.all(), key=lambda p: p.start, reverse=True)


class PractitionerPage(Schema):
    count: int
    items: list[PractitionerOut]
