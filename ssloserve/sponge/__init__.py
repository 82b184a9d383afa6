"""Sponge: dynamic SLOs with in-place vertical scaling (PAPERS.md 2; chapter 02_sponge).

Each request reaches the server with its own remaining budget (what the upload left of the
SLO, :func:`ssloserve.network.remaining_budget`); every second Sponge changes the cores of
its one running replica in place, picks the batch size, and serves the most urgent
requests first.

- :mod:`~ssloserve.sponge.solvers` -- the decision: :func:`solve` (worst case, the paper's
  code) and :func:`solve_edf` (per request, in deadline order);
- :mod:`~ssloserve.sponge.oracle` -- the exhaustive scans both are tested against;
- :mod:`~ssloserve.sponge.policy` -- :class:`SpongePolicy` for ``ssloserve.run`` (with
  ``queue="edf", drop="cannot_finish"``: :data:`RUN_OPTIONS`);
- :mod:`~ssloserve.sponge.baselines` -- horizontal scaling (FA2, 1-core replicas), static
  provisioning, and the VPA-like scaler that recreates the replica;
- :mod:`~ssloserve.sponge.experiments` -- the paper-scale experiment and the queue ablation;
- :mod:`~ssloserve.sponge.machine` -- :class:`SubCoreModel`, the latency a replica really has
  below one core;
- :mod:`~ssloserve.sponge.measure` -- :class:`MeasuredSponge`, which reads its replica's CPU
  use in the emulator;
- :mod:`~ssloserve.sponge.ui` -- the chapter's charts and worked tables.
"""

from .baselines import TWIN_SUFFIX, VPALikePolicy, horizontal_policy, static_policy, with_twin
from .experiments import (
    MACHINE_CORES,
    SYSTEMS,
    YOLOV5S_FIT,
    budget_workload,
    machine_experiment,
    machine_model,
    paper_experiment,
    paper_model,
    paper_rates,
    queue_ablation,
    sponge_pipeline,
    systems,
)
from .machine import SubCoreModel, measure_replica
from .measure import MeasuredSponge
from .oracle import solve_edf_exhaustive, solve_exhaustive
from .policy import RUN_OPTIONS, SOLVERS, SpongePolicy
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
    "SpongePolicy",
    "MeasuredSponge",
    "SubCoreModel",
    "measure_replica",
    "RUN_OPTIONS",
    "SOLVERS",
    "TWIN_SUFFIX",
    "with_twin",
    "horizontal_policy",
    "static_policy",
    "VPALikePolicy",
    "YOLOV5S_FIT",
    "SYSTEMS",
    "paper_model",
    "paper_rates",
    "budget_workload",
    "sponge_pipeline",
    "systems",
    "paper_experiment",
    "MACHINE_CORES",
    "machine_model",
    "machine_experiment",
    "queue_ablation",
]
