"""The shared diagnostic centres of the generated county (issue #4), and a year of their work.

    load_centres         the lead hospital's ECG, imaging, laboratory and pathology centres with their
                         turnaround targets, their readers (the lead hospital's centre physicians, the
                         partner's ECG experts, the demo reader), a roster of day and night shifts over the
                         year and two weeks beyond, and the duty doctors (值班医生) of the lead hospital and
                         every branch, who receive escalated critical values
    WorklistDay          the reading of one centre's work, event by event: items arrive, readers on the
                         roster claim the top of the worklist (the platform's order: rank, then waiting time),
                         read for a drawn time and report (also used by benchmarks/ecg_centre_day.py)
    load_exams           a year of exams on top of the year's encounters (see below)

Everything draws from its own streams (`stream(seed, "diagnostics", ...)`): the county and its year of
activity are the same with or without the centres. Rates are in this module with their sources;
docs/synthetic-county.md ("Shared diagnostic centres") explains them.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connections

from countycare.core.codes import OrganizationType, PostingKind, Role, Title
from countycare.diagnostics.models import Centre, CentreKind, CentreReader, RosterShift

from .activity import DAY, WINDOW_DAYS, Clock
from .county import stream
from .load import BulkLoader

# --- centres --------------------------------------------------------------------------------------------------
# kind: (name, English name, the lead hospital's department whose physicians read there, turnaround targets in
# minutes routine / urgent / STAT). Targets as docs/diagnostics.md sets them: ECG 30 minutes (DOMAIN.md: an ECG
# taken in a township clinic is read by a county expert within 30 minutes), imaging a day for routine films
# (two hours urgent), laboratory four hours, pathology five working days.
CENTRES: dict[str, tuple[str, str, str, tuple[int, int, int]]] = {
    CentreKind.ECG: ("县域心电诊断中心", "County ECG centre", "32.08", (30, 30, 10)),
    CentreKind.IMAGING: ("县域医学影像诊断中心", "County imaging centre", "32", (1440, 120, 30)),
    CentreKind.LAB: ("县域医学检验中心", "County laboratory centre", "30", (240, 60, 30)),
    CentreKind.PATHOLOGY: ("县域病理诊断中心", "County pathology centre", "31", (7200, 2880, 30)),
}
PHYSICIANS = frozenset({Title.CHIEF_PHYSICIAN, Title.ASSOCIATE_CHIEF_PHYSICIAN, Title.ATTENDING_PHYSICIAN,
                        Title.RESIDENT_PHYSICIAN})
SENIOR_TITLES = frozenset({Title.CHIEF_PHYSICIAN, Title.ASSOCIATE_CHIEF_PHYSICIAN})
# At least this many readers per centre. A small county's lead hospital has one or two centre physicians, so
# the rest come, in this order, from the departments that read that kind of work where no centre physician is
# ("centre": the lead hospital's other centre physicians; "lead": any of its physicians, seniors first).
MIN_READERS = {CentreKind.ECG: 4, CentreKind.IMAGING: 3, CentreKind.LAB: 3, CentreKind.PATHOLOGY: 2}
FALLBACKS = {
    CentreKind.ECG: ("03.04", "03.10", "02", "centre", "lead"),
    CentreKind.IMAGING: ("centre", "03.01", "20", "04.03", "lead"),
    CentreKind.LAB: ("technicians", "centre", "lead"),
    CentreKind.PATHOLOGY: ("centre", "04.01", "05.01", "lead"),
}
# The roster: a day shift 08:00-18:00 and a night shift 18:00-08:00 (local time), every day; pathology works
# weekday day shifts only. Readers on duty per shift grow with the county: per 100,000 residents (at least one),
# sized so the simulated centre meets its targets on an ordinary day (docs/synthetic-county.md).
DAY_SHIFT = (8 * 60, 18 * 60)
NIGHT_SHIFT = (18 * 60, 32 * 60)
ON_DUTY_PER_100K = {  # kind: (day, night)
    CentreKind.ECG: (1.0, 0.25),
    CentreKind.IMAGING: (0.75, 0.25),
    CentreKind.LAB: (0.5, 0.25),
    CentreKind.PATHOLOGY: (0.5, 0.0),
}
ROSTER_AHEAD_DAYS = 14  # the roster is published two weeks ahead, like the slots
SHIFT_COLUMNS = ("id", "organization_id", "centre_id", "practitioner_id", "starts_at", "ends_at")


@dataclass
class Staffer:
    id: int
    title: str
    # (organisation, department code, role, posting kind, from, until) as ordinals
    postings: list[tuple[int, str, str, str, int, int]] = field(default_factory=list)

    def posted(self, org: int, day: int) -> bool:
        return any(o == org and start <= day <= end for o, _, _, _, start, end in self.postings)


@dataclass
class CentrePlan:
    id: int
    kind: str
    organization_id: int
    targets: tuple[int, int, int]
    readers: list[int]  # practitioner ids
    seniors: set[int]
    on_duty: tuple[int, int]  # day, night
    # (practitioner, starts, ends) in minutes of the activity clock (local midnight of the window's first day)
    shifts: list[tuple[int, int, int]] = field(default_factory=list)

    def target(self, priority: str) -> int:
        return self.targets[("routine", "urgent", "stat").index(priority)]


@dataclass
class CentresReport:
    centres: dict[str, CentrePlan]
    duty: dict[int, list[tuple[int, int, int]]]  # organisation -> [(practitioner, starts, ends)]
    rows: dict[str, int] = field(default_factory=dict)


def read_staff(community_id: int, *, using: str = "default") -> tuple[dict[int, Staffer], dict[str, list[int]]]:
    """Practitioners with their postings, and the organisations by type."""
    staff: dict[int, Staffer] = {}
    orgs: dict[str, list[int]] = {}
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT id, org_type FROM registry_organization WHERE community_id = %s AND active "
                       "ORDER BY id", [community_id])
        for org_id, org_type in cursor.fetchall():
            orgs.setdefault(org_type, []).append(org_id)
        cursor.execute(
            "SELECT p.id, p.title, s.organization_id, COALESCE(d.code, ''), s.role, s.kind, s.start, s.end "
            "FROM registry_posting s JOIN registry_practitioner p ON p.id = s.practitioner_id "
            "LEFT JOIN registry_department d ON d.id = s.department_id "
            "WHERE p.community_id = %s AND p.active ORDER BY p.id, s.start, s.id", [community_id])
        for pid, title, org, code, role, kind, start, end in cursor.fetchall():
            person = staff.setdefault(pid, Staffer(pid, title))
            person.postings.append((org, code, role, kind, _ordinal(start), _ordinal(end) if end else 10**7))
    return staff, orgs


def _ordinal(value: Any) -> int:
    return (value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))).toordinal()


def choose_readers(staff: dict[int, Staffer], lead: int, demo_reader: int | None
                   ) -> dict[str, tuple[list[int], set[int]]]:
    """Readers per centre kind (practitioner ids in a stable order) and the seniors among them."""
    def at(code: str, *, role: str | None = Role.CENTRE_READER, titles: frozenset[str] = PHYSICIANS,
           home: bool = False) -> list[int]:
        return [s.id for s in staff.values() if s.title in titles and any(
            o == lead and c == code and (role is None or r == role) and (not home or k == PostingKind.HOME)
            for o, c, r, k, _, _ in s.postings)]

    # the lead hospital's own centre physicians (not the partner's ECG experts), seniors first
    def seniors_first(ids: Iterable[int]) -> list[int]:
        return sorted(set(ids), key=lambda pid: (staff[pid].title not in SENIOR_TITLES, pid))

    # the lead hospital's own centre physicians (not the partner's ECG experts), seniors first
    pools = {
        "centre": seniors_first(pid for kind in CENTRES for pid in at(CENTRES[kind][2], home=True)),
        "technicians": [pid for code in ("30", "31") for pid in at(code, titles=frozenset({Title.TECHNICIAN}))],
        "lead": seniors_first(s.id for s in staff.values() if s.title in PHYSICIANS and any(
            o == lead and k == PostingKind.HOME for o, _, _, k, _, _ in s.postings)),
    }
    result = {}
    for kind, (_, _, code, _) in CENTRES.items():
        readers = at(code)  # the centre's own physicians, and the partner's ECG experts posted there (多点执业)
        if kind == CentreKind.LAB:
            readers += [pid for pid in at(code, titles=frozenset({Title.TECHNICIAN}))]  # 检验技师 release results
        for fallback in FALLBACKS[kind]:
            if len(readers) >= MIN_READERS[kind]:
                break
            pool = pools.get(fallback) or seniors_first(at(fallback, role=None, home=True))
            readers += [pid for pid in pool if pid not in readers][: MIN_READERS[kind] - len(readers)]
        if demo_reader is not None and kind in (CentreKind.ECG, CentreKind.IMAGING) and demo_reader not in readers:
            readers.append(demo_reader)
        seniors = {pid for pid in readers if staff[pid].title in SENIOR_TITLES}
        if demo_reader in readers:
            seniors.add(demo_reader)  # the demo reader can give second readings
        if readers and not seniors:
            seniors.add(readers[0])
        result[kind] = (readers, seniors)
    return result


def on_duty(kind: str, population: int) -> tuple[int, int]:
    day, night = ON_DUTY_PER_100K[kind]
    return max(1, round(day * population / 100_000)), (max(1, round(night * population / 100_000)) if night else 0)


def rota(rng: random.Random, people: Sequence[int], days: int, first_day: dt.date, day_count: int,
         night_count: int, *, weekdays_only: bool = False) -> list[tuple[int, int, int]]:
    """Shifts (practitioner, starts, ends) in clock minutes: a rotation through the people, so each works
    about the same number of shifts, nobody does a day shift straight after a night (when there are enough of
    them) and, where there are, readers rest on some days."""
    if not people:
        return []
    order = list(people)
    rng.shuffle(order)
    shifts: list[tuple[int, int, int]] = []
    turn = 0
    last_night: set[int] = set()
    for day in range(days):
        if weekdays_only and (first_day + dt.timedelta(days=day)).weekday() >= 5:
            last_night = set()
            continue
        taken: list[int] = []
        for count, (begin, end) in ((day_count, DAY_SHIFT), (night_count, NIGHT_SHIFT)):
            for _ in range(count):
                for _ in range(len(order)):
                    candidate = order[turn % len(order)]
                    turn += 1
                    fresh = candidate not in taken and (begin != DAY_SHIFT[0] or candidate not in last_night)
                    if fresh or len(order) <= len(taken) + 1:
                        break
                taken.append(candidate)
                shifts.append((candidate, day * DAY + begin, day * DAY + end))
        last_night = {pid for pid, start, _ in shifts[-night_count:] if start % DAY == NIGHT_SHIFT[0]} \
            if night_count else set()
    return shifts


def load_centres(community_id: int, *, seed: int, as_of: dt.date, loader: BulkLoader, population: int,
                 demo_reader: int | None = None) -> CentresReport:
    """The lead hospital's four centres, their readers and roster, and the duty doctors' roster of the lead
    hospital and every branch, from the first day of the activity window to ROSTER_AHEAD_DAYS after the as-of
    day."""
    using = loader.connection.alias
    staff, orgs = read_staff(community_id, using=using)
    lead = orgs[OrganizationType.LEAD_HOSPITAL][0]
    clock = Clock(as_of, "+00" if loader.vendor == "postgresql" else "")
    days = WINDOW_DAYS + ROSTER_AHEAD_DAYS
    rng = stream(seed, "diagnostics", "roster")
    readers = choose_readers(staff, lead, demo_reader)
    plans: dict[str, CentrePlan] = {}
    for kind, (name, name_en, _, targets) in CENTRES.items():
        routine, urgent, stat = targets
        centre = Centre.objects.using(using).create(
            community_id=community_id, organization_id=lead, kind=kind, name=name, name_en=name_en,
            quality_controlled=True, target_routine_minutes=routine, target_urgent_minutes=urgent,
            target_stat_minutes=stat)
        people, seniors = readers[kind]
        plan = CentrePlan(centre.pk, kind, lead, targets, people, seniors, on_duty(kind, population))
        plan.shifts = rota(rng, people, days, clock.first_day, *plan.on_duty,
                           weekdays_only=kind == CentreKind.PATHOLOGY)
        plans[kind] = plan
    CentreReader.objects.using(using).bulk_create([
        CentreReader(centre_id=plan.id, practitioner_id=pid, senior=pid in plan.seniors)
        for plan in plans.values() for pid in plan.readers])
    duty: dict[int, list[tuple[int, int, int]]] = {}
    branches = orgs.get(OrganizationType.COMMUNITY_CENTRE, []) + orgs.get(OrganizationType.TOWNSHIP_CENTRE, [])
    for org in [lead, *sorted(branches)]:
        duty[org] = duty_rota(rng, staff, org, lead, clock.first_day, days)
    at = clock.text
    rows = [(plan.organization_id, plan.id, pid, at(start), at(end))
            for plan in plans.values() for pid, start, end in plan.shifts]
    rows += [(org, None, pid, at(start), at(end)) for org, shifts in duty.items() for pid, start, end in shifts]
    first = loader.reserve_ids(RosterShift, len(rows))
    loader.load(RosterShift, SHIFT_COLUMNS, [(first + k, *row) for k, row in enumerate(rows)])
    return CentresReport(plans, duty, {
        "diagnostics.Centre": len(plans), "diagnostics.CentreReader": sum(len(p.readers) for p in plans.values()),
        "diagnostics.RosterShift": len(rows)})


def duty_rota(rng: random.Random, staff: dict[int, Staffer], org: int, lead: int, first_day: dt.date,
              days: int) -> list[tuple[int, int, int]]:
    """One duty doctor per shift, day and night, among the organisation's physicians posted there that day (a
    branch's own doctors and the lead-hospital doctor posted down to it; the lead hospital's emergency
    physicians, or its physicians)."""
    titles = PHYSICIANS | {Title.ASSISTANT_PHYSICIAN}

    def doctors(codes: Iterable[str] | None) -> list[Staffer]:
        return [s for s in staff.values() if s.title in titles and any(
            o == org and (codes is None or c in codes) and r in (Role.TOWNSHIP_DOCTOR, Role.COUNTY_SPECIALIST)
            for o, c, r, _, _, _ in s.postings)]

    pool = (doctors(("20",)) or doctors(("03.04", "03.01", "02"))) if org == lead else doctors(None)
    if not pool:
        return []
    rng.shuffle(pool)
    shifts = []
    turn = 0
    first = first_day.toordinal()
    for day in range(days):
        for begin, end in (DAY_SHIFT, NIGHT_SHIFT):
            for _ in range(len(pool)):
                person = pool[turn % len(pool)]
                turn += 1
                if person.posted(org, first + day):
                    shifts.append((person.id, day * DAY + begin, day * DAY + end))
                    break
    return shifts


def ensure_on_duty(practitioner_id: int, *, now: dt.datetime, hours: int = 12,
                   kinds: Sequence[str] = (CentreKind.ECG, CentreKind.IMAGING)) -> int:
    """The demo reader on duty now at the ECG and imaging centres they read for (a shift from an hour ago for
    `hours`), unless a shift of theirs already covers now. Returns the shifts added."""
    added = 0
    for reader in CentreReader.objects.filter(practitioner_id=practitioner_id, active=True,
                                              centre__kind__in=kinds).select_related("centre"):
        covered = RosterShift.objects.filter(centre=reader.centre, practitioner_id=practitioner_id,
                                             starts_at__lte=now, ends_at__gt=now).exists()
        if not covered:
            RosterShift.objects.create(organization=reader.centre.organization, centre=reader.centre,
                                       practitioner_id=practitioner_id, starts_at=now - dt.timedelta(hours=1),
                                       ends_at=now + dt.timedelta(hours=hours))
            added += 1
    return added


# --- reading a centre's work ------------------------------------------------------------------------------------
@dataclass
class Item:
    """One exam at a centre's worklist: when it was acquired (minutes), its worklist rank (the platform's
    `ExamRequest.rank`), how long it takes to read, and an index the caller knows it by."""

    index: int
    arrival: float
    rank: int
    read_minutes: float
    claimed: float | None = None
    reported: float | None = None
    reader: int | None = None


class WorklistDay:
    """A discrete-event simulation of readers working a centre's worklist.

    Items arrive at their acquisition time. A reader on duty and free claims the top of the worklist in the
    platform's order (`queries.worklist`: rank descending, then acquisition time, the longest waiting first),
    after a short response delay (the worklist page refreshes, the reader finishes a sentence), reads for the
    item's reading time and reports. A reader whose shift ends finishes the item in hand; work left when
    nobody is on duty waits for the next shift. `claim` and `report` let a caller do the same on a database
    (benchmarks/ecg_centre_day.py); by default the worklist is a heap on the same key."""

    def __init__(self, shifts: Iterable[tuple[int, float, float]], *, response: Callable[[], float] | None = None,
                 claim: Callable[[int, float], Item | None] | None = None,
                 arrive: Callable[[Item, float], None] | None = None,
                 report: Callable[[Item, int, float], None] | None = None) -> None:
        self.shifts = sorted(shifts, key=lambda s: (s[1], s[0]))
        self.response = response or (lambda: 0.0)
        self._claim, self._arrive, self._report = claim, arrive, report
        self.heap: list[tuple[int, float, int, Item]] = []

    def claim(self, reader: int, now: float) -> Item | None:
        if self._claim is not None:
            return self._claim(reader, now)
        if not self.heap:
            return None
        return heapq.heappop(self.heap)[3]

    def run(self, items: Sequence[Item], until: float = math.inf) -> None:
        """Work through the items; each read before `until` gets claimed/reported/reader (an item claimed before
        `until` is finished after it)."""
        # events: (time, order, seq, payload); at the same minute a finished read comes first, then arrivals,
        # shift ends, shift starts, and readers looking at the worklist
        FINISH, ARRIVE, END, START, LOOK = range(5)
        events: list[tuple[float, int, int, Any]] = []
        seq = 0
        for item in items:
            events.append((item.arrival, ARRIVE, seq, item))
            seq += 1
        for reader, start, end in self.shifts:
            events.append((start, START, seq, reader))
            events.append((end, END, seq + 1, reader))
            seq += 2
        heapq.heapify(events)
        duty: dict[int, int] = {}  # reader -> shifts open now
        idle: set[int] = set()  # on duty and free
        looking: set[int] = set()  # free readers about to look at the worklist

        def look(reader: int, now: float) -> None:
            nonlocal seq
            if reader not in looking:
                looking.add(reader)
                heapq.heappush(events, (now + self.response(), LOOK, seq, reader))
                seq += 1

        while events:
            now, kind, _, payload = heapq.heappop(events)
            if now >= until and kind != FINISH:
                continue
            if kind == FINISH:
                item, reader = payload
                item.reported = now
                if self._report is not None:
                    self._report(item, reader, now)
                if duty.get(reader):
                    idle.add(reader)
                    look(reader, now)
            elif kind == ARRIVE:
                if self._arrive is not None:
                    self._arrive(payload, now)
                else:
                    heapq.heappush(self.heap, (-payload.rank, payload.arrival, payload.index, payload))
                for reader in sorted(idle):
                    look(reader, now)
            elif kind == START:
                duty[payload] = duty.get(payload, 0) + 1
                if duty[payload] == 1:
                    idle.add(payload)
                    look(payload, now)
            elif kind == END:
                duty[payload] = duty.get(payload, 1) - 1
                if not duty[payload]:
                    idle.discard(payload)
            else:  # LOOK
                looking.discard(payload)
                if payload not in idle:
                    continue
                item = self.claim(payload, now)
                if item is None:
                    continue
                idle.discard(payload)
                item.claimed, item.reader = now, payload
                heapq.heappush(events, (now + item.read_minutes, FINISH, seq, (item, payload)))
                seq += 1


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(sigma * rng.gauss(0.0, 1.0))


# --- ECG recordings: a pool simulated with neurokit2 --------------------------------------------------------
# Rhythm classes of the ECGs the grassroots send: (name, ecg.simulate rhythm, heart rates of the pool's
# recordings, a critical rhythm (truth), share of the ECGs, report template). Shares are our choice for
# symptomatic and chronic patients sent from clinics (docs/synthetic-county.md): AF affects ~1.8% of Chinese
# adults over 35 and ~5% over 75 (China Hypertension Survey, Du et al., 2021), more among those an ECG is taken
# for; critical ECGs (危急值: ventricular rate <40 or >=180, AF with a rapid ventricular response, wide-QRS
# tachycardia) are ~1% of ECGs in hospital series, here 2% because clinics send the symptomatic.
RHYTHMS: tuple[tuple[str, str, tuple[int, ...], bool, float, str], ...] = (
    ("sinus", "sinus", (60, 66, 72, 78, 84, 92), False, 0.705, "ecg-normal"),
    ("sinus_brady", "brady", (46, 52, 56), False, 0.06, "ecg-sinus-brady"),
    ("sinus_tachy", "tachy", (106, 116, 128), False, 0.07, "ecg-sinus-tachy"),
    ("af", "af", (76, 92, 112), False, 0.07, "ecg-af"),
    ("wide_qrs", "wide_qrs", (68, 80), False, 0.025, "ecg-lbbb"),
    ("noisy", "noisy", (70, 82), False, 0.05, "ecg-normal"),
    ("extreme_brady", "brady", (34, 37), True, 0.006, "ecg-sinus-brady"),
    ("extreme_tachy", "tachy", (184, 192), True, 0.004, "ecg-sinus-tachy"),
    ("af_rvr", "af", (182, 190), True, 0.006, "ecg-af"),
    ("wide_qrs_tachy", "wide_qrs", (168, 176), True, 0.004, "ecg-lbbb"),
)
CRITICAL_RHYTHM_RULES = {"extreme_brady": "ecg:extreme_brady", "extreme_tachy": "ecg:extreme_tachy",
                         "af_rvr": "ecg:af_rvr", "wide_qrs_tachy": "ecg:wide_qrs_tachy"}
ECG_SECONDS = 10
ECG_RATE = 500


@dataclass
class PoolRecording:
    name: str  # record name, e.g. "af-092-1"
    rhythm_class: str
    heart_rate: int
    header: bytes
    data: bytes
    pre_read: Any  # ecg.PreRead
    sample_rate: int
    lead_names: list[str]


def simulate_pool(seed: int, *, per_rate: int = 1) -> list[PoolRecording]:
    """One recording per class and heart rate (`per_rate` of each, with different noise): simulated with
    neurokit2 through `diagnostics.ecg.simulate`, written as WFDB and pre-read by `ecg.analyse` exactly as an
    upload would be."""
    from countycare.diagnostics import ecg

    pool = []
    for name, rhythm, rates_, _, _, _ in RHYTHMS:
        for rate in rates_:
            for copy in range(per_rate):
                record = f"{name.replace('_', '-')}-{rate:03d}-{copy + 1}"
                recording = ecg.simulate(heart_rate=rate, rhythm=rhythm, duration=ECG_SECONDS, sample_rate=ECG_RATE,
                                         seed=_seed_of(seed, record))
                header, data = ecg.write_wfdb(recording, record)
                pool.append(PoolRecording(record, name, rate, header, data, ecg.analyse(recording),
                                          recording.sample_rate, list(recording.lead_names)))
    return pool


def _seed_of(seed: int, *parts: object) -> int:
    return stream(seed, "diagnostics", *parts).getrandbits(31)
