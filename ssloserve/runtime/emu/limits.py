"""Core limits for emulator replicas (DESIGN.md "Core limits in the emulator").

A replica's cores are enforced with the strongest mechanism the machine allows, and the
run reports which one it used:

``"cgroup_v2"`` / ``"cgroup_v1"``
    a CFS bandwidth quota (``cpu.max`` or ``cpu.cfs_quota_us``): the kernel lets the
    replica's threads run ``c x period`` microseconds per period, so fractional cores are
    exact over a period. Needs a writable cgroup (root, or a delegated subtree).
``"throttle"``
    a closed loop in the parent: a thread reads each replica's CPU time from
    ``/proc/PID/stat`` every few ms and sends SIGSTOP when it has used more than
    ``c x elapsed`` (a token bucket), SIGCONT when the budget has refilled. Portable.
``"affinity"``
    pins every thread of the replica (each id in ``/proc/PID/task``) to ``ceil(c)``
    whole cores. Cannot express fractions.
``"none"``
    no limit (the sleep model needs none: it emulates its cores by waiting).

The ``boost`` option also puts a few threads that mostly wait (the router while it
routes, the load generator, sleep replicas, the throttler) in the real-time class, so
that they wake on time on a busy machine. That priority is bounded: the lowest
real-time priority (``SCHED_RR`` 1), never for CPU-bound work (burn and torch replicas
are limited by the quota instead), never inherited by a child process
(``SCHED_RESET_ON_FORK``), and dropped by a guard (:class:`RealtimeGuard`) as soon as a
thread runs :data:`RT_BUDGET_S` of CPU without blocking once (``RLIMIT_RTTIME`` raises
``SIGXCPU``, whose handler moves every real-time thread of the process back to the
normal class), so a runaway loop cannot take a core away from the machine.

Every backend undoes itself in :meth:`CoreLimiter.close`: stopped processes are resumed
(SIGCONT) and cgroups removed (``rmdir``). Chapter: 00_tour ("the emulator").

Examples
--------
>>> threads_for(0.5), threads_for(1.0), threads_for(1.5)
(1, 1, 2)
>>> cpu_time_s(os.getpid()) >= 0
True
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time
import uuid
from pathlib import Path

__all__ = [
    "BACKENDS",
    "CoreLimiter",
    "CgroupLimiter",
    "ThrottleLimiter",
    "AffinityLimiter",
    "NoLimiter",
    "available_backends",
    "make_limiter",
    "machine_cores",
    "threads_for",
    "cpu_time_s",
    "pin_all_threads",
    "stale_cgroups",
    "remove_stale_cgroups",
    "emulator_cgroups",
    "child_pids",
    "RT_BUDGET_S",
    "RealtimeGuard",
    "realtime",
    "is_realtime",
    "boost_child_process",
    "machine_busy_s",
]

#: Backends in order of preference.
BACKENDS = ("cgroup_v2", "cgroup_v1", "throttle", "affinity", "none")

_PREFIX = "ssloserve-"
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def machine_cores() -> int:
    """Cores this process may run on (its affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def threads_for(cores: float) -> int:
    """Threads a replica with ``cores`` cores runs: ``max(1, ceil(cores))``."""
    return max(1, math.ceil(cores - 1e-9))


def cpu_time_s(pid: int) -> float:
    """User + system CPU seconds used so far by every thread of process ``pid``.

    Read from ``/proc/PID/stat`` (fields 14 and 15, in clock ticks); it includes threads
    that have already exited. Raises ``ProcessLookupError`` when the process is gone.
    """
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        raise ProcessLookupError(pid) from None
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def machine_busy_s() -> float:
    """CPU seconds every core of the machine has spent busy since boot (``/proc/stat``:
    all time but idle and iowait), to measure how much other programs use."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / _CLK_TCK


# --------------------------------------------------------------------------- priority

#: CPU seconds a real-time thread may run without blocking before its process's guard
#: drops every real-time thread to the normal class (a router or load generator that
#: waits for messages blocks every few ms; one that does not has run away or is saturated).
RT_BUDGET_S = 0.2
#: In a child process (load generator, sleep replica) the kernel kills it if it keeps
#: running in the real-time class this long without blocking (the guard failed to run).
RT_KILL_S = 2.0
_RT_POLICIES = {getattr(os, "SCHED_FIFO", -1), getattr(os, "SCHED_RR", -1)}
_RESET = getattr(os, "SCHED_RESET_ON_FORK", 0)


def is_realtime(tid: int = 0) -> bool:
    """True when thread ``tid`` (0: the caller) runs in the real-time class (FIFO or RR)."""
    try:
        return (os.sched_getscheduler(tid) & ~_RESET) in _RT_POLICIES
    except (OSError, AttributeError):
        return False


def _normal(tid: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(tid, os.SCHED_OTHER | _RESET, os.sched_param(0))


def realtime(on: bool, tid: int = 0) -> bool:
    """Move thread ``tid`` (0: the caller) into the real-time class (``SCHED_RR``, the
    lowest priority, reset on fork) or back to the normal class (still reset on fork, so
    children never inherit a raised priority). Real time only while a
    :class:`RealtimeGuard` is active in this process. Returns whether the thread is now
    real-time.

    Examples
    --------
    >>> realtime(True)  # no guard active here: refused
    False
    """
    if not on:
        _normal(tid)
        return False
    if not RealtimeGuard.active():
        return False
    try:
        os.sched_setscheduler(tid, os.SCHED_RR | _RESET, os.sched_param(1))
    except (OSError, AttributeError):
        return False
    return True


def _demote_all() -> int:
    n = 0
    with contextlib.suppress(OSError):
        for tid in os.listdir("/proc/self/task"):
            if is_realtime(int(tid)):
                _normal(int(tid))
                n += 1
    return n


class RealtimeGuard:
    """Bounds real-time priority in this process (see the module docstring).

    While one is entered, ``RLIMIT_RTTIME`` is :data:`RT_BUDGET_S` (soft; ``kill_s``
    hard, if given) and ``SIGXCPU`` moves every real-time thread of the process back to
    the normal class; leaving the last guard restores the limit and the handler and
    moves the process's real-time threads back too. It can only be entered in the main
    thread (signal handlers live there); elsewhere ``ok`` is False and :func:`realtime`
    refuses, so nothing runs in the real-time class unguarded.

    Attributes
    ----------
    ok : the guard is in force
    tripped : how many times ``SIGXCPU`` demoted this process's threads (shared by guards)
    """

    _depth = 0
    _saved = None
    tripped = 0

    def __init__(self, budget_s: float = RT_BUDGET_S, kill_s: float | None = None):
        self.budget_s = budget_s
        self.kill_s = kill_s
        self.ok = False

    @classmethod
    def active(cls) -> bool:
        """A guard is in force in this process."""
        return cls._depth > 0

    @staticmethod
    def _on_sigxcpu(signum, frame):
        RealtimeGuard.tripped += 1
        _demote_all()

    def __enter__(self):
        import resource

        cls = RealtimeGuard
        if threading.current_thread() is not threading.main_thread():
            return self
        if cls._depth == 0:
            try:
                old_lim = resource.getrlimit(resource.RLIMIT_RTTIME)
                old_sig = signal.signal(signal.SIGXCPU, cls._on_sigxcpu)
            except (AttributeError, OSError, ValueError):
                return self
            hard = round(self.kill_s * 1e6) if self.kill_s is not None else resource.RLIM_INFINITY
            try:
                resource.setrlimit(resource.RLIMIT_RTTIME, (round(self.budget_s * 1e6), hard))
            except (OSError, ValueError):
                signal.signal(signal.SIGXCPU, old_sig)
                return self
            cls._saved = (old_lim, old_sig)
        cls._depth += 1
        self.ok = True
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        """Leave the guard (idempotent)."""
        import resource

        if not self.ok:
            return
        self.ok = False
        cls = RealtimeGuard
        cls._depth -= 1
        if cls._depth == 0 and cls._saved is not None:
            _demote_all()
            old_lim, old_sig = cls._saved
            cls._saved = None
            with contextlib.suppress(OSError, ValueError):
                resource.setrlimit(resource.RLIMIT_RTTIME, old_lim)
            with contextlib.suppress(OSError, ValueError, TypeError):
                signal.signal(signal.SIGXCPU, old_sig)


def boost_child_process() -> bool:
    """In a child that mostly waits (load generator, sleep replica): a guard for the rest
    of the process's life (demoted after :data:`RT_BUDGET_S` without blocking, killed
    after :data:`RT_KILL_S`), then every thread real-time; nice -10 where that is refused.
    Returns whether the real-time class was granted."""
    RealtimeGuard(kill_s=RT_KILL_S).__enter__()  # left only when the process exits
    ok = True
    for tid in os.listdir("/proc/self/task"):
        if not realtime(True, int(tid)):
            ok = False
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, int(tid), -10)
    return ok


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


# --------------------------------------------------------------------------- cgroups


def _mounts():
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 4:
                yield parts[1], parts[2], set(parts[3].split(","))


def _own_cgroup(controller: str | None) -> str:
    """This process's cgroup path in the hierarchy of ``controller`` (None: the v2 one)."""
    with open("/proc/self/cgroup") as f:
        for line in f:
            hid, ctrls, path = line.rstrip("\n").split(":", 2)
            if controller is None and hid == "0" and ctrls == "":
                return path
            if controller is not None and controller in ctrls.split(","):
                return path
    raise FileNotFoundError(f"no cgroup for controller {controller!r}")


def _cgroup_v1_base() -> Path | None:
    for mnt, fstype, opts in _mounts():
        if fstype == "cgroup" and "cpu" in opts:
            try:
                own = _own_cgroup("cpu").lstrip("/")
            except FileNotFoundError:
                own = ""
            base = Path(mnt) / own
            if (base / "cpu.cfs_quota_us").exists() or (Path(mnt) / "cpu.cfs_period_us").exists():
                return base
    return None


def _cgroup_v2_base() -> Path | None:
    for mnt, fstype, _ in _mounts():
        if fstype == "cgroup2":
            try:
                own = _own_cgroup(None).lstrip("/")
            except FileNotFoundError:
                continue
            base = Path(mnt) / own
            try:
                ctrls = (base / "cgroup.controllers").read_text().split()
            except OSError:
                continue
            if "cpu" in ctrls:
                return base
    return None


def _probe_cgroup(version: int) -> Path | None:
    """Create and remove a test cgroup; return the base folder when that works."""
    base = _cgroup_v1_base() if version == 1 else _cgroup_v2_base()
    if base is None:
        return None
    probe = base / f"{_PREFIX}probe-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    try:
        if version == 2:
            _enable_v2_cpu(base)
        probe.mkdir()
        try:
            f = "cpu.cfs_quota_us" if version == 1 else "cpu.max"
            if not (probe / f).exists():
                return None
            (probe / f).write_text("50000" if version == 1 else "50000 100000")
        finally:
            probe.rmdir()
    except OSError:
        return None
    return base


def _enable_v2_cpu(base: Path) -> None:
    sub = base / "cgroup.subtree_control"
    if "cpu" not in sub.read_text().split():
        sub.write_text("+cpu")


def available_backends() -> list[str]:
    """Backends that work on this machine, strongest first.

    Examples
    --------
    >>> b = available_backends()
    >>> b[-1], "throttle" in b
    ('none', True)
    """
    out = []
    if _probe_cgroup(2) is not None:
        out.append("cgroup_v2")
    if _probe_cgroup(1) is not None:
        out.append("cgroup_v1")
    out += ["throttle", "affinity", "none"]
    return out


def stale_cgroups() -> list[Path]:
    """Emulator cgroups left by processes that no longer exist (e.g. a SIGKILLed parent)."""
    out = []
    for base in (_cgroup_v1_base(), _cgroup_v2_base()):
        if base is None or not base.is_dir():
            continue
        for d in base.glob(f"{_PREFIX}*"):
            try:
                owner = int(d.name[len(_PREFIX) :].split("-")[0])
            except ValueError:
                continue
            if not Path(f"/proc/{owner}").exists():
                out.append(d)
    return out


def _rmdir_tree(d: Path, tries: int = 50) -> bool:
    """Remove cgroup ``d`` and its children, killing leftover members; True when gone."""
    if not d.exists():
        return True
    for child in [c for c in d.iterdir() if c.is_dir()]:
        _rmdir_tree(child, tries)
    for _ in range(tries):
        try:
            d.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError:
            try:
                pids = [int(x) for x in (d / "cgroup.procs").read_text().split()]
            except OSError:
                pids = []
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGCONT)
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)
    return False


def emulator_cgroups(owner: int | None = None) -> list[Path]:
    """Every emulator cgroup on the machine (only those of process ``owner`` if given)."""
    out = []
    for base in (_cgroup_v1_base(), _cgroup_v2_base()):
        if base is None or not base.is_dir():
            continue
        pat = f"{_PREFIX}{owner}-*" if owner is not None else f"{_PREFIX}*"
        out += [d for d in base.glob(pat) if d.is_dir()]
    return out


def child_pids(pid: int | None = None) -> list[int]:
    """Live (non-zombie) child processes of ``pid`` (default: this process), from ``/proc``.

    Examples
    --------
    >>> isinstance(child_pids(), list)
    True
    """
    pid = os.getpid() if pid is None else pid
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            raw = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(d))
    return out


def remove_stale_cgroups() -> int:
    """Remove :func:`stale_cgroups`; returns how many were removed."""
    return sum(_rmdir_tree(d) for d in stale_cgroups())


# --------------------------------------------------------------------------- limiters


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
        if not self.boost:
            return
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError):
                    os.setpriority(os.PRIO_PROCESS, int(tid), -10)

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
        base = _probe_cgroup(version)
        if base is None:
            raise OSError(f"cgroup v{version} cpu controller is not writable here")
        self.version = version
        self.backend = f"cgroup_v{version}"
        self.period_us = int(period_us)
        self.multi_period_us = int(multi_period_us)
        self.boost = boost
        self.root = base / f"{_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.root.mkdir()
        if version == 2:
            _enable_v2_cpu(self.root)
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
        period = self.period_for(cores)
        quota = max(1000, round(cores * period))
        if self.version == 1:
            # lower the quota before the period so that quota/period never overshoots
            (d / "cpu.cfs_quota_us").write_text("-1")
            (d / "cpu.cfs_period_us").write_text(str(period))
            (d / "cpu.cfs_quota_us").write_text(str(quota))
        else:
            (d / "cpu.max").write_text(f"{quota} {period}")

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
            for line in (self.dirs[pid] / "cpu.stat").read_text().splitlines():
                k, v = line.split()
                if k == "usage_usec":
                    return int(v) / 1e6
        return cpu_time_s(pid)

    def remove(self, pid: int) -> None:
        d = self.dirs.pop(pid, None)
        if d is not None:
            _rmdir_tree(d)
        super().remove(pid)

    def close(self) -> None:
        for pid in list(self.dirs):
            self.remove(pid)
        _rmdir_tree(self.root)
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
    raise ValueError(f"unknown core-limit backend {backend!r}; choose from {('auto',) + BACKENDS}")
