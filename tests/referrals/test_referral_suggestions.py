"""The catalogue's suggestions: refer up when the level should not treat a diagnosis, refer down when a
lead-hospital inpatient with a down-referable diagnosis is discharged."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from tests.referrals.helpers import down

from countycare.core.codes import Level
from countycare.records.models import Diagnosis, Encounter, EncounterKind, EncounterStatus
from countycare.referrals import services
from countycare.referrals.models import CatalogueEntry, CatalogueList


def test_a_village_doctor_recording_a_heart_attack_is_told_to_refer_up_to_the_lead_hospital(world):
    suggestion = services.suggest_up_referral(organization=world.orgs["east_v1"], codes=["I21.9"])
    assert suggestion is not None
    assert (suggestion.kind, suggestion.to_level, suggestion.to_organization) == ("up", Level.COUNTY,
                                                                                  world.orgs["lead"])
    assert [e.code_start for e in suggestion.entries] == ["I21"]
    assert suggestion.message.startswith("急性心肌梗死不属于村卫生室诊治范围，建议上转至城关县人民医院")


def test_a_township_doctor_recording_hypertension_gets_no_suggestion(world):
    assert services.suggest_up_referral(organization=world.orgs["east"], codes=["I10"]) is None


def test_a_village_doctor_recording_pneumonia_is_sent_to_the_own_branch(world):
    suggestion = services.suggest_up_referral(organization=world.orgs["east_v1"], codes=["J06", "J18"])
    assert (suggestion.to_level, suggestion.to_organization) == (Level.TOWNSHIP, world.orgs["east"])


def test_minor_illness_stays_in_the_village(world):
    assert services.suggest_up_referral(organization=world.orgs["east_v1"], codes=["J06.9", "I10"]) is None


def test_a_code_outside_the_catalogue_suggests_nothing(world):
    assert services.suggest_up_referral(organization=world.orgs["east_v1"], codes=["Z00"]) is None


def test_the_lead_hospital_is_told_to_refer_leukaemia_out_of_county(world):
    suggestion = services.suggest_up_referral(organization=world.orgs["lead"], codes=["C91"])
    assert (suggestion.kind, suggestion.to_level, suggestion.to_organization) == ("out_of_county", Level.OUTSIDE,
                                                                                  None)


def test_a_township_with_a_case_beyond_the_county_still_sends_it_to_the_lead_hospital(world):
    suggestion = services.suggest_up_referral(organization=world.orgs["east"], codes=["C91"])
    assert (suggestion.kind, suggestion.to_organization) == ("up", world.orgs["lead"])
    assert "转县外" in suggestion.message


def test_a_communitys_own_row_overrides_the_default(world):
    CatalogueEntry.objects.create(community=world.community, code_start="I21", code_end="I21", name="急性心肌梗死",
                                  list_name=CatalogueList.TOWNSHIP_50N, village_may_treat=False,
                                  township_may_treat=True)
    assert services.suggest_up_referral(organization=world.orgs["east"], codes=["I21"]) is None
    assert services.suggest_up_referral(organization=world.orgs["east"], codes=["I22"]) is not None


def test_an_inactive_row_suggests_nothing(world):
    CatalogueEntry.objects.filter(community__isnull=True, code_start="I21").update(active=False)
    assert services.suggest_up_referral(organization=world.orgs["east_v1"], codes=["I21"]) is None


def inpatient(world, *, code="I63", discharged=True, org="lead", kind=EncounterKind.INPATIENT):
    start = timezone.now() - dt.timedelta(days=10)
    encounter = Encounter.objects.create(
        community=world.community, resident=world.residents["zhang_san"], organization=world.orgs[org], kind=kind,
        status=EncounterStatus.FINISHED if discharged else EncounterStatus.IN_PROGRESS, started_at=start,
        ended_at=start + dt.timedelta(days=9) if discharged else None, ward="神经内科3床",
    )
    Diagnosis.objects.create(community=world.community, encounter=encounter, resident=encounter.resident, code=code,
                             display=code, is_primary=True, recorded_at=start)
    return encounter


def test_a_discharged_stroke_inpatient_is_suggested_for_the_branch_of_the_patients_village(world):
    suggestion = services.suggest_down_referral(encounter=inpatient(world))
    assert (suggestion.kind, suggestion.to_organization) == ("down", world.orgs["east"])
    assert "病情稳定后转回乡镇卫生院康复治疗和二级预防" in suggestion.message


@pytest.mark.parametrize("case", ["still in hospital", "not down-referable", "at a branch", "outpatient"])
def test_no_down_referral_is_suggested_otherwise(world, case):
    encounter = {
        "still in hospital": lambda: inpatient(world, discharged=False),
        "not down-referable": lambda: inpatient(world, code="K35"),
        "at a branch": lambda: inpatient(world, org="east"),
        "outpatient": lambda: inpatient(world, kind=EncounterKind.OUTPATIENT),
    }[case]()
    assert services.suggest_down_referral(encounter=encounter) is None


def test_once_referred_down_the_stay_is_not_suggested_again(world):
    encounter = inpatient(world)
    down(world, source_encounter=encounter)
    assert services.suggest_down_referral(encounter=encounter) is None
