"""Exhaustive scans of (c, b): the references Sponge's solvers are tested against
(tests/test_sponge_solvers.py, benchmarks/bench_sponge.py; chapter 02_sponge).

They share nothing with :mod:`ssloserve.sponge.solvers` but the tolerance
:data:`~ssloserve.sponge.solvers.EPS_MS`: they walk the core counts upward, and for each the
batch sizes upward, call the model for one (b, c) at a time, and check every request of the
queue one by one, exactly as PAPERS.md 2 states the constraints. They return the first
(c, b) that fits (the fewest cores, then the smallest batch) and raise
:class:`~ssloserve.errors.InfeasibleError` when none does (without the nearest feasible
value: the tests find it by calling the oracle again).
"""

from __future__ import annotations

import math

from ..errors import InfeasibleError
from ..latency import throughput_rps
from .solvers import EPS_MS

__all__ = ["solve_exhaustive", "solve_edf_exhaustive"]


def _cores(c_max: int, cores) -> list[float]:
    return (
        sorted({float(x) for x in cores})
        if cores is not None
        else [float(c) for c in range(1, c_max + 1)]
    )


def _out(c: float, b: int) -> tuple:
    return (int(c) if c.is_integer() else c), b


def solve_exhaustive(
    model,
    rate_rps: float,
    slo_ms: float,
    cl_max_ms: float,
    c_max: int = 16,
    b_max: int = 16,
    margin: float = 0.9,
    *,
    cores=None,
) -> tuple:
    """The oracle of :func:`~ssloserve.sponge.solvers.solve`: every (c, b) in turn.

    Examples
    --------
    >>> from ssloserve.latency import LatencyModel
    >>> from ssloserve.sponge.solvers import solve
    >>> yolo = LatencyModel(18.3, 4.5, 45.7, 1.5)
    >>> solve_exhaustive(yolo, 20.0, 1000.0, 474.0) == solve(yolo, 20.0, 1000.0, 474.0)
    True
    """
    for c in _cores(c_max, cores):
        for b in range(1, b_max + 1):
            lat = float(model.latency(float(b), c))
            in_time = math.ceil(rate_rps / b) * lat + cl_max_ms - margin * slo_ms <= EPS_MS
            if in_time and throughput_rps(b, lat) >= rate_rps - EPS_MS:
                return _out(c, b)
    raise InfeasibleError("no (c, b) fits (exhaustive scan)")


def solve_edf_exhaustive(
    model, budgets_ms, rate_rps: float, c_max: int = 16, b_max: int = 16, *, cores=None
) -> tuple:
    """The oracle of :func:`~ssloserve.sponge.solvers.solve_edf`: every (c, b) in turn, every
    request checked at its position in deadline order.

    Examples
    --------
    >>> from ssloserve.latency import LatencyModel
    >>> yolo = LatencyModel(18.3, 4.5, 45.7, 1.5)
    >>> solve_edf_exhaustive(yolo, [950.0] * 15 + [526.0] * 5, 20.0)
    (1, 2)
    """
    order = sorted(float(x) for x in budgets_ms)
    for c in _cores(c_max, cores):
        for b in range(1, b_max + 1):
            lat = float(model.latency(float(b), c))
            if throughput_rps(b, lat) < rate_rps - EPS_MS:
                continue
            if all(math.ceil(k / b) * lat - d <= EPS_MS for k, d in enumerate(order, start=1)):
                return _out(c, b)
    raise InfeasibleError("no (c, b) fits (exhaustive scan)")
