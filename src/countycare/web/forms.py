"""Forms of the web pages that are not about one domain app."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from countycare.core.models import AuditEvent

AUDIT_ACTIONS = [
    ("", _("All actions")),
    ("search", _("Search")),
    ("read", _("Read")),
    ("create", _("Create")),
    ("update", _("Update")),
    ("merge", _("Merge")),
    ("unmerge", _("Undo merge")),
    ("duplicate-check", _("Duplicate check")),
]


FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(9998, 12, 31)


class AuditFilterForm(forms.Form):
    username = forms.CharField(label=_("User"), required=False, max_length=150)
    action = forms.ChoiceField(label=_("Action"), required=False, choices=AUDIT_ACTIONS)
    resident = forms.UUIDField(label=_("Resident ID"), required=False)
    day = forms.DateField(label=_("Day"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean_day(self) -> dt.date | None:
        """A day whose bounds exist as aware datetimes: year 1 or 9999 would overflow the conversion."""
        day = self.cleaned_data["day"]
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise forms.ValidationError(
                _("Choose a day between %(first)s and %(last)s.") % {"first": FIRST_DAY, "last": LAST_DAY}
            )
        return day

    def apply(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        data = self.cleaned_data
        if data["username"]:
            events = events.filter(username__startswith=data["username"].strip())
        if data["action"]:
            events = events.filter(action=data["action"])
        if data["resident"]:
            events = events.filter(resident_id=str(data["resident"]))
        if data["day"]:
            start = timezone.make_aware(dt.datetime.combine(data["day"], dt.time.min))
            events = events.filter(at__gte=start, at__lt=start + dt.timedelta(days=1))
        return events
