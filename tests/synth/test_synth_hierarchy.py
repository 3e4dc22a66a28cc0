"""The shape of the generated community: lead hospital, public-health members, branches, villages, staff."""

import datetime as dt
from collections import Counter

from countycare.core.codes import ATTENDING_OR_ABOVE, Level, OrganizationType, PostingKind, Role, Title
from countycare.registry.models import Household, Organization, Posting, Resident


def test_the_tree_lead_hospital_branches_villages(small_county):
    county = small_county.community.division_code
    orgs = list(Organization.objects.all())
    types = Counter(o.org_type for o in orgs)
    assert types[OrganizationType.LEAD_HOSPITAL] == 1
    assert types[OrganizationType.CDC] == 1
    assert types[OrganizationType.MCH] == 1
    assert types[OrganizationType.PARTNER_HOSPITAL] == 1
    lead = next(o for o in orgs if o.org_type == OrganizationType.LEAD_HOSPITAL)
    assert lead.name.endswith("人民医院") and lead.division_code == county and lead.level == Level.COUNTY
    branches = [o for o in orgs if o.level == Level.TOWNSHIP]
    assert 2 <= len(branches) <= 3
    for branch in branches:
        assert branch.parent_id == lead.pk
        assert branch.name.startswith(lead.name) and branch.name.endswith("分院")
        assert len(branch.division_code) == 9 and branch.division_code.startswith(county)
    villages = [o for o in orgs if o.org_type == OrganizationType.VILLAGE_CLINIC]
    assert len(villages) >= 2 * len(branches)
    by_id = {o.pk: o for o in orgs}
    for village in villages:
        parent = by_id[village.parent_id]
        assert parent.level == Level.TOWNSHIP
        assert len(village.division_code) == 12 and village.division_code.startswith(parent.division_code)
    partner = next(o for o in orgs if o.org_type == OrganizationType.PARTNER_HOSPITAL)
    assert not partner.is_member and partner.level == Level.OUTSIDE and partner.parent_id is None
    assert all(o.is_member for o in orgs if o is not partner)


def test_every_branch_has_a_county_doctor_posted_all_year(small_county):
    as_of = small_county.plan.as_of
    for branch in Organization.objects.filter(level=Level.TOWNSHIP):
        postings = Posting.objects.filter(organization=branch, kind=PostingKind.COUNTY_TO_TOWNSHIP)
        assert postings.exists()
        for posting in postings:
            assert posting.practitioner.title in ATTENDING_OR_ABOVE
            assert posting.practitioner.postings.filter(
                kind=PostingKind.HOME, organization__org_type=OrganizationType.LEAD_HOSPITAL
            ).exists()
        covered = {as_of - dt.timedelta(days=d) for d in range(0, 365, 7)}
        for day in covered:
            assert postings.filter(start__lte=day, end__gte=day).exists(), day


def test_villages_have_village_doctors_and_branch_hires(make_county):
    make_county(20_000, seed=3)
    for village in Organization.objects.filter(org_type=OrganizationType.VILLAGE_CLINIC):
        assert Posting.objects.filter(organization=village, role=Role.VILLAGE_DOCTOR).exists()
    hired = Posting.objects.filter(kind=PostingKind.TOWNSHIP_TO_VILLAGE)
    assert hired.exists()
    assert all(p.organization.org_type == OrganizationType.VILLAGE_CLINIC for p in hired)
    titles = Counter(Posting.objects.filter(organization__org_type=OrganizationType.LEAD_HOSPITAL,
                                            kind=PostingKind.HOME).values_list("practitioner__title", flat=True))
    for title in (Title.CHIEF_PHYSICIAN, Title.ATTENDING_PHYSICIAN, Title.RESIDENT_PHYSICIAN,
                  Title.SUPERVISOR_NURSE, Title.CHIEF_PHARMACIST):
        assert titles[title] > 0, title
    village_titles = set(Posting.objects.filter(organization__org_type=OrganizationType.VILLAGE_CLINIC)
                         .values_list("practitioner__title", flat=True))
    assert Title.VILLAGE_DOCTOR in village_titles
    assert not village_titles & {Title.CHIEF_PHYSICIAN, Title.ASSOCIATE_CHIEF_PHYSICIAN}


def test_households_have_a_head_and_residents_live_where_their_clinic_is(small_county):
    heads = Counter(Resident.objects.filter(relation_to_head="户主").values_list("household_id", flat=True))
    assert set(heads.values()) == {1}
    assert len(heads) == Household.objects.count()
    sizes = Counter(Counter(Resident.objects.values_list("household_id", flat=True)).values())
    households = sum(sizes.values())
    assert sum(sizes[s] for s in (2, 3, 4)) > 0.55 * households
    assert sizes[1] < 0.3 * households  # one-person households: 25.4% in the 7th census
    for resident in Resident.objects.select_related("home_organization", "household"):
        home = resident.home_organization
        assert home.org_type in (OrganizationType.VILLAGE_CLINIC, OrganizationType.TOWNSHIP_CENTRE,
                                 OrganizationType.COMMUNITY_CENTRE)
        assert resident.village_code.startswith(home.division_code)
        assert resident.household.home_organization_id == home.pk
