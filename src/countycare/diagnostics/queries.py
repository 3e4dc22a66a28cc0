"""Scoped reads of the shared diagnostic centres. Every read of patient data is audited (core.audit) like
records/referrals: the functions that return one request audit it; list functions are not audited by
themselves — the page or API that shows the rows calls `audit_listed`."""

from __future__ import annotations

import datetime as dt
import uuid as uuid_lib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Case, CharField, Count, Min, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone

from countycare.core import audit, percentiles
from countycare.core.codes import AGGREGATE_ONLY_ROLES, COMMUNITY_WIDE_ROLES, Role
from countycare.core.errors import InvalidInput, NotFound, PermissionDenied
from countycare.registry import queries as registry_queries
from countycare.registry.scope import covered_organization_ids

from .models import (
    AlertStatus,
    Centre,
    CriticalAlert,
    ExamRequest,
    ExamStatus,
    ExamType,
    Priority,
    RecognitionCheck,
    RecognitionDecision,
    Report,
    ReportStatus,
)
from .scope import reader_centre_ids

LIST_RELATED = ("resident", "exam_type", "centre", "requesting_organization", "requesting_practitioner",
                "claimed_by")
DETAIL_PREFETCH = ("acquisitions__attachments", "events", "critical_alerts")


def _require_patient_access(user: Any) -> None:
    if user is None or not getattr(user, "is_authenticated", False):
        raise PermissionDenied("请先登录 (please sign in)")
    if user.role in AGGREGATE_ONLY_ROLES:
        raise PermissionDenied("卫健局账号只能查看汇总指标，不能查看个人检查 (the bureau sees aggregates, not "
                               "individual exams)")


def visible_requests(user: Any) -> QuerySet[ExamRequest]:
    """Requests whose resident is in the user's scope (core.scope.resident_filter), plus — for readers —
    every request sent to a centre they read for, and the requests of the organisations the user covers (the
    requesting clinic). Not audited: callers audit what they hand out."""
    if (user is None or not getattr(user, "is_authenticated", False) or user.role in AGGREGATE_ONLY_ROLES
            or not user.community_id):
        return ExamRequest.objects.none()
    condition = Q(resident__in=registry_queries.visible_residents(user).values("pk"))
    centres = reader_centre_ids(user)
    if centres:
        condition |= Q(centre_id__in=centres)
    covered = covered_organization_ids(user) if user.role != Role.RESIDENT else set()
    if covered:
        condition |= Q(requesting_organization_id__in=sorted(covered))
    return ExamRequest.objects.filter(condition, community_id=user.community_id)


def parse_uuid(value: object, what: str = "检查申请 exam request") -> uuid_lib.UUID:
    if isinstance(value, uuid_lib.UUID):
        return value
    try:
        return uuid_lib.UUID(str(value))
    except ValueError:
        raise InvalidInput(f"{what}编号格式无效 (malformed id)", field="uuid") from None


def with_detail(qs: QuerySet[ExamRequest]) -> QuerySet[ExamRequest]:
    """What a request's page or API answer shows, in a fixed number of queries."""
    return qs.select_related(*LIST_RELATED, "encounter", "recognised_report").prefetch_related(
        *DETAIL_PREFETCH, Prefetch("reports", queryset=Report.objects.select_related("author", "verifier")
                                   .order_by("-version")))


def get_request(user: Any, request_uuid: object, *, channel: str, action: str = "read") -> ExamRequest:
    """One request, audited; NotFound (404) outside scope or unknown; 422 on a malformed uuid."""
    _require_patient_access(user)
    wanted = parse_uuid(request_uuid)
    request = with_detail(visible_requests(user).filter(uuid=wanted)).order_by().first()
    if request is None:
        raise NotFound("未找到该检查申请，或不在您的管辖范围内 (exam request not found or outside your scope)")
    audit.record(audit.Actor.of(user, channel), action, "ExamRequest", request.uuid,
                 resident_id=request.resident.uuid, detail={"accession": request.accession_number})
    return request


def get_request_by_accession(user: Any, accession_number: str, *, channel: str, action: str = "read"
                             ) -> ExamRequest:
    """One request by its accession number (a barcode scanned at the centre), like `get_request`."""
    _require_patient_access(user)
    request = with_detail(visible_requests(user).filter(accession_number=(accession_number or "").strip()
                                                        )).order_by().first()
    if request is None:
        raise NotFound("未找到该检查号，或不在您的管辖范围内 (accession number not found or outside your scope)")
    audit.record(audit.Actor.of(user, channel), action, "ExamRequest", request.uuid,
                 resident_id=request.resident.uuid, detail={"accession": request.accession_number})
    return request


def audit_listed(user: Any, requests: Iterable[ExamRequest], *, channel: str, action: str = "list",
                 reason: str = "") -> None:
    """Record that these requests (and so their residents) were shown to the user."""
    audit.record_many(audit.Actor.of(user, channel), [
        audit.Entry(action, "ExamRequest", str(r.uuid), resident_id=str(r.resident.uuid), reason=reason,
                    detail={"accession": r.accession_number}) for r in requests
    ])


def requested_by(user: Any, *, status: str | None = None, since: dt.datetime | None = None
                 ) -> QuerySet[ExamRequest]:
    """The requesting clinic's view: requests made by the organisations the user covers, newest first."""
    _require_patient_access(user)
    qs = ExamRequest.objects.filter(community_id=user.community_id,
                                    requesting_organization_id__in=sorted(covered_organization_ids(user)))
    if status is not None:
        if status not in ExamStatus.values:
            raise InvalidInput(f"未知的状态 {status} (unknown status)", field="status")
        qs = qs.filter(status=status)
    if since is not None:
        qs = qs.filter(requested_at__gte=since)
    return qs.select_related(*LIST_RELATED).order_by("-requested_at", "-id")


def _check_centre_access(user: Any, centre: Centre) -> None:
    _require_patient_access(user)
    if centre.community_id != user.community_id:
        raise NotFound("未找到该诊断中心 (centre not found)")
    if centre.pk not in reader_centre_ids(user) and user.role not in COMMUNITY_WIDE_ROLES:
        raise PermissionDenied(f"您不是{centre.name}的诊断医生 (you do not read for this centre)")


def worklist(user: Any, centre: Centre) -> QuerySet[ExamRequest]:
    """The centre's open work in reading order: status acquired/second_reading, then by rank descending,
    then acquired_at ascending (longest waiting first). Claimed items are listed separately
    (`in_progress`)."""
    _check_centre_access(user, centre)
    return (ExamRequest.objects.filter(centre=centre, status__in=[ExamStatus.ACQUIRED, ExamStatus.SECOND_READING])
            .select_related(*LIST_RELATED, "pre_read").order_by("-rank", "acquired_at", "id"))


def in_progress(user: Any, centre: Centre) -> QuerySet[ExamRequest]:
    """Items being read at the centre, the longest claimed first."""
    _check_centre_access(user, centre)
    return (ExamRequest.objects.filter(centre=centre, status=ExamStatus.CLAIMED)
            .select_related(*LIST_RELATED, "pre_read").order_by("claimed_at", "id"))


def centres_for(user: Any) -> QuerySet[Centre]:
    """Centres the user reads for (CentreReader rows), or all of the community for admins."""
    if user is None or not getattr(user, "community_id", None):
        return Centre.objects.none()
    qs = Centre.objects.filter(community_id=user.community_id, active=True).select_related("organization")
    if user.role in COMMUNITY_WIDE_ROLES:
        return qs
    return qs.filter(pk__in=reader_centre_ids(user))


def recognised_result(*, resident: Any, exam_type: ExamType, at: dt.datetime | None = None) -> Report | None:
    """The newest current report of this exam type for the resident that is recognised and still valid at
    `at` (recognised_until > at). An exam type is matched by its code, so a community's own copy of a shipped
    type recognises results of the other."""
    at = at or timezone.now()
    return (Report.objects.filter(request__resident=resident, request__exam_type__code=exam_type.code,
                                  request__status=ExamStatus.PUBLISHED, current=True,
                                  status__in=[ReportStatus.FINAL, ReportStatus.AMENDED], recognised_until__gt=at)
            .select_related("request__exam_type", "request__centre", "author", "verifier")
            .order_by("-request__reported_at", "-id").first())


def reports_of(request: ExamRequest) -> list[Report]:
    """Every version, newest first."""
    return list(Report.objects.filter(request=request).select_related("author", "verifier").order_by("-version"))


def open_alerts(user: Any) -> QuerySet[CriticalAlert]:
    """Critical values waiting for this user's acknowledgement: notified to them or their organisations,
    or escalated to them."""
    _require_patient_access(user)
    condition = Q(notify_organization_id__in=sorted(covered_organization_ids(user)))
    if user.practitioner_id:
        condition |= Q(notify_practitioner_id=user.practitioner_id) | Q(escalated_to_id=user.practitioner_id)
    return (CriticalAlert.objects.filter(condition, community_id=user.community_id,
                                         status__in=[AlertStatus.OPEN, AlertStatus.ESCALATED])
            .select_related("request__exam_type", "request__centre", "resident", "notify_organization",
                            "notify_practitioner", "escalated_to", "rule")
            .order_by("ack_due_at", "id"))


def alert_history(alert: CriticalAlert) -> list[Any]:
    """Every step of a critical value, oldest first."""
    return list(alert.events.select_related("practitioner").order_by("at", "id"))


# --- turnaround --------------------------------------------------------------------------------------------

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


# The priority the worklist used: a routine ECG with a critical pre-read flag was read (and is measured) as STAT.
EFFECTIVE_PRIORITY = "CASE WHEN {rank} >= 2000 THEN 'stat' WHEN {rank} >= 1000 THEN 'urgent' ELSE 'routine' END"
MINUTES = {
    "postgresql": "CAST(EXTRACT(EPOCH FROM (reported_at - acquired_at)) AS double precision) / 60.0",
    # julianday() is a float of days (about 40 µs resolution today): rounded to 6 ms, 30 minutes is 30, not 30.0000002
    "sqlite": "ROUND((julianday(reported_at) - julianday(acquired_at)) * 1440.0, 4)",
}
PRIORITIES = (Priority.ROUTINE, Priority.URGENT, Priority.STAT)


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def turnaround(centre: Centre, *, since: dt.datetime, until: dt.datetime, now: dt.datetime | None = None
               ) -> list[Turnaround]:
    """Turnaround (acquired_at → reported_at) per priority and overall for requests reported in
    [since, until); p50/p95 computed in the database where it can (PostgreSQL percentile_cont), the same
    answer on SQLite (the same interpolation with window functions). Priority is the effective one the
    worklist used (a critical ECG pre-read counts as STAT); each is measured against the centre's target for
    it. Minutes are rounded to 0.01. `waiting`: acquired and not yet reported now (not limited to the
    period). Aggregates only: no patient data, not audited. Rows: routine, urgent, stat, then overall."""
    now = now or timezone.now()
    ops = connection.ops
    table = ops.quote_name(ExamRequest._meta.db_table)
    vendor = "postgresql" if connection.vendor == "postgresql" else "sqlite"
    grp = EFFECTIVE_PRIORITY.format(rank=ops.quote_name("rank"))
    base = (f"SELECT {grp} AS grp, {MINUTES[vendor]} AS m, CASE {grp} WHEN 'stat' THEN %s WHEN 'urgent' THEN %s "
            f"ELSE %s END AS target FROM {table} WHERE centre_id = %s AND reported_at >= %s AND reported_at < %s "
            f"AND acquired_at IS NOT NULL")
    params = [centre.target_stat_minutes, centre.target_urgent_minutes, centre.target_routine_minutes, centre.pk,
              ops.adapt_datetimefield_value(since), ops.adapt_datetimefield_value(until)]
    with connection.cursor() as cursor:
        cursor.execute(percentiles.sql(base, vendor, overall=True), params)
        measured = {row[0]: row[1:] for row in cursor.fetchall()}
    waiting = _waiting(centre, now)
    rows = []
    for priority in (*PRIORITIES, None):
        reported, p50, p95, within = measured.get(priority, (0, None, None, 0))
        count, oldest = waiting.get(priority, (0, None))
        rows.append(Turnaround(
            centre=centre, priority=priority, reported=int(reported or 0), p50_minutes=_round(p50),
            p95_minutes=_round(p95), within_target=int(within or 0),
            share_within_target=round(int(within or 0) / reported, 4) if reported else None,
            waiting=count, oldest_waiting_minutes=oldest))
    return rows


def _waiting(centre: Centre, now: dt.datetime) -> dict[str | None, tuple[int, float | None]]:
    """Acquired and not yet reported, by effective priority and overall: how many, the oldest in minutes."""
    effective = Case(When(rank__gte=2000, then=Value(Priority.STAT.value)),
                     When(rank__gte=1000, then=Value(Priority.URGENT.value)), default=Value(Priority.ROUTINE.value),
                     output_field=CharField())
    rows = list(ExamRequest.objects.filter(
        centre=centre, status__in=[ExamStatus.ACQUIRED, ExamStatus.CLAIMED, ExamStatus.SECOND_READING])
        .annotate(p=effective).values("p").annotate(n=Count("id"), oldest=Min("acquired_at")).order_by())
    found: dict[str | None, tuple[int, float | None]] = {}
    for row in rows:
        found[row["p"]] = (row["n"], row["oldest"])
    overall = [r for r in found.values() if r[1] is not None]
    if found:
        found[None] = (sum(n for n, _ in found.values()), min((o for _, o in overall), default=None))
    return {key: (n, None if oldest is None else round((now - oldest).total_seconds() / 60, 2))
            for key, (n, oldest) in found.items()}


def recognition_counts(community_id: int, *, since: dt.datetime, until: dt.datetime) -> dict[str, int]:
    """{"avoided": n, "repeated": m} in the period."""
    counts = dict.fromkeys(RecognitionDecision.values, 0)
    counts.update(RecognitionCheck.objects.filter(community_id=community_id, at__gte=since, at__lt=until)
                  .values_list("decision").annotate(n=Count("id")).order_by())
    return counts
