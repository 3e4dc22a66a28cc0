"""Resident search: name, pinyin initials, full pinyin, national ID, phone — within scope."""

import datetime as dt

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import make_resident

from countycare.core import pinyin
from countycare.registry import queries


@pytest.mark.parametrize(
    "query,expected",
    [
        ("zs", ["张三"]),
        ("ZS", ["张三"]),
        ("zhang", ["张三"]),
        ("张", ["张三"]),
        ("张三", ["张三"]),
        ("zl", ["曾丽"]),  # 曾 read as zeng
        ("13800000001", ["张三"]),
        ("1380000", ["张三"]),
    ],
)
def test_a_township_doctor_finds_residents_by_any_key(county, query, expected):
    rows = queries.search_residents(county.users["township_doctor"], query, channel="web")
    assert [r.name for r in rows] == expected


def test_it_finds_by_full_national_id_and_its_prefix(county):
    zhang = county.residents["zhang_san"]
    doctor = county.users["township_doctor"]
    assert queries.search_residents(doctor, zhang.national_id, channel="web") == [zhang]
    assert zhang in queries.search_residents(doctor, zhang.national_id[:10], channel="web")


def test_search_never_returns_residents_outside_scope(county):
    # 王五 lives in 西村, outside the east township doctor's scope
    assert queries.search_residents(county.users["township_doctor"], "ww", channel="web") == []
    assert [r.name for r in queries.search_residents(county.users["west_doctor"], "ww", channel="web")] == ["王五"]


def test_an_empty_query_returns_nothing(county):
    assert queries.search_residents(county.users["community_admin"], "   ", channel="web") == []


given_names = st.lists(st.sampled_from(list("王李张刘陈杨曾单欧阳解吕华芳明丽强军秀英")), min_size=2, max_size=3)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chars=given_names, cut=st.integers(min_value=1, max_value=3))
def test_every_resident_is_found_by_a_prefix_of_their_initials(county, chars, cut):
    name = "".join(chars)
    with transaction.atomic():
        sid = transaction.savepoint()
        resident = make_resident(county, "probe", name, "east_v1", birth=dt.date(2000, 1, 1), seq=9)
        query = pinyin.initials(name)[:cut]
        rows = queries.search_residents(county.users["township_doctor"], query, channel="web", limit=50)
        assert resident in rows
        assert all(r.name_initials.startswith(query) or r.name_pinyin.startswith(query) for r in rows)
        transaction.savepoint_rollback(sid)
