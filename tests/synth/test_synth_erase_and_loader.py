import pytest

from countycare.accounts.models import User
from countycare.core.codes import Role
from countycare.core.models import AuditEvent, Community
from countycare.registry.models import Household, Organization, Resident, ResidentTag
from countycare.synth.erase import erase_community
from countycare.synth.load import BulkLoader


def test_erase_removes_every_row_of_the_community_but_keeps_the_audit_trail(small_county):
    from countycare.accounts import services

    lead = Organization.objects.get(org_type="lead_hospital")
    services.create_user(username="someone", role=Role.COMMUNITY_ADMIN, organization=lead, password="Erase-me-2026")
    audit_rows = AuditEvent.objects.count()
    erase_community(small_county.community)
    assert not Community.objects.exists()
    for model in (Organization, Household, Resident, ResidentTag, User):
        assert not model.objects.exists(), model
    assert AuditEvent.objects.count() == audit_rows


def test_loader_refuses_unknown_and_missing_columns(db):
    loader = BulkLoader()
    with pytest.raises(ValueError, match="no column"):
        loader.load(Community, ("id", "nonsense"), [])
    with pytest.raises(ValueError, match="required column"):
        loader.load(Community, ("id", "name"), [])


def test_reserved_ids_do_not_overlap(small_county):
    loader = BulkLoader()
    first = loader.reserve_ids(Resident, 10)
    second = loader.reserve_ids(Resident, 10)
    assert first > Resident.objects.order_by("-id").values_list("id", flat=True).first()
    assert second >= first + 10
