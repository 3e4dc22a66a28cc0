"""The unified registry: organisations and their tree, departments, practitioners, postings, residents."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from countycare.core.codes import (
    IdentifierType,
    InsuranceScheme,
    KeyPopulation,
    Level,
    OrganizationType,
    PostingKind,
    Role,
    Sex,
    Title,
)
from countycare.core.models import Community


def pattern_index(fields: list[str], name: str) -> models.Index:
    """A b-tree usable for prefix searches (LIKE 'x%') on PostgreSQL whatever the database collation."""
    return models.Index(fields=fields, name=name, opclasses=["int8_ops"] + ["text_pattern_ops"] * (len(fields) - 1))


class Organization(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="organizations")
    name = models.CharField(_("name"), max_length=100)
    short_name = models.CharField(_("short name"), max_length=50, blank=True)
    org_type = models.CharField(_("type"), max_length=20, choices=OrganizationType.choices)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children", verbose_name=_("parent")
    )
    is_member = models.BooleanField(_("community member"), default=True)
    division_code = models.CharField(
        _("division code"), max_length=12, help_text=_("GB/T 2260-style: 6 digits county, 9 township, 12 village")
    )
    address = models.CharField(_("address"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    beds = models.PositiveIntegerField(_("beds"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["division_code", "id"]
        indexes = [models.Index(fields=["community", "parent"]), models.Index(fields=["division_code"])]

    def __str__(self) -> str:
        return self.name


class Department(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="departments")
    code = models.CharField(_("code"), max_length=20)
    name = models.CharField(_("name"), max_length=60)
    specialty = models.CharField(_("specialty"), max_length=60, blank=True)
    beds = models.PositiveIntegerField(_("beds"), default=0)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["organization", "code"]
        constraints = [models.UniqueConstraint(fields=["organization", "code"], name="department_unique_code")]

    def __str__(self) -> str:
        return f"{self.organization.short_name or self.organization.name} {self.name}"


class Practitioner(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="practitioners")
    name = models.CharField(_("name"), max_length=50)
    sex = models.CharField(_("sex"), max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    title = models.CharField(_("title"), max_length=30, choices=Title.choices)
    licence_number = models.CharField(_("licence number"), max_length=30, blank=True)
    specialties = models.JSONField(_("specialties"), default=list, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("practitioner")
        verbose_name_plural = _("practitioners")
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["community", "name"])]

    def __str__(self) -> str:
        return f"{self.name}（{self.get_title_display()}）"


class Posting(models.Model):
    """A practitioner serving an organisation (and department) in a role for a period."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="postings")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="postings")
    department = models.ForeignKey(Department, on_delete=models.SET_NULL, null=True, blank=True)
    role = models.CharField(_("role"), max_length=30, choices=Role.choices)
    kind = models.CharField(_("kind"), max_length=30, choices=PostingKind.choices, default=PostingKind.HOME)
    start = models.DateField(_("from"))
    end = models.DateField(_("until"), null=True, blank=True)

    class Meta:
        verbose_name = _("posting")
        verbose_name_plural = _("postings")
        ordering = ["-start"]
        indexes = [models.Index(fields=["organization", "start"]), models.Index(fields=["practitioner", "start"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__isnull=True) | models.Q(end__gte=models.F("start")),
                name="posting_end_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.practitioner.name} @ {self.organization.name}"


class Household(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    community = models.ForeignKey(Community, on_delete=models.PROTECT)
    code = models.CharField(_("household number"), max_length=30)
    address = models.CharField(_("address"), max_length=200)
    village_code = models.CharField(_("village division code"), max_length=12)
    home_organization = models.ForeignKey(Organization, on_delete=models.PROTECT, verbose_name=_("home clinic"))

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        constraints = [models.UniqueConstraint(fields=["community", "code"], name="household_unique_code")]

    def __str__(self) -> str:
        return f"{self.code} {self.address}"


class Resident(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    community = models.ForeignKey(Community, on_delete=models.PROTECT)
    name = models.CharField(_("name"), max_length=50)
    name_pinyin = models.CharField(_("pinyin"), max_length=120, editable=False)
    name_initials = models.CharField(_("pinyin initials"), max_length=20, editable=False)
    sex = models.CharField(_("sex"), max_length=10, choices=Sex.choices)
    birth_date = models.DateField(_("birth date"))
    national_id = models.CharField(_("national ID"), max_length=18, null=True, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    village_code = models.CharField(_("village division code"), max_length=12, blank=True)
    household = models.ForeignKey(
        Household, on_delete=models.SET_NULL, null=True, blank=True, related_name="members", verbose_name=_("household")
    )
    relation_to_head = models.CharField(_("relation to head of household"), max_length=20, blank=True)
    home_organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="residents", verbose_name=_("home organisation")
    )
    insurance_scheme = models.CharField(
        _("insurance scheme"), max_length=20, choices=InsuranceScheme.choices, default=InsuranceScheme.RESIDENT
    )
    insurance_number = models.CharField(_("insurance number"), max_length=30, blank=True)
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged_records", editable=False
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("resident")
        verbose_name_plural = _("residents")
        constraints = [
            models.UniqueConstraint(
                fields=["community", "national_id"],
                condition=models.Q(national_id__isnull=False),
                name="resident_unique_national_id",
            )
        ]
        indexes = [
            pattern_index(["community", "name"], "resident_name_prefix"),
            pattern_index(["community", "name_initials"], "resident_initials_prefix"),
            pattern_index(["community", "name_pinyin"], "resident_pinyin_prefix"),
            pattern_index(["community", "national_id"], "resident_nid_prefix"),
            pattern_index(["community", "phone"], "resident_phone_prefix"),
            models.Index(fields=["home_organization", "birth_date"], name="resident_home_birth"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_merged(self) -> bool:
        return self.merged_into_id is not None


class ResidentIdentifier(models.Model):
    """Identifiers other than the national ID: passport, birth certificate, newborn temporary number."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="identifiers")
    type = models.CharField(_("type"), max_length=30, choices=IdentifierType.choices)
    value = models.CharField(_("number"), max_length=40)

    class Meta:
        verbose_name = _("identifier")
        verbose_name_plural = _("identifiers")
        # value first: search looks identifiers up by number alone
        constraints = [models.UniqueConstraint(fields=["value", "type"], name="identifier_unique_value")]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.value}"


class ResidentTag(models.Model):
    """A key-population tag (重点人群) on a resident."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="tags")
    tag = models.CharField(_("key population"), max_length=30, choices=KeyPopulation.choices)
    since = models.DateField(_("since"), null=True, blank=True)

    class Meta:
        verbose_name = _("key-population tag")
        verbose_name_plural = _("key-population tags")
        constraints = [models.UniqueConstraint(fields=["resident", "tag"], name="tag_unique_per_resident")]
        indexes = [models.Index(fields=["tag", "resident"])]

    def __str__(self) -> str:
        return self.get_tag_display()
