"""编辑: the form opens with the stored values and the version it was opened at."""

import re

from countycare.core.models import AuditEvent
from countycare.registry import services
from countycare.registry.models import Resident


def edit_data(resident, **changes):
    data = {
        "name": resident.name,
        "national_id": resident.national_id or "",
        "sex": resident.sex,
        "birth_date": resident.birth_date.isoformat(),
        "phone": resident.phone,
        "home_organization": resident.home_organization_id,
        "address": resident.address,
        "village_code": resident.village_code,
        "household_code": "",
        "relation_to_head": "",
        "insurance_scheme": resident.insurance_scheme,
        "insurance_number": "",
        "tags": list(resident.tags.values_list("tag", flat=True)),
        "version": resident.version,
        "ident-TOTAL_FORMS": "1",
        "ident-INITIAL_FORMS": "0",
        "ident-MIN_NUM_FORMS": "0",
        "ident-MAX_NUM_FORMS": "6",
        "ident-0-type": "",
        "ident-0-value": "",
    }
    data.update(changes)
    return data


def test_the_edit_form_carries_the_stored_values_and_version(county, as_role):
    zhang = county.residents["zhang_san"]
    body = as_role("township_doctor").get(f"/residents/{zhang.uuid}/edit/").content.decode()
    assert 'value="张三"' in body and f'value="{zhang.national_id}"' in body
    assert 'name="version" value="1"' in body
    assert re.search(r'value="hypertension"[^>]*checked', body)
    assert not re.search(r'value="diabetes"[^>]*checked', body)


def test_an_edit_is_saved_and_audited(county, as_role):
    zhang = county.residents["zhang_san"]
    response = as_role("township_doctor").post(
        f"/residents/{zhang.uuid}/edit/",
        edit_data(zhang, phone="13800009999", tags=["hypertension", "elderly_65"]),
    )
    assert response.status_code == 302
    zhang.refresh_from_db()
    assert zhang.phone == "13800009999" and zhang.version == 2
    assert set(zhang.tags.values_list("tag", flat=True)) == {"hypertension", "elderly_65"}
    update = AuditEvent.objects.get(action="update")
    assert update.detail["changed"]["phone"] == ["13800000001", "13800009999"]


def test_a_concurrent_edit_shows_a_clear_message(county, as_role):
    zhang = county.residents["zhang_san"]
    client = as_role("township_doctor")
    opened_at = edit_data(zhang, phone="13800001111")  # version 1
    services.update_resident(  # someone else saves first
        user=county.users["community_admin"],
        resident=zhang,
        data=services.ResidentData(
            name="张三",
            national_id=zhang.national_id,
            home_organization=zhang.home_organization,
            phone="13800002222",
            tags=["hypertension"],
        ),
    )
    response = client.post(f"/residents/{zhang.uuid}/edit/", opened_at)
    body = response.content.decode()
    assert response.status_code == 200
    assert "档案已被他人修改" in body and "重新打开最新版本" in body
    assert Resident.objects.get(pk=zhang.pk).phone == "13800002222"


def test_a_wrong_national_id_in_an_edit_shows_the_message(county, as_role):
    zhang = county.residents["zhang_san"]
    wrong = zhang.national_id[:17] + ("0" if zhang.national_id[17] != "0" else "1")
    body = (
        as_role("township_doctor")
        .post(f"/residents/{zhang.uuid}/edit/", edit_data(zhang, national_id=wrong))
        .content.decode()
    )
    assert f"校验位应为{zhang.national_id[17]}" in body


def test_a_pharmacist_cannot_edit(county, as_role):
    zhang = county.residents["zhang_san"]
    assert as_role("pharmacist").get(f"/residents/{zhang.uuid}/edit/").status_code == 403
    assert as_role("pharmacist").post(f"/residents/{zhang.uuid}/edit/", edit_data(zhang)).status_code == 403


def test_the_profile_offers_edit_only_to_registering_roles(county, as_role):
    uuid = county.residents["zhang_san"].uuid
    assert f"/residents/{uuid}/edit/" in as_role("township_doctor").get(f"/residents/{uuid}/").content.decode()
    assert f"/residents/{uuid}/edit/" not in as_role("cdc_officer").get(f"/residents/{uuid}/").content.decode()
