"""Helpers of the workstation and referral page tests (no tests here): a little shared record and a few
referrals in the test county, made through the services as a page would."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone


def encounter(county, user: str, resident: str, *, codes: tuple[str, ...] = ("I10",), kind: str = "outpatient",
              complaint: str = "头晕三天", **extra: Any):
    from countycare.records import services

    data = {"kind": kind, "chief_complaint": complaint, "note": "血压偏高，嘱低盐饮食。",
            "diagnoses": [{"code": c, "primary": i == 0} for i, c in enumerate(codes)], **extra}
    return services.record_encounter(user=county.users[user], resident=county.residents[resident], data=data,
                                     channel="web")


def slot(county, *, org: str = "lead", kind: str = "clinic", capacity: int = 10, hours: int = 48,
         label: str = "心内科专家门诊", department: bool = True):
    from countycare.referrals import services
    from countycare.registry.models import Department

    start = timezone.now() + dt.timedelta(hours=hours)
    dept = Department.objects.filter(organization=county.orgs[org]).first() if department else None
    return services.publish_slots(
        user=county.users["community_admin"], organization=county.orgs[org], department=dept, kind=kind,
        starts_at=start, ends_at=start + dt.timedelta(hours=4), capacity=capacity, label=label, channel="web",
    )


def refer(county, user: str, resident: str, *, to: str = "lead", kind: str = "up", codes: tuple[str, ...] = ("I21.9",),
          urgent: bool = False, reason: str = "疑似急性心肌梗死，需进一步诊治", source=None, care_plan=None):
    from countycare.referrals import services

    data: dict[str, Any] = {
        "kind": kind, "to_organization": county.orgs[to], "urgent": urgent, "reason": reason,
        "clinical_summary": "胸痛2小时，心电图ST段抬高。",
        "diagnoses": [{"code": c, "primary": i == 0} for i, c in enumerate(codes)], "source_encounter": source,
    }
    if kind == "down":
        data["care_plan"] = care_plan or {
            "treatment_summary": "经皮冠状动脉介入治疗后病情稳定。",
            "medicines": [{"name": "阿司匹林肠溶片", "dose": "100 mg", "frequency": "每日一次", "days": 30}],
            "follow_up": [{"due": (timezone.localdate() + dt.timedelta(days=14)).isoformat(), "what": "复查心电图"}],
            "warning_signs": "胸痛再发、气促",
            "responsible_practitioner": county.practitioners["county_specialist"],
            "period_end": timezone.localdate() + dt.timedelta(days=180),
        }
    return services.create_referral(user=county.users[user], resident=county.residents[resident], data=data,
                                    channel="web")


def step(county, user: str, referral, action: str, **kwargs: Any):
    from countycare.referrals import services

    referral.refresh_from_db()
    return services.transition(user=county.users[user], referral=referral, action=action,
                               expected_version=referral.version, channel="web", **kwargs)
