from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "role", "organization", "practitioner", "is_active", "last_login")
    list_filter = ("role", "is_active", "is_staff")
    list_select_related = ("organization", "practitioner")
    autocomplete_fields = ("organization", "practitioner")
    raw_id_fields = ("resident",)
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("CountyCare"), {"fields": ("role", "community", "organization", "practitioner", "resident")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        (_("CountyCare"), {"fields": ("role", "community", "organization", "practitioner")}),
    )
