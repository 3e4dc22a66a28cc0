"""Other identifiers (passport...) are unique across the whole deployment, so a clash can involve a resident
of another community: the refusal then does not name that resident (no cross-community existence leak)."""

import datetime as dt

import pytest
from tests.conftest import make_resident

from countycare.core.codes import Level, OrganizationType
from countycare.core.errors import Conflict
from countycare.core.models import Community
from countycare.registry import services
from countycare.registry.models import Organization, Resident, ResidentIdentifier


def registration(county, passport):
    return services.ResidentData(name="吴十", sex="male", birth_date=dt.date(1980, 1, 1),
                                 home_organization=county.orgs["east_v1"], identifiers=[("passport", passport)])


def test_a_clash_with_another_community_names_nobody(county):
    other = Community.objects.create(name="山南县医共体", county_name="山南县", division_code="330123")
    clinic = Organization.objects.create(community=other, name="山南村卫生室", org_type=OrganizationType.VILLAGE_CLINIC,
                                         level=Level.VILLAGE, division_code="330123101201")
    outsider = Resident.objects.create(community=other, name="外县人", sex="male", birth_date=dt.date(1980, 1, 1),
                                       home_organization=clinic)
    ResidentIdentifier.objects.create(resident=outsider, type="passport", value="G11112222")
    before = Resident.objects.count()
    with pytest.raises(Conflict) as refused:
        services.register_resident(user=county.users["village_doctor"], data=registration(county, "G11112222"))
    assert "existing" not in refused.value.detail
    assert str(outsider.uuid) not in str(refused.value.detail) + refused.value.message
    assert Resident.objects.count() == before


def test_a_clash_within_the_community_names_the_existing_resident(county):
    holder = make_resident(county, "holder", "郑十一", "east_v2", birth=dt.date(1970, 1, 1), seq=9)
    ResidentIdentifier.objects.create(resident=holder, type="passport", value="G33334444")
    with pytest.raises(Conflict) as refused:
        services.register_resident(user=county.users["village_doctor"], data=registration(county, "G33334444"))
    assert refused.value.detail["existing"] == str(holder.uuid)
