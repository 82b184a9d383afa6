"""The experiment API: ``run(pipeline, workload, policy, runtime="sim"|"emu", ...)``.

Chapter: 00_tour. Every runtime reads the same :class:`RunOptions` and the helpers here
(workload arrays, the initial config, checking a policy's config), so one set of arguments
means the same experiment in the simulator and in the emulator.
"""

from __future__ import annotations

import math
import os
import signal
import threading
from dataclasses import dataclass, fields, replace

import numpy as np

from ..errors import ConfigError, PipelineError, PolicyError, TraceFormatError
from ..pipeline import Config, Pipeline
from .observation import Observation
from .result import Result

__all__ = [
    "RunOptions",
    "run",
    "RUNTIMES",
    "SERVICE_KINDS",
    "EMU_COLD_START_S",
    "EMU_RESIZE_DELAY_MS",
    "EMU_COSTS_SOURCE",
    "workload_arrays",
    "initial_config",
    "checked_config",
    "as_policy",
    "SafeInterrupt",
    "PROGRESS_AFTER_S",
]

#: Seconds of wall time after which ``progress=None`` (auto) shows a progress bar, in every
#: runtime.
PROGRESS_AFTER_S = 2.0

#: Runtimes ``run`` knows.
RUNTIMES = ("sim", "emu")
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


class SafeInterrupt:
    """Ctrl-C (SIGINT) during a run sets ``hit`` instead of raising; the runtime checks ``hit``
    at its safe points (where every record is consistent) and stops there, so a
    KeyboardInterrupt never lands between two writes of one request's record. A second Ctrl-C
    raises at once. Only the main thread can hold signal handlers: elsewhere, and where SIGINT
    is ignored, it installs nothing and Ctrl-C behaves as usual. The previous handler is put
    back on exit.

    Examples
    --------
    >>> import os, signal
    >>> before = signal.getsignal(signal.SIGINT)
    >>> with SafeInterrupt() as stop:
    ...     os.kill(os.getpid(), signal.SIGINT)   # a Ctrl-C mid-run: noted, nothing raised
    ...     stop.hit
    True
    >>> signal.getsignal(signal.SIGINT) is before
    True
    """

    def __init__(self):
        self.hit = False
        self.prev = None

    def _handler(self, signum, frame):
        if self.hit:
            raise KeyboardInterrupt
        self.hit = True

    def __enter__(self) -> SafeInterrupt:
        if threading.current_thread() is threading.main_thread():
            prev = signal.getsignal(signal.SIGINT)
            if prev not in (signal.SIG_IGN, None):
                self.prev = prev
                signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        if self.prev is not None:
            signal.signal(signal.SIGINT, self.prev)
            self.prev = None


def workload_arrays(workload, duration_s: float | None = None):
    """Arrival times (s), deadlines (s), payload sizes and the horizon of a workload.

    Reads ``arrival_s``, ``budget_ms`` and (optionally) ``payload_bytes`` and ``duration_s``
    duck-typed, keeps the arrivals before ``duration_s``, and checks them.

    Returns
    -------
    (arrival_s, deadline_s, payload_bytes, horizon_s)

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> w = SimpleNamespace(arrival_s=np.array([0.1, 0.5, 2.5]), budget_ms=np.array([100., 100., 100.]))
    >>> a, d, p, h = workload_arrays(w, duration_s=2.0)
    >>> a.tolist(), d.tolist(), h
    ([0.1, 0.5], [0.2, 0.6], 2.0)
    """
    try:
        a = np.asarray(workload.arrival_s, dtype=float).ravel()
        bud = np.broadcast_to(np.asarray(workload.budget_ms, dtype=float), a.shape)
    except AttributeError as e:
        raise TraceFormatError(
            f"a workload needs arrival_s and budget_ms (got {type(workload).__name__}: {e})"
        ) from None
    pay = getattr(workload, "payload_bytes", None)
    pay = np.zeros(len(a), np.int64) if pay is None else np.broadcast_to(pay, a.shape)
    if len(a) and not np.isfinite(a).all():
        raise TraceFormatError("workload arrival times must be finite")
    if len(a) and a[0] < 0:
        raise TraceFormatError(f"workload arrival times must be >= 0, got {a[0]!r}")
    if len(a) > 1 and (np.diff(a) < 0).any():
        raise TraceFormatError("workload arrival times must be sorted")
    if len(bud) and not (bud > 0).all():
        i = int(np.flatnonzero(~(bud > 0))[0])
        raise TraceFormatError(f"request {i} has a non-positive budget {bud[i]!r} ms")
    horizon = getattr(workload, "duration_s", None)
    if horizon is None or not np.isfinite(horizon):
        horizon = float(np.floor(a[-1]) + 1.0) if len(a) else 0.0
    if duration_s is not None:
        n = int(np.searchsorted(a, duration_s, side="left"))
        a, bud, pay = a[:n], bud[:n], pay[:n]
        horizon = float(duration_s)
    return a, a + bud / 1000.0, pay, float(horizon)


def as_policy(policy):
    """A policy, or a :class:`~ssloserve.pipeline.Config` wrapped in ``Static``."""
    if isinstance(policy, Config):
        from ..policies import Static

        return Static(policy)
    if not hasattr(policy, "decide"):
        raise PolicyError(f"a policy needs decide(obs) -> Config; got {type(policy).__name__}")
    iv = getattr(policy, "interval_s", None)
    if not isinstance(iv, int | float) or not iv > 0 or not math.isfinite(iv):
        raise PolicyError(f"policy {policy!r}: interval_s must be a positive number, got {iv!r}")
    return policy


def checked_config(cfg, pipeline: Pipeline, policy, t_s: float) -> Config:
    """``cfg`` validated against ``pipeline``; errors say which policy returned it and when."""
    if not isinstance(cfg, Config):
        raise PolicyError(
            f"policy {policy!r} returned {type(cfg).__name__} at t={t_s:g} s; expected a Config"
        )
    try:
        return cfg.validate(pipeline)
    except ConfigError as e:
        raise ConfigError(f"policy {policy!r} at t={t_s:g} s: {e}") from None


def initial_config(policy, pipeline: Pipeline, slo_ms: float, obs0: Observation) -> Config:
    """The config at t = 0: ``policy.initial(pipeline, slo_ms)`` if it has one, else
    ``policy.decide(obs0)``; validated."""
    init = getattr(policy, "initial", None)
    cfg = init(pipeline, slo_ms) if callable(init) else policy.decide(obs0)
    return checked_config(cfg, pipeline, policy, 0.0)


def run(
    pipeline: Pipeline,
    workload,
    policy,
    runtime: str = "sim",
    *,
    options: RunOptions | None = None,
    **overrides,
) -> Result:
    """Serve ``workload`` on ``pipeline`` under ``policy`` and return a :class:`Result`.

    Parameters
    ----------
    pipeline : the DAG of stages
    workload : a :class:`~ssloserve.workloads.Workload` (or anything with ``arrival_s``,
        ``budget_ms``)
    policy : a policy (``interval_s``, ``decide(obs) -> Config``, optional ``initial``), or
        a fixed :class:`~ssloserve.pipeline.Config`
    runtime : ``"sim"`` (discrete-event simulator) or ``"emu"`` (multiprocess emulator)
    options : a :class:`RunOptions`; keyword arguments override single fields
        (``run(..., queue="edf", drop="cannot_finish")``). With ``runtime="emu"`` the
        emulator's own options are accepted too (``core_limit``, ``boost``, ``max_retries``,
        ``drain_s``, ``start_timeout_s``; see ``ssloserve.runtime.emu.router.EmuOptions``)

    Returns
    -------
    Result with one record per request, the timeline, the actuation events and
    ``summary()``. ``meta["interrupted"]`` is True when Ctrl-C stopped the run early.

    Examples
    --------
    >>> from ssloserve.pipeline import Pipeline, Stage, Variant, Config
    >>> from ssloserve.latency import LatencyModel
    >>> from ssloserve.workloads import Workload
    >>> p = Pipeline.chain(Stage("a", (Variant("x", 0.9, LatencyModel(0, 0, 0, 10.0)),)))
    >>> w = Workload.from_rates([50] * 4, seed=1, slo_ms=100.0)
    >>> r = run(p, w, Config.default(p))
    >>> s = r.summary(); s["requests"] == s["served"] + s["late"] + s["dropped"]
    True
    >>> run(p, w, Config.default(p), runtime="cloud")
    Traceback (most recent call last):
    ...
    ssloserve.errors.ConfigError: unknown runtime 'cloud'; choose one of ('sim', 'emu')
    """
    if runtime not in RUNTIMES:
        raise ConfigError(f"unknown runtime {runtime!r}; choose one of {RUNTIMES}")
    if not isinstance(pipeline, Pipeline):
        raise PipelineError(f"expected a Pipeline, got {type(pipeline).__name__}")
    known = {f.name for f in fields(RunOptions)}
    extra = {k: v for k, v in overrides.items() if k not in known}
    opts = (options or RunOptions()).replace(**{k: v for k, v in overrides.items() if k in known})
    if runtime == "sim":
        if extra:
            opts.replace(**extra)  # raises ConfigError naming the unknown option(s)
        from .sim import simulate

        return simulate(pipeline, workload, as_policy(policy), opts.validate())
    from .emu import emulate  # the multiprocess emulator (ssloserve/runtime/emu/)
    from .emu.router import EmuOptions

    emu_only = set(EmuOptions.__dataclass_fields__) - known
    bad = sorted(set(extra) - emu_only)
    if bad:
        raise ConfigError(f"unknown run option(s) {bad}; options are {sorted(known | emu_only)}")
    opts = opts.validate()
    if extra:
        import types

        opts = types.SimpleNamespace(**{k: getattr(opts, k) for k in known}, **extra)
    return emulate(pipeline, workload, as_policy(policy), opts)
