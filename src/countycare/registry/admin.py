"""Reference data in admin. Residents are deliberately absent: patient data is read only through the scoped,
audited pages and APIs."""

from django.contrib import admin

from .models import Department, Household, Organization, Posting, Practitioner


class DepartmentInline(admin.TabularInline):
    model = Department
    extra = 0


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "org_type", "level", "division_code", "parent", "is_member", "active")
    list_filter = ("community", "org_type", "level", "is_member")
    search_fields = ("name", "short_name", "division_code")
    list_select_related = ("parent",)
    autocomplete_fields = ("parent",)
    inlines = [DepartmentInline]


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "organization", "specialty", "beds")
    search_fields = ("name", "code", "organization__name")
    list_select_related = ("organization",)


class PostingInline(admin.TabularInline):
    model = Posting
    extra = 0
    autocomplete_fields = ("organization",)


@admin.register(Practitioner)
class PractitionerAdmin(admin.ModelAdmin):
    list_display = ("name", "title", "licence_number", "active")
    list_filter = ("title", "active")
    search_fields = ("name", "licence_number")
    inlines = [PostingInline]


@admin.register(Posting)
class PostingAdmin(admin.ModelAdmin):
    list_display = ("practitioner", "organization", "role", "kind", "start", "end")
    list_filter = ("kind", "role")
    search_fields = ("practitioner__name", "organization__name")
    list_select_related = ("practitioner", "organization")
    autocomplete_fields = ("practitioner", "organization")


@admin.register(Household)
class HouseholdAdmin(admin.ModelAdmin):
    list_display = ("code", "address", "village_code", "home_organization")
    search_fields = ("code",)
    list_select_related = ("home_organization",)
    autocomplete_fields = ("home_organization",)
