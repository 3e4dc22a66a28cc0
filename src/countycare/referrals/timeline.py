"""The referrals' part of a resident's timeline (records.queries.timeline): their referrals and care plans."""

from __future__ import annotations

import datetime as dt

from django.urls import NoReverseMatch, reverse

from countycare.records import queries as records_queries
from countycare.registry.models import Resident

from .models import CarePlan, Referral


def _url(name: str, uuid: object) -> str | None:
    try:
        return reverse(name, args=[uuid])
    except NoReverseMatch:  # the pages are another app's; without them the item simply has no link
        return None


def referral_items(resident: Resident, before: dt.datetime | None, limit: int) -> list[records_queries.TimelineItem]:
    referrals = Referral.objects.filter(resident=resident).select_related("from_organization", "to_organization")
    plans = CarePlan.objects.filter(resident=resident).select_related("responsible_practitioner",
                                                                      "responsible_organization")
    if before is not None:
        referrals = referrals.filter(requested_at__lt=before)
        plans = plans.filter(created_at__lt=before)
    items = [
        records_queries.TimelineItem(
            at=r.requested_at, kind="referral",
            title=f"{r.get_kind_display()}：{r.from_organization.name} → {r.to_organization.name}",
            detail=f"{r.get_status_display()}{'（绿色通道）' if r.urgent else ''} {r.reason}".strip(),
            organization=r.from_organization.name, url=_url("workstation:referral", r.uuid), obj=r,
        )
        for r in referrals.order_by("-requested_at")[:limit]
    ]
    items += [
        records_queries.TimelineItem(
            at=p.created_at, kind="care_plan",
            title=f"下转康复/随访计划（责任医生：{p.responsible_practitioner.name}）",
            detail=f"{p.get_status_display()}，随访至{p.period_end:%Y-%m-%d}。{p.treatment_summary}"[:300],
            organization=p.responsible_organization.name, url=_url("workstation:referral", p.referral.uuid)
            if p.referral_id else None, obj=p,
        )
        for p in plans.select_related("referral").order_by("-created_at")[:limit]
    ]
    return items


def register() -> None:
    records_queries.register_timeline_source(referral_items)
