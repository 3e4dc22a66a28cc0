"""The shared record (健康档案/病历): encounters at any member, their diagnoses, measurements and orders, the
resident's problem list, and the ICD-10 code set diagnoses are coded in.

Every row that holds patient data carries `community` and `resident` so scoped reads filter and index on
them directly; writes go through `services`, reads through `queries` (scoped and audited).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from countycare.core.models import Community
from countycare.registry.models import Department, Organization, Practitioner, Resident


class EncounterKind(models.TextChoices):
    OUTPATIENT = "outpatient", _("Outpatient")  # 门诊
    EMERGENCY = "emergency", _("Emergency")  # 急诊
    INPATIENT = "inpatient", _("Inpatient")  # 住院
    HOME_VISIT = "home_visit", _("Home visit")  # 家庭访视/上门


class EncounterStatus(models.TextChoices):
    IN_PROGRESS = "in-progress", _("In progress")  # 就诊中/在院
    FINISHED = "finished", _("Finished")  # 已结束/已出院
    CANCELLED = "cancelled", _("Entered in error")  # 作废


class EncounterSource(models.TextChoices):
    """Where the platform learnt of the encounter. Care outside the county is known from claims."""

    CLINICAL = "clinical", _("Recorded at a member")
    CLAIM = "claim", _("From an insurance claim")


# Long enough for the national clinical edition's extension codes ("I10.x00x002", 11 characters) and
# the WHO codes with a dagger or asterisk.
CODE_LENGTH = 20


class Icd10Code(models.Model):
    """One ICD-10 code with its Chinese name (`countycare importicd10` loads a full list from CSV)."""

    code = models.CharField(_("code"), max_length=CODE_LENGTH, unique=True)
    name = models.CharField(_("Chinese name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    initials = models.CharField(_("pinyin initials"), max_length=60, editable=False)
    chapter = models.CharField(_("chapter"), max_length=10, blank=True)
    chronic = models.BooleanField(_("chronic (goes on the problem list)"), default=False)
    source = models.CharField(_("source"), max_length=120, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("ICD-10 code")
        verbose_name_plural = _("ICD-10 codes")
        ordering = ["code"]
        indexes = [
            models.Index(fields=["initials"], name="icd10_initials", opclasses=["text_pattern_ops"]),
            models.Index(fields=["name"], name="icd10_name", opclasses=["text_pattern_ops"]),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Encounter(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    community = models.ForeignKey(Community, on_delete=models.PROTECT)
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="encounters")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="encounters")
    department = models.ForeignKey(Department, on_delete=models.SET_NULL, null=True, blank=True)
    practitioner = models.ForeignKey(Practitioner, on_delete=models.SET_NULL, null=True, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=EncounterKind.choices)
    status = models.CharField(_("status"), max_length=20, choices=EncounterStatus.choices,
                              default=EncounterStatus.IN_PROGRESS)
    source = models.CharField(_("source"), max_length=10, choices=EncounterSource.choices,
                              default=EncounterSource.CLINICAL)
    started_at = models.DateTimeField(_("start (admission)"))
    ended_at = models.DateTimeField(_("end (discharge)"), null=True, blank=True)
    ward = models.CharField(_("ward / bed"), max_length=40, blank=True)
    chief_complaint = models.CharField(_("chief complaint"), max_length=200, blank=True)
    note = models.TextField(_("clinical note"), blank=True)
    is_tcm = models.BooleanField(_("TCM visit"), default=False)
    # Costs in yuan, split as insurance settles them; cost_total is their sum (a CHECK keeps it so).
    cost_drugs = models.DecimalField(_("drugs"), max_digits=12, decimal_places=2, default=0)
    cost_exams = models.DecimalField(_("examinations"), max_digits=12, decimal_places=2, default=0)
    cost_treatment = models.DecimalField(_("treatment"), max_digits=12, decimal_places=2, default=0)
    cost_beds = models.DecimalField(_("beds"), max_digits=12, decimal_places=2, default=0)
    cost_other = models.DecimalField(_("other"), max_digits=12, decimal_places=2, default=0)
    cost_total = models.DecimalField(_("total cost"), max_digits=12, decimal_places=2, default=0)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("encounter")
        verbose_name_plural = _("encounters")
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["community", "started_at"], name="encounter_community_start"),
            models.Index(fields=["resident", "started_at"], name="encounter_resident_start"),
            models.Index(fields=["organization", "started_at"], name="encounter_org_start"),
            # discharges in a period (assessment: cost per stay, down-referrals per discharge)
            models.Index(fields=["community", "ended_at"], name="encounter_discharge", condition=Q(kind="inpatient")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")), name="encounter_end_after_start"
            ),
            models.CheckConstraint(
                condition=Q(cost_total=F("cost_drugs") + F("cost_exams") + F("cost_treatment") + F("cost_beds")
                            + F("cost_other")),
                name="encounter_cost_total_is_sum",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.started_at:%Y-%m-%d} {self.organization_id}"

    @property
    def length_of_stay_days(self) -> int | None:
        """Inpatient days as hospitals count them (discharge date minus admission date, at least one)."""
        if self.kind != EncounterKind.INPATIENT or self.ended_at is None:
            return None
        days = (timezone.localtime(self.ended_at).date() - timezone.localtime(self.started_at).date()).days
        return max(days, 1)


class Diagnosis(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    community = models.ForeignKey(Community, on_delete=models.PROTECT)
    encounter = models.ForeignKey(Encounter, on_delete=models.CASCADE, related_name="diagnoses")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="diagnoses")
    code = models.CharField(_("ICD-10 code"), max_length=CODE_LENGTH)
    display = models.CharField(_("diagnosis"), max_length=200)  # the Chinese name as recorded
    is_primary = models.BooleanField(_("primary"), default=False)
    recorded_at = models.DateTimeField(_("recorded"))
    practitioner = models.ForeignKey(Practitioner, on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        verbose_name = _("diagnosis")
        verbose_name_plural = _("diagnoses")
        ordering = ["-is_primary", "id"]
        indexes = [
            models.Index(fields=["resident", "recorded_at"], name="diagnosis_resident_time"),
            models.Index(fields=["community", "code"], name="diagnosis_community_code"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["encounter"], condition=Q(is_primary=True), name="diagnosis_one_primary"),
            models.UniqueConstraint(fields=["encounter", "code"], name="diagnosis_unique_code_per_encounter"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.display}"


class ProblemStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    RESOLVED = "resolved", _("Resolved")


class Problem(models.Model):
    """An entry of the resident's problem list: an active chronic condition, whoever recorded it."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    community = models.ForeignKey(Community, on_delete=models.PROTECT)
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="problems")
    code = models.CharField(_("ICD-10 code"), max_length=CODE_LENGTH)
    display = models.CharField(_("condition"), max_length=200)
    status = models.CharField(_("status"), max_length=10, choices=ProblemStatus.choices, default=ProblemStatus.ACTIVE)
    onset_date = models.DateField(_("onset"), null=True, blank=True)
    recorded_at = models.DateTimeField(_("recorded"))
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    organization = models.ForeignKey(Organization, on_delete=models.SET_NULL, null=True, blank=True)
    practitioner = models.ForeignKey(Practitioner, on_delete=models.SET_NULL, null=True, blank=True)
    source_diagnosis = models.ForeignKey(Diagnosis, on_delete=models.SET_NULL, null=True, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        verbose_name = _("problem")
        verbose_name_plural = _("problem list")
        ordering = ["-recorded_at"]
        indexes = [models.Index(fields=["resident", "status"], name="problem_resident_status")]
        constraints = [
            models.UniqueConstraint(
                fields=["resident", "code"], condition=Q(status="active"), name="problem_unique_active_code"
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.display}"


class ObservationCategory(models.TextChoices):
    VITAL_SIGNS = "vital-signs", _("Vital signs")
    LABORATORY = "laboratory", _("Laboratory")
    EXAM = "exam", _("Examination")
    IMAGING = "imaging", _("Imaging")
    PROCEDURE = "procedure", _("Procedure")


class ObservationStatus(models.TextChoices):
    FINAL = "final", _("Final")
    AMENDED = "amended", _("Amended")
    CANCELLED = "cancelled", _("Cancelled")


class Observation(models.Model):
    """A measurement or result: vital signs at an encounter, a lab value (LOINC where known)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    community = models.ForeignKey(Community, on_delete=models.PROTECT)
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="observations")
    encounter = models.ForeignKey(Encounter, on_delete=models.CASCADE, null=True, blank=True,
                                  related_name="observations")
    category = models.CharField(_("category"), max_length=20, choices=ObservationCategory.choices)
    code = models.CharField(_("code (LOINC)"), max_length=20)
    display = models.CharField(_("name"), max_length=100)
    value_quantity = models.DecimalField(_("value"), max_digits=12, decimal_places=4, null=True, blank=True)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    value_text = models.CharField(_("value (text)"), max_length=200, blank=True)
    reference_low = models.DecimalField(_("reference low"), max_digits=12, decimal_places=4, null=True, blank=True)
    reference_high = models.DecimalField(_("reference high"), max_digits=12, decimal_places=4, null=True, blank=True)
    interpretation = models.CharField(_("interpretation"), max_length=4, blank=True)  # N, L, H, LL, HH, A
    status = models.CharField(_("status"), max_length=10, choices=ObservationStatus.choices,
                              default=ObservationStatus.FINAL)
    effective_at = models.DateTimeField(_("time"))
    organization = models.ForeignKey(Organization, on_delete=models.SET_NULL, null=True, blank=True)
    practitioner = models.ForeignKey(Practitioner, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("observation")
        verbose_name_plural = _("observations")
        ordering = ["-effective_at"]
        indexes = [
            models.Index(fields=["resident", "effective_at"], name="observation_resident_time"),
            models.Index(fields=["community", "code", "effective_at"], name="observation_code_time"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(value_quantity__isnull=False) | ~Q(value_text=""), name="observation_has_value"
            )
        ]

    def __str__(self) -> str:
        return f"{self.display} {self.value_quantity if self.value_quantity is not None else self.value_text}"


class OrderKind(models.TextChoices):
    LAB = "lab", _("Laboratory test")
    IMAGING = "imaging", _("Imaging")
    ECG = "ecg", _("ECG")
    PATHOLOGY = "pathology", _("Pathology")
    MEDICATION = "medication", _("Medication")
    PROCEDURE = "procedure", _("Procedure")


class OrderStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


class Order(models.Model):
    """An order placed at an encounter. The diagnostics and pharmacy modules give it its full workflow."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    community = models.ForeignKey(Community, on_delete=models.PROTECT)
    encounter = models.ForeignKey(Encounter, on_delete=models.CASCADE, related_name="orders")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="orders")
    kind = models.CharField(_("kind"), max_length=20, choices=OrderKind.choices)
    code = models.CharField(_("code"), max_length=40, blank=True)
    description = models.CharField(_("description"), max_length=200)
    status = models.CharField(_("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.REQUESTED)
    ordered_at = models.DateTimeField(_("ordered"))
    practitioner = models.ForeignKey(Practitioner, on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["ordered_at", "id"]
        indexes = [models.Index(fields=["resident", "ordered_at"], name="order_resident_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.description}"
