"""A NUL in a search is refused with a 4xx, never a database error: PostgreSQL
cannot compare text containing NUL, so it used to be a 500 on the search and merge pages."""

import pytest
from django.test import Client

from countycare.core.errors import InvalidInput
from countycare.core.models import AuditEvent
from countycare.registry import queries


@pytest.mark.parametrize("query", ["\x00", "张\x00", "zs\x00", "138\x00"])
def test_the_search_query_refuses_a_nul(county, query):
    with pytest.raises(InvalidInput):
        queries.search_residents(county.users["community_admin"], query, channel="web")
    assert not AuditEvent.objects.exists()


def page_as(county, key):
    client = Client()
    client.force_login(county.users[key])
    return client


@pytest.mark.parametrize("query", ["\x00", "张\x00", "zs\x00", "138\x00"])
def test_the_search_page_answers_a_nul_with_a_4xx(county, query):
    response = page_as(county, "township_doctor").get("/residents/", {"q": query})
    assert response.status_code == 422
    assert "NUL character" in response.content.decode()


def test_the_merge_page_search_answers_a_nul_with_a_4xx(county):
    survivor = county.residents["zhang_san"]
    response = page_as(county, "community_admin").get(f"/residents/{survivor.uuid}/merge/", {"q": "张\x00"})
    assert response.status_code == 422


def test_an_ordinary_search_still_works(county):
    response = page_as(county, "township_doctor").get("/residents/", {"q": "zs"})
    assert response.status_code == 200 and "张三" in response.content.decode()
