"""Simulated requests per wall second: ssloserve's simulator against idiomatic SimPy.

Run from the repository root (results go to benchmarks/sim.md by hand); the real Twitter
trace is read from ``$SSLOSERVE_DATA/workload/twitter_workload_per_second.tbz2``::

    SSLOSERVE_DATA=/work/shared/data nice .venv/bin/python benchmarks/bench_sim.py
    nice .venv/bin/python benchmarks/bench_sim.py --quick    # smaller, 1 round
    SSLOSERVE_DATA=/work/shared/data nice .venv/bin/python benchmarks/bench_sim.py \
        --twitter-child --events                             # the replay through the event loop

Cases (same arrivals for both; SimPy models in ``benchmarks/simpy_models.py``):

- ``M/M/1``: one FIFO server, rho = 0.8
- ``M/M/4``: four FIFO servers, rho = 0.8
- ``batching``: one server taking up to 8 queued requests, l(k) = 2 + 1.5 k ms, rho ~ 0.8
- ``EDF+drop``: one EDF server at 1.2x overload dropping requests that cannot finish
  (SimPy: a process per request on a ``PriorityResource``, the textbook way)
- ``EDF+drop mixed``: the same with budgets of 50, 100 or 200 ms at random (with one
  budget EDF order is arrival order and the simulator skips the heap; here it cannot)
- ``EDF+drop (1 process)``: the same against a hand-optimised SimPy model (one server
  process and a heap; a dropped request costs SimPy nothing), for a harder comparison

SimPy and ssloserve run interleaved (SimPy, ssloserve fast path, ssloserve event loop, ...)
and the best of the rounds is kept for each, so machine noise hits both alike; the table
reports rates and the ratio. ``ssloserve (events)`` forces the general event loop (what a
non-Static policy gets). Then the whole 22-day Twitter trace at damping 8 through a
2-stage pipeline, in a fresh process so its peak memory (ru_maxrss) is its own; when the
trace is not present a synthetic 22-day trace with the same length, mean and peak stands in
(the output says which).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import simpy_models  # noqa: E402

from ssloserve.latency import LatencyModel  # noqa: E402
from ssloserve.pipeline import Config, Pipeline, Stage, StageConfig, Variant  # noqa: E402
from ssloserve.policies import Static  # noqa: E402
from ssloserve.runtime.options import RunOptions  # noqa: E402
from ssloserve.runtime.sim import simulate  # noqa: E402
from ssloserve.workloads import Workload  # noqa: E402

MU = 100.0


def _one(model, c=1, b=1):
    p = Pipeline.chain(Stage("a", (Variant("x", 1.0, model),), max_batch=max(b, 16)))
    return p, Static(Config({"a": StageConfig("x", c, 1.0, b)}))


def case_inputs(name: str, n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    if name == "M/M/1":
        lam = 0.8 * MU
    elif name == "M/M/4":
        lam = 0.8 * MU * 4
    elif name == "batching":
        lam = 0.8 * 8 / (2.0 + 1.5 * 8) * 1000
    else:  # EDF+drop
        lam = 1.2 * MU
    a = np.cumsum(rng.exponential(1.0 / lam, n))
    return a


def run_simpy(name: str, a: np.ndarray, seed: int = 2):
    rng = np.random.default_rng(seed)
    n = len(a)
    if name == "M/M/1":
        return simpy_models.mmc(a, rng.exponential(1 / MU, n), 1)
    if name == "M/M/4":
        return simpy_models.mmc(a, rng.exponential(1 / MU, n), 4)
    if name == "batching":
        by_k = [0.0] + [(2.0 + 1.5 * k) / 1000 for k in range(1, 9)]
        return simpy_models.batching(a, by_k, 8, 1)
    d = a + budgets_s(name, len(a))
    if name == "EDF+drop (1 process)":
        return simpy_models.edf_drop_one_process(a, d, 1 / MU, 1)
    return simpy_models.edf_drop(a, d, 1 / MU, 1)


def budgets_s(name: str, n: int):
    """100 ms for everyone, or (``mixed``) 50, 100 or 200 ms at random."""
    if name == "EDF+drop mixed":
        return np.random.default_rng(3).choice([0.05, 0.1, 0.2], n)
    return np.full(n, 0.1)


def run_ours(name: str, a: np.ndarray, fast: bool, seed: int = 2):
    if name == "M/M/1":
        p, pol = _one(LatencyModel(0, 0, 0, 1000 / MU))
        opts = RunOptions(service="exponential", seed=seed, progress=False)
        w = Workload(a, 1e12, 0)
    elif name == "M/M/4":
        p, pol = _one(LatencyModel(0, 0, 0, 1000 / MU), c=4)
        opts = RunOptions(service="exponential", seed=seed, progress=False)
        w = Workload(a, 1e12, 0)
    elif name == "batching":
        p, pol = _one(LatencyModel(0, 1.5, 0, 2.0), b=8)
        opts = RunOptions(progress=False)
        w = Workload(a, 1e12, 0)
    else:
        p, pol = _one(LatencyModel(0, 0, 0, 1000 / MU))
        opts = RunOptions(queue="edf", drop="cannot_finish", progress=False)
        w = Workload(a, budgets_s(name, len(a)) * 1000.0, 0)
    return simulate(p, w, pol, opts, fast=fast)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def bench_cases(rounds: int, n_ours: int, n_simpy: int, n_events: int):
    rows = []
    for name in (
        "M/M/1",
        "M/M/4",
        "batching",
        "EDF+drop",
        "EDF+drop mixed",
        "EDF+drop (1 process)",
    ):
        a_s = case_inputs(name, n_simpy)
        a_o = case_inputs(name, n_ours)
        a_e = case_inputs(name, n_events)
        best = {"simpy": math.inf, "fast": math.inf, "events": math.inf}
        check = {}
        for _ in range(rounds):
            dt, out = timed(lambda a_s=a_s, name=name: run_simpy(name, a_s))
            best["simpy"] = min(best["simpy"], dt / len(a_s))
            check["simpy"] = out
            dt, res = timed(lambda a_o=a_o, name=name: run_ours(name, a_o, True))
            best["fast"] = min(best["fast"], dt / len(a_o))
            check["fast"] = res
            dt, res_e = timed(lambda a_e=a_e, name=name: run_ours(name, a_e, False))
            best["events"] = min(best["events"], dt / len(a_e))
        # the two agree on what they simulate (mean wait, or the share dropped)
        st = check["simpy"][0]
        rec = check["fast"].stage_records["a"]
        if name.startswith("EDF"):
            agree = (float(check["simpy"][2].mean()), check["fast"].summary()["dropped_pct"] / 100)
        else:
            agree = (
                float(np.nanmean(st - a_s)),
                float(np.nanmean(rec["start_s"] - rec["queue_s"])),
            )
        rows.append(
            {
                "case": name,
                "simpy_rps": 1 / best["simpy"],
                "ours_rps": 1 / best["fast"],
                "ours_events_rps": 1 / best["events"],
                "ratio": best["simpy"] / best["fast"],
                "ratio_events": best["simpy"] / best["events"],
                "path": check["fast"].meta["path"],
                "agree": agree,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def synthetic_twitter(seed: int = 0) -> np.ndarray:
    """22 days of per-second counts shaped like the Twitter trace: 1,899,061 s, mean about
    63.6, a diurnal swing, minute-scale bursts and Poisson noise, capped at 388."""
    n = 1_899_061
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    day = 1 + 0.35 * np.sin(2 * np.pi * t / 86400.0)
    bursts = np.repeat(rng.gamma(4.0, 0.25, n // 60 + 1), 60)[:n]
    lam = 63.6 * day * bursts
    return np.minimum(rng.poisson(lam), 388)


def twitter_child(quick: bool, events: bool = False):
    from ssloserve.catalog import video_variants
    from ssloserve.data import has_data
    from ssloserve.policies import baseline
    from ssloserve.traces import TWITTER, twitter_trace

    if has_data(TWITTER):
        counts, source = twitter_trace(), "twitter"
    else:
        counts, source = synthetic_twitter(), "synthetic"
    if quick:
        counts = counts[:200_000]
    rates = np.floor(np.asarray(counts) / 8).astype(np.int64)
    det, cls = video_variants()
    p = Pipeline.chain(Stage("detect", (det[0],)), Stage("classify", (cls[0],)))
    base = Config(
        {
            "detect": StageConfig(det[0].name, 1, 8.0, 4),
            "classify": StageConfig(cls[0].name, 1, 8.0, 4),
        }
    )
    pol = baseline("static", p, 780.0, rates, config=base)
    t0 = time.perf_counter()
    box = [Workload.from_rates(rates, seed=0, slo_ms=780.0)]
    n = len(box[0])
    t1 = time.perf_counter()
    # the caller keeps no reference to the workload: once the simulator has read arrivals
    # and deadlines, its budget and payload columns (16 bytes a request) are freed
    r = simulate(p, box.pop(), pol, RunOptions(progress=False), fast=not events)
    t2 = time.perf_counter()
    s = r.summary()
    assert s["served"] + s["late"] + s["dropped"] == n == len(r)
    out = {
        "source": source,
        "seconds": len(rates),
        "requests": n,
        "workload_s": t1 - t0,
        "simulate_s": t2 - t1,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "replicas": {k: v.replicas for k, v in pol.config.stages.items()},
        "violation_pct": s["violation_pct"],
        "p99_ms": s["p99_ms"],
        "path": r.meta["path"],
    }
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--twitter-child", action="store_true")
    ap.add_argument("--skip-twitter", action="store_true")
    ap.add_argument("--events", action="store_true", help="replay through the event loop")
    args = ap.parse_args()
    if args.twitter_child:
        twitter_child(args.quick, args.events)
        return
    if args.quick:
        rows = bench_cases(1, 200_000, 30_000, 30_000)
    else:
        rows = bench_cases(3, 1_000_000, 150_000, 150_000)
    print()
    print("| case | SimPy req/s | ssloserve req/s | ratio | event loop req/s | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['case']} ({r['path']}) | {r['simpy_rps']:,.0f} | {r['ours_rps']:,.0f} | "
            f"{r['ratio']:.1f}x | {r['ours_events_rps']:,.0f} | {r['ratio_events']:.1f}x |"
        )
    if not args.skip_twitter:
        cmd = [sys.executable, __file__, "--twitter-child"] + (["--quick"] if args.quick else [])
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        tw = json.loads(out.strip().splitlines()[-1])
        print()
        print(json.dumps(tw))
        print(
            f"\nTwitter trace ({tw['source']}, {tw['seconds']:,} s, damping 8, "
            f"{tw['requests']:,} requests, 2 stages): simulate {tw['simulate_s']:.1f} s "
            f"(+ {tw['workload_s']:.1f} s to draw arrivals), peak RSS {tw['peak_rss_mb']:,.0f} MB"
        )


if __name__ == "__main__":
    main()
