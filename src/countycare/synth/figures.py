"""The calibration figures of a generated year, computed from the loaded rows with SQL aggregates (for the
benchmark and docs/synthetic-county.md; the tests compute theirs independently)."""

from __future__ import annotations

from statistics import median
from typing import Any

from django.db.models import Count, Q

from countycare.core.codes import GRASSROOTS_TYPES, OrganizationType
from countycare.core.models import Community
from countycare.records.models import Encounter
from countycare.referrals.models import Referral
from countycare.registry.models import Resident

from .clinical import FOLLOW_UP_COMPLAINTS

LEVELS = {
    "village clinics": (OrganizationType.VILLAGE_CLINIC,),
    "branches": (OrganizationType.TOWNSHIP_CENTRE, OrganizationType.COMMUNITY_CENTRE),
    "lead hospital": (OrganizationType.LEAD_HOSPITAL,),
    "TCM hospital": (OrganizationType.TCM_HOSPITAL,),
    "maternal-child hospital": (OrganizationType.MCH,),
    "out of county": (OrganizationType.PARTNER_HOSPITAL,),
}


def calibration(community: Community) -> dict[str, Any]:
    residents = Resident.objects.filter(community=community).count()
    encounters = Encounter.objects.filter(community=community)
    counts = encounters.aggregate(
        all=Count("id"),
        inpatient=Count("id", filter=Q(kind="inpatient")),
        in_county=Count("id", filter=Q(organization__is_member=True)),
        grassroots=Count("id", filter=Q(organization__org_type__in=GRASSROOTS_TYPES)),
        tcm=Count("id", filter=Q(is_tcm=True)),
        outside_stays=Count("id", filter=Q(kind="inpatient", organization__org_type=OrganizationType.PARTNER_HOSPITAL)),
        **{f"level_{k}": Count("id", filter=Q(organization__org_type__in=types))
           for k, types in enumerate(LEVELS.values())},
    )
    whole = counts["all"] or 1
    figures: dict[str, Any] = {
        "residents": residents,
        "encounters": counts["all"],
        "visits per resident (outpatient, emergency, home)": (counts["all"] - counts["inpatient"]) / residents,
        "admissions per 100 residents": 100 * counts["inpatient"] / residents,
        "county visit rate": counts["in_county"] / whole,
        "grassroots share": counts["grassroots"] / whole,
        "out-of-county share of admissions": counts["outside_stays"] / (counts["inpatient"] or 1),
        "TCM share of encounters": counts["tcm"] / whole,
        "share by level": {level: counts[f"level_{k}"] / whole for k, level in enumerate(LEVELS)},
    }
    costs = {}
    for level, types in LEVELS.items():
        for kind in ("outpatient", "inpatient"):
            totals = list(
                encounters.filter(organization__org_type__in=types, kind=kind, status="finished", cost_total__gt=0)
                .exclude(chief_complaint__in=FOLLOW_UP_COMPLAINTS.values())
                .order_by()
                .values_list("cost_total", flat=True)[:20000]
            )
            if totals:
                costs[f"{level} {kind}"] = float(median(totals))
    figures["median bill (yuan)"] = costs
    referrals = Referral.objects.filter(community=community)
    figures["referrals by kind and status"] = {
        f"{kind} {status}": n
        for kind, status, n in referrals.values_list("kind", "status").annotate(n=Count("id")).order_by("kind",
                                                                                                          "status")
    }
    figures["urgent up-referrals"] = referrals.filter(urgent=True).count()
    return figures
