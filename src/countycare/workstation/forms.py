"""Forms of the doctor's workstation. They shape input for `records.services` and `referrals.services`;
the rules (scope, who may refer where, the state machine) live in those services and come back as
DomainError messages shown on the form."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from countycare.core import policy
from countycare.core.codes import Level, OrganizationType, Role
from countycare.core.errors import DomainError
from countycare.records import vitals
from countycare.records.models import EncounterKind, Icd10Code, OrderKind
from countycare.referrals.models import ReferralKind, ReferralStatus, SlotKind
from countycare.registry.models import Department, Organization, Practitioner
from countycare.registry.scope import posted_organization_ids

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
MAX_DIAGNOSES = 12

# The vital signs the encounter form asks for (field name, LOINC, label); units and the plausible range
# are the record's own (records.vitals), which the service checks again.
VITALS: tuple[tuple[str, str, Any], ...] = (
    ("systolic", vitals.SYSTOLIC, _("Systolic BP")),
    ("diastolic", vitals.DIASTOLIC, _("Diastolic BP")),
    ("heart_rate", vitals.HEART_RATE, _("Heart rate")),
    ("temperature", vitals.TEMPERATURE, _("Temperature")),
    ("respiratory_rate", vitals.RESPIRATORY_RATE, _("Respiratory rate")),
    ("oxygen", vitals.OXYGEN_SATURATION, _("Oxygen saturation")),
    ("weight", vitals.WEIGHT, _("Body weight")),
    ("glucose", vitals.BLOOD_GLUCOSE, _("Blood glucose")),
)
COSTS = (
    ("drugs", _("Drugs")),
    ("exams", _("Examinations")),
    ("treatment", _("Treatment")),
    ("beds", _("Bed charges")),
    ("other", _("Other")),
)


class OrganizationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Organization) -> str:
        return obj.name


class PractitionerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Practitioner) -> str:
        return f"{obj.name}（{obj.get_title_display()}）"


class DomainErrorMixin:
    """Show a service's DomainError on the field it names, or above the form."""

    def add_domain_error(self, exc: DomainError) -> None:
        name = exc.field or ""
        self.add_error(name if name in self.fields else None, exc.message)  # type: ignore[attr-defined]


class DiagnosisPickMixin:
    """The diagnoses picked with the ICD-10 search: repeated `diagnosis` inputs and one `primary` radio.

    They are not Django fields (their number varies); `clean_diagnoses` reads them from the raw data."""

    data: Any
    is_bound: bool

    def picked_codes(self) -> list[str]:
        if not self.is_bound:
            return [d["code"] for d in getattr(self, "initial_diagnoses", [])]
        seen: list[str] = []
        for code in self.data.getlist("diagnosis"):
            code = code.strip().upper()[:10]
            if code and code not in seen:
                seen.append(code)
        return seen

    def picked_primary(self) -> str:
        if not self.is_bound:
            primary = [d["code"] for d in getattr(self, "initial_diagnoses", []) if d.get("primary")]
            return primary[0] if primary else ""
        return self.data.get("primary", "").strip().upper()

    def clean_diagnosis_list(self, *, required: bool) -> list[dict[str, Any]]:
        codes = self.picked_codes()
        if len(codes) > MAX_DIAGNOSES:
            raise forms.ValidationError(_("At most %(n)s diagnoses.") % {"n": MAX_DIAGNOSES})
        known = set(Icd10Code.objects.filter(code__in=codes, active=True).values_list("code", flat=True))
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise forms.ValidationError(_("Unknown ICD-10 code: %(codes)s.") % {"codes": "、".join(unknown)})
        if required and not codes:
            raise forms.ValidationError(_("Add at least one diagnosis."))
        primary = self.picked_primary()
        if primary not in codes:
            primary = codes[0] if codes else ""
        return [{"code": c, "primary": c == primary} for c in codes]

    def picked(self) -> list[dict[str, Any]]:
        """What the page shows as chips: code, Chinese name and the primary flag, in the picked order."""
        codes = self.picked_codes()
        names = dict(Icd10Code.objects.filter(code__in=codes).values_list("code", "name"))
        primary = self.picked_primary() or (codes[0] if codes else "")
        return [{"code": c, "name": names.get(c, ""), "primary": c == primary, "known": c in names} for c in codes]


# ---------------------------------------------------------------- encounters


def encounter_organizations(user: Any) -> QuerySet[Organization]:
    """Where this user records encounters: the organisations they are posted to today."""
    posted = posted_organization_ids(user)
    return Organization.objects.filter(id__in=posted, active=True).order_by("division_code", "id")


class EncounterForm(DiagnosisPickMixin, DomainErrorMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Encounter kind"), choices=EncounterKind.choices,
                             initial=EncounterKind.OUTPATIENT)
    organization = OrganizationChoiceField(label=_("Organisation"), queryset=Organization.objects.none(),
                                           empty_label=None)
    department = forms.ModelChoiceField(label=_("Department"), queryset=Department.objects.none(), required=False,
                                        empty_label=_("— none —"))
    started_at = forms.DateTimeField(label=_("Time (admission)"), required=False, widget=DATETIME_INPUT,
                                     help_text=_("Empty: now."))
    ward = forms.CharField(label=_("Ward / bed"), required=False, max_length=40,
                           help_text=_("Inpatients only."))
    chief_complaint = forms.CharField(label=_("Chief complaint"), max_length=200,
                                      widget=forms.TextInput(attrs={"autocomplete": "off"}))
    note = forms.CharField(label=_("Clinical note"), required=False, max_length=5000,
                           widget=forms.Textarea(attrs={"rows": 4}))
    is_tcm = forms.BooleanField(label=_("TCM visit"), required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        orgs = encounter_organizations(user)
        self.fields["organization"].queryset = orgs
        self.fields["department"].queryset = Department.objects.filter(organization__in=orgs).select_related(
            "organization"
        ).order_by("organization__division_code", "code")
        self.fields["department"].label_from_instance = lambda d: (  # type: ignore[attr-defined]
            d.name if len({o.pk for o in orgs}) < 2 else f"{d.organization.name} · {d.name}"
        )
        if not self.is_bound and user.organization_id:
            self.initial.setdefault("organization", user.organization_id)
        for name, code, label in VITALS:
            measure = vitals.MEASURES[code]
            self.fields[f"vital_{name}"] = forms.DecimalField(
                label=label, required=False, min_value=measure.low, max_value=measure.high, max_digits=7,
                decimal_places=2, widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
                help_text=measure.unit_display,
            )
        for name, label in COSTS:
            self.fields[f"cost_{name}"] = forms.DecimalField(
                label=label, required=False, min_value=Decimal("0"), max_digits=10, decimal_places=2,
                widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal", "placeholder": "0.00"}),
            )

    def vital_fields(self) -> list[forms.BoundField]:
        return [self[f"vital_{name}"] for name, *_rest in VITALS]

    def cost_fields(self) -> list[forms.BoundField]:
        return [self[f"cost_{name}"] for name, _label in COSTS]

    def clean_started_at(self) -> dt.datetime | None:
        value = self.cleaned_data["started_at"]
        if value is not None and value > timezone.now() + dt.timedelta(minutes=5):
            raise forms.ValidationError(_("The time cannot be in the future."))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        try:
            data["diagnoses"] = self.clean_diagnosis_list(required=True)
        except forms.ValidationError as exc:
            self.add_error(None, exc)
        department = data.get("department")
        if department is not None and data.get("organization") and department.organization_id != data[
            "organization"
        ].pk:
            self.add_error("department", _("This department belongs to another organisation."))
        return data

    def encounter_data(self, orders: forms.BaseFormSet) -> dict[str, Any]:
        d = self.cleaned_data
        data: dict[str, Any] = {
            "kind": d["kind"],
            "organization": d["organization"],
            "department": d["department"],
            "ward": d["ward"],
            "chief_complaint": d["chief_complaint"],
            "note": d["note"],
            "is_tcm": d["is_tcm"],
            "diagnoses": d["diagnoses"],
            "vitals": [
                {"code": code, "value": d[f"vital_{name}"], "unit": vitals.MEASURES[code].unit}
                for name, code, _label in VITALS
                if d.get(f"vital_{name}") is not None
            ],
            "costs": {name: d[f"cost_{name}"] for name, _label in COSTS if d.get(f"cost_{name}") is not None},
            "orders": [
                {"kind": f.cleaned_data["kind"], "description": f.cleaned_data["description"].strip(), "code": ""}
                for f in orders
                if f.cleaned_data.get("description", "").strip()
            ],
        }
        if d["started_at"]:
            data["started_at"] = d["started_at"]
        return data


class OrderForm(forms.Form):
    kind = forms.ChoiceField(label=_("Order kind"), choices=[("", "—"), *OrderKind.choices], required=False)
    description = forms.CharField(label=_("Order"), required=False, max_length=200,
                                  widget=forms.TextInput(attrs={"autocomplete": "off"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("description", "").strip() and not data.get("kind"):
            self.add_error("kind", _("Choose the kind of order."))
        return data


OrderFormSet = forms.formset_factory(OrderForm, extra=3, max_num=10, validate_max=True)


class DischargeForm(forms.Form):
    ended_at = forms.DateTimeField(label=_("Discharge time"), widget=DATETIME_INPUT)
    note = forms.CharField(label=_("Discharge note"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 3}))
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def clean_ended_at(self) -> dt.datetime:
        value = self.cleaned_data["ended_at"]
        if value > timezone.now() + dt.timedelta(minutes=5):
            raise forms.ValidationError(_("The time cannot be in the future."))
        return value


# ---------------------------------------------------------------- referrals


def receivers(user: Any, kind: str, from_organization: Organization | None) -> QuerySet[Organization]:
    """Where a referral of this kind may go, for the page's choice list (the service checks again):
    up — a higher level in the community (a village goes to its branch or the county); down — a lower
    level; out of county — the partner hospitals outside the community (only from the lead hospital)."""
    community_orgs = Organization.objects.filter(community_id=user.community_id, active=True)
    level = from_organization.level if from_organization else ""
    clinical = Q(org_type__in=[OrganizationType.LEAD_HOSPITAL, OrganizationType.TCM_HOSPITAL,
                               OrganizationType.MCH, OrganizationType.TOWNSHIP_CENTRE,
                               OrganizationType.COMMUNITY_CENTRE, OrganizationType.VILLAGE_CLINIC,
                               OrganizationType.PRIVATE_CLINIC])
    if kind == ReferralKind.UP:
        higher = {Level.VILLAGE: [Level.TOWNSHIP, Level.COUNTY], Level.TOWNSHIP: [Level.COUNTY]}.get(level, [])
        qs = community_orgs.filter(clinical, level__in=higher, is_member=True)
        if level == Level.VILLAGE and from_organization is not None and from_organization.parent_id:
            # a village refers up to its own branch or to the county, not to another township
            qs = qs.filter(Q(level=Level.COUNTY) | Q(pk=from_organization.parent_id))
    elif kind == ReferralKind.DOWN:
        lower = {Level.COUNTY: [Level.TOWNSHIP, Level.VILLAGE], Level.TOWNSHIP: [Level.VILLAGE]}.get(level, [])
        qs = community_orgs.filter(clinical, level__in=lower, is_member=True)
    elif kind == ReferralKind.OUT_OF_COUNTY:
        qs = community_orgs.filter(org_type=OrganizationType.PARTNER_HOSPITAL)
        if from_organization is None or from_organization.org_type != OrganizationType.LEAD_HOSPITAL:
            qs = qs.none()
    else:
        qs = community_orgs.none()
    if from_organization is not None:
        qs = qs.exclude(pk=from_organization.pk)
    return qs.order_by("division_code", "id")  # the branch (6+3 digits) before its villages (6+6)


def lead_practitioners(user: Any, organization: Organization | None) -> QuerySet[Practitioner]:
    """Who may be the responsible doctor of a care plan: practitioners posted at the sending organisation."""
    today = timezone.localdate()
    qs = Practitioner.objects.filter(community_id=user.community_id, active=True)
    if organization is not None:
        qs = qs.filter(postings__organization=organization, postings__start__lte=today).filter(
            Q(postings__end__isnull=True) | Q(postings__end__gte=today)
        )
    return qs.distinct().order_by("name", "id")


class ReferralForm(DiagnosisPickMixin, DomainErrorMixin, forms.Form):
    form_token = forms.UUIDField(widget=forms.HiddenInput)
    source_encounter = forms.UUIDField(widget=forms.HiddenInput, required=False)
    kind = forms.ChoiceField(label=_("Referral kind"), choices=ReferralKind.choices)
    from_organization = OrganizationChoiceField(label=_("Referring organisation"), queryset=Organization.objects.none(),
                                                empty_label=None)
    to_organization = OrganizationChoiceField(label=_("Receiving organisation"), queryset=Organization.objects.none(),
                                              empty_label=_("— choose —"))
    to_department = forms.ModelChoiceField(label=_("Receiving department"), queryset=Department.objects.none(),
                                           required=False, empty_label=_("— any —"))
    urgent = forms.BooleanField(label=_("Green channel (urgent: jumps the queue, reserves a bed)"), required=False)
    reason = forms.CharField(label=_("Reason for referral"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    clinical_summary = forms.CharField(label=_("Clinical summary"), required=False, max_length=5000,
                                       widget=forms.Textarea(attrs={"rows": 5}))
    slip_number = forms.CharField(label=_("Referral slip number"), required=False, max_length=30,
                                  help_text=_("Out of county: the number of the lead hospital's referral slip. "
                                              "Empty: numbered when saved."))
    # the care plan of a down-referral
    treatment_summary = forms.CharField(label=_("Treatment summary"), required=False, max_length=5000,
                                        widget=forms.Textarea(attrs={"rows": 4}))
    warning_signs = forms.CharField(label=_("Warning signs (return at once if)"), required=False, max_length=2000,
                                    widget=forms.Textarea(attrs={"rows": 3}))
    responsible_practitioner = PractitionerChoiceField(
        label=_("Responsible doctor at the lead hospital"), queryset=Practitioner.objects.none(), required=False,
        empty_label=_("— choose —"), help_text=_("Stays in the patient's care team and sees the follow-ups."),
    )
    period_end = forms.DateField(label=_("Followed until"), required=False, widget=DATE_INPUT)

    def __init__(self, *args: Any, user: Any, initial_diagnoses: list[dict[str, Any]] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.initial_diagnoses = initial_diagnoses or []
        senders = encounter_organizations(user)
        self.fields["from_organization"].queryset = senders
        if not self.is_bound:
            self.initial.setdefault("form_token", uuid.uuid4())
            if user.organization_id:
                self.initial.setdefault("from_organization", user.organization_id)
            if "period_end" not in self.initial and user.community_id:
                days = int(policy.get("care_plan_follow_days", user.community_id))
                self.initial["period_end"] = timezone.localdate() + dt.timedelta(days=days)
            if user.practitioner_id:
                self.initial.setdefault("responsible_practitioner", user.practitioner_id)
        sender = self._chosen(senders, "from_organization")
        self.sender = sender
        kind = self._value("kind") or ReferralKind.UP
        self.kind = kind
        targets = receivers(user, kind, sender)
        self.fields["to_organization"].queryset = targets
        target = self._chosen(targets, "to_organization")
        self.fields["to_department"].queryset = (
            Department.objects.filter(organization=target).order_by("code") if target else Department.objects.none()
        )
        self.fields["to_department"].label_from_instance = lambda d: d.name  # type: ignore[attr-defined]
        self.fields["responsible_practitioner"].queryset = lead_practitioners(user, sender)

    def _value(self, name: str) -> str:
        if self.is_bound:
            return str(self.data.get(self.add_prefix(name), "") or "")
        value = self.initial.get(name, self.fields[name].initial)
        return str(getattr(value, "pk", value) or "")

    def _chosen(self, queryset: QuerySet[Organization], name: str) -> Organization | None:
        value = self._value(name)
        if not value.isdigit():
            return None
        return queryset.filter(pk=int(value)).first()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        try:
            data["diagnoses"] = self.clean_diagnosis_list(required=True)
        except forms.ValidationError as exc:
            self.add_error(None, exc)
        kind = data.get("kind")
        if kind == ReferralKind.DOWN:
            for name in ("treatment_summary", "responsible_practitioner", "period_end"):
                if not data.get(name):
                    self.add_error(name, _("A down-referral's care plan needs this."))
            end = data.get("period_end")
            if end and end <= timezone.localdate():
                self.add_error("period_end", _("Choose a day after today."))
        if data.get("urgent") and kind != ReferralKind.UP:
            self.add_error("urgent", _("Only up-referrals use the green channel."))
        return data

    def referral_data(self, *, source_encounter: Any, medicines: forms.BaseFormSet,
                      follow_up: forms.BaseFormSet) -> dict[str, Any]:
        d = self.cleaned_data
        data: dict[str, Any] = {
            "kind": d["kind"],
            "from_organization": d["from_organization"],
            "to_organization": d["to_organization"],
            "to_department": d["to_department"],
            "urgent": d["urgent"],
            "reason": d["reason"].strip(),
            "clinical_summary": d["clinical_summary"].strip(),
            "diagnoses": d["diagnoses"],
            "source_encounter": source_encounter,
            "slip_number": d["slip_number"].strip(),
        }
        if d["kind"] == ReferralKind.DOWN:
            data["care_plan"] = {
                "treatment_summary": d["treatment_summary"].strip(),
                "medicines": [f.line() for f in medicines if f.line()],
                "follow_up": [f.line() for f in follow_up if f.line()],
                "warning_signs": d["warning_signs"].strip(),
                "responsible_practitioner": d["responsible_practitioner"],
                "period_end": d["period_end"],
            }
        return data


class MedicineForm(forms.Form):
    name = forms.CharField(label=_("Medicine"), required=False, max_length=100)
    dose = forms.CharField(label=_("Dose"), required=False, max_length=40)
    frequency = forms.CharField(label=_("Frequency"), required=False, max_length=40)
    days = forms.IntegerField(label=_("Days"), required=False, min_value=1, max_value=365)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("name", "").strip() and (data.get("dose") or data.get("frequency") or data.get("days")):
            self.add_error("name", _("Name the medicine."))
        return data

    def line(self) -> dict[str, Any] | None:
        d = getattr(self, "cleaned_data", {})
        if not d.get("name", "").strip():
            return None
        return {"name": d["name"].strip(), "dose": d.get("dose", "").strip(),
                "frequency": d.get("frequency", "").strip(), "days": d.get("days")}


class FollowUpForm(forms.Form):
    due = forms.DateField(label=_("Due"), required=False, widget=DATE_INPUT)
    what = forms.CharField(label=_("What"), required=False, max_length=200)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("what", "").strip() and not data.get("due"):
            self.add_error("due", _("Give the date."))
        if data.get("due") and not data.get("what", "").strip():
            self.add_error("what", _("Say what is due."))
        return data

    def line(self) -> dict[str, Any] | None:
        d = getattr(self, "cleaned_data", {})
        if not d.get("due") or not d.get("what", "").strip():
            return None
        return {"due": d["due"].isoformat(), "what": d["what"].strip()}


MedicineFormSet = forms.formset_factory(MedicineForm, extra=4, max_num=20, validate_max=True)
FollowUpFormSet = forms.formset_factory(FollowUpForm, extra=3, max_num=12, validate_max=True)


class AcceptForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    slot = forms.UUIDField(label=_("Slot"), required=False)


class ReasonForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    reason = forms.CharField(label=_("Reason"), max_length=200, widget=forms.TextInput(attrs={"autocomplete": "off"}))


class StepForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


# ---------------------------------------------------------------- board filters

PERIODS = [
    ("", _("Any time")),
    ("today", _("Today")),
    ("7d", _("Last 7 days")),
    ("30d", _("Last 30 days")),
    ("90d", _("Last 90 days")),
    ("365d", _("Last 12 months")),
]


class BoardFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("All statuses")),
                                                                            *ReferralStatus.choices])
    kind = forms.ChoiceField(label=_("Referral kind"), required=False,
                             choices=[("", _("All kinds")), *ReferralKind.choices])
    period = forms.ChoiceField(label=_("Requested on"), required=False, choices=PERIODS)
    organization = OrganizationChoiceField(label=_("Organisation (either side)"), required=False,
                                           queryset=Organization.objects.none(), empty_label=_("All organisations"))

    def __init__(self, *args: Any, community_id: int | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = Organization.objects.filter(community_id=community_id).order_by(
            "division_code", "id"
        )

    def since(self) -> dt.datetime | None:
        period = self.cleaned_data.get("period") or ""
        if not period:
            return None
        today = timezone.localdate()
        start = today if period == "today" else today - dt.timedelta(days=int(period.rstrip("d")))
        return timezone.make_aware(dt.datetime.combine(start, dt.time.min))


class InboxFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("open", _("Open")), *ReferralStatus.choices])
    kind = forms.ChoiceField(required=False, choices=[("", _("All kinds")), *ReferralKind.choices])


# ---------------------------------------------------------------- published capacity


class SlotForm(DomainErrorMixin, forms.Form):
    """Publish capacity at one of the user's organisations; the service computes the reserved share."""

    organization = OrganizationChoiceField(label=_("Organisation"), queryset=Organization.objects.none(),
                                           empty_label=None)
    department = forms.ModelChoiceField(label=_("Department"), queryset=Department.objects.none(), required=False,
                                        empty_label=_("— none —"))
    kind = forms.ChoiceField(label=_("Slot kind"), choices=SlotKind.choices)
    label = forms.CharField(label=_("Label"), max_length=100, required=False,
                            help_text=_("E.g. cardiology specialist clinic, Tuesday morning."))
    starts_at = forms.DateTimeField(label=_("Starts"), widget=DATETIME_INPUT)
    ends_at = forms.DateTimeField(label=_("Ends"), widget=DATETIME_INPUT)
    capacity = forms.IntegerField(label=_("Places"), min_value=1, max_value=10_000, initial=10)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        orgs = Organization.objects.filter(community_id=user.community_id, is_member=True, active=True)
        if user.role != Role.COMMUNITY_ADMIN:  # the office publishes for any member
            orgs = orgs.filter(pk__in=posted_organization_ids(user))
        orgs = orgs.order_by("division_code")
        self.fields["organization"].queryset = orgs
        self.fields["department"].queryset = Department.objects.filter(organization__in=orgs).select_related(
            "organization").order_by("organization__division_code", "code")
        self.fields["department"].label_from_instance = lambda d: f"{d.organization.name} · {d.name}"
        if not self.is_bound:
            self.initial.setdefault("organization", user.organization_id)
            start = (timezone.localtime() + dt.timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
            self.initial.setdefault("starts_at", start)
            self.initial.setdefault("ends_at", start.replace(hour=12))


# ---------------------------------------------------------------- first contact (walk-in)


class WalkInForm(DomainErrorMixin, forms.Form):
    """A patient from outside the area: the national ID and name from their ID card open their record."""

    national_id = forms.CharField(label=_("National ID"), max_length=30,
                                  widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    name = forms.CharField(label=_("Name"), max_length=50, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    organization = OrganizationChoiceField(label=_("Organisation"), queryset=Organization.objects.none(),
                                           empty_label=None)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = Organization.objects.filter(
            pk__in=posted_organization_ids(user), community_id=user.community_id, active=True
        ).order_by("division_code")
        if not self.is_bound:
            self.initial.setdefault("organization", user.organization_id)
