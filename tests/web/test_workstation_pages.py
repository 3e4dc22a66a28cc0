"""The doctor's workstation: today's patients, quick search, a patient's timeline, the new-encounter form
with its ICD-10 search, discharge and the catalogue's suggestions."""

import datetime as dt
import re

from django.utils import timezone
from tests.conftest import make_resident
from tests.web.test_workstation_helpers import encounter, refer, step

from countycare.core.models import AuditEvent
from countycare.records.models import Encounter


def test_today_lists_the_encounters_of_the_day_at_the_doctors_organisation(county, as_role):
    encounter(county, "village_doctor", "zhang_san", complaint="头晕三天")
    encounter(county, "township_doctor", "li_si", complaint="咳嗽一周", codes=("J18.9",))
    body = as_role("village_doctor").get("/workstation/").content.decode()
    assert "今日患者" in body and "头晕三天" in body and "特发性（原发性）高血压" in body
    assert "咳嗽一周" not in body  # seen at the branch, not at the village clinic
    assert re.search(r'data-testid="today-encounters">1<', body)


def test_today_shows_accepted_referrals_still_due_at_the_receiving_side(county, as_role):
    referral = refer(county, "village_doctor", "zhang_san")
    step(county, "county_specialist", referral, "accept")
    body = as_role("county_specialist").get("/workstation/").content.decode()
    assert "已接收、待到诊的转诊" in body and "张三" in body and f"/referrals/{referral.uuid}/" in body


def test_the_quick_search_answers_htmx_with_the_results_alone(county, as_role):
    response = as_role("township_doctor").get("/workstation/?q=zs", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert "张三" in body and f"/patients/{county.residents['zhang_san'].uuid}/" in body
    assert response["Vary"].count("HX-Request") == 1
    assert AuditEvent.objects.filter(action="search", username="township_doctor").exists()


def test_the_quick_search_finds_nobody_outside_scope(county, as_role):
    body = as_role("village_doctor").get("/workstation/?q=ww", HTTP_HX_REQUEST="true").content.decode()
    assert "王五" not in body and "没有与" in body


def test_the_timeline_shows_chronic_conditions_on_top_and_every_member_organisation(county, as_role):
    encounter(county, "village_doctor", "zhang_san", complaint="头晕三天")
    refer(county, "village_doctor", "zhang_san")
    body = as_role("township_doctor").get(f"/patients/{county.residents['zhang_san'].uuid}/").content.decode()
    banner = body.split('data-testid="patient-banner"', 1)[1].split("</section>", 1)[0]
    assert "I10" in banner and "特发性（原发性）高血压" in banner  # the problem list, on top
    timeline = body.split('data-testid="timeline"', 1)[1]
    assert "头晕三天" in timeline and "东村卫生室" in timeline
    assert "上转：东村卫生室 → 城关县人民医院" in timeline  # the referral, from the referrals' timeline source
    assert AuditEvent.objects.filter(action="read", object_type="Timeline", username="township_doctor").exists()


def test_the_timeline_filters_by_kind(county, as_role):
    encounter(county, "village_doctor", "zhang_san", complaint="头晕三天")
    refer(county, "village_doctor", "zhang_san")
    client = as_role("village_doctor")
    url = f"/patients/{county.residents['zhang_san'].uuid}/"
    referrals_only = client.get(url + "?kind=referral").content.decode().split('data-testid="timeline"', 1)[1]
    assert "上转" in referrals_only and "头晕三天" not in referrals_only
    encounters_only = client.get(url + "?kind=encounter").content.decode().split('data-testid="timeline"', 1)[1]
    assert "头晕三天" in encounters_only and "上转：" not in encounters_only
    assert client.get(url + "?kind=nonsense").status_code == 200  # an unknown kind shows everything


def test_the_timeline_loads_more_as_htmx_fragments_until_every_visit_was_shown_once(county, as_role):
    now = timezone.now()
    for day in range(40):
        encounter(county, "village_doctor", "zhang_san", complaint=f"复诊第{day}次",
                  started_at=now - dt.timedelta(days=day + 1), codes=("E11.9",) if day else ("I10",))
    client = as_role("village_doctor")
    url = f"/patients/{county.residents['zhang_san'].uuid}/"
    for kind in ("", "encounter"):
        body = client.get(url + (f"?kind={kind}" if kind else "")).content.decode()
        assert "复诊第0次" in body
        seen = re.findall(r"复诊第(\d+)次", body)
        pages = 1
        while match := re.search(r'hx-get="\?(?:kind=encounter&amp;)?before=([^"]+)"', body):
            body = client.get(url, {"kind": kind, "before": match.group(1).replace("%2B", "+").replace("%3A", ":")},
                              HTTP_HX_REQUEST="true").content.decode()
            assert "<html" not in body
            seen += re.findall(r"复诊第(\d+)次", body)
            pages += 1
        assert sorted(map(int, seen)) == list(range(40)), kind  # each visit once, none lost between pages
        assert pages > 1 or kind  # the whole record is longer than a page; one kind may fit in one


def test_a_bad_timeline_cursor_is_a_422_not_a_500(county, as_role):
    response = as_role("village_doctor").get(f"/patients/{county.residents['zhang_san'].uuid}/?before=yesterday")
    assert response.status_code == 422


def test_a_resident_sees_their_own_timeline_without_links_to_doctors_pages(county, as_role):
    from countycare.records import services

    own = county.residents["resident_self"]
    services.record_encounter(user=county.users["west_doctor"], resident=own, channel="web",
                              data={"kind": "outpatient", "chief_complaint": "感冒",
                                    "diagnoses": [{"code": "J18.9", "primary": True}]})
    body = as_role("resident").get(f"/patients/{own.uuid}/").content.decode()
    assert "感冒" in body and "/encounters/" not in body and "新建就诊" not in body


def test_the_icd10_search_finds_codes_by_code_chinese_name_and_pinyin_initials(county, as_role):
    client = as_role("village_doctor")
    for q in ("I10", "高血压", "gxy"):
        body = client.get("/workstation/icd10/", {"dx_q": q}, HTTP_HX_REQUEST="true").content.decode()
        assert 'data-code="I10"' in body, q
        assert "<html" not in body
    assert "没有与" in client.get("/workstation/icd10/", {"dx_q": "zzzz"}).content.decode()


def test_picking_diagnoses_keeps_the_list_and_one_primary(county, as_role):
    client = as_role("village_doctor")
    pick = "/workstation/icd10/pick/"
    body = client.get(pick, {"add": "E11.9", "diagnosis": ["I10"], "primary": "I10"}).content.decode()
    assert body.index('value="I10"') < body.index('value="E11.9"')
    assert re.search(r'name="primary" value="I10"\s+checked', body)
    assert 'hx-swap-oob="true"' in body  # the search box is cleared
    again = client.get("/workstation/icd10/pick/", {"add": "I10", "diagnosis": ["I10", "E11.9"]}).content.decode()
    assert again.count('name="diagnosis" value="I10"') == 1
    removed = client.get("/workstation/icd10/pick/", {"remove": "I10", "diagnosis": ["I10", "E11.9"],
                                                     "primary": "I10"}).content.decode()
    assert 'value="I10"' not in removed and re.search(r'value="E11.9"\s+checked', removed)
    unknown = client.get("/workstation/icd10/pick/", {"add": "XYZ"}).content.decode()
    assert "XYZ" not in unknown


def encounter_form(**changes):
    data = {
        "kind": "outpatient", "chief_complaint": "胸闷气短", "note": "", "diagnosis": ["I10"], "primary": "I10",
        "order-TOTAL_FORMS": "3", "order-INITIAL_FORMS": "0", "order-MIN_NUM_FORMS": "0", "order-MAX_NUM_FORMS": "10",
    }
    data.update(changes)
    return data


def test_saving_an_encounter_records_diagnoses_vitals_orders_and_costs(county, as_role):
    client = as_role("village_doctor")
    zhang = county.residents["zhang_san"]
    response = client.post(f"/patients/{zhang.uuid}/encounters/new/", encounter_form(
        organization=county.orgs["east_v1"].pk, diagnosis=["I10", "E11.9"], primary="E11.9",
        vital_systolic="150", vital_diastolic="95", cost_drugs="12.50", cost_exams="30",
        **{"order-0-kind": "lab", "order-0-description": "空腹血糖"},
    ))
    visit = Encounter.objects.get(resident=zhang)
    assert response.status_code == 302 and response["Location"] == f"/encounters/{visit.uuid}/"
    assert {(d.code, d.is_primary) for d in visit.diagnoses.all()} == {("I10", False), ("E11.9", True)}
    assert {o.code for o in visit.observations.all()} == {"8480-6", "8462-4"}
    assert [o.description for o in visit.orders.all()] == ["空腹血糖"]
    assert str(visit.cost_total) == "42.50"
    page = client.get(response["Location"]).content.decode()
    assert "就诊记录已保存" in page and "血压 150/95 mmHg" not in page or "150" in page


def test_the_encounter_form_shows_its_errors_and_saves_nothing(county, as_role):
    client = as_role("village_doctor")
    url = f"/patients/{county.residents['zhang_san'].uuid}/encounters/new/"
    body = client.post(url, encounter_form(chief_complaint="", diagnosis=[], vital_systolic="900",
                                           **{"order-0-description": "血常规"})).content.decode()
    assert "这个字段是必填项" in body  # chief complaint
    assert "请至少添加一个诊断" in body
    assert "300" in body  # the systolic pressure is beyond what a living person has
    assert "请选择医嘱类别" in body
    body = client.post(url, encounter_form(diagnosis=["Q99.99"])).content.decode()
    assert "未知的 ICD-10 编码：Q99.99" in body
    assert not Encounter.objects.exists()


def test_an_inpatient_without_a_ward_is_refused_by_the_service_on_the_form(county, as_role):
    client = as_role("county_specialist")
    wang = county.residents["wang_wu"]
    # the specialist sees 王五 once a referral reached the lead hospital
    refer(county, "west_doctor", "wang_wu")
    body = client.post(f"/patients/{wang.uuid}/encounters/new/", encounter_form(
        kind="inpatient", organization=county.orgs["lead"].pk)).content.decode()
    assert "住院需填写病区/床号" in body
    assert not Encounter.objects.filter(kind="inpatient").exists()


def test_a_diagnosis_beyond_the_village_level_suggests_an_up_referral(county, as_role):
    visit = encounter(county, "village_doctor", "zhang_san", codes=("I21.9",), complaint="胸痛2小时")
    body = as_role("village_doctor").get(f"/encounters/{visit.uuid}/").content.decode()
    suggestion = body.split('data-testid="up-suggestion"', 1)[1].split("</section>", 1)[0]
    assert "建议上转" in suggestion and "城关县人民医院" in suggestion
    link = re.search(r'href="([^"]+)" data-testid|data-testid="suggested-refer"\s+href="([^"]+)"', suggestion)
    href = next(g for g in link.groups() if g).replace("&amp;", "&")
    assert href.startswith(f"/patients/{county.residents['zhang_san'].uuid}/refer/?encounter={visit.uuid}&kind=up&to=")
    form = as_role("village_doctor").get(href).content.decode()
    assert 'value="I21.9"' in form and "胸痛2小时" in form  # prefilled from the encounter
    assert re.search(rf'<option value="{county.orgs["lead"].pk}" selected>', form)


def test_a_diagnosis_the_village_may_treat_suggests_nothing(county, as_role):
    visit = encounter(county, "village_doctor", "zhang_san", codes=("I10",))
    body = as_role("village_doctor").get(f"/encounters/{visit.uuid}/").content.decode()
    assert "建议上转" not in body and "建议下转" not in body


def test_discharging_a_lead_hospital_inpatient_suggests_a_down_referral_to_the_villages_branch(county, as_role):
    refer(county, "village_doctor", "zhang_san")  # the lead hospital now sees 张三
    stay = encounter(county, "county_specialist", "zhang_san", kind="inpatient", codes=("I21.9",), ward="心内科3床",
                     organization=county.orgs["lead"], started_at=timezone.now() - dt.timedelta(days=6))
    client = as_role("county_specialist")
    page = client.get(f"/encounters/{stay.uuid}/").content.decode()
    assert 'data-testid="discharge"' in page and "建议下转" not in page
    response = client.post(f"/encounters/{stay.uuid}/discharge/", {
        "ended_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"), "note": "病情稳定出院", "version": stay.version})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "患者已出院" in page and 'data-testid="discharge"' not in page
    suggestion = page.split('data-testid="down-suggestion"', 1)[1].split("</section>", 1)[0]
    assert "城关县人民医院东镇分院" in suggestion and "kind=down" in suggestion


def test_a_stale_discharge_says_so_and_changes_nothing(county, as_role):
    refer(county, "village_doctor", "zhang_san")
    stay = encounter(county, "county_specialist", "zhang_san", kind="inpatient", codes=("I21.9",), ward="3床",
                     organization=county.orgs["lead"], started_at=timezone.now() - dt.timedelta(days=2))
    response = as_role("county_specialist").post(f"/encounters/{stay.uuid}/discharge/", {
        "ended_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"), "version": stay.version + 5}, follow=True)
    assert "已被他人修改" in response.content.decode()
    stay.refresh_from_db()
    assert stay.status == "in-progress"


def test_the_home_of_a_doctor_counts_the_inbox_and_the_open_referrals_sent(county, as_role):
    refer(county, "village_doctor", "zhang_san")
    refer(county, "village_doctor", "zhang_san", to="east", codes=("J18.9",), reason="肺炎需输液")
    lead = as_role("county_specialist").get("/").content.decode()
    assert re.search(r'data-testid="inbox-waiting">1<', lead)
    village = as_role("village_doctor").get("/").content.decode()
    assert re.search(r'data-testid="sent-open">2<', village)
    assert 'data-testid="referral-counts"' not in as_role("community_admin").get("/").content.decode()


def test_doctors_and_the_office_are_offered_the_referral_pages_in_the_navigation(as_role):
    def nav(role):
        html = as_role(role).get("/").content.decode()
        return html.split('class="sidenav"', 1)[1].split("</nav>", 1)[0]

    for role in ("village_doctor", "township_doctor", "county_specialist"):
        items = nav(role)
        assert "工作站" in items and "转诊收件箱" in items and "转诊跟踪" in items, role
    admin = nav("community_admin")
    assert "转诊跟踪" in admin and "工作站" not in admin and "转诊收件箱" not in admin
    for role in ("pharmacist", "cdc_officer", "bureau_viewer"):
        assert "转诊" not in nav(role) and "工作站" not in nav(role), role


def test_the_today_page_runs_a_bounded_number_of_queries(county, as_role, django_assert_max_num_queries):
    make_resident(county, "zhang_wife", "李秀英", "east_v1", birth=dt.date(1962, 9, 12), seq=11)
    for key in ("zhang_san", "zhang_wife"):
        for _ in range(3):
            encounter(county, "village_doctor", key)
    client = as_role("village_doctor")
    client.get("/workstation/")
    with django_assert_max_num_queries(25):
        body = client.get("/workstation/").content.decode()
    assert re.search(r'data-testid="today-encounters">6<', body)


def test_the_timeline_runs_a_bounded_number_of_queries(county, as_role, django_assert_max_num_queries):
    for _ in range(8):
        encounter(county, "village_doctor", "zhang_san", vitals=[{"code": "8480-6", "value": 140, "unit": "mm[Hg]"}])
    refer(county, "village_doctor", "zhang_san")
    client = as_role("village_doctor")
    url = f"/patients/{county.residents['zhang_san'].uuid}/"
    client.get(url)
    with django_assert_max_num_queries(40):
        client.get(url)
