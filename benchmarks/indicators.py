"""Assessment indicators on the generated full-size county with its year of activity (PostgreSQL).

    COUNTYCARE_DATABASE_URL=<the URL below> countycare migrate
    COUNTYCARE_DATABASE_URL=<the URL below> countycare generate --population 400000   (a year of activity included)
    python benchmarks/indicators.py [--database-url postgresql://postgres@127.0.0.1:5432/cc_bench] [--runs 3]

Prints, for the year the county's activity covers:
- one plain SQL scan over the year's encounters (count and sum of cost): the floor any encounter indicator pays;
- every indicator at county, member and village level computed from the tables (`engine.compute`), first in a
  fresh process with nothing materialised ("cold": the process's first computation; PostgreSQL's buffers as the
  machine left them), then again; the seconds each fact (one SQL statement each) took on the first run;
- materialising the months and calendar years of the activity (`services.materialise`, what the nightly command
  does);
- the dashboard page from the materialised results through Django's test client (a community administrator and
  the health bureau, logged in; the whole request: middleware, queries, template), p50/p95 over 50 requests, and
  the trend JSON and the Excel export.
Targets (issue #5): all indicators for the year under 5 s cold; the dashboard under 300 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/cc_bench")
    parser.add_argument("--runs", type=int, default=3, help="computations of the year after the cold one")
    parser.add_argument("--requests", type=int, default=50, help="dashboard requests per user")
    args = parser.parse_args()
    os.environ["COUNTYCARE_DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countycare.settings")
    import django

    django.setup()
    import datetime as dt

    from django.conf import settings
    from django.db import connection
    from django.db.models import Max, Min
    from django.test import Client
    from django.utils import timezone

    from countycare.accounts import services as accounts
    from countycare.accounts.models import User
    from countycare.assessment import engine, services
    from countycare.assessment.facts import Period
    from countycare.assessment.models import ComputationRun
    from countycare.core.codes import OrganizationType, Role
    from countycare.core.models import Community
    from countycare.records.models import Encounter
    from countycare.registry.models import Organization

    settings.ALLOWED_HOSTS = ["*"]
    community = Community.objects.order_by("id").first()
    if community is None:
        raise SystemExit("no county in this database: run `countycare generate` first")
    span = Encounter.objects.filter(community=community).aggregate(first=Min("started_at"), last=Max("started_at"))
    if span["first"] is None:
        raise SystemExit("the county has no activity: run `countycare generate --replace` (without --no-activity)")
    start = timezone.localtime(span["first"]).date()
    end = timezone.localtime(span["last"]).date() + dt.timedelta(days=1)
    print(f"{community.name}: period {start} – {end - dt.timedelta(days=1)}; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM registry_resident WHERE community_id = %s", [community.pk])
        residents = cursor.fetchone()[0]
        began = time.perf_counter()
        cursor.execute("SELECT count(*), sum(cost_total) FROM records_encounter WHERE community_id = %s "
                       "AND started_at >= %s AND started_at < %s",
                       [community.pk, Period(community.pk, start, end).since, Period(community.pk, start, end).until])
        encounters, _cost = cursor.fetchone()
        scan = time.perf_counter() - began
    print(f"{residents:,} residents, {encounters:,} encounters in the period")
    print(f"plain scan over the year's encounters (count, sum of cost): {scan:.3f} s")

    fact_names = ["orgs", "first_activity", "encounters", "discharges", "population", "referrals", "turnaround",
                  "remote_reports", "village_ecg", "recognition", "posted_seniors"]
    period = Period(community.pk, start, end)
    began = time.perf_counter()
    timings = {}
    for name in fact_names:
        t = time.perf_counter()
        getattr(period, name)
        timings[name] = time.perf_counter() - t
    results = engine.compute(period)
    cold = time.perf_counter() - began
    print(f"\nall indicators, cold (first in this process): {cold:.3f} s, {len(results)} results "
          f"({len({r.code for r in results})} indicators; county, member, village, centre rows)")
    print("  facts (s): " + ", ".join(f"{k} {v:.3f}" for k, v in timings.items()))
    warm = []
    for _ in range(args.runs):
        began = time.perf_counter()
        engine.compute(Period(community.pk, start, end))
        warm.append(time.perf_counter() - began)
    print(f"all indicators, again: {', '.join(f'{w:.3f}' for w in warm)} s "
          f"(ratio to the plain scan: {statistics.median(warm) / scan:.1f}×)")

    began = time.perf_counter()
    runs = services.materialise(community_id=community.pk, start=start, end=end)
    print(f"\nmaterialised {len(runs)} periods (months and years) in {time.perf_counter() - began:.2f} s "
          f"({sum(r.results for r in runs):,} results)")
    year = (ComputationRun.objects.filter(community=community, period_kind="year").order_by("-period_start")
            .first())
    lead = Organization.objects.get(community=community, org_type=OrganizationType.LEAD_HOSPITAL)

    def user(username: str, role: str) -> User:
        found = User.objects.filter(username=username).first()
        return found or accounts.create_user(username=username, role=role, organization=lead,
                                             password="Bench-pass-2026")

    key = f"{year.period_start.isoformat()}_{year.period_end.isoformat()}"
    print(f"dashboard of {year.period_start:%Y} (ms over {args.requests} requests: p50 / p95 / max)")
    for who in (user("bench_admin", Role.COMMUNITY_ADMIN), user("bench_bureau", Role.BUREAU_VIEWER)):
        client = Client()
        client.force_login(who)
        for label, url in (("dashboard", f"/assessment/?period={key}"),
                           ("member", f"/assessment/?period={key}&unit=member:{lead.pk}"),
                           ("trends", "/assessment/trends.json"),
                           ("excel", f"/assessment/report.xlsx?period={key}")):
            times = []
            for n in range(args.requests + 3):
                began = time.perf_counter()
                response = client.get(url)
                elapsed = (time.perf_counter() - began) * 1000
                assert response.status_code == 200, (url, response.status_code)
                if n >= 3:  # the first requests warm the process (templates, translations)
                    times.append(elapsed)
            print(f"  {who.role:<16} {label:<10} {percentile(times, 0.5):7.1f} {percentile(times, 0.95):7.1f} "
                  f"{max(times):7.1f}")


if __name__ == "__main__":
    main()
