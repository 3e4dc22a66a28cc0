"""The generated year lands near DOMAIN.md's targets and the national figures docs/synthetic-county.md cites.

Every figure is computed here from the loaded rows with SQL aggregates, not from the generator's bookkeeping.
A 3,000-resident county is small (two townships, a lead hospital without a TCM hospital), so the bands are a
little wider than the full county's measured figures."""

from statistics import median

import pytest
from django.db.models import Count, Q

from countycare.core.codes import GRASSROOTS_TYPES, KeyPopulation, OrganizationType
from countycare.records.models import Encounter
from countycare.registry.models import Resident
from countycare.synth.clinical import FOLLOW_UP_COMPLAINTS

pytestmark = pytest.mark.django_db


def encounters(report):
    return Encounter.objects.filter(community=report.community)


def share(report, condition: Q) -> float:
    counts = encounters(report).aggregate(part=Count("id", filter=condition), whole=Count("id"))
    return counts["part"] / counts["whole"]


def test_residents_make_five_to_six_visits_a_year(county_with_a_year):
    residents = Resident.objects.filter(community=county_with_a_year.community).count()
    visits = encounters(county_with_a_year).exclude(kind="inpatient").count()
    assert 4.8 <= visits / residents <= 6.3


def test_about_twenty_admissions_per_hundred_residents(county_with_a_year):
    residents = Resident.objects.filter(community=county_with_a_year.community).count()
    admissions = encounters(county_with_a_year).filter(kind="inpatient").count()
    assert 15 <= 100 * admissions / residents <= 25


def test_county_visit_rate_is_near_the_ninety_percent_target(county_with_a_year):
    assert 0.88 <= share(county_with_a_year, Q(organization__is_member=True)) <= 0.94


def test_grassroots_share_is_near_the_sixty_five_percent_target(county_with_a_year):
    assert 0.60 <= share(county_with_a_year, Q(organization__org_type__in=GRASSROOTS_TYPES)) <= 0.70


def test_ten_to_fifteen_percent_of_admissions_are_out_of_county(county_with_a_year):
    stays = encounters(county_with_a_year).filter(kind="inpatient")
    outside = stays.filter(organization__org_type=OrganizationType.PARTNER_HOSPITAL).count()
    assert 0.08 <= outside / stays.count() <= 0.17


def test_about_a_tenth_of_visits_are_traditional_chinese_medicine(county_with_a_year):
    assert 0.07 <= share(county_with_a_year, Q(is_tcm=True)) <= 0.13


@pytest.mark.parametrize(
    "org_types, kind, low, high",
    [
        ((OrganizationType.VILLAGE_CLINIC,), "outpatient", 30, 60),
        ((OrganizationType.TOWNSHIP_CENTRE, OrganizationType.COMMUNITY_CENTRE), "outpatient", 80, 150),
        ((OrganizationType.LEAD_HOSPITAL,), "outpatient", 250, 400),
        ((OrganizationType.TOWNSHIP_CENTRE, OrganizationType.COMMUNITY_CENTRE), "inpatient", 2000, 3500),
        ((OrganizationType.LEAD_HOSPITAL,), "inpatient", 8000, 12000),
        ((OrganizationType.PARTNER_HOSPITAL,), "inpatient", 20000, 40000),
    ],
)
def test_a_typical_bill_is_in_the_range_for_its_level(county_with_a_year, org_types, kind, low, high):
    """Median of the sickness encounters (public-health follow-ups, checks and prenatal visits are free or
    nearly so and are left out); stays still running are billed only so far, so they are left out too."""
    totals = (
        encounters(county_with_a_year)
        .filter(organization__org_type__in=org_types, kind=kind, status="finished", cost_total__gt=0)
        .exclude(diagnoses__code__in=["Z00.1", "Z34.9"], diagnoses__is_primary=True)
        .exclude(chief_complaint__in=FOLLOW_UP_COMPLAINTS.values())
        .values_list("cost_total", flat=True)
    )
    assert low <= median(totals) <= high


def test_costs_are_decimals_with_two_places_that_add_up(county_with_a_year):
    for e in encounters(county_with_a_year).order_by("id")[:500]:
        parts = e.cost_drugs + e.cost_exams + e.cost_treatment + e.cost_beds + e.cost_other
        assert parts == e.cost_total
        assert e.cost_total.as_tuple().exponent == -2


def test_chronic_patients_are_seen_mostly_at_their_branch_or_village_clinic(county_with_a_year):
    chronic = encounters(county_with_a_year).filter(
        diagnoses__is_primary=True, diagnoses__code__in=["I10", "E11.9"]
    )
    grassroots = chronic.filter(organization__org_type__in=GRASSROOTS_TYPES).count()
    assert grassroots / chronic.count() >= 0.8


def test_managed_chronic_patients_are_followed_up_about_quarterly(county_with_a_year):
    hypertensive = Resident.objects.filter(
        community=county_with_a_year.community, tags__tag=KeyPopulation.HYPERTENSION
    )
    follow_ups = encounters(county_with_a_year).filter(
        resident__in=hypertensive,
        chief_complaint__in=FOLLOW_UP_COMPLAINTS.values(),
        organization__org_type__in=GRASSROOTS_TYPES,
    )
    per_patient = follow_ups.count() / hypertensive.count()
    assert 2.4 <= per_patient <= 3.6  # four a year for the three in four who are managed


def test_referrals_go_every_way_and_most_are_completed(county_with_a_year):
    from countycare.referrals.models import Referral

    referrals = Referral.objects.filter(community=county_with_a_year.community)
    kinds = dict(referrals.values_list("kind").annotate(n=Count("id")))
    assert kinds.get("up", 0) > kinds.get("down", 0) > 0
    assert kinds.get("out_of_county", 0) > 0
    statuses = dict(referrals.values_list("status").annotate(n=Count("id")))
    assert statuses["completed"] / referrals.count() >= 0.7
    assert {"rejected", "cancelled", "expired", "requested"} <= set(statuses)
