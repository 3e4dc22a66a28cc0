"""Page tests sign in as one of the cast of `county` and read the rendered page; browser tests drive
headless Debian Chromium against a live server."""

from __future__ import annotations

import pytest
from django.test import Client
from tests.conftest import allow_flush_after_test

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def as_role(county):
    """as_role("village_doctor") -> a test client signed in as that member of the cast."""

    def client_for(role: str) -> Client:
        client = Client()
        client.force_login(county.users[role])
        return client

    return client_for


@pytest.fixture
def live_county(request, transactional_db, django_db_blocker):
    """The test county committed to the database, so the live server's thread sees it.

    A transactional test ends with a flush, which the audit table's append-only triggers refuse: they are
    dropped after the test and re-created once the flush is done (tests/conftest.py allow_flush_after_test)."""
    from tests.conftest import build_county

    yield build_county()
    allow_flush_after_test(request, django_db_blocker)


@pytest.fixture(scope="module")
def chromium():
    import os

    from playwright import sync_api

    assert os.path.exists(CHROMIUM), "browser tests need Debian chromium: apt-get install chromium fonts-wqy-microhei"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def switch_language(page, label: str) -> None:
    """Press the header's 中文 / English button and wait for the page it posts back to.

    The switch is a form post and a redirect: a test that goes on at once (clearing cookies, opening another
    page) races that navigation, and the redirect can land on top of whatever the test opened next.
    """
    lang = "en" if label == "English" else "zh-CN"
    with page.expect_navigation():
        page.click(f"form.lang-switch button:has-text('{label}')")
    page.wait_for_function(f"document.documentElement.lang === '{lang}'")


def sign_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]:not([name])")
    page.wait_for_url(lambda url: "/login/" not in url)
