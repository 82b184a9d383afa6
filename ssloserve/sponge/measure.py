"""The CPU a Sponge replica really uses, second by second, in the emulator (chapter 02_sponge).

:class:`MeasuredSponge` is :class:`~ssloserve.sponge.policy.SpongePolicy` that also reads,
at every decision, the CPU time the operating system has charged to each live replica
process (``/proc/PID/stat``, :func:`ssloserve.runtime.emu.limits.cpu_time_s`). Between two
decisions, CPU seconds over wall seconds is the number of cores the replica actually used;
:meth:`MeasuredSponge.cpu_use` sets it beside the cores Sponge had given it (the limit in
force) and the cores it chose for the next second.

In the simulator there is no process to read: the measured column is NaN.
"""

from __future__ import annotations

import math
import time

import pandas as pd

from ..observation import Observation
from ..pipeline import Config
from ..runtime.emu import live_routers
from ..runtime.emu.limits import cpu_time_s
from .policy import SpongePolicy

__all__ = ["MeasuredSponge"]


def _replicas_cpu_s() -> tuple[float, int]:
    """CPU seconds of every live replica of the one running emulator, and how many."""
    routers = live_routers()
    if len(routers) != 1:
        return math.nan, 0
    total, n = 0.0, 0
    for rep in list(routers[0].reps.values()):
        pid = getattr(rep, "pid", None)
        if not pid:
            continue
        try:
            total += cpu_time_s(pid)
            n += 1
        except (ProcessLookupError, PermissionError):
            continue
    return (total, n) if n else (math.nan, 0)


class MeasuredSponge(SpongePolicy):
    """:class:`~ssloserve.sponge.policy.SpongePolicy` that measures its replica's CPU use.

    Same parameters and decisions as ``SpongePolicy``; :meth:`cpu_use` returns what was
    measured.

    Examples
    --------
    In the simulator nothing is measured:

    >>> from ssloserve.sponge import budget_workload, paper_model, sponge_pipeline
    >>> from ssloserve import run
    >>> m, _ = paper_model("fallback")
    >>> w, _ = budget_workload([10, 12, 14], bandwidth="synthetic")
    >>> pol = MeasuredSponge(1000.0, initial_rate_rps=10.0)
    >>> _ = run(sponge_pipeline(m), w, pol, "sim", queue="edf", drop="cannot_finish")
    >>> list(pol.cpu_use().columns)
    ['t_s', 'limit_cores', 'chosen_cores', 'used_cores', 'replicas']
    >>> bool(pol.cpu_use().used_cores.isna().all())
    True
    """

    def initial(self, pipeline=None, slo_ms=None) -> Config:
        self._marks: list[tuple] = []
        return super().initial(pipeline, slo_ms)

    def decide(self, obs: Observation) -> Config:
        cpu, n = _replicas_cpu_s()
        limit = math.nan
        if obs.config is not None and self.stage in obs.config.stages:
            sc = obs.config[self.stage]
            limit = sc.cores * sc.replicas
        cfg = super().decide(obs)
        self._marks.append((time.monotonic(), cpu, limit, cfg[self.stage].cores, n, obs.t_s))
        return cfg

    def cpu_use(self) -> pd.DataFrame:
        """One row per interval between two decisions: ``t_s`` (the decision ending it,
        seconds into the run), ``limit_cores`` (the cores in force during it),
        ``chosen_cores`` (what Sponge chose at its end), ``used_cores`` (CPU seconds the
        replica processes used / wall seconds; NaN outside the emulator) and ``replicas``.
        """
        rows = []
        for k in range(1, len(self._marks)):
            (t0, c0, *_), (t1, c1, lim, chosen, n, t_s) = self._marks[k - 1], self._marks[k]
            used = (c1 - c0) / (t1 - t0) if t1 > t0 else math.nan
            rows.append(dict(t_s=float(t_s), limit_cores=lim, chosen_cores=chosen,
                             used_cores=used, replicas=n))  # fmt: skip
        cols = ["t_s", "limit_cores", "chosen_cores", "used_cores", "replicas"]
        return pd.DataFrame(rows, columns=cols)
