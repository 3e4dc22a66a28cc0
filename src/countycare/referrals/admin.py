"""Reference data of tiered care in admin: the catalogue (editable), published capacity, and the workflow's
history read-only. Referrals and care plans hold patient data: they are read through the scoped, audited
pages and APIs, not here."""

from django.contrib import admin

from .models import CatalogueEntry, Slot


@admin.register(CatalogueEntry)
class CatalogueEntryAdmin(admin.ModelAdmin):
    list_display = ("code_start", "code_end", "name", "list_name", "village_may_treat", "township_may_treat",
                    "county_may_treat", "down_referable", "community", "active")
    list_filter = ("list_name", "village_may_treat", "township_may_treat", "county_may_treat", "down_referable",
                   "active", "community")
    list_editable = ("active",)
    search_fields = ("code_start", "code_end", "name", "name_en")
    fieldsets = (
        (None, {"fields": ("community", ("code_start", "code_end"), ("name", "name_en"), "list_name", "active")}),
        ("分级 Levels", {"fields": (("village_may_treat", "township_may_treat", "county_may_treat"),
                                   "down_referable")}),
        ("转诊标准 Criteria", {"fields": ("up_criteria", "down_criteria", "source")}),
    )


@admin.register(Slot)
class SlotAdmin(admin.ModelAdmin):
    """Capacity is published through the services (they compute the reserved share); admin shows it."""

    list_display = ("__str__", "organization", "department", "kind", "starts_at", "capacity", "reserved",
                    "booked_general", "booked_reserved")
    list_filter = ("kind", "organization__org_type")
    search_fields = ("label", "organization__name")
    date_hierarchy = "starts_at"
    list_select_related = ("organization", "department")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
