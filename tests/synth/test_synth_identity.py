"""National IDs, names and pinyin of generated residents are what the registry itself would accept."""

from collections import Counter

from countycare.core import nationalid, pinyin
from countycare.core.codes import IdentifierType
from countycare.registry.models import Resident, ResidentIdentifier


def test_national_ids_are_valid_unique_and_carry_the_county_code(make_county):
    report = make_county(4000)
    county = report.community.division_code
    rows = list(Resident.objects.values_list("national_id", "birth_date", "sex"))
    ids = [nid for nid, _, _ in rows if nid]
    assert len(ids) == len(set(ids))
    assert len(ids) >= len(rows) - 30  # only newborns lack an ID
    for nid, birth, sex in rows:
        if nid is None:
            continue
        parsed = nationalid.parse(nid, today=report.plan.as_of)
        assert parsed.division_code == county
        assert parsed.birth_date == birth
        assert parsed.sex == sex


def test_residents_without_an_id_are_newborns_with_a_birth_certificate(make_county):
    report = make_county(4000)
    without = Resident.objects.filter(national_id__isnull=True)
    assert without.exists()
    for resident in without:
        assert (report.plan.as_of - resident.birth_date).days <= 90
        assert ResidentIdentifier.objects.filter(resident=resident, type=IdentifierType.BIRTH_CERTIFICATE).exists()


def test_stored_pinyin_is_what_core_pinyin_computes(small_county):
    for name, full, initials in Resident.objects.values_list("name", "name_pinyin", "name_initials"):
        assert full == pinyin.full(name)
        assert initials == pinyin.initials(name)


def test_names_are_chinese_with_a_surname_distribution(make_county):
    make_county(4000)
    names = list(Resident.objects.values_list("name", flat=True))
    assert all(2 <= len(n) <= 4 for n in names)
    surnames = Counter(n[0] for n in names)
    top_five = sum(surnames[s] for s in "王李张刘陈") / len(names)
    assert 0.25 < top_five < 0.37  # 30.8% nationally
    assert len(surnames) > 80


def test_the_cached_id_builder_matches_core_build():
    import datetime as dt

    from countycare.synth.people import NationalIdMaker

    maker = NationalIdMaker("361129")
    for day in (dt.date(1931, 2, 28), dt.date(1988, 12, 31), dt.date(2024, 2, 29)):
        for sequence in (0, 7, 42, 99):
            for sex in ("male", "female"):
                assert maker.build(day, sequence, sex) == nationalid.build("361129", day, sequence, sex)
