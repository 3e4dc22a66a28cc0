"""Forms of the registry pages. They shape input for the services; the rules themselves (national ID,
duplicates, who may register where) live in `services` and come back as DomainError messages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from countycare.core import nationalid
from countycare.core.codes import (
    COMMUNITY_WIDE_ROLES,
    GRASSROOTS_TYPES,
    IdentifierType,
    InsuranceScheme,
    KeyPopulation,
    Sex,
    Title,
)
from countycare.core.errors import DomainError

from .models import Household, Organization, Resident
from .scope import covered_organization_ids
from .services import ResidentData

# Service field names that the form spells differently.
FIELD_OF_SERVICE = {"household": "household_code"}
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def registrable_organizations(user: Any) -> QuerySet[Organization]:
    """Where this user may register residents: village clinics and branches in their scope (the whole
    community for community-wide roles)."""
    qs = Organization.objects.filter(community_id=user.community_id, org_type__in=GRASSROOTS_TYPES, active=True)
    if user.role not in COMMUNITY_WIDE_ROLES:
        qs = qs.filter(id__in=covered_organization_ids(user))
    return qs.order_by("division_code", "id")


def _only_choice(queryset: QuerySet[Organization]) -> int | None:
    ids = list(queryset.values_list("pk", flat=True)[:2])
    return ids[0] if len(ids) == 1 else None


class OrganizationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Organization) -> str:
        return f"{obj.name}（{obj.division_code}）"


class DomainErrorMixin:
    """Show a service's DomainError on the field it names, or above the form."""

    def add_domain_error(self, exc: DomainError) -> None:
        name = FIELD_OF_SERVICE.get(exc.field or "", exc.field)
        self.add_error(name if name in self.fields else None, exc.message)  # type: ignore[attr-defined]


class ResidentForm(DomainErrorMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=50)
    national_id = forms.CharField(
        label=_("National ID"),
        required=False,
        max_length=40,
        help_text=_("18 characters. With a national ID, birth date and sex may be left empty."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "class": "mono"}),
    )
    sex = forms.ChoiceField(label=_("Sex"), required=False, choices=[("", _("— from the national ID —")), *Sex.choices])
    birth_date = forms.DateField(label=_("Birth date"), required=False, widget=DATE_INPUT)
    phone = forms.CharField(
        label=_("Phone"),
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    home_organization = OrganizationChoiceField(
        label=_("Home organisation"),
        queryset=Organization.objects.none(),
        empty_label=_("— choose —"),
        help_text=_("The village clinic (or the branch, for town residents) whose clinicians look after the resident."),
    )
    address = forms.CharField(label=_("Address"), required=False, max_length=200)
    village_code = forms.CharField(
        label=_("Village division code"),
        required=False,
        max_length=12,
        help_text=_("12 digits; empty takes the code of the home organisation."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "class": "mono"}),
    )
    household_code = forms.CharField(label=_("Household number"), required=False, max_length=30)
    relation_to_head = forms.CharField(label=_("Relation to head of household"), required=False, max_length=20)
    insurance_scheme = forms.ChoiceField(
        label=_("Insurance scheme"), choices=InsuranceScheme.choices, initial=InsuranceScheme.RESIDENT
    )
    insurance_number = forms.CharField(label=_("Insurance number"), required=False, max_length=30)
    tags = forms.MultipleChoiceField(
        label=_("Key populations"),
        required=False,
        choices=KeyPopulation.choices,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, user: Any, extra_organization: Organization | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.user = user
        queryset = registrable_organizations(user)
        if extra_organization is not None:
            queryset = Organization.objects.filter(
                pk__in=[*queryset.values_list("pk", flat=True), extra_organization.pk]
            ).order_by("division_code", "id")
        self.fields["home_organization"].queryset = queryset
        if not self.is_bound and "home_organization" not in self.initial:
            self.initial["home_organization"] = _only_choice(queryset)

    def clean_national_id(self) -> str:
        """The service checks the ID again; checking it here shows its message with the other field errors."""
        value = self.cleaned_data["national_id"].strip()
        if value:
            try:
                nationalid.parse(value)
            except nationalid.NationalIdError as exc:
                raise forms.ValidationError(exc.message) from None
        return value

    def clean_household_code(self) -> Household | None:
        code = self.cleaned_data["household_code"].strip()
        if not code:
            return None
        household = Household.objects.filter(community_id=self.user.community_id, code=code).first()
        if household is None:
            raise forms.ValidationError(_("No household with this number in the community."))
        return household

    def resident_data(self, identifiers: forms.BaseFormSet) -> ResidentData:
        data = self.cleaned_data
        return ResidentData(
            name=data["name"],
            sex=data["sex"],
            birth_date=data["birth_date"],
            national_id=data["national_id"],
            phone=data["phone"],
            address=data["address"],
            village_code=data["village_code"],
            home_organization=data["home_organization"],
            household=data["household_code"],
            relation_to_head=data["relation_to_head"],
            insurance_scheme=data["insurance_scheme"],
            insurance_number=data["insurance_number"],
            tags=list(data["tags"]),
            identifiers=[
                (f.cleaned_data["type"], f.cleaned_data["value"])
                for f in identifiers.forms
                if f.cleaned_data.get("type") and f.cleaned_data.get("value")
            ],
        )


class ResidentEditForm(ResidentForm):
    version = forms.IntegerField(widget=forms.HiddenInput)

    @staticmethod
    def initial_for(resident: Resident) -> dict[str, Any]:
        return {
            "name": resident.name,
            "national_id": resident.national_id or "",
            "sex": resident.sex,
            "birth_date": resident.birth_date,
            "phone": resident.phone,
            "home_organization": resident.home_organization_id,
            "address": resident.address,
            "village_code": resident.village_code,
            "household_code": resident.household.code if resident.household else "",
            "relation_to_head": resident.relation_to_head,
            "insurance_scheme": resident.insurance_scheme,
            "insurance_number": resident.insurance_number,
            "tags": [t.tag for t in resident.tags.all()],
            "version": resident.version,
        }


class IdentifierForm(forms.Form):
    type = forms.ChoiceField(label=_("Identifier type"), required=False, choices=[("", "—"), *IdentifierType.choices])
    value = forms.CharField(
        label=_("Number"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"class": "mono", "autocomplete": "off"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("type")) != bool((data.get("value") or "").strip()):
            raise forms.ValidationError(_("Give both the type and the number, or neither."))
        return data


IdentifierFormSet = forms.formset_factory(IdentifierForm, extra=2, max_num=6)


def identifier_initial(resident: Resident) -> list[dict[str, str]]:
    return [{"type": i.type, "value": i.value} for i in resident.identifiers.all()]


class MergeForm(DomainErrorMixin, forms.Form):
    duplicate = forms.UUIDField(
        label=_("Record to fold in"), error_messages={"required": _("Choose the duplicate record.")}
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. same person registered twice")}),
    )
    confirm = forms.BooleanField(
        label=_("I have checked both records: they are the same person."),
        error_messages={"required": _("Tick the box to confirm.")},
    )


class UnmergeForm(DomainErrorMixin, forms.Form):
    event = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(label=_("Reason"), max_length=200)


class PractitionerFilterForm(forms.Form):
    q = forms.CharField(label=_("Name or licence"), required=False, max_length=50)
    title = forms.ChoiceField(label=_("Title"), required=False, choices=[("", _("All titles")), *Title.choices])
    organization = forms.ModelChoiceField(
        label=_("Organisation"),
        required=False,
        to_field_name="uuid",
        queryset=Organization.objects.none(),
        empty_label=_("All organisations"),
    )

    def __init__(self, *args: Any, community_id: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = Organization.objects.filter(community_id=community_id).order_by(
            "division_code", "id"
        )
