"""Agreement of the ECG pre-read (`countycare.diagnostics.ecg.analyse`) with recordings of known rate and rhythm.

    python benchmarks/ecg_agreement.py [--seeds 4] [--rates 35,40,...] [--sample-rates 500,250,1000]

A grid of simulated 10-second 12-lead recordings (`ecg.simulate`): every rhythm (sinus, af, wide_qrs, noisy; brady
and tachy are sinus below 50 / above 100) at every rate, several seeds, at each sampling rate. Prints heart-rate
agreement (mean absolute error, share within ±5/min), the rhythm and flag agreement (AF sensitivity and
specificity, bradycardia/tachycardia, wide QRS, poor signal, critical), the intervals against the simulated ones
and the pre-read time. The figures go in docs/ecg-preread.md.

No open annotated ECG record ships with the installed packages (neurokit2's `data()` and wfdb's sample records
download from the network, which this project does not use): the sample-record part reports that and is
skipped.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections import defaultdict

import numpy as np

# Rates clear of the flag thresholds (40, 50, 100, 120, 150): at a threshold a ±1/min error decides either way.
DEFAULT_RATES = (35, 38, 45, 48, 55, 60, 70, 75, 85, 95, 105, 115, 125, 140, 160, 175)


def truth_intervals(heart_rate: float, wide: bool) -> tuple[float, float, float]:
    """The simulated PR, QRS and QT (ms): where the noise-free waves are visible (≥ 0.025 mV)."""
    from countycare.diagnostics import ecg

    truth = ecg.simulated_intervals(heart_rate, wide=wide)
    return truth["pr"], truth["qrs"], truth["qt"]


def neurokit2_own(rates: list[float], seeds: int) -> None:
    """neurokit2's own 12-lead simulation (ECGSYN with its default waves and per-lead gains, normalised per lead):
    another generator than ours, with unusual shapes (lead II with a small QRS and a tall T wave). Only the
    rate, the regularity and false flags are scored: its intervals are not known in ms."""
    import neurokit2 as nk

    from countycare.diagnostics import ecg

    errors, irregular, poor, critical_wrong, n = [], 0, 0, 0, 0
    for hr in rates:
        for seed in range(min(seeds, 2)):
            df = nk.ecg_simulate(duration=10, sampling_rate=500, heart_rate=hr, method="multileads", random_state=seed)
            pre = ecg.analyse(ecg.Recording(500, list(df.columns), df.to_numpy()))
            n += 1
            if pre.heart_rate is not None:
                errors.append(abs(pre.heart_rate - hr))
            irregular += "irregular" in pre.flags
            poor += "poor_signal" in pre.flags
            critical_wrong += pre.critical != (hr < 40 or hr > 150)
    within = sum(e <= 5 for e in errors)
    print(f"\n== neurokit2's own 12-lead simulation (method='multileads'), {n} recordings at 500 Hz")
    print(f"heart rate: MAE {statistics.mean(errors):.2f}/min, within ±5/min {within}/{n} ({100 * within / n:.1f} %); "
          f"flagged irregular {irregular}/{n}, poor_signal {poor}/{n}, critical wrong {critical_wrong}/{n}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--rates", default=",".join(map(str, DEFAULT_RATES)))
    parser.add_argument("--sample-rates", default="500,250,1000")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from countycare.diagnostics import ecg

    rates = [float(r) for r in args.rates.split(",")]
    sample_rates = [int(s) for s in args.sample_rates.split(",")]
    rows = []
    t0 = time.perf_counter()
    for fs in sample_rates:
        for rhythm in ("sinus", "af", "wide_qrs", "noisy"):
            for hr in rates:
                for seed in range(args.seeds):
                    rec = ecg.simulate(heart_rate=hr, rhythm=rhythm, sample_rate=fs, seed=seed)
                    pre = ecg.analyse(rec)
                    rows.append((fs, rhythm, hr, seed, pre))
    wall = time.perf_counter() - t0
    print(f"{len(rows)} simulated recordings (10 s, 12 leads) analysed in {wall:.1f} s\n")

    def report(label: str, subset: list) -> None:
        if not subset:
            return
        clean = [r for r in subset if r[1] != "noisy"]
        measured = [r for r in clean if r[4].heart_rate is not None]
        errors = [abs(r[4].heart_rate - r[2]) for r in measured]
        within = sum(e <= 5 for e in errors)
        print(f"== {label}: {len(subset)} recordings")
        if errors:
            print(f"heart rate (not noisy, n={len(clean)}): MAE {statistics.mean(errors):.2f}/min, "
                  f"max {max(errors):.1f}, within ±5/min {within}/{len(clean)} ({100 * within / len(clean):.1f} %)")
        noisy = [r for r in subset if r[1] == "noisy" and r[4].heart_rate is not None]
        if noisy:
            e = [abs(r[4].heart_rate - r[2]) for r in noisy]
            w = sum(x <= 5 for x in e)
            print(f"heart rate (noisy, n={len(noisy)}): MAE {statistics.mean(e):.2f}/min, within ±5/min "
                  f"{w}/{len(noisy)} ({100 * w / len(noisy):.1f} %)")

        def confusion(name: str, truth, predicted, population) -> None:
            tp = sum(1 for r in population if truth(r) and predicted(r))
            fn = sum(1 for r in population if truth(r) and not predicted(r))
            fp = sum(1 for r in population if not truth(r) and predicted(r))
            tn = sum(1 for r in population if not truth(r) and not predicted(r))
            sens = f"{100 * tp / (tp + fn):.1f} %" if tp + fn else "n/a"
            spec = f"{100 * tn / (tn + fp):.1f} %" if tn + fp else "n/a"
            acc = 100 * (tp + tn) / max(1, len(population))
            print(f"{name:<34} sensitivity {sens:>8} ({tp}/{tp + fn})  specificity {spec:>8} ({tn}/{tn + fp})  "
                  f"accuracy {acc:.1f} %")

        def has(flag):
            return lambda r: flag in r[4].flags

        confusion("irregular (AF) vs simulated AF", lambda r: r[1] == "af", has("irregular"), clean)
        confusion("bradycardia (<50) vs rate", lambda r: r[2] < 50, has("bradycardia"), clean)
        confusion("tachycardia (>100) vs rate", lambda r: r[2] > 100, has("tachycardia"), clean)
        confusion("wide_qrs vs simulated wide QRS", lambda r: r[1] == "wide_qrs", has("wide_qrs"), clean)
        confusion("poor_signal vs simulated noise", lambda r: r[1] == "noisy", has("poor_signal"), subset)

        def critical_truth(r) -> bool:
            hr, rhythm = r[2], r[1]
            return hr < 40 or hr > 150 or (rhythm in ("af", "wide_qrs") and hr > 120)

        confusion("critical vs HR<40,>150,AF/wide>120", critical_truth, lambda r: r[4].critical, clean)
        for name, index in (("PR", 0), ("QRS", 1), ("QT", 2)):
            diffs = []
            missing = 0
            for r in clean:
                if name == "PR" and r[1] == "af":
                    continue
                value = (r[4].pr_ms, r[4].qrs_ms, r[4].qt_ms)[index]
                if value is None:
                    missing += 1
                    continue
                diffs.append(value - truth_intervals(r[2], r[1] == "wide_qrs")[index])
            if diffs:
                print(f"{name:<4} measured − simulated: mean {statistics.mean(diffs):+.0f} ms, "
                      f"MAE {statistics.mean(abs(d) for d in diffs):.0f} ms, not measured {missing}")
        times = [r[4].elapsed_ms for r in subset]
        print(f"elapsed_ms p50 {statistics.median(times):.0f}, max {max(times)}\n")

    report("all sampling rates", rows)
    for fs in sample_rates:
        report(f"{fs} Hz", [r for r in rows if r[0] == fs])
    misses = [r for r in rows if r[1] != "noisy" and (r[4].heart_rate is None or abs(r[4].heart_rate - r[2]) > 5)]
    for fs, rhythm, hr, seed, pre in misses[:10]:
        print(f"rate off by > 5/min: {fs} Hz {rhythm} {hr:g}/min seed {seed}: {pre.heart_rate} {pre.flags}")
    for fs, _rhythm, hr, seed, pre in [r for r in rows if r[1] == "af" and "irregular" not in r[4].flags][:10]:
        print(f"AF not flagged: {fs} Hz {hr:g}/min seed {seed}: rate {pre.heart_rate}, RR CV {pre.rr_cv}, "
              f"PR {pre.pr_ms}")
    false_critical = [r for r in rows if r[1] != "noisy" and r[4].critical
                      and not (r[2] < 40 or r[2] > 150 or (r[1] in ("af", "wide_qrs") and r[2] > 120))]
    for fs, rhythm, hr, seed, pre in false_critical[:10]:
        print(f"critical without a critical simulation: {fs} Hz {rhythm} {hr:g}/min seed {seed}: "
              f"rate {pre.heart_rate}, QT {pre.qt_ms}, QTc {pre.qtc_ms}, {pre.flags}")
    by_rhythm = defaultdict(list)
    for r in rows:
        by_rhythm[r[1]].append(r[4].signal_quality)
    print("signal quality by rhythm: " + ", ".join(
        f"{k} median {np.median(v):.2f} min {min(v):.2f}" for k, v in by_rhythm.items()))
    neurokit2_own(rates, args.seeds)
    print("\nopen sample records: none ships with the installed packages (neurokit2 and wfdb fetch theirs from "
          "the network); skipped")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
