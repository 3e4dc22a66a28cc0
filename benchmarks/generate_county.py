"""Generate a full-size county (400,000 residents) into a fresh PostgreSQL database and print the figures.

    python benchmarks/generate_county.py [--population 400000] [--seed 2026]
        [--database-url postgresql://postgres@127.0.0.1:5432/cc_bench]

The database is dropped and created again, migrated, then `countycare.synth.generate_county` runs: COPY
into the Django tables (secondary indexes and foreign keys rebuilt after the load), then ANALYZE.
Prints rows, seconds and rows/s per table, and the total. Target (issue #2): under 2 minutes.
"""

from __future__ import annotations

import argparse
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
    recreate_database(args.database_url)
    os.environ["COUNTYCARE_DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countycare.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from countycare.synth.generate import generate_county, rich_progress

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrate_seconds = time.perf_counter() - started
    with rich_progress() as progress:
        report = generate_county(population=args.population, seed=args.seed, progress=progress)
    print(f"\ngenerated {report.community.name}: {args.population:,} residents, seed {args.seed}")
    print(f"{'table':<32}{'rows':>10}{'load s':>9}{'rows/s':>11}")
    for stats in report.tables.values():
        print(f"{stats.table:<32}{stats.rows:>10,}{stats.seconds:>9.2f}{stats.rows_per_second:>11,.0f}")
    loaded = sum(s.seconds for s in report.tables.values())
    print(f"\nmigrate (not counted)            {migrate_seconds:6.1f} s")
    print(f"COPY, all tables                 {loaded:6.1f} s")
    print(f"index and key rebuild            {report.rebuild_seconds:6.1f} s")
    print(f"commit                           {report.commit_seconds:6.1f} s")
    print(f"ANALYZE                          {report.analyze_seconds:6.1f} s")
    generation = report.seconds - loaded - report.rebuild_seconds - report.commit_seconds - report.analyze_seconds
    print(f"generating rows (Python)         {generation:6.1f} s")
    print(f"TOTAL generate_county            {report.seconds:6.1f} s   "
          f"({args.population / report.seconds:,.0f} residents/s; target < 120 s)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
