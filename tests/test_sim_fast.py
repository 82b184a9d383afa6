"""The simulator's batch-at-a-time path (Static policy on a chain) against its event loop.

Both must give the same per-request records: same batches, same replicas, same times (to
float rounding), same drops. Service noise comes from one seeded stream per stage, drawn in
dispatch order, so the random cases compare too.
"""

from __future__ import annotations

import numpy as np
import pytest

from ssloserve.latency import LatencyModel
from ssloserve.pipeline import Config, Pipeline, Stage, StageConfig, Variant
from ssloserve.runtime.options import RunOptions
from ssloserve.runtime.sim import simulate
from ssloserve.workloads import Workload


def _pipeline(n_stages: int) -> Pipeline:
    models = [
        LatencyModel(6.0, 1.5, 4.0, 2.0),
        LatencyModel(3.0, 2.5, 6.0, 3.0),
        LatencyModel(2.0, 1.0, 2.0, 1.0),
    ]
    return Pipeline.chain(
        *[Stage(f"s{k}", (Variant(f"v{k}", 0.9 - 0.1 * k, models[k]),)) for k in range(n_stages)]
    )


def _compare(r_fast, r_loop):
    assert len(r_fast) == len(r_loop)
    for col in ("status", "reason"):
        np.testing.assert_array_equal(r_fast.requests[col], r_loop.requests[col])
    for col in ("finish_s", "accuracy"):
        np.testing.assert_allclose(r_fast.requests[col], r_loop.requests[col], rtol=1e-9, atol=1e-9)
    for s in r_fast.stages:
        a, b = r_fast.stage_records[s], r_loop.stage_records[s]
        for col in ("replica", "batch"):
            np.testing.assert_array_equal(a[col], b[col], err_msg=f"{s}.{col}")
        for col in ("queue_s", "start_s", "finish_s"):
            np.testing.assert_allclose(a[col], b[col], rtol=1e-9, atol=1e-9, err_msg=f"{s}.{col}")
    assert r_fast.counts() == r_loop.counts()
    assert r_fast.meta["core_seconds"] == pytest.approx(r_loop.meta["core_seconds"])


CASES = [
    # stages, queue, drop, replicas, cores, batch, service, load factor
    (1, "fifo", "never", 1, 2.0, 1, "exponential", 0.9),
    (1, "fifo", "never", 3, 1.0, 4, "deterministic", 1.1),
    (1, "fifo", "cannot_finish", 2, 2.0, 4, "lognormal", 1.3),
    (1, "fifo", "deadline", 1, 1.0, 2, "exponential", 1.2),
    (1, "fifo", "k_slo", 2, 1.0, 1, "exponential", 1.2),
    (1, "edf", "never", 2, 1.0, 4, "exponential", 1.0),
    (1, "edf", "cannot_finish", 3, 1.0, 2, "lognormal", 1.4),
    (1, "edf", "k_slo", 1, 2.0, 3, "exponential", 1.1),
    (2, "fifo", "never", 2, 1.0, 4, "exponential", 0.9),
    (2, "fifo", "cannot_finish", 2, 1.0, 2, "lognormal", 1.2),
    (3, "fifo", "never", 1, 4.0, 1, "exponential", 0.8),
    (2, "edf", "deadline", 2, 2.0, 4, "exponential", 1.1),
    (3, "edf", "never", 2, 1.0, 2, "lognormal", 0.9),
    (1, "fifo", "never", 3, 1.0, 1, "exponential", 0.95),
    (2, "fifo", "never", 2, 1.0, 1, "lognormal", 0.9),
    (2, "fifo", "never", 2, 1.0, 4, "deterministic", 1.0),
    (2, "edf", "cannot_finish", 3, 1.0, 1, "deterministic", 1.2),
]


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{c[0]}st-{c[1]}-{c[2]}-r{c[3]}b{c[5]}" for c in CASES]
)
def test_fast_path_equals_event_loop(case):
    n_stages, queue, drop, reps, cores, b, service, load = case
    p = _pipeline(n_stages)
    cap = min(
        reps * p.stage(s).variants[0].throughput_rps(b, cores) for s in p.order
    )  # the bottleneck's capacity (RPS)
    rng = np.random.default_rng(7)
    rates = rng.poisson(load * cap, 40)
    budgets = rng.choice([80.0, 150.0, 400.0], size=40)  # per-second budgets (ms)
    w = Workload.from_rates(rates, seed=3, budget_ms=budgets)
    cfg = Config({s: StageConfig(p.stage(s).variants[0].name, reps, cores, b) for s in p.order})
    opts = RunOptions(queue=queue, drop=drop, service=service, seed=5, k_slo=1.5)
    from ssloserve.policies import Static

    fast = simulate(p, w, Static(cfg), opts, fast=True)
    loop = simulate(p, w, Static(cfg), opts, fast=False)
    assert (fast.meta["path"], loop.meta["path"]) == ("fast", "events")
    _compare(fast, loop)
    assert len(fast) == len(w) and fast.counts()["served"] > 0


@pytest.mark.parametrize("drop", ["never", "cannot_finish", "k_slo"])
@pytest.mark.parametrize("n_stages", [1, 2])
def test_edf_with_one_budget_is_fifo_and_the_fast_path_agrees(drop, n_stages):
    """One budget for every request: EDF order is arrival order (the fast path then skips
    the heap); the event loop, which keeps the heap, must agree exactly."""
    p = _pipeline(n_stages)
    w = Workload.from_rates(np.random.default_rng(8).poisson(140, 30), seed=4, slo_ms=120.0)
    cfg = Config({s: StageConfig(p.stage(s).variants[0].name, 2, 1.0, 3) for s in p.order})
    from ssloserve.policies import Static

    opts = RunOptions(queue="edf", drop=drop, service="exponential", seed=9, k_slo=1.5)
    fast = simulate(p, w, Static(cfg), opts, fast=True)
    loop = simulate(p, w, Static(cfg), opts, fast=False)
    _compare(fast, loop)
    fifo = simulate(p, w, Static(cfg), opts.replace(queue="fifo"), fast=False)
    if n_stages == 1:  # at the first stage EDF with one budget is FIFO, even in the loop
        _compare(fast, fifo)
    assert fast.counts()["served"] > 0
