"""FA2 benchmarks: optimality against brute force, solve time, savings on the Twitter patterns.

Run from the repository root:

    SSLOSERVE_DATA=/work/shared/data .venv/bin/python benchmarks/bench_fa2.py

Prints markdown tables (recorded in benchmarks/fa2.md). Times are ratios within one run
or medians of repeats on this (shared, noisy) machine.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

from ssloserve import fa2
from ssloserve.errors import InfeasibleError
from ssloserve.latency import LatencyModel
from ssloserve.pipeline import Pipeline, Stage, Variant
from ssloserve.traces import segment
from ssloserve.workloads import Workload


def same(f, g, args):
    """Both infeasible, or both feasible with equal cost."""
    try:
        a = f(*args)
    except InfeasibleError:
        a = None
    try:
        b = g(*args)
    except InfeasibleError:
        b = None
    if a is None or b is None:
        return a is None and b is None
    return abs(a.cost - b.cost) < 1e-9


def timed(f, args, repeat=1):
    best = []
    for _ in range(repeat):
        t = time.perf_counter()
        try:
            f(*args)
        except InfeasibleError:
            pass
        best.append(time.perf_counter() - t)
    return float(np.median(best))


def optimality(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    insts = [fa2.random_chain_instance(rng) for _ in range(n)]
    exact = sum(same(fa2.solve_chain, fa2.brute_force_chain, a) for a in insts)
    grid = sum(same(fa2.solve_chain_grid, fa2.brute_force_chain, a) for a in insts)
    infeasible = 0
    for a in insts:
        try:
            fa2.brute_force_chain(*a)
        except InfeasibleError:
            infeasible += 1
    # interleaved, instance by instance, so that load from other jobs hits all three alike
    t_dp = t_grid = t_bf = 0.0
    for a in insts:
        t_dp += timed(fa2.solve_chain, a)
        t_grid += timed(fa2.solve_chain_grid, a)
        t_bf += timed(fa2.brute_force_chain, a)
    combos = np.mean([np.prod([len(t) for t in a[0]]) for a in insts])
    return (
        pd.DataFrame(
            [
                ("exact Pareto DP (solve_chain)", 100 * exact / n, t_dp / n * 1e3, t_bf / t_dp),
                (
                    "1-ms grid DP (solve_chain_grid)",
                    100 * grid / n,
                    t_grid / n * 1e3,
                    t_bf / t_grid,
                ),
                ("brute force", 100.0, t_bf / n * 1e3, 1.0),
            ],
            columns=[
                "planner",
                "matches brute force %",
                "mean solve ms",
                "speed-up vs brute force",
            ],
        ).set_index("planner"),
        infeasible,
        combos,
    )


def random_dag(rng: np.random.Generator) -> Pipeline:
    """source -> (2-3 parallel branches of 1-2 stages) -> join -> sink, or, half the time,
    two fan-outs in a row with no join between them: source -> (2-3 stages) -> (2-3 stages)
    -> join, every stage of the first fan-out feeding every stage of the second."""
    names, edges = ["s0"], []

    def new_stage(preds):
        n = f"s{len(names)}"
        names.append(n)
        edges.extend((p, n) for p in preds)
        return n

    if rng.random() < 0.5:
        first = [new_stage(["s0"]) for _ in range(int(rng.integers(2, 4)))]
        ends = [new_stage(first) for _ in range(int(rng.integers(2, 4)))]
    else:
        ends = []
        for _ in range(int(rng.integers(2, 4))):
            prev = "s0"
            for _ in range(int(rng.integers(1, 3))):
                prev = new_stage([prev])
            ends.append(prev)
    new_stage(ends)
    stages = [
        Stage(
            n,
            (Variant("v", 1.0, LatencyModel(*rng.uniform(0, 30, 3), rng.uniform(1, 20))),),
            max_batch=3,
        )
        for n in names
    ]
    return Pipeline(stages, edges)


def dag_optimality(n: int, seed: int):
    rng = np.random.default_rng(seed)
    ok, t_plan, t_bf = 0, 0.0, 0.0
    for _ in range(n):
        p = random_dag(rng)
        rate = float(rng.uniform(1, 80))
        slo = float(rng.uniform(50, 400))
        args = (p, rate, slo)
        ok += same(fa2.plan, fa2.brute_force, args)
        t_plan += timed(fa2.plan, args)
        t_bf += timed(fa2.brute_force, args)
    return 100 * ok / n, t_bf / t_plan


def big_chain(seed: int):
    rng = np.random.default_rng(seed)
    lat = []
    for _ in range(10):
        gamma, delta, eps, eta = (
            rng.uniform(5, 40),
            rng.uniform(0, 8),
            rng.uniform(10, 60),
            rng.uniform(1, 30),
        )
        lat.append({b: gamma * b + delta * b + eps + eta for b in range(1, 33)})
    lo = sum(min(t.values()) for t in lat)
    args = (lat, 50.0, 2.5 * lo)
    t_dp = timed(fa2.solve_chain, args, repeat=5)
    t_grid = timed(fa2.solve_chain_grid, args, repeat=5)
    dp, grid = fa2.solve_chain(*args), fa2.solve_chain_grid(*args)
    return t_dp, t_grid, dp.cost, grid.cost, 32**10


def savings(quick: bool, seed: int) -> pd.DataFrame:
    p = fa2.video_pipeline()
    slo = 780.0
    rows = []
    for name in ("bursty", "steady_low", "steady_high", "fluctuating"):
        seg = segment(name, seed=seed)
        rates = seg.rates[:300] if quick else seg.rates
        w = Workload.from_rates(rates, seed=seed, slo_ms=slo)
        summ, _ = fa2.compare(p, w, fa2.systems(p, rates, slo))
        for sysname, r in summ.iterrows():
            rows.append(
                dict(
                    pattern=f"{name} ({seg.source})",
                    system=sysname,
                    core_seconds=round(r.core_seconds),
                    violation_pct=round(r.violation_pct, 2),
                    saving_vs_split_pct=round(r.saving_vs_split_pct, 1),
                )
            )
    return pd.DataFrame(rows)


def _sources():
    """The bursty pattern's sources to compare: the real trace when present, and the synthetic
    stand-in the chapter uses when it is absent."""
    out = ["synthetic"]
    if segment("bursty").source == "twitter":
        out.insert(0, "twitter")
    return out


def seed_robustness(seeds: int, quick: bool) -> pd.DataFrame:
    """FA2 against SLO splitting on the bursty pattern with different arrival seeds."""
    p = fa2.video_pipeline()
    slo = 780.0
    rows = []
    for src in _sources():
        rates = segment("bursty", source=src).rates
        rates = rates[:300] if quick else rates
        for seed in range(seeds):
            w = Workload.from_rates(rates, seed=seed, slo_ms=slo)
            summ, _ = fa2.compare(p, w, fa2.systems(p, rates, slo, include=("FA2", "SLO split")))
            fa, sp = summ.loc["FA2"], summ.loc["SLO split"]
            rows.append(
                dict(
                    source=src,
                    seed=seed,
                    saving_pct=round(fa.saving_vs_split_pct, 2),
                    fa2_violation_pct=round(fa.violation_pct, 3),
                    split_violation_pct=round(sp.violation_pct, 3),
                    fewer_core_s_and_no_more_violations=bool(
                        fa.core_seconds < sp.core_seconds and fa.violation_pct <= sp.violation_pct
                    ),
                )
            )
    return pd.DataFrame(rows)


#: Planning margins tried for both planners alike (FA2Policy / SLOSplitPolicy keywords).
MARGINS = {
    "default: headroom 1.2, SLO safety 0.8, mean batch delay": {},
    "SLO safety 0.7": dict(slo_safety=0.7),
    "headroom 1.4": dict(headroom=1.4),
    "p99 batch delay, SLO safety 0.8": dict(options=fa2.PlanOptions(batch_delay="p99")),
    "p99 batch delay, SLO safety 0.9": dict(
        options=fa2.PlanOptions(batch_delay="p99"), slo_safety=0.9
    ),
    "p99 batch delay, SLO safety 1.0": dict(
        options=fa2.PlanOptions(batch_delay="p99"), slo_safety=1.0
    ),
}


def margins(seeds: int, quick: bool) -> pd.DataFrame:
    """Does some planning margin, the same for both planners, give FA2 its saving with no
    more violations than splitting on every arrival seed? One row per margin and source."""
    p = fa2.video_pipeline()
    slo = 780.0
    rows = []
    for label, kw in MARGINS.items():
        for src in _sources():
            rates = segment("bursty", source=src).rates
            rates = rates[:300] if quick else rates
            sav, vf, vs = [], [], []
            for seed in range(seeds):
                w = Workload.from_rates(rates, seed=seed, slo_ms=slo)
                pols = fa2.systems(p, rates, slo, include=("FA2", "SLO split"), **kw)
                summ, _ = fa2.compare(p, w, pols, progress=False)
                sav.append(summ.loc["FA2", "saving_vs_split_pct"])
                vf.append(summ.loc["FA2", "violation_pct"])
                vs.append(summ.loc["SLO split", "violation_pct"])
            vf, vs = np.array(vf), np.array(vs)
            rows.append(
                dict(
                    margin=label,
                    source=src,
                    saving_pct=round(float(np.mean(sav)), 2),
                    fa2_violation_pct=f"{vf.min():.3f}-{vf.max():.3f}",
                    split_violation_pct=f"{vs.min():.3f}-{vs.max():.3f}",
                    seeds_fa2_no_more=f"{int((vf <= vs).sum())}/{seeds}",
                    max_excess_pp=round(float((vf - vs).max()), 3),
                )
            )
    return pd.DataFrame(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="random chain instances")
    ap.add_argument("--dags", type=int, default=200, help="random series-parallel DAGs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="300-s patterns, fewer instances")
    a = ap.parse_args(argv)
    if a.quick:
        a.n, a.dags = min(a.n, 100), min(a.dags, 20)

    table, infeasible, combos = optimality(a.n, a.seed)
    print(
        f"## Optimality on {a.n} random chains (2-5 stages, 4-8 batch sizes; "
        f"{infeasible} infeasible; {combos:.0f} plans on average)\n"
    )
    print(table.round(3).to_markdown())
    share, speed = dag_optimality(a.dags, a.seed)
    print(
        f"\nplan (to_chain + DP) vs brute force on {a.dags} random series-parallel DAGs "
        f"(4-8 stages): {share:.1f}% equal optimum; brute force / plan time = {speed:.1f}x"
    )
    t_dp, t_grid, c_dp, c_grid, n = big_chain(a.seed)
    print(f"\n## 10-stage chain, 32 batch sizes each ({n:.2e} plans)\n")
    print(
        f"solve_chain: {t_dp * 1e3:.1f} ms (cost {c_dp:g}); "
        f"solve_chain_grid: {t_grid * 1e3:.1f} ms (cost {c_grid:g}); median of 5"
    )
    print(
        "\n## Video pipeline (YOLOv5s -> ResNet50, SLO 780 ms) on the four Twitter patterns, "
        "simulator\n"
    )
    sv = savings(a.quick, a.seed)
    print(sv.to_markdown(index=False))
    fa = sv[sv.system == "FA2"]
    print(
        f"\nmean saving of FA2 vs per-stage SLO splitting: {fa.saving_vs_split_pct.mean():.1f}% "
        f"(FA2 violations {fa.violation_pct.min():.2f}-{fa.violation_pct.max():.2f}%)"
    )
    rob = seed_robustness(5, a.quick)
    print("\n## Bursty pattern, FA2 vs SLO split, five arrival seeds\n")
    print(rob.to_markdown(index=False))
    print("\n## Bursty pattern: the same planning margin for both planners, five arrival seeds\n")
    print(margins(5, a.quick).to_markdown(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
