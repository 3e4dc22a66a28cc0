"""A small hand-built county every test can use, and the cast of users who work in it.

    城关县人民医院 (lead hospital, 330122)          城关县疾控中心 (cdc)   城关县妇幼保健院 (mch)
      ├─ 东镇分院 (township 330122101)
      │    ├─ 东村卫生室 (330122101201)   ├─ 南村卫生室 (330122101202)
      └─ 西镇分院 (township 330122102)
           └─ 西村卫生室 (330122102201)
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
from dataclasses import dataclass, field

import pytest

from countycare.core import nationalid, refcache
from countycare.core.codes import KeyPopulation, Level, OrganizationType, PostingKind, Role, Sex, Title
from countycare.core.pinyin import full, initials

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop in browser tests
PASSWORD = "Test-pass-2026"
COUNTY = "330122"


@dataclass
class County:
    community: object
    orgs: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)
    residents: dict = field(default_factory=dict)
    practitioners: dict = field(default_factory=dict)


def make_resident(county: County, key: str, name: str, home: str, *, birth: dt.date, sex: str = Sex.MALE,
                  with_id: bool = True, seq: int = 1, phone: str = "", tags: tuple[str, ...] = ()):
    from countycare.registry.models import Resident, ResidentTag

    org = county.orgs[home]
    resident = Resident.objects.create(
        community=county.community, name=name, name_pinyin=full(name), name_initials=initials(name), sex=sex,
        birth_date=birth, national_id=nationalid.build(COUNTY, birth, seq, sex) if with_id else None,
        phone=phone, home_organization=org, village_code=org.division_code, address=f"{org.name}附近",
    )
    ResidentTag.objects.bulk_create(ResidentTag(resident=resident, tag=t) for t in tags)
    county.residents[key] = resident
    return resident


def build_county() -> County:
    from countycare.accounts.models import User
    from countycare.core.models import Community
    from countycare.registry.models import Department, Organization, Posting, Practitioner

    community = Community.objects.create(name="城关县医共体", county_name="城关县", division_code=COUNTY)
    county = County(community)

    def org(key, name, org_type, level, code, parent=None, member=True):
        county.orgs[key] = Organization.objects.create(
            community=community, name=name, short_name=name, org_type=org_type, level=level, division_code=code,
            parent=county.orgs.get(parent) if parent else None, is_member=member,
        )

    org("lead", "城关县人民医院", OrganizationType.LEAD_HOSPITAL, Level.COUNTY, COUNTY)
    org("cdc", "城关县疾病预防控制中心", OrganizationType.CDC, Level.COUNTY, COUNTY)
    org("mch", "城关县妇幼保健院", OrganizationType.MCH, Level.COUNTY, COUNTY)
    org("east", "城关县人民医院东镇分院", OrganizationType.TOWNSHIP_CENTRE, Level.TOWNSHIP, COUNTY + "101", "lead")
    org("west", "城关县人民医院西镇分院", OrganizationType.TOWNSHIP_CENTRE, Level.TOWNSHIP, COUNTY + "102", "lead")
    org("east_v1", "东村卫生室", OrganizationType.VILLAGE_CLINIC, Level.VILLAGE, COUNTY + "101201", "east")
    org("east_v2", "南村卫生室", OrganizationType.VILLAGE_CLINIC, Level.VILLAGE, COUNTY + "101202", "east")
    org("west_v1", "西村卫生室", OrganizationType.VILLAGE_CLINIC, Level.VILLAGE, COUNTY + "102201", "west")
    org("partner", "省人民医院", OrganizationType.PARTNER_HOSPITAL, Level.OUTSIDE, "330100", member=False)
    Department.objects.create(organization=county.orgs["lead"], code="CARD", name="心内科", specialty="cardiology")
    Department.objects.create(organization=county.orgs["east"], code="GP", name="全科", specialty="general practice")

    def practitioner(key, name, title, home, role, kind=PostingKind.HOME):
        p = Practitioner.objects.create(
            community=community, name=name, title=title, licence_number=f"L{len(county.practitioners):05d}"
        )
        Posting.objects.create(practitioner=p, organization=county.orgs[home], role=role, kind=kind,
                               start=dt.date(2020, 1, 1))
        county.practitioners[key] = p
        return p

    cast = [
        # key, role, home org, title
        ("village_doctor", Role.VILLAGE_DOCTOR, "east_v1", Title.VILLAGE_DOCTOR),
        ("township_doctor", Role.TOWNSHIP_DOCTOR, "east", Title.ATTENDING_PHYSICIAN),
        ("west_doctor", Role.TOWNSHIP_DOCTOR, "west", Title.RESIDENT_PHYSICIAN),
        ("county_specialist", Role.COUNTY_SPECIALIST, "lead", Title.CHIEF_PHYSICIAN),
        ("centre_reader", Role.CENTRE_READER, "lead", Title.ASSOCIATE_CHIEF_PHYSICIAN),
        ("pharmacist", Role.PHARMACIST, "lead", Title.PHARMACIST),
        ("insurance_officer", Role.INSURANCE_OFFICER, "lead", Title.OFFICER),
        ("community_admin", Role.COMMUNITY_ADMIN, "lead", Title.OFFICER),
        ("bureau_viewer", Role.BUREAU_VIEWER, "lead", Title.OFFICER),
        ("cdc_officer", Role.CDC_OFFICER, "cdc", Title.OFFICER),
    ]
    for key, role, home, title in cast:
        p = practitioner(key, f"医生{key}", title, home, role)
        county.users[key] = User.objects.create_user(
            username=key, password=PASSWORD, role=role, community=community, organization=county.orgs[home],
            practitioner=p,
        )
    make_resident(county, "zhang_san", "张三", "east_v1", birth=dt.date(1960, 5, 1), phone="13800000001",
                  tags=(KeyPopulation.HYPERTENSION,))
    make_resident(county, "zeng_li", "曾丽", "east_v2", birth=dt.date(1985, 2, 14), sex=Sex.FEMALE, seq=2)
    make_resident(county, "li_si", "李四", "east", birth=dt.date(1990, 8, 8), seq=3)
    make_resident(county, "wang_wu", "王五", "west_v1", birth=dt.date(1950, 1, 1), seq=4,
                  tags=(KeyPopulation.ELDERLY, KeyPopulation.DIABETES))
    resident_self = make_resident(county, "resident_self", "赵六", "west_v1", birth=dt.date(1978, 3, 3), seq=5)
    county.users["resident"] = User.objects.create_user(
        username="resident", password=PASSWORD, role=Role.RESIDENT, community=community, resident=resident_self
    )
    return county


@pytest.fixture
def county(db) -> County:
    return build_county()


@pytest.fixture
def other_community(db) -> dict:
    """A neighbouring county on the same platform: one hospital, one chief physician, one posting.
    Nothing of it may be reachable by a user of `county`."""
    from countycare.core.models import Community
    from countycare.registry.models import Organization, Posting, Practitioner

    community = Community.objects.create(name="临县医共体", county_name="临县", division_code="330127")
    organization = Organization.objects.create(
        community=community, name="临县人民医院", org_type=OrganizationType.LEAD_HOSPITAL, level=Level.COUNTY,
        division_code="330127",
    )
    practitioner = Practitioner.objects.create(
        community=community, name="外县医生", title=Title.CHIEF_PHYSICIAN, licence_number="OTHER-1"
    )
    posting = Posting.objects.create(
        practitioner=practitioner, organization=organization, role=Role.COUNTY_SPECIALIST, start=dt.date(2020, 1, 1)
    )
    return {"organization": organization, "practitioner": practitioner, "posting": posting}


@pytest.fixture(autouse=True)
def fast_password_hashing(settings, request):
    """Argon2 is deliberately slow; tests that are not about hashing use a fast hasher."""
    if "argon2" not in request.node.name:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_reference_caches():
    """Each test's rows are rolled back after it: what a process cache kept from them must go with them."""
    refcache.clear_all()
    yield
    refcache.clear_all()


def _audit_triggers(direction: str) -> None:
    """Drop ("backwards") or re-create ("forwards") the append-only triggers of the audit table."""
    from django.db import connection

    migration = importlib.import_module("countycare.core.migrations.0002_audit_append_only")
    with connection.schema_editor(atomic=False) as editor:
        getattr(migration, direction)(None, editor)


REARM_AUDIT_TRIGGERS = pytest.StashKey[object]()


def allow_flush_after_test(request, django_db_blocker) -> None:
    """Call at the end of a transactional fixture: its test ends with a flush, which the audit table's
    append-only triggers refuse, so they are dropped now and re-created once the flush is done
    (pytest_runtest_teardown below)."""
    _audit_triggers("backwards")
    request.node.stash[REARM_AUDIT_TRIGGERS] = django_db_blocker


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield
    blocker = item.stash.get(REARM_AUDIT_TRIGGERS, None)
    if blocker is not None:
        with blocker.unblock():
            _audit_triggers("forwards")
