"""Turnaround (acquired → reported) per priority with p50/p95 and the share within the centre's target,
computed in the database (PostgreSQL percentile_cont; SQLite the same interpolation with window functions),
checked against numbers worked out by hand. Run on both backends."""

from __future__ import annotations

import datetime as dt

from tests.diagnostics.helpers import AT
from tests.diagnostics.services_flow import MINUTE, acquire, claim, order, publish

from countycare.diagnostics import queries


def lab_reported(dx, priority: str, start: dt.datetime, minutes: int) -> None:
    """Acquired at `start`, read and reported `minutes` later."""
    request = order(dx, "BMP", priority=priority, at=start)
    acquire(dx, request, at=start)
    claim(dx, request, at=start + minutes * MINUTE)
    publish(dx, request, at=start + minutes * MINUTE)


def test_turnaround_percentiles_and_share_within_target_worked_out_by_hand(dx):
    dx.centres["lab"].quality_controlled = False  # one patient's repeated panels: no recognised result in the way
    dx.centres["lab"].save()
    # lab targets: routine 240, urgent 60, stat 30 minutes
    for i, minutes in enumerate([40, 10, 300, 30, 20]):
        lab_reported(dx, "routine", AT + i * MINUTE, minutes)
    for i, minutes in enumerate([75, 45]):
        lab_reported(dx, "urgent", AT + (10 + i) * MINUTE, minutes)
    lab_reported(dx, "stat", AT + 20 * MINUTE, 31)
    lab_reported(dx, "routine", AT - 120 * MINUTE, 60)  # reported at 8:00, before the period
    acquire(dx, order(dx, "BMP", at=AT - 30 * MINUTE), at=AT - 30 * MINUTE)  # waiting since 8:30
    waiting_stat = acquire(dx, order(dx, "BMP", priority="stat", at=AT + 60 * MINUTE), at=AT + 60 * MINUTE)
    claim(dx, waiting_stat, at=AT + 61 * MINUTE)  # claimed, still waiting for its report

    rows = queries.turnaround(dx.centres["lab"], since=AT, until=AT + dt.timedelta(days=1),
                              now=AT + 6 * 60 * MINUTE)
    by = {r.priority: r for r in rows}
    assert [r.priority for r in rows] == ["routine", "urgent", "stat", None]

    # routine, sorted 10 20 30 40 300: p50 = x[2] = 30; p95 at h = 0.95 × 4 = 3.8: 40 + 0.8 × 260 = 248
    routine = by["routine"]
    assert (routine.reported, routine.p50_minutes, routine.p95_minutes) == (5, 30.0, 248.0)
    assert (routine.within_target, routine.share_within_target) == (4, 0.8)
    assert (routine.waiting, routine.oldest_waiting_minutes) == (1, 390.0)
    # urgent 45 75: p50 at h = 0.5: 45 + 0.5 × 30 = 60 (within the 60-minute target); p95 at h = 0.95: 73.5
    urgent = by["urgent"]
    assert (urgent.reported, urgent.p50_minutes, urgent.p95_minutes) == (2, 60.0, 73.5)
    assert (urgent.within_target, urgent.share_within_target, urgent.waiting) == (1, 0.5, 0)
    stat = by["stat"]
    assert (stat.reported, stat.p50_minutes, stat.p95_minutes, stat.within_target) == (1, 31.0, 31.0, 0)
    assert (stat.share_within_target, stat.waiting, stat.oldest_waiting_minutes) == (0.0, 1, 300.0)
    # all eight, sorted 10 20 30 31 40 45 75 300: p50 at h = 3.5: 31 + 0.5 × 9 = 35.5;
    # p95 at h = 0.95 × 7 = 6.65: 75 + 0.65 × 225 = 221.25; within 4 + 1 + 0 = 5 of 8
    overall = by[None]
    assert (overall.reported, overall.p50_minutes, overall.p95_minutes) == (8, 35.5, 221.25)
    assert (overall.within_target, overall.share_within_target) == (5, 0.625)
    assert (overall.waiting, overall.oldest_waiting_minutes) == (2, 390.0)


def test_a_period_without_reports_has_no_percentiles(dx):
    rows = queries.turnaround(dx.centres["ecg"], since=AT, until=AT + MINUTE, now=AT)
    assert [(r.reported, r.p50_minutes, r.p95_minutes, r.share_within_target, r.waiting) for r in rows] == [
        (0, None, None, None, 0)] * 4


def test_a_routine_ecg_read_as_stat_is_measured_against_the_stat_target(dx):
    request = order(dx, "ECG12", at=AT)
    acquire(dx, request, at=AT, rhythm="af", heart_rate=150)  # critical pre-read: read as STAT
    claim(dx, request, at=AT + 8 * MINUTE)
    publish(dx, request, at=AT + 8 * MINUTE)
    by = {r.priority: r for r in queries.turnaround(dx.centres["ecg"], since=AT, until=AT + 60 * MINUTE)}
    assert (by["stat"].reported, by["stat"].within_target, by["stat"].p50_minutes) == (1, 1, 8.0)
    assert by["routine"].reported == 0
