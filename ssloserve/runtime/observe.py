"""What every runtime shows a policy and records each interval, built in one place.

Chapter: 00_tour. A runtime gives its state (per-second arrival counts, its queues, each
stage's replicas as :class:`~ssloserve.runtime.actuation.ReplicaView`); these functions
turn it into the :class:`~ssloserve.observation.Observation` a policy sees and the config
in force that the timeline records, with the same rules in every runtime.
"""

from __future__ import annotations

import math

import numpy as np

from ..observation import Observation
from ..pipeline import Config
from .actuation import in_force

__all__ = ["arrival_counts", "recent_rates", "config_in_force", "build_observation"]


def arrival_counts(arrival_s, horizon_s: float) -> np.ndarray:
    """Arrivals in each whole second ``[k, k + 1)`` up to the horizon.

    Examples
    --------
    >>> arrival_counts(np.array([0.1, 0.5, 1.2, 2.9]), 3.0).tolist()
    [2, 1, 1, 0]
    """
    a = np.asarray(arrival_s, dtype=float)
    return np.bincount(np.floor(a).astype(np.int64), minlength=int(math.ceil(horizon_s)) + 1)


def recent_rates(counts: np.ndarray, t_s: float, history_s: int) -> np.ndarray:
    """The per-second arrival rates a policy sees at ``t_s``: the last ``history_s`` whole
    seconds before it, oldest first.

    Examples
    --------
    >>> c = np.array([2, 1, 4, 3])
    >>> recent_rates(c, 3.0, 600).tolist(), recent_rates(c, 3.5, 2).tolist()
    ([2.0, 1.0, 4.0], [1.0, 4.0])
    """
    s = min(int(math.floor(t_s + 1e-9)), len(counts))
    return counts[max(0, s - history_s) : s].astype(float)


def config_in_force(stages: dict) -> Config:
    """The config served with now: ``stages`` maps each stage name to (its replicas as
    :class:`~ssloserve.runtime.actuation.ReplicaView`, its target
    :class:`~ssloserve.pipeline.StageConfig`); see
    :func:`~ssloserve.runtime.actuation.in_force`.

    Examples
    --------
    >>> from ssloserve.pipeline import StageConfig
    >>> from ssloserve.runtime.actuation import ReplicaView
    >>> cfg = config_in_force({"a": ([ReplicaView(0, "m", 2.0, "idle")], StageConfig("m", 2))})
    >>> cfg["a"]
    StageConfig(variant='m', replicas=1, cores=2.0, batch=1)
    """
    return Config({name: in_force(reps, target) for name, (reps, target) in stages.items()})


def build_observation(
    t_s: float,
    *,
    counts: np.ndarray,
    history_s: int,
    config: Config,
    waiting_deadlines_s,
    queue_lengths: dict,
    actuation: dict,
    pipeline,
    slo_ms: float,
    utilisation: dict,
) -> Observation:
    """The :class:`~ssloserve.observation.Observation` at ``t_s``.

    Parameters
    ----------
    t_s : seconds since the start of the run
    counts : arrivals per whole second (:func:`arrival_counts`)
    history_s : seconds of rates to show
    config : the config in force (:func:`config_in_force`)
    waiting_deadlines_s : deadlines of the requests waiting at the first stage
    queue_lengths, actuation, utilisation : per stage, as in ``Observation``
    pipeline, slo_ms : the pipeline served and the SLO of the workload

    Examples
    --------
    >>> from ssloserve.pipeline import Config
    >>> o = build_observation(2.5, counts=np.array([3, 4, 0]), history_s=600, config=Config({}),
    ...     waiting_deadlines_s=[2.6], queue_lengths={}, actuation={}, pipeline=None,
    ...     slo_ms=100.0, utilisation={})
    >>> o.rates_rps.tolist(), o.budgets_ms.round(6).tolist()
    ([3.0, 4.0], [100.0])
    """
    return Observation(
        t_s=t_s,
        rates_rps=recent_rates(counts, t_s, history_s),
        config=config,
        budgets_ms=(np.asarray(waiting_deadlines_s, dtype=float) - t_s) * 1000.0,
        queue_lengths=queue_lengths,
        actuation=actuation,
        pipeline=pipeline,
        slo_ms=slo_ms,
        utilisation=utilisation,
    )
