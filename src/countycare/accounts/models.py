"""Users: a login linked to a practitioner (clinicians and managers) or to a resident (their own portal)."""

from __future__ import annotations

import hashlib

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from countycare.core.codes import Role
from countycare.core.models import Community
from countycare.registry.models import Organization, Practitioner, Resident


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=30, choices=Role.choices)
    community = models.ForeignKey(Community, on_delete=models.PROTECT, null=True, blank=True)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("organisation"),
        help_text=_("Where the user works; clinicians also see the organisations of their current postings."),
    )
    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.SET_NULL, null=True, blank=True, related_name="users",
        verbose_name=_("practitioner"),
    )
    resident = models.ForeignKey(
        Resident, on_delete=models.SET_NULL, null=True, blank=True, related_name="users", verbose_name=_("resident")
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @property
    def display_name(self) -> str:
        if self.practitioner_id:
            return self.practitioner.name
        if self.resident_id:
            return self.resident.name
        return self.get_full_name() or self.username


class ApiToken(models.Model):
    """A bearer token for the JSON and FHIR APIs; only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    @staticmethod
    def digest_of(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()
