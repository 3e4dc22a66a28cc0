"""Scope widens with the work: the readers of a centre see the record of every resident whose exam was sent
to their centre, for `exam_record_access_days` after the request (and while it is still open), so they can
read earlier results and the history the report needs. The requesting clinic already sees its patients by
the registry's rules."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q
from django.utils import timezone

from countycare.core import policy
from countycare.core.codes import CLINICAL_ROLES
from countycare.core.scope import register_provider

from .models import OPEN_EXAM_STATUSES, CentreReader, ExamRequest


def reader_centre_ids(user: Any) -> list[int]:
    """The centres the user reads for (active CentreReader rows of their practitioner)."""
    if not getattr(user, "practitioner_id", None) or not getattr(user, "community_id", None):
        return []
    return sorted(CentreReader.objects.filter(
        practitioner_id=user.practitioner_id, active=True, centre__community_id=user.community_id,
        centre__active=True).values_list("centre_id", flat=True))


def exam_resident_ids(user: Any, *, now: dt.datetime | None = None) -> list[int]:
    centres = reader_centre_ids(user)
    if not centres:
        return []
    now = now or timezone.now()
    days = int(policy.get("exam_record_access_days", user.community_id))
    since = now - dt.timedelta(days=days)
    return sorted(set(
        ExamRequest.objects.filter(Q(requested_at__gte=since) | Q(status__in=OPEN_EXAM_STATUSES),
                                   centre_id__in=centres).order_by().values_list("resident_id", flat=True)
    ))


def exam_reader_scope(user: Any) -> Q | None:
    # The ids are read first, not nested as a subquery (see referrals.scope: a subquery inside the scope's OR
    # keeps PostgreSQL from combining the search indexes).
    if user.role not in CLINICAL_ROLES or not user.community_id:
        return None
    ids = exam_resident_ids(user)
    return Q(pk__in=ids) if ids else None


def register() -> None:
    register_provider(exam_reader_scope)
