"""The demo cast: one user per role, each linked to a fitting practitioner and organisation of the
generated county (the resident user to a resident). Re-running the demo resets their passwords."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.db.models import Count, Q

from countycare.accounts import services as accounts
from countycare.accounts.models import User
from countycare.core.codes import KeyPopulation, OrganizationType, PostingKind, Role, Title
from countycare.core.models import Community
from countycare.registry.models import Organization, Posting, Practitioner, Resident

DEMO_USERNAMES = {role: role.value for role in Role} | {Role.COMMUNITY_ADMIN: "admin"}


@dataclass
class DemoUser:
    username: str
    role: str
    organization: str
    person: str
    created: bool


def demo_password(from_env: str | None) -> str:
    """The operator's choice, else a fresh one that passes the validators (letters, digits, a dash)."""
    if from_env:
        return from_env
    return f"cc-{secrets.token_urlsafe(9)}"


def _posted(community: Community, role: str, **filters: object) -> tuple[Practitioner, Organization] | None:
    posting = (
        Posting.objects.filter(
            practitioner__community=community, role=role, kind=PostingKind.HOME, end__isnull=True, **filters
        )
        .select_related("practitioner", "organization")
        .order_by("organization__division_code", "organization_id", "practitioner_id")
        .first()
    )
    return (posting.practitioner, posting.organization) if posting else None


def demo_reader(community: Community, lead: Organization | None = None) -> tuple[Practitioner, Organization] | None:
    """The demo's `centre_reader`: a physician of the lead hospital's centres (a senior one where there is one).
    The generated county makes them a reader of the ECG and imaging centres (synth/diagnostics.py)."""
    lead = lead or Organization.objects.get(community=community, org_type=OrganizationType.LEAD_HOSPITAL)
    physicians = [Title.CHIEF_PHYSICIAN, Title.ASSOCIATE_CHIEF_PHYSICIAN]
    return (
        _posted(community, Role.CENTRE_READER, organization=lead, practitioner__title__in=physicians)
        or _posted(
            community,
            Role.CENTRE_READER,
            organization=lead,
            practitioner__title__in=[*physicians, Title.ATTENDING_PHYSICIAN, Title.RESIDENT_PHYSICIAN],
        )
        or _posted(community, Role.CENTRE_READER, organization=lead)
    )


def _cast(community: Community) -> dict[str, tuple[Organization, Practitioner | None, Resident | None]]:
    """Who each demo user is: the village doctor works under the township doctor's branch, and the resident
    user lives in that village and has hypertension, so the scopes can be seen overlapping."""
    lead = Organization.objects.get(community=community, org_type=OrganizationType.LEAD_HOSPITAL)
    village = (
        Organization.objects.filter(community=community, org_type=OrganizationType.VILLAGE_CLINIC)
        .annotate(n=Count("residents"))
        .order_by("-n", "id")
        .first()
    )
    assert village is not None and village.parent is not None
    cast: dict[str, tuple[Organization, Practitioner | None, Resident | None]] = {}

    def put(role: str, found: tuple[Practitioner, Organization] | None, fallback: Organization) -> None:
        practitioner, org = found if found else (None, fallback)
        cast[role] = (org, practitioner, None)

    put(Role.VILLAGE_DOCTOR, _posted(community, Role.VILLAGE_DOCTOR, organization=village), village)
    put(
        Role.TOWNSHIP_DOCTOR,
        _posted(
            community,
            Role.TOWNSHIP_DOCTOR,
            organization=village.parent,
            practitioner__title__in=[
                Title.ATTENDING_PHYSICIAN,
                Title.RESIDENT_PHYSICIAN,
                Title.ASSOCIATE_CHIEF_PHYSICIAN,
            ],
        ),
        village.parent,
    )
    seniors = [Title.CHIEF_PHYSICIAN, Title.ASSOCIATE_CHIEF_PHYSICIAN]
    put(
        Role.COUNTY_SPECIALIST,
        _posted(
            community,
            Role.COUNTY_SPECIALIST,
            organization=lead,
            department__code="03.04",
            practitioner__title__in=seniors,
        )
        or _posted(community, Role.COUNTY_SPECIALIST, organization=lead, practitioner__title__in=seniors)
        or _posted(community, Role.COUNTY_SPECIALIST, organization=lead),
        lead,
    )
    put(Role.CENTRE_READER, demo_reader(community, lead), lead)
    put(Role.PHARMACIST, _posted(community, Role.PHARMACIST, organization=lead), lead)
    put(Role.INSURANCE_OFFICER, _posted(community, Role.INSURANCE_OFFICER, organization=lead), lead)
    put(Role.COMMUNITY_ADMIN, _posted(community, Role.COMMUNITY_ADMIN, organization=lead), lead)
    cdc = Organization.objects.filter(community=community, org_type=OrganizationType.CDC).first() or lead
    put(Role.CDC_OFFICER, _posted(community, Role.CDC_OFFICER, organization=cdc), cdc)
    cast[Role.BUREAU_VIEWER] = (lead, None, None)  # the health bureau is not a member: no practitioner
    resident = (
        Resident.objects.filter(
            home_organization=village, merged_into__isnull=True, national_id__isnull=False
        )
        .filter(Q(tags__tag=KeyPopulation.HYPERTENSION))
        .exclude(phone="")
        .order_by("id")
        .first()
        or Resident.objects.filter(home_organization=village).order_by("id").first()
    )
    cast[Role.RESIDENT] = (village, None, resident)
    return cast


def ensure_demo_users(community: Community, password: str, *, check_password: bool = True) -> list[DemoUser]:
    """Create the missing demo users, reset every demo user's password; return the cast in role order."""
    cast = _cast(community)
    result = []
    for role in sorted(Role, key=lambda r: r != Role.COMMUNITY_ADMIN):
        username = DEMO_USERNAMES[role]
        org, practitioner, resident = cast[role]
        user = User.objects.filter(username=username).first()
        created = user is None
        if user is None:
            user = accounts.create_user(
                username=username,
                role=role,
                organization=org,
                password=password,
                practitioner=practitioner,
                resident=resident,
                superuser=role == Role.COMMUNITY_ADMIN,
                check_password=check_password,
                first_name="卫健局" if role == Role.BUREAU_VIEWER else "",
            )
        else:
            accounts.set_password(user=user, password=password, check_password=check_password)
        who = user.practitioner or user.resident
        result.append(
            DemoUser(
                username,
                role,
                user.organization.name if user.organization else "",
                str(who) if who else "",
                created,
            )
        )
    return result
