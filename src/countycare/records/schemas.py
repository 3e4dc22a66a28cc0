"""JSON shapes of the records API: what comes in (checked here, then by the services) and what goes out."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal
from typing import Annotated, Any

from ninja import Schema
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StrictBool, StringConstraints

from countycare.registry.schemas import NO_NUL, DepartmentRef, OrganizationRef, Version

from .models import EncounterKind, OrderKind
from .queries import TimelineItem


def _text(max_length: int, min_length: int = 0) -> StringConstraints:
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=NO_NUL)


ISO_DATETIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}")


def _iso_text(value: Any) -> Any:
    """Refuse what pydantic's lax mode would read as a time (a number of seconds)."""
    if isinstance(value, dt.datetime) or (isinstance(value, str) and ISO_DATETIME.match(value)):
        return value
    raise ValueError("时间格式应为 ISO 8601 并带时区，如 2026-03-01T09:30:00+08:00 "
                     "(a time is ISO 8601 with its offset, e.g. 2026-03-01T09:30:00+08:00)")


def _recordable(value: Any) -> Any:
    """A time something happened to a patient: also no year before 1900 or far ahead."""
    value = _iso_text(value)
    if not 1900 <= (value.year if isinstance(value, dt.datetime) else int(value[:4])) <= 2999:
        raise ValueError("时间超出范围 (the year must be between 1900 and 2999)")
    return value


def _in_utc(value: dt.datetime) -> dt.datetime:
    """In UTC: PostgreSQL refuses offsets of 16 hours and more. A bound at the edge of the calendar that
    would overflow in UTC is the calendar's first or last moment, which is what it asked for."""
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        return (dt.datetime.min if value.year == dt.MINYEAR else dt.datetime.max).replace(tzinfo=dt.UTC)


IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_recordable), AfterValidator(_in_utc)]
# a bound to search by: any year
AnyIsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_in_utc)]
Code = Annotated[str, _text(20, min_length=1)]
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]


class Icd10Out(Schema):
    code: str
    name: str = Field(description="Chinese name")
    name_en: str
    chapter: str
    chronic: bool = Field(description="Goes on the resident's problem list when diagnosed")


# --- encounters in ------------------------------------------------------------------------------------------

class DiagnosisIn(Schema):
    code: Code = Field(description="An ICD-10 code of the code set (GET /api/icd10)", examples=["I10"])
    primary: StrictBool = False


class VitalIn(Schema):
    code: Code = Field(description="LOINC: 8480-6 systolic, 8462-4 diastolic (mm[Hg]), 8867-4 heart rate, "
                                   "9279-1 respiratory rate (/min), 8310-5 temperature (Cel), 59408-5 SpO2 (%), "
                                   "29463-7 weight (kg), 8302-2 height (cm), 39156-5 BMI (kg/m2), 15074-8 blood "
                                   "glucose, 14771-0 fasting glucose (mmol/L)")
    value: Annotated[Decimal, Field(max_digits=12, decimal_places=4)]
    unit: Annotated[str, _text(20)] = Field(default="", description="UCUM; omit for the measure's own unit")


class OrderIn(Schema):
    kind: OrderKind
    description: Annotated[str, _text(200, min_length=1)]
    code: Annotated[str, _text(40)] = ""


class CostsIn(Schema):
    """Yuan, as insurance settles them; the total is their sum."""

    drugs: Money = Decimal("0")
    exams: Money = Decimal("0")
    treatment: Money = Decimal("0")
    beds: Money = Decimal("0")
    other: Money = Decimal("0")


class EncounterIn(Schema):
    resident: uuid.UUID
    kind: EncounterKind
    organization: uuid.UUID | None = Field(default=None, description="Where it took place; default: your own")
    department: uuid.UUID | None = None
    started_at: IsoDateTime | None = Field(default=None, description="Default: now")
    ended_at: IsoDateTime | None = Field(default=None, description="Leave out for an admission (discharge later)")
    ward: Annotated[str, _text(40)] = Field(default="", description="Ward / bed; required for an admission")
    chief_complaint: Annotated[str, _text(200)] = ""
    note: Annotated[str, _text(20_000)] = ""
    is_tcm: StrictBool = False
    costs: CostsIn = Field(default_factory=CostsIn)
    diagnoses: list[DiagnosisIn] = Field(min_length=1, max_length=20, description="Exactly one primary")
    vitals: list[VitalIn] = Field(default=[], max_length=50)
    orders: list[OrderIn] = Field(default=[], max_length=50)


class DischargeIn(Schema):
    ended_at: IsoDateTime
    version: Version = Field(description="The encounter's version you read; a stale one is refused with 412")
    note: Annotated[str, _text(20_000)] = Field(default="", description="Discharge summary, added to the note")


# --- encounters out -----------------------------------------------------------------------------------------

class PersonRef(Schema):
    uuid: uuid.UUID
    name: str


class CostsOut(Schema):
    drugs: Decimal
    exams: Decimal
    treatment: Decimal
    beds: Decimal
    other: Decimal
    total: Decimal


class DiagnosisOut(Schema):
    uuid: uuid.UUID
    code: str
    display: str
    primary: bool = Field(validation_alias="is_primary")
    recorded_at: dt.datetime


class ObservationOut(Schema):
    uuid: uuid.UUID
    category: str
    code: str = Field(description="LOINC where known")
    display: str
    value: Decimal | None = Field(validation_alias="value_quantity")
    unit: str
    value_text: str
    interpretation: str
    effective_at: dt.datetime


class OrderOut(Schema):
    uuid: uuid.UUID
    kind: str
    code: str
    description: str
    status: str
    ordered_at: dt.datetime


class EncounterOut(Schema):
    uuid: uuid.UUID
    resident: PersonRef
    organization: OrganizationRef
    department: DepartmentRef | None
    practitioner: PersonRef | None
    kind: str
    status: str
    source: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    length_of_stay_days: int | None = Field(description="Inpatients once discharged")
    ward: str
    chief_complaint: str
    note: str
    is_tcm: bool
    costs: CostsOut
    diagnoses: list[DiagnosisOut]
    observations: list[ObservationOut]
    orders: list[OrderOut]
    version: int = Field(description="Send it back when discharging to guard against a concurrent change")
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_costs(obj: Any) -> dict[str, Decimal]:
        return {"drugs": obj.cost_drugs, "exams": obj.cost_exams, "treatment": obj.cost_treatment,
                "beds": obj.cost_beds, "other": obj.cost_other, "total": obj.cost_total}

    @staticmethod
    def resolve_diagnoses(obj: Any) -> list[Any]:
        return sorted(obj.diagnoses.all(), key=lambda d: (not d.is_primary, d.recorded_at, d.id))

    @staticmethod
    def resolve_observations(obj: Any) -> list[Any]:
        return sorted(obj.observations.all(), key=lambda o: (o.effective_at, o.code))

    @staticmethod
    def resolve_orders(obj: Any) -> list[Any]:
        return list(obj.orders.all())


# --- timeline -----------------------------------------------------------------------------------------------

class TimelineItemOut(Schema):
    at: dt.datetime
    kind: str = Field(description="encounter, diagnosis, problem, observation, referral, ...")
    title: str
    detail: str
    organization: str
    url: str | None
    ref_type: str | None = Field(description="What the item shows: Encounter, Diagnosis, Problem, ...")
    ref: uuid.UUID | None = Field(description="Its uuid (GET /api/encounters/{uuid} for an encounter)")

    @staticmethod
    def resolve_ref_type(obj: TimelineItem) -> str | None:
        return type(obj.obj).__name__ if obj.obj is not None else None

    @staticmethod
    def resolve_ref(obj: TimelineItem) -> uuid.UUID | None:
        return getattr(obj.obj, "uuid", None)
