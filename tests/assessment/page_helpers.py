"""A few months of activity in the test county of tests/conftest.py (its cast of users signs in to the pages), the
materialisation of those months, and readers of what the assessment pages show.

Each month of activity (local time, Asia/Shanghai), by the resident's home organisation:

    张三 zhang_san (东村 east_v1): outpatient at 东村, outpatient at the lead hospital, a stay at the provincial
        partner hospital (known from a claim, 30,000 yuan); up-referral 东村 → lead, completed
    曾丽 zeng_li (南村 east_v2): a TCM outpatient visit at 南村, and `extra` more outpatient visits there
    李四 li_si (东镇 east): a stay at the lead hospital (8,000 yuan), an outpatient visit at the partner hospital;
        up-referral 东镇 → lead, expired; down-referral lead → 东镇, still requested
    王五 wang_wu (西村 west_v1): outpatient at 西村, a stay at 西镇 (3,000 yuan); up-referral 西村 → 西镇, rejected
    赵六 resident_self (西村 west_v1): emergency at the lead hospital; out-of-county referral lead → partner,
        completed

So a month has 9 + extra visits of which 7 + extra in the county, 4 + extra at the branches and village clinics,
2 in-county discharges costing 11,000 yuan, 3 up-referrals … The township doctor of 东镇 sees 张三, 曾丽
and 李四, not 王五 or 赵六. The county specialist (chief physician of the lead hospital) is posted to
东镇 (县管乡用) all year; the lead hospital hosts a centre of each kind (tests/diagnostics/helpers.py), and
each month 东村 sends 张三's ECG (reported in 12 minutes, within the 30-minute target) and 西村 王五's
blood panel (reported in 300 minutes, over the 240 of the target).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from tests.conftest import allow_flush_after_test, build_county
from tests.diagnostics.helpers import ensure_exam_types, make_centres

from countycare.assessment import services
from countycare.assessment.models import ComputationRun, IndicatorResult, PeriodKind
from countycare.core.codes import PostingKind, Role
from countycare.diagnostics.models import ExamRequest, ExamStatus, Priority
from countycare.records.models import Encounter, EncounterKind, EncounterSource, EncounterStatus
from countycare.referrals.models import Referral, ReferralKind, ReferralStatus
from countycare.registry.models import Posting

YEAR = 2025
MONTH = 3  # the month most page tests materialise
OP, EM, IP = EncounterKind.OUTPATIENT, EncounterKind.EMERGENCY, EncounterKind.INPATIENT
STAFF = [r for r in Role.values if r != Role.RESIDENT]
STAFF_USERS = ["village_doctor", "township_doctor", "county_specialist", "centre_reader", "pharmacist",
               "insurance_officer", "community_admin", "bureau_viewer", "cdc_officer"]

# resident, organisation, kind, day, days in hospital, cost, TCM
ENCOUNTERS = [
    ("zhang_san", "east_v1", OP, 2, 0, 0, False),
    ("zhang_san", "lead", OP, 4, 0, 0, False),
    ("zhang_san", "partner", IP, 6, 5, 30000, False),
    ("zeng_li", "east_v2", OP, 3, 0, 0, True),
    ("li_si", "lead", IP, 5, 4, 8000, False),
    ("li_si", "partner", OP, 14, 0, 0, False),
    ("wang_wu", "west_v1", OP, 7, 0, 0, False),
    ("wang_wu", "west", IP, 10, 2, 3000, False),
    ("resident_self", "lead", EM, 11, 0, 0, False),
]
# resident, kind, from, to, status, day
REFERRALS = [
    ("zhang_san", ReferralKind.UP, "east_v1", "lead", ReferralStatus.COMPLETED, 4),
    ("li_si", ReferralKind.UP, "east", "lead", ReferralStatus.EXPIRED, 5),
    ("li_si", ReferralKind.DOWN, "lead", "east", ReferralStatus.REQUESTED, 9),
    ("wang_wu", ReferralKind.UP, "west_v1", "west", ReferralStatus.REJECTED, 8),
    ("resident_self", ReferralKind.OUT_OF_COUNTY, "lead", "partner", ReferralStatus.COMPLETED, 12),
]
IN_SCOPE_OF_EAST = {"zhang_san", "zeng_li", "li_si"}  # homed at 东镇 and its village clinics
OUT_OF_SCOPE_OF_EAST = {"wang_wu", "resident_self"}
# resident, exam type, centre kind, requesting organisation, day, minutes from acquisition to report
EXAMS = [
    ("zhang_san", "ECG12", "ecg", "east_v1", 2, 12),
    ("wang_wu", "BMP", "lab", "west_v1", 7, 300),
]


def local(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime(year, month, day, hour, minute))


def computed_at(year: int, month: int) -> dt.datetime:
    """When the month is materialised: 02:00 on the first day of the next month."""
    first = dt.date(year, month, 1) + dt.timedelta(days=32)
    return local(first.year, first.month, 1, 2, 0)


def prepare(county) -> None:
    """What stays all year: the senior doctor posted to 东镇, the centres, the exam types."""
    post_senior(county)
    county.centres = make_centres(county)
    county.exam_types = ensure_exam_types()


def add_month(county, year: int = YEAR, month: int = MONTH, extra: int = 0) -> None:
    """One month of the activity above (with `extra` more grassroots visits for 曾丽), straight through the ORM
    (`prepare` first)."""
    rows = []
    for resident, org, kind, day, stay, cost, tcm in ENCOUNTERS:
        start = local(year, month, day)
        outside = org == "partner"
        rows.append(Encounter(
            community=county.community, resident=county.residents[resident], organization=county.orgs[org], kind=kind,
            status=EncounterStatus.FINISHED, source=EncounterSource.CLAIM if outside else EncounterSource.CLINICAL,
            started_at=start, ended_at=start + (dt.timedelta(days=stay) if kind == IP else dt.timedelta(minutes=20)),
            is_tcm=tcm, cost_beds=Decimal(cost), cost_total=Decimal(cost), chief_complaint="头晕"))
    for n in range(extra):
        start = local(year, month, 15 + n % 10, 10 + n // 10)
        rows.append(Encounter(
            community=county.community, resident=county.residents["zeng_li"], organization=county.orgs["east_v2"],
            kind=OP, status=EncounterStatus.FINISHED, source=EncounterSource.CLINICAL, started_at=start,
            ended_at=start + dt.timedelta(minutes=15), chief_complaint="复诊"))
    Encounter.objects.bulk_create(rows)
    Referral.objects.bulk_create(
        Referral(community=county.community, resident=county.residents[resident], kind=kind, status=status,
                 from_organization=county.orgs[sender], to_organization=county.orgs[receiver], reason="进一步诊治",
                 requested_at=local(year, month, day, 15), due_at=local(year, month, day, 15) + dt.timedelta(days=7))
        for resident, kind, sender, receiver, status, day in REFERRALS)
    for resident, exam, centre, requester, day, minutes in EXAMS:
        acquired = local(year, month, day, 10)
        ExamRequest.objects.create(
            community=county.community, resident=county.residents[resident], exam_type=county.exam_types[exam],
            centre=county.centres[centre], requesting_organization=county.orgs[requester], clinical_question="随访",
            priority=Priority.ROUTINE, status=ExamStatus.PUBLISHED,
            accession_number=f"{county.community.pk}-{year}{month:02d}-{exam}", requested_at=acquired,
            acquired_at=acquired, reported_at=acquired + dt.timedelta(minutes=minutes))


def post_senior(county) -> None:
    """The lead hospital's chief physician posted to 东镇 for the year (县管乡用)."""
    Posting.objects.create(practitioner=county.practitioners["county_specialist"], organization=county.orgs["east"],
                           role=Role.COUNTY_SPECIALIST, kind=PostingKind.COUNTY_TO_TOWNSHIP,
                           start=dt.date(YEAR, 1, 1), end=dt.date(YEAR, 12, 31))


def materialise_month(county, year: int = YEAR, month: int = MONTH) -> ComputationRun:
    start = dt.date(year, month, 1)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return services.materialise_period(community_id=county.community.pk, start=start, end=end, kind=PeriodKind.MONTH,
                                       now=computed_at(year, month))


def materialise_year(county, year: int = YEAR) -> ComputationRun:
    return services.materialise_period(community_id=county.community.pk, start=dt.date(year, 1, 1),
                                       end=dt.date(year + 1, 1, 1), kind=PeriodKind.YEAR,
                                       now=local(year + 1, 1, 1, 3, 0))


def key_of(run: ComputationRun) -> str:
    return f"{run.period_start.isoformat()}_{run.period_end.isoformat()}"


def stored(run: ComputationRun, code: str, unit_key: str = "county") -> IndicatorResult:
    return IndicatorResult.objects.get(run=run, code=code, unit_key=unit_key)


@pytest.fixture
def march(county):
    """The county with March 2025's activity and the senior posting, March materialised; the run."""
    prepare(county)
    add_month(county)
    return materialise_month(county)


@pytest.fixture
def live_months(request, transactional_db, django_db_blocker):
    """The county committed for a live server: January to April 2025 (a little busier each month at the
    grassroots), each month and the year materialised."""
    county = build_county()
    prepare(county)
    for n, month in enumerate(range(1, 5)):
        add_month(county, YEAR, month, extra=3 * n)
        materialise_month(county, YEAR, month)
    county.year_run = materialise_year(county)
    yield county
    allow_flush_after_test(request, django_db_blocker)


# --- reading the pages -------------------------------------------------------------------------------------

def text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def kpis(body: str) -> dict[str, str]:
    """The headline cards on a page: {indicator code: the value as shown, without its unit}."""
    found = re.findall(r'data-testid="kpi-([a-z0-9_]+)".*?<div class="kpi-value">(.*?)<span class="kpi-unit">',
                       body, re.S)
    return {code: text_of(value) for code, value in found}


def number(shown: str) -> Decimal | None:
    """A value as the pages show it, as a number in the indicator's own terms: "77.8%" → 0.778, "1,234" → 1234,
    "+1.50" → 1.50, "—" → None."""
    shown = shown.strip()
    if shown == "—":
        return None
    if shown.endswith("%"):
        return Decimal(shown[:-1].replace(",", "")) / 100
    return Decimal(shown.replace(",", ""))


def shown_precision(shown: str) -> Decimal:
    """Half the last digit the page shows, in the indicator's own terms ("77.8%" → 0.0005)."""
    text = shown.strip().rstrip("%")
    places = len(text.split(".")[1]) if "." in text else 0
    half = Decimal(5) / Decimal(10) ** (places + 1)
    return half / 100 if shown.strip().endswith("%") else half


def record_counts(body: str) -> tuple[int, int | None]:
    """(records listed in all, of which counted in the numerator) from the records page's subtitle."""
    subtitle = text_of(re.search(r'<p class="subtitle">(.*?)</p>', body, re.S).group(1))
    total = int(re.search(r"您可查看 (\d+) 条记录", subtitle).group(1))
    counted = re.search(r"其中 (\d+) 条计入分子", subtitle)
    return total, int(counted.group(1)) if counted else None


def record_rows(body: str) -> list[str]:
    """The records table's rows, as text."""
    table = body.split('data-testid="records"')[1].split("</table>")[0]
    return [text_of(row) for row in re.findall(r'<tr class="counted-(?:yes|no)">(.*?)</tr>', table, re.S)]
