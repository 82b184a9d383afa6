"""Exhaustive oracles for FA2's planners, and the random instances they are checked on.

Every optimiser of :mod:`ssloserve.fa2` is tested against one of these (tests/test_fa2.py,
chapter 01_fa2, benchmarks/bench_fa2.py):

- :func:`brute_force_chain` tries every combination of batch sizes of a chain
  (the oracle of :func:`~ssloserve.fa2.dp.solve_chain` and
  :func:`~ssloserve.fa2.dp.solve_chain_grid`);
- :func:`brute_force` tries every configuration of every stage of any DAG and checks every
  source-to-sink path (the oracle of :func:`~ssloserve.fa2.plan.plan`). It shares no code
  with the planner's path (no options table, configuration graph, chain or Pareto front):
  it computes each stage's latency, batch delay, replicas and cost itself from the
  equations of :mod:`ssloserve.latency`, and lists the paths with networkx;
- :func:`random_chain_instance` draws random chains.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import networkx as nx
import numpy as np

from ..errors import InfeasibleError
from ..latency import batch_delay_ms, replicas_needed
from ..pipeline import Config, Pipeline, StageConfig
from .dp import EPS_MS, ChainPlan, chain_infeasible, chain_layers, check_slo
from .graph import PlanOptions

__all__ = ["brute_force_chain", "brute_force", "random_chain_instance"]


def brute_force_chain(
    stage_latencies_ms: Sequence[Mapping[int, float]],
    rate_rps: float,
    slo_ms: float,
    cores_per_instance: float | Sequence[float] = 1,
) -> ChainPlan:
    """The exhaustive oracle for :func:`~ssloserve.fa2.dp.solve_chain`: every combination of
    batch sizes.

    Same parameters, result and errors as :func:`~ssloserve.fa2.dp.solve_chain` (cheapest,
    then fastest).

    Examples
    --------
    >>> from ssloserve.fa2.dp import solve_chain
    >>> lat = [{1: 50.0, 4: 80.0}, {1: 30.0, 2: 36.0}]
    >>> brute_force_chain(lat, 40.0, 150.0) == solve_chain(lat, 40.0, 150.0)
    True
    """
    layers = chain_layers(stage_latencies_ms, rate_rps, cores_per_instance, slo_ms)
    best = None
    for combo in itertools.product(*layers):
        lat = 0.0
        for o in combo:
            lat += o[0]
        if lat > slo_ms + EPS_MS:
            continue
        cost = float(sum(o[1] for o in combo))
        if best is None or (cost, lat) < (best.cost, best.latency_ms):
            best = ChainPlan(tuple(o[2] for o in combo), cost, lat)
    if best is None:
        raise chain_infeasible(layers, slo_ms)
    return best


def _every_configuration(pipeline: Pipeline, stage: str, rate_rps: float, opts: PlanOptions):
    """``(latency incl. batch delay, cost, StageConfig)`` for every item of the stage's menu."""
    v = opts.variant(pipeline, stage)
    cores = [v.cores] if opts.cores_options is None else list(opts.cores_options)
    out = []
    for c, b in itertools.product(cores, opts.batch_sizes(pipeline, stage)):
        l_ms = float(v.latency_ms(int(b), c))
        n = replicas_needed(rate_rps, l_ms, int(b))
        latency = l_ms + batch_delay_ms(int(b), rate_rps, opts.batch_delay)
        out.append((latency, n * float(c), StageConfig(v.name, n, float(c), int(b))))
    return out


def brute_force(
    pipeline: Pipeline,
    rate_rps: float,
    slo_ms: float,
    options: PlanOptions | None = None,
    **menu,
) -> Config:
    """The exhaustive oracle for :func:`~ssloserve.fa2.plan.plan`: every configuration of
    every stage, every source-to-sink path checked.

    Works on any DAG (series-parallel or not). Same parameters, result (the cheapest, then
    the lowest worst-path latency) and errors as :func:`~ssloserve.fa2.plan.plan`.

    Examples
    --------
    >>> from ssloserve.pipeline import Stage, Variant
    >>> from ssloserve.latency import LatencyModel
    >>> p = Pipeline.chain(Stage("a", (Variant("x", 1.0, LatencyModel(0, 10, 0, 10)),), max_batch=4))
    >>> cfg = brute_force(p, 100.0, 50.0)
    >>> cfg["a"].batch, cfg["a"].replicas
    (1, 2)
    """
    check_slo(slo_ms)
    if not rate_rps > 0:
        raise ValueError(f"rate_rps must be positive, got {rate_rps!r}")
    opts = PlanOptions.of(options, **menu)
    order = list(pipeline.order)
    menus = [_every_configuration(pipeline, s, rate_rps, opts) for s in order]
    at = {s: i for i, s in enumerate(order)}
    paths = [
        [at[s] for s in path]
        for path in nx.all_simple_paths(pipeline.graph, pipeline.source, pipeline.sink)
    ] or [[at[pipeline.source]]]  # a single stage is its own path

    def worst(lat):  # the slowest path's latency, summed from the source on
        return max(_sum_along(lat, path) for path in paths)

    best, best_key = None, None
    for combo in itertools.product(*menus):
        w = worst([o[0] for o in combo])
        if w > slo_ms + EPS_MS:
            continue
        key = (float(sum(o[1] for o in combo)), w)
        if best_key is None or key < best_key:
            best, best_key = combo, key
    if best is None:
        need = worst([min(o[0] for o in m) for m in menus])
        raise InfeasibleError(
            f"SLO {slo_ms:g} ms is below the fastest configuration of the slowest path "
            f"({need:.6g} ms at {rate_rps:g} RPS); the smallest feasible SLO is {need:.6g} ms",
            constraint="slo_ms",
            nearest_feasible=need,
        )
    return Config({s: o[2] for s, o in zip(order, best, strict=True)})


def _sum_along(values: Sequence[float], idx: Sequence[int]) -> float:
    """``values[idx[0]] + values[idx[1]] + ...``, added left to right."""
    total = 0.0
    for i in idx:
        total += values[i]
    return total


def random_chain_instance(rng: np.random.Generator, max_stages: int = 5):
    """A random chain for :func:`~ssloserve.fa2.dp.solve_chain`: 2-``max_stages`` stages,
    4-8 batch sizes each.

    Latencies follow random l(b, c) models on 1, 2 or 4 cores; the SLO is 0.9-4x the
    fastest plan's latency (so a few instances are infeasible).

    Returns
    -------
    ``(stage_latencies_ms, rate_rps, slo_ms)``

    Examples
    --------
    >>> lat, lam, slo = random_chain_instance(np.random.default_rng(0))
    >>> 2 <= len(lat) <= 5 and all(4 <= len(t) <= 8 for t in lat)
    True
    """
    S = int(rng.integers(2, max_stages + 1))
    lat = []
    for _ in range(S):
        gamma, delta = rng.uniform(0, 40), rng.uniform(0, 8)
        eps, eta = rng.uniform(0, 60), rng.uniform(1, 30)
        c = float(rng.choice([1, 2, 4]))
        bs = sorted(rng.choice(np.arange(1, 17), size=int(rng.integers(4, 9)), replace=False))
        lat.append({int(b): gamma * b / c + delta * b + eps / c + eta for b in bs})
    rate = float(rng.uniform(1, 100))
    lo = sum(min(t.values()) for t in lat)
    return lat, rate, float(lo * rng.uniform(0.9, 4.0))
