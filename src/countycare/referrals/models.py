"""Tiered care and two-way referral: the catalogue of conditions by level, published capacity with its
reserved share, referrals and their history, down-referral care plans, and the record access a referral
or a care team grants.

The workflow's allowed transitions live in `workflow.py` as data; every write is in `services.py`.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from countycare.core.models import Community
from countycare.records.models import Encounter
from countycare.registry.models import Department, Organization, Practitioner, Resident


class CatalogueList(models.TextChoices):
    VILLAGE = "village", _("Village first-contact list")  # 村级首诊
    TOWNSHIP_50N = "township_50n", _("Township 50+N list")  # 乡镇卫生院 50+N 种
    COUNTY_100N = "county_100n", _("County 100+N list")  # 县级医院 100+N 种
    OUT_OF_COUNTY = "out_of_county", _("Refer out of county")  # 县外转诊病种


class CatalogueEntry(models.Model):
    """A condition (an ICD-10 category range) with the levels that may treat it and when to move the patient.

    Rows with no community are the shipped default (`loadcatalogue`); a community's own rows override the
    default for the same range.
    """

    community = models.ForeignKey(Community, on_delete=models.CASCADE, null=True, blank=True)
    code_start = models.CharField(_("ICD-10 from"), max_length=10)
    code_end = models.CharField(_("ICD-10 to"), max_length=10)
    name = models.CharField(_("condition"), max_length=100)
    name_en = models.CharField(_("condition (English)"), max_length=100, blank=True)
    list_name = models.CharField(_("list"), max_length=20, choices=CatalogueList.choices)
    village_may_treat = models.BooleanField(_("village may treat"), default=False)
    township_may_treat = models.BooleanField(_("township may treat"), default=False)
    county_may_treat = models.BooleanField(_("county may treat"), default=True)
    down_referable = models.BooleanField(_("refer down when stable"), default=False)
    up_criteria = models.TextField(_("up-referral criteria"), blank=True)
    down_criteria = models.TextField(_("down-referral criteria"), blank=True)
    source = models.CharField(_("source"), max_length=200, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("catalogue entry")
        verbose_name_plural = _("tiered-care catalogue")
        ordering = ["code_start"]
        constraints = [
            models.CheckConstraint(condition=Q(code_end__gte=F("code_start")), name="catalogue_range_ordered"),
            models.UniqueConstraint(fields=["community", "code_start", "code_end"], name="catalogue_unique_range"),
        ]

    def __str__(self) -> str:
        span = self.code_start if self.code_start == self.code_end else f"{self.code_start}–{self.code_end}"
        return f"{span} {self.name}"


class SlotKind(models.TextChoices):
    CLINIC = "clinic", _("Specialist clinic session")  # 专家号
    BED = "bed", _("Bed")  # 床位
    EXAM = "exam", _("Examination slot")  # 检查号


class Slot(models.Model):
    """Capacity a receiving department publishes. `reserved` of `capacity` is held for referrals from family
    doctors until the release cut-off before `starts_at`. The counters are only changed by conditional
    UPDATEs in services, and the CHECKs make over-booking impossible even if a caller got that wrong."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    community = models.ForeignKey(Community, on_delete=models.PROTECT)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="slots")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, null=True, blank=True)
    practitioner = models.ForeignKey(Practitioner, on_delete=models.SET_NULL, null=True, blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=SlotKind.choices)
    label = models.CharField(_("label"), max_length=100, blank=True)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    capacity = models.PositiveIntegerField(_("capacity"))
    reserved = models.PositiveIntegerField(_("reserved for referrals"))
    booked_general = models.PositiveIntegerField(_("booked (general)"), default=0)
    booked_reserved = models.PositiveIntegerField(_("booked (reserved)"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("slot")
        verbose_name_plural = _("slots")
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["organization", "kind", "starts_at"], name="slot_org_kind_start")]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="slot_ends_after_start"),
            models.CheckConstraint(condition=Q(reserved__lte=F("capacity")), name="slot_reserved_within_capacity"),
            models.CheckConstraint(
                condition=Q(booked_reserved__lte=F("reserved")), name="slot_reserved_not_overbooked"
            ),
            models.CheckConstraint(
                condition=Q(booked_general__lte=F("capacity") - F("booked_reserved")), name="slot_not_overbooked"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label or self.get_kind_display()} {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def booked(self) -> int:
        return self.booked_general + self.booked_reserved


class BookingStatus(models.TextChoices):
    BOOKED = "booked", _("Booked")
    CANCELLED = "cancelled", _("Cancelled")


class Booking(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    community = models.ForeignKey(Community, on_delete=models.PROTECT)
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="bookings")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="bookings")
    from_reserve = models.BooleanField(_("from the reserved share"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=BookingStatus.choices, default=BookingStatus.BOOKED)
    booked_at = models.DateTimeField(_("booked"))
    booked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        verbose_name = _("booking")
        verbose_name_plural = _("bookings")
        indexes = [models.Index(fields=["slot", "status"], name="booking_slot_status")]

    def __str__(self) -> str:
        return f"{self.slot} {self.resident_id}"


class ReferralKind(models.TextChoices):
    UP = "up", _("Up-referral")  # 上转
    DOWN = "down", _("Down-referral")  # 下转
    OUT_OF_COUNTY = "out_of_county", _("Out-of-county referral")  # 县外转诊


class ReferralStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")  # 待接收
    ACCEPTED = "accepted", _("Accepted")  # 已接收
    ARRIVED = "arrived", _("Arrived")  # 已到诊
    COMPLETED = "completed", _("Completed")  # 已完成
    REJECTED = "rejected", _("Rejected")  # 已拒收
    CANCELLED = "cancelled", _("Cancelled")  # 已撤销
    EXPIRED = "expired", _("Expired")  # 已过期


OPEN_STATUSES = (ReferralStatus.REQUESTED, ReferralStatus.ACCEPTED, ReferralStatus.ARRIVED)
CLOSED_STATUSES = (ReferralStatus.COMPLETED, ReferralStatus.REJECTED, ReferralStatus.EXPIRED, ReferralStatus.CANCELLED)


class Referral(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    community = models.ForeignKey(Community, on_delete=models.PROTECT)
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="referrals")
    kind = models.CharField(_("kind"), max_length=20, choices=ReferralKind.choices)
    status = models.CharField(_("status"), max_length=20, choices=ReferralStatus.choices,
                              default=ReferralStatus.REQUESTED)
    urgent = models.BooleanField(_("green channel"), default=False)  # 绿色通道
    from_organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="referrals_sent")
    from_department = models.ForeignKey(Department, on_delete=models.SET_NULL, null=True, blank=True,
                                        related_name="+")
    from_practitioner = models.ForeignKey(Practitioner, on_delete=models.SET_NULL, null=True, blank=True,
                                          related_name="referrals_sent")
    to_organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="referrals_received")
    to_department = models.ForeignKey(Department, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    to_practitioner = models.ForeignKey(Practitioner, on_delete=models.SET_NULL, null=True, blank=True,
                                        related_name="referrals_received")
    source_encounter = models.ForeignKey(Encounter, on_delete=models.SET_NULL, null=True, blank=True,
                                         related_name="referrals_made")
    arrival_encounter = models.ForeignKey(Encounter, on_delete=models.SET_NULL, null=True, blank=True,
                                          related_name="referrals_arrived")
    reason = models.TextField(_("reason for referral"))
    clinical_summary = models.TextField(_("clinical summary"), blank=True)
    # [{"code": "I21.9", "display": "急性心肌梗死", "primary": true}, ...]
    diagnoses = models.JSONField(_("diagnoses"), default=list, blank=True)
    requested_at = models.DateTimeField(_("requested"))
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    arrived_at = models.DateTimeField(_("arrived"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    closed_at = models.DateTimeField(_("rejected / cancelled / expired"), null=True, blank=True)
    due_at = models.DateTimeField(_("arrive by"))  # not arrived by then: expired
    status_reason = models.CharField(_("reason"), max_length=200, blank=True)
    booking = models.ForeignKey(Booking, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    bed_booking = models.ForeignKey(Booking, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    slip_number = models.CharField(_("referral slip number"), max_length=30, blank=True)  # 转诊单号 (out of county)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-requested_at"]
        indexes = [
            models.Index(fields=["community", "status", "requested_at"], name="referral_community_status"),
            models.Index(fields=["to_organization", "status", "requested_at"], name="referral_to_status"),
            models.Index(fields=["from_organization", "status", "requested_at"], name="referral_from_status"),
            models.Index(fields=["resident", "requested_at"], name="referral_resident_time"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(from_organization=F("to_organization")), name="referral_not_to_self"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.requested_at:%Y-%m-%d} {self.get_status_display()}"


class ReferralEvent(models.Model):
    """One step of a referral's history: who moved it from which status to which, when and why."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(_("time"))
    action = models.CharField(_("action"), max_length=20)
    from_status = models.CharField(_("from"), max_length=20, blank=True)
    to_status = models.CharField(_("to"), max_length=20)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    username = models.CharField(_("by"), max_length=150, blank=True)
    organization = models.ForeignKey(Organization, on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        verbose_name = _("referral event")
        verbose_name_plural = _("referral events")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.action} {self.from_status}→{self.to_status}"


class CarePlanStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    COMPLETED = "completed", _("Completed")
    REVOKED = "revoked", _("Revoked")


class CarePlan(models.Model):
    """The plan a down-referral carries (下转康复计划) and the lead-hospital doctor who keeps following it."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    community = models.ForeignKey(Community, on_delete=models.PROTECT)
    referral = models.OneToOneField(Referral, on_delete=models.PROTECT, related_name="care_plan")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="care_plans")
    diagnoses = models.JSONField(_("diagnoses"), default=list)  # as Referral.diagnoses
    treatment_summary = models.TextField(_("treatment summary"))
    # [{"name": "阿托伐他汀钙片", "dose": "20 mg", "frequency": "每晚一次", "days": 30}, ...]
    medicines = models.JSONField(_("medicines to continue"), default=list, blank=True)
    # [{"due": "2026-12-01", "what": "复查血脂、肝功能"}, ...]
    follow_up = models.JSONField(_("follow-up schedule"), default=list, blank=True)
    warning_signs = models.TextField(_("warning signs (return at once if)"), blank=True)
    responsible_practitioner = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="care_plans",
                                                 verbose_name=_("responsible doctor"))
    responsible_organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("status"), max_length=10, choices=CarePlanStatus.choices,
                              default=CarePlanStatus.ACTIVE)
    period_end = models.DateField(_("followed until"))
    created_at = models.DateTimeField(auto_now_add=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        verbose_name = _("care plan")
        verbose_name_plural = _("care plans")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.resident_id} {self.created_at:%Y-%m-%d}"


class AccessReason(models.TextChoices):
    REFERRAL = "referral", _("Receiving a referral")
    CARE_TEAM = "care_team", _("Care team (following a care plan)")
    FIRST_CONTACT = "first_contact", _("First contact (a walk-in patient from outside the area)")  # 首诊接诊


class CareAccess(models.Model):
    """Record access that care grants beyond the base scope: the receiving organisation (and doctor) of a
    referral, and the responsible doctor of a care plan, until `ends_at` (policy days)."""

    community = models.ForeignKey(Community, on_delete=models.PROTECT)
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="care_access")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, null=True, blank=True)
    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=20, choices=AccessReason.choices)
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, null=True, blank=True, related_name="access")
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))

    class Meta:
        verbose_name = _("care access")
        verbose_name_plural = _("care access")
        indexes = [
            models.Index(fields=["organization", "ends_at"], name="access_org_until"),
            models.Index(fields=["practitioner", "ends_at"], name="access_practitioner_until"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(organization__isnull=False) | Q(practitioner__isnull=False), name="access_has_grantee"
            ),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="access_ends_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} {self.resident_id} → {self.ends_at:%Y-%m-%d}"
