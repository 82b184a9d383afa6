"""FA2: fast, accurate autoscaling of multi-model pipelines (PAPERS.md 1; chapter 01_fa2).

The planner chooses, for every stage of a pipeline, a batch size ``b`` and a number of
identical instances ``n`` (each of ``c`` cores), so that the cheapest configuration still
meets the end-to-end SLO at arrival rate ``lam``:

    minimise    sum_v  n_v * c_v
    subject to  sum_{v in path} ( l_v(b_v, c_v) + 1000 (b_v - 1) / lam ) <= slo_ms   (every path)
                n_v = ceil(lam * l_v(b_v, c_v) / (1000 b_v))

The pieces, each one function:

- :func:`configuration_graph` -- the layered graph: one layer per stage, one node per
  configuration, weighted by (latency, cost).
- :func:`to_chain` -- a series-parallel DAG becomes a chain whose parallel blocks are
  super-stages (latency max, cost sum, dominated combinations pruned).
- :func:`solve_chain` -- the planner on a chain, exactly optimal: it keeps, stage by
  stage, the Pareto set of partial plans over (latency, cost).
- :func:`solve_chain_grid` -- the published variant, a dynamic programme over integer
  milliseconds (latencies rounded up), which can miss the optimum.
- :func:`plan` -- the two together on any series-parallel pipeline; :func:`brute_force`
  and :func:`brute_force_chain` are the exhaustive oracles.
- Baselines: :func:`slo_split_plan` (GrandSLAm-style per-stage SLO splitting) and
  :func:`static_peak_plan` (provision once for the peak rate).
- Policies for ``ssloserve.run``: :class:`FA2Policy` and :class:`SLOSplitPolicy` replan
  every interval and scale in only after a stabilisation window; :func:`static_peak_policy`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd

from .errors import InfeasibleError, PipelineError, ProfileError
from .latency import batch_delay_ms, replicas_needed
from .observation import Observation
from .pipeline import Config, Pipeline, StageConfig

__all__ = [
    "EPS_MS",
    "ChainPlan",
    "Parallel",
    "stage_options",
    "configuration_graph",
    "to_chain",
    "chain_str",
    "solve_chain",
    "solve_chain_grid",
    "brute_force_chain",
    "plan",
    "brute_force",
    "path_latency_ms",
    "plan_table",
    "slo_split_plan",
    "static_peak_plan",
    "max_predictor",
    "FA2Policy",
    "SLOSplitPolicy",
    "static_peak_policy",
    "video_pipeline",
    "systems",
    "compare",
    "cores_per_second",
    "cost_vs_rate",
    "random_chain_instance",
    "versus_brute_force",
]

#: Tolerance (ms) on the SLO constraint, shared by every planner and oracle here, so that
#: a configuration whose latency equals the SLO is feasible whatever the order of summation.
EPS_MS = 1e-9


# --------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainPlan:
    """A plan for a chain: one ``(batch, replicas)`` per stage, with its cost and latency.

    Iterating over it (or indexing it) gives the ``(b, n)`` pairs.

    Attributes
    ----------
    choices : one ``(b, n)`` per stage
    cost : sum over stages of n x cores per instance
    latency_ms : sum over stages of l(b) + batch formation delay

    Examples
    --------
    >>> p = ChainPlan(((4, 1), (1, 2)), cost=3.0, latency_ms=120.0)
    >>> list(p), p[1], len(p)
    ([(4, 1), (1, 2)], (1, 2), 2)
    """

    choices: tuple[tuple[int, int], ...]
    cost: float
    latency_ms: float

    def __iter__(self):
        return iter(self.choices)

    def __len__(self) -> int:
        return len(self.choices)

    def __getitem__(self, i):
        return self.choices[i]


# --------------------------------------------------------------------------------------
# Pareto fronts over (latency, cost): the exact DP
# --------------------------------------------------------------------------------------


@dataclass
class _Front:
    """Pareto-optimal partial plans: latency ascending, cost strictly descending."""

    lat: np.ndarray
    cost: np.ndarray
    payload: list  # one per point: whatever identifies the choices (tuple or dict)


def _prune(lat: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Indices of the Pareto-optimal points (min latency, min cost), latency ascending."""
    if len(lat) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((cost, lat))
    c = cost[order]
    prev = np.minimum.accumulate(np.concatenate(([np.inf], c[:-1])))
    return order[c < prev]


def _front_from_options(lat, cost, payload, slo_ms: float) -> _Front:
    lat = np.asarray(lat, dtype=float)
    cost = np.asarray(cost, dtype=float)
    ok = np.flatnonzero(lat <= slo_ms + EPS_MS)
    keep = ok[_prune(lat[ok], cost[ok])]
    return _Front(lat[keep], cost[keep], [payload[i] for i in keep])


def _combine(a: _Front, b: _Front, slo_ms: float, how: str, join: Callable) -> _Front:
    """Series (latency sum) or parallel (latency max) composition of two fronts, pruned."""
    if how == "series":
        lat = a.lat[:, None] + b.lat[None, :]
    else:
        lat = np.maximum(a.lat[:, None], b.lat[None, :])
    cost = a.cost[:, None] + b.cost[None, :]
    lat, cost = lat.ravel(), cost.ravel()
    ok = np.flatnonzero(lat <= slo_ms + EPS_MS)
    keep = ok[_prune(lat[ok], cost[ok])]
    nb = len(b.lat)
    payload = [join(a.payload[k // nb], b.payload[k % nb]) for k in keep]
    return _Front(lat[keep], cost[keep], payload)


def _best(front: _Front) -> int:
    """Index of the cheapest point (the fastest among equally cheap ones)."""
    return len(front.lat) - 1  # cost strictly decreases along the front


# --------------------------------------------------------------------------------------
# the planner on a plain chain
# --------------------------------------------------------------------------------------


def _check_slo(slo_ms: float) -> None:
    if math.isnan(slo_ms):
        raise ValueError("slo_ms must be a number of milliseconds, got nan")


def _menu(slo_ms, variants, batches, cores_options, batch_delay) -> dict:
    """The SLO checked, and the menu keywords of :func:`stage_options` as one dict."""
    _check_slo(slo_ms)
    return dict(
        variants=variants, batches=batches, cores_options=cores_options, batch_delay=batch_delay
    )


def _chain_options(stage_latencies_ms, rate_rps, cores_per_instance, slo_ms):
    _check_slo(slo_ms)
    if not rate_rps > 0:
        raise ValueError(f"rate_rps must be positive, got {rate_rps!r}")
    S = len(stage_latencies_ms)
    if S == 0:
        raise ValueError("the chain has no stages")
    if np.ndim(cores_per_instance) == 0:
        cores = [float(cores_per_instance)] * S
    else:
        cores = [float(c) for c in cores_per_instance]
        if len(cores) != S:
            raise ValueError(f"{len(cores)} cores_per_instance values for {S} stages")
    out = []
    for s, table in enumerate(stage_latencies_ms):
        if not table:
            raise ProfileError(f"stage {s} has no batch sizes")
        opts = []
        for b, l_ms in sorted(table.items()):
            if int(b) != b or b < 1:
                raise ProfileError(f"stage {s}: batch sizes must be integers >= 1, got {b!r}")
            if not (l_ms > 0 and math.isfinite(l_ms)):
                raise ProfileError(f"stage {s}, batch {b}: latency must be positive, got {l_ms!r}")
            b = int(b)
            n = replicas_needed(rate_rps, l_ms, b)
            opts.append((l_ms + batch_delay_ms(b, rate_rps), n * cores[s], (b, n)))
        out.append(opts)
    return out


def _infeasible_chain(options, slo_ms) -> InfeasibleError:
    need = 0.0
    for opts in options:
        need += min(o[0] for o in opts)
    return InfeasibleError(
        f"SLO {slo_ms:g} ms is below the fastest configuration ({need:.6g} ms: every stage at "
        "its lowest latency including batch formation delay); the smallest feasible SLO is "
        f"{need:.6g} ms",
        constraint="slo_ms",
        nearest_feasible=need,
    )


def solve_chain(
    stage_latencies_ms: Sequence[Mapping[int, float]],
    rate_rps: float,
    slo_ms: float,
    cores_per_instance: float | Sequence[float] = 1,
) -> ChainPlan:
    """The cheapest ``(batch, replicas)`` per stage of a chain that meets the SLO, exactly.

    Stage ``s`` with batch ``b`` costs ``n = ceil(lam l_s(b) / (1000 b))`` instances of
    ``cores_per_instance`` cores and adds ``l_s(b) + 1000 (b - 1) / lam`` ms. The DP keeps,
    after each stage, the Pareto set of partial plans over (latency so far, cost so far),
    dropping any whose latency already exceeds the SLO; every optimal plan's prefix is
    matched by a point of that set, so the answer is optimal with no time grid (chapter
    01_fa2).

    Parameters
    ----------
    stage_latencies_ms : per stage, a mapping batch size -> latency (ms) of one instance
    rate_rps : arrival rate lam (RPS), positive
    slo_ms : end-to-end latency bound (ms)
    cores_per_instance : cores of one instance, one number or one per stage; the objective
        is the total cores, i.e. the total number of instances when this is 1

    Returns
    -------
    ChainPlan
        The cheapest plan; among equally cheap ones, the lowest latency.

    Raises
    ------
    InfeasibleError
        When even the fastest configuration misses the SLO; ``nearest_feasible`` is the
        smallest feasible SLO.

    Examples
    --------
    >>> lat = [{1: 50.0, 4: 80.0}, {1: 30.0, 2: 36.0}]
    >>> p = solve_chain(lat, rate_rps=40.0, slo_ms=150.0)
    >>> list(p), p.cost, p.latency_ms
    ([(1, 2), (2, 1)], 3.0, 111.0)
    >>> list(solve_chain(lat, rate_rps=40.0, slo_ms=100.0))
    [(1, 2), (1, 2)]
    >>> solve_chain(lat, rate_rps=40.0, slo_ms=60.0)
    Traceback (most recent call last):
    ...
    ssloserve.errors.InfeasibleError: SLO 60 ms is below the fastest configuration (80 ms: ...
    """
    options = _chain_options(stage_latencies_ms, rate_rps, cores_per_instance, slo_ms)
    front = None
    for opts in options:
        f = _front_from_options(
            [o[0] for o in opts], [o[1] for o in opts], [(o[2],) for o in opts], slo_ms
        )
        front = f if front is None else _combine(front, f, slo_ms, "series", _cat)
        if len(front.lat) == 0:
            raise _infeasible_chain(options, slo_ms)
    i = _best(front)
    return ChainPlan(tuple(front.payload[i]), float(front.cost[i]), float(front.lat[i]))


def _cat(x, y):
    return x + y


def solve_chain_grid(
    stage_latencies_ms: Sequence[Mapping[int, float]],
    rate_rps: float,
    slo_ms: float,
    cores_per_instance: float | Sequence[float] = 1,
    step_ms: float = 1.0,
) -> ChainPlan:
    """The published FA2 DP over a time grid: ``C[s][t] = min_k C[s-1][t - L_s(k)] + cost_s(k)``.

    Each stage latency (with batch formation delay) is rounded *up* to a multiple of
    ``step_ms``, so every plan it returns meets the SLO, but a plan whose rounded latency
    exceeds the SLO is lost even when its true latency fits: the grid can miss the optimum
    (chapter 01_fa2 counts how often). Same parameters as :func:`solve_chain`.

    Raises
    ------
    InfeasibleError
        When no plan fits on the grid (``nearest_feasible`` is the smallest SLO that fits
        on the grid).

    Examples
    --------
    >>> lat = [{1: 50.4, 2: 60.0}, {1: 49.8}]
    >>> list(solve_chain(lat, 20.0, 150.0)), list(solve_chain_grid(lat, 20.0, 150.0))
    ([(1, 2), (1, 1)], [(1, 2), (1, 1)])
    >>> solve_chain(lat, 20.0, 100.2).cost
    3.0
    >>> solve_chain_grid(lat, 20.0, 100.2)
    Traceback (most recent call last):
    ...
    ssloserve.errors.InfeasibleError: SLO 100.2 ms: no plan fits on the 1 ms grid; ...
    """
    options = _chain_options(stage_latencies_ms, rate_rps, cores_per_instance, slo_ms)
    T = int(math.floor(slo_ms / step_ms + 1e-9))
    if T < 0:
        T = -1
    INF = np.inf
    C = np.zeros(T + 1) if T >= 0 else np.zeros(0)
    back = []
    for opts in options:
        new = np.full(T + 1, INF) if T >= 0 else np.zeros(0)
        arg = np.full(T + 1, -1, dtype=np.int64)
        for k, (L, cost, _) in enumerate(opts):
            d = int(math.ceil(L / step_ms - 1e-9))
            if d > T:
                continue
            cand = np.full(T + 1, INF)
            cand[d:] = C[: T + 1 - d] + cost
            better = cand < new
            new[better] = cand[better]
            arg[better] = k
        back.append((arg, [int(math.ceil(o[0] / step_ms - 1e-9)) for o in opts]))
        C = new
    if T < 0 or not np.isfinite(C).any():
        need = sum(min(math.ceil(o[0] / step_ms - 1e-9) for o in opts) for opts in options)
        raise InfeasibleError(
            f"SLO {slo_ms:g} ms: no plan fits on the {step_ms:g} ms grid; the smallest SLO "
            f"that fits is {need * step_ms:g} ms",
            constraint="slo_ms",
            nearest_feasible=need * step_ms,
        )
    cmin = C.min()
    t = int(np.flatnonzero(C == cmin)[0])
    picks = []
    for s in range(len(options) - 1, -1, -1):
        arg, d = back[s]
        k = int(arg[t])
        picks.append(k)
        t -= d[k]
    picks.reverse()
    chosen = [options[s][k] for s, k in enumerate(picks)]
    lat = 0.0
    for o in chosen:
        lat += o[0]
    return ChainPlan(tuple(o[2] for o in chosen), float(sum(o[1] for o in chosen)), lat)


def brute_force_chain(
    stage_latencies_ms: Sequence[Mapping[int, float]],
    rate_rps: float,
    slo_ms: float,
    cores_per_instance: float | Sequence[float] = 1,
) -> ChainPlan:
    """The exhaustive oracle for :func:`solve_chain`: try every combination of batch sizes.

    Same parameters, result and errors as :func:`solve_chain` (cheapest, then fastest).

    Examples
    --------
    >>> lat = [{1: 50.0, 4: 80.0}, {1: 30.0, 2: 36.0}]
    >>> brute_force_chain(lat, 40.0, 150.0) == solve_chain(lat, 40.0, 150.0)
    True
    """
    options = _chain_options(stage_latencies_ms, rate_rps, cores_per_instance, slo_ms)
    best = None
    for combo in itertools.product(*options):
        lat = 0.0
        for o in combo:
            lat += o[0]
        if lat > slo_ms + EPS_MS:
            continue
        cost = float(sum(o[1] for o in combo))
        if best is None or (cost, lat) < (best.cost, best.latency_ms):
            best = ChainPlan(tuple(o[2] for o in combo), cost, lat)
    if best is None:
        raise _infeasible_chain(options, slo_ms)
    return best


# --------------------------------------------------------------------------------------
# pipelines: options, configuration graph, DAG -> chain
# --------------------------------------------------------------------------------------


def _variant(pipeline: Pipeline, stage: str, variants: Mapping[str, str] | None):
    return pipeline.stage(stage).variant(None if variants is None else variants.get(stage))


def stage_options(
    pipeline: Pipeline,
    stage: str,
    rate_rps: float,
    *,
    variants: Mapping[str, str] | None = None,
    batches: Iterable[int] | Mapping[str, Iterable[int]] | None = None,
    cores_options: Iterable[float] | None = None,
    batch_delay: str = "mean",
) -> list[dict]:
    """Every configuration of one stage at rate ``lam``: the nodes of its layer in the graph.

    Parameters
    ----------
    pipeline, stage : the pipeline and the stage's name
    rate_rps : arrival rate lam (RPS), positive
    variants : stage name -> variant name (default: each stage's first variant)
    batches : batch sizes to consider, one list for all stages or one per stage name
        (default ``1 .. stage.max_batch``)
    cores_options : cores per instance to consider (default: the variant's own cores)
    batch_delay : ``"mean"`` or ``"p99"``, see :func:`batch_delay_ms`

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
    st = pipeline.stage(stage)
    v = _variant(pipeline, stage, variants)
    if batches is None:
        bs = range(1, st.max_batch + 1)
    elif isinstance(batches, Mapping):
        bs = batches.get(stage, range(1, st.max_batch + 1))
    else:
        bs = batches
    cs = (v.cores,) if cores_options is None else tuple(cores_options)
    out = []
    for c in cs:
        for b in bs:
            b = int(b)
            l_ms = float(v.latency_ms(b, c))
            if not (l_ms > 0 and math.isfinite(l_ms)):
                raise ProfileError(
                    f"stage {stage!r}, variant {v.name!r}: latency at b={b}, c={c:g} is {l_ms!r} ms"
                )
            q = batch_delay_ms(b, rate_rps, batch_delay)
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
    pipeline: Pipeline,
    rate_rps: float,
    *,
    variants: Mapping[str, str] | None = None,
    batches: Iterable[int] | Mapping[str, Iterable[int]] | None = None,
    cores_options: Iterable[float] | None = None,
    batch_delay: str = "mean",
) -> nx.DiGraph:
    """FA2's configuration graph: one layer per stage, one node per configuration (PAPERS.md 1).

    Nodes are ``"source"``, ``"sink"`` and ``(stage, batch, cores)`` tuples carrying the
    attributes of :func:`stage_options` plus ``layer`` (the stage's depth in the DAG, from
    1; the source is layer 0) and ``index`` (position within the layer). For every pipeline
    edge ``u -> v`` every node of ``u`` links to every node of ``v``; the source links to
    the first stage and the last stage to the sink. An edge's ``latency_ms`` and ``cost``
    are its head node's, so a source-to-sink path picks one configuration per stage of a
    chain and its weight is that plan's latency (or cost).

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
        for o in stage_options(
            pipeline,
            s,
            rate_rps,
            variants=variants,
            batches=batches,
            cores_options=cores_options,
            batch_delay=batch_delay,
        ):
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
    :class:`Parallel` block is one super-stage: latency the max over its branches, cost the
    sum, dominated combinations pruned (see :func:`plan`). Two fan-outs in a row with no
    join between them (every branch of the first feeding every branch of the second) are
    two parallel blocks one after the other.

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


# --------------------------------------------------------------------------------------
# plan a pipeline
# --------------------------------------------------------------------------------------


def _stage_front(pipeline, stage, rate_rps, slo_ms, kw) -> _Front:
    opts = stage_options(pipeline, stage, rate_rps, **kw)
    return _front_from_options(
        [o["latency_ms"] for o in opts],
        [o["cost"] for o in opts],
        [{stage: o} for o in opts],
        slo_ms,
    )


def _merge(x: dict, y: dict) -> dict:
    return {**x, **y}


def _chain_front(pipeline, chain, rate_rps, slo_ms, kw) -> _Front:
    front = None
    for blk in chain:
        if isinstance(blk, Parallel):
            f = None
            for br in blk.branches:
                fb = _chain_front(pipeline, br, rate_rps, slo_ms, kw)
                f = fb if f is None else _combine(f, fb, slo_ms, "parallel", _merge)
        else:
            f = _stage_front(pipeline, blk, rate_rps, slo_ms, kw)
        front = f if front is None else _combine(front, f, slo_ms, "series", _merge)
        if len(front.lat) == 0:
            break
    return front


def _min_latency_ms(pipeline, rate_rps, kw) -> float:
    best = {
        s: min(o["latency_ms"] for o in stage_options(pipeline, s, rate_rps, **kw))
        for s in pipeline.order
    }
    return max(_path_sum(best, p) for p in pipeline.paths())


def _path_sum(lat: Mapping[str, float], path) -> float:
    total = 0.0
    for s in path:
        total += lat[s]
    return total


def _infeasible_pipeline(pipeline, rate_rps, slo_ms, kw) -> InfeasibleError:
    need = _min_latency_ms(pipeline, rate_rps, kw)
    return InfeasibleError(
        f"SLO {slo_ms:g} ms is below the fastest configuration of the slowest path "
        f"({need:.6g} ms at {rate_rps:g} RPS); the smallest feasible SLO is {need:.6g} ms",
        constraint="slo_ms",
        nearest_feasible=need,
    )


def _to_config(choice: Mapping[str, dict], order) -> Config:
    return Config(
        {
            s: StageConfig(
                choice[s]["variant"], choice[s]["replicas"], choice[s]["cores"], choice[s]["batch"]
            )
            for s in order
        }
    )


def plan(
    pipeline: Pipeline,
    rate_rps: float,
    slo_ms: float,
    *,
    variants: Mapping[str, str] | None = None,
    batches: Iterable[int] | Mapping[str, Iterable[int]] | None = None,
    cores_options: Iterable[float] | None = None,
    batch_delay: str = "mean",
) -> Config:
    """FA2's plan for a series-parallel pipeline: the cheapest config that meets the SLO.

    :func:`to_chain` turns the DAG into a chain; every stage contributes its Pareto set of
    configurations over (latency incl. batch formation delay, cores), every parallel block
    the pruned combinations of its branches' sets, and the exact DP of :func:`solve_chain`
    merges them along the chain (chapter 01_fa2).

    Parameters
    ----------
    pipeline : a series-parallel pipeline
    rate_rps : arrival rate lam (RPS), positive
    slo_ms : end-to-end latency bound (ms) on every source-to-sink path
    variants, batches, cores_options : the menu, as in :func:`stage_options` (variants are
        fixed; by default each stage's first, at its own cores)
    batch_delay : ``"mean"`` (default) or ``"p99"`` batch formation delay (:func:`batch_delay_ms`)

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
    >>> det = Stage("detect", (Variant("yolo", 0.5, LatencyModel(0, 20, 0, 30)),), max_batch=8)
    >>> cls = Stage("classify", (Variant("resnet", 0.7, LatencyModel(0, 5, 0, 15)),), max_batch=8)
    >>> p = Pipeline.chain(det, cls)
    >>> cfg = plan(p, rate_rps=50.0, slo_ms=300.0)
    >>> [(s, cfg[s].batch, cfg[s].replicas) for s in cfg], cfg.cost
    ([('detect', 2, 2), ('classify', 1, 1)], 3.0)
    >>> cfg.cost == brute_force(p, 50.0, 300.0).cost
    True
    """
    kw = _menu(slo_ms, variants, batches, cores_options, batch_delay)
    front = _chain_front(pipeline, to_chain(pipeline), rate_rps, slo_ms, kw)
    if front is None or len(front.lat) == 0:
        raise _infeasible_pipeline(pipeline, rate_rps, slo_ms, kw)
    return _to_config(front.payload[_best(front)], pipeline.order)


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
    lat = {}
    for s in pipeline.order:
        sc = config[s]
        v = pipeline.stage(s).variant(sc.variant)
        l_ms = float(v.latency_ms(sc.batch, sc.cores))
        lat[s] = l_ms + batch_delay_ms(sc.batch, rate_rps, batch_delay)
    return max(_path_sum(lat, p) for p in pipeline.paths())


def brute_force(
    pipeline: Pipeline,
    rate_rps: float,
    slo_ms: float,
    *,
    variants: Mapping[str, str] | None = None,
    batches: Iterable[int] | Mapping[str, Iterable[int]] | None = None,
    cores_options: Iterable[float] | None = None,
    batch_delay: str = "mean",
) -> Config:
    """The exhaustive oracle for :func:`plan`: every configuration, every path checked.

    Works on any DAG (series-parallel or not). Same parameters, result and errors as
    :func:`plan`.

    Examples
    --------
    >>> from ssloserve.pipeline import Stage, Variant
    >>> from ssloserve.latency import LatencyModel
    >>> p = Pipeline.chain(Stage("a", (Variant("x", 1.0, LatencyModel(0, 10, 0, 10)),), max_batch=4))
    >>> cfg = brute_force(p, 100.0, 50.0)
    >>> cfg["a"].batch, cfg["a"].replicas
    (1, 2)
    """
    kw = _menu(slo_ms, variants, batches, cores_options, batch_delay)
    order = pipeline.order
    opts = [stage_options(pipeline, s, rate_rps, **kw) for s in order]
    paths = pipeline.paths()
    best, best_key = None, None
    for combo in itertools.product(*opts):
        lat = {o["stage"]: o["latency_ms"] for o in combo}
        worst = max(_path_sum(lat, p) for p in paths)
        if worst > slo_ms + EPS_MS:
            continue
        key = (float(sum(o["cost"] for o in combo)), worst)
        if best_key is None or key < best_key:
            best, best_key = combo, key
    if best is None:
        raise _infeasible_pipeline(pipeline, rate_rps, slo_ms, kw)
    return _to_config({o["stage"]: o for o in best}, order)


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
    for s in pipeline.order:
        sc = config[s]
        v = pipeline.stage(s).variant(sc.variant)
        l_ms = float(v.latency_ms(sc.batch, sc.cores))
        q = batch_delay_ms(sc.batch, rate_rps, batch_delay)
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


# --------------------------------------------------------------------------------------
# baselines
# --------------------------------------------------------------------------------------


def slo_split_plan(
    pipeline: Pipeline,
    rate_rps: float,
    slo_ms: float,
    *,
    variants: Mapping[str, str] | None = None,
    batches: Iterable[int] | Mapping[str, Iterable[int]] | None = None,
    cores_options: Iterable[float] | None = None,
    batch_delay: str = "mean",
) -> Config:
    """Per-stage SLO splitting (GrandSLAm style), the baseline FA2 beats.

    Each stage gets a share of the SLO proportional to its latency at batch 1 on its
    variant's own cores, ``slo_ms * l_s(1) / sum_{v in path} l_v(1)`` (PAPERS.md 1; the
    smallest over the paths through it), then independently takes its cheapest
    configuration within that share (the fastest among equally cheap). Unlike :func:`plan` it cannot give one stage more time where
    batching pays off more.

    Raises
    ------
    InfeasibleError
        When some stage has no configuration within its share; ``nearest_feasible`` is the
        smallest SLO at which every stage's share holds one of its configurations (at least
        the smallest SLO of :func:`plan`, since a split plan is a plan).

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
    kw = _menu(slo_ms, variants, batches, cores_options, batch_delay)
    l1 = {}
    for s in pipeline.order:
        v = _variant(pipeline, s, variants)
        l1[s] = float(v.latency_ms(1, v.cores))
    weight = {s: math.inf for s in pipeline.order}  # the stage's share per ms of SLO
    for p in pipeline.paths():
        tot = _path_sum(l1, p)
        for s in p:
            weight[s] = min(weight[s], l1[s] / tot)
    choice, need, short = {}, 0.0, None
    for s in pipeline.order:
        opts = stage_options(pipeline, s, rate_rps, **kw)
        fastest = min(o["latency_ms"] for o in opts)
        need = max(need, fastest / weight[s])
        ok = [o for o in opts if o["latency_ms"] <= slo_ms * weight[s] + EPS_MS]
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
    return _to_config(choice, pipeline.order)


def static_peak_plan(
    pipeline: Pipeline,
    rates_rps,
    slo_ms: float,
    planner: Callable = plan,
    headroom: float = 1.0,
    slo_safety: float = 1.0,
    **kw,
) -> Config:
    """Static peak provisioning: one config, planned once for the highest rate of the run.

    It plans for ``headroom`` x the peak rate against ``slo_safety`` x the SLO (the same
    margins as the adaptive policies, to compare like with like).

    Examples
    --------
    >>> from ssloserve.pipeline import Stage, Variant
    >>> from ssloserve.latency import LatencyModel
    >>> p = Pipeline.chain(Stage("a", (Variant("x", 1.0, LatencyModel(0, 10, 0, 10)),)))
    >>> static_peak_plan(p, [5, 40, 12], 200.0) == plan(p, 40.0, 200.0)
    True
    """
    peak = float(np.max(np.asarray(rates_rps, dtype=float)))
    return planner(pipeline, max(peak, 1.0) * headroom, slo_ms * slo_safety, **kw)


# --------------------------------------------------------------------------------------
# policies for ssloserve.run
# --------------------------------------------------------------------------------------


def max_predictor(window_s: int = 10) -> Callable[[np.ndarray], float]:
    """A load predictor: the maximum rate of the last ``window_s`` seconds (PAPERS.md 0.3).

    Examples
    --------
    >>> max_predictor(3)(np.array([9, 4, 6, 5]))
    6.0
    """

    def predict(rates_rps: np.ndarray) -> float:
        r = np.asarray(rates_rps, dtype=float)
        return float(r[-window_s:].max()) if len(r) else 0.0

    return predict


@dataclass
class _Replan:
    pipeline: Pipeline
    slo_ms: float
    interval_s: float = 5.0
    stabilisation_s: float = 60.0
    predictor: Callable[[np.ndarray], float] | None = None
    headroom: float = 1.2
    slo_safety: float = 0.8
    min_rate_rps: float = 1.0
    initial_rate_rps: float | None = None
    plan_kw: dict = field(default_factory=dict)
    history: list = field(default_factory=list, init=False, repr=False)
    _planner = staticmethod(plan)

    def __post_init__(self):
        if self.predictor is None:
            self.predictor = max_predictor(30)
        if not 0 < self.slo_safety <= 1:
            raise ValueError(f"slo_safety must be in (0, 1], got {self.slo_safety!r}")

    def _plan_at(self, rate_rps: float) -> Config:
        lam = max(self.min_rate_rps, rate_rps * self.headroom)
        try:
            return self._planner(self.pipeline, lam, self.slo_ms * self.slo_safety, **self.plan_kw)
        except InfeasibleError:
            # no config meets the SLO: serve as fast as possible (batch 1) and count the misses
            kw = dict(self.plan_kw)
            kw["batches"] = [1]
            return plan(self.pipeline, lam, math.inf, **kw)

    def _predict(self, rates_rps) -> float:
        r = np.asarray(rates_rps, dtype=float)
        if len(r) == 0:
            return 0.0
        f = getattr(self.predictor, "predict", self.predictor)  # a Predictor or a callable
        return float(f(r))

    def initial(self, pipeline: Pipeline | None = None, slo_ms: float | None = None) -> Config:
        """The config at time 0, planned for ``initial_rate_rps`` (or ``min_rate_rps``)."""
        rate = self.initial_rate_rps if self.initial_rate_rps is not None else self.min_rate_rps
        cfg = self._plan_at(rate)
        self.history = [(0.0, cfg)]
        return cfg

    def decide(self, obs: Observation) -> Config:
        """Replan for the predicted rate; scale in only when the whole window agrees."""
        rec = self._plan_at(self._predict(obs.rates_rps))
        t = float(obs.t_s)
        self.history.append((t, rec))
        self.history = [(u, c) for u, c in self.history if u > t - self.stabilisation_s + 1e-9]
        # the most expensive recommendation of the window: scale-out is immediate, scale-in
        # waits until every recommendation of the last stabilisation_s seconds is lower
        return max(self.history, key=lambda uc: (uc[1].cost, uc[0]))[1]


class FA2Policy(_Replan):
    """FA2 as a policy: every ``interval_s`` replan with :func:`plan` for the predicted rate.

    Parameters
    ----------
    pipeline, slo_ms : what to serve and its SLO (ms)
    interval_s : adaptation interval (s)
    stabilisation_s : scale in only when every recommendation of this window is cheaper
        (Kubernetes-style downscale stabilisation); scale out at once
    predictor : recent per-second rates -> rate to plan for: a callable or a
        :class:`ssloserve.predictors.Predictor` (e.g. ``MaxWindow(30)`` or the LSTM); default
        the max of the last 30 s (:func:`max_predictor`)
    headroom : multiply the predicted rate by this before planning (1.2: replicas run at
        most about 83% busy, InferLine's utilisation target, room for Poisson bursts)
    slo_safety : plan against ``slo_safety * slo_ms``; the planner's latency model has no
        queueing delay, so a plan that fills the whole SLO misses it under bursts
    min_rate_rps : plan for at least this rate (an idle pipeline keeps one instance per stage)
    initial_rate_rps : rate of the config at time 0 (default ``min_rate_rps``)
    plan_kw : menu passed to the planner (``variants``, ``batches``, ``cores_options``)

    Examples
    --------
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


class SLOSplitPolicy(_Replan):
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
):
    """Static peak provisioning as a policy: ``Static(static_peak_plan(...))``.

    Examples
    --------
    >>> from ssloserve.pipeline import Stage, Variant
    >>> from ssloserve.latency import LatencyModel
    >>> p = Pipeline.chain(Stage("a", (Variant("x", 1.0, LatencyModel(0, 10, 0, 10)),)))
    >>> static_peak_policy(p, [5, 300], 200.0)
    Static(cost=4 cores)
    """
    from .policies import Static

    return Static(static_peak_plan(pipeline, rates_rps, slo_ms, **kw), interval_s=interval_s)


# --------------------------------------------------------------------------------------
# experiments: the systems side by side (chapter 01_fa2, benchmarks/bench_fa2.py)
# --------------------------------------------------------------------------------------


def video_pipeline(
    detector: str = "yolov5s",
    classifier: str = "resnet50",
    cores: float = 1.0,
    max_batch: int = 16,
    source: str = "auto",
) -> Pipeline:
    """The video pipeline, detector then classifier, with fixed variants from the menu.

    Latency models come from :func:`ssloserve.catalog.video_variants` (fitted on the
    profiles when they are present, else the published fits).

    Examples
    --------
    >>> p = video_pipeline(source="fallback")
    >>> p.order, p.stage("detect").variants[0].name, p.stage("classify").variants[0].name
    (('detect', 'classify'), 'yolov5s', 'resnet50')
    """
    from .catalog import video_variants
    from .pipeline import Stage

    det, cls = video_variants(cores=cores, source=source)
    pick = {v.name: v for v in det + cls}
    for name in (detector, classifier):
        if name not in pick:
            raise PipelineError(f"no variant {name!r}; the menu is {list(pick)}")
    return Pipeline.chain(
        Stage("detect", (pick[detector],), max_batch=max_batch),
        Stage("classify", (pick[classifier],), max_batch=max_batch),
    )


_MARGINS = ("headroom", "slo_safety")


def systems(
    pipeline: Pipeline,
    rates_rps,
    slo_ms: float,
    include: Sequence[str] = ("FA2", "SLO split", "static peak", "HPA-like", "InferLine-like"),
    **policy_kw,
) -> dict:
    """The policies chapter 01_fa2 compares, by name, set up alike.

    ``"FA2"`` (:class:`FA2Policy`) and ``"SLO split"`` (:class:`SLOSplitPolicy`) share
    ``policy_kw`` (interval, predictor, headroom, SLO safety factor) and start from the
    plan for the first second's rate; ``"static peak"`` is planned for the highest rate of
    ``rates_rps`` (a static policy knows the whole trace) with the same headroom and SLO
    safety factor; ``"HPA-like"`` and
    ``"InferLine-like"`` come from :mod:`ssloserve.policies` when that module provides
    them (they are skipped otherwise).

    Examples
    --------
    >>> p = video_pipeline(source="fallback")
    >>> sorted(systems(p, [5, 20, 9], 780.0, include=("FA2", "static peak")))
    ['FA2', 'static peak']
    """
    from . import policies

    rates = np.asarray(rates_rps, dtype=float)
    kw = dict(policy_kw)
    kw.setdefault("initial_rate_rps", float(rates[0]) if len(rates) else None)
    out: dict = {}
    for name in include:
        if name == "FA2":
            out[name] = FA2Policy(pipeline, slo_ms, **kw)
        elif name == "SLO split":
            out[name] = SLOSplitPolicy(pipeline, slo_ms, **kw)
        elif name == "static peak":
            margins = {k: kw.get(k, _Replan.__dataclass_fields__[k].default) for k in _MARGINS}
            out[name] = static_peak_policy(pipeline, rates, slo_ms, **margins)
        elif name in ("HPA-like", "InferLine-like"):
            make = getattr(policies, "baseline", None)
            if make is not None:
                out[name] = make(name, pipeline, slo_ms, rates)
        else:
            raise ValueError(f"unknown system {name!r}")
    return out


def cores_per_second(result, duration_s: int | None = None) -> np.ndarray:
    """Cores in use during each second of a run, from its timeline (a step function).

    Seconds before the first timeline row take its value (the initial config, in force
    from the start).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> r = SimpleNamespace(timeline=pd.DataFrame({"t_s": [0.5, 2.0], "cores": [3.0, 5.0]}))
    >>> cores_per_second(r, 4).tolist()
    [3.0, 3.0, 5.0, 5.0]
    """
    tl = result.timeline
    t = tl["t_s"].to_numpy(dtype=float)
    c = tl["cores"].to_numpy(dtype=float)
    n = int(math.ceil(t[-1])) + 1 if duration_s is None else int(duration_s)
    idx = np.searchsorted(t, np.arange(n, dtype=float), side="right") - 1
    return c[np.clip(idx, 0, None)]


def compare(pipeline: Pipeline, workload, policies: Mapping, runtime: str = "sim", **run_kw):
    """Run every policy on the same workload; return a summary table and per-second data.

    Parameters
    ----------
    pipeline, workload : what to serve
    policies : name -> policy (e.g. from :func:`systems`)
    runtime, run_kw : passed to :func:`ssloserve.run`

    Returns
    -------
    (summary, per_second)
        ``summary``: one row per system with ``core_seconds``, ``violation_pct``,
        ``p99_ms`` and ``saving_vs_split_pct`` (core-seconds saved against ``"SLO split"``
        when it is among the systems). ``per_second``: columns ``system, second, rate_rps,
        cores, violation_pct``.

    Examples
    --------
    >>> from ssloserve.workloads import Workload
    >>> p = video_pipeline(source="fallback")
    >>> rates = [4] * 20 + [20] * 20
    >>> w = Workload.from_rates(rates, seed=0, slo_ms=780.0)
    >>> summ, per_s = compare(p, w, systems(p, rates, 780.0, include=("FA2", "SLO split")))
    >>> list(summ.index), sorted(per_s.columns)
    (['FA2', 'SLO split'], ['cores', 'rate_rps', 'second', 'system', 'violation_pct'])
    """
    from .runtime.api import run

    rows, frames = [], []
    n_s = int(math.ceil(workload.duration_s))
    rates = workload.rates() if hasattr(workload, "rates") else None
    for name, pol in policies.items():
        res = run(pipeline, workload, pol, runtime, **run_kw)
        s = res.summary()
        rows.append(
            dict(
                system=name,
                core_seconds=s["core_seconds"],
                violation_pct=s["violation_pct"],
                p99_ms=s["p99_ms"],
                mean_cores=s["core_seconds"] / max(n_s, 1),
            )
        )
        ps = res.per_second().set_index("second").reindex(range(n_s))
        frames.append(
            pd.DataFrame(
                dict(
                    system=name,
                    second=np.arange(n_s),
                    rate_rps=rates[:n_s] if rates is not None else ps["requests"].fillna(0),
                    cores=cores_per_second(res, n_s),
                    violation_pct=ps["violation_pct"].fillna(0.0).to_numpy(),
                )
            )
        )
    summary = pd.DataFrame(rows).set_index("system")
    if "SLO split" in summary.index:
        base = summary.loc["SLO split", "core_seconds"]
        summary["saving_vs_split_pct"] = 100.0 * (1.0 - summary["core_seconds"] / base)
    return summary, pd.concat(frames, ignore_index=True)


def cost_vs_rate(
    pipeline: Pipeline, rates_rps: Sequence[float], slo_ms: float, **plan_kw
) -> pd.DataFrame:
    """Cores each planner needs at each rate: FA2, per-stage SLO splitting, static peak.

    Static peak provisioning is planned once for the highest rate of ``rates_rps``.

    Returns
    -------
    Long table with columns ``rate_rps, system, cores``.

    Examples
    --------
    >>> p = video_pipeline(source="fallback")
    >>> t = cost_vs_rate(p, [5, 10, 20], 780.0).pivot(index="rate_rps", columns="system", values="cores")
    >>> bool((t["FA2"] <= t["SLO split"]).all()), t["static peak"].nunique()
    (True, 1)
    """
    peak = plan(pipeline, float(max(rates_rps)), slo_ms, **plan_kw).cost
    rows = []
    for lam in rates_rps:
        lam = float(lam)
        rows.append(
            dict(rate_rps=lam, system="FA2", cores=plan(pipeline, lam, slo_ms, **plan_kw).cost)
        )
        rows.append(
            dict(
                rate_rps=lam,
                system="SLO split",
                cores=slo_split_plan(pipeline, lam, slo_ms, **plan_kw).cost,
            )
        )
        rows.append(dict(rate_rps=lam, system="static peak", cores=peak))
    return pd.DataFrame(rows)


def random_chain_instance(rng: np.random.Generator, max_stages: int = 5):
    """A random chain for :func:`solve_chain`: 2-``max_stages`` stages, 4-8 batch sizes each.

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


def versus_brute_force(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """Solve ``n`` random chains with the exact DP, the 1-ms grid DP and brute force.

    Returns
    -------
    One row per instance: ``stages``, ``plans`` (how many brute force tries), ``feasible``,
    ``dp_match`` and ``grid_match`` (same optimal cost as brute force, or all infeasible)
    and the solve times ``dp_s``, ``grid_s``, ``brute_s``.

    Examples
    --------
    >>> t = versus_brute_force(20, seed=1)
    >>> bool(t.dp_match.all()), len(t)
    (True, 20)
    """
    import time

    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        args = random_chain_instance(rng)
        out, times = {}, {}
        for key, f in (
            ("dp", solve_chain),
            ("grid", solve_chain_grid),
            ("brute", brute_force_chain),
        ):
            t0 = time.perf_counter()
            try:
                out[key] = f(*args).cost
            except InfeasibleError:
                out[key] = None
            times[key] = time.perf_counter() - t0
        rows.append(
            dict(
                stages=len(args[0]),
                plans=int(np.prod([len(t) for t in args[0]])),
                feasible=out["brute"] is not None,
                dp_match=out["dp"] == out["brute"],
                grid_match=out["grid"] == out["brute"],
                dp_s=times["dp"],
                grid_s=times["grid"],
                brute_s=times["brute"],
            )
        )
    return pd.DataFrame(rows)
