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


class AuditFilterForm(forms.Form):
    username = forms.CharField(label=_("User"), required=False, max_length=150)
    action = forms.ChoiceField(label=_("Action"), required=False, choices=AUDIT_ACTIONS)
    resident = forms.UUIDField(label=_("Resident ID"), required=False)
    day = forms.DateField(label=_("Day"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

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
