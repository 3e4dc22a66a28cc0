"""The indicators CountyCare computes from the shared record, referrals and the diagnostic centres.

Targets are DOMAIN.md's numbers where it has one (and the policy row holding it where there is one); an indicator
the documents only ask to *monitor* has no target (None) and is shown without a traffic light.
"""

from __future__ import annotations

from decimal import Decimal

from countycare.core.codes import OrganizationType
from countycare.referrals.models import CLOSED_STATUSES, ReferralKind, ReferralStatus

from .definitions import (
    CENTRE,
    CHANGE_POINTS,
    COUNT,
    COUNTY,
    DIRECT,
    DOMAIN,
    GROWTH,
    HIGHER,
    LOWER,
    MEAN,
    MEMBER,
    NATIONAL,
    NEUTRAL,
    PER_10K,
    RATIO,
    RESIDENCE,
    VILLAGE,
    Indicator,
    register,
)
from .facts import Period

ALL_LEVELS = (COUNTY, MEMBER, VILLAGE)
CARE = "就医格局 Where care happens"
REFERRAL = "双向转诊 Referrals"
COST = "费用与中医 Cost and TCM"
CENTRES = "资源共享中心 Shared centres"
STAFF = "人员下沉 Doctors posted down"


def _is(kind: str):
    return lambda f, t, k, s: k == kind


def _status(status: str):
    return lambda f, t, k, s: s == status


register(Indicator(
    code="county_visit_rate", name="县域就诊率", name_en="County visit rate",
    question="居民就诊有多少留在县域内？ How much of residents' care stays inside the county?",
    numerator="居民在县域内机构的就诊人次（门急诊、住院、上门） Residents' visits at in-county providers",
    denominator="居民全部就诊人次（含县外，县外就医来自转诊与医保结算） All residents' visits, out of county included",
    form=RATIO, unit="%", direction=HIGHER, levels=ALL_LEVELS, module="records", attribution=RESIDENCE,
    target=Decimal("0.90"), target_source=DOMAIN + "；政策项 county_visit_rate_target", national=False,
    group=CARE, measure=lambda p: p.encounters_by("residence", "in_county", "visits")))

register(Indicator(
    code="grassroots_visit_share", name="基层就诊率", name_en="Grassroots share of visits",
    question="居民就诊有多少在乡镇卫生院和村卫生室？ How much of residents' care is at branches and village clinics?",
    numerator="居民在分院（乡镇卫生院、社区卫生服务中心）和村卫生室的就诊人次 Visits at branches and village clinics",
    denominator="居民全部就诊人次 All residents' visits",
    form=RATIO, unit="%", direction=HIGHER, levels=ALL_LEVELS, module="records", attribution=RESIDENCE,
    target=Decimal("0.65"), target_source=DOMAIN + "；政策项 grassroots_visit_share_target", national=True,
    group=CARE, measure=lambda p: p.encounters_by("residence", "grassroots", "visits")))

register(Indicator(
    code="in_county_inpatient_share", name="县域内住院人次占比", name_en="In-county share of inpatient stays",
    question="参保居民住院有多少在县内？ How many of insured residents' admissions are inside the county?",
    numerator="参保居民在县域内机构入院人次 Insured residents' admissions in the county",
    denominator="参保居民全部入院人次（含县外，县外住院来自转诊与医保结算） All insured residents' admissions, out of "
                "county included (known from referrals and claims)",
    form=RATIO, unit="%", direction=HIGHER, levels=ALL_LEVELS, module="records", attribution=RESIDENCE,
    target=None, target_source=NATIONAL + "（监测，无统一目标值 monitored, no national target）", national=True,
    group=CARE, measure=lambda p: p.encounters_by("residence", "admissions_in_county", "admissions")))


def _out_of_county_inpatient_share(p: Period):
    return {org: (d - n, d) for org, (n, d) in
            p.encounters_by("residence", "admissions_in_county", "admissions").items()}


register(Indicator(
    code="out_of_county_inpatient_share", name="县外住院人次占比", name_en="Out-of-county share of inpatient stays",
    question="参保居民住院有多少去了县外？ How many of insured residents' admissions are outside the county?",
    numerator="参保居民在县外入院人次 Insured residents' admissions out of the county",
    denominator="参保居民全部入院人次 All insured residents' admissions",
    form=RATIO, unit="%", direction=LOWER, levels=ALL_LEVELS, module="records", attribution=RESIDENCE,
    target=None, target_source="见同比变化 see its change on a year earlier", group=CARE,
    measure=_out_of_county_inpatient_share))

register(Indicator(
    code="out_of_county_inpatient_share_change", name="县外住院人次占比同比变化",
    name_en="Change in the out-of-county inpatient share on a year earlier",
    question="县外住院占比比去年同期降了多少个百分点？ By how many points did the out-of-county share fall?",
    numerator="本期县外住院人次占比 This period's share",
    denominator="去年同期县外住院人次占比（去年同期数据不全时不比较） The same period a year earlier (not compared "
                "when the platform holds no complete data for it)",
    form=CHANGE_POINTS, unit="百分点", direction=LOWER, levels=ALL_LEVELS, module="records", attribution=RESIDENCE,
    target=Decimal("-2"), target_source=DOMAIN + "（年降幅≥2个百分点）；政策项 out_of_county_inpatient_share_drop",
    base="out_of_county_inpatient_share", group=CARE))

# --- referrals ---------------------------------------------------------------------------------------------

register(Indicator(
    code="up_referrals", name="上转人次", name_en="Up-referrals",
    question="基层向上级转了多少患者？ How many patients did the grassroots refer up?",
    numerator="本期提出的上转（按转出机构） Up-referrals requested, by sending organisation", denominator="—",
    form=COUNT, unit="人次", direction=NEUTRAL, levels=ALL_LEVELS, module="referrals", group=REFERRAL,
    measure=lambda p: p.referral_counts(where=_is(ReferralKind.UP))))

register(Indicator(
    code="down_referrals", name="下转人次", name_en="Down-referrals",
    question="上级向基层转回了多少患者？ How many patients were sent back down?",
    numerator="本期提出的下转（按转出机构，含县外医院转回） Down-referrals requested, by sending organisation",
    denominator="—", form=COUNT, unit="人次", direction=HIGHER, levels=(COUNTY, MEMBER), module="referrals",
    group=REFERRAL, measure=lambda p: p.referral_counts(where=_is(ReferralKind.DOWN))))

register(Indicator(
    code="out_of_county_referrals", name="县外转诊人次", name_en="Out-of-county referrals",
    question="牵头医院向县外转了多少患者？ How many patients did the lead hospital refer out of the county?",
    numerator="本期提出的县外转诊 Out-of-county referrals requested", denominator="—",
    form=COUNT, unit="人次", direction=LOWER, levels=(COUNTY, MEMBER), module="referrals", group=REFERRAL,
    measure=lambda p: p.referral_counts(where=_is(ReferralKind.OUT_OF_COUNTY))))


def _lead_down_share(p: Period):
    downs = p.referral_counts(where=lambda f, t, k, s: k == ReferralKind.DOWN and s != ReferralStatus.CANCELLED)
    return {org: (downs.get(org, (0, 0))[0], stays)
            for org, (stays, _cost) in p.discharges.items()
            if p.orgs[org].org_type == OrganizationType.LEAD_HOSPITAL}


register(Indicator(
    code="lead_down_referral_share", name="牵头医院下转患者占出院人次比例",
    name_en="Lead hospital's down-referrals per discharge",
    question="牵头医院出院患者中有多少转回基层？ How many lead-hospital discharges go back down with a plan?",
    numerator="牵头医院本期提出的下转（撤销的除外） Down-referrals from the lead hospital, cancelled ones excluded",
    denominator="牵头医院本期出院人次 Lead-hospital discharges in the period",
    form=RATIO, unit="%", direction=HIGHER, levels=(COUNTY, MEMBER), module="referrals", group=REFERRAL,
    target=None, target_source=DOMAIN + "（下转纳入考核，无数值目标 assessed, no number given）",
    measure=_lead_down_share))

register(Indicator(
    code="out_of_county_returns", name="县外转诊回转人次", name_en="Returns after out-of-county care",
    question="县外就医后有多少患者转回县内？ How many patients came back from partner hospitals?",
    numerator="县外合作医院转回县内的下转（按接收机构） Referrals back from partner hospitals, by receiver",
    denominator="—", form=COUNT, unit="人次", direction=HIGHER, levels=(COUNTY, MEMBER), module="referrals",
    group=REFERRAL, measure=lambda p: p.referral_counts(
        by="to", of=lambda f, t, k, s: f.org_type == OrganizationType.PARTNER_HOSPITAL)))

register(Indicator(
    code="referrals_completed", name="转诊完成人次", name_en="Referrals completed",
    question="本期提出的转诊有多少已完成？ How many referrals of the period were completed?",
    numerator="本期提出、现已完成的转诊 Referrals requested in the period and now completed", denominator="—",
    form=COUNT, unit="人次", direction=HIGHER, levels=ALL_LEVELS, module="referrals", group=REFERRAL,
    measure=lambda p: p.referral_counts(where=_status(ReferralStatus.COMPLETED))))

register(Indicator(
    code="referrals_rejected", name="转诊拒收人次", name_en="Referrals rejected",
    question="本期提出的转诊有多少被拒收？ How many referrals were rejected?",
    numerator="本期提出、被拒收的转诊 Referrals requested in the period and rejected", denominator="—",
    form=COUNT, unit="人次", direction=LOWER, levels=ALL_LEVELS, module="referrals", group=REFERRAL,
    measure=lambda p: p.referral_counts(where=_status(ReferralStatus.REJECTED))))

register(Indicator(
    code="referrals_expired", name="转诊逾期未到人次", name_en="Referrals expired",
    question="本期提出的转诊有多少逾期未到诊？ How many referred patients never arrived?",
    numerator="本期提出、逾期未到诊的转诊 Referrals requested in the period that expired", denominator="—",
    form=COUNT, unit="人次", direction=LOWER, levels=ALL_LEVELS, module="referrals", group=REFERRAL,
    measure=lambda p: p.referral_counts(where=_status(ReferralStatus.EXPIRED))))

register(Indicator(
    code="referral_completion_rate", name="转诊完成率", name_en="Referral completion rate",
    question="已结束的转诊中有多少完成了？ Of the referrals that have closed, how many were completed?",
    numerator="完成的转诊 Completed",
    denominator="本期提出且已结束（完成、拒收、逾期、撤销）的转诊 Requested in the period and closed",
    form=RATIO, unit="%", direction=HIGHER, levels=ALL_LEVELS, module="referrals", group=REFERRAL,
    measure=lambda p: p.referral_counts(where=_status(ReferralStatus.COMPLETED),
                                        of=lambda f, t, k, s: s in CLOSED_STATUSES)))

# --- cost and TCM ------------------------------------------------------------------------------------------

register(Indicator(
    code="inpatient_cost_per_stay", name="县域内住院次均费用", name_en="In-county inpatient cost per stay",
    question="县内住院一次平均花多少钱？ What does an in-county stay cost on average?",
    numerator="本期出院患者住院总费用（元） Total cost of stays discharged in the period",
    denominator="本期出院人次 Stays discharged in the period",
    form=MEAN, unit="元", direction=LOWER, levels=(COUNTY, MEMBER), module="records", national=True,
    target=None, target_source=NATIONAL + "（监测 monitored）", group=COST,
    measure=lambda p: {org: (cost, n) for org, (n, cost) in p.discharges.items()}))

register(Indicator(
    code="inpatient_cost_per_stay_growth", name="县域内住院次均费用增幅",
    name_en="Growth of in-county inpatient cost per stay",
    question="住院次均费用比去年同期涨了多少？ How much did the cost per stay grow on a year earlier?",
    numerator="本期次均费用 This period's cost per stay",
    denominator="去年同期次均费用（去年同期数据不全时不比较） A year earlier (not compared without complete data)",
    form=GROWTH, unit="%", direction=LOWER, levels=(COUNTY, MEMBER), module="records", national=True,
    target=None, target_source=NATIONAL + "（监测 monitored）", base="inpatient_cost_per_stay", group=COST,))

register(Indicator(
    code="tcm_visit_share", name="中医诊疗人次占比", name_en="Share of TCM visits",
    question="县内就诊有多少是中医诊疗？ How much in-county care is traditional Chinese medicine?",
    numerator="县域内中医诊疗人次 In-county TCM visits", denominator="县域内全部就诊人次 All in-county visits",
    form=RATIO, unit="%", direction=HIGHER, levels=ALL_LEVELS, module="records", national=True,
    target=None, target_source=NATIONAL + "（监测 monitored）", group=COST,
    measure=lambda p: p.encounters_by("provider", "tcm", "in_county")))

# --- shared diagnostic centres -----------------------------------------------------------------------------


def _turnaround(pick):
    def measure(p: Period):
        return {cid: pick(t) for cid, t in p.turnaround.items()}
    return measure


def _percentile(t, value):
    return (t.reported, None, None if value is None else round(value, 2))


register(Indicator(
    code="exam_turnaround_p50", name="诊断中心报告时限中位数", name_en="Centre turnaround, median",
    question="从采集到出报告，一半的检查用时多少分钟以内？ Half of the exams are reported within how many minutes?",
    numerator="本期发布首份报告的检查数 Exams first reported in the period", denominator="—",
    form=DIRECT, unit="分钟", direction=LOWER, levels=(CENTRE,), module="diagnostics", group=CENTRES,
    measure=_turnaround(lambda t: _percentile(t, t.p50_minutes))))

register(Indicator(
    code="exam_turnaround_p95", name="诊断中心报告时限 P95", name_en="Centre turnaround, 95th percentile",
    question="95% 的检查在多少分钟内出报告？ 95% of exams are reported within how many minutes?",
    numerator="本期发布首份报告的检查数 Exams first reported in the period", denominator="—",
    form=DIRECT, unit="分钟", direction=LOWER, levels=(CENTRE,), module="diagnostics", group=CENTRES,
    measure=_turnaround(lambda t: _percentile(t, t.p95_minutes))))

register(Indicator(
    code="exam_within_target_share", name="诊断中心按时报告率", name_en="Centre reports within target",
    question="有多少检查在中心的时限内出报告（心电 30 分钟）？ How many reports met the centre's target (ECG 30 min)?",
    numerator="在时限内（按优先级）发布首份报告的检查 Reported within the centre's target for the priority",
    denominator="本期发布首份报告的检查 Exams first reported in the period",
    form=RATIO, unit="%", direction=HIGHER, levels=(COUNTY, CENTRE), module="diagnostics", group=CENTRES,
    target=Decimal("0.95"), target_source="CountyCare 默认（心电 30 分钟时限见 DOMAIN.md）CountyCare default",
    measure=_turnaround(lambda t: (t.within_target, t.reported, None))))

register(Indicator(
    code="remote_diagnoses_per_10k", name="每万人远程诊断人次", name_en="Remote diagnoses per 10,000 residents",
    question="资源共享中心为基层出了多少远程诊断？ How many remote diagnoses did the centres give?",
    numerator="本期由外机构诊断中心发布报告的检查（按申请机构） Exams reported by a centre of another member",
    denominator="常住居民数（按归属机构） Residents homed there",
    form=PER_10K, unit="每万人", direction=HIGHER, levels=ALL_LEVELS, module="diagnostics", national=True,
    target=None, target_source=NATIONAL + "（影像、心电中心服务 monitored）", group=CENTRES,
    measure=lambda p: p.per_population(p.remote_reports)))


def _village_ecg(p: Period):
    return {org.id: (Decimal(1 if org.id in p.village_ecg else 0), Decimal(1))
            for org in p.orgs.values() if org.is_village and org.active}


register(Indicator(
    code="village_ecg_coverage", name="村卫生室心电覆盖率", name_en="Village clinics sending ECGs",
    question="有多少村卫生室本期做过远程心电？ How many village clinics sent an ECG in the period?",
    numerator="本期至少申请一次心电检查的村卫生室 Village clinics that requested an ECG",
    denominator="在用村卫生室 Active village clinics",
    form=RATIO, unit="%", direction=HIGHER, levels=ALL_LEVELS, module="diagnostics", national=True,
    target=None, target_source=NATIONAL + "（monitored）", group=CENTRES, measure=_village_ecg))

register(Indicator(
    code="exams_avoided", name="结果互认减少重复检查", name_en="Exams avoided by recognition",
    question="因结果互认少做了多少次检查？ How many repeat exams did mutual recognition save?",
    numerator="开单时采用已互认结果、未重复检查的次数 Orders that used a recognised result instead", denominator="—",
    form=COUNT, unit="次", direction=HIGHER, levels=ALL_LEVELS, module="diagnostics", group=CENTRES,
    measure=lambda p: {org: (Decimal(avoided), Decimal(n)) for org, (avoided, n) in p.recognition.items()}))

# --- doctors posted down -----------------------------------------------------------------------------------


def _branches(p: Period):
    return [org for org in p.orgs.values() if org.is_branch and org.active]


register(Indicator(
    code="posted_seniors_per_10k", name="每万人派驻主治及以上医师数",
    name_en="Lead-hospital doctors (attending or above) posted to branches per 10,000 residents",
    question="牵头医院下沉了多少中高级医师？ How many senior lead-hospital doctors work in the branches?",
    numerator="本期在分院派驻（县管乡用、多点执业）的牵头医院主治及以上医师 "
              "Senior lead-hospital doctors posted to branches",
    denominator="常住居民数 Residents",
    form=PER_10K, unit="每万人", direction=HIGHER, levels=(COUNTY, MEMBER), module="registry", national=True,
    target=None, target_source=NATIONAL + "（monitored）", group=STAFF,
    measure=lambda p: p.per_population(p.posted_seniors)))

register(Indicator(
    code="branches_without_posted_senior", name="无派驻主治及以上医师的分院数",
    name_en="Branches without a posted senior doctor",
    question="哪些分院全年没有牵头医院主治及以上医师？ Which branches have no senior lead-hospital doctor?",
    numerator="本期无牵头医院主治及以上医师派驻的分院 Branches with none posted", denominator="分院数 Branches",
    form=COUNT, unit="个", direction=LOWER, levels=(COUNTY, MEMBER), module="registry", group=STAFF,
    target=Decimal("0"), target_source=DOMAIN + "（每个乡镇卫生院全年至少一名主治及以上医师）",
    measure=lambda p: {org.id: (Decimal(0 if p.posted_seniors.get(org.id) else 1), Decimal(1))
                       for org in _branches(p)}))
