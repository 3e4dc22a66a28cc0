"""The profile: identity, household in scope, home organisation, insurance, tags, identifiers; the audit
trail for the community admin only; a resident sees only their own record."""

import datetime as dt

from tests.conftest import make_resident

from countycare.core.codes import IdentifierType
from countycare.core.models import AuditEvent
from countycare.registry.models import Household, Resident, ResidentIdentifier


def put_in_household(county, *keys):
    household = Household.objects.create(
        community=county.community,
        code="HH-0001",
        address="东村3组12号",
        village_code="330122101201",
        home_organization=county.orgs["east_v1"],
    )
    Resident.objects.filter(pk__in=[county.residents[k].pk for k in keys]).update(household=household)
    return household


def test_the_profile_shows_identity_village_insurance_tags_and_identifiers(county, as_role):
    zhang = county.residents["zhang_san"]
    ResidentIdentifier.objects.create(resident=zhang, type=IdentifierType.PASSPORT, value="E99887766")
    body = as_role("village_doctor").get(f"/residents/{zhang.uuid}/").content.decode()
    for text in [
        "张三",
        zhang.national_id,
        "13800000001",
        "1960-05-01",
        "东村卫生室",
        "城关县人民医院东镇分院",
        "城乡居民基本医疗保险",
        "高血压",
        "护照",
        "E99887766",
    ]:
        assert text in body, text


def test_the_household_lists_only_members_in_scope(county, as_role):
    wife = make_resident(county, "wife", "李秀英", "east_v1", birth=dt.date(1962, 9, 12), sex="female", seq=11)
    put_in_household(county, "zhang_san", "wife", "wang_wu")  # 王五 lives in the west: outside the village doctor
    body = as_role("village_doctor").get(f"/residents/{county.residents['zhang_san'].uuid}/").content.decode()
    assert "HH-0001" in body and f'href="/residents/{wife.uuid}/"' in body
    assert "王五" not in body
    admin_body = as_role("community_admin").get(f"/residents/{county.residents['zhang_san'].uuid}/").content.decode()
    assert "王五" in admin_body


def test_opening_a_profile_is_audited(county, as_role):
    zhang = county.residents["zhang_san"]
    as_role("village_doctor").get(f"/residents/{zhang.uuid}/")
    event = AuditEvent.objects.get(action="read", resident_id=str(zhang.uuid))
    assert event.username == "village_doctor" and event.channel == "web"


def test_a_resident_sees_their_own_record_and_nothing_else(county, as_role):
    client = as_role("resident")
    own = county.residents["resident_self"]
    body = client.get("/me/", follow=True).content.decode()
    assert "赵六" in body and own.national_id in body
    assert "/edit/" not in body and "审计" not in body
    for key in ["zhang_san", "wang_wu"]:
        assert client.get(f"/residents/{county.residents[key].uuid}/").status_code == 404
    assert client.get(f"/residents/{own.uuid}/edit/").status_code == 403


def test_a_resident_without_a_linked_record_is_told_so(county, as_role):
    from countycare.accounts.models import User

    User.objects.filter(pk=county.users["resident"].pk).update(resident=None)
    body = as_role("resident").get("/me/").content.decode()
    assert "尚未关联健康档案" in body


def test_staff_going_to_my_record_land_on_home(as_role):
    response = as_role("township_doctor").get("/me/")
    assert response.status_code == 302 and response["Location"] == "/"


def test_the_audit_trail_is_shown_to_the_community_admin_only(county, as_role):
    uuid = county.residents["zhang_san"].uuid
    as_role("village_doctor").get(f"/residents/{uuid}/")
    admin = as_role("community_admin").get(f"/residents/{uuid}/").content.decode()
    assert "本档案的审计记录" in admin and "village_doctor" in admin
    assert "本档案的审计记录" not in as_role("township_doctor").get(f"/residents/{uuid}/").content.decode()
    assert "本档案的审计记录" not in as_role("cdc_officer").get(f"/residents/{uuid}/").content.decode()


def test_the_audit_trail_can_hide_reads(county, as_role):
    zhang = county.residents["zhang_san"]
    client = as_role("community_admin")
    client.get(f"/residents/{zhang.uuid}/")
    changes = client.get(f"/residents/{zhang.uuid}/", {"audit": "changes"}).content.decode()
    assert "没有审计记录" in changes


def test_the_profile_page_has_a_print_button(county, as_role):
    body = as_role("village_doctor").get(f"/residents/{county.residents['zhang_san'].uuid}/").content.decode()
    assert "window.print()" in body
