"""GET /fhir/Patient?…: search by name (Chinese prefix, pinyin), identifier, birthdate, gender, in scope,
paged and audited."""

import datetime as dt

import pytest
from tests.conftest import make_resident
from tests.fhir.conftest import outcome, valid

from countycare.core.models import AuditEvent
from countycare.registry import fhir as registry_fhir
from countycare.registry import services
from countycare.registry.models import ResidentIdentifier


def found(client, **params) -> set[str]:
    response = client.get("/fhir/Patient", params)
    assert response.status_code == 200, response.content
    bundle = response.json()
    valid(bundle)
    assert bundle["type"] == "searchset"
    return {entry["resource"]["name"][0]["text"] for entry in bundle.get("entry", [])}


@pytest.fixture
def admin(fhir_as):
    return fhir_as("community_admin")


@pytest.mark.parametrize(
    "query, names",
    [
        ("张", {"张三"}),
        ("zs", {"张三"}),
        ("zhang", {"张三"}),
        ("ZS", {"张三"}),
        ("zeng", {"曾丽"}),  # 曾 read as a surname: zeng, not ceng
        ("zl", {"曾丽", "赵六"}),
        ("王五", {"王五"}),
        ("q", set()),
    ],
)
def test_it_finds_residents_by_chinese_name_prefix_or_pinyin(county, admin, query, names):
    assert found(admin, name=query) == names


def test_it_finds_a_resident_by_national_id(county, admin):
    zhang = county.residents["zhang_san"]
    assert found(admin, identifier=f"{registry_fhir.NATIONAL_ID_SYSTEM}|{zhang.national_id}") == {"张三"}
    assert found(admin, identifier=zhang.national_id) == {"张三"}


def test_an_identifier_of_another_system_does_not_match_the_national_id(county, admin):
    zhang = county.residents["zhang_san"]
    assert found(admin, identifier=f"urn:oid:1.2.3|{zhang.national_id}") == set()


def test_it_finds_a_resident_by_another_identifier(county, admin):
    ResidentIdentifier.objects.create(resident=county.residents["li_si"], type="passport", value="E1234")
    system = registry_fhir.OTHER_IDENTIFIER_BASE + "passport"
    assert found(admin, identifier=f"{system}|E1234") == {"李四"}
    assert found(admin, identifier="E1234") == {"李四"}
    assert found(admin, identifier=f"{registry_fhir.OTHER_IDENTIFIER_BASE}birth_certificate|E1234") == set()


@pytest.mark.parametrize(
    "birthdate, names",
    [
        ("1960-05-01", {"张三"}),
        ("1960-05", {"张三"}),
        ("1950", {"王五"}),
        ("lt1960", {"王五"}),
        ("le1960-05-01", {"王五", "张三"}),
        ("ge1985", {"曾丽", "李四"}),
        ("gt1985-02-14", {"李四"}),
        ("ne1960", {"曾丽", "李四", "王五", "赵六"}),
    ],
)
def test_it_filters_by_birthdate_with_prefixes_and_partial_dates(county, admin, birthdate, names):
    assert found(admin, birthdate=birthdate) == names


def test_repeated_parameters_are_combined_with_and(county, admin):
    response = admin.get("/fhir/Patient?birthdate=ge1950&birthdate=lt1961")
    assert {e["resource"]["name"][0]["text"] for e in response.json()["entry"]} == {"王五", "张三"}


def test_comma_separated_values_are_alternatives(county, admin):
    assert found(admin, name="张,王") == {"张三", "王五"}


def test_it_filters_by_gender(county, admin):
    assert found(admin, gender="female") == {"曾丽"}
    assert found(admin, gender="male", name="z") == {"张三", "赵六"}


def test_it_filters_by_managing_organization(county, admin):
    assert found(admin, organization=f"Organization/{county.orgs['west_v1'].uuid}") == {"王五", "赵六"}


def test_a_search_returns_only_residents_in_scope(county, fhir_as):
    assert found(fhir_as("village_doctor")) == {"张三"}
    assert found(fhir_as("township_doctor")) == {"张三", "曾丽", "李四"}
    assert found(fhir_as("west_doctor"), name="张") == set()
    assert found(fhir_as("resident")) == {"赵六"}


def test_the_bureau_cannot_search_patients(county, fhir_as):
    outcome(fhir_as("bureau_viewer").get("/fhir/Patient", {"name": "zs"}), 403)


def test_every_resident_handed_out_by_a_search_is_audited(county, fhir_as):
    found(fhir_as("township_doctor"), name="z")
    events = AuditEvent.objects.filter(action="search", channel="fhir")
    assert {e.resident_id for e in events} == {
        str(county.residents[k].uuid) for k in ("zhang_san", "zeng_li")
    }
    assert all(e.detail["query"] == "name=z" for e in events)


def test_results_are_paged_with_links(county, admin):
    for i in range(5):
        make_resident(
            county,
            f"extra{i}",
            f"张{'一二三四五'[i]}丰",
            "east_v1",
            birth=dt.date(1990, 1, i + 1),
            seq=20 + i,
        )
    first = admin.get("/fhir/Patient", {"name": "zhang", "_count": 2}).json()
    assert first["total"] == 6 and len(first["entry"]) == 2
    links = {link["relation"]: link["url"] for link in first["link"]}
    assert set(links) == {"self", "first", "next", "last"}
    assert "page=3" in links["last"]
    second = admin.get(links["next"].removeprefix("http://testserver")).json()
    assert len(second["entry"]) == 2 and {"previous", "next"} <= {link["relation"] for link in second["link"]}
    seen = {e["resource"]["id"] for e in first["entry"]} | {e["resource"]["id"] for e in second["entry"]}
    assert len(seen) == 4


def test_count_zero_returns_only_the_total(county, admin):
    bundle = admin.get("/fhir/Patient", {"_count": 0}).json()
    assert bundle["total"] == 5 and "entry" not in bundle


def test_merged_records_are_not_search_results(county, admin):
    duplicate = make_resident(county, "dup", "张三", "east_v1", birth=dt.date(1960, 5, 1), with_id=False)
    services.merge_residents(
        user=county.users["community_admin"],
        survivor=county.residents["zhang_san"],
        duplicate=duplicate,
        reason="same person",
    )
    bundle = admin.get("/fhir/Patient", {"name": "张三"}).json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == [str(county.residents["zhang_san"].uuid)]


@pytest.mark.parametrize(
    "params",
    [
        {"birthdate": "1960-13"},
        {"birthdate": "01-05-1960"},
        {"birthdate": "xx1960"},
        {"gender": "x"},
        {"birthDate": "1960"},  # not a parameter: a typo must not return everyone
        {"name:exact": "张三"},
        {"_count": "-1"},
        {"_count": "many"},
        {"page": "0"},
        {"_sort": "name"},
    ],
)
def test_an_invalid_search_is_refused_with_400(county, admin, params):
    outcome(admin.get("/fhir/Patient", params), 400)
    assert not AuditEvent.objects.filter(action="search").exists()


def test_a_non_json_format_is_not_acceptable(county, admin):
    outcome(admin.get("/fhir/Patient", {"_format": "xml"}), 406)
