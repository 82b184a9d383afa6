"""IPA's planner as a mixed-integer linear programme in cvxpy (PAPERS.md 3; chapter 03_ipa).

The variables and why the programme is exactly IPA's problem (:mod:`ssloserve.ipa.problem`):

- **One binary per (stage, variant, batch)**, ``y[s, m, b]``, one of them 1 per stage. Each
  (variant, batch) carries its replica count ``ceil(lam / h)`` as a constant (more replicas
  only cost more when ``beta >= 0``), so latency, cores and batch sizes are linear in ``y``.
- **The product of accuracies made linear, exactly.** Write ``u[s, m] = sum_b y[s, m, b]``
  (1 for the chosen variant) and the running product ``P_s = P_{s-1} * a_s(m_s)``. Then
  ``P_s = sum_m a[s, m] * w[s, m]`` with ``w[s, m] = P_{s-1} * u[s, m]``, a product of a
  number in ``[0, U]`` (``U`` = the product of the earlier stages' best accuracies) and a
  binary, which four linear inequalities pin down exactly (McCormick's envelope is tight at
  a binary): ``L u <= w <= U u``, ``w <= P_{s-1}``, ``w >= P_{s-1} - U (1 - u)`` (``L`` the
  product of the worst accuracies). At u = 1 they force ``w = P_{s-1}``, at u = 0
  ``w = 0``. So ``P_S`` *is* the product of the chosen accuracies at every integer point,
  and the programme maximises ``alpha * PAS - beta * cores - gamma * batches`` itself, not
  a stand-in for it. One more equality, ``sum_m w[s, m] = P_{s-1}`` (``sum_m u = 1``
  multiplied by ``P_{s-1}``), holds at every integer point and tightens the LP relaxation:
  it took the slowest 5-stage instances of benchmarks/bench_ipa.py from seconds to tenths.

  Why not log-accuracy: ``sum_s log a_s = log PAS`` is linear, but the objective weighs PAS
  *linearly* against cost. Maximising ``alpha * log PAS - beta * cost`` values the same
  accuracy gain more when PAS is low than when it is high, so it picks a different trade-off
  (tests/test_ipa_milp.py shows an instance). One binary per combination of variants is exact
  too, but grows as (variants)^(stages); the chain of products above adds only one continuous
  variable per (stage, variant).
- **Options that cannot be optimal are dropped first** (:func:`prune`): slower, no more
  accurate and dearer than another option of the same stage.
- **Closest to the current plan, lexicographically.** Among optimal plans IPA prefers the one
  that changes fewest variants and batch sizes (each a cold start or a drained batch). With
  ``current`` given, a second solve keeps every constraint, adds
  ``objective >= optimum - slack`` and minimises the number of changes; a plan it returns
  that is not a tie by the exact rule (:func:`~ssloserve.ipa.problem.is_tie`, evaluated in
  floating point outside the solver) is cut off and the solve repeated. So it returns an
  optimal plan and cannot trade optimality for fewer changes. A tiny weight on changes
  in one solve could: it is safe only below the smallest gap between two distinct objective
  values, which real-valued data does not bound.

Infeasibility is decided before the solver runs: the stages are independent except for the
SLA sum, so a plan exists iff every stage has an option within ``max_replicas`` and the
stages' fastest options add up to at most the SLA. The error names the binding constraint
and the smallest feasible SLA (:func:`~ssloserve.ipa.problem.infeasible`).

HiGHS prints a banner the first time a process creates a solver; :func:`quiet_highs` creates
that first one with the process's standard output sent to ``/dev/null``.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence

import numpy as np

from .problem import (
    EPS_MS,
    TIE_TOL,
    Choice,
    as_menu,
    evaluate,
    infeasible,
    is_tie,
    per_stage,
    stage_options,
)
from .scores import PAS_METHODS, rank_normalised

__all__ = ["SOLVERS", "solve_chain", "prune", "quiet_highs"]

#: cvxpy's open MILP solvers this module drives (both are HiGHS underneath).
SOLVERS = ("HIGHS", "SCIPY")
#: Relative slack of the tie-break solve's bound ``objective >= best - slack`` (above the
#: solver's tolerances; plans it admits are re-checked with the exact tie rule).
SOLVER_SLACK = 1e-6
#: Tie-break solves at most, each cutting off a plan that was not an exact tie.
MAX_CUTS = 20
_QUIET = False


def quiet_highs() -> None:
    """Create the process's first HiGHS object with fd 1 on ``/dev/null`` (no banner later).

    Examples
    --------
    >>> quiet_highs(); quiet_highs()      # idempotent, prints nothing
    """
    global _QUIET
    if _QUIET:
        return
    try:
        import highspy
    except ImportError:  # the SCIPY path needs no banner handling
        _QUIET = True
        return
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no fd 1 to protect
        highspy.Highs()
        _QUIET = True
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    _QUIET = True


def _solve(prob, solver: str) -> None:
    import cvxpy as cp

    if solver == "HIGHS":
        quiet_highs()
        prob.solve(
            solver=cp.HIGHS,
            verbose=False,
            mip_rel_gap=0.0,
            mip_abs_gap=0.0,
            mip_feasibility_tolerance=1e-9,
            primal_feasibility_tolerance=1e-9,
        )
    else:
        prob.solve(solver=cp.SCIPY, verbose=False, scipy_options={"mip_rel_gap": 0.0})
    if prob.status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"the MILP solver ended with status {prob.status!r}")


def prune(options, alpha: float, beta: float, gamma: float, scale: float) -> list:
    """Drop the options of one stage that can be in no optimal plan, nor tie with one.

    Option ``o`` goes when another option ``o'`` of the same stage is at least as fast, at
    least as accurate (as accurate or less when ``alpha < 0``; PAS never falls when one factor
    rises, the others being non-negative), and cheaper by more than the tie tolerance in
    ``beta * cores + gamma * batch``: swapping ``o'`` in keeps any plan feasible and raises its
    objective by that margin, so a plan with ``o`` is neither optimal nor a tie. ``scale``
    bounds ``|objective|`` (the tolerance is relative to it).

    Examples
    --------
    >>> from ssloserve.ipa.problem import Option
    >>> a = Option("x", 1, 0.5, 10.0, 0.0, 2, 2.0)     # batch 1: two replicas
    >>> b = Option("x", 2, 0.5, 12.0, 0.0, 1, 1.0)     # batch 2: slower, one replica
    >>> c = Option("x", 4, 0.5, 20.0, 0.0, 1, 1.0)     # batch 4: slower still, no cheaper
    >>> [o.batch for o in prune([a, b, c], 1.0, 1.0, 1e-6, 10.0)]
    [1, 2]
    """
    margin = 2 * TIE_TOL * max(1.0, scale)
    sign = 1.0 if alpha >= 0 else -1.0
    keep = []
    for o in options:
        pay = beta * o.cost + gamma * o.batch
        dominated = any(
            p.latency_ms <= o.latency_ms
            and sign * p.accuracy >= sign * o.accuracy
            and beta * p.cost <= beta * o.cost
            and gamma * p.batch <= gamma * o.batch
            and beta * p.cost + gamma * p.batch < pay - margin
            for p in options
        )
        if not dominated:
            keep.append(o)
    return keep


def _pas_expression(menu, options, idx, y, method):
    """PAS of the plan ``y`` selects, as a cvxpy expression, and its constraints."""
    import cvxpy as cp

    cons = []
    if method in ("sum", "normalized_sum"):
        vals = np.zeros(len(idx[-1]) and idx[-1][-1] + 1)
        for items, opts, ix in zip(menu, options, idx, strict=True):
            score = {it.name: it.accuracy for it in items}
            if method == "normalized_sum":
                ranks = rank_normalised([it.accuracy for it in items])
                score = {it.name: r for it, r in zip(items, ranks, strict=True)}
            for o, i in zip(opts, ix, strict=True):
                vals[i] = score[o.variant]
        return vals @ y, cons
    P, U, L = None, 1.0, 1.0  # running product and bounds on it
    for opts, ix in zip(options, idx, strict=True):
        names = list(dict.fromkeys(o.variant for o in opts))
        acc = np.array([next(o.accuracy for o in opts if o.variant == n) for n in names])
        A = np.zeros((len(names), y.shape[0]))
        for o, i in zip(opts, ix, strict=True):
            A[names.index(o.variant), i] = 1.0
        u = A @ y  # 1 for the chosen variant
        if P is None:
            P = acc @ u
        else:
            w = cp.Variable(len(names))
            cons += [w >= L * u, w <= U * u, w <= P, w >= P - U * (1 - u), cp.sum(w) == P]
            P = acc @ w
        U *= float(acc.max())
        L *= float(acc.min())
    return P, cons


def solve_chain(
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
    solver: str = "HIGHS",
) -> list[Choice]:
    """IPA's plan for a chain: variant, batch and replicas per stage, by a MILP (chapter 03_ipa).

    Maximises ``alpha * PAS - beta * sum(cores x replicas) - gamma * sum(batch)`` subject to
    every stage carrying ``rate_rps``, the sum of latencies and batch formation delays
    (:func:`~ssloserve.latency.batch_delay_ms`) within ``sla_ms``, and 1 to ``max_replicas``
    replicas per stage. The module docstring says why the formulation is exact.

    Parameters
    ----------
    stages : per stage a list of variants: :class:`~ssloserve.pipeline.Variant` (at its own
        cores) or mappings with ``name``, ``accuracy`` (0-1), ``cores`` per replica and
        ``latency_ms`` (batch -> ms of one replica; a mapping or a callable)
    rate_rps : arrival rate lam (RPS), positive
    sla_ms : end-to-end latency bound (ms)
    alpha, beta, gamma : weights of PAS, cores and batch sizes (``beta >= 0``)
    max_replicas : the most replicas a stage may have
    current : the plan in force, ``[(variant, batch, replicas), ...]``; among optimal plans
        the one with fewest changed variants and batch sizes is returned
    batches : batch sizes to consider (see :func:`~ssloserve.ipa.problem.as_menu`)
    pas_method : ``"multiply"`` (IPA), ``"sum"`` or ``"normalized_sum"`` (:func:`~ssloserve.ipa.scores.pas`)
    replicas : fix the replicas, one count for every stage or one per stage (a switch-only
        system: only variants and batches move)
    solver : ``"HIGHS"`` or ``"SCIPY"`` (cvxpy's names)

    Returns
    -------
    list of :class:`~ssloserve.ipa.problem.Choice` ``(variant, batch, replicas)``, one per stage.

    Raises
    ------
    InfeasibleError
        ``constraint`` is ``"sla_ms"`` (``nearest_feasible`` = the smallest feasible SLA) or
        ``"max_replicas"`` / ``"replicas"`` when a stage cannot carry the rate at all.

    Examples
    --------
    A detector and a classifier, two variants each (accuracy, cores, latency at batch 1 and 4):

    >>> det = [{"name": "n", "accuracy": 0.46, "cores": 1, "latency_ms": {1: 50, 4: 120}},
    ...        {"name": "s", "accuracy": 0.57, "cores": 2, "latency_ms": {1: 80, 4: 200}}]
    >>> cls = [{"name": "r18", "accuracy": 0.70, "cores": 1, "latency_ms": {1: 30, 4: 70}},
    ...        {"name": "r50", "accuracy": 0.76, "cores": 1, "latency_ms": {1: 60, 4: 150}}]
    >>> solve_chain([det, cls], rate_rps=20, sla_ms=400, alpha=10, beta=0.1, gamma=1e-6)
    [Choice(variant='s', batch=1, replicas=2), Choice(variant='r50', batch=4, replicas=1)]

    By hand: s at batch 1 serves 12.5 RPS per replica, so 2 replicas of 2 cores; r50 at
    batch 4 takes 150 ms plus 150 ms to gather the batch. Latency 80 + 300 = 380 ms, PAS
    0.57 x 0.76 = 0.4332, 5 cores: 4.332 - 0.5 = 3.832. Dearer cores move it to the cheap
    detector:

    >>> solve_chain([det, cls], rate_rps=20, sla_ms=400, alpha=10, beta=0.5, gamma=1e-6)
    [Choice(variant='n', batch=1, replicas=1), Choice(variant='r50', batch=4, replicas=1)]
    >>> solve_chain([det, cls], 20, 60, 10, 0.5, 1e-6)
    Traceback (most recent call last):
    ...
    ssloserve.errors.InfeasibleError: SLA 60 ms is below the fastest plan at 20 RPS (80 ms); the smallest feasible SLA is 80 ms
    """
    import cvxpy as cp

    if not (rate_rps > 0 and math.isfinite(rate_rps)):
        raise ValueError(f"rate_rps must be a positive number, got {rate_rps!r}")
    if not sla_ms > 0:  # NaN fails too
        raise ValueError(f"sla_ms must be positive, got {sla_ms!r}")
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0 (replicas beyond ceil(lam/h) would pay), got {beta!r}")
    if pas_method not in PAS_METHODS:
        raise ValueError(f"unknown PAS method {pas_method!r}; choose one of {PAS_METHODS}")
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if int(max_replicas) < 1:
        raise ValueError(f"max_replicas must be >= 1, got {max_replicas!r}")
    menu = as_menu(stages, batches)
    fixed = per_stage(replicas, len(menu))
    options = [
        stage_options(items, rate_rps, max_replicas, n)
        for items, n in zip(menu, fixed, strict=True)
    ]
    if (
        any(not o for o in options)
        or sum(min(o.latency_ms for o in opts) for opts in options) > sla_ms + EPS_MS
    ):
        raise infeasible(options, menu, rate_rps, sla_ms, max_replicas, replicas)
    scale = abs(alpha) * len(menu) + sum(
        beta * max(o.cost for o in opts) + abs(gamma) * max(o.batch for o in opts)
        for opts in options
    )
    options = [prune(opts, alpha, beta, gamma, scale) for opts in options]

    flat = [o for opts in options for o in opts]
    idx, start = [], 0
    for opts in options:
        idx.append(list(range(start, start + len(opts))))
        start += len(opts)
    y = cp.Variable(len(flat), boolean=True)
    pick = np.zeros((len(options), len(flat)))
    for s, ix in enumerate(idx):
        pick[s, ix] = 1.0
    lat = np.array([o.latency_ms for o in flat])
    cost = np.array([o.cost for o in flat])
    bsum = np.array([float(o.batch) for o in flat])
    score, cons = _pas_expression(menu, options, idx, y, pas_method)
    cons += [pick @ y == 1, lat @ y <= sla_ms + EPS_MS]
    value = alpha * score - beta * (cost @ y) - gamma * (bsum @ y)
    prob = cp.Problem(cp.Maximize(value), cons)
    _solve(prob, solver)

    def read() -> list[Choice]:
        return [flat[ix[int(np.argmax(y.value[ix]))]].choice for ix in idx]

    plan = read()
    if current is None:
        return plan
    if len(current) != len(options):
        raise ValueError(f"current has {len(current)} stages, the chain {len(options)}")
    best = evaluate(menu, plan, rate_rps, alpha, beta, gamma, pas_method)["objective"]
    keep_v = np.zeros(len(flat))  # 1 where an option keeps the current variant
    keep_b = np.zeros(len(flat))  # 1 where it keeps the current batch size
    for o_i, o in enumerate(flat):
        s = next(s for s, ix in enumerate(idx) if o_i in ix)
        keep_v[o_i] = o.variant == current[s][0]
        keep_b[o_i] = o.batch == int(current[s][1])
    moves = 2 * len(options) - (keep_v + keep_b) @ y
    # The solver's tolerances (1e-9 on every row) could cut off the optimum itself with a
    # bound of best - TIE_TOL, so the solve gets SOLVER_SLACK and every plan it returns is
    # checked against the exact tie rule; a plan that is not a tie is cut off and the solve
    # repeated. If nothing else is left, the first solve's (optimal) plan stands.
    slack = [value >= best - SOLVER_SLACK * max(1.0, abs(best))]
    for _ in range(MAX_CUTS):
        tie = cp.Problem(cp.Minimize(moves), cons + slack)
        try:
            _solve(tie, solver)
        except RuntimeError:
            return plan
        cand = read()
        if is_tie(
            evaluate(menu, cand, rate_rps, alpha, beta, gamma, pas_method)["objective"], best
        ):
            return cand
        chosen = [ix[int(np.argmax(y.value[ix]))] for ix in idx]
        slack.append(cp.sum(y[chosen]) <= len(idx) - 1)  # not this plan again
    return plan
