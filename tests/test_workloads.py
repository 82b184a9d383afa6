"""Tests of ssloserve.workloads: arrivals, the Workload type, synthetic rate series."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssloserve import workloads
from ssloserve.errors import TraceFormatError


def test_arrivals_counts_and_range():
    rates = [0, 5, 3, 0, 10]
    t = workloads.arrivals(rates, seed=4)
    assert len(t) == 18
    assert np.all(np.diff(t) >= 0)
    assert np.bincount(np.floor(t).astype(int), minlength=5).tolist() == rates


def test_arrivals_seeded_and_seed_matters():
    a = workloads.arrivals([20] * 10, seed=1)
    assert np.array_equal(a, workloads.arrivals([20] * 10, seed=1))
    assert not np.array_equal(a, workloads.arrivals([20] * 10, seed=2))


def test_arrivals_are_uniform_within_the_second():
    # Poisson points given their count are uniform: the fractional parts have mean 1/2
    # and variance 1/12. With 200,000 points the standard error of the mean is 0.00065.
    t = workloads.arrivals([1000] * 200, seed=0)
    frac = t - np.floor(t)
    assert abs(frac.mean() - 0.5) < 0.003
    assert abs(frac.var() - 1 / 12) < 0.002


def test_arrivals_fractional_rates_keep_the_mean():
    t = workloads.arrivals([2.5] * 4000, seed=0)
    assert abs(len(t) / 4000 - 2.5) < 0.03


def test_arrivals_rejects_negative_and_nan():
    with pytest.raises(TraceFormatError, match="negative"):
        workloads.arrivals([1, -2])
    with pytest.raises(TraceFormatError, match="not finite"):
        workloads.arrivals([1, float("nan")])


def test_workload_from_rates_budgets_per_second():
    w = workloads.Workload.from_rates(
        [2, 3], seed=0, budget_ms=[800.0, 600.0], payload_bytes=[10, 20]
    )
    sec = np.floor(w.arrival_s).astype(int)
    assert np.array_equal(w.budget_ms, np.where(sec == 0, 800.0, 600.0))
    assert np.array_equal(w.payload_bytes, np.where(sec == 0, 10, 20))
    assert np.allclose(w.deadline_s, w.arrival_s + w.budget_ms / 1000)
    assert w.rates().tolist() == [2, 3]
    assert w.duration_s == 2.0


def test_workload_is_read_only():
    w = workloads.Workload.from_rates([3], seed=0)
    with pytest.raises(ValueError):
        w.arrival_s[0] = 5.0


def test_step_load():
    s = workloads.step_load((5, 30, 5), step_s=100)
    assert len(s) == 300 and s[:100].tolist() == [5] * 100 and s[150] == 30
    noisy = workloads.step_load((5, 30), step_s=1000, seed=0)
    assert abs(noisy[:1000].mean() - 5) < 0.3 and abs(noisy[1000:].mean() - 30) < 0.8
    with pytest.raises(TraceFormatError):
        workloads.step_load((5, -1))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=40),
    st.integers(min_value=0, max_value=2**31),
)
def test_arrivals_property(rates, seed):
    t = workloads.arrivals(rates, seed=seed)
    assert len(t) == sum(rates)
    assert np.all(np.diff(t) >= 0) and (t >= 0).all() and (t < len(rates)).all()
    assert np.bincount(np.floor(t).astype(int), minlength=len(rates)).tolist() == rates
    w = workloads.Workload.from_rates(rates, seed=seed, slo_ms=250.0)
    assert np.array_equal(w.arrival_s, t) and (w.budget_ms == 250.0).all()
