"""System-written "中文 (English)" texts show in the page's language; what a person typed shows as written."""

from django.utils import translation
from tests.web.test_workstation_helpers import refer

from countycare.referrals import services
from countycare.web.templatetags.countycare import in_language


def test_the_filter_picks_the_half_of_the_page_language_and_leaves_typed_text_alone():
    with translation.override("zh-hans"):
        assert in_language("逾期未到诊 (not arrived in time)") == "逾期未到诊"
        assert in_language("患者拒绝 (家属不同意)") == "患者拒绝 (家属不同意)"  # typed, not an English half
        assert in_language("") == "" and in_language(None) == ""
    with translation.override("en"):
        assert in_language("逾期未到诊 (not arrived in time)") == "not arrived in time"
        assert in_language("patient declined") == "patient declined"


def test_an_expired_referral_shows_its_reason_in_chinese_on_a_chinese_page(county, as_role):
    referral = refer(county, "village_doctor", "zhang_san")
    services.expire_overdue(now=referral.due_at.replace(year=referral.due_at.year + 1))
    body = as_role("village_doctor").get(f"/referrals/{referral.uuid}/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    text = body.content.decode()
    assert "逾期未到诊" in text and "not arrived in time" not in text
