"""The navigation a role is offered, and the header that says who is signed in."""

import re

import pytest

NAV = {
    "village_doctor": ["首页", "工作站", "转诊收件箱", "转诊跟踪", "检查申请", "居民查询", "登记居民", "医共体考核"],
    "centre_reader": ["首页", "诊断中心", "居民查询", "医共体考核"],
    "pharmacist": ["首页", "居民查询", "医共体考核"],
    "community_admin": ["首页", "转诊跟踪", "诊断中心", "居民查询", "登记居民", "医共体考核", "机构树", "医务人员",
                        "审计"],
    "cdc_officer": ["首页", "居民查询", "医共体考核", "机构树", "医务人员"],
    "bureau_viewer": ["首页", "医共体考核", "机构树", "医务人员"],
}


def nav_labels(html: str) -> list[str]:
    nav = html.split('class="sidenav"', 1)[1].split("</nav>", 1)[0]
    return [re.sub(r"<[^>]+>", "", item).strip() for item in re.findall(r"<a [^>]*>(.*?)</a>", nav, re.S)]


@pytest.mark.parametrize("role", sorted(NAV))
def test_each_role_is_offered_its_pages(as_role, role):
    labels = nav_labels(as_role(role).get("/").content.decode())
    assert [label for label in labels if label != "基础数据管理"] == NAV[role]


def test_a_resident_is_offered_only_their_own_record(county, as_role):
    response = as_role("resident").get("/", follow=True)
    assert response.redirect_chain[-1][0] == f"/residents/{county.residents['resident_self'].uuid}/"
    assert nav_labels(response.content.decode()) == ["我的档案", "我的健康记录"]


def test_the_header_shows_name_role_and_organisation(as_role):
    body = as_role("township_doctor").get("/").content.decode()
    assert "医生township_doctor" in body
    assert "乡镇医生 · 城关县人民医院东镇分院" in body
    assert 'action="/logout/"' in body and 'action="/i18n/setlang/"' in body


def test_logging_out_is_a_post(as_role):
    client = as_role("township_doctor")
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302
