"""The ICD-10 code set: the shipped subset (`data/icd10.csv`, see `data/README.md`) and the import of a full
list from a CSV the user supplies (`countycare importicd10`).

An import is one transaction and set-based (`bulk_create` with `update_conflicts`): every row is checked
first, and a malformed row stops the import naming its line, with nothing written. Columns the file does not
have (English name, chapter, chronic flag) keep what is stored; a new code without a chronic flag inherits the
flag of its category (I10.x00x002 from I10), so the problem list keeps working after a full import.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction

from countycare.core.errors import InvalidInput
from countycare.core.pinyin import initials as name_initials
from countycare.core.refcache import ProcessCache

from .models import CODE_LENGTH, Icd10Code

SHIPPED_FILE = Path(__file__).parent / "data" / "icd10.csv"
SHIPPED_SOURCE = "CountyCare subset, transcribed (records/data/icd10.csv)"
# WHO codes (I10, E11.9, S72.00), the national clinical edition's extensions (E11.900, I10.x00x002) and a
# dagger or asterisk (A17.0+, G01*).
CODE = re.compile(r"^[A-Z][0-9]{2}(\.[0-9x]{1,4}(x[0-9]{3})?)?[+*]?$")
# Header names a user's export may carry, mapped to ours (national lists come with Chinese headers).
HEADERS = {
    "code": "code", "编码": "code", "疾病编码": "code", "诊断编码": "code", "疾病代码": "code", "代码": "code",
    "icd-10编码": "code", "icd10编码": "code", "icd-10": "code", "icd10": "code",
    "name": "name", "名称": "name", "疾病名称": "name", "诊断名称": "name",
    "name_en": "name_en", "英文名称": "name_en",
    "chapter": "chapter", "章": "chapter", "章节": "chapter",
    "chronic": "chronic", "慢性病": "chronic",
}
TRUE = {"1", "true", "yes", "y", "是", "t"}
FALSE = {"0", "false", "no", "n", "否", "f", ""}
HEADER_SEARCH_ROWS = 10  # exports often start with a title line or two before the header
NAME_LENGTH = Icd10Code._meta.get_field("name").max_length
INITIALS_LENGTH = Icd10Code._meta.get_field("initials").max_length
CHAPTERS = [
    ("A00", "B99", "I"), ("C00", "D48", "II"), ("D50", "D89", "III"), ("E00", "E90", "IV"), ("F00", "F99", "V"),
    ("G00", "G99", "VI"), ("H00", "H59", "VII"), ("H60", "H95", "VIII"), ("I00", "I99", "IX"), ("J00", "J99", "X"),
    ("K00", "K93", "XI"), ("L00", "L99", "XII"), ("M00", "M99", "XIII"), ("N00", "N99", "XIV"),
    ("O00", "O99", "XV"), ("P00", "P96", "XVI"), ("Q00", "Q99", "XVII"), ("R00", "R99", "XVIII"),
    ("S00", "T98", "XIX"), ("V01", "Y98", "XX"), ("Z00", "Z99", "XXI"), ("U00", "U85", "XXII"),
]


@dataclass
class Row:
    line: int
    code: str
    name: str
    name_en: str | None  # None: the file does not say (keep what is stored)
    chapter: str | None
    chronic: bool | None


@dataclass
class ImportReport:
    added: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.added + self.updated + self.unchanged


def normalize_code(value: str) -> str:
    """" e11.9 " -> "E11.9", "I10.X00X002" -> "I10.x00x002": the letter upper case, the clinical edition's
    placeholder x lower case, as the national lists print them."""
    value = "".join(value.split())
    return (value[:1].upper() + value[1:].lower()) if value else value


def chapter_of(code: str) -> str:
    category = code[:3]
    return next((name for first, last, name in CHAPTERS if first <= category <= last), "")


def initials_of(name: str) -> str:
    """Pinyin initials of a diagnosis name (2型糖尿病 -> "2xtnb"). Each character on its own: core.pinyin reads
    the first character of a *personal* name as a surname (单 -> shan), which a disease name is not."""
    letters = (name_initials(char) for char in name if char.isalnum())
    return "".join(letters)[:INITIALS_LENGTH]


def _flag(value: str, line: int) -> bool | None:
    text = value.strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return None if text == "" else False
    raise InvalidInput(f"第{line}行：慢性病标志“{value}”无效，应为1或0 (line {line}: chronic must be 1 or 0)")


def decode(data: bytes, encoding: str | None = None) -> str:
    """The file's text: the given encoding, else UTF-8 (with or without BOM), else GB18030 (Excel in China)."""
    if encoding:
        try:
            return data.decode("utf-8-sig" if encoding.lower().replace("-", "") == "utf8" else encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise InvalidInput(f"无法按 {encoding} 编码读取文件 (the file is not {encoding}: {exc})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            raise InvalidInput("无法识别文件编码，请用 --encoding 指定 (cannot tell the file's encoding: "
                               "give --encoding utf-8 or gb18030)") from None


def parse(text: str) -> list[Row]:
    """Rows of a CSV with a header naming at least the code and name columns; raises InvalidInput naming the
    first bad line (line numbers as an editor shows them)."""
    reader = csv.reader(io.StringIO(text))
    columns: dict[str, int] | None = None
    rows: list[Row] = []
    seen: dict[str, int] = {}
    try:
        for number, record in enumerate(reader, start=1):
            if columns is None:
                columns = _header(record)
                if columns is None:
                    if number >= HEADER_SEARCH_ROWS:
                        break
                    continue
                continue
            if not any(cell.strip() for cell in record) or record[0].lstrip().startswith("#"):
                continue
            row = _row(record, columns, reader.line_num)
            if row.code in seen:
                raise InvalidInput(f"第{row.line}行：编码 {row.code} 与第{seen[row.code]}行重复 "
                                   f"(line {row.line}: code {row.code} repeats line {seen[row.code]})")
            seen[row.code] = row.line
            rows.append(row)
    except csv.Error as exc:
        raise InvalidInput(f"第{reader.line_num}行：CSV 格式错误 (line {reader.line_num}: {exc})") from None
    if columns is None:
        raise InvalidInput("找不到表头：需要 code,name 或 编码,名称 两列 (no header row naming the code and name "
                           "columns: code,name or 编码/疾病编码,名称/疾病名称)")
    if not rows:
        raise InvalidInput("文件中没有编码 (the file holds no codes)")
    return rows


def _header(record: list[str]) -> dict[str, int] | None:
    columns: dict[str, int] = {}
    for index, cell in enumerate(record):
        key = HEADERS.get(cell.strip().lstrip("\ufeff").lower())
        if key and key not in columns:
            columns[key] = index
    return columns if {"code", "name"} <= columns.keys() else None


def _row(record: list[str], columns: dict[str, int], line: int) -> Row:
    def cell(key: str) -> str | None:
        index = columns.get(key)
        if index is None:
            return None
        return record[index].strip() if index < len(record) else ""

    code = normalize_code(cell("code") or "")
    if not CODE.match(code) or len(code) > CODE_LENGTH:
        raise InvalidInput(f"第{line}行：“{cell('code')}”不是有效的ICD-10编码 (line {line}: \"{cell('code')}\" is "
                           "not an ICD-10 code such as I10, E11.9 or I10.x00x002)")
    name = " ".join((cell("name") or "").split())
    if not name:
        raise InvalidInput(f"第{line}行：编码 {code} 缺少名称 (line {line}: code {code} has no name)")
    if len(name) > NAME_LENGTH or "\x00" in name:
        raise InvalidInput(f"第{line}行：名称过长或含无效字符 (line {line}: name longer than {NAME_LENGTH} "
                           "characters or with a NUL)")
    name_en = cell("name_en")
    if name_en is not None and (len(name_en) > NAME_LENGTH or "\x00" in name_en):
        raise InvalidInput(f"第{line}行：英文名称过长 (line {line}: English name too long)")
    chapter = cell("chapter")
    if chapter is not None and len(chapter) > 10:
        raise InvalidInput(f"第{line}行：章节过长 (line {line}: chapter longer than 10 characters)")
    chronic = _flag(cell("chronic") or "", line) if "chronic" in columns else None
    return Row(line, code, name, name_en or None, chapter or None, chronic)


# {code: Icd10Code} of active codes, kept per process for a short time (core.refcache): every recorded diagnosis
# and referral checks its codes here. The instances are shared between threads: read them, never change them.
_active = ProcessCache("icd10")
_active.follow(Icd10Code)


def active_codes(codes: Iterable[str]) -> dict[str, Icd10Code]:
    """{code: Icd10Code} for those of `codes` that are active codes of the code set; unknown or inactive ones
    are left out (and looked up again next time)."""
    return _active.get_many(codes, lambda missing: {
        c.code: c for c in Icd10Code.objects.filter(code__in=missing, active=True)})


def _category_flag(code: str, known: dict[str, bool]) -> bool:
    """The chronic flag of the longest known code that `code` extends (E11.900x001 -> E11.9 -> E11)."""
    for end in range(len(code) - 1, 2, -1):
        prefix = code[:end].rstrip(".x")
        if prefix in known:
            return known[prefix]
    return False


def upsert(rows: Iterable[Row], *, source: str) -> ImportReport:
    """Add new codes and update existing ones in one transaction; nothing is written if anything fails."""
    rows = list(rows)
    with transaction.atomic():
        # the whole table (tens of thousands of short rows at most): an IN list of a full edition's codes would
        # pass SQLite's limit on parameters
        stored = {c.code: c for c in Icd10Code.objects.all()}
        known = {code: c.chronic for code, c in stored.items()}
        known.update({r.code: r.chronic for r in rows if r.chronic is not None})
        added = updated = unchanged = 0
        objects = []
        for row in rows:
            before = stored.get(row.code)
            obj = Icd10Code(
                code=row.code,
                name=row.name,
                name_en=row.name_en if row.name_en is not None else (before.name_en if before else ""),
                initials=initials_of(row.name),
                chapter=row.chapter or (before.chapter if before and before.chapter else chapter_of(row.code)),
                chronic=(row.chronic if row.chronic is not None
                         else before.chronic if before else _category_flag(row.code, known)),
                source=source[:120],
                active=True,
            )
            if before is None:
                added += 1
            elif _same(before, obj):
                unchanged += 1
                continue
            else:
                updated += 1
            objects.append(obj)
        Icd10Code.objects.bulk_create(
            objects, batch_size=2000, update_conflicts=True, unique_fields=["code"],
            update_fields=["name", "name_en", "initials", "chapter", "chronic", "source", "active"],
        )
        _active.clear_now_and_on_commit()  # bulk writes send no signals
    return ImportReport(added, updated, unchanged)


def _same(stored: Icd10Code, new: Icd10Code) -> bool:
    fields = ("name", "name_en", "initials", "chapter", "chronic", "source", "active")
    return all(getattr(stored, f) == getattr(new, f) for f in fields)


def import_file(path: Path | str, *, encoding: str | None = None, source: str = "") -> ImportReport:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"无法读取文件 {path} (cannot read {path}: {exc.strerror})") from None
    return upsert(parse(decode(data, encoding)), source=source or f"imported from {path.name}")


def load_shipped(model: Any = Icd10Code, *, using: str = "default") -> int:
    """Insert the shipped codes that are missing (never overwriting an import or an admin's edit). Runs after
    every migrate and flush, so a fresh database, and every test database, has the codes."""
    rows = parse(SHIPPED_FILE.read_text(encoding="utf-8"))
    manager = model._default_manager.db_manager(using)
    present = set(manager.filter(code__in=[r.code for r in rows]).values_list("code", flat=True))
    missing = [
        model(code=r.code, name=r.name, name_en=r.name_en or "", initials=initials_of(r.name),
              chapter=r.chapter or chapter_of(r.code), chronic=bool(r.chronic), source=SHIPPED_SOURCE)
        for r in rows if r.code not in present
    ]
    manager.bulk_create(missing, batch_size=2000, ignore_conflicts=True)
    return len(missing)
