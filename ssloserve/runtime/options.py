"""The options every runtime reads: :class:`RunOptions`, and the emulator's measured costs
that are its defaults.

Chapter: 00_tour. Below every runtime (``api``, ``sim`` and ``emu`` import it; it imports
none of them), so one set of arguments means the same experiment in every runtime.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields, replace

import numpy as np

from ..errors import ConfigError

__all__ = [
    "RunOptions",
    "RUNTIMES",
    "SERVICE_KINDS",
    "EMU_COLD_START_S",
    "EMU_RESIZE_DELAY_MS",
    "EMU_COSTS_SOURCE",
]

#: Runtimes ``run`` knows.
RUNTIMES = ("sim", "emu", "ray")
#: Service-time models of the simulator (the emulator measures real service times).
SERVICE_KINDS = ("deterministic", "exponential", "lognormal")


def _measured_costs(name: str = "emu_costs.json") -> tuple[float, float, str]:
    """The emulator's measured cold start (s) and resize delay (ms), read from the project's
    ``data/emu_costs.json`` (written by ``benchmarks/bench_emu.py --costs``: the slowest
    torch-model cold start and the median in-place resize, as
    ``ssloserve.runtime.emu.profile.emu_costs`` reads them). Without that file both are NaN:
    :meth:`RunOptions.validate` then asks for them (no number stands in for a measurement)."""
    import json

    from ..data import project_data_path

    try:
        raw = json.loads(project_data_path(name).read_text())
        cold = raw["cold_start_s"]
        torch_like = [v for k, v in cold.items() if k not in ("sleep", "burn")]
        cold_s = float(max(torch_like) if torch_like else max(cold.values()))
        resize_ms = float(raw["resize_delay_ms"]["median"])
        return cold_s, resize_ms, f"data/{name}"
    except (OSError, KeyError, TypeError, ValueError):
        return float("nan"), float("nan"), f"missing: data/{name}"


#: Defaults of ``cold_start_s`` and ``resize_delay_ms``: what the emulator measured (a spawned
#: replica process importing torch and loading its model; a cgroup write plus a thread-count
#: change), so the simulator and the emulator agree unless told otherwise.
EMU_COLD_START_S, EMU_RESIZE_DELAY_MS, EMU_COSTS_SOURCE = _measured_costs()


@dataclass(frozen=True)
class RunOptions:
    """Options every runtime understands (the same meaning in ``"sim"`` and ``"emu"``).

    Attributes
    ----------
    seed : seed of everything random in the runtime (service-time draws in the simulator)
    queue : ``"fifo"`` or ``"edf"`` (earliest deadline first; deadline = arrival + budget)
    drop : ``"never"``, ``"deadline"``, ``"cannot_finish"`` or ``"k_slo"`` (see
        :mod:`ssloserve.queues`)
    k_slo : for ``drop="k_slo"``: drop a request that waited more than ``k_slo`` x its budget
    max_batch_delay_ms : a free replica that finds fewer than ``b`` requests waits up to this
        long for more before it starts a smaller batch (0: start at once)
    service : ``"deterministic"`` (l(b, c) exactly), ``"exponential"`` (mean l(b, c)) or
        ``"lognormal"`` (mean l(b, c), coefficient of variation ``service_cv``)
    service_cv : noise of ``"lognormal"`` service (e.g. the emulator's measured spread)
    cold_start_s : delay before a new replica (scale-out, variant switch) serves; default
        the emulator's measured value (:data:`EMU_COLD_START_S`)
    resize_delay_ms : delay before a vertical resize takes effect; default the emulator's
        measured value (:data:`EMU_RESIZE_DELAY_MS`)
    node_cores : cores the machine has; a change that needs more is infeasible and
        recorded as such. None: ``10**6`` in the simulator, ``os.cpu_count()`` in the emulator
    progress : show a progress bar: None (auto: once the run has taken 2 s of wall time),
        True or False
    duration_s : serve only arrivals before this time (None: the whole workload)
    slo_ms : the SLO policies see as ``obs.slo_ms`` (None: the median request budget)
    history_s : seconds of per-second rates in ``obs.rates_rps``

    Examples
    --------
    >>> o = RunOptions(queue="edf", drop="cannot_finish")
    >>> o.replace(seed=3).seed, o.validate().queue
    (3, 'edf')
    >>> RunOptions(drop="sometimes").validate()
    Traceback (most recent call last):
    ...
    ssloserve.errors.ConfigError: unknown drop rule 'sometimes'; choose one of ('never', 'deadline', 'cannot_finish', 'k_slo')
    """

    seed: int = 0
    queue: str = "fifo"
    drop: str = "never"
    k_slo: float = 2.0
    max_batch_delay_ms: float = 0.0
    service: str = "deterministic"
    service_cv: float = 0.1
    cold_start_s: float = EMU_COLD_START_S
    resize_delay_ms: float = EMU_RESIZE_DELAY_MS
    node_cores: float | None = None
    progress: bool | None = None
    duration_s: float | None = None
    slo_ms: float | None = None
    history_s: int = 600

    def replace(self, **changes) -> RunOptions:
        """A copy with some fields changed; unknown names raise :class:`ConfigError`."""
        known = {f.name for f in fields(self)}
        bad = sorted(set(changes) - known)
        if bad:
            raise ConfigError(f"unknown run option(s) {bad}; options are {sorted(known)}")
        return replace(self, **changes)

    def validate(self) -> RunOptions:
        """Check every field; raise :class:`ConfigError` that names the bad one."""
        from ..queues import DROP_RULES, QUEUE_KINDS

        if self.queue not in QUEUE_KINDS:
            raise ConfigError(f"unknown queue {self.queue!r}; choose one of {QUEUE_KINDS}")
        if self.drop not in DROP_RULES:
            raise ConfigError(f"unknown drop rule {self.drop!r}; choose one of {DROP_RULES}")
        if self.service not in SERVICE_KINDS:
            raise ConfigError(f"unknown service {self.service!r}; choose one of {SERVICE_KINDS}")

        for name in ("cold_start_s", "resize_delay_ms"):
            v = getattr(self, name)
            if isinstance(v, float) and math.isnan(v) and EMU_COSTS_SOURCE.startswith("missing"):
                raise ConfigError(
                    f"run option {name} has no default: the emulator's measured costs "
                    f"({EMU_COSTS_SOURCE}) are absent. Measure them with "
                    "`python benchmarks/bench_emu.py --costs`, or pass "
                    f"{name}=... (e.g. cold_start_s=2.0, resize_delay_ms=0.2)"
                )

        def integer(v):
            return isinstance(v, int | np.integer) and not isinstance(v, bool)

        def number(v):
            return isinstance(v, int | float | np.number) and not isinstance(v, bool)

        checks = {  # name: (test, what the value must be)
            "seed": (lambda v: integer(v) and v >= 0, "an integer >= 0"),
            "k_slo": (lambda v: number(v) and v > 0, "a positive number"),
            "max_batch_delay_ms": (lambda v: number(v) and v >= 0, "a number >= 0"),
            "service_cv": (lambda v: number(v) and v >= 0, "a number >= 0"),
            "cold_start_s": (lambda v: number(v) and v >= 0, "a number >= 0"),
            "resize_delay_ms": (lambda v: number(v) and v >= 0, "a number >= 0"),
            "node_cores": (lambda v: v is None or number(v) and v > 0, "None or positive"),
            "duration_s": (lambda v: v is None or number(v) and v > 0, "None or positive"),
            "slo_ms": (lambda v: v is None or number(v) and v > 0, "None or positive"),
            "history_s": (lambda v: integer(v) and v >= 1, "an integer >= 1"),
            "progress": (lambda v: v in (None, True, False), "None, True or False"),
        }
        for name, (ok, want) in checks.items():
            v = getattr(self, name)
            if not ok(v):  # NaN fails every comparison, so it is caught too
                raise ConfigError(f"run option {name}={v!r} is out of range: it must be {want}")
        return self

    def resolved_node_cores(self, runtime: str) -> float:
        """``node_cores``, or the runtime's default when None."""
        if self.node_cores is not None:
            return float(self.node_cores)
        return float(os.cpu_count() or 1) if runtime == "emu" else 1e6
