"""Shared-record and referral data for the FHIR tests of Encounter, Condition, Observation, ServiceRequest, Task and
CarePlan, on top of the test county (tests/conftest.py), and the bodies those tests send.

Rows the read and search tests only look at are written straight into the tables (so each test states exactly
what is stored); referrals go through `referrals.services` because their access grants are part of the story.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from countycare.core.codes import system_url
from countycare.records import fhir as records_fhir
from countycare.referrals import fhir as referrals_fhir

ICD10 = records_fhir.ICD10_SYSTEM
LOINC = records_fhir.LOINC_SYSTEM
# The shipped ICD-10 names (records/data/icd10.csv, loaded after migrate) of the codes the tests use.
CODES = {
    "I10": "特发性（原发性）高血压",
    "E11": "2型糖尿病",
    "I21.9": "急性心肌梗死，未特指",
    "J06.9": "急性上呼吸道感染，未特指",
}


def shanghai(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime(year, month, day, hour, minute))


def another_villager(county) -> str:
    """孙七, a second resident of 东村 (the village doctor's clinic), so a test can hold two referrals of one sender."""
    from tests.conftest import make_resident

    make_resident(county, "sun_qi", "孙七", "east_v1", birth=dt.date(1970, 7, 7), sex="female", seq=6)
    return "sun_qi"


def encounter(county, resident: str, org: str, *, kind: str = "outpatient", at: dt.datetime | None = None,
              practitioner: str | None = None, ended: dt.datetime | None = None,
              diagnoses: tuple[tuple[str, bool], ...] = (), **fields: Any):
    """An encounter stored as it is (no service), with its diagnoses (code, primary)."""
    from countycare.records.models import Diagnosis, Encounter, EncounterStatus

    started = at or shanghai(2026, 3, 2)
    row = Encounter.objects.create(
        community=county.community, resident=county.residents[resident], organization=county.orgs[org],
        practitioner=county.practitioners[practitioner] if practitioner else None, kind=kind,
        status=EncounterStatus.FINISHED if ended else EncounterStatus.IN_PROGRESS, started_at=started,
        ended_at=ended, **fields,
    )
    for code, primary in diagnoses:
        Diagnosis.objects.create(
            community=county.community, encounter=row, resident=row.resident, code=code, display=CODES[code],
            is_primary=primary, recorded_at=started, practitioner=row.practitioner,
        )
    return row


def problem(county, resident: str, code: str, *, at: dt.datetime | None = None, status: str = "active"):
    from countycare.records.models import Problem

    return Problem.objects.create(
        community=county.community, resident=county.residents[resident], code=code, display=CODES[code],
        status=status, recorded_at=at or shanghai(2025, 6, 1), onset_date=dt.date(2025, 5, 20),
    )


def observation(county, resident: str, code: str, value: str, unit: str, *, at: dt.datetime | None = None,
                encounter=None, display: str = "", category: str = "vital-signs", **fields: Any):
    from countycare.records.models import Observation

    return Observation.objects.create(
        community=county.community, resident=county.residents[resident], encounter=encounter, category=category,
        code=code, display=display or code, value_quantity=Decimal(value), unit=unit,
        effective_at=at or shanghai(2026, 3, 2), **fields,
    )


def refer(county, *, by: str = "village_doctor", resident: str = "zhang_san", to: str = "lead", kind: str = "up",
          codes: tuple[str, ...] = ("I21.9",), urgent: bool = False, reason: str = "胸痛2小时，疑急性心梗",
          **data: Any):
    """A referral sent through the service, as the pages and the API send it."""
    from countycare.referrals import services

    payload = {
        "kind": kind, "to_organization": county.orgs[to], "urgent": urgent, "reason": reason,
        "clinical_summary": "血压160/100，心电图ST段抬高", "diagnoses": [{"code": c} for c in codes], **data,
    }
    return services.create_referral(user=county.users[by], resident=county.residents[resident], data=payload,
                                     channel="web")


def refer_down(county, *, resident: str = "zhang_san", to: str = "east"):
    """An up-referral of the resident to the lead hospital (which opens the record to it), then the county
    specialist's down-referral back to the branch with a care plan."""
    refer(county, resident=resident)
    return refer(
        county, by="county_specialist", resident=resident, to=to, kind="down", codes=("I21.9", "I10"),
        reason="急性期已过，转回分院康复", care_plan={
            "treatment_summary": "PCI术后，病情稳定",
            "medicines": [{"name": "阿托伐他汀钙片", "dose": "20 mg", "frequency": "每晚一次", "days": 30}],
            "follow_up": [{"due": "2026-12-01", "what": "复查血脂、肝功能"}],
            "warning_signs": "胸痛再发、呼吸困难立即返院",
            "responsible_practitioner": county.practitioners["county_specialist"],
            "period_end": timezone.localdate() + dt.timedelta(days=180),
        },
    )


def reference(obj: Any, resource_type: str) -> dict[str, str]:
    return {"reference": f"{resource_type}/{obj.uuid}"}


def encounter_body(county, *, resident: str = "zhang_san", org: str = "east_v1", **elements: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": records_fhir.ACT_CODE_SYSTEM, "code": "AMB"},
        "type": [{"coding": [{"system": system_url("encounter-kind"), "code": "outpatient"}]}],
        "subject": reference(county.residents[resident], "Patient"),
        "serviceProvider": reference(county.orgs[org], "Organization"),
        "period": {"start": "2026-03-02T09:00:00+08:00", "end": "2026-03-02T09:20:00+08:00"},
        "reasonCode": [{"text": "头晕3天"}],
        "extension": [
            {"url": records_fhir.EXT_CLINICAL_NOTE, "valueString": "血压控制欠佳，调整用药"},
            {"url": records_fhir.EXT_ENCOUNTER_COST, "extension": [
                {"url": "drugs", "valueMoney": {"value": 35.5, "currency": "CNY"}},
                {"url": "exams", "valueMoney": {"value": 12, "currency": "CNY"}},
            ]},
        ],
        "contained": [{
            "resourceType": "Condition", "id": "dx1",
            "code": {"coding": [{"system": ICD10, "code": "I10"}]},
            "subject": reference(county.residents[resident], "Patient"),
        }],
        "diagnosis": [{"condition": {"reference": "#dx1"}, "rank": 1}],
    }
    body.update(elements)
    return body


def condition_body(county, encounter, *, resident: str = "zhang_san", code: str = "E11",
                   **elements: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Condition",
        "category": records_fhir.condition_category("encounter-diagnosis"),
        "code": {"coding": [{"system": ICD10, "code": code}]},
        "subject": reference(county.residents[resident], "Patient"),
        "encounter": reference(encounter, "Encounter"),
    }
    body.update(elements)
    return body


def observation_body(county, *, resident: str = "zhang_san", **elements: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": records_fhir.OBSERVATION_CATEGORY_SYSTEM, "code": "vital-signs"}]}],
        "code": {"coding": [{"system": LOINC, "code": "8480-6", "display": "收缩压"}]},
        "subject": reference(county.residents[resident], "Patient"),
        "effectiveDateTime": "2026-03-02T09:05:00+08:00",
        "valueQuantity": {"value": 150, "unit": "mmHg"},
    }
    body.update(elements)
    return body


def service_request_body(county, *, resident: str = "zhang_san", to: str = "lead", kind: str = "up",
                         **elements: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [{"coding": [referrals_fhir.REFERRAL_CATEGORY]}],
        "code": {"coding": [{"system": referrals_fhir.REFERRAL_KIND_SYSTEM, "code": kind}]},
        "priority": "routine",
        "subject": reference(county.residents[resident], "Patient"),
        "performer": [reference(county.orgs[to], "Organization")],
        "reasonCode": [{"coding": [{"system": ICD10, "code": "I21.9"}]}, {"text": "胸痛2小时，疑急性心梗"}],
        "note": [{"text": "血压160/100，心电图ST段抬高"}],
    }
    body.update(elements)
    return body


def care_plan_resource(county, *, resident: str = "zhang_san", **elements: Any) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": "plan",
        "status": "active",
        "intent": "plan",
        "subject": reference(county.residents[resident], "Patient"),
        "description": "PCI术后，病情稳定",
        "author": reference(county.practitioners["county_specialist"], "Practitioner"),
        "period": {"end": (timezone.localdate() + dt.timedelta(days=180)).isoformat()},
        "activity": [
            {"detail": {
                "kind": "MedicationRequest", "status": "in-progress",
                "productCodeableConcept": {"text": "阿托伐他汀钙片"}, "description": "20 mg",
                "scheduledTiming": {"code": {"text": "每晚一次"},
                                    "repeat": {"boundsDuration": {"value": 30, "unit": "天",
                                                                  "system": records_fhir.UCUM_SYSTEM, "code": "d"}}},
            }},
            {"detail": {"kind": "Appointment", "status": "scheduled", "code": {"text": "复查血脂、肝功能"},
                        "scheduledTiming": {"event": ["2026-12-01"]}}},
        ],
        "note": [{"text": "胸痛再发、呼吸困难立即返院"}],
    }
    plan.update(elements)
    return plan


def task_body(referral, status: str, *, reason: str | None = None, version: int | None = None,
              **elements: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Task",
        "id": str(referral.uuid),
        "status": status,
        "intent": "order",
        "focus": {"reference": f"ServiceRequest/{referral.uuid}"},
    }
    if reason is not None:
        body["statusReason"] = {"text": reason}
    if version is not None:
        body["meta"] = {"versionId": str(version)}
    body.update(elements)
    return body


def records_snapshot() -> dict[str, Any]:
    """Everything a refused write of these resources could touch, to compare before and after."""
    from countycare.core.models import AuditEvent, IdempotencyRecord
    from countycare.records.models import Diagnosis, Encounter, Observation, Problem
    from countycare.referrals.models import Booking, CareAccess, CarePlan, Referral, ReferralEvent

    return {
        "encounters": sorted(Encounter.objects.values_list("uuid", "version", "status")),
        "diagnoses": sorted(Diagnosis.objects.values_list("uuid", "code", "is_primary")),
        "problems": sorted(Problem.objects.values_list("uuid", "code", "status")),
        "observations": sorted(Observation.objects.values_list("uuid", "code")),
        "referrals": sorted(Referral.objects.values_list("uuid", "status", "version", "status_reason")),
        "events": ReferralEvent.objects.count(),
        "care_plans": CarePlan.objects.count(),
        "access": CareAccess.objects.count(),
        "bookings": sorted(Booking.objects.values_list("uuid", "status")),
        "audit_events": AuditEvent.objects.count(),
        "idempotency": IdempotencyRecord.objects.count(),
    }
