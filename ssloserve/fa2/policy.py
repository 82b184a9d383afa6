"""FA2 and its baselines as policies for ``ssloserve.run`` (PAPERS.md 1; chapter 01_fa2).

:class:`FA2Policy` and :class:`SLOSplitPolicy` are :class:`ssloserve.policies.ReplanningPolicy`
with a pipeline planner (:func:`~ssloserve.fa2.plan.plan` or
:func:`~ssloserve.fa2.baselines.slo_split_plan`) planned against a safety share of the SLO;
:func:`static_peak_policy` provisions once for the peak.
"""

from __future__ import annotations

import math

from ..errors import InfeasibleError
from ..pipeline import Config, Pipeline
from ..policies import ReplanningPolicy, Static
from .baselines import slo_split_plan, static_peak_plan
from .graph import PlanOptions
from .plan import plan

__all__ = ["FA2Policy", "SLOSplitPolicy", "static_peak_policy"]


class _PipelinePlanning(ReplanningPolicy):
    """:class:`ReplanningPolicy` whose planner is ``_planner(pipeline, rate, slo_safety x slo_ms)``.

    When no config meets the SLO it serves as fast as it can (batch 1 everywhere, FA2's
    cheapest such plan) and the misses are counted.
    """

    _planner = staticmethod(plan)

    def __init__(
        self,
        pipeline: Pipeline,
        slo_ms: float,
        interval_s: float = 5.0,
        stabilisation_s: float = 60.0,
        predictor=None,
        headroom: float = 1.2,
        slo_safety: float = 0.8,
        min_rate_rps: float = 1.0,
        initial_rate_rps: float | None = None,
        options: PlanOptions | None = None,
    ):
        if not 0 < slo_safety <= 1:
            raise ValueError(f"slo_safety must be in (0, 1], got {slo_safety!r}")
        self.pipeline, self.slo_ms, self.slo_safety = pipeline, slo_ms, slo_safety
        self.options = PlanOptions() if options is None else options
        super().__init__(
            self._plan_at,
            predictor=predictor,
            headroom=headroom,
            stabilisation_s=stabilisation_s,
            interval_s=interval_s,
            min_rate_rps=min_rate_rps,
            initial_rate_rps=initial_rate_rps,
        )

    def _plan_at(self, lam: float) -> Config:
        try:
            return self._planner(self.pipeline, lam, self.slo_ms * self.slo_safety, self.options)
        except InfeasibleError:
            return plan(self.pipeline, lam, math.inf, PlanOptions.of(self.options, batches=[1]))


class FA2Policy(_PipelinePlanning):
    """FA2 as a policy: every ``interval_s`` replan with :func:`~ssloserve.fa2.plan.plan`
    for the predicted rate.

    Parameters
    ----------
    pipeline, slo_ms : what to serve and its SLO (ms)
    interval_s, stabilisation_s, predictor, headroom, min_rate_rps, initial_rate_rps : as in
        :class:`ssloserve.policies.ReplanningPolicy` (scale out at once, scale in when every
        recommendation of ``stabilisation_s`` is cheaper; plan for ``headroom`` x the rate
        predicted, by default the max of the last 30 s)
    slo_safety : plan against ``slo_safety * slo_ms``; the planner's latency model has no
        queueing delay, so a plan that fills the whole SLO misses it under bursts
    options : the planner's menu (:class:`~ssloserve.fa2.graph.PlanOptions`)

    Examples
    --------
    >>> import numpy as np
    >>> from ssloserve.observation import Observation
    >>> from ssloserve.pipeline import Stage, Variant
    >>> from ssloserve.latency import LatencyModel
    >>> p = Pipeline.chain(Stage("a", (Variant("x", 1.0, LatencyModel(0, 10, 0, 10)),)))
    >>> pol = FA2Policy(p, slo_ms=200.0, interval_s=10, stabilisation_s=30, headroom=1.0,
    ...                 slo_safety=1.0)
    >>> pol.initial(p, 200.0).cost
    1.0
    >>> ob = lambda t, r: Observation(t_s=t, rates_rps=np.array(r), config=None)
    >>> [pol.decide(ob(t, [r])).cost for t, r in [(10, 300), (20, 50), (30, 50), (40, 50)]]
    [4.0, 4.0, 4.0, 1.0]
    """

    _planner = staticmethod(plan)


class SLOSplitPolicy(_PipelinePlanning):
    """The per-stage SLO splitting baseline as a policy (same replanning as :class:`FA2Policy`).

    Examples
    --------
    >>> from ssloserve.pipeline import Stage, Variant
    >>> from ssloserve.latency import LatencyModel
    >>> p = Pipeline.chain(Stage("a", (Variant("x", 1.0, LatencyModel(0, 10, 0, 10)),)))
    >>> SLOSplitPolicy(p, slo_ms=200.0).initial().cost
    1.0
    """

    _planner = staticmethod(slo_split_plan)


def static_peak_policy(
    pipeline: Pipeline, rates_rps, slo_ms: float, interval_s: float = 10.0, **kw
) -> Static:
    """Static peak provisioning as a policy: ``Static(static_peak_plan(...))``.

    Examples
    --------
    >>> from ssloserve.pipeline import Stage, Variant
    >>> from ssloserve.latency import LatencyModel
    >>> p = Pipeline.chain(Stage("a", (Variant("x", 1.0, LatencyModel(0, 10, 0, 10)),)))
    >>> static_peak_policy(p, [5, 300], 200.0)
    Static(cost=4 cores)
    """
    return Static(static_peak_plan(pipeline, rates_rps, slo_ms, **kw), interval_s=interval_s)
