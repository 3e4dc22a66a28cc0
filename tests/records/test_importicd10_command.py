"""`countycare importicd10`: a full code list from a CSV the user exports (Chinese headers, GB18030 from Excel,
the national clinical edition's extension codes), upserted in one transaction or not at all."""

import io

import pytest
from django.core.management import CommandError, call_command

from countycare.records import icd10
from countycare.records.models import Icd10Code

CLINICAL_EDITION = """国家临床版2.0疾病诊断编码（节选）
序号,疾病编码,疾病名称,备注
1,I10.x00x002,高血压2级,
2,I10.x00x003,高血压3级,
3,E11.900,2型糖尿病,
4,J06.900,急性上呼吸道感染,
5,I10,特发性（原发性）高血压,
"""


def run(*args):
    out = io.StringIO()
    call_command("importicd10", *map(str, args), stdout=out)
    return out.getvalue()


def write(tmp_path, text, encoding="gb18030", name="list.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_a_gb18030_export_with_chinese_headers_is_imported(db, tmp_path):
    before = Icd10Code.objects.count()
    output = run(write(tmp_path, CLINICAL_EDITION), "--source", "国家临床版2.0")
    assert "4 added, 1 updated, 0 unchanged (5 codes in the file)" in output
    assert Icd10Code.objects.count() == before + 4
    grade2 = Icd10Code.objects.get(code="I10.x00x002")
    assert (grade2.name, grade2.chapter, grade2.source, grade2.initials) == ("高血压2级", "IX", "国家临床版2.0", "gxyj")


def test_new_codes_inherit_the_chronic_flag_of_their_category(db, tmp_path):
    run(write(tmp_path, CLINICAL_EDITION))
    assert Icd10Code.objects.get(code="I10.x00x003").chronic  # from I10
    assert Icd10Code.objects.get(code="E11.900").chronic  # from E11.9
    assert not Icd10Code.objects.get(code="J06.900").chronic  # from J06.9


def test_columns_the_file_lacks_keep_what_is_stored(db, tmp_path):
    run(write(tmp_path, "编码,名称\nI10,原发性高血压\n", encoding="utf-8"))
    hypertension = Icd10Code.objects.get(code="I10")
    assert hypertension.name == "原发性高血压"
    assert (hypertension.name_en, hypertension.chronic) == ("Essential (primary) hypertension", True)


def test_a_utf8_file_with_english_headers_and_flags_is_imported(db, tmp_path):
    text = ("code,name,name_en,chapter,chronic\n"
            "Z99.9,依赖于未特指的使能机器和装置,Dependence on unspecified machine,XXI,1\n")
    assert "1 added" in run(write(tmp_path, text, encoding="utf-8-sig"), "--encoding", "utf-8")
    assert Icd10Code.objects.get(code="Z99.9").chronic


def test_a_malformed_line_is_named_and_nothing_is_imported(db, tmp_path):
    before = list(Icd10Code.objects.order_by("code").values_list("code", "name", "source"))
    bad = CLINICAL_EDITION.replace("4,J06.900,", "4,J06-9,")
    with pytest.raises(CommandError) as refused:
        run(write(tmp_path, bad))
    assert "line 6" in str(refused.value) and "J06-9" in str(refused.value)
    assert list(Icd10Code.objects.order_by("code").values_list("code", "name", "source")) == before


@pytest.mark.parametrize("text, named", [
    ("编码,名称\nI10,\n", "line 2: code I10 has no name"),
    ("编码,名称\nI10,高血压\nI10,高血压病\n", "line 3: code I10 repeats line 2"),
    ("code,name,chronic\nI10,高血压,maybe\n", "line 2: chronic must be 1 or 0"),
    ("诊断,说明\nI10,高血压\n", "no header row"),
    ("编码,名称\n", "holds no codes"),
])
def test_each_kind_of_bad_file_is_refused_with_a_reason(db, tmp_path, text, named):
    with pytest.raises(CommandError) as refused:
        run(write(tmp_path, text, encoding="utf-8"))
    assert named in str(refused.value)


def test_a_gb18030_file_read_as_utf8_is_refused(db, tmp_path):
    with pytest.raises(CommandError) as refused:
        run(write(tmp_path, CLINICAL_EDITION), "--encoding", "utf-8")
    assert "not utf-8" in str(refused.value)


def test_a_missing_file_is_refused(db, tmp_path):
    with pytest.raises(CommandError):
        run(tmp_path / "nowhere.csv")


def test_without_a_file_the_shipped_set_is_reloaded(db):
    Icd10Code.objects.filter(code="I10").update(name="改过的名称")
    Icd10Code.objects.filter(code="J06.9").delete()
    output = run()
    assert "1 added, 1 updated" in output
    assert Icd10Code.objects.get(code="I10").name == "特发性（原发性）高血压"


def test_the_import_is_set_based(db, tmp_path, django_assert_max_num_queries):
    rows = "".join(f"R{n // 100:02d}.{n % 100:02d}1,症状{n}\n" for n in range(3000))
    path = write(tmp_path, "编码,名称\n" + rows, encoding="utf-8")
    # a few batched INSERTs (SQLite caps the parameters of one statement), never one per row
    with django_assert_max_num_queries(60):
        report = icd10.import_file(path)
    assert report.added == 3000
