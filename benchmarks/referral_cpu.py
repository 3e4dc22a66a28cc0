"""The CPU one create + accept pair of referrals costs, in process, and the same for another checkout at the same
time: an A/B test that holds on machines whose speed drifts.

    python benchmarks/referral_cpu.py [--pairs 400] [--rounds 4]
        [--against /path/to/other/checkout] [--database-url postgresql://postgres@127.0.0.1:5432/cc_refbench]

Each pair is what `benchmarks/referral_api.py` sends (POST /api/referrals, then accept booking a clinic slot),
through Django's test client in one process: the server's code path less HTTP and threads. Per round it prints
the Python CPU of this process and the CPU of its PostgreSQL session, per pair. Uses the county of
`referral_api.py` (run that once first; it makes cc_refbench).

Why: on these 2-core machines the same build ran at 204 to 282 operations a second in closed-loop runs a few
minutes apart, and in-process CPU per pair moved from 7.2 to 10.9 ms within an hour. Runs taken one after the
other cannot tell a 10 % change from that drift. With `--against`, the other checkout (a `git worktree` of the
commit to compare with) runs the same rounds in a second process at the same time: both see the same machine, one
core each, and the figures of a round compare directly (docs/api.md, "Speed").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from pgdatabase import database_exists

HERE = Path(__file__).resolve().parent


def measure(args: argparse.Namespace) -> None:
    """Run the rounds in this process and print one JSON line per round."""
    import django

    django.setup()
    import referral_api
    from django.db import connection
    from django.test import Client

    cast = referral_api.prepare(argparse.Namespace(population=20_000, slots=4))
    client = Client()

    def pair(i: int) -> None:
        token, residents = cast.senders[i % len(cast.senders)]
        created = referral_api.post_in_process(
            client, "/api/referrals", referral_api.referral_body(residents[i % len(residents)], cast.lead), token,
            **{"Idempotency-Key": str(uuid.uuid4())})
        assert created.status_code == 201, created.content
        accepted = referral_api.post_in_process(
            client, f"/api/referrals/{created.json()['uuid']}/accept",
            {"version": 1, "slot": cast.slots[i % len(cast.slots)]}, cast.receivers[i % len(cast.receivers)])
        assert accepted.status_code == 200, accepted.content

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        stat = Path(f"/proc/{cursor.fetchone()[0]}/stat")

    def session_cpu() -> float:
        return referral_api.process_cpu(stat)[2]

    for i in range(100):  # statements prepared, caches warm
        pair(i)
    for _ in range(args.rounds):
        print("ready", flush=True)
        sys.stdin.readline()  # every checkout starts the round at once
        python, postgresql = time.process_time(), session_cpu()
        for i in range(args.pairs):
            pair(i)
        print(json.dumps({"python": 1000 * (time.process_time() - python) / args.pairs,
                          "postgresql": 1000 * (session_cpu() - postgresql) / args.pairs}), flush=True)


def _wait_for(child: subprocess.Popen, start: str, name: str) -> str:
    """The child's next output line that starts with `start` (set-up output is skipped)."""
    for line in child.stdout:
        if line.startswith(start):
            return line
    sys.exit(f"{name}: the measuring process ended early ({child.wait()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=400, help="create + accept pairs per round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--against", type=Path, help="another checkout to run alongside (its src/ is imported)")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/cc_refbench")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)  # a child: run the rounds
    args = parser.parse_args()
    if args.measure:
        measure(args)
        return
    if not database_exists(args.database_url):
        sys.exit(f"no benchmark county at {args.database_url}: run benchmarks/referral_api.py once first")
    env = {**os.environ, "COUNTYCARE_DATABASE_URL": args.database_url, "COUNTYCARE_LOG_LEVEL": "ERROR",
           "COUNTYCARE_DATA_DIR": os.environ.get("COUNTYCARE_DATA_DIR", str(HERE.parent / "var" / "refbench")),
           "DJANGO_SETTINGS_MODULE": "countycare.settings"}
    checkouts = {"this checkout": HERE.parent}
    if args.against:
        checkouts[f"against {args.against}"] = args.against.resolve()
    children = {}
    for name, root in checkouts.items():
        # this script and its set-up for both; the project's code from each checkout
        command = [sys.executable, str(Path(__file__).resolve()), "--measure", "--pairs", str(args.pairs),
                   "--rounds", str(args.rounds)]
        children[name] = subprocess.Popen(command, env={**env, "PYTHONPATH": str(root / "src")}, cwd=root,
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in children}
    for _ in range(args.rounds):
        for name, child in children.items():
            _wait_for(child, "ready", name)
        for child in children.values():
            child.stdin.write("go\n")
            child.stdin.flush()
        for name, child in children.items():
            rounds[name].append(json.loads(_wait_for(child, "{", name)))
    for child in children.values():
        child.stdin.close()
        child.wait()
    print(f"CPU per create + accept pair, in process ({args.pairs} pairs a round"
          f"{', the checkouts side by side' if args.against else ''}):")
    print(f"{'round':>5}  " + "  ".join(f"{name:>34}" for name in rounds))
    print(f"{'':>5}  " + "  ".join(f"{'Python / PostgreSQL ms':>34}" for _ in rounds))
    for i in range(args.rounds):
        print(f"{i + 1:>5}  " + "  ".join(f"{r[i]['python']:>25.2f} / {r[i]['postgresql']:>5.2f}"
                                          for r in rounds.values()))
    print(f"{'mean':>5}  " + "  ".join(
        f"{sum(x['python'] for x in r) / len(r):>25.2f} / {sum(x['postgresql'] for x in r) / len(r):>5.2f}"
        for r in rounds.values()))


if __name__ == "__main__":
    main()
