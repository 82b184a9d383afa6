"""Biscale as a policy for ``ssloserve.run``: both plans and the switching rule (PAPERS.md 4).

Chapter 04_biscale. Every ``interval_s`` (1 s) :class:`BiscalePolicy`

1. asks a :class:`ssloserve.policies.ReplanningPolicy` over
   :func:`~ssloserve.biscale.plans.horizontal_plan` for the horizontal recommendation: the
   plan for the predicted rate times the headroom, scaled in only when every
   recommendation of the stabilisation window agrees (that loop is FA2's, reused as is);
2. reads the :class:`~ssloserve.biscale.switching.Signals` off the observation: the demand
   (the latest second's rate times the headroom), the predicted demand, what the ready
   replicas carry, whether replicas are still starting, whether the horizontal plan's
   replicas are ready, whether the vertical plan sits at the core cap;
3. lets :func:`~ssloserve.biscale.switching.switch` pick the branch and applies its plan:
   the :func:`~ssloserve.biscale.plans.vertical_plan` on the replicas ready now (replicas
   still starting are kept), the horizontal recommendation, or the plan in force.

A stage's replicas share one core count (:class:`~ssloserve.pipeline.StageConfig`), so the
replicas asked for while vertical carries the load start with the vertical cores and shrink
in place once they are ready (``to_horizontal``); their cold start is paid in cores too.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InfeasibleError
from ..fa2 import PlanOptions, plan
from ..latency import throughput_rps
from ..observation import Observation
from ..pipeline import Config, Pipeline, StageConfig
from ..policies import ReplanningPolicy
from .plans import MAX_CORES, horizontal_plan, vertical_options, vertical_plan
from .switching import VERTICAL_BRANCHES, Signals, SwitchRule, SwitchState, switch

__all__ = ["BiscalePolicy", "capacity_rps"]


def capacity_rps(pipeline: Pipeline, config: Config) -> float:
    """What ``config`` carries: the smallest over the stages of replicas x h(b, c).

    Examples
    --------
    >>> from ssloserve.fa2 import video_pipeline
    >>> p = video_pipeline("yolov5n", "resnet18", source="fallback")
    >>> cfg = Config({"detect": StageConfig("yolov5n", 2, 8.0, 1),
    ...               "classify": StageConfig("resnet18", 1, 1.0, 1)})
    >>> round(capacity_rps(p, cfg), 1)                  # the classifier: 1000 / 70.5 ms
    14.2
    """
    out = math.inf
    for s in pipeline.order:
        sc = config[s]
        l_ms = pipeline.stage(s).variant(sc.variant).latency_ms(sc.batch, sc.cores)
        out = min(out, sc.replicas * throughput_rps(sc.batch, l_ms))
    return float(out)


class BiscalePolicy:
    """Biscale: vertical scaling at once, the horizontal plan once its replicas are ready.

    Parameters
    ----------
    pipeline, slo_ms : what to serve and its SLO (ms)
    max_cores : the cap on cores per replica (PAPERS.md 4: 8)
    k_stable : K, stable decisions before going back to horizontal
        (:class:`~ssloserve.biscale.switching.SwitchRule`)
    rise_tolerance : the demand must exceed the ready capacity by more than this fraction
    stabilisation_s : scale in only when every horizontal recommendation of this window agrees
    headroom : plan for this multiple of the rate (1.2: replicas about 83% busy)
    slo_safety : plan against ``slo_safety * slo_ms`` (the plans have no queueing delay)
    predictor : the rate to expect (a Predictor or a callable of the recent per-second
        rates); default the max of the last 30 s, as in FA2
    interval_s : the adaptation interval (PAPERS.md 4: every 1 s)
    min_rate_rps, initial_rate_rps : as for :class:`~ssloserve.policies.ReplanningPolicy`
    options : FA2's menu (:class:`~ssloserve.fa2.PlanOptions`) for both plans

    Attributes
    ----------
    log : per decision ``(t_s, branch, cost)``; the chapter counts the branches
    state : the switching rule's state

    Examples
    --------
    >>> from ssloserve.fa2 import video_pipeline
    >>> p = video_pipeline("yolov5n", "resnet18", max_batch=8, source="fallback")
    >>> pol = BiscalePolicy(p, 780.0, initial_rate_rps=10.0)
    >>> cfg = pol.initial(p, 780.0)
    >>> cfg["detect"].replicas, cfg["detect"].cores
    (3, 1.0)
    >>> obs = Observation(1.0, np.array([10.0, 30.0]), cfg, pipeline=p)   # the load triples
    >>> new = pol.decide(obs)
    >>> pol.log[-1][1], new["detect"].replicas, new["detect"].cores       # 3 cores each at once
    ('rise', 3, 3.0)
    """

    def __init__(
        self,
        pipeline: Pipeline,
        slo_ms: float,
        max_cores: float = MAX_CORES,
        k_stable: int = 5,
        rise_tolerance: float = 0.0,
        stabilisation_s: float = 30.0,
        headroom: float = 1.2,
        slo_safety: float = 0.8,
        predictor=None,
        interval_s: float = 1.0,
        min_rate_rps: float = 1.0,
        initial_rate_rps: float | None = None,
        options: PlanOptions | None = None,
    ):
        if not 0 < slo_safety <= 1:
            raise ValueError(f"slo_safety must be in (0, 1], got {slo_safety!r}")
        self.pipeline, self.slo_ms, self.slo_safety = pipeline, slo_ms, slo_safety
        self.max_cores, self.options = max_cores, PlanOptions() if options is None else options
        vertical_options(self.options, max_cores)  # refuses a bad cap early
        self.rule = SwitchRule(k_stable, rise_tolerance)
        self.interval_s, self.headroom = interval_s, headroom
        self.horizontal = ReplanningPolicy(
            self._horizontal_at,
            predictor=predictor,
            headroom=headroom,
            stabilisation_s=stabilisation_s,
            interval_s=interval_s,
            min_rate_rps=min_rate_rps,
            initial_rate_rps=initial_rate_rps,
        )
        self.state = SwitchState()
        self.log: list[tuple[float, str, float]] = []
        self.target: Config | None = None
        self._memo: dict = {}

    # ------------------------------------------------------------------ plans
    def _horizontal_at(self, lam: float) -> Config:
        key = ("h", round(lam, 6))
        if key not in self._memo:
            try:
                cfg = horizontal_plan(
                    self.pipeline, lam, self.slo_ms * self.slo_safety, self.options
                )
            except InfeasibleError:  # serve as fast as one core can; the misses are counted
                cfg = plan(self.pipeline, lam, math.inf, PlanOptions.of(self.options, batches=[1]))
            self._memo[key] = cfg
        return self._memo[key]

    def vertical_at(self, lam: float, ready: dict[str, int]) -> Config:
        """The vertical plan for ``lam`` on the ``ready`` replicas (batch 1 at the cap when
        no plan meets the SLO)."""
        key = ("v", round(lam, 6), tuple(sorted(ready.items())))
        if key not in self._memo:
            try:
                cfg = vertical_plan(
                    self.pipeline,
                    lam,
                    self.slo_ms * self.slo_safety,
                    ready,
                    self.max_cores,
                    self.options,
                )
            except InfeasibleError:
                fast = PlanOptions.of(self.options, batches=[1])
                cfg = vertical_plan(self.pipeline, lam, math.inf, ready, self.max_cores, fast)
            self._memo[key] = cfg
        return self._memo[key]

    # ------------------------------------------------------------------ policy
    def initial(self, pipeline: Pipeline | None = None, slo_ms: float | None = None) -> Config:
        """The horizontal plan for ``initial_rate_rps`` (or ``min_rate_rps``)."""
        self.state, self.log, self.target = SwitchState(), [], self.horizontal.initial()
        return self.target

    def decide(self, obs: Observation) -> Config:
        """One decision: the signals, the branch of the switching rule, its plan."""
        if self.target is None:
            self.initial()
        order = self.pipeline.order
        h = self.horizontal.decide(obs)  # stabilised horizontal recommendation
        latest = self.horizontal.history[-1][1]
        rates = np.asarray(obs.rates_rps, dtype=float)
        demand = (float(rates[-1]) if len(rates) else 0.0) * self.headroom
        predicted = self.horizontal.predict(rates) * self.headroom
        ready = {s: obs.config[s].replicas if s in obs.config.stages else 0 for s in order}
        want = max(demand, predicted, self.horizontal.min_rate_rps)
        v = self.vertical_at(want, {s: max(1, n) for s, n in ready.items()})
        sig = Signals(
            demand_rps=demand,
            predicted_rps=predicted,
            capacity_rps=capacity_rps(self.pipeline, obs.config) if obs.config.stages else 0.0,
            vertical_at_cap=any(v[s].cores >= self.max_cores - 1e-9 for s in order),
            starting=any(self.target[s].replicas > ready[s] for s in order),
            horizontal_ready=all(ready[s] >= h[s].replicas for s in order),
            cheaper_now=latest.cost < self.target.cost,
            cheaper_stable=h.cost < self.target.cost,
        )
        branch, self.state = switch(self.state, sig, self.rule)
        if branch in ("rise", "predicted_rise", "at_cap"):
            extra = h if branch == "at_cap" else None
            self.target = self._grow(v, extra)
        elif branch == "stable":
            self.target = self._grow(self.target, h)
        elif branch not in VERTICAL_BRANCHES:  # to_horizontal, scale_in, scale_in_wait, steady
            self.target = h
        self.log.append((float(obs.t_s), branch, self.target.cost))
        return self.target

    def _grow(self, base: Config, more: Config | None) -> Config:
        """``base`` with, per stage, no fewer replicas than the plan in force (replicas still
        starting are kept) nor than ``more`` asks for."""
        out = {}
        for s in self.pipeline.order:
            sc = base[s]
            n = sc.replicas
            if self.target[s].variant == sc.variant:
                n = max(n, self.target[s].replicas)
            if more is not None:
                n = max(n, more[s].replicas)
            out[s] = StageConfig(sc.variant, n, sc.cores, sc.batch)
        return Config(out)

    def branches(self) -> dict[str, int]:
        """How often each branch fired so far."""
        out: dict[str, int] = {}
        for _, b, _ in self.log:
            out[b] = out.get(b, 0) + 1
        return out

    def __repr__(self) -> str:
        return (
            f"BiscalePolicy(max_cores={self.max_cores:g}, k_stable={self.rule.k_stable}, "
            f"stabilisation_s={self.horizontal.stabilisation_s:g}, interval_s={self.interval_s:g})"
        )
