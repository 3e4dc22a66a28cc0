"""Policy numbers are read once per community within a request, and every time outside one."""

from decimal import Decimal

from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext

from countycare.core import policy
from countycare.core.models import Policy


def test_outside_a_request_every_read_queries_and_sees_the_latest_row(county):
    community = county.community.id
    assert policy.get("referral_expiry_days", community) == policy.DEFAULTS["referral_expiry_days"].value
    Policy.objects.create(community_id=community, key="referral_expiry_days", value=Decimal("3"))
    with CaptureQueriesContext(connection) as captured:
        assert policy.get("referral_expiry_days", community) == Decimal("3")
    assert len(captured.captured_queries) == 1


def test_within_a_request_a_community_is_read_once_until_a_row_is_saved(county):
    community = county.community.id
    Policy.objects.create(community=None, key="referral_record_access_days", value=Decimal("30"))
    request_started.disconnect(close_old_connections)  # as Django's test client does: keep the test's connection
    request_started.send(sender=None)
    try:
        with CaptureQueriesContext(connection) as captured:
            many = policy.get_many(community, "referral_expiry_days", "referral_record_access_days")
            assert policy.get("referral_record_access_days", community) == Decimal("30")
            assert policy.get("reserved_slot_share", community) == policy.DEFAULTS["reserved_slot_share"].value
        assert len(captured.captured_queries) == 1
        assert many == {"referral_expiry_days": policy.DEFAULTS["referral_expiry_days"].value,
                        "referral_record_access_days": Decimal("30")}
        Policy.objects.create(community_id=community, key="referral_record_access_days", value=Decimal("45"))
        assert policy.get("referral_record_access_days", community) == Decimal("45")  # saved: read again
        assert policy.get("referral_record_access_days", None) == Decimal("30")  # the default row
    finally:
        request_finished.disconnect(close_old_connections)
        request_finished.send(sender=None)
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    Policy.objects.filter(community_id=community).update(value=Decimal("60"))  # no signal: no cache either
    assert policy.get("referral_record_access_days", community) == Decimal("60")
