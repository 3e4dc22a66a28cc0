"""The workstation's walk-in box: the ID card opens the record and leads to the new-encounter form."""

from countycare.referrals.models import CareAccess


def test_admitting_a_walk_in_leads_to_the_encounter_form(county, as_role):
    client = as_role("county_specialist")
    assert "凭身份证接诊" in client.get("/workstation/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    wang = county.residents["wang_wu"]
    response = client.post("/workstation/walk-in/", {"national_id": wang.national_id, "name": "王五",
                                                     "organization": county.orgs["lead"].pk})
    assert response.status_code == 302 and response.url == f"/patients/{wang.uuid}/encounters/new/"
    assert client.get(response.url).status_code == 200


def test_a_mismatch_returns_to_the_workstation_with_the_message(county, as_role):
    client = as_role("county_specialist")
    wang = county.residents["wang_wu"]
    response = client.post("/workstation/walk-in/", {"national_id": wang.national_id, "name": "王六",
                                                     "organization": county.orgs["lead"].pk}, follow=True)
    assert "未找到身份证号与姓名相符的居民" in response.content.decode()
    assert not CareAccess.objects.exists()
