"""The core-limit backends: one :class:`CoreLimiter` per mechanism, and :func:`make_limiter`.

A replica's cores are enforced with the strongest mechanism the machine allows
(DESIGN.md "Core limits in the emulator"), and the run reports which one it used:

``"cgroup_v2"`` / ``"cgroup_v1"``
    a CFS bandwidth quota (:mod:`.cgroups`): the kernel lets the replica's threads run
    ``c x period`` microseconds per period, so fractional cores are exact over a period.
``"throttle"``
    a closed loop in the parent: a thread reads each replica's CPU time from
    ``/proc/PID/stat`` every few ms and sends SIGSTOP when it has used more than
    ``c x elapsed`` (a token bucket), SIGCONT when the budget has refilled. Portable.
``"affinity"``
    pins every thread of the replica (each id in ``/proc/PID/task``) to ``ceil(c)``
    whole cores. Cannot express fractions.
``"none"``
    no limit (the sleep model needs none: it emulates its cores by waiting).

A replica's threads follow its limit (:func:`threads_for`). Every backend undoes itself
in :meth:`CoreLimiter.close`: stopped processes are resumed (SIGCONT) and cgroups removed
(``rmdir``). Chapter: 00_tour ("the emulator").

Examples
--------
>>> threads_for(0.5), threads_for(1.0), threads_for(1.5)
(1, 1, 2)
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time
from pathlib import Path

from .cgroups import (
    cgroup_usage_s,
    enable_cpu_controller,
    new_cgroup,
    probe_cgroup,
    remove_cgroup,
    write_quota,
)
from .priority import realtime, renice_threads
from .procfs import cpu_time_s

__all__ = [
    "BACKENDS",
    "CHOICES",
    "CoreLimiter",
    "CgroupLimiter",
    "ThrottleLimiter",
    "AffinityLimiter",
    "NoLimiter",
    "available_backends",
    "make_limiter",
    "threads_for",
    "pin_all_threads",
]

#: Backends in order of preference.
BACKENDS = ("cgroup_v2", "cgroup_v1", "throttle", "affinity", "none")
#: What ``core_limit`` may say: a backend, ``"cgroup"`` (v2, else v1) or ``"auto"``.
CHOICES = ("auto", "cgroup") + BACKENDS


def threads_for(cores: float) -> int:
    """Threads a replica with ``cores`` cores runs: ``max(1, ceil(cores))``."""
    return max(1, math.ceil(cores - 1e-9))


def pin_all_threads(pid: int, cpus) -> int:
    """Set the CPU affinity of every thread of ``pid`` (``os.sched_setaffinity`` on a pid
    pins one thread only). Returns how many threads were pinned."""
    n = 0
    cpus = set(cpus)
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return 0
    for tid in tids:
        with contextlib.suppress(ProcessLookupError, FileNotFoundError, OSError):
            os.sched_setaffinity(int(tid), cpus)
            n += 1
    return n


def available_backends() -> list[str]:
    """Backends that work on this machine, strongest first.

    Examples
    --------
    >>> b = available_backends()
    >>> b[-1], "throttle" in b
    ('none', True)
    """
    out = []
    if probe_cgroup(2) is not None:
        out.append("cgroup_v2")
    if probe_cgroup(1) is not None:
        out.append("cgroup_v1")
    out += ["throttle", "affinity", "none"]
    return out


class CoreLimiter:
    """Enforces per-process core limits; subclasses implement one backend.

    ``add(pid, cores)`` puts a process under a limit, ``set(pid, cores)`` changes it in
    place, ``remove(pid)`` forgets it, ``close()`` undoes everything (resume, rmdir).
    """

    backend = "none"

    def __init__(self, boost: bool = False):
        self.cores: dict[int, float] = {}
        self.boost = boost

    def _renice(self, pid: int) -> None:
        if self.boost:
            renice_threads(pid, -10)

    def add(self, pid: int, cores: float) -> None:
        self.cores[pid] = float(cores)

    def set(self, pid: int, cores: float) -> None:
        self.cores[pid] = float(cores)

    def after_threads_changed(self, pid: int) -> None:
        """Called once a replica has changed its thread count (affinity re-pins)."""
        self._renice(pid)

    def remove(self, pid: int) -> None:
        self.cores.pop(pid, None)

    def usage_s(self, pid: int) -> float:
        """CPU seconds used by the process (``/proc/PID/stat``)."""
        return cpu_time_s(pid)

    def close(self) -> None:
        self.cores.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class NoLimiter(CoreLimiter):
    """No enforcement (the sleep model waits l(b, c) instead)."""

    backend = "none"


class CgroupLimiter(CoreLimiter):
    """A CFS bandwidth quota per replica: one child cgroup of a per-run cgroup.

    Parameters
    ----------
    version : 1 (``cpu.cfs_quota_us``) or 2 (``cpu.max``)
    period_us : the CFS period for limits below one core; 10 ms keeps the throttling
        pauses short against ms-scale batches, so a fraction of a core slows a batch down
        smoothly. Limits of one core or more use ``multi_period_us`` (100 ms): a replica
        that uses its whole cores for one batch would otherwise be throttled at the end of
        a short period by its own few microseconds of messaging (measured: +4 ms of wait
        at the median for 14 ms batches at 1 core), and with several threads the kernel
        hands quota to each CPU in 5 ms slices (``sched_cfs_bandwidth_slice_us``), so a
        short period leaves slack unused (1.33 of 1.5 cores at 10 ms on 2 cores, 1.49 at
        100 ms)
    boost : weight the replica cgroups 64x a normal process (``cpu.shares`` 65536, v2
        ``cpu.weight`` 6400), so that on a busy machine a replica gets its quota before
        background work does; the quota still caps it
    """

    def __init__(
        self,
        version: int,
        period_us: int = 10_000,
        boost: bool = False,
        multi_period_us: int = 100_000,
    ):
        super().__init__(boost)
        base = probe_cgroup(version)
        if base is None:
            raise OSError(f"cgroup v{version} cpu controller is not writable here")
        self.version = version
        self.backend = f"cgroup_v{version}"
        self.period_us = int(period_us)
        self.multi_period_us = int(multi_period_us)
        self.boost = boost
        self.root = new_cgroup(base)
        if version == 2:
            enable_cpu_controller(self.root)
        self._weight(self.root)
        self.dirs: dict[int, Path] = {}

    def _weight(self, d: Path) -> None:
        if not self.boost:
            return
        for f, v in (("cpu.shares", "65536"), ("cpu.weight", "6400")):
            if (d / f).exists():
                with contextlib.suppress(OSError):
                    (d / f).write_text(v)

    def period_for(self, cores: float) -> int:
        """The CFS period (us) used for a limit of ``cores``."""
        return self.period_us if cores < 1.0 - 1e-9 else self.multi_period_us

    def _write(self, d: Path, cores: float) -> None:
        write_quota(d, self.version, cores, self.period_for(cores))

    def path(self, pid: int) -> Path:
        """The cgroup folder of ``pid``."""
        return self.dirs[pid]

    def add(self, pid: int, cores: float) -> None:
        d = self.root / f"r{pid}"
        d.mkdir(exist_ok=True)
        self._write(d, cores)
        self._weight(d)
        (d / "cgroup.procs").write_text(str(pid))
        self.dirs[pid] = d
        super().add(pid, cores)

    def set(self, pid: int, cores: float) -> None:
        self._write(self.dirs[pid], cores)
        super().set(pid, cores)

    def usage_s(self, pid: int) -> float:
        if self.version == 2 and pid in self.dirs:
            used = cgroup_usage_s(self.dirs[pid])
            if used is not None:
                return used
        return cpu_time_s(pid)

    def remove(self, pid: int) -> None:
        d = self.dirs.pop(pid, None)
        if d is not None:
            remove_cgroup(d)
        super().remove(pid)

    def close(self) -> None:
        for pid in list(self.dirs):
            self.remove(pid)
        remove_cgroup(self.root)
        super().close()


class ThrottleLimiter(CoreLimiter):
    """Closed-loop SIGSTOP/SIGCONT throttling: a token bucket per process.

    Every ``tick_s`` a thread adds ``c x dt`` CPU seconds of budget (capped at
    ``c x burst_s``), subtracts the CPU the process used (``/proc/PID/stat``), stops the
    process when the budget is negative and resumes it when it is not.
    """

    backend = "throttle"

    def __init__(self, tick_s: float = 0.005, burst_s: float = 0.05, boost: bool = False):
        super().__init__(boost)
        self.tick_s = tick_s
        self.burst_s = burst_s
        self._lock = threading.Lock()
        self._state: dict[int, list] = {}  # pid -> [tokens, last_cpu, last_t, stopped]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ssloserve-throttle", daemon=True)
        self._thread.start()

    def add(self, pid: int, cores: float) -> None:
        with self._lock:
            super().add(pid, cores)
            self._state[pid] = [0.0, cpu_time_s(pid), time.monotonic(), False]
        self._renice(pid)

    def set(self, pid: int, cores: float) -> None:
        with self._lock:
            super().set(pid, cores)

    def remove(self, pid: int) -> None:
        with self._lock:
            st = self._state.pop(pid, None)
            super().remove(pid)
        if st is not None and st[3]:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGCONT)

    def _loop(self) -> None:
        if self.boost:  # a late tick costs the replica its budget: tick on time (guarded)
            realtime(True)
        while not self._stop.wait(self.tick_s):
            now = time.monotonic()
            with self._lock:
                for pid, st in list(self._state.items()):
                    c = self.cores.get(pid, 1.0)
                    try:
                        used = cpu_time_s(pid)
                    except ProcessLookupError:
                        continue
                    st[0] = min(st[0] + c * (now - st[2]), c * self.burst_s) - (used - st[1])
                    st[1], st[2] = used, now
                    want_stop = st[0] < 0
                    if want_stop != st[3]:
                        with contextlib.suppress(OSError):
                            os.kill(pid, signal.SIGSTOP if want_stop else signal.SIGCONT)
                        st[3] = want_stop

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        with self._lock:
            for pid, st in self._state.items():
                if st[3]:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGCONT)
            self._state.clear()
            super().close()


class AffinityLimiter(CoreLimiter):
    """Whole cores by CPU affinity: every thread of a replica on ``ceil(c)`` cores.

    Replicas get disjoint core sets while the machine has room, then share round-robin.
    """

    backend = "affinity"

    def __init__(self, boost: bool = False):
        super().__init__(boost)
        self.all_cpus = sorted(os.sched_getaffinity(0))
        self._next = 0
        self.cpus: dict[int, list[int]] = {}

    def _assign(self, pid: int, cores: float) -> None:
        k = min(threads_for(cores), len(self.all_cpus))
        cpus = [self.all_cpus[(self._next + i) % len(self.all_cpus)] for i in range(k)]
        self._next = (self._next + k) % len(self.all_cpus)
        self.cpus[pid] = cpus
        pin_all_threads(pid, cpus)

    def add(self, pid: int, cores: float) -> None:
        super().add(pid, cores)
        self._assign(pid, cores)
        self._renice(pid)

    def set(self, pid: int, cores: float) -> None:
        super().set(pid, cores)
        self._assign(pid, cores)

    def after_threads_changed(self, pid: int) -> None:
        if pid in self.cpus:
            pin_all_threads(pid, self.cpus[pid])
        self._renice(pid)

    def remove(self, pid: int) -> None:
        self.cpus.pop(pid, None)
        super().remove(pid)


def make_limiter(backend: str = "auto", boost: bool = False) -> CoreLimiter:
    """The limiter for ``backend`` (``"auto"``: the strongest that works here).

    Examples
    --------
    >>> with make_limiter("none") as lim:
    ...     lim.backend
    'none'
    """
    if backend == "auto":
        for b in available_backends():
            try:
                return make_limiter(b, boost)
            except OSError:
                continue
    if backend == "cgroup":
        v2 = "cgroup_v2" in available_backends()
        return make_limiter("cgroup_v2" if v2 else "cgroup_v1", boost)
    if backend in ("cgroup_v1", "cgroup_v2"):
        return CgroupLimiter(int(backend[-1]), boost=boost)
    if backend == "throttle":
        return ThrottleLimiter(boost=boost)
    if backend == "affinity":
        return AffinityLimiter(boost=boost)
    if backend == "none":
        return NoLimiter()
    raise ValueError(f"unknown core-limit backend {backend!r}; choose from {CHOICES}")
