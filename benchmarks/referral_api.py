"""Creating and accepting referrals through the JSON API under a real multi-process server, on PostgreSQL.

    python benchmarks/referral_api.py [--seconds 30] [--clients 20] [--rate 200] [--warm-up 15] [--timeline]
        [--workers N] [--threads N] [--population 20000]
        [--database-url postgresql://postgres@127.0.0.1:5432/cc_refbench] [--regenerate]

Set-up (not timed): a generated county in its own database (`countycare generate`, made once; `--regenerate`
makes it again), API users and bearer tokens for every village and township doctor (the senders) and every
lead-hospital specialist (the receivers), clinic sessions at the lead hospital for accepts to book, and a
VACUUM (ANALYZE) of the tables a run writes (these machines run PostgreSQL with autovacuum off; without it
every run measured the dead rows of the runs before it).

Then gunicorn serves the project with its production settings (`countycare.gunicorn_conf`: gthread, cores + 1
processes × 7 threads; --workers/--threads override) and `--clients` threads, each with its own keep-alive
connection, repeat: POST /api/referrals (an up-referral of a resident of the sender's clinic to the lead
hospital, with an Idempotency-Key), then POST /api/referrals/{uuid}/accept booking a slot. Each request is one
operation. With `--rate` the clients together offer that many operations per second, each client paced, and
latency is measured from each request's scheduled start, so a server that falls behind is charged for the wait.
`--rate 0` sends as fast as the server answers (closed loop: the throughput ceiling, where latency is just 20
clients queueing).

The server starts cold (every thread opens its database session; statements are prepared after their fifth run
on a connection), and its first seconds fall behind: the warm-up sends at the offered rate for `--warm-up`
seconds, every client finishes the request it has out, and the measured run then starts for all clients at once
on a fresh schedule, so the cold start's lateness is not carried into it (it is printed on its own). Until a
session on 2026-12-07 the schedule ran on from the warm-up into the measured run: after a heavy cold start (a
closed-loop run just before, load average 7) the server was still draining the warm-up's backlog 23 s into a
300-s run, and those seconds made that run's p95 0.86 s; in the 276 seconds after them the median second's
p95 was 25 ms (21 seconds above 100 ms).

Prints operations per second and p50/p95/p99/max latency for create and accept, the warm-up's own figures, the
SQL statements of one create and one accept (counted in this process through Django's test client before the
run), the CPU each side used per operation (the server's processes, PostgreSQL's, the clients'), the load
average before and after, and with `--timeline` the same second by second, warm-up included.

Target (issue #3): at least 200 operations per second with 20 concurrent clients, p95 under 100 ms, on a
2-core machine. Figures, their history and what limits them: docs/api.md, "Speed". These machines' speed drifts
by more than a change is worth between runs minutes apart: to compare two builds, `referral_cpu.py --against`
runs them side by side.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pgdatabase import database_exists, recreate_database, vacuum

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Bench-pass-2026"
# the tables a run writes: vacuumed before each run (pgdatabase.vacuum)
WRITTEN = ["referrals_referral", "referrals_referralevent", "referrals_careaccess", "referrals_slot",
           "referrals_booking", "core_idempotencyrecord", "core_auditevent", "accounts_apitoken"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


@dataclass
class Cast:
    senders: list[tuple[str, list[str]]]  # (token, residents of the sender's clinic)
    receivers: list[str]
    lead: str
    slots: list[str]


def prepare(args: argparse.Namespace) -> Cast:
    """The county, users, tokens and slots (in this process; the server processes read them)."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db.models import Q
    from django.utils import timezone

    from countycare.accounts import services as accounts
    from countycare.accounts.models import User
    from countycare.accounts.tokens import issue_token
    from countycare.core.codes import OrganizationType, Role
    from countycare.core.models import Community
    from countycare.referrals import services
    from countycare.registry.models import Organization, Posting, Resident
    from countycare.registry.scope import covered_organization_ids

    call_command("migrate", verbosity=0)
    if not Community.objects.exists():
        print(f"generating a county of {args.population:,} residents ...", flush=True)
        call_command("generate", population=args.population, no_progress=True, verbosity=0)
    community = Community.objects.order_by("id").first()
    lead = Organization.objects.get(community=community, org_type=OrganizationType.LEAD_HOSPITAL)
    today = timezone.localdate()
    current = Q(start__lte=today) & (Q(end__isnull=True) | Q(end__gte=today))

    def user_for(posting: Posting) -> User:
        username = f"bench_{posting.role}_{posting.practitioner_id}"
        found = User.objects.filter(username=username).first()
        return found or accounts.create_user(username=username, role=posting.role, organization=posting.organization,
                                             password=PASSWORD, practitioner=posting.practitioner,
                                             check_password=False)

    senders = []
    postings = (Posting.objects.filter(current, role__in=[Role.VILLAGE_DOCTOR, Role.TOWNSHIP_DOCTOR],
                                       organization__community=community)
                .select_related("organization", "practitioner").order_by("id"))
    for posting in postings:
        user = user_for(posting)
        residents = list(Resident.objects.filter(home_organization_id__in=covered_organization_ids(user),
                                                 merged_into__isnull=True)
                         .values_list("uuid", flat=True)[:500])
        if residents:
            senders.append((issue_token(user)[0], [str(r) for r in residents]))
    receivers = []
    specialist = None
    for posting in Posting.objects.filter(current, organization=lead, role=Role.COUNTY_SPECIALIST).select_related(
            "organization", "practitioner").order_by("id"):
        specialist = user_for(posting)
        receivers.append(issue_token(specialist)[0])
    start = timezone.now() + dt.timedelta(days=3)
    slots = [
        str(services.publish_slots(user=specialist, organization=lead, department=None, kind="clinic",
                                   starts_at=start + dt.timedelta(hours=i), ends_at=start + dt.timedelta(hours=i + 1),
                                   capacity=10_000, label=f"基准测试门诊 {i}", channel="cli").uuid)
        for i in range(args.slots)
    ]
    print(f"{community.name}: {Resident.objects.filter(community=community).count():,} residents; "
          f"{len(senders)} sending doctors, {len(receivers)} lead-hospital receivers, {len(slots)} clinic sessions")
    return Cast(senders, receivers, str(lead.uuid), slots)


def referral_body(resident: str, lead: str) -> dict:
    """What every benchmark sends: an up-referral of a resident of the sender's clinic to the lead hospital."""
    return {"resident": resident, "kind": "up", "to_organization": lead, "reason": "胸痛2小时，心电图ST段抬高",
            "diagnoses": [{"code": "I21", "primary": True}]}


def post_in_process(client: Any, path: str, body: dict, bearer: str, **headers: str) -> Any:
    """POST a JSON body through Django's test client (`client`) with a bearer token."""
    return client.post(path, json.dumps(body), content_type="application/json",
                       headers={"Authorization": f"Bearer {bearer}", **headers})


def count_statements(cast: Cast) -> tuple[int, int]:
    """SQL statements of one create and one accept, token check to commit, through Django's test client in this
    process (the same code path as the server's, less the HTTP parsing)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    token, residents = cast.senders[0]
    counts = []
    for _ in range(2):  # the first use of a token records it: count the second
        with CaptureQueriesContext(connection) as created:
            response = post_in_process(client, "/api/referrals", referral_body(residents[0], cast.lead), token,
                                       **{"Idempotency-Key": str(uuid.uuid4())})
        assert response.status_code == 201, response.content
        with CaptureQueriesContext(connection) as accepted:
            response = post_in_process(client, f"/api/referrals/{response.json()['uuid']}/accept",
                                       {"version": 1, "slot": cast.slots[0]}, cast.receivers[0])
        assert response.status_code == 200, response.content
        counts = [len(created.captured_queries), len(accepted.captured_queries)]
    return counts[0], counts[1]


def start_server(args: argparse.Namespace, port: int) -> subprocess.Popen:
    """gunicorn with the project's own settings (countycare.gunicorn_conf), as in production; --workers and
    --threads override them."""
    env = {**os.environ, "COUNTYCARE_LOG_LEVEL": "ERROR"}
    command = [
        str(Path(sys.executable).with_name("gunicorn")), "countycare.wsgi:application",
        "--config", "python:countycare.gunicorn_conf", "--bind", f"127.0.0.1:{port}",
        "--worker-class", args.worker_class, "--log-level", "warning",
    ]
    if args.workers:
        command += ["--workers", str(args.workers)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    server = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/openapi.json")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not start")


def process_cpu(stat: Path) -> tuple[str, int, float]:
    """A process's name, process group and CPU seconds (user + system) so far, from its /proc/<pid>/stat."""
    comm, rest = stat.read_text().rsplit(")", 1)
    fields = rest.split()
    return comm.split("(", 1)[1], int(fields[2]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(server_group: int) -> dict[str, float]:
    """CPU time used so far by the server's processes (its process group; also each by its pid, "pid 123"), by
    PostgreSQL's and by this one (the clients), from /proc. Per operation, these say how fast the machine is: the
    same code took a third more on one machine of this kind than on another (docs/api.md, "Speed")."""
    used = {"server": 0.0, "postgresql": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm, group, seconds = process_cpu(entry / "stat")
        except OSError:  # ended meanwhile
            continue
        if group == server_group:
            used["server"] += seconds
            used[f"pid {entry.name}"] = seconds
        elif comm == "postgres":
            used["postgresql"] += seconds
    mine = os.times()
    used["clients"] = mine.user + mine.system
    return used


@dataclass
class Results:
    create: list[float] = field(default_factory=list)
    accept: list[float] = field(default_factory=list)
    finished: list[tuple[float, float]] = field(default_factory=list)  # (when it finished, latency) for --timeline
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float, status: int, expected: int, counted: bool) -> None:
        with self.lock:
            self.finished.append((time.perf_counter(), seconds))  # the warm-up's too
            if not counted:
                return
            if status == expected:
                getattr(self, kind).append(seconds)
            else:
                key = f"{kind} {status}"
                self.errors[key] = self.errors.get(key, 0) + 1


@dataclass
class Phases:
    """The warm-up, then the measured run. The warm-up ends at `warm_end`; every client finishes the request it
    has out, and the measured run starts when all have (`barrier`) with a fresh schedule from `start`, so a cold
    start's lateness is not carried into it. A server that cannot keep the offered rate falls behind again in
    the measured run, and is charged for it there."""

    warm_up_start: float
    warm_end: float
    seconds: float
    parties: int  # the clients and the thread that measures the CPU
    start: float = 0.0  # set when every client has finished its warm-up
    barrier: threading.Barrier = field(init=False)

    def __post_init__(self) -> None:
        self.barrier = threading.Barrier(self.parties, action=self._begin)

    def _begin(self) -> None:
        self.start = time.perf_counter()

    @property
    def stop(self) -> float:
        return self.start + self.seconds


def client(index: int, args: argparse.Namespace, cast: Cast, port: int, phases: Phases, results: Results) -> None:
    token, residents = cast.senders[index % len(cast.senders)]
    receiver = cast.receivers[index % len(cast.receivers)]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    interval = args.clients / args.rate if args.rate else 0.0
    n = 0

    def call(method: str, path: str, body: dict, bearer: str, extra: dict | None = None) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json", **(extra or {})}
        conn.request(method, path, body=json.dumps(body), headers=headers)
        response = conn.getresponse()
        return response.status, response.read()

    def timed(kind: str, expected: int, measured: bool, *request: object) -> bytes | None:
        nonlocal next_at
        if interval:
            wait = next_at - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            began = next_at  # a late start counts against the server
            next_at += interval
        else:
            began = time.perf_counter()
        status, payload = call(*request)  # type: ignore[arg-type]
        results.add(kind, time.perf_counter() - began, status, expected, counted=measured)
        return payload if status == expected else None

    def run(until: float, measured: bool) -> None:
        nonlocal n
        while time.perf_counter() < until:
            n += 1
            made = timed("create", 201, measured, "POST", "/api/referrals",
                         referral_body(residents[n % len(residents)], cast.lead), token,
                         {"Idempotency-Key": str(uuid.uuid4())})
            if made is None or time.perf_counter() >= until:
                continue
            referral = json.loads(made)["uuid"]
            timed("accept", 200, measured, "POST", f"/api/referrals/{referral}/accept",
                  {"version": 1, "slot": cast.slots[(n * args.clients + index) % len(cast.slots)]}, receiver)

    # paced clients are spread evenly over the interval, in both phases
    next_at = phases.warm_up_start + index * interval / args.clients
    run(phases.warm_end, measured=False)
    phases.barrier.wait()
    next_at = phases.start + index * interval / args.clients
    run(phases.stop, measured=True)
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warm-up", type=float, default=15,
                        help="seconds sent (at the offered rate) before measuring: the server starts cold — new "
                             "database connections, statements not yet prepared — and its first second falls "
                             "behind")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rate", type=float, default=200, help="operations/s offered in total; 0: closed loop")
    parser.add_argument("--workers", type=int, default=0,
                        help="gunicorn worker processes (default: countycare.gunicorn_conf's, cores + 1)")
    parser.add_argument("--threads", type=int, default=0,
                        help="threads per worker (default: countycare.gunicorn_conf's, 7)")
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"],
                        help="sync workers close the connection after each answer")
    parser.add_argument("--slots", type=int, default=48,
                        help="clinic sessions accepts book (two per lead-hospital specialist: few sessions make the "
                             "accepts queue on their rows)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--timeline", action="store_true", help="print throughput and latency second by second")
    parser.add_argument("--population", type=int, default=20_000)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/cc_refbench")
    parser.add_argument("--regenerate", action="store_true", help="drop and generate the county again")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        sys.exit("this benchmark is for PostgreSQL")
    if args.regenerate or not database_exists(args.database_url):
        recreate_database(args.database_url)
    os.environ["COUNTYCARE_DATABASE_URL"] = args.database_url
    os.environ.setdefault("COUNTYCARE_DATA_DIR", str(ROOT / "var" / "refbench"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countycare.settings")
    cast = prepare(args)
    autovacuum = vacuum(args.database_url, WRITTEN)
    create_statements, accept_statements = count_statements(cast)
    load_before = os.getloadavg()
    server = start_server(args, args.port)
    try:
        results = Results()
        now = time.perf_counter()
        phases = Phases(warm_up_start=now, warm_end=now + args.warm_up, seconds=args.seconds,
                        parties=args.clients + 1)
        threads = [threading.Thread(target=client, args=(i, args, cast, args.port, phases, results))
                   for i in range(args.clients)]
        for thread in threads:
            thread.start()
        # every client has finished its warm-up: the measured run starts (a client that died breaks the wait)
        phases.barrier.wait(timeout=args.warm_up + 120)
        cpu_start = cpu_seconds(server.pid)
        time.sleep(max(0.0, phases.stop - time.perf_counter()))
        cpu_used = {k: v - cpu_start.get(k, 0.0) for k, v in cpu_seconds(server.pid).items()}
        for thread in threads:
            thread.join()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    done = len(results.create) + len(results.accept)
    offered = f"{args.rate:.0f} ops/s offered" if args.rate else "closed loop"
    from countycare import gunicorn_conf

    print(f"\n{args.clients} clients, {offered}, {args.seconds:.0f} s measured (after {args.warm_up:.0f} s of "
          f"warm-up); gunicorn {args.workers or gunicorn_conf.workers} {args.worker_class} workers × "
          f"{args.threads or gunicorn_conf.threads} threads; {os.cpu_count()} CPUs")
    print(f"operations: {done:,} in {args.seconds:.0f} s = {done / args.seconds:.0f} ops/s "
          f"({len(results.create) / args.seconds:.0f} creates/s, {len(results.accept) / args.seconds:.0f} accepts/s)")
    print(f"{'operation':<10}{'count':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    both = [v * 1000 for v in results.create + results.accept]
    for kind, values in (("create", [v * 1000 for v in results.create]),
                         ("accept", [v * 1000 for v in results.accept]), ("all", both)):
        print(f"{kind:<10}{len(values):>8}{percentile(values, 0.5):>9.1f}{percentile(values, 0.95):>9.1f}"
              f"{percentile(values, 0.99):>9.1f}{max(values, default=float('nan')):>9.1f}")
    print(f"errors: {results.errors or 'none'}")
    warm = [latency * 1000 for at, latency in results.finished if at < phases.start]
    print(f"warm-up (the server started cold; not counted): {len(warm):,} operations, p95 "
          f"{percentile(warm, 0.95):.0f} ms, max {max(warm, default=float('nan')):.0f} ms; its last answers came "
          f"{phases.start - phases.warm_end:.2f} s after its end")
    if args.timeline:
        print("second  ops  p50 ms  p95 ms  max ms   (negative: the warm-up; 'end': its last answers)")
        by_second: dict[int | str, list[float]] = {}
        for at, latency in results.finished:
            second = (math.floor(at - phases.start) if at >= phases.start
                      else math.floor(at - phases.warm_end) if at < phases.warm_end else "end")
            by_second.setdefault(second, []).append(latency * 1000)
        for second in [*range(-int(args.warm_up), 0), "end", *range(int(args.seconds))]:
            window = by_second.get(second, [])
            print(f"{second:>6}{len(window):>5}{percentile(window, 0.5):>8.1f}{percentile(window, 0.95):>8.1f}"
                  f"{max(window, default=float('nan')):>8.1f}")
    print(f"SQL statements (in-process, one of each): create {create_statements}, accept {accept_statements}")
    answered = sum(1 for at, _ in results.finished if 0 <= at - phases.start < args.seconds) or 1
    workers = sorted((seconds for name, seconds in cpu_used.items() if name.startswith("pid ")), reverse=True)
    print("CPU per operation while measured: " + ", ".join(
        f"{name} {cpu_used[name] / answered * 1000:.2f} ms" for name in ("server", "postgresql", "clients"))
        + f" (of {os.cpu_count() * 1000 / max(done / args.seconds, 1):.2f} ms the CPUs had per operation)")
    # one process serves its connections on one GIL: a share far above 1/workers is a process that falls behind
    print("the server's CPU by process (the gunicorn master and its workers): " + " / ".join(
        f"{100 * seconds / (cpu_used['server'] or 1):.0f} %" for seconds in workers)
        + f"; the busiest used {100 * workers[0] / args.seconds:.0f} % of a core" if workers else "")
    print("load average before: {:.2f} {:.2f} {:.2f}; after: {:.2f} {:.2f} {:.2f}".format(*load_before,
                                                                                       *os.getloadavg()))
    print(f"the written tables were vacuumed before the run; autovacuum is {'on' if autovacuum else 'OFF'}")


if __name__ == "__main__":
    main()
