"""Generating a whole county into the configured database: institutions, then people, in one transaction.

    plan_county (county.py)   how many townships, villages, who works where      -> CountyPlan
    load_organizations/staff  organisations, departments, practitioners, postings
    load_people (people.py)   households, residents, tags, identifiers, township by township
    load_activity (activity.py) a year of encounters, problems, referrals, slots and bookings, read back from
                              the rows just loaded (so it can run on any generated county)
    BulkLoader (load.py)      COPY on PostgreSQL / executemany on SQLite, then ANALYZE
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from countycare.core.models import Community
from countycare.registry.models import (
    Department,
    Household,
    Organization,
    Posting,
    Practitioner,
    Resident,
    ResidentIdentifier,
    ResidentTag,
)

from .activity import ACTIVITY_APPENDED, ACTIVITY_MODELS, ActivityCounts, load_activity
from .county import CountyPlan, create_community, load_organizations, load_staff, plan_county
from .demo import demo_reader
from .diagnostics import (
    EXAM_APPENDED,
    EXAM_MODELS,
    CentresReport,
    ExamCounts,
    exams_expected,
    load_centres,
    load_exams,
    start_pool,
)
from .load import BulkLoader, TableStats
from .people import PeopleCounts, load_people

DEFAULT_SEED = 2026
LOADED_MODELS = (
    Organization,
    Department,
    Practitioner,
    Posting,
    Household,
    Resident,
    ResidentTag,
    ResidentIdentifier,
)


class ProgressSink(Protocol):
    def phase(self, description: str, total: int | None) -> Callable[[int], None]: ...


class SilentProgress:
    def phase(self, description: str, total: int | None) -> Callable[[int], None]:
        return lambda n: None


class RichProgress:
    """A rich progress bar on stderr, one line per phase."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self._last: int | None = None

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish_last()
        self.progress.stop()

    def _finish_last(self) -> None:
        if self._last is not None:
            task = self.progress.tasks[self._last]
            self.progress.update(self._last, total=task.completed or 1, completed=task.completed or 1)

    def phase(self, description: str, total: int | None) -> Callable[[int], None]:
        self._finish_last()
        task = self.progress.add_task(description, total=total)
        self._last = task
        return lambda n: self.progress.advance(task, n)


@dataclass
class GenerationReport:
    community: Community
    plan: CountyPlan
    people: PeopleCounts
    practitioners: int
    seconds: float
    tables: dict[str, TableStats] = field(default_factory=dict)
    analyze_seconds: float = 0.0
    rebuild_seconds: float = 0.0
    commit_seconds: float = 0.0
    activity: ActivityCounts | None = None
    centres: CentresReport | None = None
    exams: ExamCounts | None = None
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step, in order
    phases_cpu: dict[str, float] = field(default_factory=dict)  # this process's CPU seconds per step
    rebuilt: list[tuple[str, float]] = field(default_factory=list)  # index/key statements after loads, seconds


def generated_at(as_of: dt.date) -> dt.datetime:
    """created_at/updated_at of generated rows: the as-of day at 08:00 in the county (deterministic)."""
    return dt.datetime.combine(as_of, dt.time(8, 0), tzinfo=ZoneInfo("Asia/Shanghai"))


def generate_county(
    *,
    population: int,
    seed: int = DEFAULT_SEED,
    as_of: dt.date | None = None,
    progress: ProgressSink | None = None,
    using: str = "default",
    activity: bool = False,
    exams: bool | None = None,
    dicom_uploads: int = 0,
    hl7_messages: int = 0,
    ecg_pool: object = None,
) -> GenerationReport:
    """Generate a county of `population` residents, and with `activity` a year of its care on top (the
    `generate` and `demo` commands ask for it) with the year's exams at the shared centres (`exams`, default:
    with the activity; `dicom_uploads` synthetic studies go to the Orthanc of the settings when it answers,
    the newest `hl7_messages` lab results arrive as HL7 messages; `ecg_pool`: the ECG pool or a Future of it
    from `diagnostics.start_pool`, which the commands start first thing). Same arguments -> same data, except
    what the services write for HL7 messages (their random UUIDs and creation times)."""
    if population < 100:
        raise ValueError("population must be at least 100")
    progress = progress or SilentProgress()
    as_of = as_of or timezone.localdate()
    exams = activity if exams is None else exams and activity
    # the ECG pool, simulated in another process meanwhile (neurokit2 alone takes ~2 s to import)
    pool = (ecg_pool or start_pool(seed)) if exams else None
    started = time.perf_counter()
    phases: dict[str, float] = {}
    phases_cpu: dict[str, float] = {}
    clock = [time.perf_counter(), time.process_time()]

    def lap(name: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        phases[name], phases_cpu[name] = now - clock[0], cpu - clock[1]
        clock[0], clock[1] = now, cpu

    plan = plan_county(population=population, seed=seed, as_of=as_of)
    loader = BulkLoader(using)
    year: ActivityCounts | None = None
    exam_counts: ExamCounts | None = None
    with transaction.atomic(using=using):
        advance = progress.phase("机构与人员 organisations and staff", None)
        community = create_community(plan)
        load_organizations(plan, loader)
        practitioners = load_staff(plan, loader)
        reader = demo_reader(community)
        centres = load_centres(community.pk, seed=seed, as_of=as_of, loader=loader, population=population,
                               demo_reader=reader[0].pk if reader else None)
        advance(1)
        lap("organisations and staff")
        advance = progress.phase("居民 residents", population)
        expected = {
            Household: population * 2 // 5,
            Resident: population,
            ResidentTag: population * 3 // 5,
            ResidentIdentifier: population // 200,
        }
        with loader.indexes_deferred(expected):
            loader.pool_ids(expected)
            with loader.concurrently():
                people = load_people(plan, loader, generated_at(as_of), advance)
            lap("residents")
            advance = progress.phase("索引 indexes and keys", None)
        advance(1)
        lap("residents: indexes and keys")
        if activity:
            advance = progress.phase("一年的就诊与转诊 a year of activity", population)
            expected_activity = activity_expected(population)
            with loader.indexes_deferred(expected_activity, keep=ACTIVITY_APPENDED):
                loader.pool_ids(expected_activity)
                with loader.concurrently():
                    year = load_activity(community.pk, seed=seed, as_of=as_of, loader=loader, advance=advance)
                lap("activity")
                advance = progress.phase("索引 indexes and keys", None)
            advance(1)
            lap("activity: indexes and keys")
        if exams:
            advance = progress.phase("一年的检查 a year of exams", None)
            with loader.indexes_deferred(exams_expected(population), keep=EXAM_APPENDED):
                exam_counts = load_exams(community.pk, seed=seed, as_of=as_of, loader=loader, pool=pool,
                                         dicom_uploads=dicom_uploads, hl7_messages=hl7_messages, advance=advance)
                lap("exams")
                advance = progress.phase("索引 indexes and keys", None)
            advance(1)
            lap("exams: indexes and keys")
        commit_started = time.perf_counter()
    commit_seconds = time.perf_counter() - commit_started
    lap("commit")
    advance = progress.phase("统计信息 ANALYZE", None)
    analyze_started = time.perf_counter()
    loader.analyze(LOADED_MODELS + (ACTIVITY_MODELS if activity else ()) + (EXAM_MODELS if exams else ()))
    advance(1)
    lap("ANALYZE")
    return GenerationReport(
        community=community,
        plan=plan,
        people=people,
        practitioners=practitioners,
        seconds=time.perf_counter() - started,
        tables=loader.stats,
        analyze_seconds=time.perf_counter() - analyze_started,
        rebuild_seconds=loader.rebuild_seconds,
        commit_seconds=commit_seconds,
        activity=year,
        centres=centres,
        exams=exam_counts,
        phases=phases,
        phases_cpu=phases_cpu,
        rebuilt=loader.rebuilt,
    )


def activity_expected(population: int) -> dict:
    """Rows the activity tables are about to receive (roughly): below this they get their indexes dropped and
    rebuilt around the load."""
    from countycare.records.models import Diagnosis, Encounter, Observation, Problem
    from countycare.referrals.models import Booking, CareAccess, CarePlan, Referral, ReferralEvent, Slot

    return {
        Encounter: population * 6,
        Diagnosis: population * 7,
        Observation: population * 8,
        Problem: population // 2,
        Booking: population // 2,
        Referral: population // 15,
        ReferralEvent: population // 4,
        CareAccess: population // 12,
        CarePlan: population // 50,
        Slot: 30_000,
    }


@contextmanager
def rich_progress(enabled: bool = True) -> Iterator[ProgressSink]:
    if not enabled:
        yield SilentProgress()
        return
    with RichProgress() as bar:
        yield bar
