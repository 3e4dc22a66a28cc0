"""Assessment policy in admin: the community's own targets, and schemes with their items. Saving a scheme makes a
new immutable version when its items changed; versions, results and scores are read-only here."""

from django.contrib import admin

from . import services
from .models import AssessmentScheme, ComputationRun, IndicatorTarget, SchemeItem, SchemeVersion


@admin.register(IndicatorTarget)
class IndicatorTargetAdmin(admin.ModelAdmin):
    list_display = ("code", "target", "community", "source")
    list_filter = ("community",)


class SchemeItemInline(admin.TabularInline):
    model = SchemeItem
    extra = 1


class SchemeVersionInline(admin.TabularInline):
    model = SchemeVersion
    extra = 0
    fields = ("number", "created_at", "created_by", "items")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(AssessmentScheme)
class AssessmentSchemeAdmin(admin.ModelAdmin):
    list_display = ("name", "community", "active")
    list_filter = ("community", "active")
    inlines = [SchemeItemInline, SchemeVersionInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.publish_scheme_version(scheme=form.instance, user=request.user)


@admin.register(ComputationRun)
class ComputationRunAdmin(admin.ModelAdmin):
    list_display = ("period_kind", "period_start", "period_end", "computed_at", "seconds", "results", "community")
    list_filter = ("period_kind", "community")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
