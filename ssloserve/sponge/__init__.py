"""Sponge: dynamic SLOs with in-place vertical scaling (PAPERS.md 2; chapter 02_sponge).

Each request reaches the server with its own remaining budget (what the upload left of the
SLO, :func:`ssloserve.network.remaining_budget`); every second Sponge changes the cores of
its one running replica in place, picks the batch size, and serves the most urgent
requests first.

- :mod:`~ssloserve.sponge.solvers` -- the decision: :func:`solve` (worst case, the paper's
  code) and :func:`solve_edf` (per request, in deadline order);
- :mod:`~ssloserve.sponge.oracle` -- the exhaustive scans both are tested against.
"""

from .oracle import solve_edf_exhaustive, solve_exhaustive
from .solvers import EPS_MS, core_grid, edf_excess_ms, solve, solve_edf, worst_case_ms

__all__ = [
    "EPS_MS",
    "core_grid",
    "worst_case_ms",
    "edf_excess_ms",
    "solve",
    "solve_edf",
    "solve_exhaustive",
    "solve_edf_exhaustive",
]
