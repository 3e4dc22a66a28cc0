"""The diagnostics' part of a resident's timeline (records.queries.timeline): each exam request at the time it
was ordered, with where it went, its status and, once reported, the current report's conclusion. The
results themselves are records.Observations (an ECG or imaging conclusion, lab values) that the record's own
timeline already shows at the time of the exam."""

from __future__ import annotations

import datetime as dt

from django.urls import NoReverseMatch, reverse

from countycare.records import queries as records_queries
from countycare.registry.models import Resident

from .models import ExamRequest, ExamStatus, Report


def _url(uuid: object) -> str | None:
    try:
        return reverse("diagnostics:exam", args=[uuid])
    except NoReverseMatch:  # the pages are another module's; without them the item simply has no link
        return None


def exam_items(resident: Resident, before: dt.datetime | None, limit: int) -> list[records_queries.TimelineItem]:
    requests = (ExamRequest.objects.filter(resident=resident)
                .select_related("exam_type", "centre", "requesting_organization")
                .only("uuid", "resident", "priority", "status", "requested_at", "status_reason", "exam_type__name",
                      "centre__name", "requesting_organization__name", "accession_number"))
    if before is not None:
        requests = requests.filter(requested_at__lt=before)
    rows = list(requests.order_by("-requested_at", "-id")[:limit])
    published = [r.pk for r in rows if r.status == ExamStatus.PUBLISHED]
    conclusions = dict(Report.objects.filter(request_id__in=published, current=True).order_by()
                       .values_list("request_id", "conclusion")) if published else {}
    items = []
    for r in rows:
        urgent = "" if r.priority == "routine" else f"（{r.get_priority_display()}）"
        detail = f"{r.get_status_display()} · {r.accession_number}"
        if r.pk in conclusions:
            detail = f"{detail}：{conclusions[r.pk]}"
        elif r.status == ExamStatus.CANCELLED and r.status_reason:
            detail = f"{detail}：{r.status_reason}"
        items.append(records_queries.TimelineItem(
            at=r.requested_at, kind="exam", title=f"{r.exam_type.name}{urgent} → {r.centre.name}",
            detail=detail[:300], organization=r.requesting_organization.name, url=_url(r.uuid), obj=r,
        ))
    return items


def register() -> None:
    records_queries.register_timeline_source(exam_items)
