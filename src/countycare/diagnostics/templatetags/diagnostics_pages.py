"""Display helpers of the diagnostics pages: exam statuses, minutes waited, pre-read numbers."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from django import template
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext as _

from countycare.diagnostics.models import AlertStatus, ExamStatus, Priority, ReportStatus

register = template.Library()
ENUMS: dict[str, Any] = {"exam": ExamStatus, "report": ReportStatus, "alert": AlertStatus, "priority": Priority}
# Exam and report statuses share English words with referrals ("Requested", "Final") whose Chinese differs:
# the pages say them with a context of their own.
CONTEXT_LABELS: dict[str, dict[str, Any]] = {
    "exam": {
        ExamStatus.REQUESTED: pgettext_lazy("exam status", "Requested"),
        ExamStatus.ACQUIRED: pgettext_lazy("exam status", "Acquired, waiting for a reader"),
        ExamStatus.RETURNED: pgettext_lazy("exam status", "Returned by quality control"),
        ExamStatus.CLAIMED: pgettext_lazy("exam status", "Being read"),
        ExamStatus.SECOND_READING: pgettext_lazy("exam status", "Waiting for a second reading"),
        ExamStatus.PUBLISHED: pgettext_lazy("exam status", "Reported"),
        ExamStatus.CANCELLED: pgettext_lazy("exam status", "Cancelled"),
    },
    "report": {
        ReportStatus.PRELIMINARY: pgettext_lazy("report status", "Preliminary, for second reading"),
        ReportStatus.FINAL: pgettext_lazy("report status", "Final"),
        ReportStatus.AMENDED: pgettext_lazy("report status", "Amended"),
        ReportStatus.SUPERSEDED: pgettext_lazy("report status", "Superseded by a later version"),
    },
    "centre": {
        "ecg": pgettext_lazy("centre kind", "ECG"),
        "imaging": pgettext_lazy("centre kind", "Imaging"),
        "lab": pgettext_lazy("centre kind", "Laboratory"),
        "pathology": pgettext_lazy("centre kind", "Pathology"),
    },
}


@register.filter
def dxlabel(code: str | None, kind: str) -> str:
    """The translated label of a stored code: {{ event.to_status|dxlabel:"exam" }}."""
    if not code:
        return ""
    if code in CONTEXT_LABELS.get(kind, {}):
        return str(CONTEXT_LABELS[kind][code])
    enum = ENUMS[kind]
    return str(enum(code).label) if code in enum.values else code


@register.filter
def minutes_since(moment: dt.datetime | None, now: dt.datetime | None = None) -> int | str:
    """Whole minutes from a moment to now (the page's `now`, so one page shows one clock)."""
    if moment is None:
        return ""
    return max(int(((now or timezone.now()) - moment).total_seconds() // 60), 0)


@register.filter
def duration(minutes: float | int | None) -> str:
    """Minutes as the page shows them: 42 分钟 / 3 小时 05 分 / 2 天 4 小时 (diagnostics.js writes the same)."""
    if minutes is None or minutes == "":
        return "—"
    total = max(int(round(float(minutes))), 0)
    days, rest = divmod(total, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        if not hours:
            return _("%(days)s d") % {"days": days}
        return _("%(days)s d %(hours)s h") % {"days": days, "hours": hours}
    if hours:
        if not mins:
            return _("%(hours)s h") % {"hours": hours}
        return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": f"{mins:02d}"}
    return _("%(minutes)s min") % {"minutes": mins}


@register.filter
def plain(value: Decimal | None) -> str:
    """A stored decimal as a clinician writes it: 3.5000 → 3.5, 57.0000 → 57."""
    if value is None or value == "":
        return ""
    text = f"{Decimal(value).normalize():f}"
    return text


@register.filter
def percent(share: float | None) -> str:
    return "—" if share is None else f"{float(share) * 100:.0f}%"


@register.filter
def isoformat(moment: dt.datetime | None) -> str:
    return moment.isoformat() if moment else ""


def _ecg_flags() -> tuple[dict[str, str], frozenset[str]]:
    try:
        from countycare.diagnostics import ecg
    except ImportError:  # pragma: no cover - the ECG module ships with the app
        return {}, frozenset()
    return dict(getattr(ecg, "FLAGS", {})), frozenset(getattr(ecg, "CRITICAL_FLAGS", frozenset()))


@register.filter
def flag_label(code: str) -> str:
    """The label of an ECG pre-read flag in the page's language: ecg.FLAGS says "中文 / English"."""
    label = _ecg_flags()[0].get(code, code)
    chinese, _sep, english = label.partition(" / ")
    return (english or chinese) if get_language() == "en" else chinese


@register.filter
def flag_critical(code: str) -> bool:
    return code in _ecg_flags()[1]


@register.simple_tag
def duration_units() -> str:
    """The `duration` formats for diagnostics.js's live counters, in the page's language (JSON)."""
    text = json.dumps({"d": _("%(days)s d %(hours)s h"), "d0": _("%(days)s d"),
                       "h": _("%(hours)s h %(minutes)s min"), "h0": _("%(hours)s h"),
                       "m": _("%(minutes)s min")}, ensure_ascii=False)
    return mark_safe(text.replace("<", "\\u003c"))  # noqa: S308 - JSON inside <script>, "<" escaped
