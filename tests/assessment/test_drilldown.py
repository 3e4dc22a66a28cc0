"""The records behind a number (/assessment/indicators/<code>/records/): only the residents in the user's scope,
none for the bureau (it sees the posting-based indicators' postings), every record shown audited, and for an
administrator exactly the records the stored number was counted from. Activity: tests/assessment/page_helpers.py."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from tests.assessment.page_helpers import (
    IN_SCOPE_OF_EAST,
    OUT_OF_SCOPE_OF_EAST,
    YEAR,
    add_month,
    key_of,
    materialise_month,
    materialise_year,
    prepare,
    record_counts,
    record_rows,
)
from tests.web.conftest import as_role  # noqa: F401  (fixture)

from countycare.assessment.models import ComputationRun, IndicatorResult
from countycare.core.models import AuditEvent
from countycare.diagnostics.models import ExamRequest
from countycare.records.models import Encounter
from countycare.referrals.models import Referral
from countycare.registry.models import Posting, Resident


@pytest.fixture
def months(county):
    """February to April of activity (a little busier each month); March and the year materialised."""
    prepare(county)
    for n, month in enumerate((2, 3, 4)):
        add_month(county, YEAR, month, extra=2 * n)
    county.march = materialise_month(county, YEAR, 3)
    county.year = materialise_year(county)
    return county


def records(client, code: str, run: ComputationRun, unit: str = "county"):
    return client.get(f"/assessment/indicators/{code}/records/", {"period": key_of(run), "unit": unit})


def names(county, keys) -> set[str]:
    return {county.residents[k].name for k in keys}


def listed_names(body: str, county) -> set[str]:
    everyone = {r.name for r in county.residents.values()}
    return {name for row in record_rows(body) for name in everyone if name in row}


@pytest.mark.parametrize("code", ["county_visit_rate", "up_referrals", "inpatient_cost_per_stay"])
def test_a_township_doctor_sees_only_the_records_of_residents_in_their_scope(months, as_role, code):  # noqa: F811
    doctor = records(as_role("township_doctor"), code, months.march)
    admin = records(as_role("community_admin"), code, months.march)
    assert doctor.status_code == admin.status_code == 200
    seen_by_doctor = listed_names(doctor.content.decode(), months)
    seen_by_admin = listed_names(admin.content.decode(), months)
    assert seen_by_doctor and seen_by_doctor <= names(months, IN_SCOPE_OF_EAST)
    assert not seen_by_doctor & names(months, OUT_OF_SCOPE_OF_EAST)
    assert seen_by_admin & names(months, OUT_OF_SCOPE_OF_EAST)  # the administrator sees both
    assert seen_by_doctor < seen_by_admin
    assert record_counts(doctor.content.decode())[0] < record_counts(admin.content.decode())[0]


def test_the_township_doctor_sees_all_of_their_own_residents_visits(months, as_role):  # noqa: F811
    body = records(as_role("township_doctor"), "county_visit_rate", months.march).content.decode()
    in_scope = Encounter.objects.filter(resident__in=[months.residents[k] for k in IN_SCOPE_OF_EAST],
                                        started_at__month=3).count()
    assert record_counts(body)[0] == len(record_rows(body)) == in_scope == 6 + 2  # and 曾丽's two more visits
    assert listed_names(body, months) == names(months, IN_SCOPE_OF_EAST)


def test_the_bureau_sees_no_patient_records_but_the_postings_behind_staffing_numbers(months, as_role):  # noqa: F811
    bureau = as_role("bureau_viewer")
    for code in ("county_visit_rate", "up_referrals", "exam_within_target_share", "inpatient_cost_per_stay"):
        assert records(bureau, code, months.march).status_code == 403, code
    before = AuditEvent.objects.count()
    response = records(bureau, "posted_seniors_per_10k", months.march)
    assert response.status_code == 200
    rows = record_rows(response.content.decode())
    assert len(rows) == 1 and "医生county_specialist" in rows[0] and "城关县人民医院东镇分院" in rows[0]
    assert records(bureau, "branches_without_posted_senior", months.march).status_code == 200
    assert AuditEvent.objects.count() == before  # postings are not patient data


def _snapshot():
    return (list(Encounter.objects.order_by("pk").values_list("pk", "version", "status", "updated_at")),
            list(Referral.objects.order_by("pk").values_list("pk", "version", "status")),
            list(ExamRequest.objects.order_by("pk").values_list("pk", "version", "status", "updated_at")),
            list(Resident.objects.order_by("pk").values_list("pk", "version")),
            IndicatorResult.objects.count(), ComputationRun.objects.count(), Posting.objects.count())


@pytest.mark.parametrize(("code", "model"), [("county_visit_rate", Encounter), ("up_referrals", Referral),
                                             ("exam_within_target_share", ExamRequest)])
def test_every_record_listed_is_audited_and_nothing_else_changes(months, as_role, code, model):  # noqa: F811
    client = as_role("township_doctor")
    before, last = _snapshot(), AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    body = records(client, code, months.march).content.decode()
    events = list(AuditEvent.objects.filter(pk__gt=last))
    listed = len(record_rows(body))
    assert listed and len(events) == listed
    assert {e.action for e in events} == {"list"} and {e.object_type for e in events} == {model.__name__}
    assert {e.username for e in events} == {"township_doctor"}
    shown = model.objects.filter(uuid__in=[e.object_id for e in events]).select_related("resident")
    assert len(shown) == listed  # each entry names a record that was listed …
    for record in shown:  # … and that record's resident
        assert next(e for e in events if e.object_id == str(record.uuid)).resident_id == str(record.resident.uuid)
    assert {r.resident.name for r in shown} <= names(months, IN_SCOPE_OF_EAST)
    assert _snapshot() == before


def test_a_refused_or_unknown_unit_audits_nothing(months, as_role, other_community):  # noqa: F811
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    admin = as_role("community_admin")
    assert records(admin, "county_visit_rate", months.march, f"member:{other_community['organization'].pk}"
                   ).status_code == 404
    assert records(admin, "county_visit_rate", months.march, "member:x").status_code == 404
    assert records(as_role("bureau_viewer"), "county_visit_rate", months.march).status_code == 403
    assert not AuditEvent.objects.filter(pk__gt=last).exists()


def test_a_centres_exams_can_be_listed_by_centre(months, as_role):  # noqa: F811
    ecg = months.centres["ecg"]
    response = records(as_role("community_admin"), "exam_within_target_share", months.march, f"centre:{ecg.pk}")
    assert response.status_code == 200
    body = response.content.decode()
    assert "心电诊断中心" in body and record_counts(body)[0] == 1  # 张三's ECG, not 王五's blood panel


# --- the drill-down lists what the number was counted from ----------------------------------------------------

def _cost_total(body: str) -> Decimal:
    table = body.split('data-testid="records"')[1].split("</table>")[0]
    return sum((Decimal(v) for v in re.findall(r'<td class="num">([0-9.]+)</td>', table)), Decimal(0))


COUNTED = ["county_visit_rate", "grassroots_visit_share", "up_referrals", "referral_completion_rate",
           "inpatient_cost_per_stay", "tcm_visit_share"]
UNITS = ["county", "east", "west", "lead", "east_v1"]  # the whole county, three members, a village clinic


@pytest.mark.parametrize("period", ["march", "year"])
@pytest.mark.parametrize(("code", "unit"), [(code, unit) for code in COUNTED for unit in UNITS
                                            if not (code == "inpatient_cost_per_stay" and unit == "east_v1")])
def test_the_records_an_administrator_sees_are_the_ones_the_number_counted(months, as_role, code, period,  # noqa: F811
                                                                             unit):
    run = getattr(months, period)
    org = months.orgs.get(unit)
    unit_key = "county" if org is None else f"{'village' if unit.endswith('_v1') else 'member'}:{org.pk}"
    row = IndicatorResult.objects.filter(run=run, code=code, unit_key=unit_key).first()
    response = records(as_role("community_admin"), code, run, unit_key)
    assert response.status_code == 200
    body = response.content.decode()
    total, counted = record_counts(body)
    assert total <= 50, "one page"
    numerator = Decimal(0) if row is None else row.numerator
    denominator = Decimal(0) if row is None else row.denominator
    assert unit != "county" or numerator > 0, "something to count"
    if code == "up_referrals":  # a count: every record listed is counted
        assert counted is None and total == numerator
    elif code == "inpatient_cost_per_stay":  # a mean: the stays, and the sum of their cost
        assert total == denominator and _cost_total(body) == numerator
    else:
        assert counted == numerator and total == denominator
        assert counted == sum(1 for r in record_rows(body) if r.endswith("✓"))


def test_the_counts_hold_for_a_busy_year_on_every_page(county, as_role):  # noqa: F811
    """More records than a page: the subtitle counts all of them, the pages together list each once."""
    prepare(county)
    add_month(county, YEAR, 5, extra=60)
    run = materialise_year(county)
    client = as_role("community_admin")
    row = IndicatorResult.objects.get(run=run, code="grassroots_visit_share", unit_key="county")
    first = client.get("/assessment/indicators/grassroots_visit_share/records/", {"period": key_of(run)})
    total, counted = record_counts(first.content.decode())
    assert (total, counted) == (row.denominator, row.numerator) == (69, 64)
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    seen = []
    for page in (1, 2):
        body = client.get("/assessment/indicators/grassroots_visit_share/records/",
                          {"period": key_of(run), "page": page}).content.decode()
        seen += record_rows(body)
    assert len(seen) == total == 50 + 19
    assert AuditEvent.objects.filter(pk__gt=last, action="list").count() == total  # each page audits its own rows
