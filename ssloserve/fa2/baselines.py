"""The planners FA2 is compared with: per-stage SLO splitting and static peak provisioning
(PAPERS.md 1, baselines; chapter 01_fa2)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..errors import InfeasibleError
from ..pipeline import Config, Pipeline
from .dp import EPS_MS, check_slo
from .graph import PlanOptions, path_sum, stage_options
from .plan import plan, to_config

__all__ = ["slo_split_plan", "static_peak_plan"]


def slo_split_plan(
    pipeline: Pipeline,
    rate_rps: float,
    slo_ms: float,
    options: PlanOptions | None = None,
    **menu,
) -> Config:
    """Per-stage SLO splitting (GrandSLAm style), the baseline FA2 beats.

    Each stage gets a share of the SLO proportional to its latency at batch 1 on its
    variant's own cores, ``slo_ms * l_s(1) / sum_{v in path} l_v(1)`` (PAPERS.md 1; the
    smallest over the paths through it), then independently takes its cheapest
    configuration within that share (the fastest among equally cheap). Unlike
    :func:`~ssloserve.fa2.plan.plan` it cannot give one stage more time where batching pays
    off more. Parameters as :func:`~ssloserve.fa2.plan.plan`.

    Raises
    ------
    InfeasibleError
        When some stage has no configuration within its share; ``nearest_feasible`` is the
        smallest SLO at which every stage's share holds one of its configurations (at least
        the smallest SLO of :func:`~ssloserve.fa2.plan.plan`, since a split plan is a plan).

    Examples
    --------
    >>> from ssloserve.pipeline import Stage, Variant
    >>> from ssloserve.latency import LatencyModel
    >>> det = Stage("detect", (Variant("yolo", 0.5, LatencyModel(0, 20, 0, 30)),), max_batch=8)
    >>> cls = Stage("classify", (Variant("resnet", 0.7, LatencyModel(0, 5, 0, 15)),), max_batch=8)
    >>> p = Pipeline.chain(det, cls)
    >>> slo_split_plan(p, 50.0, 300.0).cost >= plan(p, 50.0, 300.0).cost
    True
    >>> slo_split_plan(p, 50.0, 60.0, batches=[2, 4])   # batch-1 latencies 50 and 20 ms
    Traceback (most recent call last):
    ...
    ssloserve.errors.InfeasibleError: per-stage SLO splitting: at SLO 60 ms stage 'detect' gets 42.8571 ms, less than its fastest configuration (90 ms at 50 RPS); the smallest feasible SLO for splitting is 157.5 ms
    >>> plan(p, 50.0, 135.0, batches=[2, 4]).cost   # FA2 fits 90 + 45 ms
    3.0
    """
    check_slo(slo_ms)
    opts = PlanOptions.of(options, **menu)
    l1 = {}
    for s in pipeline.order:
        v = opts.variant(pipeline, s)
        l1[s] = float(v.latency_ms(1, v.cores))
    weight = {s: math.inf for s in pipeline.order}  # the stage's share per ms of SLO
    for p in pipeline.paths():
        tot = path_sum(l1, p)
        for s in p:
            weight[s] = min(weight[s], l1[s] / tot)
    choice, need, short = {}, 0.0, None
    for s in pipeline.order:
        configs = stage_options(pipeline, s, rate_rps, opts)
        fastest = min(o["latency_ms"] for o in configs)
        need = max(need, fastest / weight[s])
        ok = [o for o in configs if o["latency_ms"] <= slo_ms * weight[s] + EPS_MS]
        if ok:
            choice[s] = min(ok, key=lambda o: (o["cost"], o["latency_ms"]))
        elif short is None:
            short = (s, slo_ms * weight[s], fastest)
    if short is not None:
        s, share, fastest = short
        raise InfeasibleError(
            f"per-stage SLO splitting: at SLO {slo_ms:g} ms stage {s!r} gets {share:.6g} ms, "
            f"less than its fastest configuration ({fastest:.6g} ms at {rate_rps:g} RPS); the "
            f"smallest feasible SLO for splitting is {need:.6g} ms",
            constraint="slo_ms",
            nearest_feasible=need,
        )
    return to_config(choice, pipeline.order)


def static_peak_plan(
    pipeline: Pipeline,
    rates_rps,
    slo_ms: float,
    planner: Callable = plan,
    headroom: float = 1.0,
    slo_safety: float = 1.0,
    **menu,
) -> Config:
    """Static peak provisioning: one config, planned once for the highest rate of the run.

    It plans for ``headroom`` x the peak rate against ``slo_safety`` x the SLO (the same
    margins as the adaptive policies, to compare like with like); ``menu`` goes to
    ``planner``.

    Examples
    --------
    >>> from ssloserve.pipeline import Stage, Variant
    >>> from ssloserve.latency import LatencyModel
    >>> p = Pipeline.chain(Stage("a", (Variant("x", 1.0, LatencyModel(0, 10, 0, 10)),)))
    >>> static_peak_plan(p, [5, 40, 12], 200.0) == plan(p, 40.0, 200.0)
    True
    """
    peak = float(np.max(np.asarray(rates_rps, dtype=float)))
    return planner(pipeline, max(peak, 1.0) * headroom, slo_ms * slo_safety, **menu)
