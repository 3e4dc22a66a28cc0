"""登记居民: the form, the service's messages in it, and the duplicate check with its confirm button."""

import datetime as dt

from countycare.core import nationalid
from countycare.core.models import AuditEvent
from countycare.registry.models import Resident

VALID_ID = nationalid.build("330122", dt.date(1988, 6, 15), 7, "female")


def form_data(county, **changes):
    data = {
        "name": "刘芳",
        "national_id": VALID_ID,
        "sex": "",
        "birth_date": "",
        "phone": "13911112222",
        "home_organization": county.orgs["east_v1"].pk,
        "address": "东村5组",
        "village_code": "",
        "household_code": "",
        "relation_to_head": "",
        "insurance_scheme": "resident",
        "insurance_number": "",
        "tags": ["pregnant"],
        "ident-TOTAL_FORMS": "2",
        "ident-INITIAL_FORMS": "0",
        "ident-MIN_NUM_FORMS": "0",
        "ident-MAX_NUM_FORMS": "6",
        "ident-0-type": "passport",
        "ident-0-value": "E12345678",
        "ident-1-type": "",
        "ident-1-value": "",
    }
    data.update(changes)
    return data


def zhang_san_again(county, **changes):
    """The form for 张三 once more, without a national ID or identifiers: the duplicate check should catch it."""
    return form_data(
        county,
        name="张三",
        national_id="",
        sex="male",
        birth_date="1960-05-01",
        phone="13800000001",
        tags=[],
        **{"ident-0-type": "", "ident-0-value": ""},
        **changes,
    )


def test_a_village_doctor_registers_a_resident_with_only_the_national_id(county, as_role):
    client = as_role("village_doctor")
    response = client.post("/residents/new/", form_data(county))
    resident = Resident.objects.get(national_id=VALID_ID)
    assert response.status_code == 302 and response["Location"] == f"/residents/{resident.uuid}/"
    assert (resident.sex, resident.birth_date) == ("female", dt.date(1988, 6, 15))  # derived from the ID
    assert list(resident.tags.values_list("tag", flat=True)) == ["pregnant"]
    assert list(resident.identifiers.values_list("type", "value")) == [("passport", "E12345678")]
    assert AuditEvent.objects.filter(action="create", resident_id=str(resident.uuid), channel="web").exists()
    page = client.get(response["Location"]).content.decode()
    assert "已登记 刘芳" in page and "孕产妇" in page and "E12345678" in page


def test_a_wrong_check_digit_shows_the_services_message(county, as_role):
    wrong = VALID_ID[:17] + ("0" if VALID_ID[17] != "0" else "1")
    response = as_role("village_doctor").post("/residents/new/", form_data(county, national_id=wrong))
    body = response.content.decode()
    assert response.status_code == 200
    expected = f"校验位应为{VALID_ID[17]}，实为{wrong[17]}，请核对号码"
    assert expected in body
    assert not Resident.objects.filter(name="刘芳").exists()


def test_a_short_national_id_says_how_long_it_is(county, as_role):
    body = as_role("village_doctor").post("/residents/new/", form_data(county, national_id="33012219")).content.decode()
    assert "身份证号应为18位，当前为8位" in body


def test_a_birth_date_that_disagrees_with_the_id_is_refused(county, as_role):
    body = (
        as_role("village_doctor").post("/residents/new/", form_data(county, birth_date="1988-06-16")).content.decode()
    )
    assert "出生日期与身份证号不符" in body


def test_without_an_id_sex_and_birth_date_are_required(county, as_role):
    body = as_role("village_doctor").post("/residents/new/", form_data(county, national_id="")).content.decode()
    assert "请选择性别" in body


def test_a_national_id_already_registered_is_refused(county, as_role):
    existing = county.residents["zhang_san"].national_id
    body = as_role("village_doctor").post("/residents/new/", form_data(county, national_id=existing)).content.decode()
    assert "该身份证号已登记" in body


def test_home_organisations_are_limited_to_where_the_user_may_register(county, as_role):
    village = as_role("village_doctor").get("/residents/new/").content.decode()
    assert "东村卫生室（330122101201）" in village and "南村卫生室" not in village and "西村卫生室" not in village
    township = as_role("township_doctor").get("/residents/new/").content.decode()
    assert "东村卫生室" in township and "南村卫生室" in township and "西村卫生室" not in township
    admin = as_role("community_admin").get("/residents/new/").content.decode()
    assert "西村卫生室" in admin and "城关县人民医院（" not in admin  # the lead hospital is not a home


def test_registering_at_another_township_is_refused(county, as_role):
    response = as_role("village_doctor").post(
        "/residents/new/", form_data(county, home_organization=county.orgs["west_v1"].pk)
    )
    assert response.status_code == 200
    assert not Resident.objects.filter(name="刘芳").exists()


def test_a_likely_duplicate_is_shown_and_can_be_confirmed(county, as_role):
    client = as_role("township_doctor")
    data = zhang_san_again(county)
    first = client.post("/residents/new/", data)
    body = first.content.decode()
    assert first.status_code == 200
    assert 'data-testid="duplicate-candidates"' in body
    assert "疑似重复建档" in body and "确认不是同一人，继续登记" in body
    assert f'href="/residents/{county.residents["zhang_san"].uuid}/"' in body
    assert Resident.objects.filter(name="张三").count() == 1
    shown = AuditEvent.objects.get(action="duplicate-check")  # showing the candidate is audited, once
    assert shown.resident_id == str(county.residents["zhang_san"].uuid) and shown.username == "township_doctor"

    confirmed = client.post("/residents/new/", {**data, "confirm_not_duplicate": "1"})
    assert confirmed.status_code == 302
    assert Resident.objects.filter(name="张三").count() == 2
    created = AuditEvent.objects.get(action="create")
    assert created.detail == {"confirmed_not_duplicate": True}


def test_a_duplicate_outside_scope_is_named_but_not_linked(county, as_role):
    data = zhang_san_again(county, home_organization=county.orgs["west_v1"].pk)
    body = as_role("west_doctor").post("/residents/new/", data).content.decode()
    assert "疑似重复建档" in body
    assert f"/residents/{county.residents['zhang_san'].uuid}/" not in body


def test_an_identifier_needs_both_type_and_number(county, as_role):
    body = (
        as_role("village_doctor").post("/residents/new/", form_data(county, **{"ident-0-value": ""})).content.decode()
    )
    assert "请同时填写证件类型和号码" in body


def test_the_form_is_protected_by_csrf(county):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(county.users["village_doctor"])
    response = client.post("/residents/new/", form_data(county))
    assert response.status_code == 403
    assert not Resident.objects.filter(name="刘芳").exists()
