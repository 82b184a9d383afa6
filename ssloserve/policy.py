"""The policy contract and the simplest policy (chapter 00_tour).

A policy is anything with ``interval_s`` and ``decide(obs) -> Config``. ``initial(pipeline, slo_ms)``
(optional) gives the config at time 0. ``decide`` may return None to keep the config in force.

This module sits below the runtime (DESIGN.md layers): ``run()`` wraps a bare
:class:`~ssloserve.pipeline.Config` in :class:`Static`, and the simulator's fast path
recognises it. The adaptive baselines and the re-planning loop are in
:mod:`ssloserve.policies`, which re-exports both names.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from .observation import Observation
from .pipeline import Config, Pipeline

__all__ = ["Policy", "Static"]


@runtime_checkable
class Policy(Protocol):
    """Every adaptation interval, look at an observation and return a config."""

    interval_s: float

    def decide(self, obs: Observation) -> Config: ...


class Static:
    """Always the same config.

    Examples
    --------
    >>> from ssloserve.pipeline import Config, StageConfig
    >>> p = Static(Config({"a": StageConfig("x", 2)}))
    >>> p.decide(None).cost
    2.0
    """

    def __init__(self, config: Config, interval_s: float = 1.0):
        self.config = config
        self.interval_s = interval_s

    def initial(self, pipeline: Pipeline, slo_ms: float | None = None) -> Config:
        return self.config

    def decide(self, obs: Observation) -> Config:
        return self.config

    def __repr__(self) -> str:
        return f"Static(cost={self.config.cost:g} cores)"
