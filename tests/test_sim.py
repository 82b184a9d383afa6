"""The simulator: accounting, queues and drops, batching, DAGs, actuation, Ctrl-C, bad input."""

from __future__ import annotations

import os
import signal

import numpy as np
import pandas as pd
import pytest

from ssloserve import RunOptions, run
from ssloserve.errors import ConfigError, PipelineError, PolicyError, TraceFormatError
from ssloserve.latency import LatencyModel
from ssloserve.outcomes import DROPPED, LATE, REASONS, SERVED
from ssloserve.pipeline import Config, Pipeline, Stage, StageConfig, Variant
from ssloserve.policies import Static
from ssloserve.runtime.sim import simulate
from ssloserve.workloads import Workload

FLAT10 = LatencyModel(0, 0, 0, 10.0)  # 10 ms whatever the batch and cores
AMDAHL = LatencyModel(20.0, 2.0, 10.0, 2.0)


def one_stage(model=FLAT10, variants=None):
    vs = variants or (Variant("x", 0.9, model),)
    return Pipeline.chain(Stage("a", vs))


def cfg1(replicas=1, cores=1.0, batch=1, variant="x"):
    return Config({"a": StageConfig(variant, replicas, cores, batch)})


def check_accounting(r, n=None):
    """arrivals = served + late + dropped; statuses and reasons consistent."""
    st, reason = r.requests["status"], r.requests["reason"]
    c = r.counts()
    assert c["served"] + c["late"] + c["dropped"] == len(r)
    if n is not None:
        assert len(r) == n
    assert set(np.unique(st)) <= {SERVED, LATE, DROPPED}
    fin, dl = r.requests["finish_s"], r.requests["deadline_s"]
    assert (fin[st == SERVED] <= dl[st == SERVED] + 1e-9).all()
    assert (fin[st == LATE] > dl[st == LATE]).all()
    assert np.isnan(fin[st == DROPPED]).all() and (reason[st == DROPPED] > 0).all()
    assert (reason[st != DROPPED] == 0).all()
    for s in r.stages:
        rec = r.stage_records[s]
        ok = np.isfinite(rec["start_s"])
        assert (rec["start_s"][ok] >= rec["queue_s"][ok] - 1e-12).all()
        assert (rec["finish_s"][ok] > rec["start_s"][ok]).all()
    return c


def test_single_request_timing_and_summary():
    r = run(one_stage(), Workload(np.array([0.5]), 100.0, 0), cfg1())
    check_accounting(r, 1)
    assert r.requests["finish_s"][0] == pytest.approx(0.51)
    s = r.summary()
    assert s["p50_ms"] == pytest.approx(10.0) and s["violation_pct"] == 0.0
    assert s["mean_accuracy"] == pytest.approx(0.9)
    assert s["core_seconds"] == pytest.approx(1.0)  # one core for the 1 s horizon


@pytest.mark.parametrize("load", [1.2, 2.0])
def test_edf_under_overload_serves_almost_everything_late_unless_it_drops(load):
    """Overload (1.2x and 2x capacity), budgets of 100, 300 or 600 ms at random (so EDF order
    is not arrival order). EDF without the cannot-finish rule keeps picking the request closest
    to its deadline, which is about to be late anyway: almost everything is served late.
    Dropping only requests whose deadline has passed still serves many late; dropping those
    that cannot finish serves what capacity allows, all on time."""
    w0 = Workload.from_rates([int(100 * load)] * 60, seed=1, slo_ms=300.0)  # capacity 100 RPS
    budgets = np.random.default_rng(2).choice([100.0, 300.0, 600.0], len(w0))
    w = Workload(w0.arrival_s, budgets, 0)
    n = len(w)
    never = run(one_stage(), w, cfg1(), queue="edf", drop="never")
    expired = run(one_stage(), w, cfg1(), queue="edf", drop="deadline")
    shed = run(one_stage(), w, cfg1(), queue="edf", drop="cannot_finish")
    cn, ce, cs = (check_accounting(r, n) for r in (never, expired, shed))
    assert cn["late"] > 0.9 * n and cn["served"] < 0.05 * n
    assert ce["late"] > 0.2 * n
    assert cs["late"] == 0 and cs["served"] > 0.95 * n / load
    reasons = pd.Series(shed.requests_df()["reason"]).value_counts()
    assert reasons["cannot_finish"] > 0


@pytest.mark.parametrize("drop,reason", [("deadline", "deadline_passed"), ("k_slo", "k_slo")])
def test_drop_rules_name_their_reason(drop, reason):
    w = Workload.from_rates([150] * 20, seed=2, slo_ms=100.0)
    r = run(one_stage(), w, cfg1(), drop=drop, k_slo=2.0)
    c = check_accounting(r, len(w))
    assert c["dropped"] > 0
    assert set(np.unique(r.requests["reason"][r.requests["status"] == DROPPED])) == {
        REASONS.index(reason)
    }
    if drop == "k_slo":  # dropped only after waiting more than 2 x 100 ms
        rec = r.stage_records["a"]
        wait = rec["start_s"] - rec["queue_s"]
        assert np.nanmax(wait) <= 0.2 + 1e-9


def test_batches_never_exceed_b_and_use_the_table():
    w = Workload.from_rates([300] * 10, seed=3, slo_ms=1000.0)
    r = run(one_stage(AMDAHL), w, cfg1(replicas=2, cores=2.0, batch=4))
    check_accounting(r, len(w))
    rec = r.stage_records["a"]
    assert rec["batch"].max() == 4 and rec["batch"].min() >= 1
    svc_ms = (rec["finish_s"] - rec["start_s"]) * 1000
    np.testing.assert_allclose(svc_ms, AMDAHL.latency(rec["batch"], 2.0))
    assert set(np.unique(rec["replica"])) == {0, 1}


def test_max_batch_delay_gathers_bigger_batches_but_waits_at_most_the_delay():
    w = Workload.from_rates([40] * 20, seed=4, slo_ms=1000.0)
    r0 = run(one_stage(), w, cfg1(batch=8))
    r1 = run(one_stage(), w, cfg1(batch=8), max_batch_delay_ms=100.0)
    check_accounting(r1, len(w))
    b0, b1 = r0.stage_records["a"]["batch"], r1.stage_records["a"]["batch"]
    assert b0.mean() < 1.5 < b1.mean()
    rec = r1.stage_records["a"]
    wait = rec["start_s"] - rec["queue_s"]
    assert wait.max() <= 0.1 + 0.01 + 1e-9  # the delay plus at most one batch in service


def test_dag_fan_out_and_join():
    m = LatencyModel(0, 0, 0, 5.0)
    st = [
        Stage(n, (Variant(n + "v", acc, LatencyModel(0, 0, 0, ms)),))
        for n, acc, ms in [
            ("src", 0.9, 5.0),
            ("left", 0.8, 20.0),
            ("right", 0.7, 8.0),
            ("join", 1.0, 5.0),
        ]
    ]
    p = Pipeline(st, edges=[("src", "left"), ("src", "right"), ("left", "join"), ("right", "join")])
    del m
    w = Workload.from_rates([20] * 10, seed=5, slo_ms=500.0)
    cfg = Config({s.name: StageConfig(s.variants[0].name, 1, 1.0, 1) for s in st})
    r = run(p, w, cfg)
    check_accounting(r, len(w))
    rec = r.stage_records
    np.testing.assert_allclose(
        rec["join"]["queue_s"], np.maximum(rec["left"]["finish_s"], rec["right"]["finish_s"])
    )
    for branch in ("left", "right"):
        np.testing.assert_allclose(rec[branch]["queue_s"], rec["src"]["finish_s"])
    assert r.summary()["mean_accuracy"] == pytest.approx(0.9 * 0.8 * 0.7 * 1.0)
    np.testing.assert_allclose(r.requests["finish_s"], rec["join"]["finish_s"])


def test_dag_drop_in_one_branch_drops_the_request():
    st = [
        Stage(n, (Variant(n + "v", 1.0, LatencyModel(0, 0, 0, ms)),))
        for n, ms in [("src", 1.0), ("slow", 30.0), ("fast", 1.0), ("join", 1.0)]
    ]
    p = Pipeline(st, edges=[("src", "slow"), ("src", "fast"), ("slow", "join"), ("fast", "join")])
    w = Workload.from_rates([60] * 10, seed=6, slo_ms=200.0)  # "slow" is overloaded (33 RPS)
    cfg = Config({s.name: StageConfig(s.variants[0].name, 1, 1.0, 1) for s in st})
    r = run(p, w, cfg, drop="deadline")
    c = check_accounting(r, len(w))
    assert c["dropped"] > 0
    gone = r.requests["status"] == DROPPED
    assert np.isnan(r.stage_records["join"]["start_s"][gone]).all()


class StepPolicy:
    """Config ``a`` until ``t_s``, then ``b`` (a test helper)."""

    def __init__(self, a, b, t_s, interval_s=1.0):
        self.a, self.b, self.t_s, self.interval_s = a, b, t_s, interval_s

    def initial(self, pipeline, slo_ms):
        return self.a

    def decide(self, obs):
        return self.b if obs.t_s >= self.t_s - 1e-9 else self.a


def _events(r, kind):
    e = r.events
    return e[e["kind"] == kind]


def test_scale_out_waits_for_the_cold_start():
    w = Workload.from_rates([150] * 30, seed=7, slo_ms=1000.0)
    r = run(one_stage(), w, StepPolicy(cfg1(1), cfg1(3), 10.0), cold_start_s=3.0)
    check_accounting(r, len(w))
    rec = r.stage_records["a"]
    new = rec["replica"] >= 1
    assert new.any() and rec["start_s"][new].min() >= 13.0 - 1e-9
    ev = _events(r, "scale_out")
    assert list(ev.loc[ev["detail"] == "initial", "state"]) == ["requested", "done"]
    ev = ev[ev["detail"] != "initial"]
    assert list(ev["state"]) == ["requested", "in_progress", "done"]
    assert ev["t_s"].tolist() == pytest.approx([10.0, 10.0, 13.0])
    tl = r.timeline
    assert tl.loc[tl["t_s"] == 12.0, "config"].iloc[0]["a"].replicas == 1
    assert tl.loc[tl["t_s"] == 13.0, "config"].iloc[0]["a"].replicas == 3
    # cores are held from the request on: 1 core x 30 s + 2 cores x 20 s
    assert r.summary()["core_seconds"] == pytest.approx(30 + 2 * 20, rel=1e-6)


def test_vertical_resize_in_place_after_the_delay():
    w = Workload.from_rates([20] * 20, seed=8, slo_ms=1000.0)
    r = run(
        one_stage(AMDAHL), w, StepPolicy(cfg1(1, 1.0), cfg1(1, 4.0), 5.0), resize_delay_ms=200.0
    )
    check_accounting(r, len(w))
    rec = r.stage_records["a"]
    svc = (rec["finish_s"] - rec["start_s"]) * 1000
    before, after = rec["start_s"] < 5.2, rec["start_s"] >= 5.2 + 0.1
    np.testing.assert_allclose(svc[before], AMDAHL.latency(1, 1.0))
    np.testing.assert_allclose(svc[after], AMDAHL.latency(1, 4.0))
    assert set(rec["replica"]) == {0}  # the same replica, no restart
    ev = _events(r, "resize")
    assert ev["state"].tolist() == ["requested", "in_progress", "done"]
    assert ev["t_s"].iloc[-1] == pytest.approx(5.2)


def test_resize_beyond_the_node_is_infeasible_and_keeps_the_cores():
    w = Workload.from_rates([20] * 10, seed=9, slo_ms=1000.0)
    r = run(one_stage(AMDAHL), w, StepPolicy(cfg1(1, 2.0), cfg1(1, 8.0), 3.0), node_cores=4)
    check_accounting(r, len(w))
    ev = _events(r, "resize")
    assert "infeasible" in set(ev["state"]) and "done" not in set(ev["state"])
    assert "node cores free" in ev.loc[ev["state"] == "infeasible", "detail"].iloc[0]
    rec = r.stage_records["a"]
    np.testing.assert_allclose((rec["finish_s"] - rec["start_s"]) * 1000, AMDAHL.latency(1, 2.0))
    assert (r.timeline["cores"] == 2.0).all()


def test_initial_config_bigger_than_the_node_is_recorded_not_a_crash():
    w = Workload.from_rates([20] * 5, seed=10, slo_ms=1000.0)
    r = run(one_stage(), w, cfg1(replicas=4, cores=2.0), node_cores=5)
    check_accounting(r, len(w))
    assert "infeasible" in set(r.events["state"])
    assert set(np.unique(r.stage_records["a"]["replica"])) <= {0, 1}


def test_scale_in_drains_and_variant_switch_replaces_after_cold_start():
    vs = (Variant("lo", 0.5, FLAT10), Variant("hi", 0.9, LatencyModel(0, 0, 0, 20.0)))
    p = one_stage(variants=vs)
    w = Workload.from_rates([30] * 20, seed=11, slo_ms=1000.0)
    pol = StepPolicy(cfg1(3, variant="lo"), cfg1(1, variant="hi"), 5.0)
    r = run(p, w, pol, cold_start_s=2.0)
    check_accounting(r, len(w))
    rec = r.stage_records["a"]
    acc = r.requests["accuracy"]
    st = rec["start_s"]
    assert (acc[st < 7.0 - 0.02] == 0.5).all() and (acc[st >= 7.0] == 0.9).all()
    ev = r.events
    assert {"variant"} <= set(ev["kind"])
    assert ev.loc[ev["kind"] == "variant", "state"].iloc[-1] == "done"
    assert r.timeline.loc[r.timeline["t_s"] == 10.0, "config"].iloc[0]["a"] == StageConfig(
        "hi", 1, 1.0, 1
    )


class Script:
    """The config of the last (time, config) pair at or before each decision."""

    interval_s = 1.0

    def __init__(self, *steps):
        self.steps = steps

    def initial(self, pipeline, slo_ms):
        return self.steps[0][1]

    def decide(self, obs):
        return [c for t, c in self.steps if t <= obs.t_s + 1e-9][-1]


def test_variant_switch_is_a_rolling_replacement():
    """lo x3 -> hi x2 at t=5, hi x3 at t=6, cold start 1.5 s: at 6.5 the two first hi
    replicas are ready and each retires one lo replica; the last lo replica serves until the
    third hi replica is ready at 7.5 (the emulator's rule: one old replica per new one
    ready). Cores held: 3 lo; 3 lo + 2 hi; 3 lo + 3 hi; 1 lo + 3 hi; 3 hi."""
    vs = (Variant("lo", 0.5, FLAT10), Variant("hi", 0.9, FLAT10))
    w = Workload.from_rates([20] * 10, seed=26, slo_ms=1000.0)
    pol = Script(
        (0.0, cfg1(3, variant="lo")), (5.0, cfg1(2, variant="hi")), (6.0, cfg1(3, variant="hi"))
    )
    r = run(one_stage(variants=vs), w, pol, cold_start_s=1.5)
    check_accounting(r, len(w))
    cores = dict(zip(r.timeline["t_s"], r.timeline["cores"], strict=True))
    assert [cores[t] for t in (4.0, 5.0, 6.0, 7.0, 8.0)] == [3.0, 5.0, 6.0, 4.0, 3.0]
    rec = r.stage_records["a"]
    lo = r.requests["accuracy"] == 0.5
    assert rec["start_s"][lo].max() < 7.5 and (rec["start_s"][lo] >= 6.5).any()
    ev = r.events[r.events["kind"] == "variant"]
    assert ev["state"].tolist() == ["requested", "in_progress", "done"]
    assert ev["t_s"].tolist() == pytest.approx([5.0, 5.0, 6.5])


def test_no_replica_left_means_dropped_with_reason():
    w = Workload.from_rates([10] * 5, seed=12, slo_ms=1000.0)
    r = run(one_stage(), w, cfg1(replicas=0))
    c = check_accounting(r, len(w))
    assert c["dropped"] == len(w)
    assert (r.requests["reason"] == REASONS.index("no_replica")).all()


class Interrupting(StepPolicy):
    def decide(self, obs):
        if obs.t_s >= 5.0:
            raise KeyboardInterrupt
        return self.a


def test_ctrl_c_returns_what_was_measured():
    w = Workload.from_rates([50] * 20, seed=13, slo_ms=1000.0)
    r = run(one_stage(), w, Interrupting(cfg1(), cfg1(), 0.0))
    assert r.meta["interrupted"] is True and r.meta["interrupted_at_s"] == pytest.approx(5.0)
    n5 = int((w.arrival_s <= 5.0).sum())
    check_accounting(r, n5)
    assert r.counts()["served"] > 0.9 * n5


def test_deterministic_for_a_seed():
    w = Workload.from_rates([90] * 10, seed=14, slo_ms=100.0)
    kw = dict(service="exponential", queue="edf", drop="cannot_finish")
    a, b = run(one_stage(), w, cfg1(), seed=1, **kw), run(one_stage(), w, cfg1(), seed=1, **kw)
    c = run(one_stage(), w, cfg1(), seed=2, **kw)
    np.testing.assert_array_equal(a.requests["finish_s"], b.requests["finish_s"])
    assert not np.array_equal(a.requests["status"], c.requests["status"]) or not np.allclose(
        np.nan_to_num(a.requests["finish_s"]), np.nan_to_num(c.requests["finish_s"])
    )


def test_lognormal_service_has_the_mean_and_spread_asked_for():
    w = Workload.from_rates([10] * 400, seed=15, slo_ms=1000.0)
    r = run(one_stage(), w, cfg1(), service="lognormal", service_cv=0.2)
    rec = r.stage_records["a"]
    svc = (rec["finish_s"] - rec["start_s"]) * 1000
    assert svc.mean() == pytest.approx(10.0, rel=0.02)
    assert svc.std() / svc.mean() == pytest.approx(0.2, rel=0.1)


def test_timeline_has_one_row_per_interval_with_rates():
    w = Workload.from_rates([5, 10, 15, 20], seed=16, slo_ms=1000.0)
    for pol in (Static(cfg1()), StepPolicy(cfg1(), cfg1(2), 2.0)):
        tl = run(one_stage(), w, pol).timeline
        assert tl["t_s"].tolist() == [0.0, 1.0, 2.0, 3.0]
        assert tl["rate_rps"].tolist() == [5, 10, 15, 20]
        assert {"cores", "config", "target", "actuation", "replicas"} <= set(tl.columns)


# ------------------------------------------------------------------ bad input
def test_bad_inputs_raise_typed_errors():
    p = one_stage()
    w = Workload.from_rates([5], seed=0)
    with pytest.raises(ConfigError, match="batch size must be an integer >= 1"):
        cfg1(batch=0)
    with pytest.raises(TraceFormatError, match="negative rate"):
        Workload.from_rates([3, -1])
    with pytest.raises(PipelineError, match="cycle"):
        Pipeline(
            [Stage("a", (Variant("x", 1, FLAT10),)), Stage("b", (Variant("y", 1, FLAT10),))],
            edges=[("a", "b"), ("b", "a")],
        )
    bad = Config({"a": StageConfig("x"), "zzz": StageConfig("x")})
    with pytest.raises(ConfigError, match=r"unknown stage\(s\) \['zzz'\]"):
        run(p, w, StepPolicy(cfg1(), bad, 0.5, interval_s=0.5))
    with pytest.raises(ConfigError, match="has no variant 'nope'"):
        run(p, w, cfg1(variant="nope"))
    with pytest.raises(PolicyError, match="expected a Config"):
        run(p, w, StepPolicy(cfg1(), "more please", 0.5, interval_s=0.5))
    with pytest.raises(PolicyError, match="interval_s"):
        run(p, w, StepPolicy(cfg1(), cfg1(), 0.5, interval_s=0))
    with pytest.raises(ConfigError, match="unknown run option"):
        run(p, w, cfg1(), queues="edf")
    with pytest.raises(ConfigError, match="unknown queue"):
        run(p, w, cfg1(), queue="lifo")
    with pytest.raises(TraceFormatError, match="sorted"):
        from types import SimpleNamespace

        run(p, SimpleNamespace(arrival_s=[1.0, 0.5], budget_ms=100.0), cfg1())


def test_options_object_and_overrides_agree():
    w = Workload.from_rates([120] * 5, seed=17, slo_ms=50.0)
    a = run(one_stage(), w, cfg1(), options=RunOptions(queue="edf", drop="deadline"))
    b = run(one_stage(), w, cfg1(), queue="edf", drop="deadline")
    np.testing.assert_array_equal(a.requests["status"], b.requests["status"])
    assert a.meta["options"]["queue"] == "edf"


def test_duration_cuts_the_workload():
    w = Workload.from_rates([10] * 10, seed=18, slo_ms=1000.0)
    r = simulate(one_stage(), w, Static(cfg1()), RunOptions(duration_s=4.0))
    check_accounting(r, int((w.arrival_s < 4.0).sum()))


@pytest.fixture
def default_sigint():
    """Python's own SIGINT handler (KeyboardInterrupt) during the test, whatever the runner
    installed; the runner's is put back afterwards."""
    prev = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, prev)


@pytest.mark.parametrize("how", ["raise", "sigint"])
@pytest.mark.parametrize("queue", ["fifo", "edf"])
def test_ctrl_c_in_the_fast_path_returns_what_was_measured(monkeypatch, default_sigint, queue, how):
    """Interrupt a Static run (the batch-at-a-time path) from inside its service draws: by a
    KeyboardInterrupt raised there, or by a real SIGINT (the run stops at its next safe point)."""
    import ssloserve.runtime.sim.state as sim_state

    real = sim_state.noise_source
    calls = {"n": 0}

    def interrupting(opts, k):
        draw = real(opts, k)

        def wrapped():
            calls["n"] += 1
            if calls["n"] == 3:  # after two chunks of 65,536 draws
                if how == "raise":
                    raise KeyboardInterrupt
                os.kill(os.getpid(), signal.SIGINT)
            return draw()

        return wrapped

    monkeypatch.setattr(sim_state, "noise_source", interrupting)
    w = Workload.from_rates([3000] * 100, seed=19, slo_ms=1000.0)
    r = run(
        one_stage(),
        w,
        cfg1(replicas=40, batch=2),
        service="exponential",
        queue=queue,
        drop="cannot_finish",
        progress=False,
    )
    assert r.meta["interrupted"] and r.meta["path"] == "fast"
    c = check_accounting(r)
    assert 0 < len(r) < len(w) and c["served"] > 0
    assert (r.requests["arrival_s"] <= r.meta["interrupted_at_s"]).all()
    assert (r.requests_df()["reason"] == "interrupted").any()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


class SigintAt(StepPolicy):
    """Sends this process a real SIGINT (Ctrl-C) at its first decision at or after t_s."""

    def decide(self, obs):
        if obs.t_s >= self.t_s and not getattr(self, "sent", False):
            self.sent = True
            os.kill(os.getpid(), signal.SIGINT)
        return self.a


def test_real_ctrl_c_stops_the_event_loop_at_a_safe_point(default_sigint):
    """A SIGINT in the middle of a run: the event loop stops within about a thousand events
    (here well under a simulated second at 4,000 events/s), returns every request accounted
    for, and puts the previous SIGINT handler back."""
    w = Workload.from_rates([2000] * 20, seed=24, slo_ms=1000.0)
    r = run(one_stage(), w, SigintAt(cfg1(30), cfg1(30), 5.0), progress=False)
    assert r.meta["interrupted"] is True
    assert 5.0 < r.meta["interrupted_at_s"] < 5.5  # after the tick, at the next safe point
    c = check_accounting(r)
    assert len(r) == int((w.arrival_s <= r.meta["interrupted_at_s"]).sum())
    assert c["served"] > 0.9 * len(r)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_progress_bar_appears_by_itself_on_a_long_run(monkeypatch, capsys):
    """progress=None (auto) shows the bar once the run has taken PROGRESS_AFTER_S (2 s; 0
    here so that a short run counts as long)."""
    import ssloserve.runtime.progress as progress_mod

    w = Workload.from_rates([2000] * 20, seed=25, slo_ms=1000.0)
    pol = StepPolicy(cfg1(30), cfg1(30), 0.0)
    run(one_stage(), w, pol)  # 2 s have not passed: no bar
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(progress_mod, "PROGRESS_AFTER_S", 0.0)
    run(one_stage(), w, pol)
    assert "sim" in capsys.readouterr().err


def test_progress_bar_when_asked(capsys):
    w = Workload.from_rates([50] * 30, seed=20, slo_ms=1000.0)
    run(one_stage(), w, StepPolicy(cfg1(), cfg1(2), 10.0), progress=True)
    assert "sim" in capsys.readouterr().err
    run(one_stage(), w, StepPolicy(cfg1(), cfg1(2), 10.0), progress=False)
    assert capsys.readouterr().err == ""


def test_variant_switch_that_does_not_fit_keeps_the_old_variant():
    vs = (Variant("lo", 0.5, FLAT10), Variant("hi", 0.9, LatencyModel(0, 0, 0, 20.0)))
    w = Workload.from_rates([30] * 10, seed=21, slo_ms=1000.0)
    pol = StepPolicy(cfg1(2, cores=2.0, variant="lo"), cfg1(2, cores=2.0, variant="hi"), 3.0)
    r = run(one_stage(variants=vs), w, pol, node_cores=5, cold_start_s=1.0)
    check_accounting(r, len(w))
    assert (r.requests["accuracy"] == 0.5).all()  # the old replicas kept serving
    ev = r.events[r.events["kind"] == "variant"]
    assert "infeasible" in set(ev["state"]) and "done" not in set(ev["state"])


class Recording(StepPolicy):
    """StepPolicy that keeps every observation it is shown."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.seen = []

    def decide(self, obs):
        self.seen.append(obs)
        return super().decide(obs)


def _busy_in(rec, t0, t1):
    """Replica-seconds of service within (t0, t1], from the records (batch 1: a request is a
    batch)."""
    s, f = rec["start_s"], rec["finish_s"]
    ok = np.isfinite(s)
    return float(np.clip(np.minimum(f[ok], t1) - np.maximum(s[ok], t0), 0, None).sum())


def test_observed_utilisation_is_the_measured_busy_fraction_of_ready_replicas():
    """obs.utilisation = busy replica-seconds / ready replica-seconds over the last interval,
    checked against the per-request records; a replica still in its cold start is not ready."""
    w = Workload.from_rates([120] * 12, seed=22, slo_ms=1000.0)
    pol = Recording(cfg1(2), cfg1(3), 5.0)
    r = run(one_stage(), w, pol, service="exponential", seed=3, cold_start_s=1.5)
    check_accounting(r, len(w))
    rec = r.stage_records["a"]
    assert [o.t_s for o in pol.seen] == [float(t) for t in range(1, 12)]
    for prev, o in zip([0.0] + [o.t_s for o in pol.seen], pol.seen, strict=False):
        ready = 2 * (o.t_s - prev) + max(0.0, o.t_s - max(prev, 6.5))  # 3rd ready at 6.5 s
        want = _busy_in(rec, prev, o.t_s) / ready
        assert o.utilisation["a"] == pytest.approx(want, rel=1e-9, abs=1e-12)
    # about lam x service / replicas: 120 x 10 ms / 2 before the third replica, / 3 after
    assert pol.seen[3].utilisation["a"] == pytest.approx(0.6, abs=0.1)
    assert pol.seen[9].utilisation["a"] == pytest.approx(0.4, abs=0.1)


def test_observed_utilisation_counts_small_batches_at_their_own_service_time():
    """At batch 8 and a light load the batches hold one or two requests, each taking the full
    100 ms: replicas are far busier than a full-batch estimate says, and the simulator reports
    what they did."""
    w = Workload.from_rates([8] * 30, seed=23, slo_ms=1000.0)
    pol = Recording(cfg1(1, batch=8), cfg1(1, batch=8), 0.0, interval_s=5.0)
    run(one_stage(LatencyModel(0, 0, 0, 100.0)), w, pol, max_batch_delay_ms=0.0)
    measured = [o.utilisation["a"] for o in pol.seen]
    assert min(measured) > 0.4  # full batches would be 8 x 0.1 s / 8 = 10% busy
