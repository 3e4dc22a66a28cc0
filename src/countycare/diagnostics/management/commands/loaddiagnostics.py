from django.core.management.base import BaseCommand, CommandError

from countycare.diagnostics import reference


class Command(BaseCommand):
    help = ("Load the shipped exam types, report templates and critical-value rules (adds missing codes; keeps "
            "administrators' edits unless --update)")

    def add_arguments(self, parser):
        parser.add_argument("--update", action="store_true",
                            help="also put the shipped values back on default rows an administrator changed")

    def handle(self, *args, **options):
        try:
            loaded = reference.load_defaults(update=options["update"])
        except (OSError, reference.ReferenceFileError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"exam types: {loaded.exam_types}, report templates: {loaded.templates}, "
                          f"critical-value rules: {loaded.critical_rules}")
