"""The ICD-10 code set in admin (reference data: names, chronic flag, active). Encounters are listed read-only
and without their clinical content: patient data is read only through the scoped, audited pages and APIs, and
admin shows what operations need (where, when, what kind, cost) to trace a record by its uuid."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .icd10 import initials_of
from .models import Encounter, Icd10Code


@admin.register(Icd10Code)
class Icd10CodeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "name_en", "chapter", "chronic", "active", "source")
    list_filter = ("chapter", "chronic", "active")
    search_fields = ("code", "name", "initials", "name_en")
    readonly_fields = ("initials",)
    ordering = ("code",)

    def save_model(self, request: HttpRequest, obj: Icd10Code, form: Any, change: bool) -> None:
        obj.initials = initials_of(obj.name)  # the search key follows the name
        super().save_model(request, obj, form, change)


@admin.register(Encounter)
class EncounterAdmin(admin.ModelAdmin):
    list_display = ("uuid", "organization", "kind", "status", "source", "started_at", "ended_at", "cost_total")
    list_filter = ("kind", "status", "source")
    list_select_related = ("organization",)
    fields = ("uuid", "community", "organization", "department", "kind", "status", "source", "started_at",
              "ended_at", "cost_drugs", "cost_exams", "cost_treatment", "cost_beds", "cost_other", "cost_total",
              "version", "created_at", "updated_at")
    readonly_fields = fields
    show_full_result_count = False  # millions of rows: no COUNT(*) per page

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
