"""In a real browser, the referral round trip: a village doctor records an encounter with a diagnosis found
by pinyin initials and refers up on the catalogue's suggestion; the county specialist accepts with a slot,
marks the arrival, admits and discharges the patient and refers down with a care plan; the township doctor
finds it in the inbox. Each step is photographed (COUNTYCARE_FLOW_SCREENSHOTS=dir keeps the pictures)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from django.utils import timezone
from tests.conftest import PASSWORD
from tests.web.conftest import sign_in
from tests.web.test_workstation_helpers import slot

pytestmark = pytest.mark.browser


@pytest.fixture
def shots(tmp_path):
    out = Path(os.environ.get("COUNTYCARE_FLOW_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)

    def shot(page, name: str) -> None:
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(out / f"{name}.png"), full_page=True)

    shot.dir = out
    return shot


def switch_user(page, base: str, username: str) -> None:
    page.context.clear_cookies()
    sign_in(page, base, username, PASSWORD)


def test_refer_up_accept_arrive_discharge_and_refer_down_with_a_care_plan(live_county, live_server, page, shots):
    from countycare.records.icd10 import load_shipped
    from countycare.records.models import Icd10Code
    from countycare.referrals.catalogue import load_if_empty
    from countycare.referrals.models import CarePlan, Referral

    county = live_county
    base = live_server.url
    # the shipped codes and catalogue, whatever an earlier test's flush left
    load_shipped(Icd10Code, using="default")
    load_if_empty()
    clinic = slot(county, capacity=10, label="心内科专家门诊")

    # -- the village doctor: find 张三 by pinyin initials, record the visit with a diagnosis, refer up
    sign_in(page, base, "village_doctor", PASSWORD)
    page.click("nav.sidenav >> text=工作站")
    page.wait_for_url("**/workstation/")
    page.locator("#ws-q").press_sequentially("zs", delay=40)
    page.locator("[data-testid=patient-results] a", has_text="新建就诊").first.wait_for()
    shots(page, "01-workstation-search")
    page.locator("[data-testid=patient-results] a", has_text="新建就诊").first.click()
    page.wait_for_url("**/encounters/new/")
    page.fill("input[name=chief_complaint]", "胸痛2小时，伴大汗")
    page.fill("textarea[name=note]", "心电图示 V1-V4 导联 ST 段抬高。")
    page.locator("#dx-q").press_sequentially("jxxjgs", delay=40)
    page.locator("#dx-results button[data-code='I21.9']").click()
    page.locator("#dx-picked li[data-code='I21.9']").wait_for()
    page.locator("#dx-q").press_sequentially("I10", delay=40)
    page.locator("#dx-results button[data-code='I10']").click()
    page.locator("#dx-picked li[data-code='I10']").wait_for()
    page.fill("input[name=vital_systolic]", "168")
    page.fill("input[name=vital_diastolic]", "96")
    page.fill("input[name=vital_heart_rate]", "104")
    page.select_option("select[name=order-0-kind]", "ecg")
    page.fill("input[name=order-0-description]", "十二导联心电图")
    shots(page, "02-new-encounter-with-diagnoses")
    assert page.locator("#dx-picked input[name=primary][value='I21.9']").is_checked()
    page.click("[data-testid=save-encounter]")
    page.locator("[data-testid=up-suggestion]").wait_for()
    shots(page, "03-encounter-suggests-up-referral")
    assert "城关县人民医院" in page.locator("[data-testid=up-suggestion]").inner_text()

    page.click("[data-testid=suggested-refer]")
    page.wait_for_url("**/refer/**")
    assert page.locator("#dx-picked li[data-code='I21.9']").count() == 1  # prefilled from the encounter
    lead = str(county.orgs["lead"].pk)
    assert page.locator("#id_to_organization").input_value() == lead  # the suggested receiver
    page.select_option("#id_kind", "out_of_county")  # a village clinic cannot: no receiver is offered
    page.wait_for_function("document.querySelectorAll('#id_to_organization option').length === 1")
    page.select_option("#id_kind", "up")
    page.wait_for_function("document.querySelectorAll('#id_to_organization option').length > 2")
    page.select_option("#id_to_organization", lead)
    page.locator("#id_to_department option", has_text="心内科").wait_for(state="attached")
    page.select_option("#id_to_department", label="心内科")
    page.fill("textarea[name=reason]", "疑似急性 ST 段抬高型心肌梗死，需急诊介入治疗")
    page.check("input[name=urgent]")
    shots(page, "04-refer-form-prefilled")
    page.click("[data-testid=send-referral]")
    page.wait_for_url("**/referrals/*-*/")
    shots(page, "05-referral-sent")
    referral = Referral.objects.get()
    assert (referral.kind, referral.status, referral.urgent) == ("up", "requested", True)

    # -- the county specialist: inbox, accept with a slot, arrival
    switch_user(page, base, "county_specialist")
    page.click("nav.sidenav >> text=转诊收件箱")
    page.locator("[data-testid=inbox-table]").wait_for()
    shots(page, "06-inbox-county")
    page.locator("[data-testid=inbox-table] a", has_text="审核").click()
    page.locator("[data-testid=accept-form]").wait_for()
    assert "胸痛2小时" in page.locator("[data-testid=shared-record]").inner_text()
    page.check(f"input[name=slot][value='{clinic.uuid}']")
    shots(page, "07-referral-to-accept")
    page.click("[data-testid=accept-button]")
    page.locator("[data-testid=arrive-button]").wait_for()
    shots(page, "08-accepted")
    page.click("[data-testid=arrive-button]")
    page.locator("[data-testid=complete-button]").wait_for()
    shots(page, "09-arrived")
    referral.refresh_from_db()
    assert referral.status == "arrived" and referral.booking.slot_id == clinic.pk

    # -- admission at the lead hospital, discharge, and the down-referral it suggests
    page.click("text=书写就诊记录")
    page.wait_for_url("**/encounters/new/")
    page.select_option("select[name=kind]", "inpatient")
    admitted = timezone.localtime() - dt.timedelta(days=7)
    page.fill("input[name=started_at]", admitted.strftime("%Y-%m-%dT%H:%M"))
    page.fill("input[name=ward]", "心内科 12 床")
    page.fill("input[name=chief_complaint]", "急性心肌梗死转入")
    page.fill("textarea[name=note]", "急诊 PCI，前降支植入支架一枚，术后恢复良好。")
    page.locator("#dx-q").press_sequentially("I21.9", delay=40)
    page.locator("#dx-results button[data-code='I21.9']").click()
    page.locator("#dx-picked li[data-code='I21.9']").wait_for()
    page.click("[data-testid=save-encounter]")
    page.locator("[data-testid=discharge]").wait_for()
    shots(page, "10-inpatient-before-discharge")
    page.fill("textarea[name=note]", "病情稳定出院，继续二级预防。")
    page.click("[data-testid=discharge-button]")
    page.locator("[data-testid=down-suggestion]").wait_for()
    shots(page, "11-discharged-suggests-down-referral")
    assert "城关县人民医院东镇分院" in page.locator("[data-testid=down-suggestion]").inner_text()

    page.click("[data-testid=suggested-refer]")
    page.wait_for_url("**/refer/**")
    page.locator("[data-testid=care-plan-fields]").wait_for(state="visible")
    page.fill("textarea[name=reason]", "PCI 术后病情稳定，转回乡镇卫生院康复随访")
    page.fill("textarea[name=treatment_summary]", "急诊 PCI，前降支支架一枚；术后无胸痛，心功能 I 级。")
    page.fill("textarea[name=warning_signs]", "胸痛再发或持续不缓解、气促、晕厥")
    page.fill("input[name=med-0-name]", "阿司匹林肠溶片")
    page.fill("input[name=med-0-dose]", "100 mg")
    page.fill("input[name=med-0-frequency]", "每日一次")
    page.fill("input[name=med-0-days]", "30")
    page.fill("input[name=med-1-name]", "阿托伐他汀钙片")
    page.fill("input[name=med-1-dose]", "20 mg")
    page.fill("input[name=med-1-frequency]", "每晚一次")
    page.fill("input[name=fu-0-due]", (timezone.localdate() + dt.timedelta(days=14)).isoformat())
    page.fill("input[name=fu-0-what]", "复查心电图、血脂、肝功能")
    page.fill("input[name=fu-1-due]", (timezone.localdate() + dt.timedelta(days=90)).isoformat())
    page.fill("input[name=fu-1-what]", "心内科门诊复诊")
    shots(page, "12-down-referral-with-care-plan")
    page.click("[data-testid=send-referral]")
    page.wait_for_url("**/referrals/*-*/")
    page.locator("[data-testid=care-plan]").wait_for()
    shots(page, "13-down-referral-sent")
    down = Referral.objects.get(kind="down")
    plan = CarePlan.objects.get(referral=down)
    assert down.to_organization == county.orgs["east"] and len(plan.medicines) == 2 and len(plan.follow_up) == 2

    # -- the printable letter and care plan
    page.click("[data-testid=letter-link]")
    page.locator("[data-testid=referral-letter]").wait_for()
    page.set_viewport_size({"width": 900, "height": 1270})  # about an A4 page
    page.emulate_media(media="print")
    shots(page, "14-letter-print")
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    (shots.dir / "letter.pdf").write_bytes(pdf)
    page.goto(f"{base}/referrals/{down.uuid}/care-plan/")
    shots(page, "15-care-plan-print")
    (shots.dir / "care-plan.pdf").write_bytes(page.pdf(format="A4"))
    page.emulate_media(media="screen")
    page.set_viewport_size({"width": 1360, "height": 900})

    # -- the township doctor finds the patient in the inbox
    switch_user(page, base, "township_doctor")
    page.click("nav.sidenav >> text=转诊收件箱")
    row = page.locator("[data-testid=inbox-table] tr", has_text="张三")
    row.wait_for()
    assert "下转" in row.inner_text()
    shots(page, "16-inbox-township")
    row.locator("a", has_text="审核").click()
    page.locator("[data-testid=care-plan]").wait_for()
    shots(page, "17-township-reads-care-plan")
    assert "阿托伐他汀钙片" in page.locator("[data-testid=care-plan]").inner_text()
    page.goto(f"{base}/referrals/")
    shots(page, "18-board-township")
