from django.contrib import admin

from .models import AuditEvent, CodeConcept, CodeSystem, Community, Policy

admin.site.site_header = "县域医共体信息平台 CountyCare"
admin.site.site_title = "CountyCare"
admin.site.index_title = "参考数据管理 Reference data"


@admin.register(Community)
class CommunityAdmin(admin.ModelAdmin):
    list_display = ("name", "county_name", "division_code")


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    list_display = ("key", "description", "value", "unit", "community", "source")
    list_filter = ("community",)
    search_fields = ("key", "description")


class CodeConceptInline(admin.TabularInline):
    model = CodeConcept
    extra = 0


@admin.register(CodeSystem)
class CodeSystemAdmin(admin.ModelAdmin):
    list_display = ("title", "url", "version")
    search_fields = ("title", "url")
    inlines = [CodeConceptInline]


@admin.register(CodeConcept)
class CodeConceptAdmin(admin.ModelAdmin):
    list_display = ("code", "display", "display_en", "system", "active")
    list_filter = ("system", "active")
    search_fields = ("code", "display", "display_en")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the trail can be searched but never changed."""

    list_display = ("at", "username", "role", "organization_name", "action", "object_type", "object_id", "reason")
    list_filter = ("action", "object_type", "channel", "role")
    search_fields = ("username", "object_id", "resident_id")
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
