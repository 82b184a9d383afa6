"""Baseline policies: Static, HPA-like and InferLine-like, alone and driving the simulator."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from ssloserve import run
from ssloserve.errors import PolicyError
from ssloserve.latency import LatencyModel
from ssloserve.observation import Observation
from ssloserve.pipeline import Config, Pipeline, Stage, StageConfig, Variant
from ssloserve.policies import HPA, InferLine, Policy, Static
from ssloserve.workloads import Workload

M = LatencyModel(0, 0, 0, 100.0)  # 100 ms: one replica serves 10 RPS at batch 1


def pipe():
    return Pipeline.chain(Stage("a", (Variant("x", 1.0, M),)), Stage("b", (Variant("y", 1.0, M),)))


def base(n=1):
    return Config({"a": StageConfig("x", n), "b": StageConfig("y", n)})


def obs(t, rates, cfg, p):
    return Observation(float(t), np.asarray(rates, dtype=float), cfg, pipeline=p)


def test_all_baselines_follow_the_protocol():
    for pol in (Static(base()), HPA(base()), InferLine(base())):
        assert isinstance(pol, Policy) and pol.interval_s > 0


def test_hpa_tolerance_band_scale_up_limit_and_slow_scale_down():
    p = pipe()
    hpa = HPA(base(2), target=0.5, tolerance=0.1, interval_s=15, stabilisation_s=60)
    cfg = hpa.initial(p, 1000.0)
    # 2 replicas at 10.5 RPS: each 52.5% busy, within 10% of the 50% target: no change
    assert hpa.decide(obs(15, [10.5] * 15, cfg, p))["a"].replicas == 2
    # 100% busy (overload is capped at 100%): desired 4, within max(2n, n + 4) = 6
    c = hpa.decide(obs(30, [100.0] * 15, cfg, p))
    assert c["a"].replicas == c["b"].replicas == 4
    # huge load on 4 ready replicas: ceil(4 x 1 / 0.5) = 8, capped at max(8, 8)
    c = hpa.decide(obs(45, [1000.0] * 15, c, p))
    assert c["a"].replicas == 8
    # load vanishes: the recommendation drops to 1, but the 60 s window keeps the max
    seen = []
    for t in range(60, 150, 15):
        c = hpa.decide(obs(t, [0.1] * 15, c, p))
        seen.append(c["a"].replicas)
    assert seen[0] == 8 and seen[-1] == 1
    assert all(x >= y for x, y in zip(seen, seen[1:], strict=False))


@pytest.mark.parametrize(
    "make,says",
    [
        (lambda: HPA(target=1.5), "HPA target must be a utilisation in (0, 1], got 1.5"),
        (lambda: HPA(target=float("nan")), "HPA target must be"),
        (lambda: HPA(tolerance=-0.1), "HPA tolerance must be >= 0, got -0.1"),
        (lambda: HPA(interval_s=0), "HPA interval_s must be > 0, got 0"),
        (lambda: HPA(stabilisation_s=-1), "HPA stabilisation_s must be >= 0"),
        (lambda: HPA(min_replicas=3, max_replicas=2), "HPA needs 0 <= min_replicas"),
        (lambda: InferLine(utilisation=0), "InferLine utilisation must be a utilisation in"),
        (lambda: InferLine(window_s=0), "InferLine window_s must be >= 1, got 0"),
        (lambda: InferLine(min_replicas=-1), "InferLine needs 0 <= min_replicas"),
        (lambda: InferLine(max_replicas=2.5), "must be integers"),
    ],
)
def test_baselines_reject_bad_parameters_by_name(make, says):
    with pytest.raises(PolicyError, match=re.escape(says)):
        make()


@pytest.mark.parametrize("lam", [0.0, 7.0, 8.0, 8.1, 33.0])
def test_inferline_formula(lam):
    p = pipe()
    il = InferLine(base(), utilisation=0.8, window_s=30)
    cfg = il.initial(p, 1000.0)
    rates = np.r_[np.full(100, 1000.0), np.full(29, 1.0), lam]  # the old burst is out of the window
    got = il.decide(obs(130, rates, cfg, p))["a"].replicas
    assert got == max(1, math.ceil(lam / (10.0 * 0.8) - 1e-9))


def test_inferline_and_hpa_react_to_a_load_step_in_the_simulator():
    p = pipe()
    rates = [8] * 60 + [40] * 120
    w = Workload.from_rates(rates, seed=1, slo_ms=1000.0)
    results = {}
    for name, pol in {
        "static": Static(base(1)),
        "inferline": InferLine(base(1)),
        "hpa": HPA(base(1), interval_s=5.0, stabilisation_s=30.0),
    }.items():
        r = run(p, w, pol, cold_start_s=2.0)
        c = r.counts()
        assert c["served"] + c["late"] + c["dropped"] == len(w)
        results[name] = r
    reps = {
        k: r.timeline["config"].map(lambda c: c["a"].replicas).to_numpy()
        for k, r in results.items()
    }
    assert reps["inferline"][:60].max() == 1 and reps["inferline"][-1] == math.ceil(40 / 8)
    assert reps["hpa"][-1] >= 5
    viol = {k: r.summary()["violation_pct"] for k, r in results.items()}
    assert viol["inferline"] < viol["static"] and viol["hpa"] < viol["static"]
    assert (
        results["inferline"].summary()["core_seconds"] > results["static"].summary()["core_seconds"]
    )


def test_hpa_uses_the_simulators_measured_utilisation():
    """Batch 8 at 8 RPS: batches of one or two requests keep a 100 ms replica about 60% busy,
    while the full-batch estimate says 10%. HPA (target 50%) believes the measurement and
    scales out; fed only the estimate it would stay at one replica."""
    from dataclasses import replace

    p = Pipeline.chain(Stage("a", (Variant("x", 1.0, M),)))
    w = Workload.from_rates([8] * 120, seed=2, slo_ms=1000.0)
    start = Config({"a": StageConfig("x", 1, 1.0, 8)})

    class EstimateOnly(HPA):
        def decide(self, obs):
            return super().decide(replace(obs, utilisation={}))

    reps = {}
    for name, cls in (("measured", HPA), ("estimate", EstimateOnly)):
        pol = cls(start, target=0.5, interval_s=15.0, stabilisation_s=60.0)
        r = run(p, w, pol, cold_start_s=1.0)
        c = r.counts()
        assert c["served"] + c["late"] + c["dropped"] == len(w) == len(r)
        reps[name] = r.timeline["config"].map(lambda c: c["a"].replicas).to_numpy()
    assert reps["estimate"].max() == 1
    assert reps["measured"].max() >= 2


# ---------------------------------------------------------------- the generic re-planning loop


def _per_10_rps(lam):
    """A planner for the tests: one replica per started 10 RPS on both stages."""
    n = math.ceil(lam / 10 - 1e-9)
    return Config({"a": StageConfig("x", n), "b": StageConfig("y", n)})


def test_replanning_scales_out_at_once_and_in_after_the_window():
    from ssloserve.policies import ReplanningPolicy

    seen = []

    def planner(lam):
        seen.append(lam)
        return _per_10_rps(lam)

    pol = ReplanningPolicy(planner, headroom=1.5, stabilisation_s=20, interval_s=5, min_rate_rps=2)
    assert isinstance(pol, Policy) and pol.interval_s == 5
    assert pol.initial().cost == 2.0 and seen == [3.0]  # min_rate_rps x headroom: no history yet
    p = pipe()
    # the default predictor is the max of the last 30 s: 40 RPS, 31 s ago, is forgotten
    rates = [40.0] + [5.0] * 30 + [12.0]
    assert pol.decide(obs(5, rates, base(), p)).cost == 2 * math.ceil(12 * 1.5 / 10)
    assert seen[-1] == pytest.approx(18.0)
    up = pol.decide(obs(10, [60.0], base(), p))  # 90 RPS planned: 9 replicas, at once
    assert up["a"].replicas == 9
    costs = [pol.decide(obs(t, [1.0], base(), p)).cost for t in (15, 20, 25, 30, 35)]
    # the 90-RPS recommendation of t=10 holds until t=30 (20 s later) has passed
    assert costs == [18.0, 18.0, 18.0, 2.0, 2.0]
    assert seen[-1] == 2  # 1.5 RPS is below min_rate_rps


def test_replanning_without_a_window_follows_every_recommendation():
    # stabilisation_s = 0: no scale-in delay (it raised on an empty window before)
    from ssloserve.policies import ReplanningPolicy

    pol = ReplanningPolicy(_per_10_rps, predictor=lambda r: r[-1], headroom=1.0, stabilisation_s=0)
    p = pipe()
    got = [pol.decide(obs(t, [lam], base(), p))["a"].replicas for t, lam in ((1, 35), (2, 5))]
    assert got == [4, 1]


def test_replanning_takes_predictor_objects_and_callables():
    from ssloserve.policies import ReplanningPolicy
    from ssloserve.predictors import MovingAverage

    p = pipe()
    mean = ReplanningPolicy(_per_10_rps, predictor=MovingAverage(window_s=4), headroom=1.0)
    assert mean.decide(obs(4, [100, 10, 20, 30, 40], base(), p))["a"].replicas == 3  # 25 RPS
    last = ReplanningPolicy(_per_10_rps, predictor=lambda r: r[-1], headroom=1.0)
    assert last.decide(obs(4, [100, 10, 20, 30, 40], base(), p))["a"].replicas == 4


@pytest.mark.parametrize(
    "kw, says",
    [
        (dict(headroom=0.0), "headroom"),
        (dict(stabilisation_s=-1.0), "stabilisation_s"),
        (dict(interval_s=math.nan), "interval_s"),
        (dict(min_rate_rps=-1.0), "min_rate_rps"),
    ],
)
def test_replanning_rejects_bad_parameters_by_name(kw, says):
    from ssloserve.policies import ReplanningPolicy

    with pytest.raises(PolicyError, match=says):
        ReplanningPolicy(_per_10_rps, **kw)
