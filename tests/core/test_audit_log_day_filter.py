"""The audit trail's day filter takes any date the browser can send; the edges of the calendar (year 1, year
9999) used to overflow when turned into a UTC range (a 500)."""

import pytest
from django.test import Client


@pytest.fixture
def admin_page(county):
    client = Client()
    client.force_login(county.users["community_admin"])
    return client


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1899-12-31"])
def test_a_day_at_the_edge_of_the_calendar_is_a_form_error(admin_page, day):
    response = admin_page.get("/audit/", {"day": day})
    assert response.status_code == 200
    assert response.context["form"].errors["day"]


def test_an_ordinary_day_filters(admin_page):
    response = admin_page.get("/audit/", {"day": "2026-01-15"})
    assert response.status_code == 200 and response.context["form"].is_valid()
