"""Chapter 04_biscale's experiments, short, in the simulator (PAPERS.md 4).

The step load (20 -> 80 RPS here, 40 s a step) shows each mechanism's failure and the
combination: horizontal-only lags every step by its cold start (violations), vertical-only
reacts at once but pays Amdahl's law in cores, Biscale reacts vertically and then moves to
the horizontal plan.
"""

from __future__ import annotations

import numpy as np
import pytest

from ssloserve.biscale import experiments as ex
from ssloserve.biscale.baselines import DROP_LIMITS
from ssloserve.outcomes import DROPPED, REASONS
from ssloserve.runtime.api import run
from ssloserve.workloads import Workload


@pytest.fixture(scope="module")
def steps():
    rates = ex.step_rates(20, 80, 20, hold_s=40)
    return ex.step_experiment(rates_rps=rates, cold_start_s=5.0, resize_delay_ms=0.2)


def test_step_load_biscale_beats_both_single_mechanisms(steps):
    summary, per_second = steps
    b, h, v = (summary.loc[s] for s in ("Biscale", "horizontal only", "vertical only"))
    assert h.violation_pct > 0  # the cold start: horizontal lags each step
    assert b.violation_pct < h.violation_pct / 10  # Biscale reacts at once
    assert b.core_seconds < v.core_seconds  # ... and costs less than vertical alone
    assert set(per_second["system"]) == set(ex.SYSTEMS)
    assert len(per_second) == len(ex.SYSTEMS) * 160


def test_drop_limits_are_the_k_slo_rule():
    p = ex.video_pipeline(source="fallback")
    rates = np.repeat([5, 60], [20, 30])
    w = Workload.from_rates(rates, seed=0, slo_ms=ex.VIDEO_SLO_MS)
    dropped = {}
    for name, opts in DROP_LIMITS.items():
        pol = ex.systems(p, rates, ex.VIDEO_SLO_MS, include=("horizontal only",))
        res = run(p, w, pol["horizontal only"], cold_start_s=10.0, progress=False, **opts)
        dropped[name] = res.summary()["dropped"]
        gone = np.asarray(res.requests["status"]) == DROPPED
        assert (np.asarray(res.requests["reason"])[gone] == REASONS.index("k_slo")).all()
    assert dropped["none"] == 0
    assert dropped["1x SLO"] > dropped["3x SLO"] > 0


def test_headline_reads_violations_and_cost():
    t = ex.compare_patterns(("steady_low",), duration_s=60, source="synthetic")
    assert list(t["system"]) == list(ex.SYSTEMS)
    h = ex.headline(t)
    assert list(h["baseline"]) == list(ex.SYSTEMS[1:])
    assert (h["cost_ratio"] > 0).all()
