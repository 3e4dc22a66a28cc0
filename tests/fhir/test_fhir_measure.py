"""/fhir/Measure and /fhir/MeasureReport: the indicators and their materialised results, read-only aggregates for
every user of the community but residents."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from tests.fhir.conftest import FHIR_JSON, diagnostics, outcome, valid
from tests.fhir.records_helpers import encounter, shanghai

from countycare.assessment import fhir as assessment_fhir
from countycare.assessment import services
from countycare.assessment.definitions import PENDING, all_indicators
from countycare.assessment.models import IndicatorResult, IndicatorTarget, PeriodKind
from countycare.diagnostics.models import Centre, CentreKind

MEASURE_BASE = "https://countycare.example.cn/fhir/Measure/"
MARCH = (dt.date(2026, 3, 1), dt.date(2026, 4, 1))


def ext(resource: dict, url: str) -> list[dict]:
    return [e for e in resource.get("extension", []) if e["url"] == url]


def entries(response) -> list[dict]:
    assert response.status_code == 200, response.content.decode()[:2000]
    bundle = response.json()
    valid(bundle)
    return [entry["resource"] for entry in bundle.get("entry", [])]


def ids(response) -> list[str]:
    return [resource["id"] for resource in entries(response)]


def population(group: dict) -> dict[str, int]:
    return {p["code"]["coding"][0]["code"]: p.get("count") for p in group.get("population", [])}


def materialise(county, start: dt.date, end: dt.date, kind: str, at: dt.datetime):
    return services.materialise_period(community_id=county.community.pk, start=start, end=end, kind=kind, now=at)


@pytest.fixture
def march(county):
    """March 2026 materialised: five visits of four residents (one out of the county, one a paid stay at the lead
    hospital) and the lead hospital's ECG centre, which reported nothing."""
    encounter(county, "zhang_san", "east_v1", at=shanghai(2026, 3, 2))
    encounter(county, "li_si", "lead", at=shanghai(2026, 3, 5))
    encounter(county, "wang_wu", "partner", at=shanghai(2026, 3, 10))
    encounter(county, "resident_self", "west", at=shanghai(2026, 3, 12))
    encounter(county, "zhang_san", "lead", kind="inpatient", at=shanghai(2026, 3, 3), ended=shanghai(2026, 3, 8),
              ward="心内科 12床", cost_beds=Decimal("3000.50"), cost_total=Decimal("3000.50"))
    county.centre = Centre.objects.create(
        community=county.community, organization=county.orgs["lead"], kind=CentreKind.ECG, name="心电诊断中心",
        target_routine_minutes=60, target_urgent_minutes=30, target_stat_minutes=15)
    materialise(county, *MARCH, PeriodKind.MONTH, shanghai(2026, 4, 1, 2))
    return county


def report_id(code: str, unit: str = "county", period: str = "2026-03") -> str:
    return f"{code.replace('_', '-')}.{unit}.{period}"


# ---------------------------------------------------------------------------------------------------- Measure


def test_an_indicator_reads_as_a_valid_measure(county, fhir_as):
    response = fhir_as("village_doctor").get("/fhir/Measure/county-visit-rate")
    assert response.status_code == 200
    assert response["Content-Type"].startswith(FHIR_JSON)
    body = response.json()
    measure = valid(body)
    assert response["ETag"] == f'W/"{measure.meta.versionId}"'
    assert measure.id == "county-visit-rate"
    assert measure.url == MEASURE_BASE + "county-visit-rate"
    assert measure.identifier[0].value == "county_visit_rate"
    assert (measure.status, measure.name, measure.title, measure.subtitle) == (
        "active", "CountyVisitRate", "县域就诊率", "County visit rate")
    assert measure.description.startswith("居民就诊有多少留在县域内？")
    assert [c.code for c in measure.scoring.coding] == ["proportion", "ratio"]
    assert measure.improvementNotation.coding[0].code == "increase"
    populations = {p.code.coding[0].code: p.description for p in measure.group[0].population}
    assert set(populations) == {"numerator", "denominator"}
    assert populations["numerator"].startswith("居民在县域内机构的就诊人次")
    assert all(p.criteria.expression == p.description for p in measure.group[0].population)
    target = {e["url"]: e for e in ext(body, assessment_fhir.EXT_INDICATOR_TARGET)[0]["extension"]}
    assert target["value"]["valueQuantity"] == {"value": 90, "unit": "%", "system": "http://unitsofmeasure.org",
                                                "code": "%"}
    assert "DOMAIN.md" in target["source"]["valueString"]
    assert ext(body, assessment_fhir.EXT_INDICATOR_UNIT)[0]["valueCoding"]["code"] == "%"
    assert [e["valueCoding"]["code"] for e in ext(body, assessment_fhir.EXT_INDICATOR_LEVEL)] == [
        "county", "member", "village"]
    assert ext(body, assessment_fhir.EXT_INDICATOR_ATTRIBUTION)[0]["valueCode"] == "residence"


@pytest.mark.parametrize(("measure_id", "scoring", "improvement", "populations"), [
    ("up-referrals", "cohort", None, ["initial-population"]),
    ("remote-diagnoses-per-10k", "ratio", "increase", ["numerator", "denominator"]),
    ("inpatient-cost-per-stay", "continuous-variable", "decrease", ["measure-population", "measure-observation"]),
    ("exam-turnaround-p95", "continuous-variable", "decrease", ["measure-population", "measure-observation"]),
    ("out-of-county-inpatient-share", "proportion", "decrease", ["numerator", "denominator"]),
])
def test_scoring_and_improvement_follow_the_form_and_direction(county, fhir_as, measure_id, scoring, improvement,
                                                               populations):
    body = fhir_as("township_doctor").get(f"/fhir/Measure/{measure_id}").json()
    measure = valid(body)
    assert measure.scoring.coding[0].code == scoring
    assert (measure.improvementNotation.coding[0].code if measure.improvementNotation else None) == improvement
    assert [p.code.coding[0].code for p in measure.group[0].population] == populations


def test_a_change_on_a_year_earlier_carries_its_own_form_and_depends_on_its_base(county, fhir_as):
    body = fhir_as("township_doctor").get("/fhir/Measure/out-of-county-inpatient-share-change").json()
    measure = valid(body)
    assert [(c.system, c.code) for c in measure.scoring.coding] == [
        (assessment_fhir.INDICATOR_FORM_SYSTEM, "change_points")]
    assert measure.relatedArtifact[0].type == "depends-on"
    assert measure.relatedArtifact[0].resource == MEASURE_BASE + "out-of-county-inpatient-share"
    target = {e["url"]: e for e in ext(body, assessment_fhir.EXT_INDICATOR_TARGET)[0]["extension"]}
    assert target["value"]["valueQuantity"] == {"value": -2, "unit": "百分点"}


def test_the_target_in_force_is_the_communitys_own(county, fhir_as):
    IndicatorTarget.objects.create(community=county.community, code="grassroots_visit_share",
                                   target=Decimal("0.7000"), source="2026 年县卫健局考核方案")
    body = fhir_as("community_admin").get("/fhir/Measure/grassroots-visit-share").json()
    target = {e["url"]: e for e in ext(body, assessment_fhir.EXT_INDICATOR_TARGET)[0]["extension"]}
    assert target["value"]["valueQuantity"]["value"] == 70
    assert target["source"]["valueString"] == "2026 年县卫健局考核方案"


def test_an_indicator_without_a_target_still_names_its_source(county, fhir_as):
    body = fhir_as("bureau_viewer").get("/fhir/Measure/tcm-visit-share").json()
    target = {e["url"]: e for e in ext(body, assessment_fhir.EXT_INDICATOR_TARGET)[0]["extension"]}
    assert set(target) == {"source"}


def test_a_pending_indicator_is_a_draft_naming_the_module_that_will_supply_it(county, fhir_as):
    body = fhir_as("cdc_officer").get("/fhir/Measure/contract-coverage").json()
    measure = valid(body)
    assert (measure.status, measure.title, measure.url) == (
        "draft", "家庭医生签约率", MEASURE_BASE + "contract-coverage")
    assert ext(body, assessment_fhir.EXT_INDICATOR_MODULE)[0]["valueCode"] == "familydoctor"
    assert "familydoctor" in measure.description
    assert not measure.group


def test_every_indicator_has_a_distinct_valid_measure_id_and_report_ids_fit(county, fhir_as):
    assessment_fhir.check_measure_ids()
    codes = [i.code for i in all_indicators()] + [p.code for p in PENDING]
    measure_ids = {code.replace("_", "-") for code in codes}
    assert len(measure_ids) == len(codes)
    for code in codes:
        longest = f"{code.replace('_', '-')}.v1234567.20260101-20260314"  # a custom period, a 7-digit unit
        assert assessment_fhir.FHIR_ID.fullmatch(longest), longest
    bundle = fhir_as("county_specialist").get("/fhir/Measure", {"_count": 100}).json()
    assert bundle["total"] == len(codes)
    assert {entry["resource"]["id"] for entry in bundle["entry"]} == measure_ids


def test_the_underscore_code_is_not_an_id(county, fhir_as):
    outcome(fhir_as("county_specialist").get("/fhir/Measure/county_visit_rate"), 404)
    outcome(fhir_as("county_specialist").get("/fhir/Measure/no-such-indicator"), 404)


def test_measures_are_searched_by_name_title_status_url_identifier_and_id(county, fhir_as):
    client = fhir_as("pharmacist")
    assert ids(client.get("/fhir/Measure", {"name": "CountyVisit"})) == ["county-visit-rate"]
    assert ids(client.get("/fhir/Measure", {"name": "county_visit_rate"})) == ["county-visit-rate"]
    assert ids(client.get("/fhir/Measure", {"title": "转诊"})) == [
        "referrals-completed", "referrals-rejected", "referrals-expired", "referral-completion-rate"]
    assert ids(client.get("/fhir/Measure", {"title": "county VISIT"})) == ["county-visit-rate"]
    drafts = ids(client.get("/fhir/Measure", {"status": "draft", "_count": 100}))
    assert drafts == [p.code.replace("_", "-") for p in PENDING]
    assert ids(client.get("/fhir/Measure", {"status": "http://hl7.org/fhir/publication-status|retired"})) == []
    assert ids(client.get("/fhir/Measure", {"url": MEASURE_BASE + "up-referrals"})) == ["up-referrals"]
    assert ids(client.get("/fhir/Measure", {"identifier": f"{assessment_fhir.INDICATOR_CODE_SYSTEM}|down_referrals"})
               ) == ["down-referrals"]
    assert ids(client.get("/fhir/Measure", {"_id": "down-referrals,up-referrals"})) == [
        "up-referrals", "down-referrals"]
    both = client.get("/fhir/Measure", {"status": "active", "title": "县外"})
    assert ids(both) == ["out-of-county-inpatient-share", "out-of-county-inpatient-share-change",
                         "out-of-county-referrals", "out-of-county-returns"]


def test_measures_page_like_every_search(county, fhir_as):
    response = fhir_as("pharmacist").get("/fhir/Measure", {"_count": 5, "page": 2})
    bundle = response.json()
    assert len(bundle["entry"]) == 5
    assert {link["relation"] for link in bundle["link"]} == {"self", "first", "previous", "next", "last"}


def test_measures_are_not_created_or_replaced(county, fhir_as):
    client = fhir_as("community_admin")
    body = {"resourceType": "Measure", "status": "active", "name": "Mine"}
    issues = outcome(client.post("/fhir/Measure", body), 405)
    assert issues[0]["code"] == "not-supported"
    response = client.put("/fhir/Measure/county-visit-rate", {**body, "id": "county-visit-rate"})
    outcome(response, 405)
    assert response["Allow"] == "GET"
    report = {"resourceType": "MeasureReport", "status": "complete", "type": "summary",
              "measure": MEASURE_BASE + "county-visit-rate", "period": {"start": "2026-03-01", "end": "2026-03-31"}}
    outcome(client.post("/fhir/MeasureReport", report), 405)


def test_the_capability_statement_lists_both_types_read_only(db, anonymous):
    rest = anonymous.get("/fhir/metadata").json()["rest"][0]
    resources = {r["type"]: r for r in rest["resource"]}
    for kind in ("Measure", "MeasureReport"):
        assert {i["code"] for i in resources[kind]["interaction"]} == {"read", "vread", "search-type"}
    assert {p["name"] for p in resources["Measure"]["searchParam"]} >= {"_id", "name", "title", "status", "url"}
    assert {p["name"] for p in resources["MeasureReport"]["searchParam"]} >= {
        "_id", "measure", "period", "date", "subject", "reporter"}


# ------------------------------------------------------------------------------------------------ MeasureReport


def test_a_materialised_result_reads_as_a_valid_summary_report(march, fhir_as):
    response = fhir_as("village_doctor").get(f"/fhir/MeasureReport/{report_id('county_visit_rate')}")
    assert response.status_code == 200, response.content.decode()
    body = response.json()
    report = valid(body)
    assert response["ETag"] == f'W/"{report.meta.versionId}"'
    assert (report.status, report.type) == ("complete", "summary")
    assert report.measure == MEASURE_BASE + "county-visit-rate"
    assert report.date.isoformat().startswith("2026-04-01T02:00:00")
    assert (report.period.start.isoformat(), report.period.end.isoformat()) == ("2026-03-01", "2026-03-31")
    assert report.subject is None
    assert report.reporter.reference == f"Organization/{march.orgs['lead'].uuid}"
    assert "城关县医共体" in report.reporter.display
    assert ext(body, assessment_fhir.EXT_INDICATOR_LEVEL)[0]["valueCoding"]["code"] == "county"
    assert report.improvementNotation.coding[0].code == "increase"
    group = body["group"][0]
    # five visits (the stay counts once), one of them at the partner hospital outside the county
    assert population(group) == {"numerator": 4, "denominator": 5}
    assert group["measureScore"] == {"value": 80, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}
    figures = {e["url"]: e["valueDecimal"] for e in ext(group, assessment_fhir.EXT_INDICATOR_FIGURES)[0]["extension"]}
    assert figures == {"numerator": 4, "denominator": 5}


def test_member_and_village_reports_name_their_organisation(march, fhir_as):
    client = fhir_as("township_doctor")
    west = march.orgs["west"]
    body = client.get(f"/fhir/MeasureReport/{report_id('county_visit_rate', f'm{west.pk}')}").json()
    valid(body)
    assert body["reporter"] == {"reference": f"Organization/{west.uuid}", "display": west.name}
    assert body["group"][0]["measureScore"]["value"] == 50
    village = march.orgs["west_v1"]
    body = client.get(f"/fhir/MeasureReport/{report_id('county_visit_rate', f'v{village.pk}')}").json()
    valid(body)
    assert body["reporter"]["reference"] == f"Organization/{village.uuid}"
    assert ext(body, assessment_fhir.EXT_INDICATOR_LEVEL)[0]["valueCoding"]["code"] == "village"


def test_a_mean_is_in_yuan_over_the_stays(march, fhir_as):
    body = fhir_as("insurance_officer").get(f"/fhir/MeasureReport/{report_id('inpatient_cost_per_stay')}").json()
    valid(body)
    group = body["group"][0]
    assert population(group) == {"measure-population": 1}
    assert group["measureScore"] == {"value": 3000.5, "unit": "元", "system": "urn:iso:std:iso:4217", "code": "CNY"}
    figures = {e["url"]: e["valueDecimal"] for e in ext(group, assessment_fhir.EXT_INDICATOR_FIGURES)[0]["extension"]}
    assert figures == {"numerator": 3000.5, "denominator": 1}


def test_a_centre_report_names_the_centre_at_its_host_organisation(march, fhir_as):
    lead = march.orgs["lead"]
    body = fhir_as("centre_reader").get(
        f"/fhir/MeasureReport/{report_id('exam_turnaround_p50', f'c{march.centre.pk}')}").json()
    valid(body)
    assert body["reporter"] == {"reference": f"Organization/{lead.uuid}", "display": f"{lead.name} 心电诊断中心"}
    assert ext(body, assessment_fhir.EXT_INDICATOR_LEVEL)[0]["valueCoding"]["code"] == "centre"
    assert "measureScore" not in body["group"][0]  # nothing was reported: no median
    assert population(body["group"][0]) == {"measure-population": 0}


def test_a_report_id_survives_recomputing_its_period(march, fhir_as):
    client = fhir_as("community_admin")
    path = f"/fhir/MeasureReport/{report_id('county_visit_rate')}"
    before = client.get(path)
    pk = IndicatorResult.objects.get(community=march.community, code="county_visit_rate", unit_key="county",
                                     period_start=MARCH[0]).pk
    encounter(march, "wang_wu", "west_v1", at=shanghai(2026, 3, 20))
    materialise(march, *MARCH, PeriodKind.MONTH, shanghai(2026, 4, 2, 2))
    assert not IndicatorResult.objects.filter(pk=pk).exists()
    after = client.get(path)
    assert after.status_code == 200
    assert after.json()["id"] == before.json()["id"]
    assert after["ETag"] != before["ETag"]
    assert population(after.json()["group"][0]) == {"numerator": 5, "denominator": 6}


def test_reports_are_searched_by_measure_in_every_form(march, fhir_as):
    client = fhir_as("county_specialist")
    expected = sorted(IndicatorResult.objects.filter(community=march.community, code="county_visit_rate")
                      .values_list("unit_key", flat=True))
    for value in ("county-visit-rate", "Measure/county-visit-rate", MEASURE_BASE + "county-visit-rate"):
        found = entries(client.get("/fhir/MeasureReport", {"measure": value, "_count": 100}))
        assert len(found) == len(expected) == 5  # the county, east and west, east_v1 and west_v1
        assert {r["measure"] for r in found} == {MEASURE_BASE + "county-visit-rate"}
    assert entries(client.get("/fhir/MeasureReport", {"measure": "contract-coverage"})) == []
    assert entries(client.get("/fhir/MeasureReport", {"measure": "no-such-measure"})) == []
    county_only = client.get("/fhir/MeasureReport", {"measure": "county-visit-rate", "level": "county"})
    assert ids(county_only) == [report_id("county_visit_rate")]


def test_reports_are_searched_by_period_and_date_with_prefixes(march, fhir_as):
    materialise(march, dt.date(2026, 2, 1), dt.date(2026, 3, 1), PeriodKind.MONTH, shanghai(2026, 3, 1, 2))
    materialise(march, dt.date(2026, 1, 1), dt.date(2027, 1, 1), PeriodKind.YEAR, shanghai(2026, 4, 1, 3))
    client = fhir_as("cdc_officer")

    def periods(**params) -> list[str]:
        found = entries(client.get("/fhir/MeasureReport", {"measure": "county-visit-rate", "level": "county",
                                                            **params}))
        return [r["id"].rsplit(".", 1)[1] for r in found]

    assert periods(period="2026-03") == ["2026-03"]  # the month lies within March; the year does not
    assert periods(period="2026") == ["2026-03", "2026-02", "2026"]
    assert periods(period="2026-03-15") == []
    assert periods(period="lt2026-03") == ["2026-02", "2026"]  # begins before March
    assert periods(period="gt2026-03") == ["2026"]  # runs on after March
    assert periods(period="ge2026-03") == ["2026-03", "2026"]
    assert periods(period="le2026-02") == ["2026-02", "2026"]
    assert periods(period="ne2026-03") == ["2026-02", "2026"]
    assert periods(period=["ge2026-02", "le2026-03-31"]) == ["2026-03", "2026-02", "2026"]
    assert periods(date="2026-04-01") == ["2026-03", "2026"]
    assert periods(date="lt2026-04") == ["2026-02"]
    year = client.get(f"/fhir/MeasureReport/{report_id('county_visit_rate', period='2026')}").json()
    assert (year["period"]["start"], year["period"]["end"]) == ("2026-01-01", "2026-12-31")


def test_a_custom_period_has_its_first_and_last_day_in_the_id(march, fhir_as):
    materialise(march, dt.date(2026, 3, 1), dt.date(2026, 3, 15), PeriodKind.CUSTOM, shanghai(2026, 3, 15, 2))
    body = fhir_as("cdc_officer").get(
        f"/fhir/MeasureReport/{report_id('county_visit_rate', period='20260301-20260314')}").json()
    valid(body)
    assert (body["period"]["start"], body["period"]["end"]) == ("2026-03-01", "2026-03-14")


def test_reports_are_searched_by_reporter_or_subject(march, fhir_as):
    client = fhir_as("community_admin")
    east, lead = march.orgs["east"], march.orgs["lead"]
    for name in ("reporter", "subject"):
        found = entries(client.get("/fhir/MeasureReport", {name: f"Organization/{east.uuid}",
                                                            "measure": "county-visit-rate"}))
        assert [r["id"] for r in found] == [report_id("county_visit_rate", f"m{east.pk}")]
    # the lead hospital stands for the county, and hosts the ECG centre
    found = ids(client.get("/fhir/MeasureReport", {"reporter": str(lead.uuid), "measure": "exam-within-target-share"}))
    assert sorted(found) == sorted([report_id("exam_within_target_share"),
                                    report_id("exam_within_target_share", f"c{march.centre.pk}")])
    assert ids(client.get("/fhir/MeasureReport", {"subject": "Organization/not-a-uuid"})) == []


def test_reports_page_and_filter_by_status_and_id(march, fhir_as):
    client = fhir_as("community_admin")
    total = IndicatorResult.objects.filter(community=march.community).count()
    bundle = client.get("/fhir/MeasureReport", {"_count": 7}).json()
    assert bundle["total"] == total
    assert len(bundle["entry"]) == 7
    assert any(link["relation"] == "next" for link in bundle["link"])
    assert client.get("/fhir/MeasureReport", {"status": "complete", "_count": 0}).json()["total"] == total
    assert client.get("/fhir/MeasureReport", {"status": "pending"}).json()["total"] == 0
    wanted = report_id("up_referrals")
    assert ids(client.get("/fhir/MeasureReport", {"_id": wanted})) == [wanted]
    assert ids(client.get("/fhir/MeasureReport", {"_id": "up-referrals.county.2026-13"})) == []


def test_every_report_of_a_period_validates(march, fhir_as):
    bundle = fhir_as("bureau_viewer").get("/fhir/MeasureReport", {"_count": 100, "period": "2026-03"}).json()
    valid(bundle)
    assert bundle["total"] == IndicatorResult.objects.filter(community=march.community).count()
    for entry in bundle["entry"]:
        assert entry["fullUrl"].endswith("/fhir/MeasureReport/" + entry["resource"]["id"])
        assert assessment_fhir.FHIR_ID.fullmatch(entry["resource"]["id"])


# ------------------------------------------------------------------------------------------------------ access


@pytest.mark.parametrize("path", ["/fhir/Measure", "/fhir/Measure/county-visit-rate", "/fhir/MeasureReport",
                                  f"/fhir/MeasureReport/{report_id('county_visit_rate')}"])
def test_a_resident_may_not_read_the_indicators(march, fhir_as, path):
    issues = outcome(fhir_as("resident").get(path), 403)
    assert issues[0]["code"] == "forbidden"


def test_the_bureau_reads_the_aggregates(march, fhir_as):
    response = fhir_as("bureau_viewer").get(f"/fhir/MeasureReport/{report_id('county_visit_rate')}")
    assert response.status_code == 200


def test_an_anonymous_request_is_refused(march, anonymous):
    outcome(anonymous.get("/fhir/Measure"), 401)


def test_another_communitys_reports_are_not_found(march, fhir_as, other_community):
    other = other_community["organization"]
    services.materialise_period(community_id=other.community_id, start=dt.date(2026, 2, 1),
                                end=dt.date(2026, 3, 1), kind=PeriodKind.MONTH, now=shanghai(2026, 3, 1, 2))
    theirs = IndicatorResult.objects.filter(community_id=other.community_id)
    assert theirs.exists()
    client = fhir_as("community_admin")
    outcome(client.get(f"/fhir/MeasureReport/{report_id('county_visit_rate', period='2026-02')}"), 404)
    bundle = client.get("/fhir/MeasureReport", {"_count": 0}).json()
    assert bundle["total"] == IndicatorResult.objects.filter(community=march.community).count()
    assert client.get("/fhir/MeasureReport", {"period": "2026-02"}).json()["total"] == 0
    assert client.get("/fhir/MeasureReport", {"reporter": f"Organization/{other.uuid}"}).json()["total"] == 0


# ------------------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(("path", "params", "named"), [
    ("/fhir/MeasureReport", {"period": "2026-13"}, "period"),
    ("/fhir/MeasureReport", {"period": "xx2026"}, "period"),
    ("/fhir/MeasureReport", {"date": "2026-02-30"}, "date"),
    ("/fhir/MeasureReport", {"measure": "Patient/123"}, "measure"),
    ("/fhir/MeasureReport", {"reporter": "Patient/123"}, "reporter"),
    ("/fhir/MeasureReport", {"level": "township"}, "level"),
    ("/fhir/MeasureReport", {"status": "done"}, "status"),
    ("/fhir/MeasureReport", {"scope": "county"}, "scope"),
    ("/fhir/MeasureReport", {"measure:missing": "true"}, "measure:missing"),
    ("/fhir/MeasureReport", {"_count": "many"}, "_count"),
    ("/fhir/Measure", {"status": "published"}, "status"),
    ("/fhir/Measure", {"version": "1"}, "version"),
    ("/fhir/Measure", {"_sort": "title"}, "_sort"),
])
def test_a_bad_search_is_a_400_naming_the_parameter(march, fhir_as, path, params, named):
    issues = outcome(fhir_as("community_admin").get(path, params), 400)
    assert named in diagnostics(issues)
