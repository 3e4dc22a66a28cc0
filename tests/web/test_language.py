"""Simplified Chinese by default; the English switch (Django's set_language) works."""

import pytest


def test_pages_are_in_chinese_by_default(as_role):
    body = as_role("township_doctor").get("/").content.decode()
    assert '<html lang="zh-CN">' in body
    assert "居民查询" in body and "退出登录" in body


def test_the_switch_turns_the_pages_to_english_and_back(as_role):
    client = as_role("township_doctor")
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/residents/?q=zs"})
    assert response.status_code == 302 and response["Location"] == "/residents/?q=zs"
    body = client.get("/residents/", {"q": "zs"}).content.decode()
    assert '<html lang="en">' in body
    assert "Find residents" in body and "Township doctor" in body and "Hypertension" in body
    assert "居民查询" not in body
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert "居民查询" in client.get("/").content.decode()


@pytest.mark.parametrize(
    "english,chinese",
    [
        ("Township health centre", "乡镇卫生院"),
        ("Posted down (county managed, township used)", "县管乡用"),
        ("Hired by branch for village (township hired, village used)", "乡聘村用"),
        ("Disabled", "残疾人"),
        ("Registered poor household", "建档立卡贫困户"),
        ("Attending physician", "主治医师"),
        ("resident", "居民"),
        ("key-population tag", "重点人群标签"),
    ],
)
def test_code_labels_and_model_names_are_translated(english, chinese):
    from django.utils import translation

    with translation.override("zh-hans"):
        assert translation.gettext(english) == chinese


def test_every_message_has_a_chinese_translation():
    from pathlib import Path

    import countycare

    po = (Path(countycare.__file__).parent / "locale/zh_Hans/LC_MESSAGES/django.po").read_text(encoding="utf-8")
    blocks = po.split("\n\n")[1:]
    untranslated = [b for b in blocks if 'msgstr ""' in b and 'msgstr ""\n"' not in b or "#, fuzzy" in b]
    assert untranslated == []


def test_chinese_is_the_default_even_for_a_browser_that_asks_for_english(as_role):
    body = as_role("township_doctor").get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="zh-CN">' in body and "居民查询" in body
