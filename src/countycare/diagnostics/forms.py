"""Forms of the diagnostics pages. They shape input for `diagnostics.services`; the rules (scope, who may act,
the state machine, what a valid ECG or DICOM file is) live in the services and come back as DomainError
messages shown on the page."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from countycare.core.errors import DomainError

from .models import CentreKind, CriticalRule, ExamStatus, ExamType, Priority, ReportTemplate

DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
MAX_FILES = 200  # DICOM series of a CT arrive as one file per slice
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_UPLOAD_BYTES = 300 * 1024 * 1024


class DomainErrorMixin:
    """Show a service's DomainError on the field it names, or above the form."""

    def add_domain_error(self, exc: DomainError) -> None:
        name = exc.field or ""
        self.add_error(name if name in self.fields else None, exc.message)  # type: ignore[attr-defined]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (a WFDB pair, the slices of a study, slide images)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        if not files:
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return []
        if len(files) > MAX_FILES:
            raise ValidationError(_("At most %(n)s files at once.") % {"n": MAX_FILES})
        total = 0
        for f in files:
            super().clean(f, initial)
            total += f.size
            if f.size > MAX_FILE_BYTES:
                raise ValidationError(_("%(name)s is too large (at most 50 MB a file).") % {"name": f.name})
        if total > MAX_UPLOAD_BYTES:
            raise ValidationError(_("The files are too large together (at most 300 MB)."))
        return list(files)


def exam_types_for(community_id: int | None) -> QuerySet[ExamType]:
    """The exam types a clinician may order: the community's own and the shipped defaults (a community row
    of the same code replaces the default)."""
    own = ExamType.objects.filter(community_id=community_id, active=True)
    replaced = own.values_list("code", flat=True)
    return (ExamType.objects.filter(active=True)
            .filter(Q(community_id=community_id) | (Q(community__isnull=True) & ~Q(code__in=replaced)))
            .order_by("centre_kind", "code"))


class ExamTypeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ExamType) -> str:
        return f"{obj.name}{f'（{obj.name_en}）' if obj.name_en else ''}"


class ExamRequestForm(DomainErrorMixin, forms.Form):
    form_token = forms.UUIDField(widget=forms.HiddenInput)
    encounter = forms.UUIDField(widget=forms.HiddenInput, required=False)
    exam_type = ExamTypeChoiceField(label=_("Exam"), queryset=ExamType.objects.none(), empty_label=_("— choose —"))
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices, initial=Priority.ROUTINE,
                                 widget=forms.RadioSelect)
    clinical_question = forms.CharField(
        label=_("Clinical question"), max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": _("What should the reader answer? Symptoms, "
                                                                 "findings, suspected diagnosis.")}))
    repeat_reason = forms.CharField(label=_("Reason to repeat the exam"), max_length=200, required=False,
                                    widget=forms.TextInput(attrs={"autocomplete": "off"}))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["exam_type"].queryset = exam_types_for(user.community_id)
        if not self.is_bound:
            self.initial.setdefault("form_token", uuid.uuid4())


class UseRecognisedForm(forms.Form):
    exam_type = forms.IntegerField(widget=forms.HiddenInput)
    report = forms.UUIDField(widget=forms.HiddenInput)


class VersionForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class ReasonForm(VersionForm):
    reason = forms.CharField(label=_("Reason"), max_length=200, widget=forms.TextInput(attrs={"autocomplete": "off"}))


class FilesForm(VersionForm):
    """An ECG (a WFDB .hea + .dat pair, or one CSV of leads) or the DICOM files of a study."""

    files = MultipleFileField(label=_("Files"))


class SpecimenForm(VersionForm):
    specimen_type = forms.CharField(label=_("Specimen"), max_length=60,
                                    widget=forms.TextInput(attrs={"placeholder": _("e.g. venous blood, serum, "
                                                                                   "gastric biopsy")}))
    specimen_id = forms.CharField(label=_("Specimen number"), max_length=40, required=False)
    collected_at = forms.DateTimeField(label=_("Collected"), required=False, widget=DATETIME_INPUT,
                                       help_text=_("Empty: now."))
    site = forms.CharField(label=_("Body site"), max_length=100, required=False)
    note = forms.CharField(label=_("Note"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    slides = MultipleFileField(label=_("Slide images"), required=False,
                               help_text=_("Pathology: photographs or scans of the slides (PNG, JPEG, TIFF)."))

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if kind != CentreKind.PATHOLOGY:
            for name in ("site", "slides"):
                del self.fields[name]


def templates_for(community_id: int | None, *, kind: str, exam_type_code: str) -> list[ReportTemplate]:
    """The report templates a reader may start from: the community's and the shipped ones of the centre's kind,
    for this exam type or any (a community template of the same code replaces the shipped one)."""
    rows = (ReportTemplate.objects.filter(active=True, centre_kind=kind)
            .filter(Q(exam_type_code="") | Q(exam_type_code=exam_type_code))
            .filter(Q(community_id=community_id) | Q(community__isnull=True))
            .order_by("code", "community_id"))
    by_code: dict[str, ReportTemplate] = {}
    for row in rows:
        if row.code not in by_code or row.community_id is not None:
            by_code[row.code] = row
    return sorted(by_code.values(), key=lambda t: (t.exam_type_code == "", t.code))


def critical_rules_for(community_id: int | None, *, kind: str) -> list[CriticalRule]:
    """The critical findings a reader of this kind of centre may name (ECG, imaging, pathology lists); a
    community's own row of the same code replaces the shipped default."""
    rows = (CriticalRule.objects.filter(active=True, centre_kind=kind)
            .filter(Q(community_id=community_id) | Q(community__isnull=True)).order_by("code", "community_id"))
    by_code: dict[str, CriticalRule] = {}
    for row in rows:
        if row.code not in by_code or row.community_id is not None:
            by_code[row.code] = row
    return list(by_code.values())


REPORT_ACTIONS = ("publish", "second_reading", "critical")


class ReportForm(DomainErrorMixin, VersionForm):
    template_code = forms.ChoiceField(label=_("Template"), required=False)
    findings = forms.CharField(label=_("Findings"), max_length=10000, widget=forms.Textarea(attrs={"rows": 7}))
    conclusion = forms.CharField(label=_("Conclusion"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))
    critical_code = forms.ChoiceField(label=_("Critical finding (list)"), required=False)
    critical_finding = forms.CharField(
        label=_("Critical finding"), max_length=200, required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": _("e.g. acute ST elevation V1–V4, "
                                                                            "ventricular tachycardia")}))
    action = forms.ChoiceField(choices=[(a, a) for a in REPORT_ACTIONS], widget=forms.HiddenInput)

    def __init__(self, *args: Any, templates: list[ReportTemplate], rules: Sequence[CriticalRule] = (),
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template_code"].choices = [("", _("— none —"))] + [(t.code, t.name) for t in templates]
        self.fields["critical_code"].choices = [("", _("— other (describe below) —"))] + [
            (r.code, r.name) for r in rules]
        if not rules:
            del self.fields["critical_code"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        named = (data.get("critical_finding") or "").strip() or data.get("critical_code")
        if data.get("action") == "critical" and not named:
            self.add_error("critical_finding", _("Name the critical finding the clinician is told."))
        return data


class ReviseForm(DomainErrorMixin, ReasonForm):
    findings = forms.CharField(label=_("Findings"), max_length=10000, widget=forms.Textarea(attrs={"rows": 6}))
    conclusion = forms.CharField(label=_("Conclusion"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))
    critical_finding = forms.CharField(label=_("Critical finding (if the revision is critical)"), max_length=200,
                                       required=False)


class AcknowledgeForm(forms.Form):
    action_taken = forms.CharField(label=_("Action taken"), max_length=200, required=False,
                                   widget=forms.TextInput(attrs={"autocomplete": "off",
                                                                 "placeholder": _("e.g. patient called back, "
                                                                                  "referred to the lead hospital")}))


STATUS_FILTERS = [("", _("All")), ("open", _("Open"))] + [(s, label) for s, label in ExamStatus.choices]


class RequestFilterForm(forms.Form):
    status = forms.ChoiceField(choices=STATUS_FILTERS, required=False)
