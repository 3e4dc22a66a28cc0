from django.core.management.base import BaseCommand
from rich.progress import BarColumn, Progress, TextColumn

from countycare.core import audit
from countycare.core.models import AuditEvent


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; exit 1 and name the first bad event if it was tampered with"

    def handle(self, *args, **options):
        total = AuditEvent.objects.count()
        columns = (
            TextColumn("核验审计链 verifying audit chain"), BarColumn(), TextColumn("{task.completed}/{task.total}")
        )
        with Progress(*columns, disable=total < 10_000) as progress:
            task = progress.add_task("verify", total=total)
            report = audit.verify_chain(progress=lambda n: progress.update(task, completed=n))
        if report.ok:
            self.stdout.write(self.style.SUCCESS(f"审计链完整 audit chain intact: {report.checked} events verified"))
            return
        self.stderr.write(
            f"审计链被篡改 AUDIT CHAIN BROKEN at event {report.first_bad_id}: {report.problem} "
            f"({report.checked} events before it verified)"
        )
        raise SystemExit(1)
