"""FA2's dynamic programme along a chain of stages (PAPERS.md 1, step 3; chapter 01_fa2).

A chain is given as one latency table per stage (batch size -> ms of one instance). At rate
``lam`` a stage with batch ``b`` needs ``n = ceil(lam / h(b))`` instances and adds
``l(b) + q(b)`` ms (service plus batch formation delay). The DP

    C[s][t] = min over k of C[s-1][t - L_s(k)] + cost_s(k)

is run two ways:

- :func:`solve_chain`, exact: after each stage it keeps the Pareto set (a
  :class:`ParetoFront`) of partial plans over (latency so far, cost so far), so no time
  grid is needed;
- :func:`solve_chain_grid`, the published version: ``t`` runs over whole milliseconds and
  latencies are rounded up, which can lose the optimum.

:func:`pareto_steps` returns the Pareto set after each stage (what :func:`solve_chain`
computes on its way). :class:`ParetoFront`, :func:`pareto_front` and :func:`in_series` are also the steps the
pipeline planner (:func:`ssloserve.fa2.plan.plan_on_graph`) takes along its chain; the
parallel step is :func:`ssloserve.fa2.graph.parallel_super_stage`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InfeasibleError, ProfileError
from ..latency import batch_delay_ms, replicas_needed

__all__ = [
    "EPS_MS",
    "ChainPlan",
    "ParetoFront",
    "pareto_front",
    "compose",
    "in_series",
    "check_slo",
    "chain_layers",
    "chain_infeasible",
    "pareto_steps",
    "solve_chain",
    "solve_chain_grid",
]

#: Tolerance (ms) on the SLO constraint, shared by every planner and oracle of FA2, so that
#: a configuration whose latency equals the SLO is feasible whatever the order of summation.
EPS_MS = 1e-9


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


@dataclass
class ParetoFront:
    """Pareto-optimal (partial) plans: latency ascending, cost strictly descending.

    Attributes
    ----------
    lat, cost : latency (ms) and cost (cores) of each point
    payload : one per point, whatever identifies its choices (a tuple, a dict)

    Examples
    --------
    >>> f = pareto_front([30.0, 10.0, 20.0], [1.0, 3.0, 3.0], ["a", "b", "c"], slo_ms=25.0)
    >>> f.lat.tolist(), f.cost.tolist(), f.payload, f.payload[f.cheapest()]
    ([10.0], [3.0], ['b'], 'b')
    """

    lat: np.ndarray
    cost: np.ndarray
    payload: list

    def __len__(self) -> int:
        return len(self.lat)

    def cheapest(self) -> int:
        """Index of the cheapest point (the fastest among equally cheap ones)."""
        return len(self.lat) - 1  # cost strictly decreases along the front


def _pareto_indices(lat: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Indices of the Pareto-optimal points (min latency, min cost), latency ascending."""
    if len(lat) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((cost, lat))
    c = cost[order]
    prev = np.minimum.accumulate(np.concatenate(([np.inf], c[:-1])))
    return order[c < prev]


def pareto_front(lat, cost, payload: Sequence, slo_ms: float) -> ParetoFront:
    """The points within ``slo_ms`` (+ :data:`EPS_MS`) that no other point dominates.

    Parameters
    ----------
    lat, cost : latency (ms) and cost of each option
    payload : what identifies each option
    slo_ms : options slower than this are dropped

    Examples
    --------
    >>> pareto_front([5.0, 5.0, 9.0], [2.0, 1.0, 1.0], "xyz", 10.0).payload
    ['y']
    """
    lat = np.asarray(lat, dtype=float)
    cost = np.asarray(cost, dtype=float)
    ok = np.flatnonzero(lat <= slo_ms + EPS_MS)
    keep = ok[_pareto_indices(lat[ok], cost[ok])]
    return ParetoFront(lat[keep], cost[keep], [payload[i] for i in keep])


def compose(
    a: ParetoFront, b: ParetoFront, slo_ms: float, latency: Callable, join: Callable
) -> ParetoFront:
    """Every pair of a point of ``a`` and one of ``b``, pruned: costs add, latencies combine.

    Parameters
    ----------
    a, b : the two fronts
    slo_ms : pairs slower than this are dropped
    latency : ``np.add`` for stages one after the other, ``np.maximum`` for stages side by side
    join : payload of a pair from the two payloads

    Examples
    --------
    >>> a = pareto_front([10.0, 20.0], [2.0, 1.0], ["a1", "a2"], 100.0)
    >>> b = pareto_front([5.0, 30.0], [4.0, 1.0], ["b1", "b2"], 100.0)
    >>> f = compose(a, b, 30.0, np.maximum, lambda x, y: (x, y))
    >>> f.lat.tolist(), f.cost.tolist(), f.payload
    ([10.0, 20.0, 30.0], [6.0, 5.0, 2.0], [('a1', 'b1'), ('a2', 'b1'), ('a2', 'b2')])
    """
    lat = latency.outer(a.lat, b.lat).ravel()
    cost = np.add.outer(a.cost, b.cost).ravel()
    ok = np.flatnonzero(lat <= slo_ms + EPS_MS)
    keep = ok[_pareto_indices(lat[ok], cost[ok])]
    nb = len(b.lat)
    payload = [join(a.payload[k // nb], b.payload[k % nb]) for k in keep]
    return ParetoFront(lat[keep], cost[keep], payload)


def in_series(a: ParetoFront, b: ParetoFront, slo_ms: float, join: Callable) -> ParetoFront:
    """One step of the exact DP: stage (or block) ``b`` after the partial plans ``a``.

    Latencies add, costs add, dominated pairs and pairs over the SLO are dropped.

    Examples
    --------
    >>> a = pareto_front([10.0, 20.0], [2.0, 1.0], [("a1",), ("a2",)], 100.0)
    >>> b = pareto_front([5.0, 30.0], [4.0, 1.0], [("b1",), ("b2",)], 100.0)
    >>> f = in_series(a, b, 45.0, lambda x, y: x + y)   # 20 + 30 = 50 ms is over the SLO
    >>> list(zip(f.lat.tolist(), f.cost.tolist(), f.payload))
    [(15.0, 6.0, ('a1', 'b1')), (25.0, 5.0, ('a2', 'b1')), (40.0, 3.0, ('a1', 'b2'))]
    """
    return compose(a, b, slo_ms, np.add, join)


def check_slo(slo_ms: float) -> None:
    """Refuse a NaN SLO (it compares false with everything, so it would read as infeasible).

    Examples
    --------
    >>> check_slo(float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: slo_ms must be a number of milliseconds, got nan
    """
    if math.isnan(slo_ms):
        raise ValueError("slo_ms must be a number of milliseconds, got nan")


def chain_layers(
    stage_latencies_ms: Sequence[Mapping[int, float]],
    rate_rps: float,
    cores_per_instance: float | Sequence[float],
    slo_ms: float,
) -> list[list[tuple[float, float, tuple[int, int]]]]:
    """The options of every stage of a chain: ``(latency incl. batch delay, cost, (b, n))``.

    Parameters are those of :func:`solve_chain`; the input is checked here.

    Examples
    --------
    >>> chain_layers([{1: 50.0, 4: 80.0}], 40.0, 1, 100.0)
    [[(50.0, 2.0, (1, 2)), (155.0, 1.0, (4, 1))]]
    """
    check_slo(slo_ms)
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


def chain_infeasible(layers, slo_ms: float) -> InfeasibleError:
    """The error for an SLO below every stage's fastest option summed (the nearest feasible SLO).

    Examples
    --------
    >>> str(chain_infeasible(chain_layers([{1: 50.0}, {2: 10.0}], 100.0, 1, 0.0), 40.0))
    'SLO 40 ms is below the fastest configuration (70 ms: every stage at its lowest latency including batch formation delay); the smallest feasible SLO is 70 ms'
    """
    need = 0.0
    for opts in layers:
        need += min(o[0] for o in opts)
    return InfeasibleError(
        f"SLO {slo_ms:g} ms is below the fastest configuration ({need:.6g} ms: every stage at "
        "its lowest latency including batch formation delay); the smallest feasible SLO is "
        f"{need:.6g} ms",
        constraint="slo_ms",
        nearest_feasible=need,
    )


def _cat(x, y):
    return x + y


def pareto_steps(
    stage_latencies_ms: Sequence[Mapping[int, float]],
    rate_rps: float,
    slo_ms: float,
    cores_per_instance: float | Sequence[float] = 1,
) -> list[ParetoFront]:
    """The exact DP's intermediate results: the Pareto set of partial plans after each stage.

    Parameters and errors are those of :func:`solve_chain`, which takes the cheapest point of
    the last set. Each point's payload is its ``(b, n)`` per stage so far (chapter 01_fa2
    works one by hand).

    Examples
    --------
    >>> lat = [{1: 50.0, 4: 80.0}, {1: 30.0, 2: 36.0}]
    >>> [list(zip(f.lat.tolist(), f.cost.tolist())) for f in pareto_steps(lat, 40.0, 150.0)]
    [[(50.0, 2.0)], [(80.0, 4.0), (111.0, 3.0)]]
    """
    layers = chain_layers(stage_latencies_ms, rate_rps, cores_per_instance, slo_ms)
    fronts: list[ParetoFront] = []
    for opts in layers:
        f = pareto_front(
            [o[0] for o in opts], [o[1] for o in opts], [(o[2],) for o in opts], slo_ms
        )
        front = f if not fronts else in_series(fronts[-1], f, slo_ms, _cat)
        if len(front) == 0:
            raise chain_infeasible(layers, slo_ms)
        fronts.append(front)
    return fronts


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
    front = pareto_steps(stage_latencies_ms, rate_rps, slo_ms, cores_per_instance)[-1]
    i = front.cheapest()
    return ChainPlan(tuple(front.payload[i]), float(front.cost[i]), float(front.lat[i]))


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
    layers = chain_layers(stage_latencies_ms, rate_rps, cores_per_instance, slo_ms)
    T = int(math.floor(slo_ms / step_ms + 1e-9))
    if T < 0:
        T = -1
    INF = np.inf
    C = np.zeros(T + 1) if T >= 0 else np.zeros(0)
    back = []
    for opts in layers:
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
        need = sum(min(math.ceil(o[0] / step_ms - 1e-9) for o in opts) for opts in layers)
        raise InfeasibleError(
            f"SLO {slo_ms:g} ms: no plan fits on the {step_ms:g} ms grid; the smallest SLO "
            f"that fits is {need * step_ms:g} ms",
            constraint="slo_ms",
            nearest_feasible=need * step_ms,
        )
    cmin = C.min()
    t = int(np.flatnonzero(C == cmin)[0])
    picks = []
    for s in range(len(layers) - 1, -1, -1):
        arg, d = back[s]
        k = int(arg[t])
        picks.append(k)
        t -= d[k]
    picks.reverse()
    chosen = [layers[s][k] for s, k in enumerate(picks)]
    lat = 0.0
    for o in chosen:
        lat += o[0]
    return ChainPlan(tuple(o[2] for o in chosen), float(sum(o[1] for o in chosen)), lat)
