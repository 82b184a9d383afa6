"""Biscale's two plans: horizontal (more 1-core replicas) and vertical (more cores per replica).

Chapter 04_biscale (PAPERS.md 4). Both run FA2's exact DP (:func:`ssloserve.fa2.plan`,
:func:`ssloserve.fa2.plan_on_graph`) on FA2's configuration graph; they differ only in
which nodes the graph holds and what each costs:

- :func:`horizontal_plan` -- FA2 with 1-core replicas: per stage a batch size ``b_s`` and
  ``n_s = ceil(lam / h_s(b_s, 1))`` replicas, the cheapest in cores that meets the SLO.
  Adding replicas multiplies throughput, but a new replica serves only after its cold start.
- :func:`vertical_plan` -- replicas fixed at today's ``n_s``; per stage a core count
  ``c_s`` (1 .. the cap) and a batch size ``b_s`` with ``n_s h_s(c_s, b_s) >= lam``, the
  cheapest (``sum n_s c_s``) that meets the SLO. A resize is in place and takes effect at
  once, but Amdahl's law bounds what cores give (:mod:`ssloserve.latency`). When no core
  count up to the cap carries ``lam``, :func:`max_vertical_rate` binary-searches the largest
  rate vertical scaling can carry, and replicas are added for the rest.

Every latency here is FA2's: ``l_s(b, c) + q_s(b)`` at the rate served (q the batch
formation delay of :func:`ssloserve.latency.batch_delay_ms`), summed along every path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import networkx as nx

from ..errors import InfeasibleError
from ..fa2 import PlanOptions, configuration_graph, plan, plan_on_graph
from ..fa2.graph import stage_nodes
from ..latency import replicas_needed, throughput_rps
from ..pipeline import Config, Pipeline

__all__ = [
    "MAX_CORES",
    "horizontal_plan",
    "vertical_options",
    "max_vertical_rate",
    "vertical_plan",
    "today_replicas",
]

#: Cores per replica Biscale's experiments allow (PAPERS.md 4: "up to 8 cores per replica").
MAX_CORES = 8


def horizontal_plan(
    pipeline: Pipeline, rate_rps: float, slo_ms: float, options: PlanOptions | None = None, **menu
) -> Config:
    """The horizontal plan: FA2's DP with 1-core replicas (PAPERS.md 4; chapter 04_biscale).

    Parameters
    ----------
    pipeline : a series-parallel pipeline
    rate_rps : the rate lam to carry (RPS), positive
    slo_ms : end-to-end latency bound (ms)
    options, menu : FA2's menu (:class:`~ssloserve.fa2.PlanOptions`); its ``cores_options``
        is replaced by ``(1,)``

    Returns
    -------
    Config
        Per stage ``ceil(lam / h(b, 1))`` one-core replicas; the cheapest, then the fastest.

    Raises
    ------
    InfeasibleError
        When even batch 1 everywhere misses the SLO.

    Examples
    --------
    The video pipeline at 30 RPS: one-core YOLOv5n replicas serve about 5.7 RPS each.

    >>> from ssloserve.fa2 import video_pipeline
    >>> p = video_pipeline("yolov5n", "resnet18", max_batch=8, source="fallback")
    >>> cfg = horizontal_plan(p, 30.0, 780.0)
    >>> [(s, cfg[s].replicas, cfg[s].cores, cfg[s].batch) for s in cfg]
    [('detect', 6, 1.0, 1), ('classify', 2, 1.0, 2)]
    """
    return plan(pipeline, rate_rps, slo_ms, PlanOptions.of(options, cores_options=(1.0,), **menu))


def today_replicas(pipeline: Pipeline, replicas) -> dict[str, int]:
    """Per stage the replica count the vertical plan keeps: from a Config, a mapping, or one int
    for every stage (at least 1 each: a stage with no replica serves nothing).

    Examples
    --------
    >>> from ssloserve.fa2 import video_pipeline
    >>> p = video_pipeline("yolov5n", "resnet18", source="fallback")
    >>> today_replicas(p, 2), today_replicas(p, {"detect": 3, "classify": 0})
    ({'detect': 2, 'classify': 2}, {'detect': 3, 'classify': 1})
    """
    if isinstance(replicas, Config):
        replicas = {s: replicas[s].replicas for s in replicas}
    if isinstance(replicas, Mapping):
        missing = [s for s in pipeline.order if s not in replicas]
        if missing:
            raise ValueError(f"no replica count for stage(s) {missing}")
        return {s: max(1, int(replicas[s])) for s in pipeline.order}
    return {s: max(1, int(replicas)) for s in pipeline.order}


def vertical_options(options: PlanOptions | None = None, max_cores: float = MAX_CORES, **menu):
    """The vertical plan's menu: ``options`` with core counts 1, 2, ..., ``max_cores`` (or the
    given ``cores_options`` up to ``max_cores``).

    Examples
    --------
    >>> vertical_options(max_cores=3).cores_options
    (1.0, 2.0, 3.0)
    >>> vertical_options(PlanOptions(cores_options=[0.5, 2, 16]), max_cores=8).cores_options
    (0.5, 2.0)
    """
    if not max_cores > 0:
        raise ValueError(f"max_cores must be positive, got {max_cores!r}")
    opts = PlanOptions.of(options, **menu)
    if opts.cores_options is None:
        cores = tuple(float(c) for c in range(1, int(math.floor(max_cores)) + 1)) or (
            float(max_cores),
        )
    else:
        cores = tuple(float(c) for c in opts.cores_options if c <= max_cores + 1e-9)
        if not cores:
            raise ValueError(f"no core count in {list(opts.cores_options)} is <= {max_cores:g}")
    return PlanOptions.of(opts, cores_options=cores)


def _vertical_graph(pipeline, rate_rps, options, max_cores):
    """FA2's configuration graph over (cores, batch) at ``rate_rps``; per node its service
    latency ``l(b, c)`` is what the vertical capacity is computed from."""
    return configuration_graph(pipeline, rate_rps, vertical_options(options, max_cores))


def _capacity(node: dict, n: int) -> float:
    """n h(b, c): what ``n`` replicas of this node carry (RPS)."""
    return n * throughput_rps(node["batch"], node["service_ms"])


def _induced(graph: nx.DiGraph, keep: set) -> nx.DiGraph:
    """The nodes, edges and attributes of ``graph.subgraph(keep).copy()``, built directly
    (copying a subgraph view filters every edge through the view, which made it most of the
    vertical plan's time) and in ``graph``'s order (a view of a small node set iterates in
    the set's order, which varies with the hash seed)."""
    g = nx.DiGraph()
    g.graph.update(graph.graph)
    g.add_nodes_from((k, dict(d)) for k, d in graph.nodes(data=True) if k in keep)
    g.add_edges_from(
        (u, v, dict(d)) for u, v, d in graph.edges(data=True) if u in keep and v in keep
    )
    return g


def _restrict(graph: nx.DiGraph, pipeline, n: dict, min_rps: float, rate_rps: float, add: bool):
    """The graph with only the nodes whose ``n_s`` replicas carry ``min_rps``, each costing
    ``replicas x cores`` with ``replicas = n_s`` (or, with ``add``, ``max(n_s, ceil(lam / h))``);
    None when some stage has no such node."""
    keep = ["source", "sink"]
    for s in pipeline.order:
        mine = [
            k
            for k in stage_nodes(graph, s)
            if replicas_needed(min_rps, graph.nodes[k]["service_ms"], graph.nodes[k]["batch"])
            <= n[s]
        ]
        if not mine:
            return None
        keep += mine
    g = _induced(graph, set(keep))
    for k, d in g.nodes(data=True):
        if isinstance(k, tuple):
            reps = n[d["stage"]]
            if add:
                reps = max(reps, replicas_needed(rate_rps, d["service_ms"], d["batch"]))
            d["replicas"], d["cost"] = reps, reps * d["cores"]
    for _, v, e in g.edges(data=True):
        e["cost"] = g.nodes[v]["cost"]
    return g


def _feasible(graph, pipeline, n, r, slo_ms) -> bool:
    g = _restrict(graph, pipeline, n, r, r, add=False)
    if g is None:
        return False
    try:
        plan_on_graph(pipeline, g, slo_ms)
    except InfeasibleError:
        return False
    return True


def max_vertical_rate(
    pipeline: Pipeline,
    rate_rps: float,
    slo_ms: float,
    replicas,
    max_cores: float = MAX_CORES,
    options: PlanOptions | None = None,
    **menu,
) -> float:
    """The largest rate (at most ``rate_rps``) that today's replicas carry by vertical scaling
    alone, within the SLO (chapter 04_biscale).

    The latencies (service plus batch formation delay) are those at ``rate_rps``, the rate
    the pipeline receives; a configuration with cores ``c_s`` and batch ``b_s`` carries
    ``min_s n_s h_s(b_s, c_s)``. Carrying a rate ``r`` only gets harder as ``r`` grows, so a
    binary search over the distinct capacities ``n_s h_s(b, c)`` of the menu, each step one
    run of FA2's DP, finds the largest one a plan within the SLO reaches.

    Parameters
    ----------
    pipeline, rate_rps, slo_ms : as for :func:`vertical_plan`
    replicas : today's replicas (:func:`today_replicas`)
    max_cores, options, menu : the menu (:func:`vertical_options`)

    Returns
    -------
    ``rate_rps`` when vertical scaling carries it, else the largest capacity that it reaches.

    Raises
    ------
    InfeasibleError
        When no configuration meets the SLO whatever the rate it carries.

    Examples
    --------
    One 8-core YOLOv5n replica carries at most h(1, 8), about 24.2 RPS:

    >>> from ssloserve.fa2 import video_pipeline
    >>> p = video_pipeline("yolov5n", "resnet18", max_batch=8, source="fallback")
    >>> round(max_vertical_rate(p, 60.0, 780.0, replicas=1), 1)
    24.2
    >>> max_vertical_rate(p, 20.0, 780.0, replicas=1)
    20.0
    """
    n = today_replicas(pipeline, replicas)
    graph = _vertical_graph(pipeline, rate_rps, PlanOptions.of(options, **menu), max_cores)
    return _max_rate(graph, pipeline, n, rate_rps, slo_ms)


def _max_rate(graph, pipeline, n, rate_rps, slo_ms) -> float:
    if _feasible(graph, pipeline, n, rate_rps, slo_ms):
        return float(rate_rps)
    caps = sorted(
        {
            _capacity(graph.nodes[k], n[s])
            for s in pipeline.order
            for k in stage_nodes(graph, s)
            if _capacity(graph.nodes[k], n[s]) < rate_rps
        }
    )
    if not caps or not _feasible(graph, pipeline, n, caps[0], slo_ms):
        plan_on_graph(pipeline, graph, slo_ms)  # raises the SLO's InfeasibleError
        raise AssertionError("unreachable: a plan within the SLO carries the smallest capacity")
    lo, hi = 0, len(caps) - 1  # caps[lo] is carried; find the last index that is
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _feasible(graph, pipeline, n, caps[mid], slo_ms):
            lo = mid
        else:
            hi = mid - 1
    return caps[lo]


def vertical_plan(
    pipeline: Pipeline,
    rate_rps: float,
    slo_ms: float,
    replicas,
    max_cores: float = MAX_CORES,
    options: PlanOptions | None = None,
    *,
    add_replicas: bool = True,
    **menu,
) -> Config:
    """The vertical plan: FA2's DP over (cores, batch) with today's replica counts (PAPERS.md 4).

    Per stage ``s`` it keeps ``n_s`` replicas and picks cores ``c_s <= max_cores`` and a batch
    ``b_s`` with ``n_s h_s(b_s, c_s) >= lam``, minimising ``sum_s n_s c_s`` subject to the
    SLO on every path (chapter 04_biscale). When no core count up to the cap carries ``lam``,
    :func:`max_vertical_rate` finds the largest rate ``r`` that vertical scaling carries, and
    the plan is the cheapest among the configurations that carry ``r`` on today's replicas,
    each stage raised to ``max(n_s, ceil(lam / h_s(b_s, c_s)))`` replicas: vertical scaling
    as far as it goes, new replicas for the rest.

    Parameters
    ----------
    pipeline : a series-parallel pipeline
    rate_rps : the rate lam (RPS), positive
    slo_ms : end-to-end latency bound (ms)
    replicas : today's replicas ``n_s``: a Config, a mapping stage -> count, or one count
    max_cores : the cap on cores per replica
    options, menu : FA2's menu (:class:`~ssloserve.fa2.PlanOptions`); core counts default to
        1 .. ``max_cores`` (:func:`vertical_options`)
    add_replicas : False: never add replicas; beyond the cap the plan carries only the rate
        :func:`max_vertical_rate` found (vertical scaling alone)

    Returns
    -------
    Config

    Raises
    ------
    InfeasibleError
        When no configuration meets the SLO.

    Examples
    --------
    With today's 2 + 1 replicas, 30 RPS needs 4 cores per detector (each carries 15 RPS):

    >>> from ssloserve.fa2 import video_pipeline
    >>> p = video_pipeline("yolov5n", "resnet18", max_batch=8, source="fallback")
    >>> cfg = vertical_plan(p, 30.0, 780.0, replicas={"detect": 2, "classify": 1})
    >>> [(s, cfg[s].replicas, cfg[s].cores, cfg[s].batch) for s in cfg]
    [('detect', 2, 4.0, 1), ('classify', 1, 2.0, 2)]

    At 60 RPS two 8-core detectors carry about 48 RPS; replicas are added for the rest:

    >>> cfg = vertical_plan(p, 60.0, 780.0, replicas={"detect": 2, "classify": 1})
    >>> cfg["detect"].replicas, cfg["detect"].cores
    (3, 8.0)
    >>> vertical_plan(p, 60.0, 780.0, {"detect": 2, "classify": 1}, add_replicas=False)["detect"]
    StageConfig(variant='yolov5n', replicas=2, cores=8.0, batch=1)
    """
    n = today_replicas(pipeline, replicas)
    graph = _vertical_graph(pipeline, rate_rps, PlanOptions.of(options, **menu), max_cores)
    r = _max_rate(graph, pipeline, n, rate_rps, slo_ms)
    g = _restrict(graph, pipeline, n, r, rate_rps, add=add_replicas and r < rate_rps)
    return plan_on_graph(pipeline, g, slo_ms)
