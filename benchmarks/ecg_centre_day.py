"""A day at the county ECG centre: ECGs arrive from 200 village clinics over the day, the readers on the roster
claim the top of the worklist, read and report; printed: the p50/p95 turnaround (acquired → reported) overall
and for critical ECGs, the share of critical ECGs read within 10 minutes and the share within the target
(30 minutes; 10 for STAT), with and without the pre-read raising an item on the worklist.

    python benchmarks/ecg_centre_day.py [--mode database|memory] [--ecgs 400,600] [--clinics 200]
        [--days 30] [--seed 2026] [--database-url postgresql://postgres@127.0.0.1:5432/cc_synth_ecgday] [--reuse]

Every ECG is a real recording: a pool simulated with neurokit2 (`diagnostics.ecg.simulate`: sinus rhythms, AF,
bradycardia, tachycardia, wide QRS, noisy; 2% critical rhythms), written as WFDB and pre-read by the platform's
`ecg.analyse`. Each arrival draws a clinic, a time (an hourly profile of clinic hours), a priority and a
rhythm class; a reader's reading time is drawn by class (lognormal).

--mode database (default): the platform itself on a real database, on a simulated clock: each arrival is
`services.request_exam` + `services.attach_ecg` (the WFDB files, parsed and pre-read by the service), each free
reader on duty calls `services.claim_next` and, after the reading time, `services.write_report` (critical ECGs
with critical=True), all with `now=` the simulated time; the roster is RosterShift rows. "Without
pre-read" sets each request's rank back to its priority's after attaching (what a worklist ordered by priority
and waiting time alone would do). A county of 400,000 (200 village clinics; no year of activity) is generated
into the database once (`--reuse` keeps it); each policy runs in a transaction rolled back afterwards.

--mode memory: the same event simulation with the worklist kept in a heap ordered by the same key as
`queries.worklist` (rank descending, then acquisition time), the rank computed by the services' own function
from the same pre-reads: seconds instead of minutes, and the same figures up to ties.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import sys
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(__file__))

# ECGs by hour of the day at a county remote-ECG centre fed by clinics: outpatient hours 08-12 and 14-17:30,
# township emergencies through the evening and night (our choice, shaped after clinic opening hours).
HOURLY = (0.6, 0.5, 0.5, 0.5, 0.5, 0.6, 0.8, 2.0, 7.0, 10.0, 10.0, 8.0, 4.0, 4.0, 7.0, 8.0, 7.0, 4.0, 2.5, 2.0,
          1.8, 1.5, 1.2, 0.8)
# Priority of an ECG from a clinic: (routine, urgent, stat); a critical rhythm is more often ordered STAT (the
# patient has symptoms), but not always: that is what the pre-read is for.
PRIORITIES = {False: (0.78, 0.17, 0.05), True: (0.45, 0.25, 0.30)}
# Reading time (minutes, lognormal median and sigma): a normal tracing, an abnormal one, a critical one (read,
# confirmed with the critical-value button; the phone call to the clinic comes after the report).
READING = {"normal": (3.0, 0.45), "abnormal": (4.5, 0.45), "critical": (5.0, 0.35)}
RESPONSE_MINUTES = 1.0  # a free reader looks at the worklist within a minute (page refresh), uniformly
# The roster: readers on duty by hour, 2 at night, 4 in the day (3 over lunch, taken in turns), 2 in the evening:
# (reader, from hour, to hour) for one day.
ROSTER = (
    (0, 0, 8), (1, 0, 8),
    (2, 8, 18), (3, 8, 18), (4, 8, 12), (4, 13, 18), (5, 8, 13), (5, 14, 18),
    (6, 18, 24), (7, 18, 24),
)


@dataclass
class Ecg:
    index: int
    clinic: int
    arrival: float  # minutes since midnight
    priority: str
    recording: object  # synth.diagnostics.PoolRecording
    critical: bool  # the rhythm is critical (truth, from the class simulated)
    read_minutes: float
    rank_with: int = 0
    rank_without: int = 0


def draw_day(rng: random.Random, pool: list, *, ecgs: int, clinics: int, day: int = 0) -> list[Ecg]:
    from countycare.synth.diagnostics import RHYTHMS

    weights = [math.exp(0.5 * rng.gauss(0, 1)) for _ in range(clinics)]  # clinics differ in size
    by_class: dict[str, list] = {}
    for recording in pool:
        by_class.setdefault(recording.rhythm_class, []).append(recording)
    classes = [r for r in RHYTHMS if r[0] in by_class]
    out = []
    for index in range(ecgs):
        hour = rng.choices(range(24), HOURLY)[0]
        name, _, _, critical, _, _ = rng.choices(classes, [c[4] for c in classes])[0]
        recording = rng.choice(by_class[name])
        priority = rng.choices(("routine", "urgent", "stat"), PRIORITIES[critical])[0]
        kind = "critical" if critical else ("normal" if name == "sinus" else "abnormal")
        median, sigma = READING[kind]
        out.append(Ecg(index, rng.choices(range(clinics), weights)[0], day * 1440 + hour * 60 + rng.random() * 60,
                       priority, recording, critical, median * math.exp(sigma * rng.gauss(0, 1))))
    out.sort(key=lambda e: e.arrival)
    for k, e in enumerate(out):
        e.index = k
    return out


def roster(days: int) -> list[tuple[int, float, float]]:
    return [(reader, d * 1440 + start * 60, d * 1440 + end * 60) for d in range(days) for reader, start, end in ROSTER]


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p  # linear interpolation, as PostgreSQL's percentile_cont
    low = math.floor(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


@dataclass
class Outcome:
    policy: str
    turnaround: dict[int, float]  # ecg index -> minutes acquired → reported
    seconds: float
    board: tuple = ()  # the platform's own turnaround board (queries.turnaround): p50, p95, share within target


def summarise(ecgs: list[Ecg], outcome: Outcome) -> dict[str, object]:
    done = outcome.turnaround
    everyone = [done[e.index] for e in ecgs if e.index in done]
    critical = [e for e in ecgs if e.critical]
    critical_times = [done[e.index] for e in critical if e.index in done]
    target = {"routine": 30, "urgent": 30, "stat": 10}
    within = [e for e in ecgs if e.index in done and done[e.index] <= target[e.priority]]
    return {
        "policy": outcome.policy,
        "reported": len(everyone),
        "p50": percentile(everyone, 0.5),
        "p95": percentile(everyone, 0.95),
        "within_target": len(within) / len(ecgs) if ecgs else None,
        "critical": len(critical),
        "critical_p50": percentile(critical_times, 0.5),
        "critical_p95": percentile(critical_times, 0.95),
        "critical_10": sum(1 for t in critical_times if t <= 10) / len(critical) if critical else None,
        "critical_30": sum(1 for t in critical_times if t <= 30) / len(critical) if critical else None,
        "seconds": outcome.seconds,
    }


def run_memory(ecgs: list[Ecg], shifts: list[tuple[int, float, float]], *, prioritise: bool, seed: int) -> Outcome:
    from countycare.synth.diagnostics import Item, WorklistDay

    started = time.perf_counter()
    rng = random.Random(f"{seed}:response")
    items = [Item(e.index, e.arrival, e.rank_with if prioritise else e.rank_without, e.read_minutes) for e in ecgs]
    WorklistDay(shifts, response=lambda: rng.random() * RESPONSE_MINUTES).run(items)
    return Outcome("with pre-read" if prioritise else "without pre-read",
                   {i.index: i.reported - i.arrival for i in items if i.reported is not None},
                   time.perf_counter() - started)


class Day:
    """The database mode: a generated county's ECG centre, a user for each of its readers and for the doctor
    of each village clinic, the benchmark's roster as RosterShift rows on a day of the generated roster."""

    def __init__(self) -> None:
        self.vendor = ""

    @classmethod
    def prepare(cls, args: argparse.Namespace, shifts: list[tuple[int, float, float]]) -> Day:
        from django.core.management import call_command
        from django.db import connection, transaction
        from django.utils import timezone

        from countycare.accounts.models import User
        from countycare.core.codes import OrganizationType, Role
        from countycare.core.models import Community
        from countycare.diagnostics.models import Centre, CentreReader, CriticalRule, ExamType, RosterShift
        from countycare.registry.models import Organization, Posting, Resident
        from countycare.synth.generate import generate_county

        self = cls()
        self.vendor = connection.vendor
        started = time.perf_counter()
        if args.database_url.startswith("postgres"):
            from pgdatabase import database_exists, recreate_database

            if not (args.reuse and database_exists(args.database_url)):
                recreate_database(args.database_url, force=True)
        call_command("migrate", verbosity=0)
        community = Community.objects.order_by("id").first()
        if community is None:
            population = max(400_000, args.clinics * 2000)
            print(f"generating a county of {population:,} residents (no year of activity) ...", flush=True)
            community = generate_county(population=population, seed=args.seed).community
        self.community = community
        self.centre = Centre.objects.get(community=community, kind="ecg")
        self.exam_type = ExamType.objects.get(community__isnull=True, code="ECG12")
        self.rules = set(CriticalRule.objects.values_list("code", flat=True))
        lead = self.centre.organization
        readers = list(CentreReader.objects.filter(centre=self.centre, active=True).order_by("id")
                       .select_related("practitioner"))
        slots = sorted({r for r, _, _ in shifts})
        self.readers = {slot: readers[k % len(readers)].practitioner for k, slot in enumerate(slots)}
        self.users = {}
        with transaction.atomic():
            for slot, practitioner in self.readers.items():
                self.users[slot] = User.objects.get_or_create(username=f"bench_reader_{practitioner.pk}", defaults={
                    "role": Role.CENTRE_READER, "community": community, "organization": lead,
                    "practitioner": practitioner})[0]
            clinics = list(Organization.objects.filter(community=community, org_type=OrganizationType.VILLAGE_CLINIC)
                           .order_by("id")[: args.clinics])
            self.clinics = []
            for org in clinics:
                posting = Posting.objects.filter(organization=org, role=Role.VILLAGE_DOCTOR).order_by("id").first()
                user = User.objects.get_or_create(username=f"bench_clinic_{org.pk}", defaults={
                    "role": Role.VILLAGE_DOCTOR, "community": community, "organization": org,
                    "practitioner": posting.practitioner if posting else None})[0]
                adults = list(Resident.objects.filter(home_organization=org, merged_into__isnull=True)
                              .order_by("id").values_list("id", flat=True)[:400])
                self.clinics.append((user, adults))
        # the simulated day: the day before the county's as-of day, local midnight
        self.midnight = timezone.make_aware(dt.datetime.combine(timezone.localdate() - dt.timedelta(days=1),
                                                                dt.time(0, 0)))
        self.shifts = shifts
        self.roster = RosterShift
        print(f"database ready in {time.perf_counter() - started:.0f} s: {len(readers)} ECG readers, "
              f"{len(self.clinics)} clinics", flush=True)
        return self

    def at(self, minute: float) -> dt.datetime:
        return self.midnight + dt.timedelta(minutes=minute)

    def run(self, ecgs: list[Ecg], *, prioritise: bool, seed: int) -> Outcome:
        """One day on the platform, in a transaction rolled back at the end (both policies start alike)."""
        from django.db import transaction

        from countycare.diagnostics import queries, services
        from countycare.diagnostics.models import ExamRequest
        from countycare.registry.models import Resident
        from countycare.synth.diagnostics import CRITICAL_RHYTHM_RULES, Item, WorklistDay

        rng = random.Random(f"{seed}:response")
        residents_rng = random.Random(f"{seed}:residents")
        started = time.perf_counter()
        items = [Item(e.index, e.arrival, 0, e.read_minutes) for e in ecgs]
        by_request: dict[int, Item] = {}
        requests: dict[int, object] = {}
        wfdb = {}
        for e in ecgs:
            r = e.recording
            wfdb[r.name] = [services.UploadedFile(f"{r.name}.hea", "text/plain", r.header),
                            services.UploadedFile(f"{r.name}.dat", "application/octet-stream", r.data)]

        def arrive(item: Item, now: float) -> None:
            e = ecgs[item.index]
            user, adults = self.clinics[e.clinic % len(self.clinics)]
            resident = Resident.objects.get(pk=adults[int(residents_rng.random() * len(adults))])
            request = services.request_exam(user=user, resident=resident, exam_type=self.exam_type,
                                            clinical_question="心电图检查 (benchmark)", priority=e.priority,
                                            repeat_reason="benchmark", now=self.at(now - 3))
            services.attach_ecg(user=user, request=request, files=wfdb[e.recording.name],
                                expected_version=request.version, now=self.at(now))
            if not prioritise:
                ExamRequest.objects.filter(pk=request.pk).update(rank=services.worklist_rank(e.priority))
            by_request[request.pk] = item
            requests[item.index] = request

        def claim(reader: int, now: float) -> Item | None:
            request = services.claim_next(user=self.users[reader], centre=self.centre, now=self.at(now))
            if request is None:
                return None
            requests[by_request[request.pk].index] = request
            return by_request[request.pk]

        def report(item: Item, reader: int, now: float) -> None:
            e = ecgs[item.index]
            request = requests[item.index]
            rule = CRITICAL_RHYTHM_RULES.get(e.recording.rhythm_class, "") if e.critical else ""
            services.write_report(user=self.users[reader], request=request, findings="心电图所见 (benchmark)",
                                  conclusion="诊断意见 (benchmark)", expected_version=request.version,
                                  critical=e.critical, critical_finding="危急值 (benchmark)" if e.critical else "",
                                  critical_code=rule if rule in self.rules else "", now=self.at(now))

        with transaction.atomic():
            first, last = self.at(0), self.at(max(end for _, _, end in self.shifts))
            self.roster.objects.filter(centre=self.centre, starts_at__lt=last, ends_at__gt=first).delete()
            self.roster.objects.bulk_create([self.roster(organization_id=self.centre.organization_id,
                                                         centre=self.centre, practitioner=self.readers[reader],
                                                         starts_at=self.at(start), ends_at=self.at(end))
                                             for reader, start, end in self.shifts])
            WorklistDay(self.shifts, response=lambda: rng.random() * RESPONSE_MINUTES, claim=claim, arrive=arrive,
                        report=report).run(items)
            turnaround = {}
            for pk, acquired, reported in ExamRequest.objects.filter(pk__in=list(by_request)).values_list(
                    "pk", "acquired_at", "reported_at"):
                if reported is not None:
                    turnaround[by_request[pk].index] = (reported - acquired).total_seconds() / 60
            board = queries.turnaround(self.centre, since=first, until=last + dt.timedelta(days=1),
                                       now=last + dt.timedelta(days=1))[-1]
            transaction.set_rollback(True)
        return Outcome("with pre-read" if prioritise else "without pre-read", turnaround,
                       time.perf_counter() - started,
                       (board.p50_minutes or 0.0, board.p95_minutes or 0.0, board.share_within_target or 0.0))


def ranks(ecgs: list[Ecg]) -> None:
    """The worklist rank of each ECG with and without its pre-read, by the services' own function."""
    from countycare.diagnostics import services

    for e in ecgs:
        pre = e.recording.pre_read
        e.rank_with = services.worklist_rank(e.priority, critical=pre.critical, score=pre.score)
        e.rank_without = services.worklist_rank(e.priority)


def print_table(rows: list[dict[str, object]]) -> None:
    def m(value: object) -> str:
        return "—" if value is None else f"{value:.1f}"

    def pct(value: object) -> str:
        return "—" if value is None else f"{100 * value:.1f}%"

    print(f"\n{'worklist':<46}{'ECGs':>6}{'p50 min':>9}{'p95 min':>9}{'in target':>11}{'critical':>10}"
          f"{'crit p50':>10}{'crit p95':>10}{'crit ≤10':>10}{'crit ≤30':>10}{'run s':>8}")
    for r in rows:
        print(f"{r['policy']:<46}{r['reported']:>6}{m(r['p50']):>9}{m(r['p95']):>9}{pct(r['within_target']):>11}"
              f"{r['critical']:>10}{m(r['critical_p50']):>10}{m(r['critical_p95']):>10}{pct(r['critical_10']):>10}"
              f"{pct(r['critical_30']):>10}{r['seconds']:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("database", "memory"), default="database",
                        help="database: the day on the platform's services, then the month in memory")
    parser.add_argument("--ecgs", default="400,600",
                        help="ECGs a day, one or several loads (default 400,600: an ordinary and a busy day)")
    parser.add_argument("--clinics", type=int, default=200)
    parser.add_argument("--days", type=int, default=30, help="days simulated in memory for steadier figures")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/cc_synth_ecgday")
    parser.add_argument("--reuse", action="store_true", help="keep the county already in the database")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countycare.settings")
    if args.mode == "database":
        os.environ["COUNTYCARE_DATABASE_URL"] = args.database_url
    else:
        import tempfile

        os.environ.setdefault("COUNTYCARE_DATA_DIR", tempfile.mkdtemp(prefix="ecgday-"))
    import django

    django.setup()
    from countycare.synth.diagnostics import simulate_pool

    started = time.perf_counter()
    pool = simulate_pool(args.seed)
    pool_seconds = time.perf_counter() - started
    flagged = sum(1 for r in pool if r.pre_read.critical)
    caught = [r for r in pool if r.pre_read.critical == any(c[0] == r.rhythm_class and c[3] for c in _rhythms())]
    print(f"pool: {len(pool)} recordings simulated and pre-read in {pool_seconds:.1f} s; the pre-read flags "
          f"{flagged} as critical and agrees with the simulated class (critical or not) on "
          f"{len(caught)}/{len(pool)}")
    shifts = roster(args.days + 1)
    print("roster: readers on duty by hour " + " ".join(
        str(sum(1 for _, s, e in shifts if s <= h * 60 < e)) for h in range(24)))
    day = Day.prepare(args, shifts) if args.mode == "database" else None
    rows = []
    for load in [int(n) for n in args.ecgs.split(",")]:
        rng = random.Random(f"{args.seed}:ecg-day:{load}")
        ecgs = [e for d in range(args.days) for e in draw_day(rng, pool, ecgs=load, clinics=args.clinics, day=d)]
        for k, e in enumerate(ecgs):
            e.index = k
        ranks(ecgs)
        first = [e for e in ecgs if e.arrival < 1440]
        critical = sum(1 for e in ecgs if e.critical)
        flagged_ecgs = sum(1 for e in ecgs if e.recording.pre_read.critical)
        print(f"\n{load} ECGs a day from {args.clinics} clinics over {args.days} days: {critical} with a critical "
              f"rhythm, {flagged_ecgs} flagged critical by the pre-read; priorities "
              + ", ".join(f"{p} {sum(1 for e in ecgs if e.priority == p)}" for p in ("routine", "urgent", "stat")))
        if day is not None:
            outcomes = [day.run(first, prioritise=p, seed=args.seed) for p in (True, False)]
            memory = [run_memory(first, shifts, prioritise=p, seed=args.seed) for p in (True, False)]
            same = all(abs(o.turnaround[k] - m.turnaround.get(k, -1)) < 1e-6
                       for o, m in zip(outcomes, memory, strict=True) for k in o.turnaround)
            print(f"  day 1 on the platform ({day.vendor}: request_exam, attach_ecg, claim_next, write_report on a "
                  f"simulated clock); the memory mode gives the same turnaround for every ECG: "
                  f"{'yes' if same else 'NO'}")
            for o in outcomes:
                print(f"    {o.policy}: queries.turnaround says p50 {o.board[0]:.1f} min, p95 {o.board[1]:.1f} "
                      f"min, {100 * o.board[2]:.1f}% within target ({o.seconds:.0f} s)")
                rows.append(summarise(first, o) | {"policy": f"{load}/day, day 1, db, {o.policy}"})
        for p in (True, False):
            o = run_memory(ecgs, shifts, prioritise=p, seed=args.seed)
            rows.append(summarise(ecgs, o) | {"policy": f"{load}/day, {args.days} d, memory, {o.policy}"})
    print_table(rows)
    print(f"\n(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


def _rhythms():
    from countycare.synth.diagnostics import RHYTHMS

    return RHYTHMS


if __name__ == "__main__":
    main()
