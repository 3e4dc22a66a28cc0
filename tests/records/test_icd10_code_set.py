"""The shipped ICD-10 subset: well formed, loaded into every fresh database, and searchable the ways clinicians
type (code prefix, Chinese name, pinyin initials)."""

import csv

import pytest

from countycare.core.errors import InvalidInput
from countycare.records import icd10
from countycare.records.models import Icd10Code
from countycare.records.queries import search_icd10

with icd10.SHIPPED_FILE.open(encoding="utf-8") as f:
    SHIPPED = list(csv.DictReader(f))


def test_the_shipped_file_has_the_columns_and_hundreds_of_codes():
    assert list(SHIPPED[0]) == ["code", "name", "name_en", "chapter", "chronic"]
    assert len(SHIPPED) >= 400


def test_every_shipped_code_is_well_formed_with_its_category_present():
    codes = {row["code"] for row in SHIPPED}
    assert len(codes) == len(SHIPPED)  # no code twice
    for row in SHIPPED:
        assert icd10.CODE.match(row["code"]), row
        assert row["code"][:3] in codes, row  # I10 for I10.x, E11 for E11.9
        assert row["name"] and row["name_en"] and row["chronic"] in ("0", "1"), row
        assert row["chapter"] == icd10.chapter_of(row["code"]), row


@pytest.mark.parametrize("code", ["I10", "I11", "I12", "I13", "I15", "E10.9", "E11.9", "E14.9", "J44", "J45",
                                  "I20", "I21", "I25", "I50", "I48", "N18", "I63", "I61", "I64", "I69", "F20",
                                  "F31", "A15", "C16", "C34", "C50", "M10", "M81", "E03", "E05", "E78", "G20",
                                  "F03", "G40"])
def test_the_chronic_conditions_are_marked_chronic(db, code):
    assert Icd10Code.objects.get(code=code).chronic


def test_every_malignant_neoplasm_and_tuberculosis_goes_on_the_problem_list():
    for row in SHIPPED:
        if "C00" <= row["code"][:3] <= "C97" or "A15" <= row["code"][:3] <= "A19":
            assert row["chronic"] == "1", row


@pytest.mark.parametrize("code", ["J06.9", "J18.9", "K29.7", "K35.8", "S72.0", "O80", "O82", "M54.5", "M17",
                                  "K80", "K81", "D64", "A09"])
def test_acute_and_everyday_conditions_are_not(db, code):
    assert not Icd10Code.objects.get(code=code).chronic


def test_a_fresh_database_holds_the_shipped_codes(db):
    assert Icd10Code.objects.count() == len(SHIPPED)
    hypertension = Icd10Code.objects.get(code="I10")
    assert (hypertension.name, hypertension.chapter, hypertension.source) == (
        "特发性（原发性）高血压", "IX", icd10.SHIPPED_SOURCE)


def test_loading_the_shipped_file_again_adds_only_what_is_missing_and_keeps_edits(db):
    Icd10Code.objects.filter(code="I10").update(name="原发性高血压")
    Icd10Code.objects.filter(code="J06.9").delete()
    assert icd10.load_shipped() == 1
    assert Icd10Code.objects.get(code="I10").name == "原发性高血压"
    assert Icd10Code.objects.filter(code="J06.9").exists()


def test_initials_read_each_character_not_a_surname():
    assert icd10.initials_of("单纯疱疹") == "dcpz"  # 单 as in 单纯, not the surname Shan
    assert icd10.initials_of("特发性（原发性）高血压") == "tfxyfxgxy"


@pytest.mark.parametrize("query, first", [("I10", "I10"), ("i10", "I10"), ("E11.9", "E11.9"), ("I1", "I10"),
                                          ("高血压", "I10"), ("gxy", "I10"), ("tnb", "E10"), ("肺炎", "J12")])
def test_search_finds_by_code_name_and_initials(db, query, first):
    found = search_icd10(query)
    assert found and found[0].code == first


def test_the_exact_code_comes_before_its_subcodes_and_neighbours(db):
    assert [c.code for c in search_icd10("E11", limit=3)] == ["E11", "E11.0", "E11.1"]


def test_search_by_name_finds_names_containing_it(db):
    found = {c.code for c in search_icd10("糖尿病", limit=100)}
    assert {"E10", "E11", "E11.9", "E14", "O24"} <= found


def test_inactive_codes_are_not_offered(db):
    Icd10Code.objects.filter(code="I10").update(active=False)
    assert "I10" not in [c.code for c in search_icd10("I10")]


def test_an_empty_query_finds_nothing_and_a_nul_is_refused(db):
    assert search_icd10("  ") == []
    with pytest.raises(InvalidInput):
        search_icd10("I1\x00")


@pytest.mark.parametrize("run", ["first", "second"])
def test_codes_are_there_again_after_a_transactional_tests_flush(flushed_db, run):
    # each transactional test ends with a flush of every table; post_migrate loads the codes again after it
    assert Icd10Code.objects.filter(code="I10").exists()
