"""The shipped tiered-care catalogue: loaded into a fresh database, reloaded without touching admins' edits,
and every range made of codes of the shipped ICD-10 table."""

from __future__ import annotations

import csv

import pytest
from django.core.management import call_command

from countycare.records.models import Icd10Code
from countycare.referrals import catalogue
from countycare.referrals.models import CatalogueEntry, CatalogueList

ROWS = list(csv.DictReader(open(catalogue.DEFAULT_FILE, encoding="utf-8")))
ICD10_FILE = catalogue.DEFAULT_FILE.parents[2] / "records" / "data" / "icd10.csv"


def test_the_shipped_file_has_between_60_and_120_entries_over_every_list():
    assert 60 <= len(ROWS) <= 120
    assert {r["list_name"] for r in ROWS} == set(CatalogueList.values)
    assert all(r["source"] and r["up_criteria"] for r in ROWS)


def test_every_range_starts_and_ends_on_a_code_of_the_shipped_icd10_table():
    codes = {r["code"] for r in csv.DictReader(open(ICD10_FILE, encoding="utf-8"))}
    missing = sorted({c for r in ROWS for c in (r["code_start"], r["code_end"])} - codes)
    assert missing == []


def test_the_ranges_of_the_default_do_not_overlap():
    ranges = sorted((r["code_start"], r["code_end"]) for r in ROWS)
    assert all(a_end < b_start for (_, a_end), (b_start, _) in zip(ranges, ranges[1:], strict=False))


@pytest.mark.django_db
def test_a_migrated_database_has_the_default_catalogue(db):
    assert CatalogueEntry.objects.filter(community__isnull=True).count() == len(ROWS)
    mi = CatalogueEntry.objects.get(code_start="I21")
    assert (mi.list_name, mi.village_may_treat, mi.township_may_treat, mi.county_may_treat,
            mi.down_referable) == ("county_100n", False, False, True, True)
    assert Icd10Code.objects.filter(code__in=[mi.code_start, mi.code_end]).count() == 2  # I21 and I22


@pytest.mark.django_db
def test_reloading_adds_what_is_missing_and_keeps_admins_edits(db, capsys):
    CatalogueEntry.objects.filter(code_start="I10").update(up_criteria="本院自定标准", township_may_treat=False)
    CatalogueEntry.objects.filter(code_start="I21").delete()
    call_command("loadcatalogue")
    assert "catalogue entries added: 1" in capsys.readouterr().out
    edited = CatalogueEntry.objects.get(code_start="I10")
    assert (edited.up_criteria, edited.township_may_treat) == ("本院自定标准", False)
    assert CatalogueEntry.objects.filter(code_start="I21").exists()
    call_command("loadcatalogue")
    assert "catalogue entries added: 0" in capsys.readouterr().out


def test_a_malformed_file_names_its_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(open(catalogue.DEFAULT_FILE, encoding="utf-8").readline()
                   + "I22,I21,心梗,MI,county_100n,false,false,true,true,,,x\n", encoding="utf-8")
    with pytest.raises(catalogue.CatalogueFileError, match="line 2"):
        catalogue.read_file(bad)
