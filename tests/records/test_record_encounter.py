"""Recording an encounter: what is stored, what is audited, and every refusal leaving the record unchanged."""

from decimal import Decimal

import pytest
from tests.records.record_helpers import data, days_ago, snapshot, visit

from countycare.core.errors import InvalidInput, NotFound, PermissionDenied
from countycare.core.models import AuditEvent
from countycare.records import services
from countycare.records.models import Encounter, EncounterStatus, ObservationCategory, Problem


def test_a_village_doctor_records_a_visit_with_diagnoses_vitals_orders_and_costs(county):
    encounter = visit(county, "village_doctor", "zhang_san")
    assert encounter.organization == county.orgs["east_v1"]
    assert encounter.practitioner == county.practitioners["village_doctor"]
    assert encounter.status == EncounterStatus.FINISHED and encounter.version == 1
    assert encounter.cost_total == Decimal("43.50") and encounter.cost_beds == Decimal("0.00")
    diagnosis = encounter.diagnoses.get()
    assert (diagnosis.code, diagnosis.display, diagnosis.is_primary) == ("J06.9", "急性上呼吸道感染，未特指", True)
    vitals = {o.code: (o.value_quantity, o.unit, o.category) for o in encounter.observations.all()}
    assert vitals["8310-5"] == (Decimal("37.8"), "Cel", ObservationCategory.VITAL_SIGNS)
    assert vitals["8480-6"][1] == "mm[Hg]" and vitals["8867-4"][1] == "/min"
    assert list(encounter.orders.values_list("kind", "description")) == [("lab", "血常规")]


def test_the_write_is_audited_with_the_resident(county):
    encounter = visit(county, "village_doctor", "zhang_san", channel="api")
    event = AuditEvent.objects.get(action="create", object_type="Encounter")
    assert event.object_id == str(encounter.uuid)
    assert event.resident_id == str(county.residents["zhang_san"].uuid)
    assert (event.username, event.channel) == ("village_doctor", "api")
    assert event.detail["diagnoses"] == ["J06.9"] and event.detail["cost_total"] == "43.50"


def test_a_code_is_accepted_in_lower_case(county):
    encounter = visit(county, "village_doctor", "zhang_san", diagnoses=[{"code": " j06.9", "primary": True}])
    assert encounter.diagnoses.get().code == "J06.9"


def test_an_admission_stays_in_progress_until_discharged(county, posted_specialist):
    encounter = visit(county, "county_specialist", "zhang_san", kind="inpatient", ward="3病区12床",
                      organization=county.orgs["lead"])
    assert encounter.status == EncounterStatus.IN_PROGRESS and encounter.ended_at is None


REFUSED = {
    "unknown code": ({"diagnoses": [{"code": "X99.9", "primary": True}]}, "X99.9"),
    "no diagnosis": ({"diagnoses": []}, "primary"),
    "no primary": ({"diagnoses": [{"code": "J06.9", "primary": False}]}, "primary"),
    "two primaries": ({"diagnoses": [{"code": "J06.9", "primary": True}, {"code": "I10", "primary": True}]},
                      "primary"),
    "same code twice": ({"diagnoses": [{"code": "I10", "primary": True}, {"code": "I10"}]}, "twice"),
    "negative cost": ({"costs": {"drugs": Decimal("-1.00")}}, "negative"),
    "a third decimal place": ({"costs": {"drugs": Decimal("1.005")}}, "2 decimal"),
    "unknown cost": ({"costs": {"tips": Decimal("1")}}, "tips"),
    "end before start": ({"started_at": days_ago(1, 10), "ended_at": days_ago(1, 9)}, "before"),
    "start in the future": ({"started_at": days_ago(-2)}, "future"),
    "admission without ward": ({"kind": "inpatient"}, "ward"),
    "unknown kind": ({"kind": "telepathy"}, "kind"),
    "temperature of 378": ({"vitals": [{"code": "8310-5", "value": Decimal("378")}]}, "not possible"),
    "weight of 0": ({"vitals": [{"code": "29463-7", "value": 0}]}, "not possible"),
    "diastolic above systolic": ({"vitals": [{"code": "8480-6", "value": 80}, {"code": "8462-4", "value": 120}]},
                                 "below systolic"),
    "weight in jin": ({"vitals": [{"code": "29463-7", "value": 120, "unit": "斤"}]}, "kg"),
    "unknown vital": ({"vitals": [{"code": "0000-0", "value": 1}]}, "0000-0"),
    "order without text": ({"orders": [{"kind": "lab", "description": " "}]}, "description"),
    "chief complaint too long": ({"chief_complaint": "咳" * 201}, "200"),
    "NUL in the note": ({"note": "a\x00b"}, "NUL"),
}


@pytest.mark.parametrize("overrides, named", REFUSED.values(), ids=REFUSED.keys())
def test_invalid_input_is_refused_and_changes_nothing(county, overrides, named):
    before = snapshot()
    with pytest.raises(InvalidInput) as refused:
        visit(county, "village_doctor", "zhang_san", **overrides)
    assert named in refused.value.message
    assert snapshot() == before
    assert not AuditEvent.objects.filter(action="create").exists()


@pytest.mark.parametrize("role", ["pharmacist", "centre_reader", "community_admin", "insurance_officer",
                                  "cdc_officer", "bureau_viewer", "resident"])
def test_only_doctors_record_encounters(county, role):
    with pytest.raises(PermissionDenied):
        visit(county, role, "zhang_san")
    assert not Encounter.objects.exists()


def test_a_resident_outside_scope_is_not_found(county):
    with pytest.raises(NotFound):
        visit(county, "village_doctor", "wang_wu")  # 西村, not the east village doctor's
    assert not Encounter.objects.exists()


def test_a_doctor_records_only_at_an_organisation_they_are_posted_to(county):
    with pytest.raises(PermissionDenied) as refused:
        visit(county, "township_doctor", "zhang_san", organization=county.orgs["lead"])
    assert "posted" in refused.value.message
    assert not Encounter.objects.exists()


def test_a_department_of_another_organisation_is_refused(county):
    with pytest.raises(InvalidInput):
        visit(county, "township_doctor", "zhang_san", department=county.orgs["lead"].departments.get())


def test_a_posted_specialist_records_at_the_branch_and_at_home(county, posted_specialist):
    at_branch = visit(county, "county_specialist", "li_si", organization=county.orgs["east"])
    at_home = visit(county, "county_specialist", "li_si", organization=county.orgs["lead"])
    assert {at_branch.organization, at_home.organization} == {county.orgs["east"], county.orgs["lead"]}


def test_a_non_chronic_diagnosis_adds_no_problem(county):
    visit(county, "village_doctor", "zhang_san")
    assert not Problem.objects.exists()


def test_within_runs_inside_the_transaction_and_its_failure_undoes_the_write(county):
    def fail(encounter):
        assert Encounter.objects.filter(pk=encounter.pk).exists()
        raise InvalidInput("stop")

    with pytest.raises(InvalidInput):
        services.record_encounter(user=county.users["village_doctor"], resident=county.residents["zhang_san"],
                                  data=data(), channel="api", within=fail)
    assert not Encounter.objects.exists() and not AuditEvent.objects.filter(action="create").exists()
