"""An edit made without a version (FHIR PUT without If-Match) is checked against the row as it is when the
write locks it, not as the editor read it: a record merged or moved out of the editor's scope meanwhile is
refused and stays as it is."""

import dataclasses
import datetime as dt

import pytest
from tests.conftest import make_resident

from countycare.core.errors import Conflict, PermissionDenied
from countycare.registry import services
from countycare.registry.models import Resident


def same_values(resident, **changes):
    values = dict(
        name=resident.name, sex=resident.sex, birth_date=resident.birth_date,
        national_id=resident.national_id or "", phone=resident.phone, address=resident.address,
        home_organization=resident.home_organization, insurance_scheme=resident.insurance_scheme,
    )
    return dataclasses.replace(services.ResidentData(**values), **changes)


def test_a_resident_moved_out_of_scope_after_the_read_is_not_edited(county):
    doctor = county.users["village_doctor"]  # 东村 only
    read = Resident.objects.select_related("home_organization").get(pk=county.residents["zhang_san"].pk)
    Resident.objects.filter(pk=read.pk).update(home_organization=county.orgs["west_v1"], version=2)
    with pytest.raises(PermissionDenied):
        services.update_resident(user=doctor, resident=read, data=same_values(read, phone="13000000000"))
    stored = Resident.objects.get(pk=read.pk)
    assert (stored.home_organization_id, stored.phone) == (county.orgs["west_v1"].pk, "13800000001")


def test_a_resident_merged_after_the_read_is_not_edited(county):
    admin = county.users["community_admin"]
    duplicate = make_resident(county, "zhang_dup", "张三", "east_v1", birth=dt.date(1960, 5, 1), with_id=False)
    read = Resident.objects.select_related("home_organization").get(pk=duplicate.pk)
    services.merge_residents(user=admin, survivor=county.residents["zhang_san"], duplicate=duplicate, reason="同一人")
    with pytest.raises(Conflict):
        services.update_resident(user=admin, resident=read, data=same_values(read, phone="13000000000"))
    assert Resident.objects.get(pk=read.pk).phone == ""
