"""Referral pages: the refer form (kinds and receivers, errors, prefill, a double submit), the inbox (green
channel first), accept with a slot, reject with a reason, arrive and complete, a stale step, the tracking board,
the printable letter and care plan."""

import datetime as dt
import re
import uuid

from django.test import Client
from django.utils import timezone
from tests.web.test_workstation_helpers import encounter, refer, slot, step

from countycare.referrals.models import CarePlan, Referral


def refer_form(county, **changes):
    data = {
        "form_token": str(uuid.uuid4()), "kind": "up", "from_organization": county.orgs["east_v1"].pk,
        "to_organization": county.orgs["lead"].pk, "reason": "疑似急性心肌梗死", "clinical_summary": "胸痛2小时",
        "diagnosis": ["I21.9"], "primary": "I21.9",
        "med-TOTAL_FORMS": "4", "med-INITIAL_FORMS": "0", "med-MIN_NUM_FORMS": "0", "med-MAX_NUM_FORMS": "20",
        "fu-TOTAL_FORMS": "3", "fu-INITIAL_FORMS": "0", "fu-MIN_NUM_FORMS": "0", "fu-MAX_NUM_FORMS": "12",
    }
    data.update(changes)
    return data


def options(html: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}".*?</select>', html, re.S).group(0)
    return re.findall(r'<option value="\d+"[^>]*>([^<]+)</option>', select)


def test_an_up_referral_from_the_village_goes_to_its_branch_or_the_county(county, as_role):
    body = as_role("village_doctor").get(f"/patients/{county.residents['zhang_san'].uuid}/refer/").content.decode()
    assert options(body, "to_organization") == ["城关县人民医院", "城关县妇幼保健院", "城关县人民医院东镇分院"]


def test_changing_the_kind_reloads_the_receivers_as_a_fragment(county, as_role):
    client = as_role("county_specialist")
    refer(county, "village_doctor", "zhang_san")  # the lead hospital now sees 张三
    url = f"/patients/{county.residents['zhang_san'].uuid}/refer/"
    down = client.get(url, {"fragment": "targets", "kind": "down", "from_organization": county.orgs["lead"].pk},
                      HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in down and 'id="referral-targets"' in down
    # each branch followed by its village clinics
    assert options(down, "to_organization") == ["城关县人民医院东镇分院", "东村卫生室", "南村卫生室",
                                                "城关县人民医院西镇分院", "西村卫生室"]
    out = client.get(url, {"fragment": "targets", "kind": "out_of_county",
                           "from_organization": county.orgs["lead"].pk}).content.decode()
    assert options(out, "to_organization") == ["省人民医院"]
    chosen = client.get(url, {"fragment": "targets", "kind": "up", "from_organization": county.orgs["lead"].pk,
                              "to_organization": county.orgs["lead"].pk}).content.decode()
    assert options(chosen, "to_organization") == []  # nothing above the county inside it


def test_the_receiving_department_follows_the_chosen_organisation(county, as_role):
    url = f"/patients/{county.residents['zhang_san'].uuid}/refer/"
    body = as_role("village_doctor").get(url, {"fragment": "targets", "kind": "up",
                                               "from_organization": county.orgs["east_v1"].pk,
                                               "to_organization": county.orgs["lead"].pk}).content.decode()
    assert options(body, "to_department") == ["心内科"]


def test_sending_an_up_referral_creates_it_and_opens_its_page(county, as_role):
    client = as_role("village_doctor")
    zhang = county.residents["zhang_san"]
    visit = encounter(county, "village_doctor", "zhang_san", codes=("I21.9",))
    response = client.post(f"/patients/{zhang.uuid}/refer/", refer_form(county, urgent="on",
                                                                       source_encounter=str(visit.uuid)))
    referral = Referral.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/referrals/{referral.uuid}/"
    assert (referral.kind, referral.urgent, referral.source_encounter_id) == ("up", True, visit.pk)
    assert referral.diagnoses == [{"code": "I21.9", "display": "急性心肌梗死，未特指", "primary": True}]
    page = client.get(response["Location"]).content.decode()
    assert "转诊已发送至城关县人民医院" in page and "绿色通道" in page


def test_a_double_click_on_send_creates_one_referral(county, as_role):
    client = as_role("village_doctor")
    url = f"/patients/{county.residents['zhang_san'].uuid}/refer/"
    data = refer_form(county)
    first = client.post(url, data)
    second = client.post(url, data)
    assert Referral.objects.count() == 1
    assert first["Location"] == second["Location"] == f"/referrals/{Referral.objects.get().uuid}/"


def test_the_same_form_sent_again_with_other_content_is_refused(county, as_role):
    client = as_role("village_doctor")
    url = f"/patients/{county.residents['zhang_san'].uuid}/refer/"
    data = refer_form(county)
    client.post(url, data)
    body = client.post(url, {**data, "reason": "另一个原因"}).content.decode()
    assert "此表单已以其他内容提交过" in body and Referral.objects.count() == 1


def test_a_new_render_of_the_form_carries_a_new_token(county, as_role):
    client = as_role("village_doctor")
    url = f"/patients/{county.residents['zhang_san'].uuid}/refer/"
    tokens = {re.search(r'name="form_token" value="([^"]+)"', client.get(url).content.decode()).group(1)
              for _ in range(2)}
    assert len(tokens) == 2


def test_the_refer_form_shows_its_errors_and_creates_nothing(county, as_role):
    client = as_role("village_doctor")
    url = f"/patients/{county.residents['zhang_san'].uuid}/refer/"
    body = client.post(url, refer_form(county, reason="", diagnosis=[], to_organization="")).content.decode()
    assert body.count("这个字段是必填项") >= 2 and "请至少添加一个诊断" in body
    body = client.post(url, refer_form(county, kind="down", to_organization=county.orgs["east"].pk)).content.decode()
    assert "下转的康复计划需要填写此项" in body or "选择一个有效的选项" in body
    body = client.post(url, refer_form(county, kind="down", urgent="on")).content.decode()
    assert "只有上转可走绿色通道" in body
    assert not Referral.objects.exists()


def test_a_service_refusal_shows_on_the_form(county, as_role):
    """The west town's doctor is not posted at the village clinic they claim to refer from."""
    client = as_role("township_doctor")
    body = client.post(f"/patients/{county.residents['zhang_san'].uuid}/refer/", refer_form(
        county, from_organization=county.orgs["east"].pk, to_organization=county.orgs["lead"].pk,
        slip_number="X1")).content.decode()
    assert "转诊单号只用于县外转诊" in body
    assert not Referral.objects.exists()


def test_a_down_referral_carries_its_care_plan(county, as_role):
    refer(county, "village_doctor", "zhang_san")  # gives the lead hospital the record
    client = as_role("county_specialist")
    due = (timezone.localdate() + dt.timedelta(days=14)).isoformat()
    response = client.post(f"/patients/{county.residents['zhang_san'].uuid}/refer/", refer_form(
        county, kind="down", from_organization=county.orgs["lead"].pk, to_organization=county.orgs["east"].pk,
        reason="病情稳定，转回社区康复", treatment_summary="PCI术后，病情稳定",
        responsible_practitioner=county.practitioners["county_specialist"].pk,
        period_end=(timezone.localdate() + dt.timedelta(days=180)).isoformat(), warning_signs="胸痛再发",
        **{"med-0-name": "阿司匹林肠溶片", "med-0-dose": "100 mg", "med-0-frequency": "每日一次", "med-0-days": "30",
           "fu-0-due": due, "fu-0-what": "复查心电图"}))
    assert response.status_code == 302
    plan = CarePlan.objects.get()
    assert plan.medicines == [{"name": "阿司匹林肠溶片", "dose": "100 mg", "frequency": "每日一次", "days": 30}]
    assert plan.follow_up == [{"due": due, "what": "复查心电图"}]
    assert plan.responsible_practitioner == county.practitioners["county_specialist"]


def test_the_refer_form_prefills_the_care_plan_period_from_policy(county, as_role):
    body = as_role("village_doctor").get(f"/patients/{county.residents['zhang_san'].uuid}/refer/").content.decode()
    end = (timezone.localdate() + dt.timedelta(days=180)).isoformat()
    assert f'name="period_end" value="{end}"' in body


# --- inbox and the workflow on the receiving side -----------------------------------------------------------


def test_the_inbox_puts_the_green_channel_first(county, as_role):
    older = refer(county, "village_doctor", "zhang_san", reason="第一")
    urgent = refer(county, "township_doctor", "li_si", reason="第二", urgent=True)
    body = as_role("county_specialist").get("/referrals/inbox/").content.decode()
    rows = re.findall(r'data-referral="([^"]+)"', body)
    assert rows == [str(urgent.uuid), str(older.uuid)]
    assert re.search(r'data-status="requested"><span class="n">2<', body)


def test_the_inbox_shows_only_referrals_to_the_doctors_organisations(county, as_role):
    refer(county, "village_doctor", "zhang_san")
    assert "张三" not in as_role("west_doctor").get("/referrals/inbox/").content.decode()
    assert "张三" not in as_role("village_doctor").get("/referrals/inbox/").content.decode()  # it sent it


def test_the_inbox_filters_by_status(county, as_role):
    done = refer(county, "village_doctor", "zhang_san")
    step(county, "county_specialist", done, "reject", reason="无床位")
    client = as_role("county_specialist")
    assert "张三" not in client.get("/referrals/inbox/").content.decode()
    assert "张三" in client.get("/referrals/inbox/?status=rejected").content.decode()


def test_the_receiving_side_sees_the_shared_record_with_the_referral(county, as_role):
    encounter(county, "village_doctor", "zhang_san", complaint="头晕三天")
    referral = refer(county, "village_doctor", "zhang_san")
    body = as_role("county_specialist").get(f"/referrals/{referral.uuid}/").content.decode()
    record = body.split('data-testid="shared-record"', 1)[1].split("</section>", 1)[0]
    assert "头晕三天" in record and "特发性（原发性）高血压" in record


def test_accepting_books_the_chosen_slot_from_the_reserved_share(county, as_role):
    clinic = slot(county, capacity=10)
    referral = refer(county, "village_doctor", "zhang_san")
    client = as_role("county_specialist")
    page = client.get(f"/referrals/{referral.uuid}/").content.decode()
    assert f'value="{clinic.uuid}"' in page and "预留 2" in page  # 20 % of 10 held for referrals
    response = client.post(f"/referrals/{referral.uuid}/accept/", {"version": referral.version,
                                                                   "slot": str(clinic.uuid)})
    assert response.status_code == 302
    referral.refresh_from_db()
    clinic.refresh_from_db()
    assert referral.status == "accepted" and referral.booking.slot == clinic and referral.booking.from_reserve
    assert clinic.booked_reserved == 1
    assert "已接收转诊" in client.get(response["Location"]).content.decode()


def test_rejecting_needs_a_reason(county, as_role):
    referral = refer(county, "village_doctor", "zhang_san")
    client = as_role("county_specialist")
    response = client.post(f"/referrals/{referral.uuid}/reject/", {"version": referral.version, "reason": ""})
    assert response.status_code == 422 and "请填写原因" in response.content.decode()
    referral.refresh_from_db()
    assert referral.status == "requested"
    client.post(f"/referrals/{referral.uuid}/reject/", {"version": referral.version, "reason": "科室无床位"})
    referral.refresh_from_db()
    assert (referral.status, referral.status_reason) == ("rejected", "科室无床位")


def test_a_stale_step_says_so_on_the_page_and_changes_nothing(county, as_role):
    referral = refer(county, "village_doctor", "zhang_san")
    seen = referral.version
    step(county, "county_specialist", referral, "accept")  # a colleague accepted first
    response = as_role("county_specialist").post(f"/referrals/{referral.uuid}/reject/",
                                                 {"version": seen, "reason": "无床位"})
    body = response.content.decode()
    assert response.status_code == 409
    assert "转诊已被他人处理，请刷新" in body.split('data-testid="action-error"', 1)[1]
    referral.refresh_from_db()
    assert referral.status == "accepted"


def test_a_slot_taken_meanwhile_is_a_clear_message(county, as_role):
    referral = refer(county, "village_doctor", "zhang_san")
    response = as_role("county_specialist").post(f"/referrals/{referral.uuid}/accept/", {
        "version": referral.version, "slot": str(uuid.uuid4())})
    assert response.status_code == 409 and "该号源已不可预约" in response.content.decode()
    referral.refresh_from_db()
    assert referral.status == "requested"


def test_arrive_and_complete_move_the_referral_to_its_end(county, as_role):
    referral = refer(county, "village_doctor", "zhang_san")
    step(county, "county_specialist", referral, "accept")
    client = as_role("county_specialist")
    referral.refresh_from_db()
    client.post(f"/referrals/{referral.uuid}/arrive/", {"version": referral.version})
    referral.refresh_from_db()
    assert referral.status == "arrived" and referral.arrival_encounter is not None
    client.post(f"/referrals/{referral.uuid}/complete/", {"version": referral.version})
    referral.refresh_from_db()
    assert referral.status == "completed"
    history = client.get(f"/referrals/{referral.uuid}/").content.decode().split('data-testid="history"', 1)[1]
    for label in ("待接收", "已接收", "已到诊", "已完成"):
        assert label in history


def test_the_sending_side_may_cancel_with_a_reason(county, as_role):
    referral = refer(county, "village_doctor", "zhang_san")
    client = as_role("village_doctor")
    page = client.get(f"/referrals/{referral.uuid}/").content.decode()
    assert "撤销转诊" in page and 'data-testid="accept-form"' not in page
    client.post(f"/referrals/{referral.uuid}/cancel/", {"version": referral.version, "reason": "患者拒绝转诊"})
    referral.refresh_from_db()
    assert referral.status == "cancelled"


def test_an_unknown_step_is_not_found(county, as_role):
    referral = refer(county, "village_doctor", "zhang_san")
    assert as_role("county_specialist").post(f"/referrals/{referral.uuid}/explode/", {"version": 1}).status_code == 404


def test_steps_are_posts(county, as_role):
    referral = refer(county, "village_doctor", "zhang_san")
    assert as_role("county_specialist").get(f"/referrals/{referral.uuid}/accept/").status_code == 405


def test_steps_need_the_csrf_token(county):
    referral = refer(county, "village_doctor", "zhang_san")
    client = Client(enforce_csrf_checks=True)
    client.force_login(county.users["county_specialist"])
    assert client.post(f"/referrals/{referral.uuid}/accept/", {"version": 1}).status_code == 403
    referral.refresh_from_db()
    assert referral.status == "requested"


# --- tracking board ---------------------------------------------------------------------------------------


def test_the_board_counts_each_status_and_lists_what_the_side_sent(county, as_role):
    a = refer(county, "village_doctor", "zhang_san")
    b = refer(county, "village_doctor", "zhang_san", to="east", codes=("J18.9",))
    refer(county, "west_doctor", "wang_wu")
    step(county, "county_specialist", a, "accept")
    step(county, "township_doctor", b, "reject", reason="转县医院")
    body = as_role("village_doctor").get("/referrals/").content.decode()
    assert re.search(r'data-status="accepted"><span class="n">1<', body)
    assert re.search(r'data-status="rejected"><span class="n">1<', body)
    assert "王五" not in body  # sent by the west town
    admin = as_role("community_admin").get("/referrals/").content.decode()
    assert "王五" in admin and "张三" in admin and re.search(r'class="n">3<', admin)


def test_the_board_filters_by_status_kind_period_and_organisation(county, as_role):
    refer(county, "village_doctor", "zhang_san")
    east = refer(county, "village_doctor", "zhang_san", to="east", codes=("J18.9",))
    Referral.objects.filter(pk=east.pk).update(requested_at=timezone.now() - dt.timedelta(days=20))
    client = as_role("community_admin")

    def rows(**query):
        body = client.get("/referrals/", query).content.decode()
        return len(re.findall(r"<tr(?: class=\"urgent-row\")?>\s*<td class=\"nowrap small\">", body))

    assert rows() == 2
    assert rows(period="7d") == 1
    assert rows(organization=county.orgs["east"].pk) == 1
    assert rows(status="requested") == 2 and rows(status="completed") == 0
    assert rows(kind="down") == 0
    assert client.get("/referrals/", {"period": "forever"}).status_code == 200  # a bad filter shows all


def test_the_board_runs_a_bounded_number_of_queries(county, as_role, django_assert_max_num_queries):
    for _ in range(6):
        refer(county, "village_doctor", "zhang_san")
    client = as_role("village_doctor")
    client.get("/referrals/")
    with django_assert_max_num_queries(16):
        body = client.get("/referrals/").content.decode()
    assert body.count("<td class=\"nowrap small\">") == 6


def test_the_inbox_runs_a_bounded_number_of_queries(county, as_role, django_assert_max_num_queries):
    for _ in range(6):
        refer(county, "village_doctor", "zhang_san")
    client = as_role("county_specialist")
    client.get("/referrals/inbox/")
    with django_assert_max_num_queries(16):
        body = client.get("/referrals/inbox/").content.decode()
    assert body.count("data-referral=") == 6


def test_the_referral_page_runs_a_bounded_number_of_queries(county, as_role, django_assert_max_num_queries):
    slot(county)
    slot(county, hours=72)
    referral = refer(county, "village_doctor", "zhang_san")
    client = as_role("county_specialist")
    client.get(f"/referrals/{referral.uuid}/")
    with django_assert_max_num_queries(45):
        client.get(f"/referrals/{referral.uuid}/")


# --- print -----------------------------------------------------------------------------------------------


def test_the_referral_letter_names_both_sides_the_patient_and_the_diagnoses(county, as_role):
    referral = refer(county, "village_doctor", "zhang_san", urgent=True)
    body = as_role("county_specialist").get(f"/referrals/{referral.uuid}/letter/").content.decode()
    letter = body.split('data-testid="referral-letter"', 1)[1]
    for text in ("双向转诊单（上转）", "东村卫生室", "城关县人民医院", "张三",
                 county.residents["zhang_san"].national_id, "急性心肌梗死，未特指", "I21.9", "疑似急性心肌梗死",
                 "转诊医生", "转出机构（盖章）", "回执"):
        assert text in letter, text


def test_an_out_of_county_letter_carries_the_slip_number(county, as_role):
    refer(county, "village_doctor", "zhang_san")
    referral = refer(county, "county_specialist", "zhang_san", to="partner", kind="out_of_county")
    body = as_role("county_specialist").get(f"/referrals/{referral.uuid}/letter/").content.decode()
    referral.refresh_from_db()
    assert referral.slip_number and referral.slip_number in body and "县外转诊单" in body and "省人民医院" in body


def test_the_care_plan_prints_medicines_follow_ups_and_the_responsible_doctor(county, as_role):
    refer(county, "village_doctor", "zhang_san")
    referral = refer(county, "county_specialist", "zhang_san", to="east", kind="down")
    body = as_role("township_doctor").get(f"/referrals/{referral.uuid}/care-plan/").content.decode()
    plan = body.split('data-testid="care-plan-print"', 1)[1]
    for text in ("下转康复/随访计划", "阿司匹林肠溶片", "100 mg", "复查心电图", "胸痛再发", "医生county_specialist",
                 "城关县人民医院东镇分院"):
        assert text in plan, text
