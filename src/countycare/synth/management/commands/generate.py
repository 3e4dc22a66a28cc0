from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from countycare.core.models import Community
from countycare.synth.diagnostics import DICOM_UPLOADS, HL7_MESSAGES, start_pool
from countycare.synth.erase import erase_community
from countycare.synth.generate import DEFAULT_SEED, generate_county, rich_progress


class Command(BaseCommand):
    help = "Generate a synthetic county (organisations, staff, residents, a year of activity) into the database"

    def add_arguments(self, parser):
        parser.add_argument("--population", type=int, default=400_000, help="residents (default 400,000)")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="same seed, same county")
        parser.add_argument(
            "--replace", action="store_true", help="erase every existing community (and all its rows) first"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--no-activity",
            action="store_true",
            help="only institutions, residents and the centres' rosters, without the year of encounters, referrals, "
            "slots and exams",
        )

    def handle(
        self, *args, population: int, seed: int, replace: bool, no_progress: bool, no_activity: bool, **options
    ):
        existing = list(Community.objects.order_by("id"))
        if existing and not replace:
            names = ", ".join(c.name for c in existing)
            raise CommandError(
                f"the database already holds a community ({names}); "
                "use --replace to erase it and generate anew"
            )
        if population < 100:
            raise CommandError("--population must be at least 100")
        pool = start_pool(seed) if not no_activity else None  # the ECG pool, simulated meanwhile
        for community in existing:
            deleted = erase_community(community)
            self.stdout.write(f"erased {community.name}: {sum(deleted.values())} rows")
        with rich_progress(enabled=not no_progress and options["verbosity"] > 0) as progress:
            report = generate_county(
                population=population,
                seed=seed,
                progress=progress,
                activity=not no_activity,
                dicom_uploads=DICOM_UPLOADS,
                hl7_messages=HL7_MESSAGES,
                ecg_pool=pool,
            )
        people, plan = report.people, report.plan
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
                f", {sum(exams.exams.values())} exams at the shared centres ({exams.dicom_uploaded} synthetic "
                f"studies sent to Orthanc, {exams.dicom_references} recorded as references without images; "
                f"{exams.hl7_messages} lab results by HL7, the rest in bulk)"
            )
        summary = (
            f"{report.community.name}: {len(plan.orgs)} organisations, {report.practitioners} practitioners, "
            f"{people.households} households, {people.residents} residents, "
            f"{people.tags} key-population tags{year} in {report.seconds:.1f} s"
        )
        self.stdout.write(self.style.SUCCESS(summary))
