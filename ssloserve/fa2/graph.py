"""FA2's configuration graph and the DAG-to-chain step (PAPERS.md 1, steps 1-2; chapter 01_fa2).

- :class:`PlanOptions` -- the menu every planner chooses from (variants, batch sizes, cores
  per instance, which batch formation delay), one type for all of them.
- :func:`stage_options` -- every configuration of one stage at rate ``lam``.
- :func:`configuration_graph` -- one layer of nodes per stage, weighted by (latency, cost);
  :func:`stage_nodes` reads a stage's layer back. :func:`ssloserve.fa2.plan.plan_on_graph`
  runs the DP on exactly these nodes.
- :func:`to_chain` -- a series-parallel DAG becomes a chain of stages and :class:`Parallel`
  blocks; :func:`parallel_super_stage` is the rule that makes a block one stage of the
  chain (latency the max over branches, cost the sum, dominated combinations pruned).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

from ..errors import PipelineError, ProfileError
from ..latency import batch_delay_ms, replicas_needed
from ..pipeline import Pipeline, Variant
from .dp import ParetoFront, compose

__all__ = [
    "PlanOptions",
    "stage_options",
    "configuration_graph",
    "stage_nodes",
    "path_sum",
    "Parallel",
    "chain_str",
    "to_chain",
    "parallel_super_stage",
]


@dataclass(frozen=True)
class PlanOptions:
    """The menu a planner chooses from at every stage (all FA2 planners and oracles take it).

    Attributes
    ----------
    variants : stage name -> variant name (default: each stage's first variant); variants are
        fixed, the planners choose batch sizes, cores per instance and replicas
    batches : batch sizes to consider, one list for all stages or one per stage name
        (default ``1 .. stage.max_batch``)
    cores_options : cores per instance to consider (default: the variant's own cores)
    batch_delay : ``"mean"`` or ``"p99"`` batch formation delay
        (:func:`ssloserve.latency.batch_delay_ms`)

    Examples
    --------
    >>> PlanOptions.of(None, batches=[1, 2])
    PlanOptions(variants=None, batches=[1, 2], cores_options=None, batch_delay='mean')
    >>> PlanOptions.of(PlanOptions(batch_delay="p99"), batches=[4]).batch_delay
    'p99'
    """

    variants: Mapping[str, str] | None = None
    batches: Iterable[int] | Mapping[str, Iterable[int]] | None = None
    cores_options: Iterable[float] | None = None
    batch_delay: str = "mean"

    @classmethod
    def of(cls, options: PlanOptions | None = None, **fields) -> PlanOptions:
        """``options`` (default: the default menu) with ``fields`` replaced."""
        base = cls() if options is None else options
        return dataclasses.replace(base, **fields) if fields else base

    def variant(self, pipeline: Pipeline, stage: str) -> Variant:
        """The variant that serves ``stage``."""
        return pipeline.stage(stage).variant(
            None if self.variants is None else self.variants.get(stage)
        )

    def batch_sizes(self, pipeline: Pipeline, stage: str) -> Iterable[int]:
        """The batch sizes to consider at ``stage``."""
        every = range(1, pipeline.stage(stage).max_batch + 1)
        if self.batches is None:
            return every
        if isinstance(self.batches, Mapping):
            return self.batches.get(stage, every)
        return self.batches


def stage_options(
    pipeline: Pipeline,
    stage: str,
    rate_rps: float,
    options: PlanOptions | None = None,
    **menu,
) -> list[dict]:
    """Every configuration of one stage at rate ``lam``: the nodes of its layer in the graph.

    Parameters
    ----------
    pipeline, stage : the pipeline and the stage's name
    rate_rps : arrival rate lam (RPS), positive
    options, menu : the menu, a :class:`PlanOptions` and/or its fields as keywords

    Returns
    -------
    One dict per configuration with keys ``stage, variant, batch, cores, service_ms``
    (l(b, c)), ``queue_ms`` (batch formation delay), ``latency_ms`` (their sum),
    ``replicas`` (ceil(lam / h(b, c))) and ``cost`` (replicas x cores).

    Examples
    --------
    >>> from ssloserve.pipeline import Stage, Variant
    >>> from ssloserve.latency import LatencyModel
    >>> p = Pipeline.chain(Stage("a", (Variant("x", 1.0, LatencyModel(0, 10, 0, 10)),), max_batch=2))
    >>> [(o["batch"], o["latency_ms"], o["replicas"]) for o in stage_options(p, "a", 100.0)]
    [(1, 20.0, 2), (2, 40.0, 2)]
    """
    if not rate_rps > 0:
        raise ValueError(f"rate_rps must be positive, got {rate_rps!r}")
    opts = PlanOptions.of(options, **menu)
    v = opts.variant(pipeline, stage)
    cs = (v.cores,) if opts.cores_options is None else tuple(opts.cores_options)
    out = []
    for c in cs:
        for b in opts.batch_sizes(pipeline, stage):
            b = int(b)
            l_ms = float(v.latency_ms(b, c))
            if not (l_ms > 0 and math.isfinite(l_ms)):
                raise ProfileError(
                    f"stage {stage!r}, variant {v.name!r}: latency at b={b}, c={c:g} is {l_ms!r} ms"
                )
            q = batch_delay_ms(b, rate_rps, opts.batch_delay)
            n = replicas_needed(rate_rps, l_ms, b)
            out.append(
                dict(
                    stage=stage,
                    variant=v.name,
                    batch=b,
                    cores=float(c),
                    service_ms=l_ms,
                    queue_ms=q,
                    latency_ms=l_ms + q,
                    replicas=n,
                    cost=n * float(c),
                )
            )
    if not out:
        raise ProfileError(f"stage {stage!r} has no configuration to choose from")
    return out


def configuration_graph(
    pipeline: Pipeline, rate_rps: float, options: PlanOptions | None = None, **menu
) -> nx.DiGraph:
    """FA2's configuration graph: one layer per stage, one node per configuration (PAPERS.md 1).

    Nodes are ``"source"``, ``"sink"`` and ``(stage, batch, cores)`` tuples carrying the
    attributes of :func:`stage_options` plus ``layer`` (the stage's depth in the DAG, from
    1, where it is drawn; the source is layer 0) and ``index`` (position within that
    column). For every pipeline edge ``u -> v`` every node of ``u`` links to every node of
    ``v``; the source links to the first stage and the last stage to the sink. An edge's
    ``latency_ms`` and ``cost`` are its head node's, so a source-to-sink path picks one
    configuration per stage of a chain and its weight is that plan's latency (or cost).
    The graph's ``rate_rps`` attribute is the rate it was built for.

    Parameters
    ----------
    pipeline : the pipeline
    rate_rps : arrival rate lam (RPS), positive
    options, menu : the menu, a :class:`PlanOptions` and/or its fields as keywords

    Examples
    --------
    >>> from ssloserve.pipeline import Stage, Variant
    >>> from ssloserve.latency import LatencyModel
    >>> m = LatencyModel(0, 10, 0, 10)
    >>> p = Pipeline.chain(Stage("a", (Variant("x", 1.0, m),), max_batch=2),
    ...                    Stage("b", (Variant("y", 1.0, m),), max_batch=2))
    >>> g = configuration_graph(p, rate_rps=100.0)
    >>> g.number_of_nodes(), g.number_of_edges()
    (6, 8)
    >>> g.nodes["a", 2, 1.0]["latency_ms"], g.nodes["a", 2, 1.0]["replicas"]
    (40.0, 2)
    >>> nx.shortest_path_length(g, "source", "sink", weight="latency_ms")
    40.0
    """
    opts = PlanOptions.of(options, **menu)
    g = nx.DiGraph(rate_rps=float(rate_rps))
    depth = {}
    for n in pipeline.order:
        preds = pipeline.predecessors(n)
        depth[n] = 1 + max((depth[p] for p in preds), default=0)
    g.add_node("source", layer=0, index=0, stage="source", latency_ms=0.0, cost=0.0)
    layers: dict[int, int] = {}
    nodes: dict[str, list] = {}
    for s in pipeline.order:
        nodes[s] = []
        for o in stage_options(pipeline, s, rate_rps, opts):
            key = (s, o["batch"], o["cores"])
            i = layers.get(depth[s], 0)
            layers[depth[s]] = i + 1
            g.add_node(key, layer=depth[s], index=i, **o)
            nodes[s].append(key)
    last = max(depth.values()) + 1
    g.add_node("sink", layer=last, index=0, stage="sink", latency_ms=0.0, cost=0.0)
    for k in nodes[pipeline.source]:
        g.add_edge("source", k, latency_ms=g.nodes[k]["latency_ms"], cost=g.nodes[k]["cost"])
    for u, v in pipeline.graph.edges:
        for a in nodes[u]:
            for b in nodes[v]:
                g.add_edge(a, b, latency_ms=g.nodes[b]["latency_ms"], cost=g.nodes[b]["cost"])
    for k in nodes[pipeline.sink]:
        g.add_edge(k, "sink", latency_ms=0.0, cost=0.0)
    return g


def stage_nodes(graph: nx.DiGraph, stage: str) -> list:
    """The nodes of ``stage``'s layer in a :func:`configuration_graph`, in the order built.

    Examples
    --------
    >>> from ssloserve.pipeline import Stage, Variant
    >>> from ssloserve.latency import LatencyModel
    >>> p = Pipeline.chain(Stage("a", (Variant("x", 1.0, LatencyModel(0, 10, 0, 10)),), max_batch=2))
    >>> stage_nodes(configuration_graph(p, 100.0), "a")
    [('a', 1, 1.0), ('a', 2, 1.0)]
    """
    return [n for n, d in graph.nodes(data=True) if isinstance(n, tuple) and d["stage"] == stage]


def path_sum(lat: Mapping[str, float], path: Iterable[str]) -> float:
    """Sum of ``lat`` along ``path``, added from the source on.

    Examples
    --------
    >>> path_sum({"a": 1.5, "b": 2.0, "c": 9.0}, ("a", "b"))
    3.5
    """
    total = 0.0
    for s in path:
        total += lat[s]
    return total


@dataclass(frozen=True)
class Parallel:
    """A super-stage: parallel branches between a fork and a join, each branch a chain.

    Examples
    --------
    >>> blk = Parallel((("b",), ("c", "d")))
    >>> blk.stages, str(blk)
    (('b', 'c', 'd'), '(b | c -> d)')
    """

    branches: tuple[tuple, ...]

    @property
    def stages(self) -> tuple[str, ...]:
        out: list[str] = []
        for br in self.branches:
            for blk in br:
                out.extend(blk.stages if isinstance(blk, Parallel) else (blk,))
        return tuple(out)

    def __str__(self) -> str:
        return "(" + " | ".join(chain_str(br) for br in self.branches) + ")"


def chain_str(chain: Sequence) -> str:
    """A chain of stages and parallel blocks as text, e.g. ``a -> (b | c -> d) -> e``.

    Examples
    --------
    >>> chain_str(("a", Parallel((("b",), ("c",))), "e"))
    'a -> (b | c) -> e'
    """
    return " -> ".join(str(b) for b in chain)


def _sp_decompose(order: nx.DiGraph, nodes: set, rank: Mapping[str, int]) -> list:
    """Series-parallel decomposition of the stages ``nodes`` under the partial order ``order``.

    ``order`` is the transitive closure of the pipeline (an edge ``x -> y`` whenever some
    path leads from ``x`` to ``y``). Stages no path links to the rest fall apart into
    parallel branches (the weakly connected components); otherwise they are in series if
    they split into groups each wholly before the next (the components of the graph of
    *unordered* pairs). Neither is the "N" that makes a DAG not series-parallel.
    """
    if len(nodes) == 1:
        return [next(iter(nodes))]
    sub = order.subgraph(nodes)
    first = lambda part: min(rank[x] for x in part)  # noqa: E731
    branches = sorted(nx.weakly_connected_components(sub), key=first)
    if len(branches) > 1:
        return [Parallel(tuple(tuple(_sp_decompose(order, br, rank)) for br in branches))]
    groups = sorted(nx.connected_components(nx.complement(sub.to_undirected())), key=first)
    if len(groups) == 1:
        raise PipelineError(
            f"the pipeline is not series-parallel: stages {sorted(nodes, key=rank.get)} neither "
            "split into groups that each run wholly before the next nor into independent "
            "parallel branches (they hold an 'N' such as a->c, a->d, b->d), so to_chain cannot "
            "turn them into a chain (plan such a pipeline with brute_force instead)"
        )
    out: list = []
    for grp in groups:
        out.extend(_sp_decompose(order, grp, rank))
    return out


def to_chain(pipeline: Pipeline) -> tuple:
    """Turn a series-parallel pipeline into a chain of stages and :class:`Parallel` blocks.

    The stages are read as a partial order (``x`` before ``y`` when a path leads from ``x``
    to ``y``; edges implied by longer paths add nothing). Recursively, a set of stages is
    either independent parallel branches (no path links one branch to another) or a
    series of groups, each wholly before the next; the source-to-sink paths are then
    exactly the series sums and parallel maxima of the blocks. For planning, a
    :class:`Parallel` block is one super-stage (:func:`parallel_super_stage`). Two fan-outs
    in a row with no join between them (every branch of the first feeding every branch of
    the second) are two parallel blocks one after the other.

    Raises
    ------
    PipelineError
        When the DAG is not series-parallel (it holds the "N" a->c, a->d, b->d).

    Examples
    --------
    >>> from ssloserve.pipeline import Stage, Variant
    >>> from ssloserve.latency import LatencyModel
    >>> S = lambda n: Stage(n, (Variant("v", 1.0, LatencyModel(0, 1, 0, 1)),))
    >>> p = Pipeline([S(x) for x in "abcde"],
    ...              [("a", "b"), ("a", "c"), ("c", "d"), ("b", "e"), ("d", "e"), ("a", "e")])
    >>> chain_str(to_chain(p))
    'a -> (b | c -> d) -> e'
    >>> k = Pipeline([S(x) for x in "sabcdt"], [("s", "a"), ("s", "b"), ("a", "c"), ("a", "d"),
    ...              ("b", "c"), ("b", "d"), ("c", "t"), ("d", "t")])
    >>> chain_str(to_chain(k))
    's -> (a | b) -> (c | d) -> t'
    >>> n = Pipeline([S(x) for x in "sabcdt"], [("s", "a"), ("s", "b"), ("a", "c"), ("a", "d"),
    ...              ("b", "d"), ("c", "t"), ("d", "t")])
    >>> to_chain(n)
    Traceback (most recent call last):
    ...
    ssloserve.errors.PipelineError: the pipeline is not series-parallel: stages ['a', 'b', 'c', 'd'] ...
    """
    order = nx.transitive_closure_dag(pipeline.graph)
    rank = {s: i for i, s in enumerate(pipeline.order)}
    return tuple(_sp_decompose(order, set(pipeline.order), rank))


def parallel_super_stage(
    branches: Sequence[ParetoFront], slo_ms: float, join: Callable
) -> ParetoFront:
    """The parallel super-stage rule: branches side by side become one stage of the chain.

    Its configurations are the combinations of one configuration per branch, with latency
    the *max* over the branches (a request waits for the slowest) and cost the *sum*;
    combinations over the SLO or dominated in (latency, cost) are pruned (PAPERS.md 1,
    step 2).

    Parameters
    ----------
    branches : the Pareto front of each branch
    slo_ms : combinations slower than this are dropped
    join : payload of a combination from two payloads

    Examples
    --------
    >>> from ssloserve.fa2.dp import pareto_front
    >>> top = pareto_front([40.0, 90.0], [3.0, 1.0], ["t40", "t90"], 500.0)
    >>> bottom = pareto_front([60.0, 80.0], [2.0, 1.0], ["b60", "b80"], 500.0)
    >>> f = parallel_super_stage([top, bottom], 500.0, lambda x, y: x + "+" + y)
    >>> list(zip(f.lat.tolist(), f.cost.tolist(), f.payload))
    [(60.0, 5.0, 't40+b60'), (80.0, 4.0, 't40+b80'), (90.0, 2.0, 't90+b80')]
    """
    front = branches[0]
    for b in branches[1:]:
        front = compose(front, b, slo_ms, np.maximum, join)
    return front
