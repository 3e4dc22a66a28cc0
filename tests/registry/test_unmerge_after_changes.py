"""Undoing a merge puts back what the merge moved. When the surviving record changed since, in a way the undo
would overwrite or split, it is refused (409) and nothing changes; an unrelated edit does not block it."""

import datetime as dt

import pytest
from tests.conftest import make_resident

from countycare.core import nationalid
from countycare.core.codes import KeyPopulation
from countycare.core.errors import Conflict
from countycare.registry import services
from countycare.registry.models import Resident, ResidentIdentifier, ResidentTag


def edit(admin, resident, **changes):
    resident = Resident.objects.get(pk=resident.pk)
    values = dict(
        name=resident.name, sex=resident.sex, birth_date=resident.birth_date,
        national_id=resident.national_id or "", phone=resident.phone, address=resident.address,
        village_code=resident.village_code, home_organization=resident.home_organization,
        insurance_scheme=resident.insurance_scheme, insurance_number=resident.insurance_number,
        tags=sorted(resident.tags.values_list("tag", flat=True)),
        identifiers=[(i.type, i.value) for i in resident.identifiers.all()],
    )
    values.update(changes)
    return services.update_resident(user=admin, resident=resident, data=services.ResidentData(**values))


@pytest.fixture
def merged(county):
    """李四 (with ID, passport, diabetes tag) folded into a record of the same person without an ID."""
    admin = county.users["community_admin"]
    survivor = make_resident(county, "li_noid", "李四", "east", birth=dt.date(1990, 8, 8), with_id=False)
    duplicate = county.residents["li_si"]
    ResidentTag.objects.create(resident=duplicate, tag=KeyPopulation.DIABETES)
    ResidentIdentifier.objects.create(resident=duplicate, type="passport", value="E7654321")
    event = services.merge_residents(user=admin, survivor=survivor, duplicate=duplicate, reason="同一人")
    return admin, survivor, duplicate, event


def snapshot(*residents):
    return [
        (r.national_id, r.merged_into_id, sorted(r.tags.values_list("tag", flat=True)),
         sorted(r.identifiers.values_list("value", flat=True)))
        for r in Resident.objects.filter(pk__in=[x.pk for x in residents]).order_by("pk")
    ]


def test_an_edit_of_the_moved_national_id_blocks_the_undo(merged):
    admin, survivor, duplicate, event = merged
    edit(admin, survivor, national_id=nationalid.build("330122", dt.date(1990, 8, 8), 77, "male"))
    before = snapshot(survivor, duplicate)
    with pytest.raises(Conflict):
        services.unmerge_residents(user=admin, merge_event_id=event.pk, reason="误合并")
    assert snapshot(survivor, duplicate) == before


def test_removing_a_moved_tag_blocks_the_undo(merged):
    admin, survivor, duplicate, event = merged
    edit(admin, survivor, tags=[])
    before = snapshot(survivor, duplicate)
    with pytest.raises(Conflict):
        services.unmerge_residents(user=admin, merge_event_id=event.pk, reason="误合并")
    assert snapshot(survivor, duplicate) == before


def test_an_unrelated_edit_keeps_the_undo_possible_and_complete(merged):
    admin, survivor, duplicate, event = merged
    edit(admin, survivor, phone="13700000000")  # identifiers and tags sent back unchanged keep their rows
    services.unmerge_residents(user=admin, merge_event_id=event.pk, reason="误合并")
    duplicate.refresh_from_db()
    survivor.refresh_from_db()
    assert duplicate.merged_into is None and duplicate.national_id and survivor.national_id is None
    assert list(duplicate.identifiers.values_list("value", flat=True)) == ["E7654321"]
    assert list(duplicate.tags.values_list("tag", flat=True)) == [KeyPopulation.DIABETES]
    assert survivor.phone == "13700000000"
