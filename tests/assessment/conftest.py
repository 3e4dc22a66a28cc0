"""A small county built by hand for the assessment tests. Every row is written straight through the ORM (the
services' clinical rules are not what is tested here: the counting is), and every indicator's right answer is
worked out from the tables below in tests/assessment/test_indicators.py.

    城南县人民医院 lead (lead hospital)   城南县中医院 tcm (TCM hospital)   城南县妇幼保健院 mch (MCH)
      ├─ 东镇分院 east (township centre)            ├─ 西街社区卫生服务中心 west (community centre)
      │    ├─ 东村卫生室 east_v1                     │    ├─ 西村卫生室 west_v1
      │    └─ 南村卫生室 east_v2                     │    ├─ 北村卫生室 west_v2
      │                                             │    └─ 旧村卫生室 west_v3 (closed: inactive)
    省人民医院 partner (out-of-county partner hospital, not a member)

Residents (13; a merged duplicate of a1 is not counted):
    east_v1: a1 a2 a3   east_v2: b1 b2   east: c1 c2   west_v1: d1 d2   west_v2: e1 e2   west: f1 f2

Encounters (local time, Asia/Shanghai). O outpatient, E emergency, H home visit, I inpatient (→ discharge, cost)
(OP, EM, HV, IP in ENCOUNTERS);
P = at the partner hospital, known from an insurance claim; ✗ = entered in error (cancelled).

 2025, by the resident's home
  east_v1  1 a1 O east_v1 · 2 a1 H east_v1 · 3 a1 O lead · 4 a1 I P (→06-10, 30000) · 5 a2 O east_v1 TCM ·
           6 a2 E lead · 7 a2 I lead (07-01→07-08, 12000) · 8 a3 O east at 2025-01-01 00:00 · 9 a3 O P ·
           10 a3 O east_v1 ✗
  east_v2  11 b1 O east_v2 · 12 b1 O east_v2 at 2025-12-31 23:30 · 13 b1 I east (→09-05, 2500) ·
           14 b2 O tcm TCM · 15 b2 O east_v2 at 2026-01-01 00:30 (after the period) ·
           16 b2 I lead (2025-12-29→2026-01-02, 9000)
  east     17 c1 O east · 18 c1 O east TCM · 19 c1 I east (→10-04, 3500) · 20 c2 E lead ·
           21 c2 I P (→04-15, 40000) · 22 c2 I lead (11-01, still in hospital)
  west_v1  23 d1 O west_v1 · 24 d1 O west_v1 TCM · 25 d1 H west_v1 · 26 d1 I lead (02-10→02-20, 8000) ·
           27 d2 O lead · 28 d2 I west (→05-10, 2000) · 29 d2 I P (→06-20, 50000) · 30 d2 I lead ✗ (5000)
  west_v2  31 e1 O west_v2 · 32 e1 O mch
  west     33 f1 O west · 34 f1 E lead · 35 f1 I tcm TCM (→08-15, 6000) · 36 f2 O tcm TCM · 37 f2 O P TCM
 2024 (the year before)
  Y1 a1 O east_v1 at 2024-01-01 09:00 (the platform's first encounter) · Y2 a1 I lead (2024-12-28→2025-01-03,
  10000) · Y3 a2 I P (20000) · Y4 b1 I lead (→05-05, 8000) · Y5 b2 I east (→10-04, 2000) ·
  Y6 c1 I lead (→06-07, 8000) · Y7 c1 I east (→09-03, 2000) · Y8 d2 I P (30000) · Y9 d1 I west ✗ (3000) ·
  Y10 e1 O west_v2 at 2024-12-31 23:59

Referrals (2025 unless said): R1 up east_v1→lead completed · R2 up east_v1→east rejected · R3 up east→lead
expired · R4 up west_v1→west completed · R5 up west→lead cancelled · R6 up east_v2→lead requested · R7 down
lead→east completed · R8 down lead→west accepted · R9 down lead→east_v1 cancelled · R10 out lead→partner
completed · R11 out lead→partner requested · R12 down partner→east completed (a return) · R13 down partner→lead
arrived (a return) · R14 down tcm→west completed · R15 up east_v1→lead at 2024-12-31 23:00 · R16 up
west_v2→west at 2026-01-01 00:10.

Diagnostic centres: ECG at lead (targets routine/urgent/STAT 30/30/10 min), imaging at lead (1440/120/30), lab at
east (240/60/30), pathology at lead (7200/2880/30). Exams (acquired → first report, minutes), reported in 2025:
  ECG  X1 east_v1 routine 12 · X2 east_v2 routine 25 · X3 west routine 31 · X4 east routine 18 ·
       X5 tcm routine 45 · X6 lead STAT 8 · X7 east_v1 urgent 29 · X8 east_v1 routine read as STAT (critical
       pre-read) 12 · X12 east_v2 routine, requested and acquired 2024-12-31 23:50, reported 2025-01-01 00:10 (20)
  imaging  I1 east routine 600 · I2 west urgent 150 · I3 lead routine 90
  lab  L1 east routine 100 · L2 east_v2 routine 300
not reported in 2025: X9 east_v1 ECG reported 2024-12-20 · X10 west_v1 ECG requested 2025-12-31, acquired, waiting ·
X11 west_v2 ECG requested 2025-06-01, cancelled · P1 east pathology reported 2024-06-05.

Recognition checks (2025): east_v1 avoided ×2, repeated ×1; west avoided ×1; lead repeated ×1; east_v2 avoided
×1 in 2024.

Lead-hospital doctors posted down: chief → east (县管乡用, two stints in 2025) and attending → east (多点执业,
2023-01-01..2025-01-01, the period's first day) count; associate chief → west ending 2024-12-31, resident
physician → west (2025), chief → west from 2026-01-01, and an east attending (not a lead-hospital doctor,
多点执业 at west) do not.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.utils import timezone
from tests.conftest import County, make_resident
from tests.diagnostics.helpers import ensure_exam_types

from countycare.core.codes import Level, OrganizationType, PostingKind, Role, Title
from countycare.diagnostics.models import (
    Centre,
    CentreKind,
    ExamRequest,
    ExamStatus,
    Priority,
    RecognitionCheck,
    Report,
    ReportStatus,
)
from countycare.records.models import Encounter, EncounterKind, EncounterSource, EncounterStatus
from countycare.referrals.models import Referral, ReferralKind, ReferralStatus
from countycare.registry.models import Organization, Posting, Practitioner, Resident

COUNTY_CODE = "330188"
YEAR = (dt.date(2025, 1, 1), dt.date(2026, 1, 1))
PRIOR_YEAR = (dt.date(2024, 1, 1), dt.date(2025, 1, 1))

OP, EM, HV, IP = EncounterKind.OUTPATIENT, EncounterKind.EMERGENCY, EncounterKind.HOME_VISIT, EncounterKind.INPATIENT
CANCELLED = EncounterStatus.CANCELLED
IN_PROGRESS = EncounterStatus.IN_PROGRESS
MINUTE = dt.timedelta(minutes=1)


def at(y: int, m: int, d: int, h: int = 9, mi: int = 0) -> dt.datetime:
    """A local (Asia/Shanghai) moment."""
    return timezone.make_aware(dt.datetime(y, m, d, h, mi))


@dataclass
class SmallCounty(County):
    centres: dict = field(default_factory=dict)
    exams: dict = field(default_factory=dict)
    referrals: dict = field(default_factory=dict)
    encounters: dict = field(default_factory=dict)


def _organisations(c: SmallCounty) -> None:
    def org(key, name, org_type, level, code, parent=None, member=True, active=True):
        c.orgs[key] = Organization.objects.create(
            community=c.community, name=name, short_name=name, org_type=org_type, level=level, division_code=code,
            parent=c.orgs[parent] if parent else None, is_member=member, active=active)

    org("lead", "城南县人民医院", OrganizationType.LEAD_HOSPITAL, Level.COUNTY, COUNTY_CODE)
    org("tcm", "城南县中医院", OrganizationType.TCM_HOSPITAL, Level.COUNTY, COUNTY_CODE)
    org("mch", "城南县妇幼保健院", OrganizationType.MCH, Level.COUNTY, COUNTY_CODE)
    org("east", "城南县人民医院东镇分院", OrganizationType.TOWNSHIP_CENTRE, Level.TOWNSHIP, COUNTY_CODE + "101", "lead")
    org("west", "城南县人民医院西街分院", OrganizationType.COMMUNITY_CENTRE, Level.TOWNSHIP, COUNTY_CODE + "102",
        "lead")
    org("east_v1", "东村卫生室", OrganizationType.VILLAGE_CLINIC, Level.VILLAGE, COUNTY_CODE + "101201", "east")
    org("east_v2", "南村卫生室", OrganizationType.VILLAGE_CLINIC, Level.VILLAGE, COUNTY_CODE + "101202", "east")
    org("west_v1", "西村卫生室", OrganizationType.VILLAGE_CLINIC, Level.VILLAGE, COUNTY_CODE + "102201", "west")
    org("west_v2", "北村卫生室", OrganizationType.VILLAGE_CLINIC, Level.VILLAGE, COUNTY_CODE + "102202", "west")
    org("west_v3", "旧村卫生室", OrganizationType.VILLAGE_CLINIC, Level.VILLAGE, COUNTY_CODE + "102203", "west",
        active=False)
    org("partner", "省人民医院", OrganizationType.PARTNER_HOSPITAL, Level.OUTSIDE, "330100", member=False)


RESIDENTS = [  # key, name, home
    ("a1", "陈一", "east_v1"), ("a2", "陈二", "east_v1"), ("a3", "陈三", "east_v1"),
    ("b1", "林一", "east_v2"), ("b2", "林二", "east_v2"),
    ("c1", "黄一", "east"), ("c2", "黄二", "east"),
    ("d1", "周一", "west_v1"), ("d2", "周二", "west_v1"),
    ("e1", "吴一", "west_v2"), ("e2", "吴二", "west_v2"),
    ("f1", "郑一", "west"), ("f2", "郑二", "west"),
]


def _residents(c: SmallCounty) -> None:
    for key, name, home in RESIDENTS:
        make_resident(c, key, name, home, birth=dt.date(1970, 1, 1), with_id=False)
    duplicate = make_resident(c, "a1_dup", "陈一", "east_v1", birth=dt.date(1970, 1, 1), with_id=False)
    Resident.objects.filter(pk=duplicate.pk).update(merged_into=c.residents["a1"])


# number, resident, organisation, kind, start, end, cost, extras (status, tcm)
ENCOUNTERS = [
    ("1", "a1", "east_v1", OP, at(2025, 3, 1), None, 0, {}),
    ("2", "a1", "east_v1", HV, at(2025, 4, 1), None, 0, {}),
    ("3", "a1", "lead", OP, at(2025, 5, 1), None, 0, {}),
    ("4", "a1", "partner", IP, at(2025, 6, 1), at(2025, 6, 10), 30000, {}),
    ("5", "a2", "east_v1", OP, at(2025, 3, 2), None, 0, {"tcm": True}),
    ("6", "a2", "lead", EM, at(2025, 7, 1, 8), None, 0, {}),
    ("7", "a2", "lead", IP, at(2025, 7, 1, 10), at(2025, 7, 8), 12000, {}),
    ("8", "a3", "east", OP, at(2025, 1, 1, 0, 0), None, 0, {}),
    ("9", "a3", "partner", OP, at(2025, 8, 1), None, 0, {}),
    ("10", "a3", "east_v1", OP, at(2025, 8, 2), None, 0, {"status": CANCELLED}),
    ("11", "b1", "east_v2", OP, at(2025, 2, 1), None, 0, {}),
    ("12", "b1", "east_v2", OP, at(2025, 12, 31, 23, 30), None, 0, {}),
    ("13", "b1", "east", IP, at(2025, 9, 1), at(2025, 9, 5), 2500, {}),
    ("14", "b2", "tcm", OP, at(2025, 3, 3), None, 0, {"tcm": True}),
    ("15", "b2", "east_v2", OP, at(2026, 1, 1, 0, 30), None, 0, {}),
    ("16", "b2", "lead", IP, at(2025, 12, 29), at(2026, 1, 2), 9000, {}),
    ("17", "c1", "east", OP, at(2025, 2, 2), None, 0, {}),
    ("18", "c1", "east", OP, at(2025, 2, 3), None, 0, {"tcm": True}),
    ("19", "c1", "east", IP, at(2025, 10, 1), at(2025, 10, 4), 3500, {}),
    ("20", "c2", "lead", EM, at(2025, 4, 4), None, 0, {}),
    ("21", "c2", "partner", IP, at(2025, 4, 5), at(2025, 4, 15), 40000, {}),
    ("22", "c2", "lead", IP, at(2025, 11, 1), None, 0, {"status": IN_PROGRESS}),
    ("23", "d1", "west_v1", OP, at(2025, 3, 5), None, 0, {}),
    ("24", "d1", "west_v1", OP, at(2025, 3, 6), None, 0, {"tcm": True}),
    ("25", "d1", "west_v1", HV, at(2025, 3, 7), None, 0, {}),
    ("26", "d1", "lead", IP, at(2025, 2, 10), at(2025, 2, 20), 8000, {}),
    ("27", "d2", "lead", OP, at(2025, 5, 5), None, 0, {}),
    ("28", "d2", "west", IP, at(2025, 5, 6), at(2025, 5, 10), 2000, {}),
    ("29", "d2", "partner", IP, at(2025, 6, 6), at(2025, 6, 20), 50000, {}),
    ("30", "d2", "lead", IP, at(2025, 6, 1), at(2025, 6, 3), 5000, {"status": CANCELLED}),
    ("31", "e1", "west_v2", OP, at(2025, 4, 10), None, 0, {}),
    ("32", "e1", "mch", OP, at(2025, 4, 11), None, 0, {}),
    ("33", "f1", "west", OP, at(2025, 6, 15), None, 0, {}),
    ("34", "f1", "lead", EM, at(2025, 6, 16), None, 0, {}),
    ("35", "f1", "tcm", IP, at(2025, 8, 8), at(2025, 8, 15), 6000, {"tcm": True}),
    ("36", "f2", "tcm", OP, at(2025, 7, 7), None, 0, {"tcm": True}),
    ("37", "f2", "partner", OP, at(2025, 7, 8), None, 0, {"tcm": True}),
    ("Y1", "a1", "east_v1", OP, at(2024, 1, 1, 9), None, 0, {}),
    ("Y2", "a1", "lead", IP, at(2024, 12, 28), at(2025, 1, 3), 10000, {}),
    ("Y3", "a2", "partner", IP, at(2024, 3, 1), at(2024, 3, 10), 20000, {}),
    ("Y4", "b1", "lead", IP, at(2024, 5, 1), at(2024, 5, 5), 8000, {}),
    ("Y5", "b2", "east", IP, at(2024, 10, 1), at(2024, 10, 4), 2000, {}),
    ("Y6", "c1", "lead", IP, at(2024, 6, 1), at(2024, 6, 7), 8000, {}),
    ("Y7", "c1", "east", IP, at(2024, 9, 1), at(2024, 9, 3), 2000, {}),
    ("Y8", "d2", "partner", IP, at(2024, 11, 1), at(2024, 11, 9), 30000, {}),
    ("Y9", "d1", "west", IP, at(2024, 4, 1), at(2024, 4, 3), 3000, {"status": CANCELLED}),
    ("Y10", "e1", "west_v2", OP, at(2024, 12, 31, 23, 59), None, 0, {}),
]


def _encounters(c: SmallCounty) -> None:
    rows = []
    for number, resident, org, kind, start, end, cost, extras in ENCOUNTERS:
        outside = org == "partner"
        # Every visit is finished unless said otherwise (a same-day visit ends 20 minutes after it starts).
        status = extras.get("status", EncounterStatus.FINISHED)
        ended = end if kind == IP else (None if status == IN_PROGRESS else start + 20 * MINUTE)
        cost = Decimal(cost)
        drugs = (cost / 2).quantize(Decimal("0.01"))
        rows.append(Encounter(
            community=c.community, resident=c.residents[resident], organization=c.orgs[org], kind=kind,
            status=status, source=EncounterSource.CLAIM if outside else EncounterSource.CLINICAL, started_at=start,
            ended_at=ended, is_tcm=extras.get("tcm", False), cost_drugs=drugs, cost_beds=cost - drugs,
            cost_total=cost, chief_complaint=f"就诊 {number}"))
    for (number, *_rest), row in zip(ENCOUNTERS, Encounter.objects.bulk_create(rows), strict=True):
        c.encounters[number] = row


# number, kind, from, to, status, requested at, resident
REFERRALS = [
    ("R1", ReferralKind.UP, "east_v1", "lead", ReferralStatus.COMPLETED, at(2025, 3, 1), "a1"),
    ("R2", ReferralKind.UP, "east_v1", "east", ReferralStatus.REJECTED, at(2025, 3, 10), "a2"),
    ("R3", ReferralKind.UP, "east", "lead", ReferralStatus.EXPIRED, at(2025, 4, 1), "c1"),
    ("R4", ReferralKind.UP, "west_v1", "west", ReferralStatus.COMPLETED, at(2025, 5, 1), "d1"),
    ("R5", ReferralKind.UP, "west", "lead", ReferralStatus.CANCELLED, at(2025, 5, 2), "f1"),
    ("R6", ReferralKind.UP, "east_v2", "lead", ReferralStatus.REQUESTED, at(2025, 12, 20), "b1"),
    ("R7", ReferralKind.DOWN, "lead", "east", ReferralStatus.COMPLETED, at(2025, 7, 10), "a2"),
    ("R8", ReferralKind.DOWN, "lead", "west", ReferralStatus.ACCEPTED, at(2025, 12, 15), "d1"),
    ("R9", ReferralKind.DOWN, "lead", "east_v1", ReferralStatus.CANCELLED, at(2025, 7, 12), "a1"),
    ("R10", ReferralKind.OUT_OF_COUNTY, "lead", "partner", ReferralStatus.COMPLETED, at(2025, 5, 20), "c2"),
    ("R11", ReferralKind.OUT_OF_COUNTY, "lead", "partner", ReferralStatus.REQUESTED, at(2025, 12, 28), "d2"),
    ("R12", ReferralKind.DOWN, "partner", "east", ReferralStatus.COMPLETED, at(2025, 4, 20), "c2"),
    ("R13", ReferralKind.DOWN, "partner", "lead", ReferralStatus.ARRIVED, at(2025, 6, 22), "d2"),
    ("R14", ReferralKind.DOWN, "tcm", "west", ReferralStatus.COMPLETED, at(2025, 8, 16), "f1"),
    ("R15", ReferralKind.UP, "east_v1", "lead", ReferralStatus.COMPLETED, at(2024, 12, 31, 23), "a1"),
    ("R16", ReferralKind.UP, "west_v2", "west", ReferralStatus.REQUESTED, at(2026, 1, 1, 0, 10), "e1"),
]


def _referrals(c: SmallCounty) -> None:
    rows = [Referral(community=c.community, resident=c.residents[resident], kind=kind, status=status,
                     from_organization=c.orgs[sender], to_organization=c.orgs[receiver], reason=f"转诊 {number}",
                     requested_at=requested, due_at=requested + dt.timedelta(days=7))
            for number, kind, sender, receiver, status, requested, resident in REFERRALS]
    for (number, *_rest), row in zip(REFERRALS, Referral.objects.bulk_create(rows), strict=True):
        c.referrals[number] = row


def _centres(c: SmallCounty) -> None:
    def centre(key, kind, host, name, routine, urgent, stat):
        c.centres[key] = Centre.objects.create(
            community=c.community, organization=c.orgs[host], kind=kind, name=name,
            target_routine_minutes=routine, target_urgent_minutes=urgent, target_stat_minutes=stat)

    centre("ecg", CentreKind.ECG, "lead", "心电诊断中心", 30, 30, 10)
    centre("imaging", CentreKind.IMAGING, "lead", "影像诊断中心", 1440, 120, 30)
    centre("lab", CentreKind.LAB, "east", "东镇检验中心", 240, 60, 30)
    centre("pathology", CentreKind.PATHOLOGY, "lead", "病理诊断中心", 7200, 2880, 30)


RANK = {Priority.ROUTINE: 0, Priority.URGENT: 1000, Priority.STAT: 2000}
READ_AS_STAT = "read as STAT"  # a routine ECG whose pre-read raised a critical flag: the worklist ranked it STAT

# number, centre, exam type, requesting organisation, resident, priority, requested (= acquired) at,
# minutes to the first report (None: not reported), status when not published
EXAMS = [
    ("X1", "ecg", "ECG12", "east_v1", "a1", Priority.ROUTINE, at(2025, 3, 1, 9), 12, None),
    ("X2", "ecg", "ECG12", "east_v2", "b1", Priority.ROUTINE, at(2025, 3, 2, 9), 25, None),
    ("X3", "ecg", "ECG12", "west", "f1", Priority.ROUTINE, at(2025, 3, 3, 9), 31, None),
    ("X4", "ecg", "ECG12", "east", "c1", Priority.ROUTINE, at(2025, 3, 4, 9), 18, None),
    ("X5", "ecg", "ECG12", "tcm", "b2", Priority.ROUTINE, at(2025, 3, 5, 9), 45, None),
    ("X6", "ecg", "ECG12", "lead", "c2", Priority.STAT, at(2025, 3, 6, 9), 8, None),
    ("X7", "ecg", "ECG12", "east_v1", "a2", Priority.URGENT, at(2025, 3, 7, 9), 29, None),
    ("X8", "ecg", "ECG12", "east_v1", "a3", READ_AS_STAT, at(2025, 3, 8, 9), 12, None),
    ("X12", "ecg", "ECG12", "east_v2", "b2", Priority.ROUTINE, at(2024, 12, 31, 23, 50), 20, None),
    ("I1", "imaging", "DR-CHEST", "east", "c1", Priority.ROUTINE, at(2025, 5, 1, 8), 600, None),
    ("I2", "imaging", "DR-CHEST", "west", "f2", Priority.URGENT, at(2025, 5, 2, 8), 150, None),
    ("I3", "imaging", "DR-CHEST", "lead", "c2", Priority.ROUTINE, at(2025, 5, 3, 8), 90, None),
    ("L1", "lab", "BMP", "east", "c1", Priority.ROUTINE, at(2025, 6, 1, 8), 100, None),
    ("L2", "lab", "BMP", "east_v2", "b1", Priority.ROUTINE, at(2025, 6, 2, 8), 300, None),
    ("X9", "ecg", "ECG12", "east_v1", "a1", Priority.ROUTINE, at(2024, 12, 20, 9), 15, None),
    ("X10", "ecg", "ECG12", "west_v1", "d2", Priority.ROUTINE, at(2025, 12, 31, 10), None, ExamStatus.ACQUIRED),
    ("X11", "ecg", "ECG12", "west_v2", "e1", Priority.ROUTINE, at(2025, 6, 1, 9), None, ExamStatus.CANCELLED),
    ("P1", "pathology", "BIOPSY", "east", "c1", Priority.ROUTINE, at(2024, 6, 1, 9), 4 * 24 * 60, None),
]


def _exams(c: SmallCounty) -> None:
    types = ensure_exam_types()
    for number, centre, code, requester, resident, priority, acquired, minutes, status in EXAMS:
        reported = None if minutes is None else acquired + minutes * MINUTE
        cancelled = status == ExamStatus.CANCELLED
        c.exams[number] = ExamRequest.objects.create(
            community=c.community, resident=c.residents[resident], exam_type=types[code], centre=c.centres[centre],
            requesting_organization=c.orgs[requester], clinical_question="请协助诊断",
            priority=Priority.ROUTINE if priority == READ_AS_STAT else priority,
            rank=RANK[Priority.STAT if priority == READ_AS_STAT else priority],
            status=status or ExamStatus.PUBLISHED, accession_number=f"{c.community.pk}-{number}", requested_at=acquired,
            acquired_at=None if cancelled else acquired, reported_at=reported,
            cancelled_at=acquired + MINUTE if cancelled else None)
    first = c.exams["X9"]
    c.report = Report.objects.create(request=first, version=1, status=ReportStatus.FINAL, findings="窦性心律",
                                     conclusion="正常心电图", written_at=first.reported_at,
                                     published_at=first.reported_at,
                                     recognised_until=first.reported_at + dt.timedelta(days=400))


# organisation, resident, decision, at
RECOGNITION = [
    ("east_v1", "a1", "avoided", at(2025, 1, 10)), ("east_v1", "a1", "avoided", at(2025, 2, 10)),
    ("east_v1", "a1", "repeated", at(2025, 3, 10)), ("west", "a1", "avoided", at(2025, 4, 10)),
    ("lead", "a1", "repeated", at(2025, 5, 10)), ("east_v2", "a1", "avoided", at(2024, 12, 25)),
]


def _recognition(c: SmallCounty) -> None:
    RecognitionCheck.objects.bulk_create(
        RecognitionCheck(community=c.community, resident=c.residents[resident], exam_type=c.report.request.exam_type,
                         report=c.report, organization=c.orgs[org], decision=decision,
                         reason="" if decision == "avoided" else "病情变化，需复查", at=moment)
        for org, resident, decision, moment in RECOGNITION)


# key, title, home, postings away: (organisation, kind, start, end)
DOCTORS = [
    ("lead_chief", Title.CHIEF_PHYSICIAN, "lead",
     [("east", PostingKind.COUNTY_TO_TOWNSHIP, dt.date(2025, 3, 1), dt.date(2025, 5, 31)),
      ("east", PostingKind.COUNTY_TO_TOWNSHIP, dt.date(2025, 9, 1), dt.date(2025, 11, 30))]),
    ("lead_attending", Title.ATTENDING_PHYSICIAN, "lead",
     [("east", PostingKind.MULTI_SITE, dt.date(2023, 1, 1), dt.date(2025, 1, 1))]),
    ("lead_associate", Title.ASSOCIATE_CHIEF_PHYSICIAN, "lead",
     [("west", PostingKind.COUNTY_TO_TOWNSHIP, dt.date(2023, 1, 1), dt.date(2024, 12, 31))]),
    ("lead_resident", Title.RESIDENT_PHYSICIAN, "lead",
     [("west", PostingKind.COUNTY_TO_TOWNSHIP, dt.date(2025, 1, 1), None)]),
    ("lead_chief_next_year", Title.CHIEF_PHYSICIAN, "lead",
     [("west", PostingKind.COUNTY_TO_TOWNSHIP, dt.date(2026, 1, 1), None)]),
    ("east_attending", Title.ATTENDING_PHYSICIAN, "east",
     [("west", PostingKind.MULTI_SITE, dt.date(2025, 1, 1), None)]),
]


def _doctors(c: SmallCounty) -> None:
    for key, title, home, away in DOCTORS:
        doctor = Practitioner.objects.create(community=c.community, name=f"医生{key}", title=title,
                                             licence_number=f"SC-{key}")
        c.practitioners[key] = doctor
        role = Role.COUNTY_SPECIALIST if home == "lead" else Role.TOWNSHIP_DOCTOR
        Posting.objects.create(practitioner=doctor, organization=c.orgs[home], role=role, kind=PostingKind.HOME,
                               start=dt.date(2015, 1, 1))
        for org, kind, start, end in away:
            Posting.objects.create(practitioner=doctor, organization=c.orgs[org], role=role, kind=kind, start=start,
                                   end=end)


def build_small_county() -> SmallCounty:
    from countycare.core.models import Community

    c = SmallCounty(Community.objects.create(name="城南县医共体", county_name="城南县", division_code=COUNTY_CODE))
    _organisations(c)
    _residents(c)
    _encounters(c)
    _referrals(c)
    _centres(c)
    _exams(c)
    _recognition(c)
    _doctors(c)
    return c


@pytest.fixture
def small_county(db) -> SmallCounty:
    return build_small_county()
