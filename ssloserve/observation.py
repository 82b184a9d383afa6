"""What a policy sees every adaptation interval (DESIGN.md "Core types").

At the package top, below the runtimes, so a policy needs no runtime to be written or tested.
Every runtime builds it with :func:`ssloserve.runtime.observe.build_observation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .pipeline import Config, Pipeline

__all__ = ["Observation"]


@dataclass(frozen=True)
class Observation:
    """The state of the system at time ``t_s`` as a policy sees it.

    Attributes
    ----------
    t_s : seconds since the start of the run
    rates_rps : arrivals per second over the recent past, oldest first (last = latest whole second)
    budgets_ms : remaining budget (deadline - now, ms) of each request waiting at the first stage
    queue_lengths : requests waiting per stage
    config : the config in force (as actuated so far)
    actuation : per stage, the state of the last change ("done", "in_progress", "infeasible", ...)
    pipeline : the pipeline being served
    slo_ms : the end-to-end SLO of the workload (its default budget)
    utilisation : per stage, the measured busy fraction of its ready replicas over the last
        interval (busy replica-seconds / ready replica-seconds, in [0, 1]); a stage with no
        ready replica in the interval, or a runtime that does not measure it, has no entry

    Examples
    --------
    >>> from ssloserve.pipeline import Config
    >>> o = Observation(t_s=10.0, rates_rps=np.array([5, 7]), config=Config({}))
    >>> o.rate_rps
    7.0
    """

    t_s: float
    rates_rps: np.ndarray
    config: Config
    budgets_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    queue_lengths: dict = field(default_factory=dict)
    actuation: dict = field(default_factory=dict)
    pipeline: Pipeline | None = None
    slo_ms: float | None = None
    utilisation: dict = field(default_factory=dict)

    @property
    def rate_rps(self) -> float:
        """The latest whole second's arrival rate (0 when there is no history)."""
        return float(self.rates_rps[-1]) if len(self.rates_rps) else 0.0
