"""The active ICD-10 codes each process keeps (records.icd10.active_codes, core.refcache)."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from countycare.records import icd10
from countycare.records.models import Icd10Code


def lookup(codes):
    with CaptureQueriesContext(connection) as captured:
        found = icd10.active_codes(codes)
    return sorted(found), len(captured.captured_queries)


def test_known_codes_are_read_once_and_unknown_ones_each_time(db):
    assert lookup(["I10", "E11.9", "ZZZ"]) == (["E11.9", "I10"], 1)
    assert lookup(["I10", "E11.9"]) == (["E11.9", "I10"], 0)
    assert lookup(["I10", "ZZZ"]) == (["I10"], 1)  # a refusal is not kept: only the unknown code is read again
    assert icd10.active_codes(["I10"])["I10"].name == Icd10Code.objects.get(code="I10").name


def test_a_code_switched_off_in_admin_is_refused_at_once(db):
    assert lookup(["I10"])[0] == ["I10"]
    code = Icd10Code.objects.get(code="I10")
    code.active = False
    code.save()
    assert lookup(["I10"]) == ([], 1)


def test_an_import_applies_at_once(db, django_capture_on_commit_callbacks, tmp_path):
    assert lookup(["I10"])[0] == ["I10"]
    Icd10Code.objects.filter(code="I10").update(name="改过的名称")  # no signal: still the kept name
    assert icd10.active_codes(["I10"])["I10"].name != "改过的名称"
    source = tmp_path / "codes.csv"
    source.write_text("编码,名称\nI10,特发性（原发性）高血压\nI10.x00x099,新加的高血压编码\n", encoding="utf-8")
    with django_capture_on_commit_callbacks(execute=True):
        icd10.import_file(source)
    assert lookup(["I10", "I10.x00x099"]) == (["I10", "I10.x00x099"], 1)
    assert icd10.active_codes(["I10"])["I10"].name == "特发性（原发性）高血压"


def test_bad_codes_do_not_grow_the_cache(db):
    icd10.active_codes([f"Q{n:02d}.9x{n:03d}" for n in range(50)] + ["I10"])
    assert len(icd10._active._entries) == 1
