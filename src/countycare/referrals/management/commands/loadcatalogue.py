from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from countycare.referrals import catalogue


class Command(BaseCommand):
    help = "Load the default tiered-care catalogue (adds missing ranges; keeps admins' edits)"

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", default=str(catalogue.DEFAULT_FILE),
                            help="a catalogue CSV (default: the shipped referrals/data/catalogue.csv)")

    def handle(self, *args, **options):
        try:
            added = catalogue.load_default(Path(options["file"]))
        except (OSError, catalogue.CatalogueFileError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"catalogue entries added: {added}")
