"""First contact (首诊接诊): a lead-hospital doctor admits a walk-in from a village by the ID card, which opens the
record to their organisation for the policy's 30 days; a wrong check digit or a name that does not match
opens nothing and says nothing about who exists."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from countycare.core.errors import InvalidInput, NotFound, PermissionDenied
from countycare.core.models import AuditEvent
from countycare.records import services as records_services
from countycare.referrals import services
from countycare.referrals.models import AccessReason, CareAccess
from countycare.registry import queries as registry_queries


def sees(county, key: str, resident: str = "wang_wu") -> bool:
    return registry_queries.visible_residents(county.users[key]).filter(pk=county.residents[resident].pk).exists()


def admit(county, key="county_specialist", resident="wang_wu", **changes):
    person = county.residents[resident]
    values = {"national_id": person.national_id, "name": person.name, "organization": county.orgs["lead"]}
    values.update(changes)
    return services.admit_walk_in(user=county.users[key], channel="web", **values)


def test_a_walk_in_opens_the_record_to_the_lead_hospital_for_thirty_days_and_the_visit_can_be_recorded(county):
    assert not sees(county, "county_specialist")
    before = timezone.now()
    resident = admit(county)
    assert resident == county.residents["wang_wu"] and sees(county, "county_specialist")
    grant = CareAccess.objects.get(resident=resident, reason=AccessReason.FIRST_CONTACT)
    assert grant.organization == county.orgs["lead"]
    assert dt.timedelta(days=30) <= grant.ends_at - before < dt.timedelta(days=30, minutes=1)
    encounter = records_services.record_encounter(
        user=county.users["county_specialist"], resident=resident, channel="web",
        data={"kind": "outpatient", "chief_complaint": "胸闷", "diagnoses": [{"code": "I10", "primary": True}]})
    assert encounter.organization == county.orgs["lead"]
    event = AuditEvent.objects.filter(action="first-contact", resident_id=str(resident.uuid)).get()
    assert event.detail["granted"] is True


def test_the_access_ends_after_the_policy_days(county):
    admit(county)
    CareAccess.objects.filter(reason=AccessReason.FIRST_CONTACT).update(
        starts_at=timezone.now() - dt.timedelta(days=31), ends_at=timezone.now() - dt.timedelta(seconds=1))
    assert not sees(county, "county_specialist")


def test_a_wrong_check_digit_is_refused_with_the_rule(county):
    good = county.residents["wang_wu"].national_id
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    with pytest.raises(InvalidInput) as error:
        admit(county, national_id=wrong)
    assert error.value.field == "national_id" and "校验" in error.value.message
    assert not CareAccess.objects.exists()


@pytest.mark.parametrize("changes", [{"name": "王六"}, {"resident": "zhang_san", "name": "王五"}])
def test_an_id_and_name_that_do_not_match_one_resident_open_nothing(county, changes):
    resident = changes.pop("resident", "wang_wu")
    with pytest.raises(NotFound) as error:
        admit(county, resident=resident, **changes)
    assert "未找到身份证号与姓名相符的居民" in error.value.message
    assert not CareAccess.objects.exists()
    attempt = AuditEvent.objects.get(action="first-contact")
    assert attempt.resident_id == "" and attempt.detail["found"] is False


def test_a_patient_already_in_scope_gets_no_new_grant(county):
    admit(county, key="township_doctor", resident="zhang_san", organization=county.orgs["east"])
    assert not CareAccess.objects.exists()


def test_only_doctors_admit_and_only_where_they_work(county):
    with pytest.raises(PermissionDenied):
        admit(county, key="pharmacist")
    with pytest.raises(PermissionDenied):
        admit(county, organization=county.orgs["east"])  # the county specialist is not posted there
    assert not CareAccess.objects.exists()
