"""Resident search latency on the generated full-size county (run benchmarks/generate_county.py first).

    python benchmarks/search_residents.py [--queries 300]
        [--database-url postgresql://postgres@127.0.0.1:5432/cc_bench]

Calls `registry.queries.search_residents` as a community administrator (whole county in scope) and as a
township doctor (their branch and its villages), with queries drawn from real residents: a Chinese name
prefix (surname + first given character), pinyin initials of a full name, a full national ID, a national-ID
prefix (county + birth date, 14 digits; and county + birth year, 10 digits), and a full phone number.
Each kind runs twice: the whole call (query + audit record of the rows returned, audit "yes") and the query
alone (audit replaced by a no-op, audit "no").
Prints p50/p95/max in milliseconds. Target (issue #2): p95 under 50 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=300, help="queries per kind and user")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/cc_bench")
    args = parser.parse_args()
    os.environ["COUNTYCARE_DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countycare.settings")
    import django

    django.setup()
    from countycare.accounts import services as accounts
    from countycare.accounts.models import User
    from countycare.core.codes import OrganizationType, PostingKind, Role
    from countycare.core.models import Community
    from countycare.registry import queries
    from countycare.registry.models import Organization, Posting, Resident
    from countycare.registry.scope import covered_organization_ids

    community = Community.objects.order_by("id").first()
    if community is None:
        raise SystemExit("no county in this database: run benchmarks/generate_county.py first")
    lead = Organization.objects.get(community=community, org_type=OrganizationType.LEAD_HOSPITAL)
    branch = (Organization.objects.filter(community=community, org_type=OrganizationType.TOWNSHIP_CENTRE)
              .order_by("division_code").first())
    posting = Posting.objects.filter(organization=branch, role=Role.TOWNSHIP_DOCTOR, kind=PostingKind.HOME).first()

    def user(username: str, role: str, org: Organization, practitioner=None) -> User:
        found = User.objects.filter(username=username).first()
        return found or accounts.create_user(username=username, role=role, organization=org,
                                             password="Bench-pass-2026", practitioner=practitioner)

    cast = {
        "community_admin": user("bench_admin", Role.COMMUNITY_ADMIN, lead),
        "township_doctor": user("bench_township", Role.TOWNSHIP_DOCTOR, branch, posting.practitioner),
    }
    total = Resident.objects.filter(community=community).count()
    print(f"{community.name}: {total:,} residents; township doctor at {branch.name}")
    rng = random.Random(args.seed)
    real_audit = queries.audit_residents

    for label, who in cast.items():
        pool = Resident.objects.filter(community=community, national_id__isnull=False)
        if label == "township_doctor":
            pool = pool.filter(home_organization_id__in=covered_organization_ids(who))
        ids = list(pool.values_list("id", flat=True))
        sample_ids = rng.sample(ids, min(len(ids), args.queries * 2))
        sample = list(Resident.objects.filter(id__in=sample_ids).values_list("name", "name_initials",
                                                                           "national_id", "phone"))
        rng.shuffle(sample)
        kinds = {
            "name prefix": [name[:2] for name, *_ in sample],
            "pinyin initials": [initials for _, initials, *_ in sample],
            "national ID": [nid for *_, nid, _ in sample],
            "ID prefix 14": [nid[:14] for *_, nid, _ in sample],
            "ID prefix 10": [nid[:10] for *_, nid, _ in sample],
            "phone": [phone for *_, phone in sample if phone],
        }
        print(f"\n{label} ({len(ids):,} residents in scope), {args.queries} queries per kind, times in ms")
        print(f"{'kind':<17}{'audit':>9}{'p50':>8}{'p95':>8}{'max':>8}{'rows':>7}")
        for kind, values in kinds.items():
            values = values[: args.queries]
            for mode in ("yes", "no"):
                queries.audit_residents = real_audit if mode == "yes" else (lambda *a, **k: None)
                try:
                    for q in values[:10]:  # warm the connection and caches
                        queries.search_residents(who, q, channel="web")
                    times, rows = [], []
                    for q in values:
                        started = time.perf_counter()
                        found = queries.search_residents(who, q, channel="web")
                        times.append((time.perf_counter() - started) * 1000)
                        rows.append(len(found))
                finally:
                    queries.audit_residents = real_audit
                print(f"{kind:<17}{mode:>9}{percentile(times, 0.5):8.1f}"
                      f"{percentile(times, 0.95):8.1f}{max(times):8.1f}{statistics.mean(rows):7.1f}")


if __name__ == "__main__":
    main()
