"""Timeline latency on the generated full-size county with a year of activity.

    COUNTYCARE_DATABASE_URL=<the URL below> countycare migrate
    COUNTYCARE_DATABASE_URL=<the URL below> countycare generate [--replace]   (a year of activity included)
    python benchmarks/timeline.py [--residents 300]
        [--database-url postgresql://postgres@127.0.0.1:5432/cc_bench]

Picks the residents with the most history (encounters in the database) and opens each one's timeline with
`records.queries.timeline` — scope check, the record's reads, the registered sources (referrals, care plans)
and the audit write — first as a community administrator (whole county in scope), then as a township doctor
for the residents of their branch and its villages with the most history. Each user's scope cache is cleared
before every call, as a new request would start. Each kind runs twice: the whole call (audit "yes") and the
reads alone (audit replaced by a no-op, audit "no").
Prints p50/p95/max in milliseconds and the items returned. Target (issue #3): p95 under 100 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import types


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=300, help="residents per user (most history first)")
    parser.add_argument("--limit", type=int, default=100, help="timeline items per call (the page size)")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/cc_bench")
    args = parser.parse_args()
    os.environ["COUNTYCARE_DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countycare.settings")
    import django

    django.setup()
    from django.db.models import Count

    from countycare.accounts import services as accounts
    from countycare.accounts.models import User
    from countycare.core.codes import OrganizationType, PostingKind, Role
    from countycare.core.models import Community
    from countycare.records import queries
    from countycare.records.models import Diagnosis, Encounter, Observation
    from countycare.registry.models import Organization, Posting, Resident
    from countycare.registry.scope import covered_organization_ids

    community = Community.objects.order_by("id").first()
    if community is None:
        raise SystemExit("no county in this database: run `countycare generate` first")
    encounters = Encounter.objects.filter(community=community).count()
    if not encounters:
        raise SystemExit("the county has no activity: run `countycare generate --replace` (without --no-activity)")
    lead = Organization.objects.get(community=community, org_type=OrganizationType.LEAD_HOSPITAL)
    branch = (Organization.objects.filter(community=community, org_type=OrganizationType.TOWNSHIP_CENTRE)
              .annotate(n=Count("residents")).order_by("-n").first())
    posting = Posting.objects.filter(organization=branch, role=Role.TOWNSHIP_DOCTOR, kind=PostingKind.HOME).first()

    def user(username: str, role: str, org: Organization, practitioner=None) -> User:
        found = User.objects.filter(username=username).first()
        return found or accounts.create_user(username=username, role=role, organization=org,
                                             password="Bench-pass-2026", practitioner=practitioner)

    cast = {
        "community_admin": user("bench_admin", Role.COMMUNITY_ADMIN, lead),
        "township_doctor": user("bench_township", Role.TOWNSHIP_DOCTOR, branch, posting.practitioner),
    }
    residents = Resident.objects.filter(community=community).count()
    print(f"{community.name}: {residents:,} residents, {encounters:,} encounters, "
          f"{Diagnosis.objects.filter(community=community).count():,} diagnoses, "
          f"{Observation.objects.filter(community=community).count():,} observations; "
          f"township doctor at {branch.name}")
    real_audit = queries.audit
    silent_audit = types.SimpleNamespace(Actor=real_audit.Actor, record=lambda *a, **k: None)

    for label, who in cast.items():
        pool = Encounter.objects.filter(community=community)
        if label == "township_doctor":
            pool = pool.filter(resident__home_organization_id__in=covered_organization_ids(who))
        busiest = list(pool.values("resident_id").annotate(n=Count("id")).order_by("-n", "resident_id")
                       .values_list("resident_id", "n")[: args.residents])
        history = [n for _, n in busiest]
        sample = list(Resident.objects.filter(id__in=[rid for rid, _ in busiest]))
        print(f"\n{label}: {len(sample)} residents with the most history (encounters each: "
              f"mean {statistics.mean(history):.1f}, max {max(history)}), limit {args.limit}, times in ms")
        print(f"{'audit':>7}{'p50':>8}{'p95':>8}{'max':>8}{'items':>8}")
        for mode in ("yes", "no"):
            queries.audit = real_audit if mode == "yes" else silent_audit
            try:
                for resident in sample[:10]:  # warm the connection and caches
                    queries.timeline(who, resident, channel="web", limit=args.limit)
                times, items = [], []
                for resident in sample:
                    who.__dict__.pop("_covered_org_ids", None)  # a new request starts without the scope cache
                    started = time.perf_counter()
                    found = queries.timeline(who, resident, channel="web", limit=args.limit)
                    times.append((time.perf_counter() - started) * 1000)
                    items.append(len(found))
            finally:
                queries.audit = real_audit
            print(f"{mode:>7}{percentile(times, 0.5):8.1f}{percentile(times, 0.95):8.1f}{max(times):8.1f}"
                  f"{statistics.mean(items):8.1f}")


if __name__ == "__main__":
    main()
