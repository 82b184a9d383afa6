"""The systems Biscale is compared with, and the drop limits (PAPERS.md 4; chapter 04_biscale).

- :func:`horizontal_only` -- FA2 with 1-core replicas (:class:`ssloserve.fa2.FA2Policy` on
  :func:`~ssloserve.biscale.plans.horizontal_plan`'s menu): scaling out pays a cold start;
- :func:`vertical_only` -- replicas fixed at the first second's plan, cores per replica
  replanned by :func:`~ssloserve.biscale.plans.vertical_plan` (no replica is ever added;
  beyond the cap it carries what it can): no cold start, Amdahl's diminishing returns;
- :func:`inferline_like` -- :class:`ssloserve.policies.InferLine` (replicas from the peak
  rate of the last 30 s at 80% utilisation, 1-core replicas, batch 1);
- :data:`DROP_LIMITS` -- requests older than 1x or 3x the SLO are dropped, or never
  (the runtime's ``k_slo`` drop rule, :mod:`ssloserve.queues`): :func:`drop_options`.

All of them replan every second, as Biscale does, with the same headroom, SLO safety factor,
predictor and stabilisation window.
"""

from __future__ import annotations

import functools
import math

from ..errors import InfeasibleError
from ..fa2 import FA2Policy, PlanOptions
from ..pipeline import Config, Pipeline
from ..policies import InferLine, ReplanningPolicy, baseline
from .plans import MAX_CORES, horizontal_plan, today_replicas, vertical_plan

__all__ = ["DROP_LIMITS", "drop_options", "horizontal_only", "vertical_only", "inferline_like"]

#: The drop limits chapter 04_biscale compares: name -> run options (``ssloserve.run``).
DROP_LIMITS = {
    "1x SLO": dict(drop="k_slo", k_slo=1.0),
    "3x SLO": dict(drop="k_slo", k_slo=3.0),
    "none": dict(drop="never"),
}


def drop_options(limit: str) -> dict:
    """The run options of a drop limit: ``"1x SLO"``, ``"3x SLO"`` or ``"none"``.

    A request that waited more than ``k`` times its budget (the SLO) when a replica would
    take it is dropped and counted (``k_slo`` in :mod:`ssloserve.queues`).

    Examples
    --------
    >>> drop_options("3x SLO")
    {'drop': 'k_slo', 'k_slo': 3.0}
    >>> drop_options("2x SLO")
    Traceback (most recent call last):
    ...
    ValueError: unknown drop limit '2x SLO'; choose one of ['1x SLO', '3x SLO', 'none']
    """
    if limit not in DROP_LIMITS:
        raise ValueError(f"unknown drop limit {limit!r}; choose one of {list(DROP_LIMITS)}")
    return dict(DROP_LIMITS[limit])


def horizontal_only(
    pipeline: Pipeline,
    slo_ms: float,
    options: PlanOptions | None = None,
    interval_s: float = 1.0,
    stabilisation_s: float = 30.0,
    **kw,
) -> FA2Policy:
    """Horizontal scaling alone: FA2's policy on 1-core replicas, replanned every second.

    ``kw`` goes to :class:`~ssloserve.fa2.FA2Policy` (predictor, headroom, slo_safety,
    initial_rate_rps, ...).

    Examples
    --------
    >>> from ssloserve.fa2 import video_pipeline
    >>> p = video_pipeline("yolov5n", "resnet18", max_batch=8, source="fallback")
    >>> pol = horizontal_only(p, 780.0, initial_rate_rps=30.0)
    >>> cfg = pol.initial(p, 780.0)
    >>> cfg == horizontal_plan(p, 36.0, 0.8 * 780.0), {cfg[s].cores for s in cfg}
    (True, {1.0})
    """
    menu = PlanOptions.of(options, cores_options=(1.0,))
    return FA2Policy(
        pipeline,
        slo_ms,
        interval_s=interval_s,
        stabilisation_s=stabilisation_s,
        options=menu,
        **kw,
    )


def vertical_only(
    pipeline: Pipeline,
    slo_ms: float,
    replicas=None,
    max_cores: float = MAX_CORES,
    options: PlanOptions | None = None,
    *,
    initial_rate_rps: float | None = None,
    headroom: float = 1.2,
    slo_safety: float = 0.8,
    predictor=None,
    interval_s: float = 1.0,
    stabilisation_s: float = 30.0,
    min_rate_rps: float = 1.0,
) -> ReplanningPolicy:
    """Vertical scaling alone: replicas fixed, cores per replica replanned every second.

    The replicas are ``replicas`` or, by default, the horizontal plan's for the initial
    rate (times the headroom); every second :func:`~ssloserve.biscale.plans.vertical_plan`
    picks cores and batch for the predicted rate on them, without adding replicas
    (``add_replicas=False``: past the core cap it carries what it can, and the rest waits).
    The loop (headroom, predictor, scale-in stabilisation) is
    :class:`~ssloserve.policies.ReplanningPolicy`.

    Examples
    --------
    >>> from ssloserve.fa2 import video_pipeline
    >>> p = video_pipeline("yolov5n", "resnet18", max_batch=8, source="fallback")
    >>> pol = vertical_only(p, 780.0, initial_rate_rps=10.0)
    >>> [(s, c.replicas, c.cores) for s, c in pol.planner(60.0).stages.items()]   # 20 RPS each
    [('detect', 3, 6.0), ('classify', 1, 3.0)]
    """
    safe_slo = slo_ms * slo_safety
    if replicas is None:
        lam0 = max(min_rate_rps, (initial_rate_rps or min_rate_rps) * headroom)
        replicas = horizontal_plan(pipeline, lam0, safe_slo, options)
    n = today_replicas(pipeline, replicas)

    @functools.lru_cache(maxsize=4096)
    def planner(lam: float) -> Config:
        try:
            return vertical_plan(pipeline, lam, safe_slo, n, max_cores, options, add_replicas=False)
        except InfeasibleError:
            fast = PlanOptions.of(options, batches=[1])
            return vertical_plan(pipeline, lam, math.inf, n, max_cores, fast, add_replicas=False)

    return ReplanningPolicy(
        planner,
        predictor=predictor,
        headroom=headroom,
        stabilisation_s=stabilisation_s,
        interval_s=interval_s,
        min_rate_rps=min_rate_rps,
        initial_rate_rps=initial_rate_rps,
    )


def inferline_like(
    pipeline: Pipeline, slo_ms: float, rates_rps, interval_s: float = 1.0, **kw
) -> InferLine:
    """InferLine-like: replicas = ceil(max rate of the last 30 s / (h(1, 1) x 0.8)), 1-core
    replicas at batch 1, sized for the first second at the start
    (:func:`ssloserve.policies.baseline`).

    Examples
    --------
    >>> from ssloserve.fa2 import video_pipeline
    >>> p = video_pipeline("yolov5n", "resnet18", max_batch=8, source="fallback")
    >>> inferline_like(p, 780.0, [30, 40]).config["detect"].replicas     # 30 / (5.67 x 0.8)
    7
    """
    return baseline("inferline", pipeline, slo_ms, rates_rps, interval_s=interval_s, **kw)
