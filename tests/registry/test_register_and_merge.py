"""Registering, editing and merging residents: the rules of the patient index."""

import datetime as dt

import pytest
from tests.conftest import COUNTY, make_resident

from countycare.core import nationalid
from countycare.core.codes import KeyPopulation, Sex
from countycare.core.errors import Conflict, InvalidInput, PermissionDenied, PreconditionFailed
from countycare.core.models import AuditEvent
from countycare.registry import services
from countycare.registry.models import Resident, ResidentIdentifier, ResidentTag


def data(county, **overrides):
    values = dict(name="孙七", national_id=nationalid.build(COUNTY, dt.date(1970, 7, 7), 11, "female"),
                  home_organization=county.orgs["east_v1"], phone="13900000007", tags=[KeyPopulation.DIABETES])
    values.update(overrides)
    return services.ResidentData(**values)


def test_registering_derives_birth_date_sex_and_pinyin_from_the_id(county):
    resident = services.register_resident(user=county.users["village_doctor"], data=data(county))
    assert (resident.birth_date, resident.sex) == (dt.date(1970, 7, 7), Sex.FEMALE)
    assert (resident.name_initials, resident.name_pinyin) == ("sq", "sunqi")
    assert list(resident.tags.values_list("tag", flat=True)) == [KeyPopulation.DIABETES]
    assert AuditEvent.objects.filter(action="create", resident_id=str(resident.uuid)).count() == 1


def test_a_wrong_check_digit_is_refused_and_nothing_is_stored(county):
    good = nationalid.build(COUNTY, dt.date(1970, 7, 7), 11, "female")
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    before = Resident.objects.count()
    with pytest.raises(InvalidInput) as excinfo:
        services.register_resident(user=county.users["village_doctor"], data=data(county, national_id=bad))
    assert excinfo.value.field == "national_id" and excinfo.value.detail["part"] == "check_digit"
    assert Resident.objects.count() == before


def test_an_entered_birth_date_that_disagrees_with_the_id_is_refused(county):
    with pytest.raises(InvalidInput, match="1970-07-07"):
        services.register_resident(user=county.users["village_doctor"],
                                   data=data(county, birth_date=dt.date(1971, 7, 7)))


def test_the_same_national_id_can_never_be_registered_twice(county):
    existing = county.residents["zhang_san"]
    with pytest.raises(Conflict) as excinfo:
        services.register_resident(user=county.users["community_admin"],
                                   data=data(county, name="张叁", national_id=existing.national_id))
    assert excinfo.value.detail["existing"] == str(existing.uuid)


def test_a_resident_without_id_who_looks_like_an_existing_one_is_flagged(county):
    # 章三 sounds like 张三 (same pinyin), same birth date and phone: a likely duplicate
    without_id = data(county, name="章三", national_id="", sex=Sex.MALE, birth_date=dt.date(1960, 5, 1),
                      phone="13800000001", tags=[])
    with pytest.raises(services.DuplicateSuspected) as excinfo:
        services.register_resident(user=county.users["village_doctor"], data=without_id)
    assert [c.resident for c in excinfo.value.candidates] == [county.residents["zhang_san"]]
    shown = AuditEvent.objects.get(action="duplicate-check")
    assert shown.resident_id == str(county.residents["zhang_san"].uuid) and shown.username == "village_doctor"
    resident = services.register_resident(user=county.users["village_doctor"], data=without_id,
                                          confirmed_not_duplicate=True)
    assert resident.national_id is None


def test_a_different_person_with_the_same_common_name_is_not_flagged(county):
    different = data(county, name="张三", national_id="", sex=Sex.FEMALE, birth_date=dt.date(2001, 1, 1),
                     phone="", tags=[])
    assert services.find_likely_duplicates(community_id=county.community.id, name="张三",
                                           birth_date=different.birth_date, sex=different.sex) == []


def test_a_village_doctor_cannot_register_residents_of_another_township(county):
    with pytest.raises(PermissionDenied):
        services.register_resident(user=county.users["village_doctor"],
                                   data=data(county, home_organization=county.orgs["west_v1"]))


@pytest.mark.parametrize("role", ["pharmacist", "bureau_viewer", "resident", "insurance_officer"])
def test_roles_without_registration_duty_cannot_register(county, role):
    with pytest.raises(PermissionDenied):
        services.register_resident(user=county.users[role], data=data(county))


def test_an_unknown_key_population_tag_is_refused(county):
    with pytest.raises(InvalidInput, match="smoker"):
        services.register_resident(user=county.users["village_doctor"], data=data(county, tags=["smoker"]))


def test_an_edit_against_a_stale_version_is_refused_and_changes_nothing(county):
    zhang = county.residents["zhang_san"]
    editor = county.users["township_doctor"]
    edit = services.ResidentData(name="张三", national_id=zhang.national_id, home_organization=zhang.home_organization,
                                 phone="13800000099", tags=[KeyPopulation.HYPERTENSION])
    updated = services.update_resident(user=editor, resident=zhang, data=edit, expected_version=1)
    assert updated.version == 2 and updated.phone == "13800000099"
    stale = services.ResidentData(**{**edit.__dict__, "phone": "13800000000"})
    with pytest.raises(PreconditionFailed):
        services.update_resident(user=editor, resident=zhang, data=stale, expected_version=1)
    zhang.refresh_from_db()
    assert zhang.phone == "13800000099" and zhang.version == 2
    change = AuditEvent.objects.get(action="update", resident_id=str(zhang.uuid))
    assert change.detail["changed"]["phone"] == ["13800000001", "13800000099"]


def test_merge_moves_every_reference_and_can_be_undone(county):
    admin = county.users["community_admin"]
    survivor = county.residents["zhang_san"]
    duplicate = make_resident(county, "zhang_dup", "张三", "east_v1", birth=dt.date(1960, 5, 1), with_id=False,
                              tags=(KeyPopulation.HYPERTENSION, KeyPopulation.ELDERLY))
    ResidentIdentifier.objects.create(resident=duplicate, type="passport", value="E12345678")
    county.users["resident"].resident = duplicate  # a portal login on the duplicate record
    county.users["resident"].save()

    event = services.merge_residents(user=admin, survivor=survivor, duplicate=duplicate, reason="同一人重复建档")
    duplicate.refresh_from_db()
    assert duplicate.merged_into == survivor
    assert ResidentIdentifier.objects.get(value="E12345678").resident == survivor
    assert set(ResidentTag.objects.filter(resident=survivor).values_list("tag", flat=True)) == {
        KeyPopulation.HYPERTENSION, KeyPopulation.ELDERLY}
    county.users["resident"].refresh_from_db()
    assert county.users["resident"].resident == survivor
    assert event.reason == "同一人重复建档" and event.detail["duplicate"] == str(duplicate.uuid)

    services.unmerge_residents(user=admin, merge_event_id=event.pk, reason="误合并")
    duplicate.refresh_from_db()
    assert duplicate.merged_into is None
    assert ResidentIdentifier.objects.get(value="E12345678").resident == duplicate
    assert set(ResidentTag.objects.filter(resident=duplicate).values_list("tag", flat=True)) == {
        KeyPopulation.HYPERTENSION, KeyPopulation.ELDERLY}
    assert set(ResidentTag.objects.filter(resident=survivor).values_list("tag", flat=True)) == {
        KeyPopulation.HYPERTENSION}
    county.users["resident"].refresh_from_db()
    assert county.users["resident"].resident == duplicate
    with pytest.raises(Conflict):
        services.unmerge_residents(user=admin, merge_event_id=event.pk, reason="again")


def test_merge_moves_the_national_id_to_a_survivor_without_one(county):
    admin = county.users["community_admin"]
    no_id = make_resident(county, "li_noid", "李四", "east", birth=dt.date(1990, 8, 8), with_id=False)
    with_id = county.residents["li_si"]
    national_id = with_id.national_id
    services.merge_residents(user=admin, survivor=no_id, duplicate=with_id, reason="保留新档案")
    no_id.refresh_from_db()
    with_id.refresh_from_db()
    assert no_id.national_id == national_id and with_id.national_id is None


def test_records_with_different_national_ids_cannot_be_merged(county):
    with pytest.raises(Conflict):
        services.merge_residents(user=county.users["community_admin"], survivor=county.residents["zhang_san"],
                                 duplicate=county.residents["li_si"], reason="x")


def test_only_a_community_admin_may_merge(county):
    with pytest.raises(PermissionDenied):
        services.merge_residents(user=county.users["township_doctor"], survivor=county.residents["zhang_san"],
                                 duplicate=county.residents["zeng_li"], reason="x")


def test_an_over_long_address_is_refused_with_the_field_named(county):
    with pytest.raises(InvalidInput) as excinfo:
        services.register_resident(user=county.users["village_doctor"], data=data(county, address="村" * 201))
    assert excinfo.value.field == "address"


@pytest.mark.parametrize("village_code", ["33012210120A", "3301221012", "110105101201"])
def test_a_village_code_that_is_not_a_division_code_of_this_county_is_refused(county, village_code):
    with pytest.raises(InvalidInput) as excinfo:
        services.register_resident(user=county.users["village_doctor"], data=data(county, village_code=village_code))
    assert excinfo.value.field == "village_code"
