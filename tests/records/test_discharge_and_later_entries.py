"""After the visit: discharging an admission (optimistic locking on the encounter's version), diagnoses added
later, and observations recorded at a visit or on their own."""

from decimal import Decimal

import pytest
from tests.records.record_helpers import admission, days_ago, snapshot, visit

from countycare.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, PreconditionFailed
from countycare.core.models import AuditEvent
from countycare.records import services
from countycare.records.models import EncounterStatus, Problem


def discharge(county, encounter, *, user="county_specialist", version=1, ended_at=None, note=""):
    return services.discharge_encounter(user=county.users[user], encounter=encounter,
                                        ended_at=ended_at or days_ago(1, 9), expected_version=version, note=note,
                                        channel="web")


def test_a_discharge_ends_the_stay_and_counts_its_days(county, posted_specialist):
    stay = admission(county, days=5)
    done = discharge(county, stay, note="出院小结：病情稳定。")
    assert done.status == EncounterStatus.FINISHED and done.version == 2
    assert done.length_of_stay_days == 4  # admitted 5 days ago at 10:00, discharged yesterday at 9:00
    assert done.note.endswith("出院小结：病情稳定。")
    event = AuditEvent.objects.get(action="update", object_type="Encounter")
    assert event.detail["length_of_stay_days"] == 4 and event.resident_id == str(stay.resident.uuid)


def test_a_stale_version_is_refused_with_412_and_nothing_changes(county, posted_specialist):
    stay = admission(county)
    services.add_diagnoses(user=county.users["county_specialist"], encounter=stay,
                           diagnoses=[{"code": "I50.9"}], channel="web")  # version 2 now
    before = snapshot()
    with pytest.raises(PreconditionFailed):
        discharge(county, stay, version=1)
    assert snapshot() == before


def test_discharging_twice_is_a_conflict(county, posted_specialist):
    stay = admission(county)
    discharge(county, stay)
    with pytest.raises(Conflict):
        discharge(county, stay, version=2)


def test_a_discharge_before_the_admission_is_refused(county, posted_specialist):
    stay = admission(county, days=3)
    with pytest.raises(InvalidInput):
        discharge(county, stay, ended_at=days_ago(4))
    with pytest.raises(InvalidInput):
        discharge(county, stay, ended_at=days_ago(-1))  # in the future
    assert stay.__class__.objects.get(pk=stay.pk).status == EncounterStatus.IN_PROGRESS


def test_only_the_treating_organisation_discharges(county, posted_specialist):
    stay = admission(county)
    with pytest.raises(PermissionDenied):
        discharge(county, stay, user="township_doctor")  # has zhang_san in scope, but not posted to the lead
    with pytest.raises(NotFound):
        discharge(county, stay, user="west_doctor")
    assert stay.__class__.objects.get(pk=stay.pk).status == EncounterStatus.IN_PROGRESS


def test_diagnoses_added_later_keep_one_primary_and_feed_the_problem_list(county, posted_specialist):
    stay = admission(county)
    added = services.add_diagnoses(user=county.users["county_specialist"], encounter=stay,
                                   diagnoses=[{"code": "I50.9"}, {"code": "e78.5"}], channel="web")
    assert [d.code for d in added] == ["I50.9", "E78.5"]
    assert stay.diagnoses.filter(is_primary=True).count() == 1
    assert set(Problem.objects.values_list("code", flat=True)) == {"I21.9", "I10", "I50.9", "E78.5"}


@pytest.mark.parametrize("diagnoses, named", [
    ([{"code": "I50.9", "primary": True}], "several"),
    ([{"code": "I10"}], "already"),
    ([{"code": "Q99.9"}], "Q99.9"),
    ([], "no diagnoses"),
])
def test_bad_later_diagnoses_are_refused_and_change_nothing(county, posted_specialist, diagnoses, named):
    stay = admission(county)
    before = snapshot()
    with pytest.raises(InvalidInput) as refused:
        services.add_diagnoses(user=county.users["county_specialist"], encounter=stay, diagnoses=diagnoses,
                               channel="web")
    assert named in refused.value.message
    assert snapshot() == before


def test_a_home_reading_is_recorded_on_its_own(county):
    rows = services.record_observations(
        user=county.users["village_doctor"], resident=county.residents["zhang_san"], channel="web",
        observations=[{"code": "8480-6", "value": 152, "unit": "mmHg"}, {"code": "8462-4", "value": "96"},
                      {"code": "14771-0", "value": Decimal("7.9"), "effective_at": days_ago(1, 7)}],
    )
    assert [(o.code, o.value_quantity, o.encounter) for o in rows][:2] == [
        ("8480-6", Decimal("152"), None), ("8462-4", Decimal("96"), None)]
    assert rows[2].category == "laboratory" and rows[2].unit == "mmol/L"
    assert AuditEvent.objects.filter(action="create", object_type="Observation").count() == 3


def test_a_result_with_a_reference_range_is_interpreted(county):
    (hba1c,) = services.record_observations(
        user=county.users["township_doctor"], resident=county.residents["zhang_san"], channel="web",
        observations=[{"code": "4548-4", "category": "laboratory", "display": "糖化血红蛋白", "value": "8.1",
                       "unit": "%", "reference_low": 4, "reference_high": "6"}],
    )
    assert hba1c.interpretation == "H" and hba1c.organization == county.orgs["east"]


def test_observations_at_an_encounter_must_be_its_residents(county):
    encounter = visit(county, "township_doctor", "zhang_san")
    with pytest.raises(InvalidInput):
        services.record_observations(user=county.users["township_doctor"], resident=county.residents["li_si"],
                                     observations=[{"code": "8867-4", "value": 70}], encounter=encounter,
                                     channel="web")


def test_impossible_or_unnamed_observations_are_refused(county):
    before = snapshot()
    for bad in ([{"code": "59408-5", "value": 101}], [{"code": "1234-5", "value": 1}],
                [{"code": "1234-5", "category": "laboratory", "display": "某项", "value": None}], []):
        with pytest.raises(InvalidInput):
            services.record_observations(user=county.users["village_doctor"], resident=county.residents["zhang_san"],
                                         observations=bad, channel="web")
    assert snapshot() == before


def test_a_pharmacist_records_no_observations(county):
    with pytest.raises(PermissionDenied):
        services.record_observations(user=county.users["pharmacist"], resident=county.residents["zhang_san"],
                                     observations=[{"code": "8867-4", "value": 70}], channel="web")
