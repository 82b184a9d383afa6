"""The chapter's additions to Sponge: the sub-core latency, mixed payloads, the chart builders
(in the simulator, no processes); the emulator checks are in tests/test_sponge_emu.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssloserve.latency import LatencyModel
from ssloserve.sponge import (
    MACHINE_CORES,
    SubCoreModel,
    budget_workload,
    machine_experiment,
    machine_model,
    queue_ablation,
    solve,
    solve_edf,
    solve_edf_exhaustive,
    solve_exhaustive,
    ui,
)

M = LatencyModel(13.0, 25.0, 5.0, 22.0)


def test_subcore_model_slows_the_serial_part_below_one_core_only():
    q = SubCoreModel.of(M)
    for b in (1, 3, 8):
        for c in (0.25, 0.5, 0.75):
            serial = M.delta * b + M.eta
            assert q.latency(b, c) == pytest.approx(M.latency(b, c) + serial * (1 / c - 1))
        for c in (1.0, 1.5, 4.0):
            assert q.latency(b, c) == pytest.approx(M.latency(b, c))
    assert q.params == M.params  # a burn replica of it spends the same CPU
    b, c = np.meshgrid([1, 2], [0.25, 1.0])
    assert q.latency(b, c).shape == (2, 2)


def test_solvers_on_the_subcore_model_equal_the_exhaustive_scan():
    q = SubCoreModel.of(machine_model(M))
    rng = np.random.default_rng(5)
    for _ in range(40):
        rate = float(rng.uniform(1, 25))
        cl = float(rng.uniform(0, 500))
        budgets = rng.uniform(50, 1000, size=int(rng.integers(0, 40)))
        kw = dict(b_max=8, cores=MACHINE_CORES)
        for f, oracle, args in (
            (solve, solve_exhaustive, (q, rate, 1000.0, cl)),
            (solve_edf, solve_edf_exhaustive, (q, budgets, rate)),
        ):
            try:
                want = oracle(*args, **kw)
            except Exception as e:  # noqa: BLE001 - both must fail alike
                with pytest.raises(type(e)):
                    f(*args, **kw)
                continue
            assert f(*args, **kw) == want


def test_subcore_planners_hold_more_cores_than_plain_ones_in_the_simulator():
    kw = dict(include=("Sponge", "horizontal (FA2, 1-core)"), runtime="sim", progress=False)
    kw.update(source="fallback", bandwidth="synthetic")
    plain = machine_experiment(60, subcore=False, **kw)[0]
    sub = machine_experiment(60, subcore=True, **kw)[0]
    assert (sub.mean_cores > plain.mean_cores).all()
    assert sub.loc["Sponge", "violation_pct"] < 1.0


def test_mixed_payloads_give_requests_of_one_second_different_budgets():
    w, src = budget_workload(np.full(30, 20), payload_kb=(100, 500), bandwidth="synthetic")
    assert src == "synthetic"
    assert set(np.unique(w.payload_bytes)) == {100 * 1024, 500 * 1024}
    sec = np.floor(w.arrival_s).astype(int)
    per_sec = pd.Series(w.budget_ms).groupby(sec).nunique()
    assert (per_sec > 1).mean() > 0.9
    small = w.budget_ms[w.payload_bytes == 100 * 1024]
    big = w.budget_ms[w.payload_bytes == 500 * 1024]
    assert small.mean() > big.mean() and (w.budget_ms >= 1.0).all()


def test_ablation_with_mixed_payloads_has_every_setting():
    t = queue_ablation(40, payload_kb=(100, 200, 500), source="fallback", bandwidth="synthetic")
    assert len(t) == 4 and (t.late_pct[t["drop"] == "cannot_finish"] == 0).all()


def test_walkthroughs_agree_with_the_solvers():
    toy = LatencyModel(0.0, 10.0, 200.0, 0.0)
    t = ui.solver_walkthrough(toy, 12, 1000.0, 300.0, cores=[1, 2, 3], b_max=4)
    first = t[t.first_fit].iloc[0]
    assert (first.cores, first.batch) == solve(toy, 12, 1000.0, 300.0, c_max=3, b_max=4)
    assert t.first_fit.sum() == 1 and not t.loc[: t.first_fit.idxmax() - 1, "fits"].any()
    budgets = [950.0] * 9 + [650.0] * 3
    c, b = solve_edf(toy, budgets, 12, c_max=3, b_max=4)
    assert (ui.edf_walkthrough(toy, budgets, c, b).slack_ms >= 0).all()
    # one batch smaller on the same cores leaves some request late (else b was not least)
    assert (ui.edf_walkthrough(toy, budgets, c, b - 1).slack_ms < 0).any()


def test_budget_table_and_explorer():
    traces, sources = ui.bandwidth_traces(60)
    t = ui.budget_table(traces, (100, 500))
    bel = t[t.trace == "Belgium 4G"].set_index("payload_kb")
    assert bel.loc[500, "upload_mean_ms"] == pytest.approx(5 * bel.loc[100, "upload_mean_ms"])
    spec = ui.budget_explorer(traces).to_dict()
    assert {p["name"] for p in spec["params"]} == {"payload_kb", "slo_ms"}
