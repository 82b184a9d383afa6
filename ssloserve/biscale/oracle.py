"""Brute force for Biscale's two plans, and the random instances they are checked on.

Chapter 04_biscale; tests/test_biscale_plans.py checks :func:`~ssloserve.biscale.plans.horizontal_plan`
and :func:`~ssloserve.biscale.plans.vertical_plan` against these on random small pipelines.

- :func:`brute_force_horizontal` is FA2's exhaustive oracle (:func:`ssloserve.fa2.brute_force`)
  on the 1-core menu.
- :func:`brute_force_vertical` tries every combination of (cores, batch) of every stage and
  checks every source-to-sink path. It shares no code with the planner's path (no
  configuration graph, no DP, no binary search): the largest rate vertical scaling carries
  is the largest ``min_s n_s h_s(b_s, c_s)`` over the combinations within the SLO, read off
  directly.
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np

from ..errors import InfeasibleError
from ..fa2 import EPS_MS, PlanOptions, brute_force
from ..latency import LatencyModel, batch_delay_ms, replicas_needed, throughput_rps
from ..pipeline import Config, Pipeline, Stage, StageConfig, Variant
from .plans import MAX_CORES, today_replicas, vertical_options

__all__ = ["brute_force_horizontal", "brute_force_vertical", "random_instance"]


def brute_force_horizontal(
    pipeline: Pipeline, rate_rps: float, slo_ms: float, options: PlanOptions | None = None, **menu
) -> Config:
    """The oracle of :func:`~ssloserve.biscale.plans.horizontal_plan`: FA2's brute force over
    every batch size of every stage, 1-core replicas.

    Examples
    --------
    >>> from ssloserve.biscale.plans import horizontal_plan
    >>> p, lam, slo, _, _ = random_instance(np.random.default_rng(3))
    >>> brute_force_horizontal(p, lam, 4 * slo).cost == horizontal_plan(p, lam, 4 * slo).cost
    True
    """
    return brute_force(
        pipeline, rate_rps, slo_ms, PlanOptions.of(options, cores_options=(1.0,), **menu)
    )


def _paths(pipeline: Pipeline, order: list[str]) -> list[list[int]]:
    at = {s: i for i, s in enumerate(order)}
    found = nx.all_simple_paths(pipeline.graph, pipeline.source, pipeline.sink)
    return [[at[s] for s in p] for p in found] or [[at[pipeline.source]]]


def brute_force_vertical(
    pipeline: Pipeline,
    rate_rps: float,
    slo_ms: float,
    replicas,
    max_cores: float = MAX_CORES,
    options: PlanOptions | None = None,
    *,
    add_replicas: bool = True,
    **menu,
) -> tuple[Config, float]:
    """The oracle of :func:`~ssloserve.biscale.plans.vertical_plan` and
    :func:`~ssloserve.biscale.plans.max_vertical_rate`: every combination tried.

    Same parameters as :func:`~ssloserve.biscale.plans.vertical_plan`.

    Returns
    -------
    (config, vertical_rps)
        The plan (the cheapest, then the lowest worst-path latency) and the largest rate
        today's replicas carry by vertical scaling within the SLO (``rate_rps`` when they
        carry it).

    Raises
    ------
    InfeasibleError
        When no combination meets the SLO.

    Examples
    --------
    >>> from ssloserve.biscale.plans import vertical_plan
    >>> p, lam, slo, n, cap = random_instance(np.random.default_rng(3))
    >>> cfg, r = brute_force_vertical(p, lam, slo, n, cap)
    >>> cfg.cost == vertical_plan(p, lam, slo, n, cap).cost
    True
    """
    opts = vertical_options(options, max_cores, **menu)
    n = today_replicas(pipeline, replicas)
    order = list(pipeline.order)
    menus = []
    for s in order:
        v = opts.variant(pipeline, s)
        items = []
        for c, b in itertools.product(opts.cores_options, opts.batch_sizes(pipeline, s)):
            l_ms = float(v.latency_ms(int(b), c))
            lat = l_ms + batch_delay_ms(int(b), rate_rps, opts.batch_delay)
            items.append((lat, l_ms, int(b), float(c), v.name))
        menus.append(items)
    paths = _paths(pipeline, order)

    def worst(lats):
        out = []
        for p in paths:
            total = 0.0
            for i in p:
                total += lats[i]
            out.append(total)
        return max(out)

    within = [k for k in itertools.product(*menus) if worst([o[0] for o in k]) <= slo_ms + EPS_MS]
    if not within:
        need = worst([min(o[0] for o in m) for m in menus])
        raise InfeasibleError(
            f"SLO {slo_ms:g} ms is below the fastest configuration ({need:.6g} ms)",
            constraint="slo_ms",
            nearest_feasible=need,
        )

    def carries(combo, r):
        return all(
            replicas_needed(r, o[1], o[2]) <= n[s] for s, o in zip(order, combo, strict=True)
        )

    pool = [k for k in within if carries(k, rate_rps)]
    vertical_rps, add = float(rate_rps), False
    if not pool:
        vertical_rps = max(
            min(n[s] * throughput_rps(o[2], o[1]) for s, o in zip(order, k, strict=True))
            for k in within
        )
        pool = [k for k in within if carries(k, vertical_rps)]
        add = add_replicas
    best, best_key = None, None
    for k in pool:
        reps = [
            max(n[s], replicas_needed(rate_rps, o[1], o[2])) if add else n[s]
            for s, o in zip(order, k, strict=True)
        ]
        key = (float(sum(r * o[3] for r, o in zip(reps, k, strict=True))), worst([o[0] for o in k]))
        if best_key is None or key < best_key:
            best_key = key
            best = Config(
                {
                    s: StageConfig(o[4], r, o[3], o[2])
                    for s, r, o in zip(order, reps, k, strict=True)
                }
            )
    return best, vertical_rps


def random_instance(rng: np.random.Generator):
    """A small random instance for both plans: a chain of 1-3 stages or a diamond of 4,
    random l(b, c) models, batches up to 1-4, a cap of 1-4 cores, 1-3 replicas today, a rate
    of 1-150 RPS and an SLO 0.8-3x the fastest path (so some are infeasible).

    Returns
    -------
    ``(pipeline, rate_rps, slo_ms, replicas, max_cores)``

    Examples
    --------
    >>> p, lam, slo, n, cap = random_instance(np.random.default_rng(0))
    >>> 1 <= len(p) <= 4 and set(n) == set(p.order) and 1 <= cap <= 4
    True
    """

    def stage(name):
        m = LatencyModel(
            rng.uniform(0, 60), rng.uniform(0, 10), rng.uniform(0, 60), rng.uniform(1, 30)
        )
        return Stage(name, (Variant("v" + name, 1.0, m),), max_batch=int(rng.integers(1, 5)))

    if rng.random() < 0.25:
        p = Pipeline([stage(x) for x in "abcd"], [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")])
    else:
        p = Pipeline.chain(*[stage(x) for x in "abc"[: int(rng.integers(1, 4))]])
    cap = int(rng.integers(1, 5))
    rate = float(rng.uniform(1, 150))
    fastest = {
        s: min(
            p.stage(s).variants[0].latency_ms(b, cap) + batch_delay_ms(b, rate)
            for b in range(1, p.stage(s).max_batch + 1)
        )
        for s in p.order
    }
    need = max(sum(fastest[s] for s in path) for path in p.paths())
    replicas = {s: int(rng.integers(1, 4)) for s in p.order}
    return p, rate, float(need * rng.uniform(0.8, 3.0)), replicas, cap
