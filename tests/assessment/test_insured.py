"""The inpatient-share indicators count insured residents' admissions (the national indicator's population); an
uninsured resident's stay is in neither numerator nor denominator, and the drill-down lists what was counted."""

from __future__ import annotations

from tests.assessment.conftest import YEAR
from tests.assessment.helpers import computed, ratio

from countycare.accounts.models import User
from countycare.assessment import queries
from countycare.core.codes import InsuranceScheme, Role
from countycare.registry.models import Resident


def test_an_uninsured_residents_admissions_are_not_in_the_inpatient_shares(small_county):
    # c2 (home: east) has two 2025 admissions: 21 at the partner and 22 at the lead hospital (still in)
    Resident.objects.filter(pk=small_county.residents["c2"].pk).update(insurance_scheme=InsuranceScheme.NONE)
    year = computed(small_county, *YEAR)
    assert year.value("in_county_inpatient_share") == ratio(8 - 1, 11 - 2)
    assert year.value("out_of_county_inpatient_share") == ratio(3 - 1, 11 - 2)
    assert year.value("in_county_inpatient_share", "member", "east") == ratio(5 - 1, 7 - 2)
    assert year.value("county_visit_rate") is not None  # visits still count every resident

    admin = User.objects.create_user(username="assess_admin", password="x", role=Role.COMMUNITY_ADMIN,
                                     community=small_county.community, organization=small_county.orgs["lead"])
    _spec, rows, numerator = queries.records_behind(admin, code="in_county_inpatient_share", start=YEAR[0],
                                                    end=YEAR[1])
    assert rows.count() == 9 and rows.filter(numerator).count() == 7
