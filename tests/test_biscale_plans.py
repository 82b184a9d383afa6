"""Biscale's two plans against brute force (PAPERS.md 4; chapter 04_biscale).

Random small pipelines (chains of 1-3 stages and diamonds, batches up to 4, caps of 1-4
cores, 1-3 replicas today), some with an SLO nobody meets, some with a rate that the core
cap cannot carry on today's replicas: both plans must equal the exhaustive oracle of
``ssloserve.biscale.oracle`` (same cost, same worst-path latency) or fail with it.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssloserve.biscale import (
    brute_force_horizontal,
    brute_force_vertical,
    horizontal_plan,
    max_vertical_rate,
    random_instance,
    vertical_plan,
)
from ssloserve.errors import InfeasibleError
from ssloserve.fa2 import path_latency_ms, video_pipeline
from ssloserve.latency import throughput_rps

SEEDS = st.integers(0, 2**32 - 1)


def _outcome(f, *args, **kw):
    try:
        return f(*args, **kw)
    except InfeasibleError as e:
        return e


def _capacity(p, cfg, stage):
    sc = cfg[stage]
    return sc.replicas * throughput_rps(
        sc.batch, p.stage(stage).variant(sc.variant).latency_ms(sc.batch, sc.cores)
    )


def check_horizontal(p, lam, slo):
    got, want = (
        _outcome(horizontal_plan, p, lam, slo),
        _outcome(brute_force_horizontal, p, lam, slo),
    )
    if isinstance(want, InfeasibleError):
        assert isinstance(got, InfeasibleError)
        assert got.nearest_feasible == pytest.approx(want.nearest_feasible)
        return "infeasible"
    assert not isinstance(got, InfeasibleError), got
    assert got.cost == want.cost
    assert path_latency_ms(p, got, lam) == pytest.approx(path_latency_ms(p, want, lam))
    assert all(got[s].cores == 1.0 for s in p.order)
    assert all(_capacity(p, got, s) >= lam * (1 - 1e-9) for s in p.order)
    return "feasible"


def check_vertical(p, lam, slo, n, cap, add):
    got = _outcome(vertical_plan, p, lam, slo, n, cap, add_replicas=add)
    want = _outcome(brute_force_vertical, p, lam, slo, n, cap, add_replicas=add)
    if isinstance(want, InfeasibleError):
        assert isinstance(got, InfeasibleError), got
        assert isinstance(_outcome(max_vertical_rate, p, lam, slo, n, cap), InfeasibleError)
        return "infeasible"
    assert not isinstance(got, InfeasibleError), got
    cfg, r = want
    assert got.cost == cfg.cost
    assert path_latency_ms(p, got, lam) == pytest.approx(path_latency_ms(p, cfg, lam))
    assert path_latency_ms(p, got, lam) <= slo + 1e-6
    assert max_vertical_rate(p, lam, slo, n, cap) == pytest.approx(r, rel=1e-12)
    assert all(got[s].cores <= cap for s in p.order)
    if r >= lam:  # vertical scaling carries the rate: today's replicas, nothing added
        assert all(got[s].replicas == n[s] for s in p.order)
        assert all(_capacity(p, got, s) >= lam * (1 - 1e-9) for s in p.order)
        return "carried"
    assert r < lam
    if add:  # vertical as far as it goes, replicas for the rest: the rate is carried
        assert all(got[s].replicas >= n[s] for s in p.order)
        assert all(_capacity(p, got, s) >= lam * (1 - 1e-9) for s in p.order)
    else:  # vertical alone: today's replicas carry the largest rate they can
        assert all(got[s].replicas == n[s] for s in p.order)
        assert min(_capacity(p, got, s) for s in p.order) >= r * (1 - 1e-9)
    return "beyond the cap"


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(SEEDS)
def test_horizontal_plan_equals_brute_force(seed):
    p, lam, slo, _, _ = random_instance(np.random.default_rng(seed))
    check_horizontal(p, lam, 1.5 * slo)  # 1-core paths are slower than the cap's


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(SEEDS, st.booleans())
def test_vertical_plan_equals_brute_force(seed, add):
    p, lam, slo, n, cap = random_instance(np.random.default_rng(seed))
    check_vertical(p, lam, slo, n, cap, add)


def test_every_case_is_drawn_and_matches():
    """300 seeded instances: each outcome of both plans occurs, and every one matches."""
    seen = {"horizontal": set(), "vertical": set()}
    for seed in range(300):
        p, lam, slo, n, cap = random_instance(np.random.default_rng(seed))
        seen["horizontal"].add(check_horizontal(p, lam, 1.5 * slo))
        seen["vertical"].add(check_vertical(p, lam, slo, n, cap, add=seed % 2 == 0))
    assert seen["horizontal"] == {"infeasible", "feasible"}
    assert seen["vertical"] == {"infeasible", "carried", "beyond the cap"}


def test_video_pipeline_cap_and_replicas_added():
    """The video pipeline (YOLOv5n -> ResNet18, published fits, SLO 780 ms, up to 8 cores):
    one detector carries at most h(1, 8) vertically; beyond it, replicas are added."""
    p = video_pipeline("yolov5n", "resnet18", max_batch=8, source="fallback")
    det = p.stage("detect").variants[0]
    h8 = max(det.throughput_rps(b, 8) for b in range(1, 9))
    assert max_vertical_rate(p, 100.0, 780.0, 1) == pytest.approx(h8)
    for lam in (10.0, 30.0, 60.0, 100.0):
        check_vertical(p, lam, 780.0, {"detect": 1, "classify": 1}, 8, add=True)
        check_horizontal(p, lam, 780.0)
    cfg = vertical_plan(p, 100.0, 780.0, 1)
    assert cfg["detect"].cores == 8.0 and cfg["detect"].replicas == 5  # ceil(100 / 24.2)
