"""The role home: clinicians see their scope in numbers, the bureau a note, residents their own record."""

import re

from countycare.core.codes import KeyPopulation
from countycare.registry.models import ResidentTag


def stat(body: str, label: str) -> int:
    match = re.search(r'<div class="stat-value"[^>]*>(\d+)</div>\s*<div class="stat-label">' + label, body)
    assert match, label
    return int(match.group(1))


def test_a_township_doctor_sees_counts_of_residents_in_scope_by_tag(county, as_role):
    ResidentTag.objects.create(resident=county.residents["li_si"], tag=KeyPopulation.HYPERTENSION)
    ResidentTag.objects.create(resident=county.residents["wang_wu"], tag=KeyPopulation.HYPERTENSION)  # out of scope
    body = as_role("township_doctor").get("/").content.decode()
    assert stat(body, "居民总数") == 3
    assert stat(body, "高血压") == 2
    assert stat(body, "2型糖尿病") == 0
    assert "城关县人民医院东镇分院" in body and "南村卫生室" in body  # the organisations covered
    assert 'action="/residents/"' in body  # quick search


def test_the_home_counts_run_a_fixed_number_of_queries(county, as_role, django_assert_max_num_queries):
    client = as_role("community_admin")
    client.get("/")
    with django_assert_max_num_queries(9):
        body = client.get("/").content.decode()
    assert stat(body, "居民总数") == 5 and stat(body, "65岁及以上老年人") == 1


def test_the_bureau_is_told_when_no_indicators_are_computed_yet(as_role):
    body = as_role("bureau_viewer").get("/").content.decode()
    assert "尚未计算考核指标" in body and 'href="/assessment/"' in body
    assert "居民总数" not in body and 'action="/residents/"' not in body


def test_a_clinician_without_residents_in_scope_sees_zero(as_role):
    body = as_role("pharmacist").get("/").content.decode()
    assert stat(body, "居民总数") == 0


def test_the_community_office_sees_referral_traffic_by_kind_and_status(county, as_role):
    from tests.web.test_workstation_helpers import refer

    from countycare.referrals import services

    first = refer(county, "village_doctor", "zhang_san")
    refer(county, "township_doctor", "li_si")
    services.transition(user=county.users["village_doctor"], referral=first, action="cancel",
                        expected_version=first.version, reason="患者改变主意", channel="web")
    body = as_role("community_admin").get("/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'data-testid="community-referrals"' in body
    section = body.split('data-testid="community-referrals"')[1].split("</section>")[0]
    rows = re.findall(r"<tr><th scope=\"row\">([^<]+)</th>(.*?)</tr>", section, re.S)
    up = [re.findall(r">(\d+)<", cells) for label, cells in rows][0]
    # columns: requested, accepted, arrived, completed, rejected, cancelled, expired, total
    assert up == ["1", "0", "0", "0", "0", "1", "0", "2"]
    assert 'data-testid="community-referrals"' not in as_role("village_doctor").get("/").content.decode()
