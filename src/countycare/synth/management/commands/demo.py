from __future__ import annotations

import io
import os
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from countycare.core.models import Community
from countycare.synth.demo import demo_password, ensure_demo_users
from countycare.synth.diagnostics import DICOM_UPLOADS, HL7_MESSAGES, start_pool
from countycare.synth.generate import DEFAULT_SEED, generate_county, rich_progress

DEMO_POPULATION = 3000


class Command(BaseCommand):
    help = "Set up and serve a demo: migrate, generate a small county with a year of care, one user per role"

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--population",
            type=int,
            default=DEMO_POPULATION,
            help=f"residents of the demo county (default {DEMO_POPULATION})",
        )
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
        parser.add_argument(
            "--data-dir", help="where the SQLite database and secret key live (default ./var)"
        )
        parser.add_argument("--no-serve", action="store_true", help="set up, print the users, and stop")
        parser.add_argument(
            "--no-activity", action="store_true", help="a county without its year of encounters, referrals and exams"
        )

    def handle(
        self,
        *args,
        port: int,
        population: int,
        seed: int,
        data_dir: str | None,
        no_serve: bool,
        no_activity: bool = False,
        **options,
    ):
        started = time.perf_counter()
        if data_dir and Path(data_dir).resolve() != Path(settings.DATA_DIR):
            raise CommandError(
                "--data-dir must be given to the countycare command itself (it is read before "
                "settings load): countycare demo --data-dir DIR"
            )
        # the ECG pool of the year of exams, simulated in another process while migrations run
        pool = start_pool(seed) if not no_activity else None
        quiet = options["verbosity"] < 2
        where = connection.settings_dict["NAME"] if connection.vendor != "sqlite" else settings.DATA_DIR
        self.stdout.write(f"database: {connection.vendor} ({where})")
        call_command("migrate", interactive=False, verbosity=0 if quiet else 1)
        if "loadcodes" in get_commands():
            call_command("loadcodes", verbosity=0, stdout=io.StringIO())
        orthanc = self.start_orthanc()
        community = Community.objects.order_by("id").first()
        if community is None:
            with rich_progress(enabled=options["verbosity"] > 0) as progress:
                report = generate_county(
                    population=population,
                    seed=seed,
                    progress=progress,
                    activity=not no_activity,
                    dicom_uploads=DICOM_UPLOADS if orthanc else 0,
                    hl7_messages=HL7_MESSAGES,
                    ecg_pool=pool,
                )
            community = report.community
            year = ""
            if report.activity:
                rows = report.activity.rows
                year = (
                    f", a year of {rows.get('records.Encounter', 0)} encounters and "
                    f"{rows.get('referrals.Referral', 0)} referrals"
                )
            if report.exams:
                exams = report.exams
                year += (
                    f", {sum(exams.exams.values())} exams at the shared centres "
                    f"({exams.dicom_uploaded} studies in Orthanc, {exams.hl7_messages} lab results by HL7)"
                )
            self.stdout.write(
                f"generated {community.name}: {report.people.residents} residents, "
                f"{len(report.plan.orgs)} organisations, {report.practitioners} practitioners{year}"
            )
            if report.activity:
                self.compute_indicators(community)
        else:
            self.stdout.write(f"reusing {community.name} (already in the database)")
        from_env = os.environ.get("COUNTYCARE_DEMO_PASSWORD")
        password = demo_password(from_env)
        if from_env:
            try:
                password_validation.validate_password(from_env)
            except ValidationError as exc:
                self.stderr.write("warning: COUNTYCARE_DEMO_PASSWORD is weak: " + " ".join(exc.messages))
        users = ensure_demo_users(community, password, check_password=not from_env)
        self.print_users(users, password, from_env is not None)
        self.centre_on_duty(community)
        self.stdout.write(f"ready in {time.perf_counter() - started:.1f} s")
        if no_serve:
            return
        self.stdout.write(f"serving on http://127.0.0.1:{port}/  (Ctrl-C stops)")
        call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, insecure_serving=True)

    def compute_indicators(self, community) -> None:
        """The assessment's months and years over the generated activity, as the nightly job would have left them."""
        import datetime as dt

        from django.db.models import Min
        from django.utils import timezone

        from countycare.assessment import services
        from countycare.records.models import Encounter

        first = Encounter.objects.filter(community=community).aggregate(first=Min("started_at"))["first"]
        if first is None:
            return
        began = time.perf_counter()
        services.ensure_default_scheme(community_id=community.pk)
        runs = services.materialise(community_id=community.pk, start=timezone.localtime(first).date(),
                                    end=timezone.localdate() + dt.timedelta(days=1))
        self.stdout.write(f"考核指标 indicators: {len(runs)} months and years computed "
                          f"in {time.perf_counter() - began:.1f} s")

    def start_orthanc(self):
        """The imaging server for the demo (previews and study links), when Orthanc is installed."""
        from countycare.core.errors import DomainError
        from countycare.diagnostics.imaging import ensure_demo_server

        try:
            handle = ensure_demo_server()
        except DomainError as exc:
            self.stdout.write(f"影像预览不可用 imaging previews unavailable: {exc.message}")
            return None
        self.stdout.write(f"Orthanc: {handle.url} (user {handle.username})")
        return handle

    def centre_on_duty(self, community) -> None:
        """The demo reader on duty now at the ECG and imaging centres, with ECGs waiting to be claimed."""
        from django.utils import timezone

        from countycare.accounts.models import User
        from countycare.synth.diagnostics import demo_worklist, ensure_on_duty

        reader = User.objects.filter(username="centre_reader", community=community).first()
        if reader is None or reader.practitioner_id is None:
            return
        now = timezone.now()
        ensure_on_duty(reader.practitioner_id, now=now)
        sent = demo_worklist(community.pk, now=now)
        if sent:
            self.stdout.write(f"心电诊断中心 ECG centre: {sent} ECGs waiting for centre_reader (on duty now)")

    def print_users(self, users, password: str, from_env: bool) -> None:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="演示账号 Demo users")
        for column in ("user", "role", "organisation", "practitioner / resident"):
            table.add_column(column)
        for u in users:
            table.add_row(u.username, u.role, u.organization, u.person)
        console = Console(file=self.stdout, width=140)
        console.print(table)
        source = "from COUNTYCARE_DEMO_PASSWORD" if from_env else "generated for this run"
        console.print(f"password for every demo user ({source}): [bold]{password}[/bold]")
