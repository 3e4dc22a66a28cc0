"""机构树, the organisation page and 医务人员: the community as managers see it."""

import datetime as dt

from tests import helpers

from countycare.core.codes import Role, Title
from countycare.registry.models import Posting, Practitioner


def post_down(county):
    """The county specialist posted to the west branch (县管乡用) and a village doctor hired by the east
    branch for 南村 (乡聘村用), with one ended posting."""
    return helpers.post_down(
        county,
        east=(dt.date(2021, 3, 1), dt.date(2022, 2, 28)),
        west=(dt.date(2024, 3, 1), None),
        licence_number="V0017",
    )


def test_the_tree_nests_branches_and_villages_under_the_lead_hospital(county, as_role):
    body = as_role("community_admin").get("/organizations/").content.decode()
    lead, east, village = (
        body.index("城关县人民医院</a>"),
        body.index("东镇分院</a>"),
        body.index("东村卫生室</a>"),
    )
    assert lead < east < village
    for name in ["城关县疾病预防控制中心", "城关县妇幼保健院", "省人民医院", "西村卫生室"]:
        assert name in body
    assert "非成员单位" in body  # the partner hospital
    assert body.count("<details") == 3  # lead hospital and the two branches can be collapsed
    assert f'href="/organizations/{county.orgs["east"].uuid}/"' in body


def test_the_organisation_page_lists_departments_units_and_current_postings(county, as_role):
    post_down(county)
    body = as_role("community_admin").get(f"/organizations/{county.orgs['east'].uuid}/").content.decode()
    assert "全科" in body and "东村卫生室" in body and "南村卫生室" in body
    assert "医生township_doctor" in body and "主治医师" in body
    assert "医生county_specialist" not in body  # the posting to 东镇 ended


def test_the_organisation_page_can_show_ended_postings_too(county, as_role):
    post_down(county)
    body = (
        as_role("community_admin")
        .get(f"/organizations/{county.orgs['east'].uuid}/", {"postings": "all"})
        .content.decode()
    )
    assert "医生county_specialist" in body and "县管乡用" in body
    assert "2021-03-01 – 2022-02-28" in body and "已结束" in body


def test_a_village_clinic_shows_the_doctor_hired_by_its_branch(county, as_role):
    post_down(county)
    body = as_role("cdc_officer").get(f"/organizations/{county.orgs['east_v2'].uuid}/").content.decode()
    assert "王建华" in body and "乡聘村用" in body and "在岗" in body
    assert f'href="/organizations/{county.orgs["east"].uuid}/"' in body  # up to its branch


def test_an_organisation_of_another_community_is_not_found(county, as_role, other_community):
    foreign = other_community["organization"]
    assert as_role("community_admin").get(f"/organizations/{foreign.uuid}/").status_code == 404


def test_practitioners_can_be_filtered_by_title_and_organisation(county, as_role):
    post_down(county)
    client = as_role("community_admin")
    by_title = client.get("/practitioners/", {"title": "village_doctor"}).content.decode()
    assert "王建华" in by_title and "医生village_doctor" in by_title and "医生township_doctor" not in by_title
    by_org = client.get("/practitioners/", {"organization": str(county.orgs["west"].uuid)}).content.decode()
    assert "医生county_specialist" in by_org and "医生west_doctor" in by_org and "王建华" not in by_org
    by_name = client.get("/practitioners/", {"q": "王"}).content.decode()
    assert "王建华" in by_name and "医生west_doctor" not in by_name


def test_the_practitioner_list_shows_where_people_serve_now(county, as_role):
    post_down(county)
    body = as_role("community_admin").get("/practitioners/").content.decode()
    row = body.split("医生county_specialist</a>", 1)[1].split("</tr>", 1)[0]
    assert "西镇分院" in row and "县管乡用" in row and "东镇分院" not in row  # the east posting ended


def test_the_practitioner_page_lists_all_postings_over_time(county, as_role):
    specialist, _ = post_down(county)
    body = as_role("bureau_viewer").get(f"/practitioners/{specialist.uuid}/").content.decode()
    assert body.index("西镇分院") < body.index("东镇分院") < body.index("2020-01-01")  # newest first
    assert "主任医师" in body and "L00003" in body


def test_an_unknown_practitioner_is_not_found(as_role):
    assert as_role("community_admin").get("/practitioners/00000000-0000-0000-0000-000000000001/").status_code == 404


def test_the_practitioner_list_runs_a_bounded_number_of_queries(county, as_role, django_assert_max_num_queries):
    for i in range(40):
        p = Practitioner.objects.create(community=county.community, name=f"护士{i:02d}", title=Title.NURSE)
        Posting.objects.create(
            practitioner=p,
            organization=county.orgs["lead"],
            role=Role.COUNTY_SPECIALIST,
            start=dt.date(2020, 1, 1),
        )
    client = as_role("community_admin")
    client.get("/practitioners/")
    with django_assert_max_num_queries(10):
        client.get("/practitioners/")
