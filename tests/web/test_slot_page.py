"""The slots page: the receiving side publishes capacity and sees the share held for family-doctor referrals."""

import datetime as dt

from django.utils import timezone

from countycare.core.models import AuditEvent
from countycare.referrals.models import Slot


def slot_form(county, org="lead", **changes):
    start = (timezone.localtime() + dt.timedelta(days=2)).replace(hour=8, minute=0, second=0, microsecond=0)
    data = {"organization": county.orgs[org].pk, "department": "", "kind": "clinic", "label": "心内科专家门诊",
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"), "ends_at": (start + dt.timedelta(hours=4)).strftime(
                "%Y-%m-%dT%H:%M"), "capacity": "12"}
    data.update(changes)
    return data


def test_a_county_specialist_publishes_a_session_and_sees_the_reserved_share(county, as_role):
    client = as_role("county_specialist")
    response = client.post("/referrals/slots/", slot_form(county), follow=True)
    assert response.status_code == 200
    slot = Slot.objects.get()
    # 20 % of 12 rounded up: 3 places held for referrals by family doctors
    assert (slot.capacity, slot.reserved, slot.organization) == (12, 3, county.orgs["lead"])
    body = response.content.decode()
    assert "心内科专家门诊" in body and "0 / 3" in body
    assert AuditEvent.objects.filter(action="create", object_type="Slot", object_id=str(slot.uuid)).exists()


def test_the_form_offers_only_where_the_doctor_works_and_an_admin_any_member(county, as_role):
    doctor = as_role("township_doctor").get("/referrals/slots/").content.decode()
    assert "城关县人民医院东镇分院" in doctor and "城关县人民医院西镇分院" not in doctor
    admin = as_role("community_admin").get("/referrals/slots/").content.decode()
    assert "城关县人民医院西镇分院" in admin and "省人民医院" not in admin


def test_an_end_before_the_start_is_refused_on_the_form_and_nothing_is_published(county, as_role):
    data = slot_form(county)
    data["ends_at"], data["starts_at"] = data["starts_at"], data["ends_at"]
    response = as_role("county_specialist").post("/referrals/slots/", data)
    assert response.status_code == 200
    assert "结束时间须晚于开始时间" in response.content.decode()
    assert not Slot.objects.exists()


def test_publishing_at_another_organisation_is_refused(county, as_role):
    response = as_role("township_doctor").post("/referrals/slots/", slot_form(county, org="lead"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Select a valid choice" in body or "选择一个有效的选项" in body
    assert not Slot.objects.exists()


def test_residents_and_the_bureau_cannot_open_the_page(county, as_role):
    assert as_role("bureau_viewer").get("/referrals/slots/").status_code == 403
    assert as_role("pharmacist").get("/referrals/slots/").status_code == 403
