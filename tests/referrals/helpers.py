"""Referrals on top of the test county (tests/conftest.py): the ICD-10 codes they use, a second lead-hospital
doctor, and one-line ways to send a resident up, down or out of county."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from countycare.core.codes import Role, Title
from countycare.core.pinyin import initials
from countycare.records.models import Icd10Code
from countycare.referrals import services
from countycare.referrals.models import AccessReason, CareAccess, Referral, Slot
from countycare.registry.models import Posting, Practitioner

CODES = {
    "I10": ("原发性高血压", "IX", True), "I21": ("急性心肌梗死", "IX", False), "I63": ("脑梗死", "IX", False),
    "E11": ("2型糖尿病", "IV", True), "J18": ("肺炎，病原体未特指", "X", False),
    "J06": ("急性上呼吸道感染", "X", False), "C91": ("淋巴样白血病", "II", False), "K35": ("急性阑尾炎", "XI", False),
    "I50": ("心力衰竭", "IX", True),
}


def ensure_codes() -> None:
    Icd10Code.objects.bulk_create(
        [Icd10Code(code=c, name=n, chapter=ch, chronic=chronic, initials=initials(n))
         for c, (n, ch, chronic) in CODES.items()],
        ignore_conflicts=True,
    )


def lead_doctor(county, key: str = "lead_doctor2"):
    """Another county specialist at the lead hospital (a second receiver)."""
    from countycare.accounts.models import User

    p = Practitioner.objects.create(community=county.community, name="第二位心内科医生",
                                    title=Title.ATTENDING_PHYSICIAN, licence_number=f"L-{key}")
    Posting.objects.create(practitioner=p, organization=county.orgs["lead"], role=Role.COUNTY_SPECIALIST,
                           start=dt.date(2020, 1, 1))
    user = User.objects.create_user(username=key, password="x-Test-pass-2026", role=Role.COUNTY_SPECIALIST,
                                    community=county.community, organization=county.orgs["lead"], practitioner=p)
    county.users[key] = user
    return user


def up(county, *, by: str = "village_doctor", resident: str = "zhang_san", to: str = "lead", code: str = "I21",
       **data: Any) -> Referral:
    values = {"kind": "up", "to_organization": county.orgs[to], "reason": "胸痛2小时，心电图ST段抬高",
              "diagnoses": [{"code": code, "primary": True}], **data}
    return services.create_referral(user=county.users[by], resident=county.residents[resident], data=values,
                                    channel="web")


def grant(county, org: str, resident: str, *, days: int = 30) -> CareAccess:
    """Record access for an organisation, as an earlier referral would have granted (a lead-hospital stay)."""
    now = timezone.now()
    return CareAccess.objects.create(community=county.community, resident=county.residents[resident],
                                     organization=county.orgs[org], reason=AccessReason.REFERRAL,
                                     starts_at=now - dt.timedelta(days=1), ends_at=now + dt.timedelta(days=days))


def care_plan(county, **overrides: Any) -> dict[str, Any]:
    return {
        "treatment_summary": "急性前壁心肌梗死，急诊PCI术后第7天，病情稳定",
        "medicines": [{"name": "阿司匹林肠溶片", "dose": "100 mg", "frequency": "每日一次", "days": 30}],
        "follow_up": [{"due": "2027-01-15", "what": "复查心电图、血脂"}],
        "warning_signs": "胸痛再发、气促、晕厥立即返院",
        "responsible_practitioner": county.practitioners["county_specialist"],
        **overrides,
    }


def down(county, *, resident: str = "zhang_san", to: str = "east", by: str = "county_specialist",
         **data: Any) -> Referral:
    if not CareAccess.objects.filter(resident=county.residents[resident], organization=county.orgs["lead"]).exists():
        grant(county, "lead", resident)
    values = {"kind": "down", "to_organization": county.orgs[to], "reason": "病情稳定，转回基层康复",
              "diagnoses": [{"code": "I21", "primary": True}], "care_plan": care_plan(county), **data}
    return services.create_referral(user=county.users[by], resident=county.residents[resident], data=values,
                                    channel="web")


def out_of_county(county, *, resident: str = "zhang_san", **data: Any) -> Referral:
    if not CareAccess.objects.filter(resident=county.residents[resident], organization=county.orgs["lead"]).exists():
        grant(county, "lead", resident)
    values = {"kind": "out_of_county", "to_organization": county.orgs["partner"],
              "reason": "疑似急性白血病，需骨髓移植评估", "diagnoses": [{"code": "C91", "primary": True}], **data}
    return services.create_referral(user=county.users["county_specialist"], resident=county.residents[resident],
                                    data=values, channel="web")


def slot(county, *, org: str = "lead", kind: str = "clinic", capacity: int = 10, starts_in: dt.timedelta =
         dt.timedelta(days=3), by: str = "county_specialist", department=None) -> Slot:
    start = timezone.now() + starts_in
    return services.publish_slots(user=county.users[by], organization=county.orgs[org], department=department,
                                  kind=kind, starts_at=start, ends_at=start + dt.timedelta(hours=4),
                                  capacity=capacity, channel="web")


def move(referral: Referral, status: str) -> Referral:
    """Put a referral straight into a status (test set-up only: the service is what is under test)."""
    Referral.objects.filter(pk=referral.pk).update(status=status)
    referral.refresh_from_db()
    return referral
