"""Shared kernel tables: tenancy, policy numbers, code sets, the audit trail and idempotency keys."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _


class Community(models.Model):
    """One county medical community (医共体). A deployment may host several (a city platform)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=100)
    county_name = models.CharField(_("county"), max_length=50)
    division_code = models.CharField(_("county division code"), max_length=6)

    class Meta:
        verbose_name = _("community")
        verbose_name_plural = _("communities")

    def __str__(self) -> str:
        return self.name


class Policy(models.Model):
    """A policy number from DOMAIN.md (reserved share 0.20, ECG turnaround 30 min...), editable in admin.

    Rows are created from `countycare.core.policy.DEFAULTS`; a community can override a number.
    """

    community = models.ForeignKey(Community, on_delete=models.CASCADE, null=True, blank=True)
    key = models.CharField(_("key"), max_length=80)
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=4)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    description = models.CharField(_("description"), max_length=200)
    source = models.CharField(_("source"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("policy number")
        verbose_name_plural = _("policy numbers")
        constraints = [
            models.UniqueConstraint(fields=["community", "key"], name="policy_unique_per_community"),
            models.UniqueConstraint(
                fields=["key"], condition=models.Q(community__isnull=True), name="policy_unique_default"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} = {self.value.normalize() if isinstance(self.value, Decimal) else self.value}"


class CodeSystem(models.Model):
    """A code set with its canonical URI and where it comes from."""

    url = models.URLField(_("canonical URL"), max_length=200, unique=True)
    name = models.CharField(_("name"), max_length=100)
    title = models.CharField(_("title"), max_length=200)
    version = models.CharField(_("version"), max_length=40, blank=True)
    source = models.TextField(_("source"), blank=True)

    class Meta:
        verbose_name = _("code system")
        verbose_name_plural = _("code systems")

    def __str__(self) -> str:
        return self.title


class CodeConcept(models.Model):
    system = models.ForeignKey(CodeSystem, on_delete=models.CASCADE, related_name="concepts")
    code = models.CharField(_("code"), max_length=40)
    display = models.CharField(_("display (Chinese)"), max_length=200)
    display_en = models.CharField(_("display (English)"), max_length=200, blank=True)
    definition = models.TextField(_("definition"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("code")
        verbose_name_plural = _("codes")
        constraints = [models.UniqueConstraint(fields=["system", "code"], name="concept_unique_code")]
        ordering = ["system", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.display}"


class AuditEvent(models.Model):
    """Append-only, hash-chained record of every read and write of patient data.

    Who did it is stored as values, not foreign keys, so the record outlives users and organisations
    and its hash never depends on another table. `hash = sha256(prev_hash || canonical fields)`;
    `countycare verifyaudit` recomputes the chain.
    """

    at = models.DateTimeField(_("time"), db_index=True)
    community_id = models.BigIntegerField(null=True)
    user_id = models.BigIntegerField(null=True)
    username = models.CharField(_("user"), max_length=150)
    role = models.CharField(_("role"), max_length=40, blank=True)
    organization_id = models.BigIntegerField(null=True)
    organization_name = models.CharField(_("organisation"), max_length=100, blank=True)
    action = models.CharField(_("action"), max_length=30)
    object_type = models.CharField(_("object type"), max_length=40)
    object_id = models.CharField(_("object"), max_length=64, blank=True)
    resident_id = models.CharField(_("resident"), max_length=36, blank=True, db_index=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    channel = models.CharField(_("channel"), max_length=10, blank=True)  # web / api / fhir / cli
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["id"]
        # Add indexes, never alter columns: SQLite rebuilds a table to alter a column and the rebuild drops
        # the append-only triggers (tests/core/test_audit_chain.py would catch it).
        indexes = [models.Index(fields=["object_id"], name="audit_object")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.object_type} {self.object_id}"

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.pk is not None:
            raise PermissionError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise PermissionError("audit events are append-only")


class IdempotencyRecord(models.Model):
    """The stored answer to a write that carried an Idempotency-Key, replayed if the key comes again."""

    key = models.CharField(max_length=200)
    user_id = models.BigIntegerField()
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    headers = models.JSONField(default=dict)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user_id", "key"], name="idempotency_unique_key")]
