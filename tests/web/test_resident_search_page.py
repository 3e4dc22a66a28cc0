"""居民查询: one URL for the page and its htmx fragment; masked identifiers; a bounded number of queries."""

import datetime as dt

import pytest
from tests.conftest import make_resident

from countycare.core.codes import KeyPopulation
from countycare.core.models import AuditEvent


def test_the_page_has_a_live_search_box(as_role):
    body = as_role("township_doctor").get("/residents/").content.decode()
    assert 'hx-get="/residents/"' in body and 'hx-target="#results"' in body
    assert "vendor/htmx/htmx.min.js" in body
    assert "请输入姓名、拼音首字母、身份证号或电话号码" in body


@pytest.mark.parametrize("query", ["zs", "张三", "张", "zhangsan", "330122196005", "13800000001"])
def test_a_township_doctor_finds_zhang_san_by_any_key(as_role, query):
    body = as_role("township_doctor").get("/residents/", {"q": query}).content.decode()
    assert ">张三</a>" in body


def test_the_results_show_masked_identifiers_and_tags(county, as_role):
    body = as_role("township_doctor").get("/residents/", {"q": "zs"}).content.decode()
    national_id = county.residents["zhang_san"].national_id
    assert f"{national_id[:6]}********{national_id[-4:]}" in body
    assert national_id not in body
    assert "138****0001" in body and "13800000001" not in body
    assert "东村卫生室" in body and "高血压" in body


def test_htmx_gets_only_the_results_fragment(as_role):
    response = as_role("township_doctor").get("/residents/", {"q": "zs"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and 'class="sidenav"' not in body
    assert 'data-testid="resident-results"' in body and ">张三</a>" in body
    assert "HX-Request" in response["Vary"]


def test_a_history_restore_gets_the_whole_page(as_role):
    response = as_role("township_doctor").get(
        "/residents/", {"q": "zs"}, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in response.content.decode()


def test_residents_outside_scope_are_not_listed(as_role):
    body = as_role("village_doctor").get("/residents/", {"q": "w"}).content.decode()
    assert "王五" not in body
    assert "没有与“w”匹配的居民" in body


def test_each_search_hit_is_audited(county, as_role):
    as_role("township_doctor").get("/residents/", {"q": "zs"})
    event = AuditEvent.objects.get(action="search")
    assert event.resident_id == str(county.residents["zhang_san"].uuid)
    assert event.channel == "web" and event.detail == {"query": "zs"}


def test_the_bureau_cannot_search(as_role):
    assert as_role("bureau_viewer").get("/residents/", {"q": "zs"}).status_code == 403
    assert not AuditEvent.objects.filter(action="search").exists()


def test_the_results_page_runs_a_bounded_number_of_queries(county, as_role, django_assert_max_num_queries):
    for i in range(30):
        make_resident(
            county,
            f"z{i}",
            f"张{'一二三四五六七八九十'[i % 10]}{i}",
            "east_v1",
            birth=dt.date(1950 + i, 1, 1),
            seq=30 + i,
            tags=(KeyPopulation.HYPERTENSION, KeyPopulation.DIABETES),
        )
    client = as_role("township_doctor")
    client.get("/residents/", {"q": "z"})  # warm: session, user
    # session, user, scope (3, + care access granted by referrals), identifier look-up, residents, actor's
    # organisation, audit append (3-4 on PostgreSQL), tags
    with django_assert_max_num_queries(15):
        response = client.get("/residents/", {"q": "z"}, headers={"HX-Request": "true"})
    assert response.content.decode().count("<tr>") == 20 + 1  # limit + header row
    with django_assert_max_num_queries(17):
        client.get("/residents/", {"q": "z"})
