from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from countycare.core.errors import InvalidInput
from countycare.records import icd10


class Command(BaseCommand):
    help = "Import ICD-10 codes from a CSV (code,name[,name_en,chapter,chronic] or 编码,名称); no file: the shipped set"

    def add_arguments(self, parser):
        parser.add_argument(
            "file", nargs="?", type=Path,
            help="CSV with a header naming the code and name columns (code,name or 编码/疾病编码,名称/疾病名称); "
                 "optional name_en, chapter, chronic (1/0). Without it the shipped subset is (re)loaded.",
        )
        parser.add_argument("--encoding", help="utf-8 or gb18030 (default: UTF-8, else GB18030)")
        parser.add_argument("--source", default="", help="where the list comes from, stored with each code")

    def handle(self, *args, file: Path | None, encoding: str | None, source: str, **options):
        try:
            if file is None:
                report = icd10.import_file(icd10.SHIPPED_FILE, encoding="utf-8",
                                           source=source or icd10.SHIPPED_SOURCE)
            else:
                report = icd10.import_file(file, encoding=encoding, source=source)
        except InvalidInput as exc:
            raise CommandError(f"nothing imported: {exc.message}") from None
        self.stdout.write(self.style.SUCCESS(
            f"ICD-10: {report.added} added, {report.updated} updated, {report.unchanged} unchanged "
            f"({report.total} codes in the file)"
        ))
