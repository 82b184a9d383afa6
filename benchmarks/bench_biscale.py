"""Biscale benchmarks: the plans against brute force; Biscale against horizontal-only,
vertical-only and InferLine-like scaling on the four Twitter patterns, the step load and
the drop limits (PAPERS.md 4; chapter 04_biscale).

Run from the repository root:

    SSLOSERVE_DATA=/work/shared/data nice .venv/bin/python benchmarks/bench_biscale.py

Prints markdown tables (recorded in benchmarks/biscale.md). Every run is in the simulator,
seeded; the cold start and resize delay are the runtime's defaults (the emulator's measured
values) unless a table says otherwise. ``--quick``: 100 instances, the first 300 s of each
pattern.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

from ssloserve import biscale
from ssloserve.biscale import experiments as ex
from ssloserve.errors import InfeasibleError
from ssloserve.runtime.options import EMU_COLD_START_S, EMU_COSTS_SOURCE, EMU_RESIZE_DELAY_MS


def _timed(f, *args, **kw):
    t = time.perf_counter()
    try:
        out = f(*args, **kw)
    except InfeasibleError:
        out = None
    return out, time.perf_counter() - t


def _same(a, b) -> bool:
    """Both infeasible, or both feasible at the same cost."""
    if a is None or b is None:
        return a is None and b is None
    return a.cost == b.cost


def plans_vs_brute_force(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        p, lam, slo, reps, cap = biscale.random_instance(rng)
        h, th = _timed(biscale.horizontal_plan, p, lam, 1.5 * slo)
        hb, thb = _timed(biscale.brute_force_horizontal, p, lam, 1.5 * slo)
        v, tv = _timed(biscale.vertical_plan, p, lam, slo, reps, cap)
        vb, tvb = _timed(biscale.brute_force_vertical, p, lam, slo, reps, cap)
        vb = None if vb is None else vb[0]
        rows.append(
            dict(
                h_match=_same(h, hb),
                v_match=_same(v, vb),
                v_feasible=vb is not None,
                h_s=th,
                hb_s=thb,
                v_s=tv,
                vb_s=tvb,
            )
        )
    return pd.DataFrame(rows)


#: Every system: the four of the chapter and vertical scaling on one replica per stage.
ALL = ex.SYSTEMS + (ex.VERTICAL_ONE,)


def fmt(df: pd.DataFrame, digits: int = 2) -> str:
    return df.round(digits).to_markdown(index=False)


def emulator_steps(seed: int) -> None:
    """The step load at this machine's scale, in the emulator (sleep replicas)."""
    hold = 30
    rates = ex.step_rates(4, 24, 4, hold_s=hold)
    inc = ("Biscale", "horizontal only", "vertical only")
    t0 = time.perf_counter()
    summ, per_s = ex.step_experiment(
        include=inc, rates_rps=rates, seed=seed, runtime="emu", node_cores=64.0, drain_s=5.0
    )
    print("## Step load 4 -> 24 RPS (steps of 4 every 30 s), emulator, sleep replicas\n")
    print(fmt(summ.reset_index(), 3))
    per_s["step_rps"] = (per_s["second"] // hold + 1) * 4
    for what, col, d in (("Violation %", "violation_pct", 2), ("Mean cores", "cores", 1)):
        tab = per_s.pivot_table(index="step_rps", columns="system", values=col)
        print(f"\n{what} by step:\n")
        print(tab.round(d).reset_index().to_markdown(index=False))
    print(f"\n({time.perf_counter() - t0:.0f} s)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--emu", action="store_true", help="only the emulator's step load")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.emu:
        emulator_steps(args.seed)
        return 0
    n = 100 if args.quick else 400
    dur = 300 if args.quick else None
    t_all = time.perf_counter()
    print(
        f"Simulator defaults: cold start {EMU_COLD_START_S:.2f} s, resize delay "
        f"{EMU_RESIZE_DELAY_MS:.2f} ms ({EMU_COSTS_SOURCE})\n"
    )

    t = plans_vs_brute_force(n, args.seed)
    print(
        f"## Plans against brute force ({n} random instances, {int(t.v_feasible.sum())} feasible)\n"
    )
    print(
        fmt(
            pd.DataFrame(
                [
                    dict(
                        plan="horizontal_plan",
                        matches_pct=100 * t.h_match.mean(),
                        mean_ms=1e3 * t.h_s.mean(),
                        brute_ms=1e3 * t.hb_s.mean(),
                    ),
                    dict(
                        plan="vertical_plan",
                        matches_pct=100 * t.v_match.mean(),
                        mean_ms=1e3 * t.v_s.mean(),
                        brute_ms=1e3 * t.vb_s.mean(),
                    ),
                ]
            ),
            3,
        )
    )

    print("\n## Video pipeline (YOLOv5n -> ResNet18, SLO 780 ms, up to 8 cores), four patterns\n")
    t0 = time.perf_counter()
    pats = ex.compare_patterns(include=ALL, duration_s=dur, seed=args.seed)
    print(fmt(pats))
    print(f"\n({time.perf_counter() - t0:.0f} s)\n\nBiscale against each baseline:\n")
    print(fmt(ex.headline(pats), 3))

    print("\n## Step load 20 -> 120 RPS (steps of 20 every 60 s)\n")
    summ, per_s = ex.step_experiment(include=ALL, seed=args.seed)
    print(fmt(summ.reset_index()))
    per_s["step_rps"] = (per_s["second"] // 60 + 1) * 20
    steps = per_s.pivot_table(index="step_rps", columns="system", values="violation_pct")
    print("\nViolation % by step:\n")
    print(steps.round(2).reset_index().to_markdown(index=False))
    cores = per_s.pivot_table(index="step_rps", columns="system", values="cores")
    print("\nMean cores by step:\n")
    print(cores.round(1).reset_index().to_markdown(index=False))

    print("\n## Drop limits (every pattern)\n")
    drops = ex.compare_drop_limits(
        pattern="bursty", limits=("1x SLO", "3x SLO"), include=ALL, duration_s=dur, seed=args.seed
    )
    for pat in ex.PATTERNS[1:]:
        more = ex.compare_drop_limits(
            pattern=pat, limits=("1x SLO", "3x SLO"), include=ALL, duration_s=dur, seed=args.seed
        )
        drops = pd.concat([drops, more], ignore_index=True)
    none = pats.copy()
    none.insert(0, "drop", "none")
    drops = pd.concat([drops, none], ignore_index=True)
    agg = drops.groupby(["drop", "system"], sort=False)[
        ["violation_pct", "dropped_pct", "core_seconds"]
    ].mean()
    print("Mean over the four patterns:\n")
    print(fmt(agg.reset_index()))

    print("\n## Cold start (bursty and fluctuating, no drop limit)\n")
    frames = []
    for cold in (EMU_COLD_START_S, 5.0, 10.0):
        for pat in ("bursty", "fluctuating"):
            c = ex.compare_patterns((pat,), ALL, duration_s=dur, seed=args.seed, cold_start_s=cold)
            c.insert(0, "cold_start_s", round(cold, 2))
            frames.append(c)
    cold = pd.concat(frames, ignore_index=True)
    print(fmt(cold.drop(columns=["source", "p99_ms", "dropped_pct"])))
    cold["case"] = cold["cold_start_s"].astype(str) + " s " + cold["pattern"]
    print("\n" + fmt(ex.headline(cold, by="case"), 3))
    print(f"\nTotal {time.perf_counter() - t_all:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
