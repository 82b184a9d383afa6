"""Where each mechanism wins: a sweep over the cold start and the parallel fraction.

Chapter 04_biscale, section "Sliders". Horizontal scaling loses when new replicas take long
to start; vertical scaling loses when the model gains little from more cores (a small
parallel fraction p, Amdahl's law). :func:`mechanism_sweep` runs Biscale and both single
mechanisms in the simulator on one load step, for every pair (cold start, p) of a grid, so
that a chart with two sliders (:func:`ssloserve.biscale.ui.sweep_chart`) can show the
outcome of any pair on the static website, with no kernel.

The model is one stage whose latency is Amdahl's law with the same p at every batch
(:func:`amdahl_model`): ``l(b, c) = L b (p / c + 1 - p)``, where L is the latency of one
request on one core.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..latency import LatencyModel
from ..pipeline import Pipeline, Stage, Variant
from .experiments import run_systems, systems

__all__ = ["SWEEP_SYSTEMS", "amdahl_model", "amdahl_pipeline", "sweep_rates", "mechanism_sweep"]

#: The systems the sweep compares: Biscale and both single mechanisms.
SWEEP_SYSTEMS = ("Biscale", "horizontal only", "vertical only")


def amdahl_model(parallel_fraction: float, one_core_ms: float = 176.2) -> LatencyModel:
    """l(b, c) = L b (p / c + 1 - p): Amdahl's law with parallel fraction p at every batch.

    ``gamma = p L`` is the part cores divide, ``delta = (1 - p) L`` the part they do not
    (PAPERS.md 0.1 with ``epsilon = eta = 0``). The default L is YOLOv5n's l(1, 1).

    Examples
    --------
    >>> m = amdahl_model(0.75, one_core_ms=100.0)
    >>> m.latency(1, 1), m.latency(1, 4), round(float(m.parallel_fraction(4)), 2)
    (100.0, 43.75, 0.75)
    """
    if not 0.0 <= parallel_fraction <= 1.0:
        raise ValueError(f"parallel_fraction must be in [0, 1], got {parallel_fraction!r}")
    p, L = float(parallel_fraction), float(one_core_ms)
    return LatencyModel(gamma=p * L, delta=(1.0 - p) * L, epsilon=0.0, eta=0.0)


def amdahl_pipeline(parallel_fraction: float, one_core_ms: float = 176.2) -> Pipeline:
    """One stage ``"model"`` served by :func:`amdahl_model`, batch 1 only (cores are the
    only knob, so the sweep isolates horizontal against vertical).

    Examples
    --------
    >>> amdahl_pipeline(0.9).order
    ('model',)
    """
    v = Variant(
        f"amdahl p={parallel_fraction:g}", 1.0, amdahl_model(parallel_fraction, one_core_ms)
    )
    return Pipeline.chain(Stage("model", (v,), max_batch=1))


def sweep_rates(low: int = 6, high: int = 24, low_s: int = 20, high_s: int = 40) -> np.ndarray:
    """The sweep's load: ``low`` RPS for ``low_s`` seconds, then a step to ``high``.

    Examples
    --------
    >>> sweep_rates(2, 8, 2, 3).tolist()
    [2, 2, 8, 8, 8]
    """
    return np.concatenate([np.full(low_s, low), np.full(high_s, high)])


def mechanism_sweep(
    cold_starts_s: Sequence[float],
    parallel_fractions: Sequence[float],
    rates_rps=None,
    slo_ms: float = 780.0,
    include: Sequence[str] = SWEEP_SYSTEMS,
    seed: int = 0,
    one_core_ms: float = 176.2,
) -> pd.DataFrame:
    """Every system in the simulator for every (cold start, parallel fraction) pair.

    Parameters
    ----------
    cold_starts_s : cold starts to try (s), the simulator's ``cold_start_s``
    parallel_fractions : values of p (:func:`amdahl_pipeline`)
    rates_rps : the load, per second (default :func:`sweep_rates`: 6 RPS, then 24)
    slo_ms : the SLO (ms)
    include : systems (:func:`~ssloserve.biscale.experiments.systems`)
    seed : seed of the arrivals (the same for every run)
    one_core_ms : L, the latency of one request on one core (ms)

    Returns
    -------
    Long table: ``cold_start_s, parallel_fraction, system, violation_pct, core_seconds``
    (and the other columns of :func:`~ssloserve.biscale.experiments.run_systems`).

    Examples
    --------
    >>> t = mechanism_sweep([0.5], [0.9], rates_rps=[3] * 3 + [6] * 5)
    >>> t.system.tolist()
    ['Biscale', 'horizontal only', 'vertical only']
    """
    from ..workloads import Workload

    rates = sweep_rates() if rates_rps is None else np.asarray(rates_rps)
    w = Workload.from_rates(rates, seed=seed, slo_ms=slo_ms)
    frames = []
    for p in parallel_fractions:
        pipe = amdahl_pipeline(float(p), one_core_ms)
        for cold in cold_starts_s:
            pols = systems(pipe, rates, slo_ms, include)
            t = run_systems(pipe, w, pols, cold_start_s=float(cold)).reset_index()
            t.insert(0, "parallel_fraction", round(float(p), 6))
            t.insert(0, "cold_start_s", round(float(cold), 6))
            frames.append(t)
    return pd.concat(frames, ignore_index=True)
