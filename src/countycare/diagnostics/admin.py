"""Reference data of the shared centres in admin: centres with their readers, the roster (centre shifts and
duty doctors), exam types, report templates and critical-value rules (editable). Exam requests are listed
read-only and without their clinical content (no resident, no question, no report): patient data is read
only through the scoped, audited pages and APIs; admin shows what operations need to trace a request by its
accession number — where, what, when, and its status."""

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from .models import Centre, CentreReader, CriticalRule, ExamRequest, ExamType, ReportTemplate, RosterShift
from .reference import DEFAULT_TARGETS


class CentreReaderInline(admin.TabularInline):
    model = CentreReader
    extra = 1
    autocomplete_fields = ("practitioner",)


class CentreForm(forms.ModelForm):
    """A new centre starts from its kind's default targets (reference.DEFAULT_TARGETS) if left empty."""

    class Meta:
        model = Centre
        fields = "__all__"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("target_routine_minutes", "target_urgent_minutes", "target_stat_minutes"):
            self.fields[name].required = False
            self.fields[name].help_text = "留空则用该类中心的默认时限 (empty: the kind's default, docs/diagnostics.md)"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        defaults = DEFAULT_TARGETS.get(data.get("kind") or "")
        if defaults:
            for name, value in zip(("target_routine_minutes", "target_urgent_minutes", "target_stat_minutes"),
                                   defaults, strict=True):
                if data.get(name) in (None, ""):
                    data[name] = value
        return data


@admin.register(Centre)
class CentreAdmin(admin.ModelAdmin):
    form = CentreForm
    list_display = ("name", "kind", "organization", "quality_controlled", "target_routine_minutes",
                    "target_urgent_minutes", "target_stat_minutes", "active")
    list_filter = ("kind", "quality_controlled", "active", "community")
    list_select_related = ("organization",)
    search_fields = ("name", "name_en", "organization__name")
    autocomplete_fields = ("organization",)
    inlines = (CentreReaderInline,)
    fieldsets = (
        (None, {"fields": ("community", "organization", "kind", ("name", "name_en"), "quality_controlled",
                           "active")}),
        ("报告时限（分钟）Turnaround targets (minutes)", {"fields": (
            ("target_routine_minutes", "target_urgent_minutes", "target_stat_minutes"),)}),
    )


@admin.register(RosterShift)
class RosterShiftAdmin(admin.ModelAdmin):
    """Centre shifts (centre set) and duty doctors (centre empty: 值班医生, who receive escalated critical
    values)."""

    list_display = ("practitioner", "organization", "centre", "starts_at", "ends_at")
    list_filter = ("centre", "organization__org_type")
    list_select_related = ("practitioner", "organization", "centre")
    search_fields = ("practitioner__name", "organization__name")
    autocomplete_fields = ("practitioner", "organization")
    date_hierarchy = "starts_at"


@admin.register(ExamType)
class ExamTypeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "centre_kind", "modality", "loinc", "recognition_days", "community", "active")
    list_filter = ("centre_kind", "active", "community")
    list_editable = ("recognition_days", "active")
    search_fields = ("code", "name", "name_en", "loinc")


@admin.register(ReportTemplate)
class ReportTemplateAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "centre_kind", "exam_type_code", "community", "active")
    list_filter = ("centre_kind", "active", "community")
    search_fields = ("code", "name", "findings", "conclusion")


@admin.register(CriticalRule)
class CriticalRuleAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "centre_kind", "low", "high", "unit", "community", "active")
    list_filter = ("centre_kind", "active", "community")
    list_editable = ("active",)
    search_fields = ("code", "name")


@admin.register(ExamRequest)
class ExamRequestAdmin(admin.ModelAdmin):
    list_display = ("accession_number", "exam_type", "centre", "requesting_organization", "priority", "status",
                    "requested_at", "acquired_at", "reported_at")
    list_filter = ("status", "priority", "centre")
    list_select_related = ("exam_type", "centre", "requesting_organization")
    search_fields = ("accession_number",)
    fields = ("uuid", "accession_number", "community", "exam_type", "centre", "requesting_organization",
              "priority", "status", "rank", "requested_at", "acquired_at", "claimed_at", "reported_at",
              "acknowledged_at", "cancelled_at", "version", "updated_at")
    readonly_fields = fields
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
