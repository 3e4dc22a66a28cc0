from django.core.management.base import BaseCommand

from countycare.core import codesets, policy


class Command(BaseCommand):
    help = "Load the shipped code systems and the default policy numbers (keeps admins' edits)"

    def handle(self, *args, **options):
        systems, concepts = codesets.sync()
        created = policy.sync_defaults()
        self.stdout.write(f"code systems: {systems}, codes: {concepts}; policy numbers added: {created}")
