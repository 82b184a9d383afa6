"""The exhaustive oracle for IPA's MILP, and random instances (PAPERS.md 3; chapter 03_ipa).

:func:`brute_force` tries every (variant, batch) of every stage. It shares the input reading
(:func:`~ssloserve.ipa.problem.as_menu`), the scores and the tie rule with the MILP, but not
the options table: it computes each choice's replicas, batch formation delay, latency and
cores itself from the equations of :mod:`ssloserve.latency`, and the product PAS with
:func:`~ssloserve.ipa.scores.pas`. tests/test_ipa_milp.py checks
:func:`~ssloserve.ipa.milp.solve_chain` against it; benchmarks/bench_ipa.py times both.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from ..latency import batch_delay_ms, replicas_needed
from .problem import (
    EPS_MS,
    Choice,
    as_menu,
    changes,
    infeasible,
    is_tie,
    objective,
    per_stage,
    stage_options,
)
from .scores import PAS_METHODS, pas

__all__ = ["brute_force", "random_instance"]


def brute_force(
    stages: Sequence[Sequence],
    rate_rps: float,
    sla_ms: float,
    alpha: float,
    beta: float,
    gamma: float,
    max_replicas: int = 100,
    current: Sequence[Sequence] | None = None,
    *,
    batches: Sequence[int] | None = None,
    pas_method: str = "multiply",
    replicas: int | Sequence[int] | None = None,
) -> list[Choice]:
    """Every plan of the chain, the best kept: same arguments, result and errors as
    :func:`~ssloserve.ipa.milp.solve_chain`.

    Among plans whose objective ties with the best (:func:`~ssloserve.ipa.problem.is_tie`)
    it returns the first, in enumeration order, with the fewest changes from ``current``.

    Examples
    --------
    >>> from ssloserve.ipa.milp import solve_chain
    >>> det = [{"name": "n", "accuracy": 0.46, "cores": 1, "latency_ms": {1: 50, 4: 120}},
    ...        {"name": "s", "accuracy": 0.57, "cores": 2, "latency_ms": {1: 80, 4: 200}}]
    >>> cls = [{"name": "r18", "accuracy": 0.70, "cores": 1, "latency_ms": {1: 30, 4: 70}}]
    >>> brute_force([det, cls], 20, 400, 10, 0.5, 1e-6) == solve_chain([det, cls], 20, 400, 10, 0.5, 1e-6)
    True
    """
    if not (rate_rps > 0 and math.isfinite(rate_rps)):
        raise ValueError(f"rate_rps must be a positive number, got {rate_rps!r}")
    if not sla_ms > 0:
        raise ValueError(f"sla_ms must be positive, got {sla_ms!r}")
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0, got {beta!r}")
    if pas_method not in PAS_METHODS:
        raise ValueError(f"unknown PAS method {pas_method!r}; choose one of {PAS_METHODS}")
    menu = as_menu(stages, batches)
    menus = [[it.accuracy for it in items] for items in menu]
    fixed = per_stage(replicas, len(menu))
    choices = []
    for items, fix in zip(menu, fixed, strict=True):
        rows = []
        for it in items:
            for b, l_ms in it.latency_ms.items():
                need = replicas_needed(rate_rps, l_ms, b)
                n = need if fix is None else fix
                if need <= n <= max_replicas:
                    lat = l_ms + batch_delay_ms(b, rate_rps)
                    rows.append((Choice(it.name, b, n), it.accuracy, lat, n * it.cores))
        choices.append(rows)
    scored = []
    for combo in itertools.product(*choices):
        lat = sum(r[2] for r in combo)
        if lat > sla_ms + EPS_MS:
            continue
        score = pas([r[1] for r in combo], pas_method, menus)
        value = objective(
            score, sum(r[3] for r in combo), sum(r[0].batch for r in combo), alpha, beta, gamma
        )
        scored.append((value, [r[0] for r in combo]))
    if not scored:
        opts = [
            stage_options(it, rate_rps, max_replicas, n) for it, n in zip(menu, fixed, strict=True)
        ]
        raise infeasible(opts, menu, rate_rps, sla_ms, max_replicas, replicas)
    best = max(v for v, _ in scored)
    ties = [p for v, p in scored if is_tie(v, best)]
    return min(ties, key=lambda p: changes(p, current))


def random_instance(
    rng: np.random.Generator,
    n_stages: int = 3,
    n_variants: int = 3,
    n_batches: int = 3,
    ties: bool = False,
):
    """A random chain and its arguments: ``(stages, rate_rps, sla_ms, alpha, beta, gamma)``.

    Variants get accuracies in 0.4-0.95, 1 or 2 cores, a batch-1 latency of 20-200 ms growing
    sublinearly with the batch (batches drawn from 1, 2, 4, ..., 64). The SLA lies between the
    fastest and a slow plan, so some instances are infeasible. With ``ties`` the numbers come
    from small grids, so equal objectives are common.

    Examples
    --------
    >>> st, lam, sla, a, b, g = random_instance(np.random.default_rng(0), 2, 3, 2)
    >>> len(st), len(st[0]), len(st[0][0]["latency_ms"])
    (2, 3, 2)
    """
    stages = []
    pool = [2**k for k in range(7)]
    for s in range(n_stages):
        bs = sorted(rng.choice(pool, size=min(n_batches, len(pool)), replace=False).tolist())
        stage = []
        for m in range(n_variants):
            if ties:
                acc = float(rng.choice([0.5, 0.6, 0.8, 0.9]))
                l1 = float(rng.choice([20, 40, 60]))
            else:
                acc = float(rng.uniform(0.4, 0.95))
                l1 = float(rng.uniform(20, 200))
            lat = {int(b): l1 * b**0.7 for b in bs} if not ties else {int(b): l1 * b for b in bs}
            cores = float(rng.choice([1.0, 2.0]))
            stage.append({"name": f"s{s}v{m}", "accuracy": acc, "cores": cores, "latency_ms": lat})
        stages.append(stage)
    rate = float(rng.choice([5, 10, 20, 40])) if ties else float(rng.uniform(2, 80))
    fastest = sum(min(min(v["latency_ms"].values()) for v in st) for st in stages)
    sla = float(fastest * rng.uniform(0.8, 3.0))
    alpha = float(rng.choice([1.0, 2.0, 10.0]))
    beta = float(rng.choice([0.0, 0.1, 0.5, 1.0]))
    gamma = float(rng.choice([0.0, 1e-6, 0.01]))
    return stages, rate, sla, alpha, beta, gamma
