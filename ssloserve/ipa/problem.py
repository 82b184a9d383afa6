"""IPA's decision problem, shared by the solver and its oracle (PAPERS.md 3; chapter 03_ipa).

Per stage ``s`` IPA chooses a variant ``m``, a batch ``b`` and replicas ``n``:

    maximise    alpha * PAS  -  beta * sum_s R(m_s) * n_s  -  gamma * sum_s b_s
    subject to  n_s * 1000 * b_s / l_s(m_s, b_s) >= lam                      every stage
                sum_s ( l_s(m_s, b_s) + 1000 * (b_s - 1) / lam ) <= SLA          (ms)
                1 <= n_s <= max_replicas

This module reads the input (:func:`as_menu`), lists what one stage can do at rate ``lam``
(:func:`stage_options`), and scores a plan (:func:`evaluate`, :func:`changes`). The optimisers
are :func:`ssloserve.ipa.milp.solve_chain` and :func:`ssloserve.ipa.oracle.brute_force`.

Replicas are not a free variable: with ``beta >= 0`` more replicas than
``ceil(lam / h(m, b))`` (:func:`~ssloserve.latency.replicas_needed`) only cost more, so every
(variant, batch) carries its smallest replica count, and a (variant, batch) that would need
more than ``max_replicas`` is not an option.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ..errors import InfeasibleError, ProfileError
from ..latency import batch_delay_ms, replicas_needed
from .scores import pas

__all__ = [
    "DEFAULT_BATCHES",
    "EPS_MS",
    "TIE_TOL",
    "MenuItem",
    "Choice",
    "Option",
    "as_menu",
    "stage_options",
    "evaluate",
    "objective",
    "changes",
    "is_tie",
    "infeasible",
    "per_stage",
]

#: Batch sizes tried when a variant's latency does not list its own (a model or a callable).
DEFAULT_BATCHES = (1, 2, 4, 8, 16)
#: Tolerance (ms) on the SLA, shared by the solver and the oracle: a plan whose latency equals
#: the SLA is feasible whatever the order of summation or the solver's rounding.
EPS_MS = 1e-6
#: Two objective values within ``TIE_TOL * max(1, |value|)`` are a tie: the same plan's value
#: summed in another order differs by about 1e-15, while IPA's smallest weight (gamma = 1e-6
#: per unit of batch) separates plans by 1e-6, far above it.
TIE_TOL = 1e-9


@dataclass(frozen=True)
class MenuItem:
    """One variant of a stage as the solver sees it.

    Attributes
    ----------
    name : the variant's name
    accuracy : fraction in [0, 1]
    cores : cores per replica (IPA's base allocation R(m))
    latency_ms : batch size -> latency (ms) of one replica serving a batch of that size
    """

    name: str
    accuracy: float
    cores: float
    latency_ms: Mapping[int, float]


class Choice(NamedTuple):
    """One stage's decision: variant name, batch size, replicas (a plain tuple too)."""

    variant: str
    batch: int
    replicas: int


@dataclass(frozen=True)
class Option:
    """One (variant, batch) of a stage at rate ``lam`` with what it costs."""

    variant: str
    batch: int
    accuracy: float
    service_ms: float  # l(m, b)
    queue_ms: float  # batch formation delay 1000 (b - 1) / lam
    replicas: int
    cost: float  # replicas x cores

    @property
    def latency_ms(self) -> float:
        """Service plus batch formation delay (what the SLA constraint adds up)."""
        return self.service_ms + self.queue_ms

    @property
    def choice(self) -> Choice:
        return Choice(self.variant, self.batch, self.replicas)


def _item(v, batches) -> MenuItem:
    """A :class:`MenuItem` from a :class:`~ssloserve.pipeline.Variant` or a mapping."""
    if isinstance(v, MenuItem):
        return v
    if isinstance(v, Mapping):
        missing = [k for k in ("name", "accuracy", "cores", "latency_ms") if k not in v]
        if missing:
            raise ProfileError(f"variant {dict(v)!r} lacks {missing}")
        name, acc, cores, lat = v["name"], v["accuracy"], v["cores"], v["latency_ms"]
        if isinstance(lat, Mapping):
            bs = sorted(int(b) for b in lat) if batches is None else list(batches)
            table = {}
            for b in bs:
                if b not in lat:
                    raise ProfileError(f"variant {name!r} has no latency for batch {b}")
                table[int(b)] = lat[b]
        else:
            f: Callable = lat
            table = {int(b): f(int(b)) for b in (batches or DEFAULT_BATCHES)}
    else:  # a Variant: its latency at its own cores, on the table's batches if it has them
        name, acc, cores = v.name, v.accuracy, v.cores
        own = getattr(v.latency, "batches", None)
        bs = batches if batches is not None else (own or DEFAULT_BATCHES)
        table = {int(b): v.latency_ms(int(b)) for b in bs}
    acc, cores = float(acc), float(cores)
    if not 0.0 <= acc <= 1.0:
        raise ProfileError(f"variant {name!r}: accuracy must be a fraction in [0, 1], got {acc}")
    if not (cores > 0 and math.isfinite(cores)):
        raise ProfileError(f"variant {name!r}: cores must be positive, got {cores}")
    table = {b: float(ms) for b, ms in table.items()}
    for b, ms in table.items():
        if b < 1 or not (ms > 0 and math.isfinite(ms)):
            raise ProfileError(f"variant {name!r}: latency at batch {b} is {ms!r} ms")
    if not table:
        raise ProfileError(f"variant {name!r} has no batch size to choose from")
    return MenuItem(str(name), acc, cores, table)


def as_menu(stages: Sequence[Sequence], batches: Sequence[int] | None = None) -> list:
    """The stages' menus as lists of :class:`MenuItem` (checked).

    Parameters
    ----------
    stages : per stage a list of variants, each a :class:`~ssloserve.pipeline.Variant` (its
        latency at its own cores) or a mapping with ``name``, ``accuracy`` (0-1), ``cores``
        and ``latency_ms`` (a mapping batch -> ms, or a callable of the batch)
    batches : batch sizes to consider (default: a mapping's own keys, a
        :class:`~ssloserve.latency_table.LatencyTable`'s measured batches, else
        :data:`DEFAULT_BATCHES`)

    Examples
    --------
    >>> m = as_menu([[{"name": "a", "accuracy": 0.5, "cores": 1, "latency_ms": {1: 10, 2: 15}}]])
    >>> m[0][0].latency_ms
    {1: 10.0, 2: 15.0}
    """
    if len(stages) == 0:
        raise ProfileError("a chain needs at least one stage")
    out = []
    for i, stage in enumerate(stages):
        items = [_item(v, batches) for v in stage]
        if not items:
            raise ProfileError(f"stage {i} has no variants")
        names = [x.name for x in items]
        if len(set(names)) != len(names):
            raise ProfileError(f"stage {i} has duplicate variant names {names}")
        out.append(items)
    return out


def stage_options(
    items: Sequence[MenuItem], rate_rps: float, max_replicas: int = 100, replicas: int | None = None
) -> list[Option]:
    """Every (variant, batch) of one stage that can carry ``rate_rps``, with its cost.

    Replicas are ``ceil(lam / h)`` (:func:`~ssloserve.latency.replicas_needed`); options that
    need more than ``max_replicas`` are left out. With ``replicas`` fixed (a switch-only system)
    every option has that many replicas and only those that carry the rate with them stay.

    Examples
    --------
    >>> it = as_menu([[{"name": "a", "accuracy": 0.5, "cores": 2, "latency_ms": {1: 100, 4: 200}}]])[0]
    >>> [(o.batch, o.latency_ms, o.replicas, o.cost) for o in stage_options(it, 30.0)]
    [(1, 100.0, 3, 6.0), (4, 300.0, 2, 4.0)]
    >>> [o.batch for o in stage_options(it, 30.0, replicas=2)]    # 2 x 10 RPS < 30 at b = 1
    [4]
    """
    out = []
    for it in items:
        for b, l_ms in sorted(it.latency_ms.items()):
            need = replicas_needed(rate_rps, l_ms, b)
            n = need if replicas is None else int(replicas)
            if need > n or n > max_replicas:
                continue
            q = batch_delay_ms(b, rate_rps)
            out.append(Option(it.name, b, it.accuracy, l_ms, q, n, n * it.cores))
    return out


def per_stage(replicas, n_stages: int) -> list:
    """``replicas`` (None, one count, or one per stage) as one entry per stage.

    Examples
    --------
    >>> per_stage(None, 2), per_stage(3, 2), per_stage([1, 4], 2)
    ([None, None], [3, 3], [1, 4])
    """
    if replicas is None or isinstance(replicas, int | float):
        return [None if replicas is None else int(replicas)] * n_stages
    out = [int(r) for r in replicas]
    if len(out) != n_stages:
        raise ValueError(f"replicas has {len(out)} entries for {n_stages} stages")
    return out


def _find(items: Sequence[MenuItem], name: str) -> MenuItem:
    for it in items:
        if it.name == name:
            return it
    raise ProfileError(f"no variant {name!r}; the stage has {[x.name for x in items]}")


def evaluate(
    menu: Sequence[Sequence[MenuItem]],
    plan: Sequence[Sequence],
    rate_rps: float,
    alpha: float,
    beta: float,
    gamma: float,
    pas_method: str = "multiply",
) -> dict:
    """Score a plan ``[(variant, batch, replicas), ...]``: PAS, cores, latency, objective.

    Returns
    -------
    dict with ``pas``, ``cores`` (sum of replicas x cores), ``batch_sum``, ``latency_ms``
    (sum of service and batch formation delay), ``throughput_ok`` (every stage carries the
    rate) and ``objective`` (alpha PAS - beta cores - gamma batch_sum).

    Examples
    --------
    >>> m = as_menu([[{"name": "a", "accuracy": 0.5, "cores": 2, "latency_ms": {1: 100, 4: 200}}]])
    >>> e = evaluate(m, [("a", 4, 2)], 30.0, alpha=10, beta=1, gamma=0.1)
    >>> e["pas"], e["cores"], e["latency_ms"], round(e["objective"], 6)
    (0.5, 4.0, 300.0, 0.6)
    """
    accs, cores, bsum, lat, ok = [], 0.0, 0, 0.0, True
    for items, (name, b, n) in zip(menu, plan, strict=True):
        it = _find(items, name)
        l_ms = it.latency_ms[int(b)]
        accs.append(it.accuracy)
        cores += int(n) * it.cores
        bsum += int(b)
        lat += l_ms + batch_delay_ms(int(b), rate_rps)
        ok = ok and int(n) * 1000.0 * int(b) / l_ms >= rate_rps * (1 - 1e-12)
    score = pas(accs, pas_method, [[x.accuracy for x in items] for items in menu])
    return dict(
        pas=score,
        cores=cores,
        batch_sum=bsum,
        latency_ms=lat,
        throughput_ok=ok,
        objective=objective(score, cores, bsum, alpha, beta, gamma),
    )


def objective(pas_value: float, cores: float, batch_sum: int, alpha, beta, gamma) -> float:
    """alpha * PAS - beta * cores - gamma * sum of batches (IPA's objective).

    Examples
    --------
    >>> objective(0.5, 4.0, 5, 2.0, 1.0, 1e-6)
    -3.000005
    """
    return float(alpha * pas_value - beta * cores - gamma * batch_sum)


def changes(plan: Sequence[Sequence], current: Sequence[Sequence] | None) -> int:
    """How many variants and batch sizes differ between two plans (a stage can count twice).

    Examples
    --------
    >>> changes([("a", 1, 2), ("b", 4, 1)], [("a", 2, 2), ("c", 4, 3)])
    2
    >>> changes([("a", 1, 2)], None)
    0
    """
    if current is None:
        return 0
    return sum(
        (p[0] != c[0]) + (int(p[1]) != int(c[1])) for p, c in zip(plan, current, strict=True)
    )


def is_tie(a: float, best: float) -> bool:
    """True when ``a`` is within :data:`TIE_TOL` of ``best`` (or above it).

    Examples
    --------
    >>> is_tie(0.1 + 0.2, 0.3), is_tie(2.999999, 3.0)    # float noise ties; 1e-6 does not
    (True, False)
    """
    return a >= best - TIE_TOL * max(1.0, abs(best))


def infeasible(
    options: Sequence[Sequence[Option]],
    menu: Sequence[Sequence[MenuItem]],
    rate_rps: float,
    sla_ms: float,
    max_replicas: int,
    replicas=None,
) -> InfeasibleError:
    """The error for a chain with no feasible plan: which constraint binds, what would do.

    A stage with no option at all cannot carry the rate within ``max_replicas`` (or the fixed
    ``replicas``, one count or one per stage): no SLA helps, and ``nearest_feasible`` is the replica bound that would. Else
    the SLA binds and ``nearest_feasible`` is the smallest feasible SLA: the sum over stages of
    each stage's fastest option (stages add up independently).

    Examples
    --------
    >>> m = as_menu([[{"name": "a", "accuracy": 0.5, "cores": 1, "latency_ms": {1: 100, 2: 150}}]])
    >>> opts = [stage_options(m[0], 30.0)]
    >>> print(infeasible(opts, m, 30.0, 80.0, 100))
    SLA 80 ms is below the fastest plan at 30 RPS (100 ms); the smallest feasible SLA is 100 ms
    """
    fixed = per_stage(replicas, len(options))
    for s, opts in enumerate(options):
        if not opts:
            need = min(
                replicas_needed(rate_rps, l_ms, b)
                for it in menu[s]
                for b, l_ms in it.latency_ms.items()
            )
            what = (
                f"{fixed[s]} fixed replicas"
                if replicas is not None
                else f"max_replicas {max_replicas}"
            )
            return InfeasibleError(
                f"stage {s} cannot carry {rate_rps:g} RPS with {what}: its fastest option needs "
                f"{need} replicas; no SLA helps",
                constraint="replicas" if replicas is not None else "max_replicas",
                nearest_feasible=need,
            )
    fastest = sum(min(o.latency_ms for o in opts) for opts in options)
    return InfeasibleError(
        f"SLA {sla_ms:g} ms is below the fastest plan at {rate_rps:g} RPS ({fastest:.6g} ms); "
        f"the smallest feasible SLA is {fastest:.6g} ms",
        constraint="sla_ms",
        nearest_feasible=fastest,
    )
