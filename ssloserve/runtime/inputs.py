"""What a runtime reads from its inputs: a workload's arrays, the policy, its configs.

Chapter: 00_tour. Shared by every runtime (below them: it imports no runtime), so a
workload, a policy and a config are checked the same way whichever runtime serves them.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError, PolicyError, TraceFormatError
from ..observation import Observation
from ..pipeline import Config, Pipeline
from ..policy import Static

__all__ = ["workload_arrays", "as_policy", "checked_config", "initial_config"]


def workload_arrays(workload, duration_s: float | None = None):
    """Arrival times (s), deadlines (s), payload sizes and the horizon of a workload.

    Reads ``arrival_s``, ``budget_ms`` and (optionally) ``payload_bytes`` and ``duration_s``
    duck-typed, keeps the arrivals before ``duration_s``, and checks them.

    Returns
    -------
    (arrival_s, deadline_s, payload_bytes, horizon_s)

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> w = SimpleNamespace(arrival_s=np.array([0.1, 0.5, 2.5]), budget_ms=np.array([100., 100., 100.]))
    >>> a, d, p, h = workload_arrays(w, duration_s=2.0)
    >>> a.tolist(), d.tolist(), h
    ([0.1, 0.5], [0.2, 0.6], 2.0)
    """
    try:
        a = np.asarray(workload.arrival_s, dtype=float).ravel()
        bud = np.broadcast_to(np.asarray(workload.budget_ms, dtype=float), a.shape)
    except AttributeError as e:
        raise TraceFormatError(
            f"a workload needs arrival_s and budget_ms (got {type(workload).__name__}: {e})"
        ) from None
    pay = getattr(workload, "payload_bytes", None)
    pay = np.zeros(len(a), np.int64) if pay is None else np.broadcast_to(pay, a.shape)
    if len(a) and not np.isfinite(a).all():
        raise TraceFormatError("workload arrival times must be finite")
    if len(a) and a[0] < 0:
        raise TraceFormatError(f"workload arrival times must be >= 0, got {a[0]!r}")
    if len(a) > 1 and (np.diff(a) < 0).any():
        raise TraceFormatError("workload arrival times must be sorted")
    if len(bud) and not (bud > 0).all():
        i = int(np.flatnonzero(~(bud > 0))[0])
        raise TraceFormatError(f"request {i} has a non-positive budget {bud[i]!r} ms")
    horizon = getattr(workload, "duration_s", None)
    if horizon is None or not np.isfinite(horizon):
        horizon = float(np.floor(a[-1]) + 1.0) if len(a) else 0.0
    if duration_s is not None:
        n = int(np.searchsorted(a, duration_s, side="left"))
        a, bud, pay = a[:n], bud[:n], pay[:n]
        horizon = float(duration_s)
    return a, a + bud / 1000.0, pay, float(horizon)


def as_policy(policy):
    """A policy, or a :class:`~ssloserve.pipeline.Config` wrapped in ``Static``."""
    if isinstance(policy, Config):
        return Static(policy)
    if not hasattr(policy, "decide"):
        raise PolicyError(f"a policy needs decide(obs) -> Config; got {type(policy).__name__}")
    iv = getattr(policy, "interval_s", None)
    if not isinstance(iv, int | float) or not iv > 0 or not math.isfinite(iv):
        raise PolicyError(f"policy {policy!r}: interval_s must be a positive number, got {iv!r}")
    return policy


def checked_config(cfg, pipeline: Pipeline, policy, t_s: float) -> Config:
    """``cfg`` validated against ``pipeline``; errors say which policy returned it and when."""
    if not isinstance(cfg, Config):
        raise PolicyError(
            f"policy {policy!r} returned {type(cfg).__name__} at t={t_s:g} s; expected a Config"
        )
    try:
        return cfg.validate(pipeline)
    except ConfigError as e:
        raise ConfigError(f"policy {policy!r} at t={t_s:g} s: {e}") from None


def initial_config(policy, pipeline: Pipeline, slo_ms: float, obs0: Observation) -> Config:
    """The config at t = 0: ``policy.initial(pipeline, slo_ms)`` if it has one, else
    ``policy.decide(obs0)``; validated."""
    init = getattr(policy, "initial", None)
    cfg = init(pipeline, slo_ms) if callable(init) else policy.decide(obs0)
    return checked_config(cfg, pipeline, policy, 0.0)
