"""Sync the code systems defined in core.codes into CodeSystem/CodeConcept, with Chinese and English displays.

Codes are fixed by the code; displays an admin edited are kept (only missing concepts are added)."""

from __future__ import annotations

from django.db import transaction
from django.utils import translation

from .codes import CODE_SYSTEMS, system_url
from .models import CodeConcept, CodeSystem

SOURCE = "CountyCare, defined in src/countycare/core/codes.py; see docs/codesystems.md"


def sync() -> tuple[int, int]:
    added = 0
    with transaction.atomic():
        for enum, name, title, description in CODE_SYSTEMS:
            system, _ = CodeSystem.objects.get_or_create(
                url=system_url(name), defaults={"name": name, "title": title, "version": "1", "source": SOURCE + ". "
                                                + description},
            )
            existing = set(system.concepts.values_list("code", flat=True))
            new = []
            for member in enum:
                if member.value in existing:
                    continue
                with translation.override("en"):
                    english = str(member.label)
                with translation.override("zh-hans"):
                    chinese = str(member.label)
                new.append(CodeConcept(system=system, code=member.value, display=chinese, display_en=english))
            CodeConcept.objects.bulk_create(new)
            added += len(new)
    return len(CODE_SYSTEMS), added
