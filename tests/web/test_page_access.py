"""Each page opens for the roles it is for; 403 for a wrong role, 404 outside scope."""

import pytest

ROLES = [
    "village_doctor",
    "township_doctor",
    "west_doctor",
    "county_specialist",
    "centre_reader",
    "pharmacist",
    "insurance_officer",
    "community_admin",
    "bureau_viewer",
    "cdc_officer",
    "resident",
]
PATIENT = set(ROLES) - {"bureau_viewer", "resident"}  # everyone but the bureau and residents themselves
REGISTER = {"village_doctor", "township_doctor", "west_doctor", "county_specialist", "community_admin"}
MANAGERS = {"insurance_officer", "community_admin", "bureau_viewer", "cdc_officer"}


def expected(allowed: set[str], role: str) -> int:
    return 200 if role in allowed else 403


@pytest.mark.parametrize("role", ROLES)
def test_resident_search_is_for_roles_with_patient_access(as_role, role):
    assert as_role(role).get("/residents/").status_code == expected(PATIENT, role)


@pytest.mark.parametrize("role", ROLES)
def test_register_form_is_for_registering_roles(as_role, role):
    assert as_role(role).get("/residents/new/").status_code == expected(REGISTER, role)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", ["/organizations/", "/practitioners/"])
def test_organisation_and_practitioner_pages_are_for_managers(as_role, role, page):
    assert as_role(role).get(page).status_code == expected(MANAGERS, role)


@pytest.mark.parametrize("role", ROLES)
def test_the_audit_page_is_for_the_community_admin(as_role, role):
    assert as_role(role).get("/audit/").status_code == expected({"community_admin"}, role)


@pytest.mark.parametrize("role", sorted(set(ROLES) - {"resident"}))
def test_every_staff_role_has_a_home_page(as_role, role):
    response = as_role(role).get("/")
    assert response.status_code == 200
    assert "县域医共体信息平台" in response.content.decode()


# who may open 张三 (东村卫生室, under 东镇分院)
ZHANG_SAN = {
    "village_doctor": 200,
    "township_doctor": 200,
    "west_doctor": 404,
    "county_specialist": 404,
    "centre_reader": 404,
    "pharmacist": 404,
    "insurance_officer": 200,
    "community_admin": 200,
    "bureau_viewer": 403,
    "cdc_officer": 200,
    "resident": 404,
}


@pytest.mark.parametrize("role", ROLES)
def test_a_profile_opens_only_inside_scope(county, as_role, role):
    uuid = county.residents["zhang_san"].uuid
    assert as_role(role).get(f"/residents/{uuid}/").status_code == ZHANG_SAN[role]


def test_a_village_doctor_opening_a_west_town_resident_gets_not_found(county, as_role):
    response = as_role("village_doctor").get(f"/residents/{county.residents['wang_wu'].uuid}/")
    assert response.status_code == 404
    assert "不在您的管辖范围内" in response.content.decode()
    assert "王五" not in response.content.decode()


def test_editing_outside_scope_is_not_found(county, as_role):
    uuid = county.residents["wang_wu"].uuid
    assert as_role("village_doctor").get(f"/residents/{uuid}/edit/").status_code == 404
    assert as_role("village_doctor").post(f"/residents/{uuid}/edit/", {"name": "x"}).status_code == 404


@pytest.mark.parametrize("role", sorted(REGISTER - {"community_admin"}))
def test_only_the_community_admin_opens_the_merge_page(county, as_role, role):
    uuid = county.residents["zhang_san"].uuid
    assert as_role(role).get(f"/residents/{uuid}/merge/").status_code == 403
    assert as_role("community_admin").get(f"/residents/{uuid}/merge/").status_code == 200


def test_an_unknown_resident_is_not_found(as_role):
    assert as_role("community_admin").get("/residents/00000000-0000-0000-0000-000000000000/").status_code == 404


@pytest.mark.parametrize(
    "url", ["/", "/residents/", "/residents/new/", "/organizations/", "/practitioners/", "/audit/", "/me/"]
)
def test_anonymous_visitors_are_sent_to_the_login_page(db, client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_the_forbidden_page_is_styled_and_in_chinese(as_role):
    response = as_role("bureau_viewer").get("/residents/?q=zs")
    body = response.content.decode()
    assert response.status_code == 403
    assert "无权访问" in body and 'class="sidenav"' in body


def test_an_unknown_page_is_a_styled_not_found(as_role):
    response = as_role("township_doctor").get("/no-such-page/")
    assert response.status_code == 404
    assert "未找到" in response.content.decode()
