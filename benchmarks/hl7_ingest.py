"""HL7 ORU^R01 ingestion into PostgreSQL, three ways: `single` — `lab.receive`, one transaction per message
through `services.publish_lab_results` (as the API takes them); `savepoints` — `lab.ingest_many(bulk=False)`, a
batch in one transaction with a savepoint per message, each still through the service; `bulk` —
`lab.ingest_many` (the file drop's default), the batch's usual messages written set-based (critical values
through `services.raise_critical`). Every way keeps each message whole or not at all.

    python benchmarks/hl7_ingest.py [--messages 5000] [--results 6] [--batch 200]
        [--mode all|single|savepoints|bulk]
        [--population 20000] [--database-url postgresql://postgres@127.0.0.1:5432/cc_lab] [--regenerate]

Set-up (not timed): a generated county with its year of activity (`countycare.synth.generate_county`, made
once in its own database; `--regenerate` makes it again), the lead hospital's lab centre, a centre reader who
sends the messages, one basic metabolic panel request (status acquired) per message for residents of the
county, and the messages themselves (`lab.make_oru`: K, Na, Cl, glucose, creatinine, urea … with about 1 % of
potassium values critical, so some critical alerts are raised as in life), then ANALYZE. Timed: parsing,
validation, matching the request and patient, and writing (observations, report, state change, audit, critical
alerts) for every message. Prints messages/s, results/s and per-message latency. Target (issue #4):
at least 500 result messages per second into PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from decimal import Decimal

from pgdatabase import database_exists, recreate_database

# analyte, LOINC or local code, system, typical mean, sd, decimals
PANEL = [
    ("2823-3", "LN", 4.2, 0.45, 2),
    ("2951-2", "LN", 140, 3, 0),
    ("2075-0", "LN", 103, 3, 0),
    ("GLU", "99LIS", 5.6, 1.2, 2),
    ("CREA", "99LIS", 80, 20, 0),
    ("UREA", "99LIS", 5.5, 1.5, 2),
    ("UA", "99LIS", 330, 70, 0),
    ("CA", "99LIS", 2.3, 0.1, 2),
]


def backend_cpu() -> float | None:
    """CPU seconds the PostgreSQL backend of this connection has used (server on this host), else None."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000, help="messages per mode")
    parser.add_argument("--results", type=int, default=6, help="OBX per message (at most 8)")
    parser.add_argument("--batch", type=int, default=200, help="messages per transaction in batch mode")
    parser.add_argument("--mode", choices=("all", "single", "savepoints", "bulk"), default="all")
    parser.add_argument("--population", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/cc_lab")
    parser.add_argument("--regenerate", action="store_true", help="drop the database and generate the county anew")
    parser.add_argument("--count-queries", action="store_true", help="log SQL to count statements (slower)")
    parser.add_argument("--streams", type=int, default=0,
                        help="also run bulk mode in this many processes at once (e.g. a file drop per analyser)")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        sys.exit("this benchmark is for PostgreSQL")
    if not 1 <= args.results <= len(PANEL):
        sys.exit(f"--results must be 1 to {len(PANEL)}")
    fresh = args.regenerate or not database_exists(args.database_url)
    if fresh:
        recreate_database(args.database_url, force=True)
    os.environ["COUNTYCARE_DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countycare.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from countycare.core.models import Community

    call_command("migrate", verbosity=0)
    if not Community.objects.exists():
        from countycare.synth.generate import generate_county

        print(f"generating a county of {args.population:,} residents with its year of activity ...", flush=True)
        generate_county(population=args.population, seed=args.seed, activity=True)
    modes = ["single", "savepoints", "bulk"] if args.mode == "all" else [args.mode]
    cast = prepare(args, (len(modes) + (1 if args.streams else 0)) * args.messages)
    for i, mode in enumerate(modes):
        messages = cast.messages[i * args.messages:(i + 1) * args.messages]
        run(mode, messages, cast, args)
    if args.streams:
        parallel(cast.messages[len(modes) * args.messages:], cast, args)


class Cast:
    def __init__(self, sender, messages: list[str], results: int) -> None:
        self.sender = sender
        self.messages = messages
        self.results = results


def prepare(args: argparse.Namespace, count: int) -> Cast:
    """Centre, sender, requests and messages (not timed)."""
    import datetime as dt

    from django.utils import timezone

    from countycare.accounts.models import User
    from countycare.core.codes import OrganizationType, Role, Title
    from countycare.core.models import Community
    from countycare.diagnostics import lab
    from countycare.diagnostics.models import Centre, CentreKind, ExamRequest, ExamStatus, ExamType
    from countycare.registry.models import Organization, Posting, Practitioner, Resident

    community = Community.objects.order_by("id").first()
    lead = Organization.objects.get(community=community, org_type=OrganizationType.LEAD_HOSPITAL)
    centre = Centre.objects.filter(organization=lead, kind=CentreKind.LAB).first() or Centre.objects.create(
        community=community, organization=lead, kind=CentreKind.LAB, name="医学检验中心", target_routine_minutes=240,
        target_urgent_minutes=60, target_stat_minutes=30)
    exam_type = (ExamType.objects.filter(community__isnull=True, code="BMP").first()
                 or ExamType.objects.create(code="BMP", name="急诊生化", name_en="Basic metabolic panel",
                                            centre_kind=CentreKind.LAB, loinc="51990-0", recognition_days=7,
                                            components=["2823-3", "2951-2", "14749-6", "14682-9"]))
    verifier = Practitioner.objects.filter(community=community, licence_number="HL7BENCH").first()
    if verifier is None:
        verifier = Practitioner.objects.create(community=community, name="检验审核", title=Title.TECHNICIAN,
                                               licence_number="HL7BENCH")
        Posting.objects.create(practitioner=verifier, organization=lead, role=Role.CENTRE_READER,
                               start=dt.date(2020, 1, 1))
    sender = User.objects.filter(username="hl7bench_lis").first() or User.objects.create_user(
        username="hl7bench_lis", role=Role.CENTRE_READER, community=community, organization=lead,
        practitioner=verifier)
    residents = list(Resident.objects.filter(community=community, merged_into__isnull=True)
                     .select_related("home_organization").order_by("?")[:count])
    run_tag = f"{int(time.time()) % 100000:05d}"
    now = timezone.now()
    print(f"{community.name}: {Resident.objects.filter(community=community).count():,} residents; "
          f"making {count:,} lab requests and messages ...", flush=True)
    requests = ExamRequest.objects.bulk_create([
        ExamRequest(community=community, resident=residents[i % len(residents)], exam_type=exam_type, centre=centre,
                    requesting_organization=residents[i % len(residents)].home_organization,
                    clinical_question="基准测试 benchmark", status=ExamStatus.ACQUIRED,
                    accession_number=f"HB{run_tag}{i:07d}", requested_at=now - dt.timedelta(hours=3),
                    acquired_at=now - dt.timedelta(hours=2))
        for i in range(count)
    ], batch_size=2000)
    by_number = {r.accession_number: r for r in ExamRequest.objects.select_related(
        "resident", "centre", "exam_type").filter(accession_number__startswith=f"HB{run_tag}")}
    rng = random.Random(args.seed)
    started = time.perf_counter()
    messages = []
    for i, request in enumerate(requests):
        request = by_number[request.accession_number]
        results = []
        for code, system, mean, sd, places in PANEL[:args.results]:
            value = rng.gauss(mean, sd)
            if code == "2823-3" and rng.random() < 0.01:
                value = 6.6 + rng.random()  # critical potassium
            results.append({"code": code, "system": system, "value": round(Decimal(max(value, 0.1)), places)})
        messages.append(lab.make_oru(request, results, control_id=f"HB{run_tag}-{i}", verifier=verifier,
                                     observed_at=now - dt.timedelta(minutes=30)))
    print(f"built {len(messages):,} messages with make_oru in {time.perf_counter() - started:.1f} s")
    from django.db import connection

    with connection.cursor() as cursor:  # fresh statistics, as a database in service has (see STACK-NOTES)
        cursor.execute("ANALYZE")
    return Cast(sender, messages, args.results)


def _stream(messages: list[str], sender_id: int, batch: int, start_at: float, queue) -> None:
    """One process of `parallel`: its own connection, its share of the messages in bulk batches."""
    from countycare.accounts.models import User
    from countycare.diagnostics import lab

    sender = User.objects.select_related("organization", "practitioner").get(pk=sender_id)
    while time.time() < start_at:
        time.sleep(0.001)
    started, cpu = time.perf_counter(), time.process_time()
    ok = 0
    for i in range(0, len(messages), batch):
        ok += sum(o.ok for o in lab.ingest_many(messages[i:i + batch], actor=sender))
    queue.put((ok, time.perf_counter() - started, time.process_time() - cpu))


def parallel(messages: list[str], cast: Cast, args: argparse.Namespace) -> None:
    import multiprocessing

    from django.db import connections

    from countycare.records.models import Observation

    before = Observation.objects.count()
    connections.close_all()  # each process opens its own
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    start_at = time.time() + 1.0
    share = -(-len(messages) // args.streams)
    processes = [context.Process(target=_stream, args=(messages[k * share:(k + 1) * share], cast.sender.pk,
                                                         args.batch, start_at, queue))
                 for k in range(args.streams)]
    load = os.getloadavg()[0]
    for process in processes:
        process.start()
    results = [queue.get() for _ in processes]
    for process in processes:
        process.join()
    elapsed = max(r[1] for r in results)
    ok = sum(r[0] for r in results)
    stored = Observation.objects.count() - before
    print(f"\nbulk in {args.streams} processes at once: {ok:,} of {len(messages):,} messages accepted in "
          f"{elapsed:.1f} s — {ok / elapsed:,.0f} messages/s, {stored / elapsed:,.0f} results/s "
          f"(load average {load:.1f} at the start; client CPU {sum(r[2] for r in results):.1f} s)")


def run(mode: str, messages: list[str], cast: Cast, args: argparse.Namespace) -> None:
    from django.db import connection, reset_queries

    from countycare.diagnostics import lab
    from countycare.diagnostics.models import CriticalAlert, Report
    from countycare.records.models import Observation

    observations_before, reports_before = Observation.objects.count(), Report.objects.count()
    alerts_before = CriticalAlert.objects.count()
    latencies: list[float] = []
    outcomes = []
    connection.force_debug_cursor = args.count_queries
    reset_queries()
    server = backend_cpu()
    load = os.getloadavg()[0]
    cpu = time.process_time()
    started = time.perf_counter()
    if mode == "single":
        for message in messages:
            t0 = time.perf_counter()
            outcomes.append(lab.receive(message, actor=cast.sender))
            latencies.append(time.perf_counter() - t0)
    else:
        for start in range(0, len(messages), args.batch):
            t0 = time.perf_counter()
            outcomes.extend(lab.ingest_many(messages[start:start + args.batch], actor=cast.sender,
                                            bulk=mode == "bulk"))
            latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    server_after = backend_cpu()
    server = server_after - server if server is not None and server_after is not None else None
    queries = len(connection.queries) if args.count_queries else 0
    connection.force_debug_cursor = False
    refused = [o for o in outcomes if not o.ok]
    stored = Observation.objects.count() - observations_before
    print(f"\n{mode}: {len(messages):,} messages × {cast.results} results in {elapsed:.1f} s — "
          f"{len(messages) / elapsed:,.0f} messages/s, {stored / elapsed:,.0f} results/s "
          f"(load average {load:.1f} at the start)")
    if server is not None:
        busy = cpu + server
        print(f"  CPU: this process {cpu:.1f} s + its PostgreSQL backend {server:.1f} s = "
              f"{busy / len(messages) * 1000:.2f} ms a message: {len(messages) / busy:,.0f} messages per CPU-second "
              "(the rate one stream reaches on an idle machine)")
    unit = "message" if mode == "single" else f"batch of {args.batch}"
    print(f"  latency per {unit}: p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
          f"p95 {percentile(latencies, 0.95) * 1000:.1f} ms, mean {statistics.mean(latencies) * 1000:.1f} ms"
          + (f"; {queries / len(messages):.1f} SQL statements per message" if queries else ""))
    print(f"  refused {len(refused)}; observations +{stored:,}, reports +{Report.objects.count() - reports_before:,}, "
          f"critical alerts +{CriticalAlert.objects.count() - alerts_before:,}")
    for outcome in refused[:3]:
        print("  refused:", outcome.error)


if __name__ == "__main__":
    main()
