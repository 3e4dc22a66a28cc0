"""Time of the ECG pre-read (`countycare.diagnostics.ecg.analyse`) on one core.

    python benchmarks/ecg_preread.py [--records 50] [--repeat 3] [--cpu 0] [--sample-rate 500]

Simulates `--records` 10-second 12-lead recordings (sinus, AF, wide QRS and noisy at rates from 40 to 170/min),
pins the process to one CPU with os.sched_setaffinity, imports neurokit2 once (not timed: a worker process pays
it once, ~1.5–2 s), then times `analyse` on each recording `--repeat` times with time.perf_counter and prints
p50 / p95 / max in ms. Target (issue #4): under 200 ms for 10 s × 12 leads × 500 Hz on one core.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cpu", type=int, default=0)
    parser.add_argument("--sample-rate", type=int, default=500)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")

    started = time.perf_counter()
    import neurokit2  # noqa: F401

    from countycare.diagnostics import ecg

    import_s = time.perf_counter() - started
    rhythms = ("sinus", "af", "wide_qrs", "noisy")
    records = []
    for i in range(args.records):
        rhythm = rhythms[i % len(rhythms)]
        rate = 40 + (i * 37) % 131  # 40..170/min
        records.append((rhythm, rate, ecg.simulate(heart_rate=rate, rhythm=rhythm, sample_rate=args.sample_rate,
                                                   seed=i)))
    ecg.analyse(records[0][2])  # warm caches (first call of scipy/neurokit2 paths)
    times, reported = [], []
    by_rhythm: dict[str, list[float]] = {r: [] for r in rhythms}
    for _ in range(args.repeat):
        for rhythm, _rate, rec in records:
            t0 = time.perf_counter()
            pre = ecg.analyse(rec)
            ms = (time.perf_counter() - t0) * 1000
            times.append(ms)
            reported.append(pre.elapsed_ms)
            by_rhythm[rhythm].append(ms)
    shape = records[0][2].signals.shape
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "n/a"
    print(f"recordings: {args.records} × {args.repeat} runs, {shape[0]} samples × {shape[1]} leads "
          f"({args.sample_rate} Hz, {shape[0] / args.sample_rate:g} s); CPU affinity {affinity}; "
          f"neurokit2 import {import_s:.2f} s (once per process, not timed)")
    print(f"analyse: p50 {statistics.median(times):.1f} ms, p95 {percentile(times, 95):.1f} ms, "
          f"max {max(times):.1f} ms, mean {statistics.mean(times):.1f} ms")
    print("by rhythm (p50 / max ms): " + ", ".join(
        f"{r} {statistics.median(v):.1f} / {max(v):.1f}" for r, v in by_rhythm.items()))
    print(f"elapsed_ms as stored (p50/max): {statistics.median(reported):.0f} / {max(reported)}")
    verdict = "meets" if percentile(times, 95) < 200 else "MISSES"
    print(f"target < 200 ms at p95: {verdict}")


if __name__ == "__main__":
    main()
