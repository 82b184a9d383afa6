"""Tests of ssloserve.latency: the equations of PAPERS.md 0.1-0.2, each against an
independent computation (exact fractions, brute force, or the equation's other form)."""

from __future__ import annotations

import math
from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssloserve.errors import ProfileError
from ssloserve.latency import (
    LatencyModel,
    amdahl_bound,
    amdahl_speedup,
    batch_delay_ms,
    fit_latency_model,
    offered_load,
    replicas_needed,
    throughput_rps,
)
from ssloserve.pipeline import Config, Pipeline, Stage, StageConfig, Variant
from ssloserve.policies import InferLine

_pos = st.floats(min_value=0.1, max_value=100.0)


@settings(max_examples=60, deadline=None)
@given(_pos, _pos, _pos, _pos, st.integers(1, 32), st.floats(min_value=0.25, max_value=64.0))
def test_speedup_is_amdahl_of_the_parallel_fraction(g, d, e, h, b, c):
    """l(b, 1) / l(b, c) = 1 / ((1 - p) + p / c), and it never reaches 1 / (1 - p)."""
    m = LatencyModel(g, d, e, h)
    p = m.parallel_fraction(b)
    assert m.speedup(b, c) == pytest.approx(amdahl_speedup(p, c), rel=1e-12)
    assert m.speedup(b, c) < amdahl_bound(p)
    assert m.throughput(b, c) == pytest.approx(b / (m.latency(b, c) / 1000.0), rel=1e-12)


def test_published_parallel_fractions():
    """PAPERS.md 0.1: the YOLOv5n fit has p(1) about 0.875 (at most about 8x), ResNet18 0.77."""
    yolo = LatencyModel(148.8, 37.5, 5.43, -15.5)
    resnet = LatencyModel(34.7, 2.06, 19.5, 14.3)
    assert yolo.parallel_fraction(1) == pytest.approx(0.875, abs=0.001)
    assert amdahl_bound(yolo.parallel_fraction(1)) == pytest.approx(8.0, abs=0.1)
    assert resnet.parallel_fraction(1) == pytest.approx(0.77, abs=0.005)
    assert amdahl_bound(1.0) == math.inf


def test_fit_recovers_a_model_exactly_and_rejects_degenerate_grids():
    true = LatencyModel(18.0, 4.5, 45.0, 1.2)
    b, c = np.meshgrid([1, 2, 4, 8], [1, 2, 4])
    fit = fit_latency_model(b.ravel(), c.ravel(), true.latency(b.ravel(), c.ravel()))
    assert np.allclose(fit.params, true.params) and fit.mape == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ProfileError, match="vary both batch and cores"):
        fit_latency_model([1, 2, 4, 8], [1, 1, 1, 1], [10.0, 20.0, 40.0, 80.0])
    with pytest.raises(ProfileError, match="at least 4 distinct"):
        fit_latency_model([1, 2, 1], [1, 1, 2], [10.0, 20.0, 6.0])
    with pytest.raises(ProfileError, match="positive"):
        fit_latency_model([1, 2, 1, 2], [1, 1, 2, 2], [10.0, -20.0, 6.0, 9.0])


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 2000),
    st.integers(1, 500),
    st.integers(1, 16),
    st.sampled_from([F(1), F(4, 5), F(1, 2)]),
    st.integers(0, 3),
)
def test_replicas_needed_is_the_fewest_that_suffice(lam, l_ms, b, u, floor):
    """Brute force on exact fractions: the fewest n >= min_replicas with n h u >= lam."""
    h = F(1000 * b, l_ms)
    n = floor
    while n * h * u < lam:
        n += 1
    got = replicas_needed(float(lam), float(l_ms), b, utilisation=float(u), min_replicas=floor)
    assert got == n


def test_replicas_at_zero_rate_is_min_replicas_everywhere():
    """One semantics at lam = 0: ``min_replicas`` (default 1), for FA2's sizing and for
    the InferLine-like policy alike."""
    assert replicas_needed(0.0, 100.0, 1) == 1
    assert replicas_needed(0.0, 100.0, 1, min_replicas=0) == 0
    p = Pipeline.chain(Stage("a", (Variant("x", 1.0, LatencyModel(0, 0, 0, 100.0)),)))
    cfg = Config({"a": StageConfig("x", 1, 1.0, 1)})
    for floor in (0, 1, 3):
        il = InferLine(cfg, utilisation=0.8, min_replicas=floor)
        il.initial(p, 1000.0)
        for lam in (0.0, 7.0, 8.0, 8.5, 30.0):
            assert il.replicas_for(lam, p, "a") == replicas_needed(
                lam, 100.0, 1, utilisation=0.8, min_replicas=floor
            )


def test_offered_load_and_throughput_agree():
    assert offered_load(30.0, 100.0, 1) == 30.0 / throughput_rps(1, 100.0) == 3.0
    assert np.allclose(throughput_rps([1, 4], [10.0, 20.0]), [100.0, 200.0])


def test_batch_delay():
    assert batch_delay_ms(1, 5.0) == 0.0 and batch_delay_ms(5, 40.0) == 100.0
    # p99 of the sum of b - 1 exponential gaps, checked against the closed form for one gap
    assert batch_delay_ms(2, 10.0, "p99") == pytest.approx(1000.0 * math.log(100.0) / 10.0)
    with pytest.raises(ValueError, match="'mean' or 'p99'"):
        batch_delay_ms(2, 1.0, "p50")
