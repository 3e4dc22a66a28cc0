"""Shared diagnostic centres (资源共享中心): ECG, imaging, laboratory and pathology centres with their readers
and rosters; exam requests from the grassroots with their acquisitions (WFDB/CSV tracings, DICOM studies in
Orthanc, HL7 lab results, pathology slides); the ECG pre-read; reports with every version kept; critical
values with their acknowledgement and escalation; and mutual recognition of results (结果互认).

The request workflow's transitions live in `workflow.py` as data; every write is in `services.py`.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from countycare.core.models import Community
from countycare.records.models import Encounter, Observation
from countycare.registry.models import Organization, Practitioner, Resident


class CentreKind(models.TextChoices):
    ECG = "ecg", _("ECG")  # 心电
    IMAGING = "imaging", _("Imaging")  # 影像
    LAB = "lab", _("Laboratory")  # 检验
    PATHOLOGY = "pathology", _("Pathology")  # 病理


class Priority(models.TextChoices):
    ROUTINE = "routine", _("Routine")  # 常规
    URGENT = "urgent", _("Urgent")  # 加急
    STAT = "stat", _("STAT")  # 急诊/立即


# Worklist rank of a priority: higher first.
PRIORITY_RANK = {Priority.ROUTINE: 0, Priority.URGENT: 1, Priority.STAT: 2}


class Centre(models.Model):
    """A shared centre run by a member (usually the lead hospital). `quality_controlled` marks its results
    as recognised across the community (结果互认) within each exam type's validity window. Turnaround
    targets are minutes from acquisition to the published report, per priority."""

    community = models.ForeignKey(Community, on_delete=models.PROTECT)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="centres")
    kind = models.CharField(_("kind"), max_length=12, choices=CentreKind.choices)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    quality_controlled = models.BooleanField(_("quality-controlled (results recognised)"), default=True)
    target_routine_minutes = models.PositiveIntegerField(_("target, routine (min)"))
    target_urgent_minutes = models.PositiveIntegerField(_("target, urgent (min)"))
    target_stat_minutes = models.PositiveIntegerField(_("target, STAT (min)"))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("diagnostic centre")
        verbose_name_plural = _("diagnostic centres")
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "kind", "name"], name="centre_unique_name"),
            models.CheckConstraint(
                condition=Q(target_stat_minutes__gt=0, target_urgent_minutes__gt=0, target_routine_minutes__gt=0),
                name="centre_targets_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def target_minutes(self, priority: str) -> int:
        return {Priority.ROUTINE: self.target_routine_minutes, Priority.URGENT: self.target_urgent_minutes,
                Priority.STAT: self.target_stat_minutes}[priority]


class ExamType(models.Model):
    """What can be requested: a 12-lead ECG, a chest X-ray, a lab panel, a biopsy. Shipped defaults in
    `data/exam_types.csv` (community null); `recognition_days` is the window a recognised result stays
    valid for (结果互认有效期)."""

    community = models.ForeignKey(Community, on_delete=models.CASCADE, null=True, blank=True)
    code = models.CharField(_("code"), max_length=30)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    centre_kind = models.CharField(_("centre kind"), max_length=12, choices=CentreKind.choices)
    modality = models.CharField(_("modality"), max_length=10, blank=True)  # ECG, DX, CR, CT, US, MR; lab: panel
    loinc = models.CharField(_("LOINC"), max_length=20, blank=True)
    recognition_days = models.PositiveIntegerField(_("recognised for (days)"))
    # Lab panels: the LOINC codes of the tests in the panel, e.g. ["2823-3", "2951-2"].
    components = models.JSONField(_("components"), default=list, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("exam type")
        verbose_name_plural = _("exam types")
        ordering = ["centre_kind", "code"]
        constraints = [models.UniqueConstraint(fields=["community", "code"], name="exam_type_unique_code")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class CentreReader(models.Model):
    """A practitioner who may report at a centre (with the right role on their user)."""

    centre = models.ForeignKey(Centre, on_delete=models.CASCADE, related_name="readers")
    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="centre_roles")
    senior = models.BooleanField(_("senior reader (second readings)"), default=False)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("centre reader")
        verbose_name_plural = _("centre readers")
        constraints = [models.UniqueConstraint(fields=["centre", "practitioner"], name="centre_reader_unique")]

    def __str__(self) -> str:
        return f"{self.centre} · {self.practitioner}"


class RosterShift(models.Model):
    """Who is on duty when (排班): at a centre (`centre` set: readers on duty claim work), or as an
    organisation's duty doctor (`centre` null: 值班医生, who receives escalated critical values)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="shifts")
    centre = models.ForeignKey(Centre, on_delete=models.CASCADE, null=True, blank=True, related_name="shifts")
    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="shifts")
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))

    class Meta:
        verbose_name = _("roster shift")
        verbose_name_plural = _("roster")
        ordering = ["starts_at"]
        indexes = [
            models.Index(fields=["centre", "starts_at", "ends_at"], name="shift_centre_time"),
            models.Index(fields=["organization", "starts_at", "ends_at"], name="shift_org_time"),
        ]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="shift_ends_after_start")]

    def __str__(self) -> str:
        return f"{self.practitioner} {self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%H:%M}"


class ExamStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")  # 已申请，待采集
    ACQUIRED = "acquired", _("Acquired, waiting for a reader")  # 已采集，待诊断
    RETURNED = "returned", _("Returned by quality control")  # 质控退回
    CLAIMED = "claimed", _("Being read")  # 诊断中
    SECOND_READING = "second_reading", _("Waiting for a second reading")  # 待审核
    PUBLISHED = "published", _("Reported")  # 已发布
    CANCELLED = "cancelled", _("Cancelled")  # 已撤销


OPEN_EXAM_STATUSES = (ExamStatus.REQUESTED, ExamStatus.ACQUIRED, ExamStatus.RETURNED, ExamStatus.CLAIMED,
                      ExamStatus.SECOND_READING)
WORKLIST_STATUSES = (ExamStatus.ACQUIRED, ExamStatus.SECOND_READING)


class ExamRequest(models.Model):
    """One exam for one patient, from request to published report. Every step keeps its time stamp so
    turnaround is measured, not estimated. `rank` orders the worklist: priority (raised by a critical
    pre-read flag), then the pre-read's urgency score, then waiting time (`acquired_at`)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    community = models.ForeignKey(Community, on_delete=models.PROTECT)
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="exam_requests")
    encounter = models.ForeignKey(Encounter, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="exam_requests")
    exam_type = models.ForeignKey(ExamType, on_delete=models.PROTECT, related_name="requests")
    centre = models.ForeignKey(Centre, on_delete=models.PROTECT, related_name="requests")
    requesting_organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="exams_requested")
    requesting_practitioner = models.ForeignKey(Practitioner, on_delete=models.SET_NULL, null=True, blank=True,
                                                related_name="exams_requested")
    clinical_question = models.TextField(_("clinical question"))
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices, default=Priority.ROUTINE)
    status = models.CharField(_("status"), max_length=20, choices=ExamStatus.choices, default=ExamStatus.REQUESTED)
    # Worklist ordering: PRIORITY_RANK of the effective priority * 1000 + pre-read score (0..999).
    rank = models.PositiveIntegerField(_("worklist rank"), default=0)
    accession_number = models.CharField(_("accession number"), max_length=20, unique=True)  # 检查号 / 标本号
    requested_at = models.DateTimeField(_("requested"))
    acquired_at = models.DateTimeField(_("acquired"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)
    reported_at = models.DateTimeField(_("first reported"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged by requester"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    claimed_by = models.ForeignKey(Practitioner, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    status_reason = models.CharField(_("reason"), max_length=200, blank=True)  # QC return / cancel reason
    # Mutual recognition: the recognised report shown when this was ordered, and why it was repeated.
    recognised_report = models.ForeignKey("Report", on_delete=models.SET_NULL, null=True, blank=True,
                                          related_name="repeated_by")
    repeat_reason = models.CharField(_("reason to repeat"), max_length=200, blank=True)
    observations = models.ManyToManyField(Observation, blank=True, related_name="exam_requests")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("exam request")
        verbose_name_plural = _("exam requests")
        ordering = ["-requested_at"]
        indexes = [
            models.Index(fields=["centre", "status", "rank", "acquired_at"], name="exam_worklist"),
            models.Index(fields=["requesting_organization", "status", "requested_at"], name="exam_requester"),
            models.Index(fields=["resident", "exam_type", "requested_at"], name="exam_resident_type"),
            models.Index(fields=["community", "requested_at"], name="exam_community_time"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(status="claimed") | Q(claimed_by__isnull=False),
                                   name="exam_claimed_has_reader"),
            models.CheckConstraint(condition=Q(repeat_reason="") | Q(recognised_report__isnull=False),
                                   name="exam_repeat_reason_with_report"),
        ]

    def __str__(self) -> str:
        return f"{self.accession_number} {self.exam_type.name}"


class ExamEvent(models.Model):
    """The request's history: every transition with who, when and why (also in the audit trail)."""

    request = models.ForeignKey(ExamRequest, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(_("action"), max_length=30)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    at = models.DateTimeField(_("time"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    practitioner = models.ForeignKey(Practitioner, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["request", "at"], name="exam_event_request")]


class Blob(models.Model):
    """Content-addressed bytes (WFDB files, CSV tracings, slide images): stored once however often used."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    content = models.BinaryField()
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)


class AcquisitionKind(models.TextChoices):
    ECG_WFDB = "ecg_wfdb", _("ECG (WFDB)")
    ECG_CSV = "ecg_csv", _("ECG (CSV of leads)")
    DICOM = "dicom", _("DICOM study (Orthanc)")
    LAB = "lab", _("Laboratory sample")
    PATHOLOGY = "pathology", _("Pathology specimen")


class Acquisition(models.Model):
    """What the grassroots sent for one request (a request may be re-acquired after a QC return; the
    newest `current` one is read). ECG: sampling rate, leads and the attachment files; imaging: the
    study's Orthanc and DICOM ids; lab: the specimen; pathology: specimen details and slide images."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    request = models.ForeignKey(ExamRequest, on_delete=models.CASCADE, related_name="acquisitions")
    kind = models.CharField(_("kind"), max_length=12, choices=AcquisitionKind.choices)
    current = models.BooleanField(default=True)
    acquired_at = models.DateTimeField(_("acquired"))
    acquired_by = models.ForeignKey(Practitioner, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # ECG
    sample_rate = models.PositiveIntegerField(_("sampling rate (Hz)"), null=True, blank=True)
    lead_names = models.JSONField(_("leads"), default=list, blank=True)
    duration_seconds = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    # Imaging (Orthanc)
    orthanc_study_id = models.CharField(max_length=64, blank=True)
    study_instance_uid = models.CharField(max_length=64, blank=True)
    # [{"orthanc_id": "...", "uid": "...", "modality": "DX", "description": "...", "instances": ["..."]}]
    series = models.JSONField(default=list, blank=True)
    # Lab / pathology specimen
    specimen_type = models.CharField(_("specimen"), max_length=60, blank=True)
    specimen_id = models.CharField(_("specimen number"), max_length=40, blank=True)
    collected_at = models.DateTimeField(_("collected"), null=True, blank=True)
    site = models.CharField(_("body site"), max_length=100, blank=True)
    note = models.TextField(_("note"), blank=True)
    # QC return
    returned_at = models.DateTimeField(null=True, blank=True)
    return_reason = models.CharField(_("returned because"), max_length=200, blank=True)

    class Meta:
        ordering = ["-acquired_at", "-id"]
        indexes = [models.Index(fields=["request", "current"], name="acquisition_request")]


class Attachment(models.Model):
    """A file of an acquisition (or a report): WFDB header/data, lead CSV, a slide image."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    acquisition = models.ForeignKey(Acquisition, on_delete=models.CASCADE, related_name="attachments")
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="+")
    filename = models.CharField(max_length=120)
    media_type = models.CharField(max_length=80)
    role = models.CharField(max_length=20)  # wfdb-header, wfdb-data, csv, slide, other
    title = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["id"]


class EcgPreRead(models.Model):
    """The computed pre-read of an ECG (neurokit2): assistance for the reader, never the report."""

    request = models.OneToOneField(ExamRequest, on_delete=models.CASCADE, related_name="pre_read")
    acquisition = models.ForeignKey(Acquisition, on_delete=models.CASCADE, related_name="+")
    heart_rate = models.DecimalField(_("heart rate (/min)"), max_digits=6, decimal_places=1, null=True, blank=True)
    rr_cv = models.DecimalField(_("RR variation (CV)"), max_digits=6, decimal_places=3, null=True, blank=True)
    pr_ms = models.PositiveIntegerField(_("PR (ms)"), null=True, blank=True)
    qrs_ms = models.PositiveIntegerField(_("QRS (ms)"), null=True, blank=True)
    qt_ms = models.PositiveIntegerField(_("QT (ms)"), null=True, blank=True)
    qtc_ms = models.PositiveIntegerField(_("QTc (ms)"), null=True, blank=True)
    signal_quality = models.DecimalField(_("signal quality (0-1)"), max_digits=4, decimal_places=3, null=True,
                                         blank=True)
    # ["bradycardia", "tachycardia", "irregular", "wide_qrs", "poor_signal", ...] (ecg.FLAGS)
    flags = models.JSONField(default=list, blank=True)
    critical = models.BooleanField(default=False)  # a flag that may be critical: raises the priority
    score = models.PositiveIntegerField(default=0)  # 0..999 urgency within a priority
    algorithm = models.CharField(max_length=40)  # e.g. "neurokit2 0.2.13 / countycare 1"
    computed_at = models.DateTimeField()
    elapsed_ms = models.PositiveIntegerField(default=0)


class ReportTemplate(models.Model):
    """A reporting template (报告模板): findings and conclusion text a reader starts from."""

    community = models.ForeignKey(Community, on_delete=models.CASCADE, null=True, blank=True)
    centre_kind = models.CharField(_("centre kind"), max_length=12, choices=CentreKind.choices)
    exam_type_code = models.CharField(_("exam type code"), max_length=30, blank=True)  # blank: any of the kind
    code = models.CharField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=100)
    findings = models.TextField(_("findings"))
    conclusion = models.TextField(_("conclusion"))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("report template")
        verbose_name_plural = _("report templates")
        ordering = ["centre_kind", "code"]
        constraints = [models.UniqueConstraint(fields=["community", "code"], name="report_template_unique_code")]

    def __str__(self) -> str:
        return self.name


class ReportStatus(models.TextChoices):
    PRELIMINARY = "preliminary", _("Preliminary, for second reading")  # 初步报告，待审核
    FINAL = "final", _("Final")  # 正式报告
    AMENDED = "amended", _("Amended")  # 修订报告
    SUPERSEDED = "superseded", _("Superseded by a later version")  # 已被修订


class Report(models.Model):
    """One version of a request's report. A revision adds a version and marks the previous one superseded;
    no version is ever changed otherwise. `current` marks the version the requester reads."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    request = models.ForeignKey(ExamRequest, on_delete=models.CASCADE, related_name="reports")
    version = models.PositiveIntegerField()
    status = models.CharField(_("status"), max_length=12, choices=ReportStatus.choices)
    current = models.BooleanField(default=True)
    findings = models.TextField(_("findings"))  # 检查所见
    conclusion = models.TextField(_("conclusion"))  # 诊断意见
    template_code = models.CharField(max_length=40, blank=True)
    critical = models.BooleanField(_("critical finding"), default=False)
    # Null only for results an analyser released without a named verifier (HL7 OBX-16 empty).
    author = models.ForeignKey(Practitioner, on_delete=models.PROTECT, null=True, blank=True,
                               related_name="reports_authored")
    verifier = models.ForeignKey(Practitioner, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="reports_verified")  # the second reader
    revision_reason = models.CharField(_("revised because"), max_length=200, blank=True)
    written_at = models.DateTimeField(_("written"))
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    # Recognised across the community until this time (null: not recognised).
    recognised_until = models.DateTimeField(_("recognised until"), null=True, blank=True)

    class Meta:
        ordering = ["request", "-version"]
        indexes = [models.Index(fields=["request", "current"], name="report_request_current")]
        constraints = [
            models.UniqueConstraint(fields=["request", "version"], name="report_unique_version"),
            models.UniqueConstraint(fields=["request"], condition=Q(current=True), name="report_one_current"),
        ]

    def __str__(self) -> str:
        return f"{self.request} v{self.version}"


class CriticalRule(models.Model):
    """A critical-value rule (危急值): a LOINC test outside [low, high], or an ECG finding the reader confirms.
    Shipped defaults in `data/critical_rules.csv` (community null); a community's own row for the same code
    replaces the default."""

    community = models.ForeignKey(Community, on_delete=models.CASCADE, null=True, blank=True)
    code = models.CharField(_("test (LOINC) or ECG flag"), max_length=30)
    name = models.CharField(_("name"), max_length=100)
    centre_kind = models.CharField(_("centre kind"), max_length=12, choices=CentreKind.choices)
    low = models.DecimalField(_("critical below"), max_digits=12, decimal_places=4, null=True, blank=True)
    high = models.DecimalField(_("critical above"), max_digits=12, decimal_places=4, null=True, blank=True)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    source = models.CharField(_("source"), max_length=200, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("critical-value rule")
        verbose_name_plural = _("critical-value rules")
        ordering = ["centre_kind", "code"]
        constraints = [models.UniqueConstraint(fields=["community", "code"], name="critical_rule_unique_code")]

    def __str__(self) -> str:
        return self.name


class AlertStatus(models.TextChoices):
    OPEN = "open", _("Waiting for acknowledgement")  # 待确认
    ESCALATED = "escalated", _("Escalated to the duty doctor")  # 已升级
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")  # 已确认


class CriticalAlert(models.Model):
    """A critical result on its way to the ordering clinician: notified at once, acknowledged, or escalated
    to the branch's duty doctor after `critical_value_ack_minutes`. Every step is a CriticalAlertEvent."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    community = models.ForeignKey(Community, on_delete=models.PROTECT)
    request = models.ForeignKey(ExamRequest, on_delete=models.CASCADE, related_name="critical_alerts")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    rule = models.ForeignKey(CriticalRule, on_delete=models.SET_NULL, null=True, blank=True)
    observation = models.ForeignKey(Observation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    finding = models.CharField(_("finding"), max_length=200)  # e.g. "血钾 K 6.8 mmol/L (> 6.2)"
    status = models.CharField(_("status"), max_length=12, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    raised_at = models.DateTimeField(_("raised"))
    raised_by = models.ForeignKey(Practitioner, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    notify_organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    notify_practitioner = models.ForeignKey(Practitioner, on_delete=models.SET_NULL, null=True, blank=True,
                                            related_name="critical_alerts")
    ack_due_at = models.DateTimeField(_("acknowledge by"))
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    escalated_to = models.ForeignKey(Practitioner, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(Practitioner, on_delete=models.SET_NULL, null=True, blank=True,
                                        related_name="+")
    action_taken = models.CharField(_("action taken"), max_length=200, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        verbose_name = _("critical value")
        verbose_name_plural = _("critical values")
        ordering = ["-raised_at"]
        indexes = [
            models.Index(fields=["status", "ack_due_at"], name="alert_status_due"),
            models.Index(fields=["notify_organization", "status"], name="alert_org_status"),
        ]


class CriticalAlertEvent(models.Model):
    """Every step of a critical value: raised, notified, escalated, acknowledged."""

    alert = models.ForeignKey(CriticalAlert, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=20)
    at = models.DateTimeField()
    practitioner = models.ForeignKey(Practitioner, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    detail = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["at", "id"]


class RecognitionDecision(models.TextChoices):
    AVOIDED = "avoided", _("Used the recognised result (exam avoided)")  # 互认，免于重复检查
    REPEATED = "repeated", _("Repeated with a reason")  # 重复检查


class RecognitionCheck(models.Model):
    """An order that met a recognised, valid result: what the clinician chose. Counts exams avoided and
    repeated (互认率)."""

    community = models.ForeignKey(Community, on_delete=models.PROTECT)
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    exam_type = models.ForeignKey(ExamType, on_delete=models.PROTECT, related_name="+")
    report = models.ForeignKey(Report, on_delete=models.PROTECT, related_name="recognition_checks")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    practitioner = models.ForeignKey(Practitioner, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    decision = models.CharField(max_length=10, choices=RecognitionDecision.choices)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    request = models.ForeignKey(ExamRequest, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["community", "at"], name="recognition_community_time")]
        constraints = [
            models.CheckConstraint(condition=Q(decision="avoided") | ~Q(reason=""), name="recognition_repeat_reason"),
        ]
