"""FA2's planner on a pipeline: the DP run along the configuration graph (PAPERS.md 1; chapter 01_fa2).

:func:`plan` builds the :func:`~ssloserve.fa2.graph.configuration_graph` the chapter draws
and hands it to :func:`plan_on_graph`, which walks :func:`~ssloserve.fa2.graph.to_chain`'s
chain over that graph's layers: every stage's layer becomes a Pareto front, every parallel
block a super-stage, and the exact DP of :mod:`ssloserve.fa2.dp` merges them in series.
:func:`path_latency_ms` and :func:`plan_table` read a plan back.
"""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx
import pandas as pd

from ..errors import InfeasibleError
from ..latency import batch_delay_ms
from ..pipeline import Config, Pipeline, StageConfig
from .dp import ParetoFront, check_slo, in_series, pareto_front
from .graph import (
    Parallel,
    PlanOptions,
    configuration_graph,
    parallel_super_stage,
    path_sum,
    stage_nodes,
    to_chain,
)

__all__ = ["plan", "plan_on_graph", "to_config", "path_latency_ms", "plan_table"]


def to_config(choice: Mapping[str, Mapping], order) -> Config:
    """A :class:`Config` from one chosen configuration (a dict of :func:`stage_options`) per stage.

    Examples
    --------
    >>> to_config({"a": dict(variant="x", replicas=2, cores=1.0, batch=4)}, ["a"])["a"]
    StageConfig(variant='x', replicas=2, cores=1.0, batch=4)
    """
    return Config(
        {
            s: StageConfig(
                choice[s]["variant"], choice[s]["replicas"], choice[s]["cores"], choice[s]["batch"]
            )
            for s in order
        }
    )


def _merge(x: dict, y: dict) -> dict:
    return {**x, **y}


def _block_front(block, graph: nx.DiGraph, slo_ms: float) -> ParetoFront:
    """A stage's layer as a Pareto front, or a parallel block as its super-stage."""
    if isinstance(block, Parallel):
        fronts = [_chain_front(br, graph, slo_ms) for br in block.branches]
        return parallel_super_stage(fronts, slo_ms, _merge)
    layer = [graph.nodes[n] for n in stage_nodes(graph, block)]
    return pareto_front(
        [d["latency_ms"] for d in layer],
        [d["cost"] for d in layer],
        [{block: d} for d in layer],
        slo_ms,
    )


def _chain_front(chain, graph: nx.DiGraph, slo_ms: float) -> ParetoFront:
    front = None
    for blk in chain:
        f = _block_front(blk, graph, slo_ms)
        front = f if front is None else in_series(front, f, slo_ms, _merge)
        if len(front) == 0:
            break
    return front


def plan_on_graph(pipeline: Pipeline, graph: nx.DiGraph, slo_ms: float) -> Config:
    """The cheapest config among the nodes of ``graph`` that meets the SLO on every path.

    ``graph`` is :func:`~ssloserve.fa2.graph.configuration_graph` of ``pipeline``; the DP
    reads each stage's options (latency incl. batch formation delay, cost) from its nodes.

    Examples
    --------
    A diamond: ``b`` (slow) and ``c`` side by side between ``a`` and ``d``; at 100 RPS the
    slack of a 100-ms SLO goes to batching ``b``, the stage where it saves an instance.

    >>> from ssloserve.pipeline import Stage, Variant
    >>> from ssloserve.latency import LatencyModel
    >>> S = lambda n, eta: Stage(n, (Variant("v", 1.0, LatencyModel(0, 10, 0, eta)),), max_batch=2)
    >>> p = Pipeline([S("a", 10), S("b", 30), S("c", 10), S("d", 10)],
    ...              [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")])
    >>> g = configuration_graph(p, 100.0)
    >>> cfg = plan_on_graph(p, g, 100.0)
    >>> {s: (cfg[s].batch, cfg[s].replicas) for s in cfg}, cfg == plan(p, 100.0, 100.0)
    ({'a': (1, 2), 'b': (2, 3), 'c': (1, 2), 'd': (1, 2)}, True)
    """
    check_slo(slo_ms)
    front = _chain_front(to_chain(pipeline), graph, slo_ms)
    if front is None or len(front) == 0:
        fastest = {
            s: min(graph.nodes[n]["latency_ms"] for n in stage_nodes(graph, s))
            for s in pipeline.order
        }
        need = max(path_sum(fastest, p) for p in pipeline.paths())
        raise InfeasibleError(
            f"SLO {slo_ms:g} ms is below the fastest configuration of the slowest path "
            f"({need:.6g} ms at {graph.graph['rate_rps']:g} RPS); the smallest feasible SLO is "
            f"{need:.6g} ms",
            constraint="slo_ms",
            nearest_feasible=need,
        )
    return to_config(front.payload[front.cheapest()], pipeline.order)


def plan(
    pipeline: Pipeline,
    rate_rps: float,
    slo_ms: float,
    options: PlanOptions | None = None,
    **menu,
) -> Config:
    """FA2's plan for a series-parallel pipeline: the cheapest config that meets the SLO.

    Builds the configuration graph at ``rate_rps`` and runs :func:`plan_on_graph` on it:
    :func:`~ssloserve.fa2.graph.to_chain` turns the DAG into a chain; every stage
    contributes the Pareto set of its layer over (latency incl. batch formation delay,
    cores), every parallel block the pruned combinations of its branches' sets, and the
    exact DP of :func:`~ssloserve.fa2.dp.solve_chain` merges them along the chain (chapter
    01_fa2).

    Parameters
    ----------
    pipeline : a series-parallel pipeline
    rate_rps : arrival rate lam (RPS), positive
    slo_ms : end-to-end latency bound (ms) on every source-to-sink path
    options, menu : the menu, a :class:`~ssloserve.fa2.graph.PlanOptions` and/or its fields
        as keywords (``variants``, ``batches``, ``cores_options``, ``batch_delay``)

    Returns
    -------
    Config
        The cheapest in cores; among equally cheap ones, the lowest latency.

    Raises
    ------
    InfeasibleError
        With the smallest feasible SLO as ``nearest_feasible``.
    PipelineError
        When the pipeline is not series-parallel.

    Examples
    --------
    >>> from ssloserve.pipeline import Stage, Variant
    >>> from ssloserve.latency import LatencyModel
    >>> from ssloserve.fa2.oracle import brute_force
    >>> det = Stage("detect", (Variant("yolo", 0.5, LatencyModel(0, 20, 0, 30)),), max_batch=8)
    >>> cls = Stage("classify", (Variant("resnet", 0.7, LatencyModel(0, 5, 0, 15)),), max_batch=8)
    >>> p = Pipeline.chain(det, cls)
    >>> cfg = plan(p, rate_rps=50.0, slo_ms=300.0)
    >>> [(s, cfg[s].batch, cfg[s].replicas) for s in cfg], cfg.cost
    ([('detect', 2, 2), ('classify', 1, 1)], 3.0)
    >>> cfg.cost == brute_force(p, 50.0, 300.0).cost
    True
    """
    check_slo(slo_ms)
    graph = configuration_graph(pipeline, rate_rps, PlanOptions.of(options, **menu))
    return plan_on_graph(pipeline, graph, slo_ms)


def _stage_latencies(pipeline, config, rate_rps, batch_delay) -> dict[str, tuple[float, float]]:
    """Per stage, l(b, c) and the batch formation delay of ``config`` at ``rate_rps``."""
    out = {}
    for s in pipeline.order:
        sc = config[s]
        l_ms = float(pipeline.stage(s).variant(sc.variant).latency_ms(sc.batch, sc.cores))
        out[s] = (l_ms, batch_delay_ms(sc.batch, rate_rps, batch_delay))
    return out


def path_latency_ms(
    pipeline: Pipeline, config: Config, rate_rps: float, batch_delay: str = "mean"
) -> float:
    """End-to-end latency of ``config`` at rate ``lam``: the slowest path's sum of l + batch delay.

    Examples
    --------
    >>> from ssloserve.pipeline import Stage, Variant
    >>> from ssloserve.latency import LatencyModel
    >>> p = Pipeline.chain(Stage("a", (Variant("x", 1.0, LatencyModel(0, 10, 0, 10)),)))
    >>> path_latency_ms(p, Config({"a": StageConfig("x", 1, 1.0, 3)}), 100.0)
    60.0
    """
    parts = _stage_latencies(pipeline, config, rate_rps, batch_delay)
    lat = {s: l_ms + q for s, (l_ms, q) in parts.items()}
    return max(path_sum(lat, p) for p in pipeline.paths())


def plan_table(
    pipeline: Pipeline, config: Config, rate_rps: float, batch_delay: str = "mean"
) -> pd.DataFrame:
    """One row per stage: variant, batch, cores, replicas, cost and the latency parts (ms).

    Examples
    --------
    >>> from ssloserve.pipeline import Stage, Variant
    >>> from ssloserve.latency import LatencyModel
    >>> p = Pipeline.chain(Stage("a", (Variant("x", 1.0, LatencyModel(0, 10, 0, 10)),)))
    >>> plan_table(p, Config({"a": StageConfig("x", 2, 1.0, 3)}), 100.0)[["batch", "latency_ms"]]
           batch  latency_ms
    stage
    a          3        60.0
    """
    rows = []
    for s, (l_ms, q) in _stage_latencies(pipeline, config, rate_rps, batch_delay).items():
        sc = config[s]
        rows.append(
            dict(
                stage=s,
                variant=sc.variant,
                batch=sc.batch,
                cores=sc.cores,
                replicas=sc.replicas,
                cost=sc.cost,
                service_ms=round(l_ms, 3),
                queue_ms=round(q, 3),
                latency_ms=round(l_ms + q, 3),
            )
        )
    return pd.DataFrame(rows).set_index("stage")
