"""The tiered-care catalogue: loading the shipped default (`data/catalogue.csv`) and finding the entry that
governs a diagnosis code.

A code matches an entry when its three-character category lies between `code_start` and `code_end`
(inclusive). A community's own rows win over the default rows; among rows of the same kind the narrowest
range wins, so a community can carve one category out of a wider default range.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from django.db import transaction
from django.db.models import Q

from .models import CatalogueEntry, CatalogueList

DEFAULT_FILE = Path(__file__).resolve().parent / "data" / "catalogue.csv"
FLAGS = ("village_may_treat", "township_may_treat", "county_may_treat", "down_referable")
TEXTS = ("name", "name_en", "list_name", "up_criteria", "down_criteria", "source")


class CatalogueFileError(ValueError):
    pass


def read_file(path: Path = DEFAULT_FILE) -> list[CatalogueEntry]:
    """The rows of a catalogue CSV as unsaved default entries; a malformed row names its line."""
    entries = []
    with open(path, encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            try:
                start, end = row["code_start"].strip().upper(), row["code_end"].strip().upper()
                if not (_is_category(start) and _is_category(end) and start <= end):
                    raise CatalogueFileError(f"line {line}: code range {start}-{end} is not two ICD-10 categories")
                if row["list_name"] not in CatalogueList.values:
                    raise CatalogueFileError(f"line {line}: unknown list {row['list_name']!r}")
                flags = {}
                for name in FLAGS:
                    value = row[name].strip().lower()
                    if value not in ("true", "false"):
                        raise CatalogueFileError(f"line {line}: {name} must be true or false")
                    flags[name] = value == "true"
            except KeyError as exc:
                raise CatalogueFileError(f"line {line}: missing column {exc}") from None
            entries.append(CatalogueEntry(code_start=start, code_end=end, **flags,
                                          **{name: row[name].strip() for name in TEXTS}))
    return entries


def _is_category(code: str) -> bool:
    return len(code) == 3 and code[0].isalpha() and code[1:].isalnum()


def load_default(path: Path = DEFAULT_FILE) -> int:
    """Add the shipped rows whose range is not in the default catalogue yet; never touch existing rows (an
    administrator may have edited them). Returns how many rows were added."""
    entries = read_file(path)
    with transaction.atomic():
        existing = set(CatalogueEntry.objects.filter(community__isnull=True).values_list("code_start", "code_end"))
        new = [e for e in entries if (e.code_start, e.code_end) not in existing]
        CatalogueEntry.objects.bulk_create(new)
    return len(new)


def load_if_empty(**kwargs: object) -> None:
    """post_migrate: a fresh database gets the default catalogue without a separate command."""
    if not CatalogueEntry.objects.exists():
        load_default()


def _category(code: str) -> str:
    return code.strip().upper()[:3]


def _ordinal(category: str) -> int:
    digits = category[1:3]
    return (ord(category[0]) - ord("A")) * 100 + (int(digits) if digits.isdigit() else 0)


def _width(entry: CatalogueEntry) -> int:
    """How many categories a range spans (C00-C97 is wide, I21 is one)."""
    return _ordinal(entry.code_end) - _ordinal(entry.code_start)


def entries_for(codes: Iterable[str], community_id: int | None) -> dict[str, CatalogueEntry]:
    """The governing active entry of each code that has one ({code: entry}), in one query."""
    categories = {code: _category(code) for code in codes if code and code.strip()}
    if not categories:
        return {}
    match = Q()
    for category in set(categories.values()):
        match |= Q(code_start__lte=category, code_end__gte=category)
    rows = list(
        CatalogueEntry.objects.filter(match, active=True)
        .filter(Q(community__isnull=True) | Q(community_id=community_id))
    )
    found = {}
    for code, category in categories.items():
        candidates = [e for e in rows if e.code_start <= category <= e.code_end]
        if candidates:
            found[code] = min(candidates, key=lambda e: (e.community_id is None, _width(e), e.code_start))
    return found
