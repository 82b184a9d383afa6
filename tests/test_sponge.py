"""SpongePolicy, its baselines and the paper-scale experiment, in the simulator."""

from __future__ import annotations

import numpy as np
import pytest

from ssloserve.catalog import YOLOV5S_GRID, yolov5s_grid
from ssloserve.data import has_data
from ssloserve.errors import PolicyError
from ssloserve.latency import LatencyModel
from ssloserve.latency_table import LatencyTable
from ssloserve.pipeline import Pipeline, Stage
from ssloserve.runtime.api import run
from ssloserve.sponge import (
    RUN_OPTIONS,
    SYSTEMS,
    YOLOV5S_FIT,
    SpongePolicy,
    VPALikePolicy,
    budget_workload,
    horizontal_policy,
    paper_experiment,
    paper_model,
    paper_rates,
    queue_ablation,
    solve,
    solve_edf,
    sponge_pipeline,
    static_policy,
)

MODEL = LatencyModel(*YOLOV5S_FIT)
STEP = np.r_[np.full(20, 10), np.full(20, 20), np.full(20, 10)]  # a step up, then down
SIM = dict(RUN_OPTIONS, cold_start_s=2.0, resize_delay_ms=0.2)


def _workload(rates=STEP):
    return budget_workload(rates, bandwidth="synthetic", seed=3)[0]


def test_fallback_fit_is_the_fit_of_the_data():
    if not has_data(YOLOV5S_GRID):
        pytest.skip(f"{YOLOV5S_GRID} is missing (set SSLOSERVE_DATA): cannot re-fit YOLOV5S_FIT")
    fit = LatencyTable.from_frame(yolov5s_grid()).fit()
    np.testing.assert_allclose(fit.params, YOLOV5S_FIT, atol=0.005)
    assert paper_model("data")[1] == "data"


def test_sponge_resizes_its_one_replica_in_place_and_logs_its_solver():
    p, w = sponge_pipeline(MODEL), _workload()
    pol = SpongePolicy(1000.0, initial_rate_rps=10.0)
    r = run(p, w, pol, "sim", **SIM)
    ev = r.events
    assert set(ev.kind) >= {"resize"}
    assert not ev.kind.isin(["scale_out", "variant"]).drop(ev.index[ev.t_s == 0]).any()
    assert (r.timeline["replicas"] == 1).all()
    d = pol.decisions()
    assert len(d) >= 55 and set(d.solver) == {"edf"} and d.feasible.all()
    # the decisions follow the load: more cores at 20 RPS than at 10
    lo = d[(d.t_s > 5) & (d.t_s <= 20)].cores.mean()
    hi = d[(d.t_s > 25) & (d.t_s <= 40)].cores.mean()
    assert hi > lo
    # each decision is the solver's answer for the rate and the budgets it saw
    row = d.iloc[30]
    assert row.cores >= solve_edf(MODEL, [], row.rate_rps)[0]
    # the timeline follows the decisions: at each tick the replica holds the larger of the
    # cores it had and those just asked for (a resize in progress holds both)
    tl = r.timeline.set_index("t_s")["cores"]
    dec = d.set_index("t_s")["cores"]
    t = dec.index[1:]
    np.testing.assert_array_equal(tl.loc[t], np.maximum(dec.loc[t], dec.shift(1).loc[t]))


def test_worst_case_solver_is_the_papers_formula_with_the_slowest_upload_seen():
    p, w = sponge_pipeline(MODEL), _workload()
    pol = SpongePolicy(1000.0, solver="worst_case", initial_rate_rps=10.0)
    run(p, w, pol, "sim", **SIM)
    d = pol.decisions()
    assert set(d.solver) == {"worst_case"}
    for row in d[d.feasible].itertuples():
        assert (row.cores, row.batch) == solve(MODEL, row.rate_rps, 1000.0, row.cl_max_ms)


def test_infeasible_second_serves_as_fast_as_it_can():
    pol = SpongePolicy(1000.0)
    pol.initial(sponge_pipeline(MODEL), 1000.0)
    c, b, binding, _ = pol.choose(10.0, np.array([5.0, 900.0]))  # 5 ms: nobody makes it
    assert (c, binding) == (16.0, "budgets_ms") and 1 <= b <= 16
    c, b, binding, _ = pol.choose(500.0, np.zeros(0))  # beyond any replica
    assert (c, binding) == (16.0, "rate_rps")
    with pytest.raises(PolicyError):
        SpongePolicy(solver="magic")


def test_vpa_like_recreates_the_replica_instead_of_resizing():
    p, w = sponge_pipeline(MODEL), _workload()
    pol = VPALikePolicy(1000.0, initial_rate_rps=10.0)
    r = run(p, w, pol, "sim", **SIM)
    ev = r.events
    assert not (ev.kind == "resize").any()
    switches = ev[(ev.kind == "variant") & (ev.state == "done")]
    assert len(switches) >= 2  # up for the step, down after it
    # each switch paid a cold start: the new cores came 2 s after they were asked for
    asked = ev[(ev.kind == "variant") & (ev.state == "requested")].t_s.to_numpy()
    done = switches.t_s.to_numpy()
    assert (done[: len(asked)] - asked[: len(done)] >= 2.0 - 1e-6).all()
    alone = Pipeline.chain(Stage("detect", p.stage("detect").variants[:1]))
    with pytest.raises(PolicyError, match="twin"):
        VPALikePolicy(1000.0).initial(alone, 1000.0)


def test_horizontal_baseline_scales_out_one_core_replicas():
    p, w = sponge_pipeline(MODEL), _workload()
    pol = horizontal_policy(p, 1000.0, 474.0, interval_s=1.0, initial_rate_rps=10.0)
    r = run(p, w, pol, "sim", **SIM)
    cfgs = r.timeline["config"]
    assert all(c["detect"].cores == 1.0 for c in cfgs)
    assert r.timeline["replicas"].max() > r.timeline["replicas"].iloc[0]
    assert (r.events.kind == "scale_out").any()


def test_static_holds_its_cores():
    p = sponge_pipeline(MODEL)
    r = run(p, _workload(), static_policy(p, 8, 20.0, 1000.0, 474.0), "sim", **SIM)
    assert set(r.timeline["cores"]) == {8.0}


def test_paper_experiment_small():
    s, per_s, meta = paper_experiment(
        60, source="fallback", bandwidth="synthetic", cold_start_s=2.0
    )
    assert list(s.index) == list(SYSTEMS)
    assert meta["model"] == "fallback" and meta["bandwidth"] == "synthetic"
    assert meta["options"]["queue"] == "edf" and meta["options"]["drop"] == "cannot_finish"
    assert s.loc["Sponge", "core_seconds"] < s.loc["static peak", "core_seconds"]
    assert s.loc["static peak", "core_seconds"] == pytest.approx(16 * 60, rel=0.01)
    assert set(per_s.system) == set(SYSTEMS) and len(per_s) == 60 * len(SYSTEMS)
    r = paper_rates(600, seed=1)
    assert r.min() >= 10 and r.max() <= 20 and len(np.unique(r)) > 5


def test_drop_rule_matters_under_overload():
    # twice the load: without the cannot-finish rule the queue serves requests that are
    # already lost and makes the ones behind them late too
    t = queue_ablation(60, rate_scale=2.0, source="fallback", bandwidth="synthetic").set_index(
        ["queue", "drop"]
    )
    assert (
        t.loc[("edf", "never"), "violation_pct"]
        > 2 * t.loc[("edf", "cannot_finish"), "violation_pct"]
    )
    assert t.loc[("edf", "never"), "dropped_pct"] == 0.0
