"""IPAPolicy and the baselines in the simulator (PAPERS.md 3; chapter 03_ipa)."""

from __future__ import annotations

import numpy as np
import pytest

from ssloserve import run
from ssloserve.ipa import solve_chain
from ssloserve.ipa.baselines import high_variants, low_variants
from ssloserve.ipa.experiments import systems
from ssloserve.ipa.pipelines import video
from ssloserve.ipa.policy import IPAPolicy
from ssloserve.latency import LatencyModel, batch_delay_ms
from ssloserve.observation import Observation
from ssloserve.pipeline import Pipeline, Stage, Variant
from ssloserve.predictors import MaxWindow
from ssloserve.runtime.options import RunOptions
from ssloserve.workloads import Workload

V = video(source="fallback")
RATES = [4] * 40 + [30] * 40


@pytest.fixture(scope="module")
def runs():
    w = Workload.from_rates(RATES, seed=0, slo_ms=V.sla_ms)
    pols = systems(V, RATES, predictor=MaxWindow(30))
    return {k: run(V.pipeline, w, p, progress=False) for k, p in pols.items()}


def _variants(result, stage):
    return [c[stage].variant for c in result.timeline["target"]]


def test_ipa_switches_variant_and_pays_the_cold_start(runs):
    ev = runs["IPA"].events
    sw = ev[(ev.kind == "variant") & (ev.stage == "classify")]
    # 4 RPS: ResNet50 on its one core is free accuracy; 30 RPS: back to ResNet18
    assert "resnet18->resnet50" in set(sw.detail) and "resnet50->resnet18" in set(sw.detail)
    down = sw[sw.detail == "resnet50->resnet18"]
    t_req = down[down.state == "requested"].t_s.iloc[0]
    t_done = down[down.state == "done"].t_s.iloc[0]
    assert t_done - t_req == pytest.approx(RunOptions().cold_start_s, rel=1e-6)


def test_fa2_baselines_never_switch_variants(runs):
    for name, want in (("FA2-low", low_variants(V)), ("FA2-high", high_variants(V))):
        for stage, variant in want.items():
            assert set(_variants(runs[name], stage)) == {variant}
        ev = runs[name].events
        assert (ev[ev.t_s > 0].kind != "variant").all()  # at t = 0 the initial config is set up
    # and they do scale: FA2-low's replicas grow with the load
    reps = [c.stages["detect"].replicas for c in runs["FA2-low"].timeline["target"]]
    assert max(reps) > min(reps)


def test_rim_like_keeps_replicas_and_switches(runs):
    targets = runs["RIM-like"].timeline["target"]
    for stage in V.pipeline.order:
        assert len({(c[stage].replicas, c[stage].cores) for c in targets}) == 1
    assert (
        len({c["detect"].variant for c in targets} | {c["classify"].variant for c in targets}) > 2
    )


def test_accuracy_order_on_the_step(runs):
    acc = {k: r.summary()["mean_accuracy"] for k, r in runs.items()}
    assert acc["IPA"] >= acc["FA2-low"]
    assert acc["FA2-high"] > acc["FA2-low"]


def test_falls_back_to_the_fastest_plan_when_no_plan_meets_the_sla():
    pol = IPAPolicy(V.pipeline, 100.0, batches=V.batches, predictor=MaxWindow(30))
    cfg = pol.plan_for(10.0)
    assert pol.infeasible_plans == 1
    lat = sum(
        V.pipeline.stage(s).variant(c.variant).latency_ms(c.batch)
        + batch_delay_ms(c.batch, 10.0 * pol.headroom)
        for s, c in cfg.stages.items()
    )
    with pytest.raises(Exception) as e:
        solve_chain(V.stages, 12.0, 80.0, V.alpha, V.beta, V.gamma, batches=V.batches)
    assert lat == pytest.approx(e.value.nearest_feasible, rel=1e-6)


def test_prefers_the_variant_in_force_among_equals():
    m = LatencyModel(0.0, 0.0, 0.0, 50.0)
    st = Stage("a", (Variant("x", 0.8, m), Variant("y", 0.8, m)))
    p = Pipeline.chain(st)
    pol = IPAPolicy(p, 500.0, predictor=MaxWindow(30), headroom=1.0, stabilisation_s=10.0)
    first = pol.initial()["a"].variant
    other = "y" if first == "x" else "x"
    pol._current = [(other, 1, 1)]
    obs = Observation(t_s=10.0, rates_rps=np.full(10, 5.0), config=None)
    assert pol.decide(obs)["a"].variant == other
