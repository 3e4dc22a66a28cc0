"""JSON shapes of the referrals API: what comes in (checked here, then by the services) and what goes out."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from ninja import Schema
from pydantic import AwareDatetime, Field, StrictBool, StrictInt, StringConstraints

from countycare.registry.schemas import NO_NUL, IsoDate, Version

from .models import ReferralKind, SlotKind


def _text(max_length: int, min_length: int = 0) -> StringConstraints:
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=NO_NUL)


Code = Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9.]+$")]


# --- in ----------------------------------------------------------------------------------------------------

class DiagnosisIn(Schema):
    code: Code = Field(description="ICD-10 code present in the code table (e.g. I21.9)")
    primary: StrictBool = False


class MedicineIn(Schema):
    name: Annotated[str, _text(100, min_length=1)]
    dose: Annotated[str, _text(50)] = ""
    frequency: Annotated[str, _text(50)] = ""
    days: Annotated[StrictInt, Field(ge=1, le=3650)] | None = None


class FollowUpIn(Schema):
    due: IsoDate | None = None
    what: Annotated[str, _text(200, min_length=1)]


class CarePlanIn(Schema):
    treatment_summary: Annotated[str, _text(4000, min_length=1)]
    medicines: list[MedicineIn] = Field(default=[], max_length=50)
    follow_up: list[FollowUpIn] = Field(default=[], max_length=50)
    warning_signs: Annotated[str, _text(2000)] = ""
    responsible_practitioner: uuid.UUID = Field(description="The lead-hospital doctor who follows the patient")
    period_end: IsoDate | None = Field(default=None, description="Followed until (default: care_plan_follow_days)")


class ReferralIn(Schema):
    """A referral. Up: village → township, village/township → county hospital; down: county → township/village
    with a care plan (or a partner hospital's return, recorded by the receiving side with `from_organization`);
    out of county: lead hospital → partner hospital (a slip number is generated unless given)."""

    resident: uuid.UUID
    kind: ReferralKind
    to_organization: uuid.UUID
    to_department: uuid.UUID | None = None
    to_practitioner: uuid.UUID | None = None
    from_organization: uuid.UUID | None = Field(
        default=None, description="Default: your organisation. A partner hospital for a return from out of county")
    urgent: StrictBool = Field(default=False, description="Green channel (up-referrals only): reserves a bed")
    reason: Annotated[str, _text(1000, min_length=1)]
    clinical_summary: Annotated[str, _text(4000)] = ""
    diagnoses: list[DiagnosisIn] = Field(min_length=1, max_length=20)
    source_encounter: uuid.UUID | None = None
    slip_number: Annotated[str, _text(30)] = ""
    care_plan: CarePlanIn | None = None


class TransitionIn(Schema):
    version: Version = Field(description="The version you read; a stale one is refused with 409")
    reason: Annotated[str, _text(200)] = Field(default="", description="Required to reject or cancel")
    slot: uuid.UUID | None = Field(default=None, description="accept only: the slot at the receiving organisation")


class SlotIn(Schema):
    organization: uuid.UUID
    department: uuid.UUID | None = None
    practitioner: uuid.UUID | None = None
    kind: SlotKind
    label: Annotated[str, _text(100)] = ""
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    capacity: Annotated[StrictInt, Field(ge=1, le=10_000)]


class BookingIn(Schema):
    resident: uuid.UUID
    for_referral: StrictBool = Field(
        default=False, description="Use the reserved share (family doctors at a village clinic or branch only)")


# --- out ---------------------------------------------------------------------------------------------------

class Ref(Schema):
    uuid: uuid.UUID
    name: str


class DiagnosisOut(Schema):
    code: str
    display: str
    primary: bool


class SlotOut(Schema):
    uuid: uuid.UUID
    organization: Ref
    department: Ref | None
    practitioner: Ref | None
    kind: str
    label: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int
    reserved: int = Field(description="Places held for family-doctor referrals until the release cut-off")
    booked_general: int
    booked_reserved: int


class BookingOut(Schema):
    uuid: uuid.UUID
    slot: uuid.UUID
    kind: str
    starts_at: dt.datetime
    from_reserve: bool
    status: str

    @staticmethod
    def resolve_slot(obj: Any) -> uuid.UUID:
        return obj.slot.uuid

    @staticmethod
    def resolve_kind(obj: Any) -> str:
        return obj.slot.kind

    @staticmethod
    def resolve_starts_at(obj: Any) -> dt.datetime:
        return obj.slot.starts_at


class CarePlanOut(Schema):
    uuid: uuid.UUID
    treatment_summary: str
    medicines: list[dict[str, Any]]
    follow_up: list[dict[str, Any]]
    warning_signs: str
    responsible_practitioner: Ref
    responsible_organization: Ref
    status: str
    period_end: dt.date


class ReferralSummary(Schema):
    uuid: uuid.UUID
    kind: str
    status: str
    urgent: bool
    bed_reserved: bool | None = Field(description="Green channel: whether a bed was reserved (null otherwise)")
    resident: Ref
    from_organization: Ref
    to_organization: Ref
    to_department: Ref | None
    reason: str
    diagnoses: list[DiagnosisOut]
    requested_at: dt.datetime
    due_at: dt.datetime
    version: int = Field(description="Send it back with an action; a stale one is refused with 409")

    @staticmethod
    def resolve_bed_reserved(obj: Any) -> bool | None:
        return obj.bed_booking_id is not None if obj.urgent else None


class ReferralOut(ReferralSummary):
    from_department: Ref | None
    from_practitioner: Ref | None
    to_practitioner: Ref | None
    clinical_summary: str
    accepted_at: dt.datetime | None
    arrived_at: dt.datetime | None
    completed_at: dt.datetime | None
    closed_at: dt.datetime | None
    status_reason: str
    slip_number: str
    booking: BookingOut | None
    bed_booking: BookingOut | None
    source_encounter: uuid.UUID | None
    arrival_encounter: uuid.UUID | None
    care_plan: CarePlanOut | None
    allowed_actions: list[str] = Field(description="Actions the workflow allows from this status (sides apart)")

    @staticmethod
    def resolve_source_encounter(obj: Any) -> uuid.UUID | None:
        return obj.source_encounter.uuid if obj.source_encounter_id else None

    @staticmethod
    def resolve_arrival_encounter(obj: Any) -> uuid.UUID | None:
        return obj.arrival_encounter.uuid if obj.arrival_encounter_id else None

    @staticmethod
    def resolve_care_plan(obj: Any) -> Any:
        from .queries import care_plan_of

        return care_plan_of(obj)

    @staticmethod
    def resolve_allowed_actions(obj: Any) -> list[str]:
        from .workflow import Side, allowed_actions

        return [t.action for t in allowed_actions(obj.status) if t.side != Side.SYSTEM]


class ReferralPage(Schema):
    count: int
    items: list[ReferralSummary]
