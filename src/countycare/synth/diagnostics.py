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
from decimal import Decimal
from typing import Any

from django.db import connections

from countycare.core.codes import OrganizationType, PostingKind, Role, Title
from countycare.diagnostics.models import (
    Acquisition,
    Attachment,
    Blob,
    Centre,
    CentreKind,
    CentreReader,
    CriticalAlert,
    CriticalAlertEvent,
    CriticalRule,
    EcgPreRead,
    ExamEvent,
    ExamRequest,
    ExamType,
    RecognitionCheck,
    Report,
    ReportTemplate,
    RosterShift,
)
from countycare.records.models import Observation

from .activity import (
    DAY,
    END_MINUTE,
    LEVEL_OF_TYPE,
    LOCAL,
    OBSERVATION_COLUMNS,
    UUID_CLEAR,
    UUID_SET,
    WINDOW_DAYS,
    Clock,
)
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
    CentreKind.ECG: (1.5, 0.5),
    CentreKind.IMAGING: (1.25, 0.5),
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
class Item:
    """One exam on a centre's worklist: when it reaches the worklist (minutes), its worklist rank (the platform's
    `ExamRequest.rank`), how long it takes to read, and, for a preliminary report that a senior reader must
    confirm, the second reading's time. After the run: who claimed it when, when it was reported, and the
    preliminary reading (claimed, reported, reader) when there was one."""

    __slots__ = ("index", "arrival", "rank", "read_minutes", "second_minutes", "claimed", "reported", "reader",
                 "first")

    def __init__(self, index: int, arrival: float, rank: int, read_minutes: float,
                 second_minutes: float | None = None) -> None:
        self.index, self.arrival, self.rank, self.read_minutes = index, arrival, rank, read_minutes
        self.second_minutes = second_minutes
        self.claimed: float | None = None
        self.reported: float | None = None
        self.reader: int | None = None
        self.first: tuple[float, float, int] | None = None

    def waiting_second(self) -> bool:
        return self.first is not None and self.reader is None


class WorklistDay:
    """A discrete-event simulation of readers working a centre's worklist.

    Items arrive when acquired. A reader on duty and free looks at the worklist after a short response delay
    (the page refreshes, a sentence is finished) and claims the top item in the platform's order
    (`queries.worklist`: rank descending, then acquisition time, the longest waiting first), reads it for its
    reading time and reports. An item needing a second reading goes back on the worklist after its
    preliminary report, for a senior reader other than its author (`seniors`). A reader whose shift ends
    finishes the item in hand; work left when nobody is on duty waits for the next shift. `claim`, `arrive` and
    `report` let a caller do the same on a database (benchmarks/ecg_centre_day.py); by default the worklist is
    a heap on the same key."""

    def __init__(self, shifts: Iterable[tuple[int, float, float]], *, seniors: Iterable[int] = (),
                 response: Callable[[], float] | None = None,
                 claim: Callable[[int, float], Item | None] | None = None,
                 arrive: Callable[[Item, float], None] | None = None,
                 report: Callable[[Item, int, float], None] | None = None) -> None:
        self.shifts = sorted(shifts, key=lambda s: (s[1], s[0]))
        self.seniors = frozenset(seniors)
        self.response = response or (lambda: 0.0)
        self._claim, self._arrive, self._report = claim, arrive, report
        self.heap: list[tuple[int, float, int, Item]] = []

    def push(self, item: Item) -> None:
        heapq.heappush(self.heap, (-item.rank, item.arrival, item.index, item))

    def claim(self, reader: int, now: float) -> Item | None:
        if self._claim is not None:
            return self._claim(reader, now)
        skipped = []
        found = None
        while self.heap:
            entry = heapq.heappop(self.heap)
            item = entry[3]
            if not item.waiting_second() or (reader in self.seniors and item.first[2] != reader):  # type: ignore
                found = item
                break
            skipped.append(entry)
        for entry in skipped:
            heapq.heappush(self.heap, entry)
        return found

    def run(self, items: Sequence[Item], until: float = math.inf) -> None:
        """Work through the items; an item claimed before `until` is finished (after it, if need be), nothing is
        claimed from `until` on."""
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

        def everyone_looks(now: float) -> None:
            for reader in sorted(idle):
                look(reader, now)

        while events:
            now, kind, _, payload = heapq.heappop(events)
            if now >= until and kind != FINISH:
                continue
            if kind == FINISH:
                item, reader = payload
                if item.second_minutes is not None and item.first is None:  # a preliminary report
                    item.first = (item.claimed, now, reader)
                    item.claimed, item.reader = None, None
                    if self._report is not None:
                        self._report(item, reader, now)
                    if self._arrive is None:
                        self.push(item)
                    everyone_looks(now)
                else:
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
                    self.push(payload)
                everyone_looks(now)
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
                minutes = item.second_minutes if item.first is not None else item.read_minutes
                heapq.heappush(events, (now + minutes, FINISH, seq, (item, payload)))
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
    ("sinus_brady", "brady", (44, 46, 49), False, 0.06, "ecg-sinus-brady"),
    ("sinus_tachy", "tachy", (106, 116, 128), False, 0.07, "ecg-sinus-tachy"),
    ("af", "af", (76, 92, 112), False, 0.07, "ecg-af"),
    ("wide_qrs", "wide_qrs", (68, 80), False, 0.025, "ecg-lbbb"),
    ("noisy", "noisy", (70, 82), False, 0.05, "ecg-normal"),
    ("extreme_brady", "brady", (34, 37), True, 0.006, "ecg-sinus-brady"),
    ("extreme_tachy", "tachy", (184, 192), True, 0.004, "ecg-sinus-tachy"),
    ("af_rvr", "af", (182, 190), True, 0.006, "ecg-af"),
    ("wide_qrs_tachy", "wide_qrs", (168, 176), True, 0.004, "ecg-lbbb"),
)
# The critical-value rule (data/critical_rules.csv) a reader confirms for each critical rhythm.
CRITICAL_RHYTHM_RULES = {"extreme_brady": "severe_bradycardia", "extreme_tachy": "severe_tachycardia",
                         "af_rvr": "af_rapid", "wide_qrs_tachy": "wide_qrs_tachycardia"}
ECG_SECONDS = 10
ECG_RATE = 500
NEUROKIT_SINUS_RATES = (64, 88)  # sinus recordings made by neurokit2's ecg_simulate(method="multileads") itself


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
    """One recording per class and heart rate (`per_rate` of each, with different noise), simulated with
    `diagnostics.ecg.simulate` (ECGSYN's wave model, as in neurokit2), plus sinus rhythms simulated by
    neurokit2's `ecg_simulate` itself; written as WFDB and pre-read by `ecg.analyse` exactly as an upload would
    be."""
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
    # and sinus rhythms from neurokit2's own 12-lead simulation (other wave shapes: a small QRS in lead II)
    import neurokit2 as nk

    for rate in NEUROKIT_SINUS_RATES:
        record = f"nk-sinus-{rate:03d}-1"
        frame = nk.ecg_simulate(duration=ECG_SECONDS, sampling_rate=ECG_RATE, heart_rate=rate, method="multileads",
                                random_state=_seed_of(seed, record))
        recording = ecg.Recording(ECG_RATE, list(frame.columns), frame.to_numpy())
        header, data = ecg.write_wfdb(recording, record)
        pool.append(PoolRecording(record, "sinus", rate, header, data, ecg.analyse(recording), ECG_RATE,
                                  list(recording.lead_names)))
    return pool


def _seed_of(seed: int, *parts: object) -> int:
    return stream(seed, "diagnostics", *parts).getrandbits(31)


# --- a year of exams ------------------------------------------------------------------------------------------
# What the year's encounters ask of the centres. Each rule: the exam, and the probability an encounter of that
# kind gets it. Sources and reasoning in docs/synthetic-county.md ("Shared diagnostic centres"); in short:
#  - the annual health check of the national basic public health service (国家基本公共卫生服务规范 第三版,
#    老年人健康管理: blood count, liver and kidney function, fasting glucose, lipids, ECG, abdominal ultrasound
#    once a year for those 65 and over) rides on one chronic follow-up a year of 60% of the managed 65+
#    patients (the elderly health-management rate is ~60-70% in county reports);
#  - HbA1c for managed diabetics about twice a year (指南: every 3-6 months);
#  - sickness visits by diagnosis: ECGs for chest pain, palpitations, syncope, heart disease; troponin for
#    chest pain; chest films for pneumonia; limb films for injuries; head CT for stroke and head injury;
#    abdominal ultrasound for abdominal pain and gallstones; blood counts for fevers and infections;
#  - admission routine (入院常规): blood count, metabolic panel, ECG (adults 40+), chest film;
#  - pathology: biopsies of cancer patients' admissions, some gastroscopy biopsies, frozen sections in surgery.
# Rates are our choice; they give ~1 ECG per 1,000 residents a day (a 400,000 county's ECG centre reads ~380 a
# day, in line with county remote-ECG centres' reported 100,000-150,000 a year).
CARDIAC = frozenset({"I10", "I20", "I21", "I25", "I48", "I49", "I50", "R00", "R07", "R55"})
ACUTE_CARDIAC = frozenset({"I21", "R07", "R55"})
STROKE = frozenset({"I61", "I63", "I64", "G45"})
PNEUMONIA = frozenset({"J18", "J15", "J13"})
RESPIRATORY = frozenset({"J20", "J44", "R05", "J45", "A15", "A16"})
FRACTURE = frozenset({"S52", "S72", "S42", "S82"})
LIMB = frozenset({"S93", "T14", "M17", "M25"})
ABDOMEN = frozenset({"R10", "K80", "K81", "K35", "K76", "N20"})
INFECTION = frozenset({"R50", "J06", "J03", "J18", "J20", "A09", "N39", "L02", "K35"})
ANNUAL_CHECK_AGE = 65
ANNUAL_CHECK_SHARE = 0.60
ANNUAL_PER_FOLLOW_UP = 1 - (1 - ANNUAL_CHECK_SHARE) ** 0.25  # four follow-ups a year
HBA1C_PER_FOLLOW_UP = 0.25  # of a diabetic's follow-ups (four a year): about once or twice a year
QC_RETURN = {"ECG12": 0.0, "DR-CHEST": 0.015, "DR-LIMB": 0.015, "CT-HEAD": 0.005, "CT-CHEST": 0.005,
             "US-ABD": 0.01}
NOISY_RETURNED = 0.6  # ECGs with a poor signal the centre sends back to be taken again
CANCELLED = 0.008  # requests cancelled before the acquisition (the patient left, the order was a mistake)
REVISED = 0.004  # published ECG, imaging and pathology reports revised later (every version kept)
SECOND_READING = {"ECG12": 0.02, "DR-CHEST": 0.05, "DR-LIMB": 0.05, "US-ABD": 0.05, "CT-HEAD": 0.25,
                  "CT-CHEST": 0.25, "BIOPSY": 0.40}
# Mutual recognition (结果互认): an order that meets a recognised, valid result of the same exam is avoided
# (the clinician uses the result) or repeated with a reason. DOMAIN.md wants repeats to fall; our share.
AVOIDED_SHARE = 0.6
REPEAT_REASONS = (
    "病情变化，需复查 (condition changed)",
    "动态观察病情变化 (follow the course)",
    "术前评估需要 (needed before surgery)",
    "结果与临床表现不符 (the result does not fit the clinical picture)",
    "患者要求复查 (the patient asks for a repeat)",
)
CANCEL_REASONS = ("患者未检查即离院 (the patient left before the exam)", "医嘱开错，已撤销 (ordered in error)",
                  "患者拒绝检查 (the patient declined)")
RETURN_REASONS = {
    "ECG12": ("基线漂移、肌电干扰明显，请重新采集 (baseline wander and muscle noise: take it again)",
              "导联接触不良，部分导联无信号 (poor electrode contact: leads missing)"),
    "imaging": ("摆位不正，请重新摄片 (poor positioning: take it again)",
                "曝光不足，影像质量不合格 (under-exposed)"),
}
# Minutes from request to acquisition (uniform range), and reading time (lognormal median, sigma) by exam.
ACQUIRE_MINUTES = {"ECG12": (2, 12), "DR-CHEST": (10, 45), "DR-LIMB": (10, 45), "CT-HEAD": (8, 35),
                   "CT-CHEST": (10, 40), "US-ABD": (15, 90), "BIOPSY": (20, 120), "FROZEN": (60, 180)}
# (laboratory: the reader releases results the analyser's rules passed, in batches: a fraction of a minute each)
READ_MINUTES = {"DR-CHEST": (6.0, 0.4), "DR-LIMB": (5.0, 0.4), "CT-HEAD": (12.0, 0.4), "CT-CHEST": (15.0, 0.4),
                "US-ABD": (6.0, 0.4), "BIOPSY": (25.0, 0.4), "FROZEN": (10.0, 0.3), "lab": (0.3, 0.5)}
ECG_READ_MINUTES = {"normal": (3.0, 0.45), "abnormal": (4.5, 0.45), "critical": (5.0, 0.35)}
SECOND_MINUTES = {"imaging": (5.0, 0.4), "pathology": (12.0, 0.4), "ecg": (3.0, 0.4)}
RESPONSE_MINUTES = {CentreKind.ECG: 1.0, CentreKind.IMAGING: 3.0, CentreKind.LAB: 1.0, CentreKind.PATHOLOGY: 15.0}
# Laboratory: minutes on the analyser by panel, and the courier runs that take the grassroots' specimens to the
# county laboratory (local times), with the ride; urgent and STAT specimens go at once. A grassroots specimen is
# recorded as sent (the acquisition) when it leaves with the courier; the collection time is kept beside it.
ANALYSER_MINUTES = {"CBC": 15, "BMP": 40, "TNI": 20, "GLU": 15, "HBA1C": 45}
COURIER_RUNS = (10 * 60, 15 * 60)
COURIER_RIDE = (50, 90)
URGENT_RIDE = (35, 75)
LEAD_RIDE = (5, 15)
# Critical values: most are acknowledged within minutes; this share is not within the 15 minutes and escalates
# to the duty doctor of the requesting branch (our choice, for the escalation to be seen).
ACK_MEDIAN_MINUTES = 4.0
LATE_ACK_SHARE = 0.1
CRITICAL_IMAGING = {"I61": "intracranial_haemorrhage"}
UNEXPECTED_MALIGNANCY = 0.02  # of gastritis biopsies


QUESTIONS = {
    "ECG12": "排查心律失常及心肌缺血", "TNI": "排除急性心肌梗死", "DR-CHEST": "明确肺部病变",
    "DR-LIMB": "排除骨折", "CT-HEAD": "排除颅内出血、脑梗死", "CT-CHEST": "明确胸部病变",
    "US-ABD": "腹部超声评估", "CBC": "评估感染、贫血", "BMP": "评估电解质、肾功能、血糖", "GLU": "血糖监测",
    "HBA1C": "评估近三个月血糖控制", "BIOPSY": "病理明确诊断", "FROZEN": "术中快速病理，指导手术范围",
}
ANNUAL_QUESTION = "年度健康体检（国家基本公共卫生服务 老年人健康管理）"
ADMISSION_QUESTION = "入院常规检查"


def exams_for(level: str, kind: str, code: str, age: int, follow: int, annual: bool, first_stay: bool,
              r: Callable[[], float]) -> list[tuple[str, str]]:
    """The exams one encounter sends to the shared centres: (exam type code, reason) pairs, reason "annual",
    "admission" or "". The lead hospital's own routine outpatient laboratory work stays in its own system; what
    it sends here are the exams the community shares (ECG, imaging, pathology, admission and emergency work)."""
    prefix = code[:3]
    out: list[tuple[str, str]] = []

    def maybe(exam: str, p: float, why: str = "") -> None:
        if p > 0 and r() < p and all(e != exam for e, _ in out):
            out.append((exam, why))

    adult = age >= 18
    county = level == "lead"
    if follow:  # a chronic follow-up (the annual check rides on one a year)
        if annual:
            for exam in ("ECG12", "CBC", "BMP"):
                maybe(exam, 1.0, "annual")
            maybe("US-ABD", 0.6, "annual")
        if follow & 2:
            maybe("HBA1C", HBA1C_PER_FOLLOW_UP)
        return out
    if kind == "inpatient":
        if level == "village":
            return out
        maybe("CBC", 0.75 if county else 0.5 if level == "branch" else 0.4, "admission")
        maybe("BMP", 0.6 if county else 0.4 if level == "branch" else 0.25, "admission")
        maybe("ECG12", (0.7 if age >= 40 else 0.15) if level in ("lead", "branch") else 0.3 if age >= 40 else 0,
              "admission")
        maybe("DR-CHEST", 0.2 if county else 0.2 if level == "branch" else 0.05, "admission")
        if prefix in STROKE and county:
            maybe("CT-HEAD", 0.95)
        if prefix in ACUTE_CARDIAC:
            maybe("TNI", 0.95)
        if code.startswith("C") and county:
            if first_stay:
                maybe("BIOPSY", 0.35)
            maybe("CT-CHEST", 0.4 if prefix == "C34" else 0.1)
            if r() < 0.12:
                maybe("FROZEN", 1.0)
        if prefix in FRACTURE:
            maybe("DR-LIMB", 0.95)
        if prefix in PNEUMONIA:
            maybe("DR-CHEST", 0.9)
        return out
    emergency = kind == "emergency"
    if level == "village":
        if age >= 40 and prefix in CARDIAC:
            maybe("ECG12", 0.35)  # clinics with a remote-ECG device
        elif age >= 60:
            maybe("ECG12", 0.015)
        return out
    if level not in ("branch", "lead", "mch", "tcm"):
        return out
    if prefix in CARDIAC and adult:
        maybe("ECG12", 0.9 if county else 0.8)
    elif adult and emergency:
        maybe("ECG12", 0.35 if age >= 30 else 0.1)
    elif age >= 60:
        maybe("ECG12", 0.05 if county else 0.04)
    if prefix in ACUTE_CARDIAC and adult:
        maybe("TNI", 0.85 if county else 0.5)
    if prefix in STROKE or prefix == "S06":
        maybe("CT-HEAD", 0.95 if county else 0.0)
    elif prefix in ("R51", "R42") and county:
        maybe("CT-HEAD", 0.1)
    if prefix in PNEUMONIA:
        maybe("DR-CHEST", 0.7 if adult else 0.5)
        maybe("CBC", 0.6)
        if county:
            maybe("CT-CHEST", 0.15)
    elif prefix in RESPIRATORY:
        maybe("DR-CHEST", 0.25 if prefix in ("J44", "A15", "A16") else 0.08)
    if prefix == "C34" and county:
        maybe("CT-CHEST", 0.5)
    if prefix in FRACTURE:
        maybe("DR-LIMB", 0.9)
    elif prefix in LIMB:
        maybe("DR-LIMB", 0.25 if prefix != "M25" else 0.08)
    if prefix in ABDOMEN:
        maybe("US-ABD", 0.5 if prefix in ("K80", "K35", "N20") else 0.3)
    if emergency:
        maybe("CBC", 0.25)
        maybe("BMP", 0.15)
    elif not county and prefix in INFECTION:
        maybe("CBC", 0.03 if prefix in ("J06", "J03") else 0.12)
    if prefix == "E11" and not county:
        maybe("GLU", 0.3)
    if prefix in ("E11",) and county:
        maybe("HBA1C", 0.15)
    if prefix in ("N18",) and county:
        maybe("BMP", 0.3)
    if prefix in ("K29", "K25") and county:
        maybe("BIOPSY", 0.04)
    return out


def priority_of(exam: str, kind: str, code: str, r: Callable[[], float]) -> str:
    prefix = code[:3]
    if exam == "FROZEN":
        return "stat"
    if prefix in ("I63", "I61", "I21", "S72", "S06", "T60") and exam in ("ECG12", "TNI", "CT-HEAD", "BMP", "CBC"):
        return "stat"
    if kind == "emergency":
        return "stat" if r() < 0.45 else "urgent"
    if prefix in ACUTE_CARDIAC and exam in ("ECG12", "TNI"):
        x = r()
        return "stat" if x < 0.4 else "urgent" if x < 0.8 else "routine"
    if kind == "inpatient":
        return "urgent" if r() < 0.25 else "routine"
    return "urgent" if r() < 0.08 else "routine"


def rhythm_for(code: str, age: int, r: Callable[[], float]) -> str:
    """The rhythm class of an ECG: the shares of RHYTHMS, AF for a patient with AF, more AF with age, more
    critical rhythms among the acutely ill."""
    prefix = code[:3]
    if prefix == "I48":
        x = r()
        return "af_rvr" if x < 0.04 else "af" if x < 0.85 else "sinus"
    weights = []
    for name, _, _, critical, share, _ in RHYTHMS:
        w = share
        if name in ("af", "af_rvr") and age >= 75:
            w *= 2.0
        if critical and prefix in ACUTE_CARDIAC:
            w *= 3.0
        if name == "extreme_brady" and prefix == "R55":
            w *= 3.0
        weights.append(w)
    x = r() * sum(weights)
    for (name, *_), w in zip(RHYTHMS, weights, strict=True):
        x -= w
        if x < 0:
            return name
    return "sinus"


# --- laboratory values ------------------------------------------------------------------------------------------
# LOINC (as the lab code table files it) -> (normal mean, sd) and the shifts by context; values are rounded to the
# table's decimals. A small share of critical values (beyond the critical-value rules) for the alerts to be seen.
LAB_VALUES: dict[str, tuple[float, float]] = {
    "2823-3": (4.2, 0.35),  # potassium mmol/L
    "2951-2": (140.0, 2.5),  # sodium mmol/L
    "14749-6": (5.2, 0.6),  # glucose mmol/L
    "14682-9": (72.0, 14.0),  # creatinine umol/L
    "6690-2": (6.6, 1.6),  # WBC 10*9/L
    "718-7": (136.0, 14.0),  # haemoglobin g/L
    "777-3": (225.0, 55.0),  # platelets 10*9/L
    "10839-9": (0.012, 0.006),  # troponin I ng/mL
    "4548-4": (5.4, 0.4),  # HbA1c %
}
CRITICAL_VALUES = {  # LOINC: (share of results, low draw range, high draw range)
    "2823-3": (0.003, (2.3, 2.7), (6.4, 7.2)),
    "14749-6": (0.002, (1.9, 2.6), (23.5, 30.0)),
    "718-7": (0.001, (38, 48), None),
    "777-3": (0.001, (12, 28), None),
}


def lab_value(code: str, dx: str, follow: int, r: Callable[[], float], gauss: Callable[[float, float], float]
              ) -> float:
    mean, sd = LAB_VALUES[code]
    prefix = dx[:3]
    diabetic = prefix == "E11" or follow & 2
    if code == "14749-6" and diabetic:
        mean, sd = 8.6, 2.6
        if r() < 0.006:
            return 22.5 + r() * 8
    elif code == "4548-4" and diabetic:
        mean, sd = 7.5, 1.2
    elif code in ("2823-3", "14682-9") and prefix == "N18":
        mean, sd = (5.0, 0.6) if code == "2823-3" else (230.0, 70.0)
    elif code == "6690-2" and prefix in INFECTION:
        mean, sd = 11.0, 3.5
    elif code == "718-7" and dx.startswith("C"):
        mean, sd = 108.0, 18.0
    elif code == "10839-9":
        if prefix == "I21":
            return math.exp(gauss(math.log(2.5), 0.9))
        if prefix in ("R07", "I20") and r() < 0.1:
            return 0.05 + r() * 0.3
    critical = CRITICAL_VALUES.get(code)
    if critical and r() < critical[0]:
        low, high = critical[1], critical[2]
        band = high if high is not None and (low is None or r() < 0.7) else low
        return band[0] + r() * (band[1] - band[0])
    return max(mean * 0.2, gauss(mean, sd))


# --- the year -------------------------------------------------------------------------------------------------
class Exam:
    """One exam before it has ids: who asked for what, when, and what became of it."""

    __slots__ = ("encounter", "resident", "org", "branch", "practitioner", "code", "kind", "priority", "question",
                 "dx", "age", "sex", "follow", "requested", "acquired", "cancelled", "returned", "reacquired",
                 "arrival", "observed", "item", "recording", "bad_recording", "results", "critical", "finding",
                 "findings", "conclusion", "template", "repeat_of", "repeat_reason", "avoided", "revised",
                 "status", "reported", "id", "alert", "dicom", "specimen", "id_report", "hl7", "late", "collected")

    def __init__(self, encounter: int, resident: int, org: int, branch: int, practitioner: int | None, code: str,
                 kind: str, priority: str, question: str, dx: str, age: int, sex: str, follow: int,
                 requested: float) -> None:
        self.encounter, self.resident, self.org, self.branch = encounter, resident, org, branch
        self.practitioner, self.code, self.kind, self.priority = practitioner, code, kind, priority
        self.question, self.dx, self.age, self.sex, self.follow = question, dx, age, sex, follow
        self.requested = requested
        self.acquired: float | None = None
        self.cancelled: float | None = None
        self.returned: float | None = None  # the first acquisition sent back by QC
        self.reacquired: float | None = None
        self.arrival: float | None = None  # on the worklist (lab: results ready for verification)
        self.observed: float | None = None  # lab: analysed
        self.item: Item | None = None
        self.recording: PoolRecording | None = None
        self.bad_recording: PoolRecording | None = None
        self.results: list[tuple] = []
        self.critical: str | None = None  # critical-value rule code
        self.finding = ""
        self.findings = self.conclusion = self.template = ""
        self.repeat_of: Exam | None = None
        self.repeat_reason = ""
        self.avoided: list[tuple[float, int, int | None]] = []  # orders avoided thanks to this exam's report
        self.revised: float | None = None
        self.status = "requested"
        self.reported: float | None = None
        self.id = 0
        self.alert: tuple | None = None
        self.dicom: dict | None = None
        self.specimen = ""
        self.id_report: int | None = None
        self.hl7: float | None = None  # lab results released by an HL7 message at this minute (the demo)
        self.late = False  # a critical value not acknowledged in time: escalated
        self.collected: float | None = None  # lab: the specimen taken


@dataclass
class Reference:
    exam_types: dict[str, tuple[int, str, str, str, int, list[str], str]]  # code: id, kind, loinc, name, days, ...
    templates: dict[str, tuple[str, str]]
    rules: dict[str, tuple[int, str, Any, Any, str]]  # code: id, name, low, high, unit


def read_reference(community_id: int, using: str) -> Reference:
    types = {}
    for t in ExamType.objects.using(using).filter(community__isnull=True, active=True):
        types[t.code] = (t.pk, t.centre_kind, t.loinc, t.name, t.recognition_days, list(t.components), t.modality)
    for t in ExamType.objects.using(using).filter(community_id=community_id, active=True):
        types[t.code] = (t.pk, t.centre_kind, t.loinc, t.name, t.recognition_days, list(t.components), t.modality)
    templates = {t.code: (t.findings, t.conclusion) for t in ReportTemplate.objects.using(using).filter(
        community__isnull=True, active=True)}
    rules = {r.code: (r.pk, r.name, r.low, r.high, r.unit) for r in CriticalRule.objects.using(using).filter(
        community__isnull=True, active=True)}
    return Reference(types, templates, rules)


def read_centres(community_id: int, clock: Clock, using: str) -> tuple[dict[str, CentrePlan],
                                                                        dict[int, list[tuple[int, float, float]]]]:
    """The community's active centres (the lead hospital's first) with readers and roster, and the duty
    doctors' shifts per organisation, as clock minutes."""
    start = dt.datetime.combine(clock.first_day, dt.time(0, 0), tzinfo=LOCAL)

    def minutes(value: dt.datetime) -> float:
        return (value - start).total_seconds() / 60

    plans: dict[str, CentrePlan] = {}
    for centre in Centre.objects.using(using).filter(community_id=community_id, active=True).order_by("id"):
        if centre.kind in plans:
            continue
        readers = CentreReader.objects.using(using).filter(centre=centre, active=True).order_by("id")
        plan = CentrePlan(centre.pk, centre.kind, centre.organization_id,
                          (centre.target_routine_minutes, centre.target_urgent_minutes, centre.target_stat_minutes),
                          [r.practitioner_id for r in readers], {r.practitioner_id for r in readers if r.senior},
                          (0, 0))
        plan.shifts = [(pid, minutes(a), minutes(b)) for pid, a, b in RosterShift.objects.using(using).filter(
            centre=centre).values_list("practitioner_id", "starts_at", "ends_at")]
        plans[centre.kind] = plan
    duty: dict[int, list[tuple[int, float, float]]] = {}
    for org, pid, a, b in RosterShift.objects.using(using).filter(
            organization__community_id=community_id, centre__isnull=True).values_list(
            "organization_id", "practitioner_id", "starts_at", "ends_at"):
        duty.setdefault(org, []).append((pid, minutes(a), minutes(b)))
    for shifts in duty.values():
        shifts.sort(key=lambda s: s[1])
    return plans, duty


@dataclass
class ExamCounts:
    rows: dict[str, int] = field(default_factory=dict)
    exams: dict[str, int] = field(default_factory=dict)  # by exam type
    status: dict[str, int] = field(default_factory=dict)
    avoided: int = 0
    repeated: int = 0
    critical: int = 0
    escalated: int = 0
    dicom_uploaded: int = 0
    dicom_references: int = 0
    hl7_messages: int = 0
    hl7_refused: int = 0
    ecg_pool: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


class Stamps:
    """Clock minutes (with fractions) as UTC text the database takes, to the second: a day's date and a time of
    day from tables (formatting each stamp cost more than making the rest of the row)."""

    TIMES = [f"{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}" for t in range(86_400)]

    def __init__(self, clock: Clock, suffix: str) -> None:
        self.clock, self.suffix = clock, suffix
        self.days: dict[int, str] = {}
        self.offset = clock.utc_offset_minutes * 60

    def __call__(self, minute: float | None) -> str | None:
        if minute is None:
            return None
        day, rest = divmod(int(minute * 60 + 0.5) - self.offset, 86_400)
        date = self.days.get(day)
        if date is None:
            date = self.days[day] = dt.date.fromordinal(self.clock.first_ordinal + day).isoformat() + " "
        return date + self.TIMES[rest] + self.suffix

    def local(self, minute: float) -> dt.datetime:
        return dt.datetime.combine(self.clock.first_day, dt.time(0, 0), tzinfo=LOCAL) + dt.timedelta(minutes=minute)


def on_duty_at(shifts: Sequence[tuple[int, float, float]], at: float, *, exclude: int | None = None,
               among: set[int] | None = None) -> tuple[int | None, float]:
    """Who is on duty at `at` (or the first to come on after it): (practitioner, when they can act)."""
    best: tuple[int | None, float] = (None, math.inf)
    for pid, start, end in shifts:
        if pid == exclude or (among is not None and pid not in among) or end <= at:
            continue
        when = max(start, at)
        if when < best[1]:
            best = (pid, when)
            if when == at:
                break
    return best


_NAMES: dict[str, str] = {}


def _icd10_names() -> dict[str, str]:
    if not _NAMES:
        from .clinical import icd10_names

        _NAMES.update((code, name) for code, (name, _) in icd10_names().items())
    return _NAMES


FOLLOW_UP_KINDS = {"高血压随访": 1, "糖尿病随访": 2, "高血压、糖尿病随访": 3}


class ExamYear:
    """The year's exams of one county: drawn from its encounters, timed, read by the centres' rosters (the
    worklist simulation), recognised or repeated, reported, and turned into rows."""

    def __init__(self, community_id: int, *, seed: int, as_of: dt.date, loader: BulkLoader,
                 pool: Sequence[PoolRecording]) -> None:
        self.community_id, self.seed, self.as_of, self.loader = community_id, seed, as_of, loader
        self.using = loader.connection.alias
        self.clock = Clock(as_of, "+00" if loader.vendor == "postgresql" else "")
        self.stamp = Stamps(self.clock, "+00" if loader.vendor == "postgresql" else "")
        self.rng = stream(seed, "diagnostics", "exams")
        self.ref = read_reference(community_id, self.using)
        self.centres, self.duty = read_centres(community_id, self.clock, self.using)
        self.pool = list(pool)
        self.by_rhythm: dict[str, list[PoolRecording]] = {}
        for recording in self.pool:
            self.by_rhythm.setdefault(recording.rhythm_class, []).append(recording)
        self.exams: list[Exam] = []
        self.counts = ExamCounts(ecg_pool=len(self.pool))
        from countycare.diagnostics import lab

        self.lab_table = lab.catalogue()

    # --- reading the county back ---------------------------------------------------------------------------
    def read(self) -> None:
        """Residents, organisations and the year's encounters (streamed, resident by resident) -> drafts."""
        connection = self.loader.connection
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, org_type, parent_id FROM registry_organization WHERE community_id = %s",
                           [self.community_id])
            self.levels: dict[int, str] = {}
            parents: dict[int, int | None] = {}
            for org, org_type, parent in cursor.fetchall():
                self.levels[org] = LEVEL_OF_TYPE.get(org_type, "")
                parents[org] = parent
            self.branch_of = {org: (parents[org] if level == "village" and parents[org] else org)
                              for org, level in self.levels.items()}
            cursor.execute("SELECT r.id, r.birth_date, r.sex FROM registry_resident r WHERE r.community_id = %s",
                           [self.community_id])
            self.people = {rid: (_ordinal(birth), sex) for rid, birth, sex in cursor.fetchall()}
        start = dt.datetime.combine(self.clock.first_day, dt.time(0, 0), tzinfo=LOCAL)
        epoch0 = int(start.timestamp())
        epoch = ("EXTRACT(EPOCH FROM e.started_at)::bigint" if connection.vendor == "postgresql"
                 else "CAST(strftime('%%s', e.started_at) AS INTEGER)")
        follow = "CASE e.chief_complaint " + " ".join(
            f"WHEN '{text}' THEN {k}" for text, k in FOLLOW_UP_KINDS.items()) + " ELSE 0 END"
        sql = (f"SELECT e.id, e.resident_id, e.organization_id, e.practitioner_id, e.kind, {epoch}, {follow}, d.code "
               "FROM records_encounter e JOIN records_diagnosis d ON d.encounter_id = e.id AND d.is_primary "
               "WHERE e.community_id = %s AND e.source = 'clinical' ORDER BY e.resident_id, e.started_at, e.id")
        names = _icd10_names()
        r = self.rng.random
        as_of = self.as_of
        current = None
        annual_done = stays = 0
        with connection.chunked_cursor() if connection.vendor == "postgresql" else connection.cursor() as cursor:
            cursor.execute(sql, [self.community_id])
            while rows := cursor.fetchmany(20_000):
                for enc, rid, org, practitioner, kind, started, follow_kind, code in rows:
                    level = self.levels.get(org, "")
                    if level in ("", "partner"):
                        continue
                    if rid != current:
                        current = rid
                        annual_done, stays = False, 0
                        birth, sex = self.people[rid]
                        birthday = dt.date.fromordinal(birth)
                        age = as_of.year - birthday.year - ((as_of.month, as_of.day) < (birthday.month, birthday.day))
                    minute = (started - epoch0) / 60
                    annual = False
                    if follow_kind and not annual_done and age >= ANNUAL_CHECK_AGE and r() < ANNUAL_PER_FOLLOW_UP:
                        annual = annual_done = True
                    first_stay = kind == "inpatient" and stays == 0
                    if kind == "inpatient" and code.startswith("C"):
                        stays += 1
                    for exam, why in exams_for(level, kind, code, age, follow_kind, annual, first_stay, r):
                        if exam not in self.ref.exam_types:
                            continue
                        self.add(enc, rid, org, practitioner, exam, kind, code, age, sex, follow_kind, minute, why,
                                 names)

    def add(self, enc: int, rid: int, org: int, practitioner: int | None, code: str, kind: str, dx: str, age: int,
            sex: str, follow: int, minute: float, why: str, names: dict[str, str]) -> None:
        r = self.rng.random
        centre_kind = self.ref.exam_types[code][1]
        if centre_kind not in self.centres:
            return
        priority = "routine" if why == "annual" else priority_of(code, kind, dx, r)
        if why == "annual":
            question = ANNUAL_QUESTION
        elif why == "admission":
            question = f"{ADMISSION_QUESTION}：{names.get(dx, dx)}"
        else:
            question = f"{names.get(dx, dx)}，{QUESTIONS.get(code, '请检查')}"
        if kind == "inpatient":
            offset = 1440 * (1 + 2 * r()) if code in ("BIOPSY", "FROZEN") else 30 + 150 * r()
        else:
            offset = 5 + 30 * r()
        exam = Exam(enc, rid, org, self.branch_of.get(org, org), practitioner, code, centre_kind, priority,
                    question, dx, age, sex, follow, minute + offset)
        self.exams.append(exam)

    # --- timing: acquisitions, QC returns, the road to the laboratory -----------------------------------------
    def time_exams(self) -> None:
        from countycare.diagnostics.services import worklist_rank

        r = self.rng.random
        gauss = self.rng.gauss
        sinus = self.by_rhythm.get("sinus") or self.pool
        for index, e in enumerate(self.exams):
            if r() < CANCELLED:
                e.cancelled = e.requested + 10 + 110 * r()
                continue
            stat = 0.4 if e.priority == "stat" else 1.0
            if e.kind == CentreKind.LAB:
                e.collected = e.requested + 5 + 20 * r()
                e.acquired = self.dispatched(e, e.collected)
            else:
                low, high = ACQUIRE_MINUTES[e.code]
                e.acquired = e.requested + (low + (high - low) * r()) * stat
            if e.kind == CentreKind.ECG:
                rhythm = rhythm_for(e.dx, e.age, r)
                options = self.by_rhythm.get(rhythm) or sinus
                e.recording = options[int(r() * len(options))]
                if rhythm == "noisy" and r() < NOISY_RETURNED:
                    e.bad_recording, e.recording = e.recording, sinus[int(r() * len(sinus))]
            elif e.kind == CentreKind.IMAGING and r() < QC_RETURN.get(e.code, 0.0):
                e.bad_recording = e.recording  # (None: only the time matters)
                e.returned = e.acquired + 5 + 25 * r()
            if e.bad_recording is not None or e.returned is not None:
                e.returned = e.returned or e.acquired + 3 + 9 * r()
                e.reacquired = e.returned + 10 + 30 * r()
            ready = e.reacquired or e.acquired
            if e.kind == CentreKind.LAB:
                e.observed = self.at_laboratory(e, ready) + ANALYSER_MINUTES.get(e.code, 30) * (
                    0.8 + 0.5 * r()) * (0.8 if e.priority == "stat" else 1.0)
                ready = e.observed
            elif e.code == "BIOPSY":
                ready = self.slides_ready(self.at_laboratory(e, ready))
            elif e.code == "FROZEN":
                ready = ready + 10 + 10 * r()
            e.arrival = ready
            if e.kind == CentreKind.ECG:
                pre = e.recording.pre_read  # type: ignore[union-attr]
                rank = worklist_rank(e.priority, critical=bool(pre.critical), score=int(pre.score or 0))
                rhythm_class = e.recording.rhythm_class  # type: ignore[union-attr]
                kind = ("critical" if rhythm_class in CRITICAL_RHYTHM_RULES else "normal" if rhythm_class == "sinus"
                        else "abnormal")
                median, sigma = ECG_READ_MINUTES[kind]
                second = kind == "abnormal" and e.priority == "routine" and r() < SECOND_READING["ECG12"]
                second_kind = "ecg"
            else:
                rank = worklist_rank(e.priority)
                median, sigma = READ_MINUTES["lab" if e.kind == CentreKind.LAB else e.code]
                second = e.priority == "routine" and r() < SECOND_READING.get(e.code, 0.0)
                second_kind = "pathology" if e.kind == CentreKind.PATHOLOGY else "imaging"
            read = median * math.exp(sigma * gauss(0.0, 1.0))
            extra = None
            if second:
                m2, s2 = SECOND_MINUTES[second_kind]
                extra = m2 * math.exp(s2 * gauss(0.0, 1.0))
            e.item = Item(index, ready, rank, read, extra)

    def grassroots(self, e: Exam) -> bool:
        return self.levels.get(e.org) in ("village", "branch")

    def dispatched(self, e: Exam, collected: float) -> float:
        """When a specimen is sent (and recorded as the acquisition): at once at the lead hospital and for urgent
        and STAT specimens; from the grassroots, routine ones go with the next courier run (those collected after
        the last run wait in the clinic's refrigerator for the morning's)."""
        r = self.rng.random
        if not self.grassroots(e) or e.priority != "routine":
            return collected + 1 + 4 * r()
        day, minute = divmod(collected, DAY)
        for run in COURIER_RUNS:
            if run >= minute:
                return day * DAY + run
        return (day + 1) * DAY + COURIER_RUNS[0]

    def at_laboratory(self, e: Exam, sent: float) -> float:
        """When a specimen reaches the county laboratory: minutes from the lead hospital, the courier's ride from
        the grassroots (urgent and STAT ones by a car of their own)."""
        r = self.rng.random
        if not self.grassroots(e):
            low, high = LEAD_RIDE
        elif e.priority != "routine":
            low, high = URGENT_RIDE
        else:
            low, high = COURIER_RIDE
        return sent + low + (high - low) * r()

    def slides_ready(self, received: float) -> float:
        """Fixed overnight, processed and cut: ready on the first weekday morning at least 20 hours later."""
        t = received + 20 * 60
        day, minute = divmod(t, DAY)
        day = int(day) + (1 if minute > 10 * 60 else 0)
        while (self.clock.first_day + dt.timedelta(days=day)).weekday() >= 5:
            day += 1
        return day * DAY + 8 * 60 + 120 * self.rng.random()

    # --- reading: the worklist of each centre, by its roster --------------------------------------------------
    def read_worklists(self) -> None:
        end = END_MINUTE
        for kind, plan in self.centres.items():
            items = [e.item for e in self.exams if e.kind == kind and e.item is not None and e.cancelled is None
                     and e.arrival is not None and e.arrival < end]
            rng = stream(self.seed, "diagnostics", "reading", kind)
            spread = RESPONSE_MINUTES[kind]
            WorklistDay(plan.shifts, seniors=plan.seniors, response=lambda rng=rng, spread=spread: rng.random()
                        * spread).run(items, until=end)  # type: ignore[misc]

    def settle(self) -> None:
        """Each exam's status at "now" (08:00 on the as-of day)."""
        end = END_MINUTE
        for e in self.exams:
            item = e.item
            if e.cancelled is not None:
                e.status = "cancelled" if e.cancelled <= end else "requested"
                if e.cancelled > end:
                    e.cancelled = None
                continue
            if e.acquired is None or e.acquired > end:
                e.status, e.acquired, e.returned, e.reacquired = "requested", None, None, None
                e.item = None
                continue
            if e.returned is not None and e.returned > end:
                e.returned = e.reacquired = None
                e.bad_recording, e.recording = None, e.bad_recording or e.recording
            if e.reacquired is not None and e.reacquired > end:
                e.status, e.item = "returned", None
                continue
            e.status = "acquired"
            if item is None or item.arrival >= end:
                e.item = None
                continue
            if e.kind == CentreKind.LAB:
                if item.reported is not None and item.reported <= end:
                    e.status, e.reported = "published", item.reported
                else:
                    e.item = None
                continue
            if item.reported is not None and item.reported <= end:
                e.status, e.reported = "published", item.reported
            elif item.claimed is not None:
                e.status = "claimed"
            elif item.first is not None:
                if item.first[1] <= end:
                    e.status = "second_reading"
                else:  # the preliminary is still being written
                    item.claimed, item.reader, item.first = item.first[0], item.first[2], None
                    e.status = "claimed"

    # --- mutual recognition ---------------------------------------------------------------------------------
    def recognise(self) -> None:
        """Orders that met a recognised, valid report of the same exam: avoided (the exam is not done) or
        repeated with a reason. Reports are recognised from their publication for the exam's window."""
        r = self.rng.random
        order = sorted(range(len(self.exams)), key=lambda k: (self.exams[k].resident, self.exams[k].requested, k))
        valid: dict[tuple[int, str], Exam] = {}
        for k in order:
            e = self.exams[k]
            key = (e.resident, e.code)
            source = valid.get(key)
            days = self.ref.exam_types[e.code][4]
            if (source is not None and source.reported is not None and source.reported < e.requested
                    < source.reported + days * DAY):
                if r() < AVOIDED_SHARE:
                    source.avoided.append((e.requested, e.org, e.practitioner))
                    e.status = "avoided"
                    self.counts.avoided += 1
                    continue
                e.repeat_of = source
                e.repeat_reason = REPEAT_REASONS[int(r() * len(REPEAT_REASONS))]
                self.counts.repeated += 1
            if e.status == "published":
                valid[key] = e
        self.exams = [e for e in self.exams if e.status != "avoided"]

    # --- what the reports say ---------------------------------------------------------------------------------
    def write_reports(self) -> None:
        r = self.rng.random
        gauss = self.rng.gauss
        for e in self.exams:
            item = e.item
            if e.kind == CentreKind.LAB:
                if e.status == "published":
                    self.lab_results(e, r, gauss)
                continue
            if item is None or (item.first is None and e.status != "published"):
                continue
            if e.kind == CentreKind.ECG:
                self.ecg_report(e, r)
            elif e.kind == CentreKind.IMAGING:
                self.imaging_report(e, r)
            else:
                self.pathology_report(e, r)
            if e.status == "published" and r() < REVISED and e.reported is not None:
                revised = e.reported + 30 + 570 * r()
                if revised <= END_MINUTE:
                    e.revised = revised
        # critical values acknowledged late (escalated): a share, and at least one in any county that has some
        critical = sorted((e for e in self.exams if e.critical and e.status == "published"),
                          key=lambda e: e.reported)  # type: ignore[arg-type,return-value]
        for e in critical:
            e.late = r() < LATE_ACK_SHARE
        if critical and not any(e.late for e in critical):
            early = [e for e in critical if e.reported < END_MINUTE - 60]  # type: ignore[operator]
            (early or critical)[-1].late = True

    def fill(self, template: str, findings_values: Sequence[object] = (),
             conclusion_values: Sequence[object] | None = None) -> tuple[str, str]:
        """A template's findings and conclusion with their blanks (__) filled in order."""
        findings, conclusion = self.ref.templates.get(template, ("__", "__"))

        def put(text: str, values: Sequence[object]) -> str:
            parts = text.split("__")
            out = parts[0]
            for k, part in enumerate(parts[1:]):
                out += ("—" if k >= len(values) or values[k] is None else str(values[k])) + part
            return out

        return put(findings, findings_values), put(conclusion, findings_values if conclusion_values is None
                                                   else conclusion_values)

    def ecg_report(self, e: Exam, r: Callable[[], float]) -> None:
        recording = e.recording
        assert recording is not None
        pre = recording.pre_read
        rhythm = recording.rhythm_class
        template = next(t for name, _, _, _, _, t in RHYTHMS if name == rhythm)
        rate = round(float(pre.heart_rate)) if pre.heart_rate is not None else recording.heart_rate

        def ms(value: Any) -> Any:
            return round(float(value)) if value is not None else None

        if template == "ecg-af":
            findings, conclusion = self.fill(template, [rate, ms(pre.qrs_ms)], [rate])
        elif template == "ecg-lbbb":
            findings, conclusion = self.fill(template, [rate])
        else:
            findings, conclusion = self.fill(template, [rate, ms(pre.pr_ms), ms(pre.qrs_ms), ms(pre.qtc_ms)])
        if rhythm == "noisy":
            findings += "（基线干扰，部分导联显示欠清）"
        rule = CRITICAL_RHYTHM_RULES.get(rhythm)
        if rule and rule in self.ref.rules:
            e.critical, e.finding = rule, self.ref.rules[rule][1]
            conclusion = f"{conclusion}（{e.finding}，危急值）"
        e.template, e.findings, e.conclusion = template, findings, conclusion

    IMAGING_TEXT = {  # (exam, dx prefix): (findings, conclusion) of reports written without a template
        ("DR-LIMB", "S52"): ("右桡骨远端骨皮质连续性中断，可见透亮骨折线，断端轻度向背侧移位。腕关节间隙正常。",
                             "右桡骨远端骨折"),
        ("DR-LIMB", "S72"): ("右股骨颈骨皮质连续性中断，断端嵌插，股骨头形态尚可。", "右股骨颈骨折"),
        ("DR-LIMB", "M17"): ("双膝关节间隙变窄，以内侧为著，关节边缘骨质增生，髁间棘变尖。", "双膝关节退行性变"),
        ("US-ABD", "K80"): ("胆囊大小正常，壁毛糙，腔内可见强回声团伴声影，随体位移动。肝、胰、脾、双肾未见明显异常。",
                            "胆囊结石"),
        ("US-ABD", "K76"): ("肝脏大小正常，实质回声细密增强，远场回声衰减，肝内管道显示欠清。", "脂肪肝"),
        ("CT-CHEST", "C34"): ("右肺上叶见不规则软组织密度肿块，大小约3.5cm×2.8cm，边缘分叶、毛刺，纵隔见肿大淋巴结。",
                              "右肺上叶占位，考虑周围型肺癌伴纵隔淋巴结转移，建议病理检查"),
        ("CT-CHEST", "J18"): ("右肺下叶见斑片状磨玻璃及实变影，边缘模糊，支气管充气征。", "右肺下叶肺炎"),
        ("CT-HEAD", "I63"): ("左侧基底节区见斑片状稍低密度影，边界欠清，中线结构居中。",
                             "左侧基底节区脑梗死可能，建议MRI"),
    }

    def imaging_report(self, e: Exam, r: Callable[[], float]) -> None:
        prefix = e.dx[:3]
        custom = self.IMAGING_TEXT.get((e.code, prefix))
        rule = CRITICAL_IMAGING.get(prefix) if e.code == "CT-HEAD" else None
        if rule:
            findings, conclusion = self.fill("ct-head-haemorrhage", ["左侧基底节区", "3.2", "2.4", "62", "向右", "4"],
                                             ["左侧基底节区", "10"])
            template = "ct-head-haemorrhage"
            if rule in self.ref.rules:
                e.critical, e.finding = rule, self.ref.rules[rule][1]
        elif custom:
            (findings, conclusion), template = custom, ""
        elif e.code == "DR-CHEST" and prefix in PNEUMONIA:
            side = ("右下", "左下", "双下")[int(r() * 3)]
            findings, conclusion = self.fill("xr-chest-pneumonia", [side], [side])
            template = "xr-chest-pneumonia"
        elif e.code == "DR-CHEST":
            template = "xr-chest-normal"
            findings, conclusion = self.fill(template, [])
        elif e.code == "CT-HEAD":
            template = "ct-head-normal"
            findings, conclusion = self.fill(template, [])
        else:
            site = {"DR-LIMB": "四肢骨关节", "US-ABD": "腹部（肝、胆、胰、脾、双肾）",
                    "CT-CHEST": "胸部"}.get(e.code, "")
            template = "imaging-normal"
            findings, conclusion = self.fill(template, [site], [site])
        e.template, e.findings, e.conclusion = template, findings, conclusion

    PATHOLOGY = {  # dx prefix: (organ, specimen, microscopy, diagnosis)
        "C16": ("胃", "胃窦", "腺体排列紊乱，细胞异型明显，浸润至黏膜下层", "中分化腺癌"),
        "C18": ("结肠", "乙状结肠", "异型腺体浸润性生长，可见坏死", "中分化腺癌"),
        "C34": ("肺", "右肺上叶", "异型细胞呈腺泡状排列，间质浸润", "浸润性腺癌"),
        "C50": ("乳腺", "左乳肿物", "癌细胞呈巢团状浸润性生长", "浸润性导管癌（非特殊型）"),
        "C22": ("肝", "肝穿刺组织", "肝细胞异型，呈粗梁状排列", "肝细胞癌"),
        "K29": ("胃", "胃窦黏膜", "黏膜慢性炎细胞浸润，腺体无明显萎缩", "慢性非萎缩性胃炎"),
        "K25": ("胃", "胃角溃疡边缘", "溃疡边缘黏膜慢性炎伴肉芽组织增生", "慢性溃疡，未见恶性证据"),
    }

    def pathology_report(self, e: Exam, r: Callable[[], float]) -> None:
        organ, site, micro, diagnosis = self.PATHOLOGY.get(e.dx[:3], ("组织", "送检组织", "慢性炎症改变",
                                                                      "慢性炎症"))
        if e.dx[:3] in ("K29", "K25") and r() < UNEXPECTED_MALIGNANCY:
            micro, diagnosis = "异型腺体浸润性生长", "（胃窦）印戒细胞癌"
            rule = "unexpected_malignancy"
            if rule in self.ref.rules:
                e.critical, e.finding = rule, self.ref.rules[rule][1]
        if e.code == "FROZEN":
            findings, conclusion = self.fill("pathology-frozen", [site, micro], [site, diagnosis])
            template = "pathology-frozen"
        else:
            size = f"{0.2 + r():.1f}"
            findings, conclusion = self.fill("pathology-biopsy", [site, 1 + int(r() * 4), size, "0.3", "0.2", "灰白",
                                                                  micro], [site, diagnosis])
            template = "pathology-biopsy"
        e.template, e.findings, e.conclusion = template, findings, conclusion
        e.specimen = site

    def lab_results(self, e: Exam, r: Callable[[], float], gauss: Callable[[float, float], float]) -> None:
        """Results as the lab module files them: the table's LOINC, name, unit, range for the sex, decimals."""
        table = self.lab_table.by_loinc
        results = []
        for component in self.ref.exam_types[e.code][5]:
            code = table.get(component)
            if code is None or code.loinc not in LAB_VALUES:
                continue
            value = lab_value(code.loinc, e.dx, e.follow, r, gauss)
            places = code.decimals if code.decimals is not None else 2
            quantity = Decimal(f"{value:.{places}f}")
            reference = code.default_range(e.sex)
            low = reference.low if reference else None
            high = reference.high if reference else None
            flag = "L" if low is not None and quantity < low else "H" if high is not None and quantity > high else "N"
            results.append((code.loinc, code.display, quantity, code.unit, low, high, flag))
        e.results = results
        lines = []
        abnormal = []
        for loinc, display, quantity, unit, low, high, flag in results:
            reference = ""
            if low is not None or high is not None:
                bounds = (_plain(low) if low is not None else "", _plain(high) if high is not None else "")
                reference = f"（参考 {bounds[0]}–{bounds[1]}）"
            arrow = {"H": " ↑", "L": " ↓"}.get(flag, "")
            lines.append(f"{display} {_plain(quantity)} {unit}".strip() + reference + arrow)
            if flag in ("H", "L"):
                abnormal.append(f"{display}{'↑' if flag == 'H' else '↓'}")
            rule = self.ref.rules.get(loinc)
            if rule is not None and e.critical is None:
                _, name, rule_low, rule_high, rule_unit = rule
                beyond = (f"< {_plain(rule_low)}" if rule_low is not None and quantity < rule_low else
                          f"> {_plain(rule_high)}" if rule_high is not None and quantity > rule_high else None)
                if beyond:
                    e.critical, e.finding = loinc, f"{name} {_plain(quantity)} {unit} ({beyond})"
        e.findings = "\n".join(lines)
        e.conclusion = ("异常：" + "、".join(abnormal)) if abnormal else "所列项目均在参考范围内"


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


REQUEST_COLUMNS = (
    "id", "uuid", "community_id", "resident_id", "encounter_id", "exam_type_id", "centre_id",
    "requesting_organization_id", "requesting_practitioner_id", "clinical_question", "priority", "status", "rank",
    "accession_number", "requested_at", "acquired_at", "claimed_at", "reported_at", "acknowledged_at",
    "cancelled_at", "claimed_by_id", "status_reason", "recognised_report_id", "repeat_reason", "created_by_id",
    "version", "updated_at",
)
EVENT_COLUMNS = ("id", "request_id", "action", "from_status", "to_status", "at", "user_id", "practitioner_id",
                 "reason")
ACQUISITION_COLUMNS = (
    "id", "uuid", "request_id", "kind", "current", "acquired_at", "acquired_by_id", "sample_rate", "lead_names",
    "duration_seconds", "orthanc_study_id", "study_instance_uid", "series", "specimen_type", "specimen_id",
    "collected_at", "site", "note", "returned_at", "return_reason",
)
ATTACHMENT_COLUMNS = ("id", "uuid", "acquisition_id", "blob_id", "filename", "media_type", "role", "title")
PRE_READ_COLUMNS = ("id", "request_id", "acquisition_id", "heart_rate", "rr_cv", "pr_ms", "qrs_ms", "qt_ms", "qtc_ms",
                    "signal_quality", "flags", "critical", "score", "algorithm", "computed_at", "elapsed_ms")
REPORT_COLUMNS = ("id", "uuid", "request_id", "version", "status", "current", "findings", "conclusion",
                  "template_code", "critical", "author_id", "verifier_id", "revision_reason", "written_at",
                  "published_at", "recognised_until")
LINK_COLUMNS = ("id", "examrequest_id", "observation_id")
ALERT_COLUMNS = (
    "id", "uuid", "community_id", "request_id", "resident_id", "rule_id", "observation_id", "finding", "status",
    "raised_at", "raised_by_id", "notify_organization_id", "notify_practitioner_id", "ack_due_at", "escalated_at",
    "escalated_to_id", "acknowledged_at", "acknowledged_by_id", "action_taken", "version",
)
ALERT_EVENT_COLUMNS = ("id", "alert_id", "action", "at", "practitioner_id", "user_id", "detail")
RECOGNITION_COLUMNS = ("id", "community_id", "resident_id", "exam_type_id", "report_id", "organization_id",
                       "practitioner_id", "decision", "reason", "request_id", "at")
ACTIONS_TAKEN = ("已电话通知患者返院复诊 (patient called back)", "已调整治疗方案 (treatment changed)",
                 "已联系上级医院转诊 (referred up)", "已复查确认 (re-checked)")
SPECIMENS = {"CBC": "全血（EDTA抗凝）", "BMP": "血清", "TNI": "血清", "GLU": "血清", "HBA1C": "全血（EDTA抗凝）"}


LOAD_ORDER = (Observation, ExamRequest, Report, Acquisition, Attachment, EcgPreRead, ExamEvent,
              ExamRequest.observations.through, CriticalAlert, CriticalAlertEvent, RecognitionCheck)
COLUMNS = {Observation: OBSERVATION_COLUMNS, ExamRequest: REQUEST_COLUMNS, Report: REPORT_COLUMNS,
           Acquisition: ACQUISITION_COLUMNS, Attachment: ATTACHMENT_COLUMNS, EcgPreRead: PRE_READ_COLUMNS,
           ExamEvent: EVENT_COLUMNS, ExamRequest.observations.through: LINK_COLUMNS, CriticalAlert: ALERT_COLUMNS,
           CriticalAlertEvent: ALERT_EVENT_COLUMNS, RecognitionCheck: RECOGNITION_COLUMNS}
NUMBERED = frozenset({Attachment, EcgPreRead, ExamEvent, ExamRequest.observations.through, CriticalAlertEvent,
                      RecognitionCheck})  # rows made with id 0, numbered when loaded
ID_BLOCK = 50_000
EMIT_CHUNK = 20_000


def _uuid(bits: Callable[[int], int]) -> str:
    return f"{bits(128) & UUID_CLEAR | UUID_SET:032x}"


def _dicom_uid(bits: Callable[[int], int]) -> str:
    return f"{IMAGING_UID_ROOT}{bits(100)}"


IMAGING_UID_ROOT = "1.2.826.0.1.3680043.8.498."  # as diagnostics.imaging (pydicom's root)


def slide_pool(seed: int, count: int = 3) -> list[bytes]:
    """Small PNG 'slides' (pink-purple H&E-like texture): pathology attachments, content-addressed."""
    import io

    from PIL import Image

    out = []
    for k in range(count):
        rng = random.Random(_seed_of(seed, "slide", k))
        image = Image.new("RGB", (96, 96), (236, 214, 226))
        pixels = image.load()
        for _ in range(220):
            x, y, radius = rng.randrange(96), rng.randrange(96), rng.randint(1, 3)
            colour = (rng.randint(90, 140), rng.randint(40, 80), rng.randint(130, 180))
            for dx in range(-radius, radius + 1):
                for dy in range(-radius, radius + 1):
                    if 0 <= x + dx < 96 and 0 <= y + dy < 96 and dx * dx + dy * dy <= radius * radius:
                        pixels[x + dx, y + dy] = colour
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
        out.append(buffer.getvalue())
    return out


class ExamRows:
    """The year's exams as rows, with ids, loaded through the BulkLoader."""

    def __init__(self, year: ExamYear) -> None:
        self.year = year
        self.loader = year.loader
        self.stamp = year.stamp
        self.rng = stream(year.seed, "diagnostics", "rows")
        self.bits = self.rng.getrandbits
        self.cid = year.community_id
        self.rows: dict[type, list[tuple]] = {}
        self.counts = year.counts
        # recognition of results published by HL7 later: (decision, repeating exam, source exam, at, org, who)
        self.deferred: list[tuple] = []
        self.blocks: dict[type, list[int]] = {}

    def new_id(self, model: type) -> int:
        """The next id of a block reserved at once (what a block leaves unused stays a gap in the sequence)."""
        block = self.blocks.get(model)
        if block is None or block[0] >= block[1]:
            first = self.loader.reserve_ids(model, ID_BLOCK)
            block = self.blocks[model] = [first, first + ID_BLOCK]
        block[0] += 1
        return block[0] - 1

    def flush(self) -> None:
        """Load the rows made so far (rows of the numbered tables get their ids here)."""
        for model in LOAD_ORDER:
            batch = self.rows.pop(model, None)
            if not batch:
                continue
            if model in NUMBERED:
                first = self.loader.reserve_ids(model, len(batch))
                batch = [(first + k, *row[1:]) for k, row in enumerate(batch)]
            elif model is Observation:  # in resident order: the resident's index takes them in sequence
                batch.sort(key=lambda row: (row[3], row[15]))
            self.loader.load(model, COLUMNS[model], batch)
            self.counts.rows[model._meta.label] = self.counts.rows.get(model._meta.label, 0) + len(batch)

    def put(self, model: type, row: tuple) -> None:
        self.rows.setdefault(model, []).append(row)

    # --- critical values ------------------------------------------------------------------------------------
    def lifecycle(self, e: Exam, raised: float) -> dict[str, Any]:
        """A critical value after it is raised and notified at the report: acknowledged within minutes, or
        escalated to the duty doctor of the requesting branch after the acknowledgement window (the escalation
        job runs every minute) and acknowledged by them; still open or escalated when "now" comes first."""
        r = self.rng.random
        year = self.year
        due = raised + 15
        escalated = escalated_to = None
        if e.late:
            escalated = math.floor(due) + 1
            doctor, when = on_duty_at(year.duty.get(e.branch, ()), escalated)
            escalated_to = doctor if when <= escalated else None
            acknowledged = escalated + 2 + 8 * r()
            acknowledger = escalated_to or e.practitioner
        else:
            acknowledged = raised + min(14.5, ACK_MEDIAN_MINUTES * math.exp(0.6 * self.rng.gauss(0, 1)))
            acknowledger = e.practitioner
        status, version = "open", 1
        if escalated is not None and escalated <= END_MINUTE:
            status, version = "escalated", 2
        else:
            escalated = escalated_to = None
        if acknowledged <= END_MINUTE:
            status, version = "acknowledged", version + 1
        else:
            acknowledged = acknowledger = None
        action = ACTIONS_TAKEN[int(r() * len(ACTIONS_TAKEN))] if acknowledged is not None else ""
        minutes = 15
        events = [("raised", raised, e.item.reader if e.item else None, e.finding[:200]),
                  ("notified", raised, e.practitioner,
                   f"已通知开单机构，请于{minutes}分钟内确认 (notified; acknowledge within {minutes} min)")]
        if escalated is not None:
            late_by = int(escalated - raised)
            detail = (f"{late_by}分钟未确认，已升级至值班医生 (escalated to the duty doctor)" if escalated_to
                      else f"{late_by}分钟未确认；无值班医生排班，已升级至该机构 (no duty doctor rostered: escalated "
                      "to the organisation)")
            events.append(("escalated", escalated, escalated_to, detail))
            self.counts.escalated += 1
        if acknowledged is not None:
            events.append(("acknowledged", acknowledged, acknowledger,
                           action + ("（超时确认 late）" if acknowledged > due else "")))
        self.counts.critical += 1
        e.alert = (acknowledged,)
        return {"status": status, "version": version, "due": due, "escalated": escalated,
                "escalated_to": escalated_to, "acknowledged": acknowledged, "acknowledged_by": acknowledger,
                "action": action, "events": events}

    def alert(self, e: Exam, request_id: int, raised: float, observation: int | None) -> None:
        rule = self.year.ref.rules.get(e.critical or "")
        life = self.lifecycle(e, raised)
        at = self.stamp
        alert_id = self.new_id(CriticalAlert)
        self.put(CriticalAlert, (
            alert_id, _uuid(self.bits), self.cid, request_id, e.resident, rule[0] if rule else None, observation,
            e.finding[:200], life["status"], at(raised), e.item.reader if e.item else None, e.org, e.practitioner,
            at(life["due"]), at(life["escalated"]), life["escalated_to"], at(life["acknowledged"]),
            life["acknowledged_by"], life["action"], life["version"]))
        for action, when, who, detail in life["events"]:
            self.put(CriticalAlertEvent, (0, alert_id, action, at(when), who, None, detail[:200]))

    # --- one exam -------------------------------------------------------------------------------------------
    def emit(self, e: Exam, accession: str) -> None:
        year, at, r = self.year, self.stamp, self.rng.random
        plan = year.centres[e.kind]
        type_id, _, loinc, type_name, days, _, modality = year.ref.exam_types[e.code]
        item = e.item
        rid = e.id
        events: list[tuple[str, str, str, float, int | None, str]] = [
            ("create", "", "requested", e.requested, e.practitioner, "")]
        status_reason = ""
        acquisitions: list[tuple] = []
        rank = item.rank if item is not None else 0
        if e.acquired is not None:
            events.append(("acquire", "requested", "acquired", e.acquired, e.practitioner, ""))
            current_at = e.acquired
            if e.returned is not None:
                reasons = RETURN_REASONS["ECG12" if e.kind == CentreKind.ECG else "imaging"]
                reason = reasons[int(r() * len(reasons))]
                checker, _ = on_duty_at(plan.shifts, e.returned)
                events.append(("return", "acquired", "returned", e.returned, checker, reason))
                acquisitions.append((e.acquired, False, e.returned, reason, e.bad_recording))
                if e.reacquired is not None:
                    events.append(("acquire", "returned", "acquired", e.reacquired, e.practitioner, ""))
                    current_at = e.reacquired
                else:
                    status_reason = reason
            if e.status != "returned":
                acquisitions.append((current_at, True, None, "", e.recording))
        else:
            current_at = None
        if e.status == "cancelled":
            reason = CANCEL_REASONS[int(r() * len(CANCEL_REASONS))]
            events.append(("cancel", "requested", "cancelled", e.cancelled, e.practitioner, reason))
            status_reason = reason
        claimed_at = claimed_by = None
        reports: list[tuple] = []
        report_ids: list[int] = []
        if item is not None and e.kind != CentreKind.LAB:
            first = item.first
            if first is not None:
                events.append(("claim", "acquired", "claimed", first[0], first[2], ""))
                events.append(("second_reading", "claimed", "second_reading", first[1], first[2], ""))
                reports.append(["preliminary", first[2], None, first[1], None])
                claimed_at, claimed_by = first[0], first[2]
            if item.claimed is not None:
                events.append(("claim", "second_reading" if first else "acquired", "claimed", item.claimed,
                               item.reader, ""))
                claimed_at, claimed_by = item.claimed, item.reader
            if e.status == "published":
                events.append(("publish", "claimed", "published", e.reported, item.reader, ""))
                author = first[2] if first else item.reader
                reports.append(["final", author, item.reader if first else None, e.reported, e.reported])
        elif e.status == "published":  # laboratory: released by the verifying reader
            events.append(("report_results", "acquired", "published", e.reported, item.reader, ""))
            reports.append(["final", item.reader, item.reader, e.reported, e.reported])
        if e.revised is not None:
            reviser = item.reader
            events.append(("revise", "published", "published", e.revised, reviser, "补充描述 (description completed)"))
            reports.append(["amended", reviser, None, e.revised, e.revised])
        # reports: every version kept, the last one current
        for version, (status, author, verifier, written, published) in enumerate(reports, start=1):
            last = version == len(reports)
            kept_status = status if last else "superseded"
            report_id = self.new_id(Report)
            report_ids.append(report_id)
            findings = e.findings + ("\n（修订：补充描述）" if status == "amended" else "")
            recognised = e.reported + days * DAY if e.reported is not None and status != "preliminary" else None
            self.put(Report, (report_id, _uuid(self.bits), rid, version, kept_status, last, findings, e.conclusion,
                              e.template, bool(e.critical) and status != "preliminary", author, verifier,
                              "补充描述 (description completed)" if status == "amended" else "", at(written),
                              at(published), at(recognised)))
        # acquisitions, files, the pre-read
        current_acquisition = None
        for acquired_at, current, returned_at, reason, recording in acquisitions:
            acquisition_id = self.new_id(Acquisition)
            values = self.acquisition_values(e, recording, acquired_at, accession)
            self.put(Acquisition, (acquisition_id, _uuid(self.bits), rid, values["kind"], current, at(acquired_at),
                                   e.practitioner, values.get("sample_rate"), values.get("lead_names", []),
                                   values.get("duration"), values.get("orthanc", ""), values.get("study_uid", ""),
                                   values.get("series", []), values.get("specimen_type", ""),
                                   values.get("specimen_id", ""), at(values.get("collected")), values.get("site", ""),
                                   values.get("note", ""), at(returned_at), reason))
            for blob, filename, media_type, role in values.get("files", ()):
                self.put(Attachment, (0, _uuid(self.bits), acquisition_id, blob, filename, media_type, role, ""))
            if current:
                current_acquisition = acquisition_id
        if e.kind == CentreKind.ECG and current_acquisition is not None and e.recording is not None:
            pre = e.recording.pre_read
            self.put(EcgPreRead, (0, rid, current_acquisition, _text_decimal(pre.heart_rate, 1),
                                  _text_decimal(pre.rr_cv, 3), _whole(pre.pr_ms), _whole(pre.qrs_ms),
                                  _whole(pre.qt_ms), _whole(pre.qtc_ms), _text_decimal(pre.signal_quality, 3),
                                  list(pre.flags or []), bool(pre.critical), max(0, min(999, int(pre.score or 0))),
                                  str(pre.algorithm or "")[:40], at(current_at), max(0, int(pre.elapsed_ms or 0))))
        # the shared record
        observation_for_alert = None
        if e.status == "published":
            done = e.reported
            if e.kind == CentreKind.LAB:
                for code, display, quantity, unit, low, high, flag in e.results:
                    oid = self.new_id(Observation)
                    self.put(Observation, (oid, _uuid(self.bits), self.cid, e.resident, e.encounter, "laboratory",
                                           code, display[:100], _plain(quantity), unit, "",
                                           _plain(low) if low is not None else None,
                                           _plain(high) if high is not None else None, flag, "final",
                                           at(e.observed), plan.organization_id, item.reader, at(done)))
                    self.put(ExamRequest.observations.through, (0, rid, oid))
                    if code == e.critical:
                        observation_for_alert = oid
            else:
                oid = self.new_id(Observation)
                category = "exam" if e.kind == CentreKind.ECG else "imaging" if e.kind == CentreKind.IMAGING \
                    else "laboratory"
                final = reports[-1]
                self.put(Observation, (oid, _uuid(self.bits), self.cid, e.resident, e.encounter, category,
                                       (loinc or e.code)[:20], type_name[:100], None, "", e.conclusion[:200],
                                       None, None, "A" if e.critical else "",
                                       "amended" if e.revised is not None else "final", at(current_at),
                                       plan.organization_id, final[2] or final[1], at(done)))
                self.put(ExamRequest.observations.through, (0, rid, oid))
            if e.critical:
                self.alert(e, rid, done, observation_for_alert)
        # recognition
        recognised_report = None
        if e.repeat_of is not None:
            recognised_report = e.repeat_of.id_report
            if recognised_report is None:  # its report comes with an HL7 message below
                self.deferred.append(("repeated", e, e.repeat_of, e.requested, e.org, e.practitioner))
            else:
                self.put(RecognitionCheck, (0, self.cid, e.resident, type_id, recognised_report, e.org,
                                            e.practitioner, "repeated", e.repeat_reason, rid, at(e.requested)))
        e.id_report = report_ids[-1] if report_ids and e.status == "published" else None
        for when, org, practitioner in e.avoided:
            if e.id_report is None:
                self.deferred.append(("avoided", None, e, when, org, practitioner))
            else:
                self.put(RecognitionCheck, (0, self.cid, e.resident, type_id, e.id_report, org, practitioner,
                                            "avoided", "", None, at(when)))
        for action, source, target, when, who, reason in events:
            self.put(ExamEvent, (0, rid, action, source, target, at(when), None, who, reason))
        acknowledged = e.alert[0] if e.alert else None
        self.put(ExamRequest, (
            rid, _uuid(self.bits), self.cid, e.resident, e.encounter, type_id, plan.id, e.org, e.practitioner,
            e.question, e.priority, e.status, rank, accession, at(e.requested), at(current_at), at(claimed_at),
            at(e.reported), at(acknowledged), at(e.cancelled), claimed_by if e.status in (
                "claimed", "second_reading", "published") else None, status_reason, recognised_report,
            e.repeat_reason if recognised_report else "", None, len(events), at(max(ev[3] for ev in events))))

    def acquisition_values(self, e: Exam, recording: PoolRecording | None, acquired_at: float, accession: str
                           ) -> dict[str, Any]:
        year = self.year
        if e.kind == CentreKind.ECG:
            assert recording is not None
            return {"kind": "ecg_wfdb", "sample_rate": recording.sample_rate, "lead_names": recording.lead_names,
                    "duration": f"{ECG_SECONDS:.2f}",
                    "files": [(year.blobs[recording.name][0], f"{recording.name}.hea", "text/plain", "wfdb-header"),
                              (year.blobs[recording.name][1], f"{recording.name}.dat", "application/octet-stream",
                               "wfdb-data")]}
        if e.kind == CentreKind.IMAGING:
            modality = year.ref.exam_types[e.code][6] or "DX"
            uploaded = e.dicom if acquired_at == (e.reacquired or e.acquired) else None
            if uploaded:
                return {"kind": "dicom", "orthanc": uploaded["orthanc_study_id"],
                        "study_uid": uploaded["study_instance_uid"], "series": uploaded["series"]}
            self.counts.dicom_references += 1
            return {"kind": "dicom", "study_uid": _dicom_uid(self.bits), "series": [
                {"orthanc_id": "", "uid": _dicom_uid(self.bits), "modality": modality,
                 "description": year.ref.exam_types[e.code][3], "instances": []}],
                "note": "合成影像引用，无像素数据 (synthetic reference: no images in Orthanc)"}
        if e.kind == CentreKind.LAB:
            return {"kind": "lab", "specimen_type": SPECIMENS.get(e.code, "血清"),
                    "specimen_id": accession, "collected": e.collected}
        slide = year.slides[int(self.rng.random() * len(year.slides))]
        return {"kind": "pathology", "specimen_type": "术中冰冻组织" if e.code == "FROZEN" else "活检组织",
                "specimen_id": accession, "collected": acquired_at - 5, "site": e.specimen,
                "files": [(slide, "slide-1.png", "image/png", "slide")]}


def _text_decimal(value: Any, places: int) -> str | None:
    return None if value is None else f"{float(value):.{places}f}"


def _whole(value: Any) -> int | None:
    return None if value is None else max(0, int(round(float(value))))


# --- loading the year -------------------------------------------------------------------------------------------
HL7_MESSAGES = 40  # the newest lab results go through lab.make_oru + lab.receive (each ~25 ms on SQLite); the rest
# are written in bulk the way publish_lab_results writes them
DICOM_UPLOADS = 50  # synthetic studies sent to a reachable Orthanc (the newest acquisitions); the rest: references


def store_blobs(year: ExamYear) -> None:
    """The pool's WFDB files and the slide images, once each (content-addressed: a county of any size stores
    the same few dozen files)."""
    import hashlib

    contents: dict[str, bytes] = {}
    year.blobs = {}
    for recording in year.pool:
        digests = []
        for content in (recording.header, recording.data):
            digest = hashlib.sha256(content).hexdigest()
            contents[digest] = content
            digests.append(digest)
        year.blobs[recording.name] = (digests[0], digests[1])
    year.slides = []
    for content in slide_pool(year.seed):
        digest = hashlib.sha256(content).hexdigest()
        contents[digest] = content
        year.slides.append(digest)
    known = set(Blob.objects.using(year.using).filter(sha256__in=list(contents)).values_list("sha256", flat=True))
    Blob.objects.using(year.using).bulk_create(
        [Blob(sha256=d, content=c, size=len(c)) for d, c in contents.items() if d not in known],
        ignore_conflicts=True)


def upload_dicom(year: ExamYear, exams: Sequence[Exam], accessions: dict[int, str], limit: int) -> int:
    """Synthetic DICOM studies (imaging.synthetic_dicom) for the newest imaging acquisitions, sent to the Orthanc
    of the settings when it answers with our credentials; their Acquisitions keep Orthanc's references."""
    if limit <= 0:
        return 0
    from countycare.core.errors import DomainError
    from countycare.diagnostics import imaging
    from countycare.registry.models import Resident

    client = imaging.OrthancClient()
    if not client.alive():
        return 0
    chosen = sorted((e for e in exams if e.kind == CentreKind.IMAGING and e.acquired is not None
                     and e.status != "returned"), key=lambda e: -(e.reacquired or e.acquired))[:limit]
    residents = Resident.objects.using(year.using).in_bulk({e.resident for e in chosen})
    bits = stream(year.seed, "diagnostics", "dicom").getrandbits
    done = 0
    for e in chosen:
        person = residents[e.resident]
        modality = year.ref.exam_types[e.code][6] or "DX"
        when = year.stamp.local(e.reacquired or e.acquired).replace(tzinfo=None)  # type: ignore[arg-type]
        try:
            content = imaging.synthetic_dicom(
                patient_name=person.name, patient_id=person.national_id or str(person.uuid), modality=modality,
                study_uid=_dicom_uid(bits), seed=e.id, size=128, accession_number=accessions[e.id],
                study_datetime=when, sex=person.sex, birth_date=person.birth_date,
                description=year.ref.exam_types[e.code][3])
            answer = client.upload(content)
            e.dicom = client.references(answer["ParentStudy"])
        except (DomainError, ValueError, KeyError):
            continue
        done += 1
    return done


def start_pool(seed: int) -> Any:
    """The ECG pool computed in a forked process while the county is generated (a Future), or None where
    forking is not available."""
    import concurrent.futures
    import multiprocessing

    try:
        context = multiprocessing.get_context("fork")
    except ValueError:
        return None
    executor = concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context)
    future = executor.submit(simulate_pool, seed)
    executor.shutdown(wait=False)
    return future


def load_exams(community_id: int, *, seed: int, as_of: dt.date, loader: BulkLoader,
               pool: Sequence[PoolRecording] | Any | None = None, dicom_uploads: int = 0,
               hl7_messages: int = HL7_MESSAGES, advance: Callable[[int], None] | None = None) -> ExamCounts:
    """A year of exams for a generated county with its year of activity and centres. `pool`: the ECG pool (a
    list, or a Future from start_pool; simulated here when None)."""
    import time

    from countycare.diagnostics.services import accession_number

    clock = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = now - clock
        clock = now

    if pool is None:
        pool = simulate_pool(seed)
    elif hasattr(pool, "result"):
        pool = pool.result()
    lap("ECG pool")
    year = ExamYear(community_id, seed=seed, as_of=as_of, loader=loader, pool=pool)  # type: ignore[arg-type]
    year.read()
    lap("reading the year's encounters")
    year.time_exams()
    year.read_worklists()
    year.settle()
    year.recognise()
    year.write_reports()
    lap("timing, reading, recognition, reports")
    store_blobs(year)
    exams = sorted(year.exams, key=lambda e: e.requested)
    first = loader.reserve_ids(ExamRequest, len(exams))
    accessions: dict[int, str] = {}
    sequence = taken_accessions(year.using)
    for k, e in enumerate(exams):
        e.id = first + k
        day = year.stamp.local(e.requested).date()
        prefix = accession_number(e.kind, day, 0)[:-4]
        n = sequence[prefix] = sequence.get(prefix, 0) + 1
        accessions[e.id] = accession_number(e.kind, day, n)
    year.counts.dicom_uploaded = upload_dicom(year, exams, accessions, dicom_uploads)
    lap("DICOM to Orthanc")
    lab_published = [e for e in exams if e.kind == CentreKind.LAB and e.status == "published"]
    by_hl7 = sorted(lab_published, key=lambda e: -e.reported)[:hl7_messages]  # type: ignore[operator]
    for e in by_hl7:  # loaded as acquired; the HL7 message publishes them below
        e.status, e.hl7 = "acquired", e.reported
        e.reported = None
    rows = ExamRows(year)
    n = len(exams) + 1000
    loader.pool_ids({Report: n * 6 // 5, Acquisition: n * 6 // 5, Observation: 4 * n, CriticalAlert: n // 20,
                     ExamEvent: 4 * n, ExamRequest.observations.through: 4 * n, Attachment: n, EcgPreRead: n,
                     CriticalAlertEvent: n // 10, RecognitionCheck: n // 10})  # ids without a trip each
    with loader.concurrently():  # PostgreSQL: COPY in a worker thread while the next exams become rows
        for k, e in enumerate(exams, start=1):
            rows.emit(e, accessions[e.id])
            if k % EMIT_CHUNK == 0:
                rows.flush()
                if advance:
                    advance(EMIT_CHUNK)
        rows.flush()
        if advance:
            advance(len(exams) % EMIT_CHUNK)
    counts = year.counts
    lap("rows and loading")
    if by_hl7:
        ingest_hl7(year, rows, by_hl7)
    lap("HL7 messages")
    for e in year.exams:
        counts.exams[e.code] = counts.exams.get(e.code, 0) + 1
        counts.status[e.status] = counts.status.get(e.status, 0) + 1
    counts.seconds = seconds
    return counts


def taken_accessions(using: str) -> dict[str, int]:
    """The last sequence number of each accession prefix ("ECG-260302-") already in the database (another
    community's exams): the generated ones continue after them, as services.request_exam would."""
    last: dict[str, int] = {}
    for number in ExamRequest.objects.using(using).values_list("accession_number", flat=True).iterator(
            chunk_size=20_000):
        prefix, _, tail = number.rpartition("-")
        if tail.isdigit():
            last[prefix + "-"] = max(last.get(prefix + "-", 0), int(tail))
    return last


def ingest_hl7(year: ExamYear, rows: ExamRows, exams: Sequence[Exam]) -> None:
    """The laboratory's results as real HL7 v2 ORU^R01 messages (lab.make_oru), received by the platform's own
    path (lab.receive: parsed, matched to the request by accession number, checked against the patient,
    published by services.publish_lab_results with critical values raised) at the simulated time of release;
    the critical values then follow the generated acknowledgement or escalation."""
    from countycare.diagnostics import lab
    from countycare.diagnostics.models import ExamStatus
    from countycare.registry.models import Practitioner

    requests = ExamRequest.objects.using(year.using).select_related("resident", "exam_type", "centre").in_bulk(
        [e.id for e in exams])
    verifiers = Practitioner.objects.using(year.using).in_bulk({e.item.reader for e in exams if e.item})
    stamp = year.stamp
    for e in sorted(exams, key=lambda e: e.hl7):  
        request = requests[e.id]
        when = stamp.local(e.hl7)  
        results = [{"code": code, "value": quantity, "unit": unit} for code, _, quantity, unit, *_ in e.results]
        message = lab.make_oru(request, results, control_id=f"SYN{request.accession_number}",
                               observed_at=stamp.local(e.observed), verifier=verifiers.get(e.item.reader),
                               message_time=when)
        outcome = lab.receive(message, actor=None, now=when)
        year.counts.hl7_messages += 1
        if outcome.code != "AA":
            year.counts.hl7_refused += 1
            continue
        e.status, e.reported = ExamStatus.PUBLISHED, e.hl7  
        for alert in CriticalAlert.objects.using(year.using).filter(request_id=e.id):
            life = rows.lifecycle(e, e.hl7)  
            CriticalAlert.objects.using(year.using).filter(pk=alert.pk).update(
                status=life["status"], version=life["version"], escalated_at=_aware(stamp, life["escalated"]),
                escalated_to_id=life["escalated_to"], acknowledged_at=_aware(stamp, life["acknowledged"]),
                acknowledged_by_id=life["acknowledged_by"], action_taken=life["action"])
            CriticalAlertEvent.objects.using(year.using).bulk_create([
                CriticalAlertEvent(alert_id=alert.pk, action=action, at=stamp.local(when_), practitioner_id=who,
                                   detail=detail[:200])
                for action, when_, who, detail in life["events"] if action in ("escalated", "acknowledged")])
            if life["acknowledged"] is not None:
                ExamRequest.objects.using(year.using).filter(pk=e.id, acknowledged_at__isnull=True).update(
                    acknowledged_at=stamp.local(life["acknowledged"]))
    if rows.deferred:
        reports = dict(Report.objects.using(year.using).filter(
            request_id__in={source.id for _, _, source, *_ in rows.deferred}, current=True).values_list(
            "request_id", "pk"))
        checks = []
        for decision, exam, source, when, org, who in rows.deferred:
            report = reports.get(source.id)
            if report is None:
                continue
            checks.append(RecognitionCheck(
                community_id=year.community_id, resident_id=source.resident,
                exam_type_id=year.ref.exam_types[source.code][0], report_id=report, organization_id=org,
                practitioner_id=who, decision=decision, reason=exam.repeat_reason if exam else "",
                request_id=exam.id if exam else None, at=stamp.local(when)))
            if exam is not None:
                ExamRequest.objects.using(year.using).filter(pk=exam.id).update(
                    recognised_report_id=report, repeat_reason=exam.repeat_reason)
        RecognitionCheck.objects.using(year.using).bulk_create(checks)


def _aware(stamp: Stamps, minute: float | None) -> dt.datetime | None:
    return None if minute is None else stamp.local(minute)


def _exam_models() -> tuple[type, ...]:
    return (ExamRequest, ExamEvent, Acquisition, Attachment, EcgPreRead, Report, ExamRequest.observations.through,
            CriticalAlert, CriticalAlertEvent, RecognitionCheck, RosterShift)


EXAM_MODELS = _exam_models()


def exams_expected(population: int) -> dict:
    """Rows the exam tables are about to receive (roughly): below this they get their indexes dropped and rebuilt
    around the load (records' observations hold more than the exams add: theirs stay)."""
    return {ExamRequest: population // 2, ExamEvent: population * 3 // 2, Acquisition: population // 2,
            Attachment: population // 4, EcgPreRead: population // 8, Report: population // 2,
            ExamRequest.observations.through: population,
            # the records' observations hold more rows than the exams add, but their keys checked row by row at
            # the end and their indexes maintained cost more than building them again once: always rebuilt
            Observation: 1 << 40}


# Indexes the exam load appends in ascending order (exams come in id order, each one's rows after it): maintained
# during the load rather than rebuilt after it.
EXAM_APPENDED: dict[type, set[tuple[str, ...]]] = {
    ExamRequest: {("community_id",), ("community_id", "requested_at")},
    ExamEvent: {("request_id",), ("request_id", "at")},
    Acquisition: {("request_id",), ("request_id", "current")},
    Attachment: {("acquisition_id",)},
    EcgPreRead: {("request_id",), ("acquisition_id",)},
    Report: {("request_id",), ("request_id", "current"), ("request_id", "version")},
    ExamRequest.observations.through: {("examrequest_id",), ("examrequest_id", "observation_id")},
}


# --- the demo ---------------------------------------------------------------------------------------------------
LIVE_ECGS = (("sinus", "routine", "胸闷不适，请行心电图检查"), ("af", "urgent", "心悸，脉律不齐，排查心房颤动"),
             ("af_rvr", "routine", "头晕、心悸半天"))


def demo_worklist(community_id: int, *, now: dt.datetime, wanted: int = 3) -> int:
    """When the ECG centre has fewer than `wanted` ECGs waiting, the demo's village doctor sends some now, through
    the platform's own services (request_exam + attach_ecg: parsed and pre-read like any upload), so the demo
    reader, on duty now, has work to claim — a normal tracing, AF, and AF with a rapid rate that the pre-read
    puts at the top. The recordings are the generated pool's, from the database. Returns the ECGs sent."""
    from countycare.accounts.models import User
    from countycare.diagnostics import services
    from countycare.diagnostics.models import ExamStatus
    from countycare.registry.models import Resident

    centre = Centre.objects.filter(community_id=community_id, kind=CentreKind.ECG, active=True).first()
    doctor = User.objects.filter(username="village_doctor", community_id=community_id).first()
    exam_type = ExamType.objects.filter(community__isnull=True, code="ECG12").first()
    if centre is None or doctor is None or exam_type is None or doctor.organization_id is None:
        return 0
    waiting = ExamRequest.objects.filter(centre=centre, status=ExamStatus.ACQUIRED).count()
    if waiting >= wanted:
        return 0
    residents = list(Resident.objects.filter(home_organization_id=doctor.organization_id, merged_into__isnull=True,
                                             birth_date__lt=now.date() - dt.timedelta(days=45 * 365))
                     .order_by("id")[: wanted * 3])
    sent = 0
    for k, (rhythm, priority, question) in enumerate(LIVE_ECGS[: wanted - waiting]):
        files = _pool_files(rhythm, community_id, Attachment)
        if not files or k >= len(residents):
            continue
        at = now - dt.timedelta(minutes=12 - 3 * k)
        request = services.request_exam(user=doctor, resident=residents[k * 3], exam_type=exam_type,
                                        clinical_question=question, priority=priority, repeat_reason="演示 (demo)",
                                        now=at)
        services.attach_ecg(user=doctor, request=request, files=files, expected_version=request.version,
                            now=at + dt.timedelta(minutes=2))
        sent += 1
    return sent


def _pool_files(rhythm: str, community_id: int, attachment: Any) -> list[Any]:
    """The WFDB pair of a pool recording of this rhythm class, as stored for the generated exams."""
    from countycare.diagnostics.services import UploadedFile

    pattern = "^" + rhythm.replace("_", "-") + r"-\d"
    header = (attachment.objects.filter(acquisition__request__community_id=community_id, role="wfdb-header",
                                        filename__regex=pattern).select_related("blob").first())
    if header is None:
        return []
    data = attachment.objects.filter(acquisition_id=header.acquisition_id, role="wfdb-data").select_related(
        "blob").first()
    if data is None:
        return []
    return [UploadedFile(header.filename, "text/plain", bytes(header.blob.content)),
            UploadedFile(data.filename, "application/octet-stream", bytes(data.blob.content))]


# --- figures ----------------------------------------------------------------------------------------------------
def exam_figures(community_id: int, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """The calibration figures of a generated year of exams, from the rows: exams per 1,000 residents a year by
    type, statuses, turnaround per centre (the platform's own queries.turnaround), critical values, recognition.
    Printed by the docs' measurements (docs/synthetic-county.md)."""
    from django.db.models import Count

    from countycare.diagnostics import queries
    from countycare.registry.models import Resident

    residents = Resident.objects.filter(community_id=community_id).count() or 1
    exams = ExamRequest.objects.filter(community_id=community_id)
    by_type = dict(exams.values_list("exam_type__code").annotate(n=Count("id")).values_list("exam_type__code", "n"))
    last = exams.order_by("-requested_at").values_list("requested_at", flat=True).first()
    now = now or last or dt.datetime.now(dt.UTC)
    turnaround = {}
    for centre in Centre.objects.filter(community_id=community_id):
        rows = queries.turnaround(centre, since=now - dt.timedelta(days=366), until=now, now=now)
        turnaround[centre.kind] = {(row.priority or "all"): (row.reported, row.p50_minutes, row.p95_minutes,
                                                             row.share_within_target) for row in rows}
    alerts = CriticalAlert.objects.filter(community_id=community_id)
    return {
        "residents": residents,
        "per_1000": {code: round(n * 1000 / residents, 1) for code, n in sorted(by_type.items())},
        "exams": sum(by_type.values()),
        "status": dict(exams.values_list("status").annotate(n=Count("id")).values_list("status", "n")),
        "turnaround": turnaround,
        "critical": alerts.count(),
        "escalated": alerts.filter(escalated_at__isnull=False).count(),
        "acknowledged": alerts.filter(acknowledged_at__isnull=False).count(),
        "recognition": dict(RecognitionCheck.objects.filter(community_id=community_id).values_list("decision")
                            .annotate(n=Count("id")).values_list("decision", "n")),
    }
