"""Screenshots of every page for a look by eye: a tool, not part of the suite (the name keeps pytest from
collecting it on its own).

    COUNTYCARE_SCREENSHOTS=screenshots python -m pytest tests/web/screenshot_tour.py

writes PNGs into that directory (gitignored; default ./screenshots).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from tests.conftest import PASSWORD, make_resident
from tests.helpers import duplicate_of_zhang_san, post_down
from tests.web.conftest import sign_in, switch_language

OUT = os.environ.get("COUNTYCARE_SCREENSHOTS", "screenshots")
pytestmark = [pytest.mark.browser]


def enrich(county) -> None:
    """A little more than the test county: a household, identifiers, postings of each kind, a merge."""
    from countycare.core.codes import IdentifierType, KeyPopulation, Sex
    from countycare.registry import services
    from countycare.registry.models import Household, Resident, ResidentIdentifier

    east_v1 = county.orgs["east_v1"]
    household = Household.objects.create(
        community=county.community,
        code="3301221012010001",
        address="东村3组12号",
        village_code=east_v1.division_code,
        home_organization=east_v1,
    )
    zhang = county.residents["zhang_san"]
    Resident.objects.filter(pk=zhang.pk).update(
        household=household, relation_to_head="户主", insurance_number="R3301220001"
    )
    wife = make_resident(
        county,
        "zhang_wife",
        "李秀英",
        "east_v1",
        birth=dt.date(1962, 9, 12),
        sex=Sex.FEMALE,
        seq=11,
        phone="13900000002",
        tags=(KeyPopulation.DIABETES, KeyPopulation.REGISTERED_POOR),
    )
    grandchild = make_resident(
        county,
        "zhang_child",
        "张小宝",
        "east_v1",
        birth=dt.date.today() - dt.timedelta(days=900),
        seq=12,
        tags=(KeyPopulation.CHILD_0_6,),
    )
    Resident.objects.filter(pk__in=[wife.pk, grandchild.pk]).update(household=household)
    Resident.objects.filter(pk=wife.pk).update(relation_to_head="配偶")
    Resident.objects.filter(pk=grandchild.pk).update(relation_to_head="孙子")
    ResidentIdentifier.objects.create(resident=grandchild, type=IdentifierType.BIRTH_CERTIFICATE, value="Q330122123456")
    for i, name in enumerate(["赵建国", "周桂兰", "郑海峰", "张淑芬", "朱志强", "章小红"]):
        make_resident(
            county,
            f"extra{i}",
            name,
            "east_v2" if i % 2 else "east_v1",
            birth=dt.date(1940 + i * 9, 1 + i, 3 + i),
            sex=Sex.FEMALE if i % 2 else Sex.MALE,
            seq=20 + i,
            phone=f"1370000{i:04d}",
            tags=(KeyPopulation.HYPERTENSION,) if i % 3 == 0 else (),
        )
    twin = duplicate_of_zhang_san(county)
    services.merge_residents(
        user=county.users["community_admin"],
        survivor=zhang,
        duplicate=twin,
        reason="同一人重复建档（无身份证号的旧记录）",
    )
    post_down(
        county,
        east=(dt.date(2025, 3, 1), dt.date(2026, 2, 28)),
        west=(dt.date(2026, 3, 1), dt.date(2027, 2, 28)),
        licence_number="V33012200017",
    )


def shot(page, name: str, *, full: bool = True) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(Path(OUT) / f"{name}.png"), full_page=full)


def test_take_screenshots(live_county, live_server, page):
    Path(OUT).mkdir(parents=True, exist_ok=True)
    county = live_county
    enrich(county)
    base = live_server.url
    zhang = county.residents["zhang_san"]

    page.goto(f"{base}/login/")
    shot(page, "01-login")
    page.fill("input[name=username]", "township_doctor")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]:not([name])")
    shot(page, "02-login-wrong-password")

    sign_in(page, base, "township_doctor", PASSWORD)
    shot(page, "10-home-township-doctor")
    page.goto(f"{base}/residents/")
    page.locator("#q").press_sequentially("zs", delay=50)
    page.locator("[data-testid=resident-results]").wait_for()
    shot(page, "11-search-zs")
    page.goto(f"{base}/residents/{zhang.uuid}/")
    shot(page, "12-profile-township-doctor")
    page.goto(f"{base}/residents/{zhang.uuid}/edit/")
    shot(page, "13-edit-form")
    page.goto(f"{base}/residents/new/")
    page.fill("input[name=name]", "张三")
    page.fill("input[name=national_id]", "330122196005010012")
    page.select_option("select[name=home_organization]", label="东村卫生室（330122101201）")
    page.click("form.form-card button.btn-primary")
    shot(page, "14-register-wrong-id")
    page.fill("input[name=national_id]", "")
    page.select_option("select[name=sex]", "male")
    page.fill("input[name=birth_date]", "1960-05-01")
    page.fill("input[name=phone]", "13800000001")
    page.click("form.form-card button.btn-primary")
    shot(page, "15-register-duplicate")
    page.goto(f"{base}/organizations/")
    shot(page, "16-forbidden-for-clinician")
    page.goto(f"{base}/residents/{county.residents['wang_wu'].uuid}/")
    shot(page, "17-not-found-outside-scope")

    switch_language(page, "English")
    page.goto(f"{base}/residents/?q=zs")
    shot(page, "18-search-english")
    page.goto(f"{base}/")
    shot(page, "19-home-english")
    switch_language(page, "中文")

    page.context.clear_cookies()
    sign_in(page, base, "community_admin", PASSWORD)
    shot(page, "20-home-admin")
    page.goto(f"{base}/residents/{zhang.uuid}/")
    shot(page, "21-profile-admin-with-audit")
    page.goto(f"{base}/residents/{county.residents['zhang_dup'].uuid}/")
    shot(page, "22-merged-record")
    page.goto(f"{base}/residents/{county.residents['extra3'].uuid}/merge/?q=zs")
    shot(page, "23-merge-page")
    page.goto(f"{base}/organizations/")
    shot(page, "24-org-tree")
    page.click("text=全部展开")
    shot(page, "25-org-tree-expanded")
    page.goto(f"{base}/organizations/{county.orgs['east'].uuid}/")
    shot(page, "26-org-detail-branch")
    page.goto(f"{base}/practitioners/")
    shot(page, "27-practitioners")
    page.goto(f"{base}/practitioners/{county.practitioners['county_specialist'].uuid}/")
    shot(page, "28-practitioner-detail")
    page.goto(f"{base}/audit/")
    shot(page, "29-audit-log")
    page.set_viewport_size({"width": 420, "height": 860})
    page.goto(f"{base}/residents/{zhang.uuid}/")
    shot(page, "30-profile-narrow")
    page.set_viewport_size({"width": 1360, "height": 900})
    page.emulate_media(media="print")
    page.goto(f"{base}/residents/{zhang.uuid}/")
    shot(page, "31-profile-print")
    page.emulate_media(media="screen")

    page.context.clear_cookies()
    sign_in(page, base, "bureau_viewer", PASSWORD)
    shot(page, "40-home-bureau")
    page.goto(f"{base}/residents/?q=zs")
    shot(page, "41-bureau-search-forbidden")

    page.context.clear_cookies()
    sign_in(page, base, "resident", PASSWORD)
    shot(page, "50-resident-own-record")
    page.goto(f"{base}/nowhere/")
    shot(page, "51-404")

    page.context.clear_cookies()
    for _ in range(6):
        page.goto(f"{base}/login/")
        page.fill("input[name=username]", "pharmacist")
        page.fill("input[name=password]", "wrong-password")
        page.click("button[type=submit]:not([name])")
    shot(page, "60-locked-out")


def test_take_workstation_screenshots(live_county, live_server, page):
    """The doctor's workstation with a little history: today's list, a timeline, the encounter form with the
    ICD-10 search open, the inbox, a referral, the board, the letters, and the resident's own timeline."""
    from django.utils import timezone
    from tests.web.test_workstation_helpers import encounter, refer, slot, step

    Path(OUT).mkdir(parents=True, exist_ok=True)
    county = live_county
    base = live_server.url
    zhang = county.residents["zhang_san"]
    now = timezone.now()
    for days, complaint, codes in [(200, "头晕、头痛一周", ("I10",)), (120, "复查血压", ("I10",)),
                                   (45, "口干多饮一月", ("E11.9", "I10")), (0, "胸闷、心悸半天", ("I10",))]:
        encounter(county, "village_doctor", "zhang_san", complaint=complaint, codes=codes,
                  started_at=now - dt.timedelta(days=days, hours=2),
                  vitals=[{"code": "8480-6", "value": 150, "unit": "mm[Hg]"},
                          {"code": "8462-4", "value": 92, "unit": "mm[Hg]"}])
    encounter(county, "township_doctor", "li_si", complaint="咳嗽、发热三天", codes=("J18.9",))
    slot(county, capacity=10)
    slot(county, capacity=5, hours=72, label="心内科专家门诊（周三）")
    up = refer(county, "village_doctor", "zhang_san", urgent=True)
    refer(county, "township_doctor", "li_si", codes=("J18.9",), reason="重症肺炎，需住院治疗")
    accepted = refer(county, "west_doctor", "wang_wu", codes=("I50",), reason="心力衰竭加重")
    step(county, "county_specialist", accepted, "accept")
    down = refer(county, "county_specialist", "zhang_san", to="east", kind="down")

    sign_in(page, base, "village_doctor", PASSWORD)
    shot(page, "70-home-village-doctor")
    page.goto(f"{base}/workstation/")
    shot(page, "71-workstation-today")
    page.goto(f"{base}/patients/{zhang.uuid}/")
    shot(page, "72-timeline")
    page.goto(f"{base}/patients/{zhang.uuid}/?kind=referral")
    shot(page, "73-timeline-referrals")
    page.goto(f"{base}/patients/{zhang.uuid}/encounters/new/")
    page.locator("#dx-q").press_sequentially("gxy", delay=50)
    page.locator("#dx-results button").first.wait_for()
    shot(page, "74-encounter-form-icd-search")
    page.click("[data-testid=save-encounter]")
    shot(page, "75-encounter-form-errors")
    page.goto(f"{base}/referrals/")
    shot(page, "76-board-village")
    page.goto(f"{base}/referrals/{up.uuid}/letter/")
    shot(page, "77-letter")

    page.context.clear_cookies()
    sign_in(page, base, "county_specialist", PASSWORD)
    page.goto(f"{base}/referrals/inbox/")
    shot(page, "78-inbox-county")
    page.goto(f"{base}/referrals/{up.uuid}/")
    shot(page, "79-referral-to-accept")
    page.goto(f"{base}/workstation/")
    shot(page, "80-workstation-county")

    page.context.clear_cookies()
    sign_in(page, base, "township_doctor", PASSWORD)
    page.goto(f"{base}/referrals/{down.uuid}/")
    shot(page, "81-down-referral-at-branch")
    page.emulate_media(media="print")
    page.goto(f"{base}/referrals/{down.uuid}/care-plan/")
    shot(page, "82-care-plan-print")
    page.emulate_media(media="screen")
    switch_language(page, "English")
    page.goto(f"{base}/referrals/{down.uuid}/")
    shot(page, "83-down-referral-english")
    page.goto(f"{base}/patients/{zhang.uuid}/")
    shot(page, "84-timeline-english")
    switch_language(page, "中文")

    page.context.clear_cookies()
    sign_in(page, base, "community_admin", PASSWORD)
    page.goto(f"{base}/referrals/")
    shot(page, "85-board-admin")

    page.context.clear_cookies()
    sign_in(page, base, "resident", PASSWORD)
    page.goto(f"{base}/me/timeline/")
    shot(page, "86-resident-own-timeline")
    page.set_viewport_size({"width": 420, "height": 860})
    page.context.clear_cookies()
    sign_in(page, base, "village_doctor", PASSWORD)
    page.goto(f"{base}/patients/{zhang.uuid}/")
    shot(page, "87-timeline-narrow")
