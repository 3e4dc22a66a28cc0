"""Policy numbers from DOMAIN.md with their defaults; admins override them per community in admin."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q

from .refcache import ProcessCache


@dataclass(frozen=True)
class PolicyDefault:
    key: str
    value: Decimal
    unit: str
    description: str
    source: str


DOMAIN = "DOMAIN.md (county and city implementation plans 2017-2025; national function guide 2025)"

DEFAULTS = {
    p.key: p
    for p in [
        PolicyDefault("county_visit_rate_target", Decimal("0.90"), "ratio",
                      "县域就诊率目标 County visit rate target", DOMAIN),
        PolicyDefault("grassroots_visit_share_target", Decimal("0.65"), "ratio",
                      "基层就诊率目标 Grassroots visit share target", DOMAIN),
        PolicyDefault("out_of_county_inpatient_share_drop", Decimal("0.02"), "ratio/year",
                      "县外住院占比年降幅 Yearly fall of out-of-county inpatient share", DOMAIN),
        PolicyDefault("contract_coverage_target", Decimal("0.30"), "ratio",
                      "家庭医生签约率目标 Contract coverage", DOMAIN),
        PolicyDefault("contract_key_population_target", Decimal("0.60"), "ratio",
                      "重点人群签约率目标 Key-population contract coverage", DOMAIN),
        PolicyDefault("reserved_slot_share", Decimal("0.20"), "ratio",
                      "预留号源床位比例 Share of slots reserved for family-doctor referrals", DOMAIN),
        PolicyDefault("ecg_turnaround_minutes", Decimal("30"), "min", "心电诊断时限 ECG report turnaround", DOMAIN),
        PolicyDefault("critical_value_ack_minutes", Decimal("15"), "min",
                      "危急值确认时限 Critical value acknowledgement before escalation", "issue #4 default"),
        PolicyDefault("insurance_budget_share", Decimal("0.95"), "ratio",
                      "医保基金打包比例 Share of the pooled fund given as the per-capita budget", DOMAIN),
        PolicyDefault("essential_medicine_share_target", Decimal("0.50"), "ratio",
                      "基本药物使用占比 Essential medicines share of drugs used", DOMAIN),
        PolicyDefault("township_reimbursement_target", Decimal("0.80"), "ratio",
                      "乡镇住院实际报销比 Township inpatient actual reimbursement", DOMAIN),
        PolicyDefault("poor_in_policy_reimbursement_target", Decimal("0.90"), "ratio",
                      "贫困人口政策内报销比 Registered-poor in-policy reimbursement", DOMAIN),
        PolicyDefault("vaccination_coverage_target", Decimal("0.90"), "ratio",
                      "疫苗接种率 Vaccination coverage", DOMAIN),
        PolicyDefault("elderly_age", Decimal("65"), "years", "老年人年龄 Age of the elderly key population", DOMAIN),
        PolicyDefault("referral_expiry_days", Decimal("7"), "days",
                      "转诊有效期 A referral not arrived within this many days expires",
                      "CountyCare default (issue #3)"),
        PolicyDefault("referral_record_access_days", Decimal("90"), "days",
                      "转诊接收方查阅档案期限 Days the receiving side of a referral may read the record",
                      "CountyCare default (issue #3)"),
        PolicyDefault("reserved_slot_release_hours", Decimal("24"), "hours",
                      "预留号源释放时限 Hours before a slot when its reserved share is released to everyone",
                      "CountyCare default (issue #3)"),
        PolicyDefault("care_plan_follow_days", Decimal("180"), "days",
                      "下转随访期限 Days the responsible lead-hospital doctor follows a down-referred patient",
                      "CountyCare default (issue #3)"),
        PolicyDefault("exam_record_access_days", Decimal("30"), "days",
                      "诊断中心查阅档案期限 Days a diagnostic centre's readers may read the record of a patient "
                      "whose exam was sent to their centre", "CountyCare default (issue #4)"),
        PolicyDefault("first_contact_access_days", Decimal("30"), "days",
                      "首诊接诊查阅期限 Days a walk-in patient's record stays open to the organisation that saw them",
                      "CountyCare default (issue #3)"),
        PolicyDefault("child_max_age", Decimal("6"), "years", "儿童重点人群年龄上限 Child key population age", DOMAIN),
    ]
}


def get(key: str, community_id: int | None = None) -> Decimal:
    """The number in force for a community: its own row, else the default row, else the code default."""
    return get_many(community_id, key)[key]


def get_many(community_id: int | None, *keys: str) -> dict[str, Decimal]:
    """`get` for several keys. A community's numbers (its rows and the default rows) are read in one query and
    kept in the process for a short time (`refcache`): an admin's edit applies at once in the process that saved
    it and within COUNTYCARE_REFERENCE_CACHE_SECONDS in the others."""
    rows = _cache.get(community_id, lambda: _rows(community_id))
    numbers = {}
    for key in keys:
        found = rows.get(key, {})
        numbers[key] = found[community_id] if community_id in found else found.get(None, DEFAULTS[key].value)
    return numbers


def _rows(community_id: int | None) -> dict[str, dict[int | None, Decimal]]:
    """{key: {community_id or None: value}} of the community's rows and the default rows."""
    from .models import Policy

    rows: dict[str, dict[int | None, Decimal]] = {}
    qs = Policy.objects.filter(Q(community_id=community_id) | Q(community__isnull=True))
    for key, community, value in qs.order_by().values_list("key", "community_id", "value"):
        rows.setdefault(key, {})[community] = value
    return rows


# {community_id: rows}
_cache = ProcessCache("policy")
_cache.follow("core.Policy")


def sync_defaults() -> int:
    """Create the default rows that are missing; never overwrite an admin's edit."""
    from .models import Policy

    existing = set(Policy.objects.filter(community__isnull=True).values_list("key", flat=True))
    Policy.objects.bulk_create(
        Policy(key=d.key, value=d.value, unit=d.unit, description=d.description, source=d.source)
        for d in DEFAULTS.values()
        if d.key not in existing
    )
    return len(DEFAULTS) - len(existing)
