"""Scoped reads of the shared diagnostic centres. CONTRACT SKELETON: signatures are fixed; the services
work fills in the bodies. Every read of patient data is audited (core.audit) like records/referrals."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from .models import Centre, CriticalAlert, ExamRequest, ExamType, Report


def visible_requests(user: Any) -> QuerySet[ExamRequest]:
    """Requests whose resident is in the user's scope (core.scope.resident_filter), plus — for readers —
    every request sent to a centre they read for."""
    raise NotImplementedError


def get_request(user: Any, request_uuid: object, *, channel: str, action: str = "read") -> ExamRequest:
    """One request, audited; NotFound (404) outside scope or unknown; 422 on a malformed uuid."""
    raise NotImplementedError


def requested_by(user: Any, *, status: str | None = None, since: dt.datetime | None = None
                 ) -> QuerySet[ExamRequest]:
    """The requesting clinic's view: requests made by the organisations the user covers, newest first."""
    raise NotImplementedError


def worklist(user: Any, centre: Centre) -> QuerySet[ExamRequest]:
    """The centre's open work in reading order: status acquired/second_reading, then by rank descending,
    then acquired_at ascending (longest waiting first). Claimed items are listed separately
    (`in_progress`)."""
    raise NotImplementedError


def in_progress(user: Any, centre: Centre) -> QuerySet[ExamRequest]:
    raise NotImplementedError


def centres_for(user: Any) -> QuerySet[Centre]:
    """Centres the user reads for (CentreReader rows), or all of the community for admins."""
    raise NotImplementedError


def recognised_result(*, resident: Any, exam_type: ExamType, at: dt.datetime | None = None) -> Report | None:
    """The newest current report of this exam type for the resident that is recognised and still valid at
    `at` (recognised_until > at)."""
    raise NotImplementedError


def reports_of(request: ExamRequest) -> list[Report]:
    """Every version, newest first."""
    raise NotImplementedError


def open_alerts(user: Any) -> QuerySet[CriticalAlert]:
    """Critical values waiting for this user's acknowledgement: notified to them or their organisations,
    or escalated to them."""
    raise NotImplementedError


@dataclass(frozen=True)
class Turnaround:
    centre: Centre
    priority: str | None  # None: all priorities
    reported: int
    p50_minutes: float | None
    p95_minutes: float | None
    within_target: int
    share_within_target: float | None
    waiting: int  # acquired, not yet published
    oldest_waiting_minutes: float | None


def turnaround(centre: Centre, *, since: dt.datetime, until: dt.datetime, now: dt.datetime | None = None
               ) -> list[Turnaround]:
    """Turnaround (acquired_at → reported_at) per priority and overall for requests reported in
    [since, until); p50/p95 computed in the database where it can (PostgreSQL percentile_cont), the same
    answer on SQLite."""
    raise NotImplementedError


def recognition_counts(community_id: int, *, since: dt.datetime, until: dt.datetime) -> dict[str, int]:
    """{"avoided": n, "repeated": m} in the period."""
    raise NotImplementedError
