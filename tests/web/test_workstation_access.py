"""Each workstation page opens for the roles it is for: 403 for another role, 404 outside scope."""

import pytest
from tests.web.test_workstation_helpers import encounter, refer

ROLES = [
    "village_doctor", "township_doctor", "west_doctor", "county_specialist", "centre_reader", "pharmacist",
    "insurance_officer", "community_admin", "bureau_viewer", "cdc_officer", "resident",
]
DOCTORS = {"village_doctor", "township_doctor", "west_doctor", "county_specialist"}
TRACKING = DOCTORS | {"community_admin"}


def expected(allowed: set[str], role: str) -> int:
    return 200 if role in allowed else 403


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("url", ["/workstation/", "/referrals/inbox/"])
def test_the_workstation_and_the_inbox_are_for_doctors(as_role, role, url):
    assert as_role(role).get(url).status_code == expected(DOCTORS, role)


@pytest.mark.parametrize("role", ROLES)
def test_the_tracking_board_is_for_doctors_and_the_community_office(as_role, role):
    assert as_role(role).get("/referrals/").status_code == expected(TRACKING, role)


@pytest.mark.parametrize("role", ROLES)
def test_the_diagnosis_search_is_for_doctors(as_role, role):
    assert as_role(role).get("/workstation/icd10/?dx_q=I10").status_code == expected(DOCTORS, role)
    assert as_role(role).get("/workstation/icd10/pick/?add=I10").status_code == expected(DOCTORS, role)


# who opens 张三's timeline (东村卫生室, under 东镇分院): the roles that read records, inside their scope
ZHANG_SAN_TIMELINE = {
    "village_doctor": 200, "township_doctor": 200, "west_doctor": 404, "county_specialist": 404,
    "centre_reader": 404, "pharmacist": 404, "insurance_officer": 200, "community_admin": 200,
    "bureau_viewer": 403, "cdc_officer": 200, "resident": 404,
}


@pytest.mark.parametrize("role", ROLES)
def test_a_timeline_opens_only_inside_scope(county, as_role, role):
    uuid = county.residents["zhang_san"].uuid
    assert as_role(role).get(f"/patients/{uuid}/").status_code == ZHANG_SAN_TIMELINE[role]


@pytest.mark.parametrize("role", ROLES)
def test_the_new_encounter_and_refer_forms_are_for_doctors_in_scope(county, as_role, role):
    uuid = county.residents["zhang_san"].uuid
    allowed = {"village_doctor": 200, "township_doctor": 200, "west_doctor": 404, "county_specialist": 404}
    for url in (f"/patients/{uuid}/encounters/new/", f"/patients/{uuid}/refer/"):
        assert as_role(role).get(url).status_code == allowed.get(role, 403), url


@pytest.mark.parametrize("role", ROLES)
def test_an_encounter_page_opens_for_record_readers_in_scope(county, as_role, role):
    visit = encounter(county, "village_doctor", "zhang_san")
    expected_status = dict(ZHANG_SAN_TIMELINE, resident=403)
    assert as_role(role).get(f"/encounters/{visit.uuid}/").status_code == expected_status[role]


@pytest.mark.parametrize("role", ROLES)
def test_a_referral_page_opens_for_both_sides_and_the_office(county, as_role, role):
    referral = refer(county, "village_doctor", "zhang_san")
    # the lead hospital receives it, so its specialist sees it; the west doctor is on neither side
    status = {"village_doctor": 200, "township_doctor": 200, "county_specialist": 200, "community_admin": 200,
              "west_doctor": 404}
    for url in (f"/referrals/{referral.uuid}/", f"/referrals/{referral.uuid}/letter/"):
        assert as_role(role).get(url).status_code == status.get(role, 403), url


@pytest.mark.parametrize("role", ["centre_reader", "pharmacist", "community_admin", "bureau_viewer", "resident"])
def test_only_doctors_may_move_a_referral(county, as_role, role):
    referral = refer(county, "village_doctor", "zhang_san")
    response = as_role(role).post(f"/referrals/{referral.uuid}/accept/", {"version": referral.version})
    assert response.status_code == 403
    referral.refresh_from_db()
    assert referral.status == "requested"


def test_the_sending_side_may_not_accept_its_own_referral(county, as_role):
    referral = refer(county, "village_doctor", "zhang_san")
    response = as_role("village_doctor").post(f"/referrals/{referral.uuid}/accept/", {"version": referral.version})
    assert response.status_code == 403
    referral.refresh_from_db()
    assert referral.status == "requested"


def test_the_care_plan_print_is_only_for_down_referrals(county, as_role):
    referral = refer(county, "village_doctor", "zhang_san")
    assert as_role("village_doctor").get(f"/referrals/{referral.uuid}/care-plan/").status_code == 404


def test_a_resident_reads_their_own_timeline_and_no_one_elses(county, as_role):
    client = as_role("resident")
    own = county.residents["resident_self"]
    response = client.get("/me/timeline/")
    assert response.status_code == 302 and response["Location"] == f"/patients/{own.uuid}/"
    body = client.get(f"/patients/{own.uuid}/").content.decode()
    assert "我的健康记录" in body and "新建就诊" not in body
    assert client.get(f"/patients/{county.residents['zhang_san'].uuid}/").status_code == 404


def test_pages_need_a_sign_in(county, client):
    zhang = county.residents["zhang_san"].uuid
    for url in ["/workstation/", "/referrals/", "/referrals/inbox/", f"/patients/{zhang}/"]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url


@pytest.mark.parametrize("role", ROLES)
def test_only_a_doctor_of_the_treating_organisation_discharges(county, as_role, role):
    import datetime as dt

    from django.utils import timezone

    refer(county, "village_doctor", "zhang_san")  # the lead hospital gets the record
    stay = encounter(county, "county_specialist", "zhang_san", kind="inpatient", ward="3床",
                     organization=county.orgs["lead"], started_at=timezone.now() - dt.timedelta(days=3))
    response = as_role(role).post(f"/encounters/{stay.uuid}/discharge/", {
        "ended_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"), "version": stay.version})
    stay.refresh_from_db()
    if role == "county_specialist":
        assert response.status_code == 302 and stay.status == "finished"
    else:
        # other doctors: not found outside scope, refused inside it; other roles: 403
        assert response.status_code in ({302, 403, 404} if role in DOCTORS else {403}), response.status_code
        assert stay.status == "in-progress"


@pytest.mark.parametrize("role", ROLES)
def test_the_care_plan_print_opens_for_both_sides_and_the_office(county, as_role, role):
    refer(county, "village_doctor", "zhang_san")
    down = refer(county, "county_specialist", "zhang_san", to="east", kind="down")
    status = {"village_doctor": 200, "township_doctor": 200, "county_specialist": 200, "community_admin": 200,
              "west_doctor": 404}
    assert as_role(role).get(f"/referrals/{down.uuid}/care-plan/").status_code == status.get(role, 403)
