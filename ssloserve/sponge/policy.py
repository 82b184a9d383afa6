"""Sponge as a policy for ``ssloserve.run``: every second, solve and resize the one replica in
place (PAPERS.md 2; chapter 02_sponge).

:class:`SpongePolicy` is :class:`ssloserve.policies.ReplanningPolicy` (predict the rate,
plan, return the config) whose planner is a Sponge solver fed with the remaining budgets of
the requests waiting now (``Observation.budgets_ms``). It returns one replica with the
chosen cores and batch size: the runtime resizes the running replica in place (same
variant, same replica, new cores: a ``Resize`` step, no cold start; DESIGN.md's actuation
table) and the next batch takes the new size.

Run it with the runtime's earliest-deadline-first queue and the cannot-finish drop rule::

    run(pipeline, workload, SpongePolicy(...), queue="edf", drop="cannot_finish")

The per-request solver assumes the waiting requests are served in deadline order (EDF), and
the drop rule removes a request as soon as it could no longer finish in time, instead of
letting it occupy a batch and make the ones behind it late too (:mod:`ssloserve.queues`).
:data:`RUN_OPTIONS` holds both settings.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd

from ..errors import InfeasibleError, PolicyError
from ..latency import throughput_rps
from ..observation import Observation
from ..pipeline import Config, Pipeline, StageConfig
from ..policies import ReplanningPolicy
from ..predictors import Reactive
from .solvers import core_grid, edf_excess_ms, solve, solve_edf

__all__ = ["SpongePolicy", "RUN_OPTIONS", "SOLVERS"]

#: The run options Sponge is meant for: ``run(..., **RUN_OPTIONS)``.
RUN_OPTIONS = {"queue": "edf", "drop": "cannot_finish"}
#: The two forms of the decision: per request (default) and the paper code's worst case.
SOLVERS = ("edf", "worst_case")


class SpongePolicy(ReplanningPolicy):
    """Sponge: every ``interval_s`` choose the cores and batch size of the one replica.

    Parameters
    ----------
    slo_ms : the end-to-end SLO (the worst-case solver's ``slo``; default the workload's,
        ``obs.slo_ms``)
    c_max, b_max : caps on cores and batch size (the paper: 16 and 16)
    cores : the core counts to choose from (default the integers ``1..c_max``; the emulator
        on a small machine: e.g. ``[0.25, 0.5, ..., 1.5]``)
    solver : ``"edf"`` (:func:`~ssloserve.sponge.solvers.solve_edf` on the waiting requests'
        budgets, the default) or ``"worst_case"`` (:func:`~ssloserve.sponge.solvers.solve`);
        the choice is kept in :attr:`solver` and in every row of :meth:`decisions`
    margin : the worst-case solver's safety factor on the SLO
    cl_max_ms : the worst-case solver's upload delay; None: estimated each second as
        ``slo - the smallest remaining budget waiting`` (upload plus time queued, so on the
        safe side), the last estimate when nobody waits
    predictor : recent per-second rates -> the rate to plan for (default the last second,
        :class:`~ssloserve.predictors.Reactive`)
    headroom : plan for ``headroom`` x the predicted rate
    interval_s : the adaptation interval (the paper: 1 s)
    stabilisation_s : scale in only when every decision of this window is cheaper; the
        default (= ``interval_s``) follows every decision at once, as in-place resizes are
        cheap
    min_rate_rps, initial_rate_rps : as in :class:`~ssloserve.policies.ReplanningPolicy`

    When no (c, b) meets the constraints (a burst, or requests whose budget the upload
    nearly used up), it serves as fast as it can on the most cores: the batch with the
    smallest excess over the budgets among those that keep up with the rate (the highest
    throughput when none does). Requests that still cannot finish are dropped by the queue.

    Examples
    --------
    >>> from ssloserve.latency import LatencyModel
    >>> from ssloserve.pipeline import Stage, Variant
    >>> yolo = Variant("yolov5", 0.5, LatencyModel(18.3, 4.5, 45.7, 1.5))
    >>> p = Pipeline.chain(Stage("detect", (yolo,), max_batch=16))
    >>> pol = SpongePolicy(slo_ms=1000.0)
    >>> pol.initial(p, 1000.0)["detect"]
    StageConfig(variant='yolov5', replicas=1, cores=1.0, batch=1)
    >>> obs = Observation(1.0, np.array([20.0]), None, budgets_ms=np.array([526.0] * 5))
    >>> pol.decide(obs)["detect"]                  # the EDF form: 1 core, batches of 2
    StageConfig(variant='yolov5', replicas=1, cores=1.0, batch=2)
    >>> wc = SpongePolicy(slo_ms=1000.0, solver="worst_case"); _ = wc.initial(p, 1000.0)
    >>> wc.decide(obs)["detect"]                   # 1000 - 526 = 474 ms upload for all 20
    StageConfig(variant='yolov5', replicas=1, cores=2.0, batch=4)
    >>> d = pol.decisions().iloc[-1]; print(d.t_s, d.solver, d.cores, d.batch, d.feasible)
    1.0 edf 1.0 2 True
    """

    def __init__(
        self,
        slo_ms: float | None = None,
        c_max: int = 16,
        b_max: int = 16,
        *,
        cores=None,
        solver: str = "edf",
        margin: float = 0.9,
        cl_max_ms: float | None = None,
        predictor=None,
        headroom: float = 1.0,
        interval_s: float = 1.0,
        stabilisation_s: float | None = None,
        min_rate_rps: float = 1.0,
        initial_rate_rps: float | None = None,
    ):
        if solver not in SOLVERS:
            raise PolicyError(f"SpongePolicy solver must be one of {SOLVERS}, got {solver!r}")
        self.grid = core_grid(c_max, cores)
        self.b_max, self.solver, self.margin = int(b_max), solver, margin
        self.slo_ms, self.cl_max_ms = slo_ms, cl_max_ms
        self._cl_est = 0.0 if cl_max_ms is None else float(cl_max_ms)
        self._budgets = np.zeros(0)
        self._t = 0.0
        self._log: list[dict] = []
        self.stage = self.variant = self.model = None
        super().__init__(
            self._plan_at,
            predictor=Reactive() if predictor is None else predictor,
            headroom=headroom,
            stabilisation_s=interval_s if stabilisation_s is None else stabilisation_s,
            interval_s=interval_s,
            min_rate_rps=min_rate_rps,
            initial_rate_rps=initial_rate_rps,
        )

    # ----------------------------------------------------------------- the policy protocol

    def initial(self, pipeline: Pipeline | None = None, slo_ms: float | None = None) -> Config:
        """One replica of the pipeline's one stage (its first variant), planned for
        ``initial_rate_rps`` with nobody waiting."""
        if pipeline is None or len(pipeline) != 1:
            raise PolicyError("Sponge serves one model: give initial() a one-stage pipeline")
        self.stage = pipeline.order[0]
        self.variant = pipeline.stage(self.stage).variants[0]
        self.model = self.variant.latency
        if self.slo_ms is None:
            self.slo_ms = slo_ms
        self._budgets, self._t, self._log = np.zeros(0), 0.0, []
        return super().initial(pipeline, slo_ms)

    def decide(self, obs: Observation) -> Config:
        """Read the waiting requests' budgets and the rate, solve, return the config."""
        if self.model is None:
            self.initial(obs.pipeline, obs.slo_ms)
        if self.slo_ms is None:
            self.slo_ms = obs.slo_ms
        self._budgets = np.asarray(obs.budgets_ms, dtype=float)
        self._t = float(obs.t_s)
        return super().decide(obs)

    # ----------------------------------------------------------------- the decision

    def _plan_at(self, rate_rps: float) -> Config:
        cores, batch, binding, us = self.choose(rate_rps, self._budgets)
        self._log.append(
            dict(
                t_s=self._t,
                rate_rps=rate_rps,
                waiting=len(self._budgets),
                solver=self.solver,
                cl_max_ms=self._cl_est if self.solver == "worst_case" else math.nan,
                cores=float(cores),
                batch=int(batch),
                feasible=binding is None,
                binding=binding,
                solve_us=us,
            )
        )
        return Config({self.stage: StageConfig(self.variant.name, 1, float(cores), int(batch))})

    def choose(self, rate_rps: float, budgets_ms) -> tuple:
        """``(cores, batch, binding constraint or None, solver microseconds)`` for this rate
        and these waiting budgets, with the fallback of the class docstring."""
        budgets = np.asarray(budgets_ms, dtype=float)
        if self.solver == "worst_case" and self.cl_max_ms is None and len(budgets):
            self._cl_est = max(0.0, float(self.slo_ms) - float(budgets.min()))
        t0 = time.perf_counter()
        try:
            if self.solver == "edf":
                c, b = solve_edf(self.model, budgets, rate_rps, b_max=self.b_max, cores=self.grid)
            else:
                c, b = solve(
                    self.model, rate_rps, float(self.slo_ms), self._cl_est,
                    b_max=self.b_max, margin=self.margin, cores=self.grid,
                )  # fmt: skip
            return c, b, None, (time.perf_counter() - t0) * 1e6
        except InfeasibleError as e:
            us = (time.perf_counter() - t0) * 1e6
            return float(self.grid[-1]), self._fastest_batch(rate_rps, budgets), e.constraint, us

    def _fastest_batch(self, rate_rps: float, budgets) -> int:
        top = [float(self.grid[-1])]
        b = np.arange(1, self.b_max + 1)
        h = throughput_rps(b, self.model.latency(b, top[0]))
        keeps_up = h >= rate_rps
        if not keeps_up.any():
            return int(b[np.argmax(h)])
        if self.solver == "edf" and len(budgets):
            ex = edf_excess_ms(self.model, budgets, self.b_max, cores=top)[:, 0]
        else:
            ex = np.ceil(rate_rps / b) * self.model.latency(b, top[0])
        return int(b[np.argmin(np.where(keeps_up, ex, np.inf))])

    def decisions(self) -> pd.DataFrame:
        """One row per decision: ``t_s, rate_rps`` (planned for), ``waiting`` (requests),
        ``solver``, ``cl_max_ms`` (worst case only), ``cores, batch, feasible, binding``
        (the constraint that could not be met) and ``solve_us``."""
        return pd.DataFrame(self._log)

    def __repr__(self) -> str:
        return (
            f"SpongePolicy(solver={self.solver!r}, cores {self.grid[0]:g}-{self.grid[-1]:g}, "
            f"b_max={self.b_max}, interval_s={self.interval_s:g})"
        )
