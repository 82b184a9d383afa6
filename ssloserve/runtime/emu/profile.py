"""Profile a model on this machine under the emulator's enforced core limits, and measure
what actuation costs here (cold start, in-place resize).

:func:`profile_model` runs one replica process, resizes it in place to each core count
of the grid, times batches of each size and fits the latency model l(b, c) of PAPERS.md
0.1 (:func:`ssloserve.latency.fit_latency_model`), so a user can profile their own
machine (``ssloserve profile`` on the command line). :func:`measure_actuation_costs`
measures the emulator's cold start and resize delay, the values the simulator should
use as ``cold_start_s`` and ``resize_delay_ms``; :func:`emu_costs` reads the values
saved in ``data/emu_costs.json`` (with the command that made them).
Chapter: 00_tour ("profiling a model").
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...errors import EmulatorError, ProfileError
from ...latency import LatencyModel, fit_latency_model
from ...pipeline import Variant
from .limits import RealtimeGuard, cpu_time_s, machine_cores, make_limiter
from .models import TORCH_VARIANTS, ModelSpec, torch_accuracy
from .worker import Worker

__all__ = [
    "LoneReplica",
    "ProfileResult",
    "profile_model",
    "measure_actuation_costs",
    "emu_costs",
    "profile_torch_variants",
    "saved_torch_latency",
    "torch_variant",
    "COSTS_FILE",
]

#: Where :func:`measure_actuation_costs` saves its results (in the project's data folder).
COSTS_FILE = "emu_costs.json"


def _as_spec(model) -> ModelSpec:
    if isinstance(model, ModelSpec):
        return model
    if isinstance(model, str):
        if model in TORCH_VARIANTS:
            return ModelSpec("torch", model)
        raise ProfileError(
            f"unknown model {model!r}: give a torch variant ({list(TORCH_VARIANTS)}), a "
            "ModelSpec or a Variant"
        )
    if hasattr(model, "model") and hasattr(model, "latency"):
        return ModelSpec.from_variant(model)
    raise ProfileError(f"cannot profile a {type(model).__name__}")


class LoneReplica:
    """One replica process under a core limit, driven directly (no router).

    Used by profiling, by the actuation-cost measurements and by the core-limit tests.
    A context manager: leaving it stops the process and removes its limit.

    Parameters
    ----------
    model : a ModelSpec, a Variant or a torch variant name
    cores : the initial core limit
    core_limit : the limiter backend (``"auto"``: the strongest available)
    boost : priority over background work (see :class:`~ssloserve.runtime.emu.EmuOptions`)
    """

    def __init__(self, model, cores: float = 1.0, core_limit: str = "auto", boost: bool = True):
        self.spec = _as_spec(model)
        self.cores = float(cores)
        self._bid = 0
        self._tok = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._feeder = None
        self.worker = self.limiter = None
        # bounded real time for the throttler thread (main thread only; see limits)
        self._guard = RealtimeGuard().__enter__() if boost else None
        try:
            self.limiter = make_limiter(core_limit if self.spec.uses_cpu else "none", boost=boost)
            t0 = time.monotonic()
            rt = boost and not self.spec.uses_cpu
            self.worker = Worker("replica", (self.spec, self.cores, os.getpid(), rt), name="lone")
        except BaseException:
            self.close()
            raise
        self.pid = self.worker.pid
        try:
            if self.spec.uses_cpu:
                try:
                    self.limiter.add(self.pid, self.cores)
                except OSError as e:
                    raise EmulatorError(
                        f"could not put the replica under its {self.cores:g}-core limit "
                        f"({self.limiter.backend}): {e}"
                    ) from e
            try:
                msg = self.worker.conn.recv()
            except (EOFError, OSError) as e:
                self.worker.join(5)
                raise EmulatorError(
                    f"the {self.spec.kind} replica {self.spec.name!r} died while loading "
                    f"(exit code {self.worker.exitcode})"
                ) from e
        except BaseException:
            self.close()
            raise
        if msg[0] != "ready":  # pragma: no cover - protocol error
            self.close()
            raise ProfileError(f"replica sent {msg!r} instead of ready")
        #: seconds from asking for the process to its "ready" (spawn + imports + model load)
        self.cold_start_s = msg[1] - t0
        self.load_s = msg[3]

    def run_batch(self, b: int) -> float:
        """Run one batch of ``b`` requests; its service time in seconds (replica clock)."""
        with self._lock:
            self._bid += 1
            self.worker.conn.send(("batch", self._bid, int(b), [0] * int(b)))
            while True:
                m = self.worker.conn.recv()
                if m[0] == "done":
                    return m[3] - m[2]

    def resize(self, cores: float) -> float:
        """Change the core limit in place (quota + thread count); seconds until the replica
        confirmed its new thread count."""
        with self._lock:
            t0 = time.monotonic()
            if self.pid in self.limiter.cores:
                self.limiter.set(self.pid, cores)
            self._tok += 1
            self.worker.conn.send(("cores", float(cores), self._tok))
            while True:
                m = self.worker.conn.recv()
                if m[0] == "cores_ok":
                    break
            self.limiter.after_threads_changed(self.pid)
            self.cores = float(cores)
            return m[2] - t0

    def saturate(self, b: int = 4) -> None:
        """Keep the replica busy (batches back to back) until :meth:`idle`."""
        self._stop.clear()

        def feed():
            while not self._stop.is_set():
                try:
                    self.run_batch(b)
                except (EOFError, OSError):
                    return

        self._feeder = threading.Thread(target=feed, daemon=True)
        self._feeder.start()

    def idle(self) -> None:
        """Stop :meth:`saturate`."""
        self._stop.set()
        if self._feeder is not None:
            self._feeder.join(timeout=10)
            self._feeder = None

    def cpu_rate(self, window_s: float = 2.0) -> float:
        """Cores used over the next ``window_s`` seconds, from ``/proc/PID/stat``."""
        c0, t0 = cpu_time_s(self.pid), time.monotonic()
        time.sleep(window_s)
        return (cpu_time_s(self.pid) - c0) / (time.monotonic() - t0)

    def threads(self) -> int:
        """Threads the replica process has now."""
        return len(os.listdir(f"/proc/{self.pid}/task"))

    def close(self) -> None:
        """Stop the process, remove its limit, drop the raised priority (idempotent)."""
        self.idle()
        w = self.worker
        if w is not None:
            w.kill()
            w.join(5)
            w.close()
        if self.limiter is not None:
            self.limiter.close()
        if self._guard is not None:
            self._guard.close()
            self._guard = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@dataclass
class ProfileResult:
    """What :func:`profile_model` measured.

    Attributes
    ----------
    table : one row per (batch, cores): ``batch, cores, latency_ms`` (median),
        ``p95_ms``, ``repeats``
    latency : the fitted :class:`~ssloserve.latency.LatencyModel` (with ``mape``)
    backend : the core-limit backend that enforced the cores
    cold_start_s : the replica's cold start on this machine
    """

    table: pd.DataFrame
    latency: LatencyModel
    backend: str
    cold_start_s: float
    meta: dict = field(default_factory=dict)


def profile_model(
    model,
    batches=(1, 2, 4, 8),
    cores=(0.5, 1.0, 2.0),
    *,
    repeats: int = 5,
    warmup: int = 1,
    core_limit: str = "auto",
    boost: bool = True,
    progress=None,
) -> ProfileResult:
    """Measure a model's latency over a batch x cores grid and fit l(b, c) (PAPERS.md 0.1).

    One replica process serves every point: for each core count it is resized in place
    (the limit and its thread count change) and each batch size runs ``warmup`` + ``repeats``
    times; the median is the point's latency.

    Parameters
    ----------
    model : a torch variant name (``"resnet_tiny18"``, ...), a
        :class:`~ssloserve.pipeline.Variant` or a
        :class:`~ssloserve.runtime.emu.models.ModelSpec`
    batches, cores : the grid; at least 4 distinct points with 2 batch sizes and 2 core
        counts. Cores above this machine's are refused for real models (they cannot be
        enforced); the sleep model accepts any.
    repeats, warmup : timed and untimed runs per point
    core_limit, boost : as for the emulator
    progress : a tqdm-like object with ``update`` (optional)

    Returns
    -------
    :class:`ProfileResult`

    Raises
    ------
    ProfileError : a bad grid, or more cores than this machine has for a real model
    """
    spec = _as_spec(model)
    batches = sorted({int(b) for b in batches})
    cores = sorted({float(c) for c in cores})
    if not batches or batches[0] < 1 or not cores or cores[0] <= 0:
        raise ProfileError("batches must be >= 1 and cores > 0")
    if len(batches) < 2 or len(cores) < 2:
        raise ProfileError(
            f"need at least 2 batch sizes and 2 core counts to fit l(b, c); got {batches} x {cores}"
        )
    if repeats < 1:
        raise ProfileError(f"repeats must be >= 1, got {repeats}")
    m = machine_cores()
    if spec.uses_cpu and cores[-1] > m + 1e-9:
        raise ProfileError(
            f"{cores[-1]:g} cores cannot be enforced on this machine ({m} cores); the "
            f"largest feasible is {m}"
        )
    rows = []
    with LoneReplica(spec, cores[0], core_limit, boost) as rep:
        for c in cores:
            rep.resize(c)
            for b in batches:
                for _ in range(warmup):
                    rep.run_batch(b)
                ts = np.array([rep.run_batch(b) for _ in range(repeats)]) * 1000.0
                rows.append((b, c, float(np.median(ts)), float(np.percentile(ts, 95)), repeats))
                if progress is not None:
                    progress.update(1)
        backend, cold = rep.limiter.backend, rep.cold_start_s
    table = pd.DataFrame(rows, columns=["batch", "cores", "latency_ms", "p95_ms", "repeats"])
    # measured on this machine, every term is CPU time: a negative one would only fit noise
    fit = fit_latency_model(table["batch"], table["cores"], table["latency_ms"], nonnegative=True)
    return ProfileResult(table, fit, backend, cold, {"model": spec.name or spec.kind})


def measure_actuation_costs(
    models=("sleep", "burn", "resnet_tiny18"),
    *,
    repeats: int = 3,
    resizes: int = 20,
    core_limit: str = "auto",
    save: bool = False,
    command: str = "",
    torch_profiles: bool = False,
) -> dict:
    """Measure the emulator's cold start (per model) and in-place resize delay here.

    Cold start: from asking for a new replica process to its "ready" (process start,
    imports, model load and one warm-up inference for torch). Resize delay: from writing
    the new limit to the replica confirming its new thread count (an idle burn replica,
    alternating 1 and 2 cores, or 0.5 and 1 on a one-core machine).

    Returns
    -------
    dict with ``cold_start_s`` (model -> median seconds), ``resize_delay_ms`` (median and
    p95), ``ratio`` (cold start of the slowest model / median resize delay), the backend,
    machine cores, with ``torch_profiles=True`` the fitted l(b, c) of every torch variant
    (:func:`profile_torch_variants`) and, with ``save=True``, the file it wrote
    (``data/emu_costs.json``).
    """
    out = {"cold_start_s": {}, "cold_start_all_s": {}}
    backend = None
    for name in models:
        if name in ("sleep", "burn"):
            spec = ModelSpec(name, name, (1.0, 0.0, 1.0, 0.0))
        else:
            spec = _as_spec(name)
        vals = []
        for _ in range(repeats):
            with LoneReplica(spec, 1.0, core_limit) as rep:
                vals.append(rep.cold_start_s)
                backend = rep.limiter.backend if spec.uses_cpu else backend
        out["cold_start_s"][name] = float(np.median(vals))
        out["cold_start_all_s"][name] = [float(v) for v in vals]
    hi = 2.0 if machine_cores() >= 2 else 1.0
    with LoneReplica(ModelSpec("burn", "burn", (1.0, 0.0, 1.0, 0.0)), 1.0, core_limit) as rep:
        backend = rep.limiter.backend
        d = [rep.resize(hi if k % 2 == 0 else hi / 2) for k in range(resizes)]
    d = np.array(d) * 1000.0
    out["resize_delay_ms"] = {"median": float(np.median(d)), "p95": float(np.percentile(d, 95))}
    slowest = max(out["cold_start_s"].values())
    out["ratio_cold_start_to_resize"] = (
        slowest * 1000.0 / max(out["resize_delay_ms"]["median"], 1e-6)
    )
    out["backend"] = backend
    out["machine_cores"] = machine_cores()
    out["measured_at"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    if command:
        out["command"] = command
    if torch_profiles:
        out["torch_profiles"] = profile_torch_variants(core_limit=core_limit)
    if save:
        from ...data import project_data_path

        path = project_data_path(COSTS_FILE)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2) + "\n")
        out["file"] = str(path)
    return out


def profile_torch_variants(
    batches=(1, 2, 4), cores=(1.0, 2.0), repeats: int = 5, core_limit: str = "auto"
) -> dict:
    """:func:`profile_model` for every torch variant; ``{name: {"params": (gamma, delta,
    epsilon, eta), "mape": ..., "table": [[b, c, ms], ...]}}`` (what ``--costs`` saves)."""
    cores = [c for c in cores if c <= machine_cores()]
    out = {}
    for name in TORCH_VARIANTS:
        r = profile_model(name, batches, cores, repeats=repeats, core_limit=core_limit)
        out[name] = {
            "params": list(r.latency.params),
            "mape": r.latency.mape,
            "table": r.table[["batch", "cores", "latency_ms"]].values.round(3).tolist(),
        }
    return out


def saved_torch_latency(name: str) -> LatencyModel | None:
    """The LatencyModel of torch variant ``name`` profiled on the machine that wrote
    ``data/emu_costs.json`` (None when it was not profiled)."""
    from ...data import project_data_path

    path = project_data_path(COSTS_FILE)
    if not path.exists():
        return None
    prof = json.loads(path.read_text()).get("torch_profiles", {}).get(name)
    if prof is None:
        return None
    return LatencyModel(*prof["params"], mape=prof.get("mape"))


def emu_costs() -> dict:
    """The actuation costs saved by :func:`measure_actuation_costs` (``data/emu_costs.json``),
    as ``{"cold_start_s": ..., "resize_delay_ms": ...}`` for the simulator's defaults; an
    empty dict when the file is missing.

    Examples
    --------
    >>> c = emu_costs()
    >>> c == {} or c["cold_start_s"] > 0
    True
    """
    from ...data import project_data_path

    path = project_data_path(COSTS_FILE)
    if not path.exists():
        return {}
    raw = json.loads(path.read_text())
    cold = raw["cold_start_s"]
    torch_like = [v for k, v in cold.items() if k not in ("sleep", "burn")]
    return {
        "cold_start_s": float(max(torch_like) if torch_like else max(cold.values())),
        "resize_delay_ms": float(raw["resize_delay_ms"]["median"]),
        "measured": raw,
    }


def torch_variant(name: str, latency=None, cores: float = 1.0):
    """A :class:`~ssloserve.pipeline.Variant` that runs torch model ``name`` in the emulator.

    ``latency`` is its LatencyModel on this machine (measure it with
    :func:`profile_model`); None takes the profile saved in
    ``data/emu_costs.json``.

    Examples
    --------
    >>> v = torch_variant("resnet_tiny34")
    >>> v.model, v.accuracy
    ('resnet_tiny34', 0.7331)
    """
    if latency is None:
        latency = saved_torch_latency(name)
        if latency is None:
            raise ProfileError(
                f"no saved profile of {name!r}: pass latency= or run "
                "`python benchmarks/bench_emu.py --costs`"
            )
    return Variant(name, torch_accuracy(name), latency, cores, model=name)
