"""Generate the full-size county (400,000 residents) with a year of activity into a fresh PostgreSQL database,
and print the time per phase, the rows per table and the calibration figures.

    python benchmarks/generate_activity.py [--population 400000] [--seed 2026]
        [--database-url postgresql://postgres@127.0.0.1:5432/cc_bench]

The database is dropped, created and migrated (not timed), then `countycare.synth.generate_county(...,
activity=True)` runs as `countycare generate` does. The database is left populated: the timeline and referral
benchmarks run on it afterwards. Target (issue #3): the year of activity in under 5 minutes.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time

from pgdatabase import recreate_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=400_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/cc_bench")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        sys.exit("this benchmark is for PostgreSQL")
    recreate_database(args.database_url, force=True)
    os.environ["COUNTYCARE_DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countycare.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from countycare.synth.figures import calibration
    from countycare.synth.generate import generate_county, rich_progress

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("loadcodes", verbosity=0, stdout=io.StringIO())
    migrate_seconds = time.perf_counter() - started
    load_before = os.getloadavg()[0]
    with rich_progress() as progress:
        report = generate_county(population=args.population, seed=args.seed, progress=progress, activity=True)
    print(f"\ngenerated {report.community.name}: {args.population:,} residents, seed {args.seed}, "
          f"as of {report.plan.as_of}")
    print(f"\n{'phase':<36}{'wall s':>8}{'CPU s':>8}   (CPU: this process; the server works beside it)")
    for phase, seconds in report.phases.items():
        print(f"{phase:<36}{seconds:>8.1f}{report.phases_cpu[phase]:>8.1f}")
    activity = sum(s for p, s in report.phases.items() if p.startswith("activity"))
    print(f"{'TOTAL generate_county':<36}{report.seconds:>8.1f}")
    print(f"{'of which the year of activity':<36}{activity:>8.1f}   (target < 300 s)")
    print(f"(migrate and code sets, not counted: {migrate_seconds:.1f} s; load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores)")

    print(f"\n{'table':<32}{'rows':>11}{'COPY s':>9}")
    for stats in report.tables.values():
        print(f"{stats.table:<32}{stats.rows:>11,}{stats.seconds:>9.1f}")
    print("\nslowest index and key rebuilds:")
    for statement, seconds in sorted(report.rebuilt, key=lambda r: -r[1])[:8]:
        print(f"{seconds:8.1f}  {statement[:100]}")

    print("\ncalibration (computed from the rows):")
    for name, value in calibration(report.community).items():
        if isinstance(value, dict):
            print(f"  {name}:")
            for key, inner in value.items():
                print(f"    {key:<40}{_fmt(inner)}")
        else:
            print(f"  {name:<48}{_fmt(value)}")


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 10 else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


if __name__ == "__main__":
    main()
