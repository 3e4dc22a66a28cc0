"""In a real browser: sign in through the login page and find 张三 by typing "zs"."""

import pytest
from tests.conftest import PASSWORD
from tests.web.conftest import sign_in

pytestmark = pytest.mark.browser


def test_a_township_doctor_signs_in_and_finds_zhang_san_by_pinyin_initials(live_county, live_server, page):
    sign_in(page, live_server.url, "township_doctor", PASSWORD)
    assert page.locator("[data-testid=whoami]").inner_text().startswith("医生township_doctor")

    page.click("nav.sidenav >> text=居民查询")
    page.wait_for_url("**/residents/")
    page.locator("#q").press_sequentially("zs", delay=60)

    row = page.locator("[data-testid=resident-results] tbody tr").filter(has_text="张三")
    row.wait_for()
    assert "330122********" in row.inner_text()
    assert page.locator("[data-testid=resident-results] tbody tr").count() == 1
    assert page.url.endswith("/residents/?q=zs")  # htmx pushed the search into the address bar

    row.locator("a", has_text="张三").click()
    page.wait_for_url("**/residents/*-*/")
    assert page.locator("h1").inner_text().startswith("张三")
