"""Generating a whole county into the configured database: institutions, then people, in one transaction.

    plan_county (county.py)   how many townships, villages, who works where      -> CountyPlan
    load_organizations/staff  organisations, departments, practitioners, postings
    load_people (people.py)   households, residents, tags, identifiers, township by township
    BulkLoader (load.py)      COPY on PostgreSQL / executemany on SQLite, then ANALYZE

A later generator (a year of activity) takes the same seed and the CountyPlan, or reads the county back
from the database, and loads its rows through the same BulkLoader.
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

from .county import CountyPlan, create_community, load_organizations, load_staff, plan_county
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
) -> GenerationReport:
    """Generate a county of `population` residents. Same (population, seed, as_of) -> same data."""
    if population < 100:
        raise ValueError("population must be at least 100")
    progress = progress or SilentProgress()
    as_of = as_of or timezone.localdate()
    started = time.perf_counter()
    plan = plan_county(population=population, seed=seed, as_of=as_of)
    loader = BulkLoader(using)
    with transaction.atomic(using=using):
        advance = progress.phase("机构与人员 organisations and staff", None)
        community = create_community(plan)
        load_organizations(plan, loader)
        practitioners = load_staff(plan, loader)
        advance(1)
        advance = progress.phase("居民 residents", population)
        expected = {
            Household: population * 2 // 5,
            Resident: population,
            ResidentTag: population * 3 // 5,
            ResidentIdentifier: population // 200,
        }
        with loader.indexes_deferred(expected):
            people = load_people(plan, loader, generated_at(as_of), advance)
            advance = progress.phase("索引 indexes and keys", None)
        advance(1)
        commit_started = time.perf_counter()
    commit_seconds = time.perf_counter() - commit_started
    advance = progress.phase("统计信息 ANALYZE", None)
    analyze_started = time.perf_counter()
    loader.analyze(LOADED_MODELS)
    advance(1)
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
    )


@contextmanager
def rich_progress(enabled: bool = True) -> Iterator[ProgressSink]:
    if not enabled:
        yield SilentProgress()
        return
    with RichProgress() as bar:
        yield bar
