"""Policy numbers are read once per community and kept in the process for COUNTYCARE_REFERENCE_CACHE_SECONDS; a
save through the ORM applies at once."""

from decimal import Decimal

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from countycare.core import policy
from countycare.core.models import Policy


def reads(fn):
    with CaptureQueriesContext(connection) as captured:
        value = fn()
    return value, len(captured.captured_queries)


def test_a_community_is_read_once_then_kept(county):
    community = county.community.id
    Policy.objects.create(community=None, key="referral_record_access_days", value=Decimal("30"))
    many, queries = reads(lambda: policy.get_many(community, "referral_expiry_days", "referral_record_access_days"))
    assert queries == 1
    assert many == {"referral_expiry_days": policy.DEFAULTS["referral_expiry_days"].value,
                    "referral_record_access_days": Decimal("30")}
    assert reads(lambda: policy.get("reserved_slot_share", community)) == (
        policy.DEFAULTS["reserved_slot_share"].value, 0)
    assert reads(lambda: policy.get("referral_record_access_days", None)) == (Decimal("30"), 1)  # another key


def test_a_save_applies_at_once_and_a_bulk_update_within_the_time_to_live(county, settings, monkeypatch):
    community = county.community.id
    assert policy.get("referral_record_access_days", community) == Decimal("90")
    Policy.objects.create(community_id=community, key="referral_record_access_days", value=Decimal("45"))
    assert reads(lambda: policy.get("referral_record_access_days", community)) == (Decimal("45"), 1)
    # an UPDATE without signals (another process's edit, as far as this one knows) shows after the time-to-live
    Policy.objects.filter(community_id=community).update(value=Decimal("60"))
    assert policy.get("referral_record_access_days", community) == Decimal("45")
    now = policy._cache.clock()
    monkeypatch.setattr(policy._cache, "clock", lambda: now + settings.COUNTYCARE_REFERENCE_CACHE_SECONDS + 0.001)
    assert reads(lambda: policy.get("referral_record_access_days", community)) == (Decimal("60"), 1)


def test_a_delete_applies_at_once(county):
    community = county.community.id
    row = Policy.objects.create(community_id=community, key="referral_expiry_days", value=Decimal("3"))
    assert policy.get("referral_expiry_days", community) == Decimal("3")
    row.delete()
    assert policy.get("referral_expiry_days", community) == Decimal("7")


def test_a_value_read_inside_the_saving_transaction_does_not_outlive_its_commit(
        county, django_capture_on_commit_callbacks):
    community = county.community.id
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        Policy.objects.create(community_id=community, key="referral_expiry_days", value=Decimal("5"))
        assert policy.get("referral_expiry_days", community) == Decimal("5")
    assert reads(lambda: policy.get("referral_expiry_days", community)) == (Decimal("5"), 1)  # cleared on commit


def test_a_time_to_live_of_zero_reads_every_time(county, settings):
    settings.COUNTYCARE_REFERENCE_CACHE_SECONDS = 0
    community = county.community.id
    assert reads(lambda: policy.get("referral_expiry_days", community))[1] == 1
    assert reads(lambda: policy.get("referral_expiry_days", community))[1] == 1
