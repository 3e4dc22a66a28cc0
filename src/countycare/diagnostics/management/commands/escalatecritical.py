from django.core.management.base import BaseCommand

from countycare.diagnostics import services


class Command(BaseCommand):
    help = ("Escalate critical values not acknowledged in time (policy critical_value_ack_minutes) to the duty "
            "doctor of the requesting branch; run it every minute")

    def handle(self, *args, **options):
        escalated = services.escalate_overdue()
        self.stdout.write(f"critical values escalated: {escalated}")
