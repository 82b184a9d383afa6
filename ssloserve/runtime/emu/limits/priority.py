"""Bounded real-time priority for the emulator's threads that mostly wait.

The ``boost`` option puts a few threads that mostly wait (the router while it routes,
the load generator, sleep replicas, the throttler) in the real-time class, so that they
wake on time on a busy machine. That priority is bounded: the lowest real-time priority
(``SCHED_RR`` 1), never for CPU-bound work (burn and torch replicas are limited by their
quota instead), never inherited by a child process (``SCHED_RESET_ON_FORK``), and dropped
by a guard (:class:`RealtimeGuard`) as soon as a thread runs :data:`RT_BUDGET_S` of CPU
without blocking once (``RLIMIT_RTTIME`` raises ``SIGXCPU``, whose handler moves every
real-time thread of the process back to the normal class), so a runaway loop cannot take
a core away from the machine. Where the real-time class is refused (not root), nice
values stand in. Chapter: 00_tour ("the emulator").

Examples
--------
>>> is_realtime()
False
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading

__all__ = [
    "RT_BUDGET_S",
    "RT_KILL_S",
    "RealtimeGuard",
    "realtime",
    "is_realtime",
    "boost_child_process",
    "renice_threads",
]

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


def renice_threads(pid: int, nice: int = -10) -> None:
    """Give every thread of process ``pid`` the nice value ``nice`` (``setpriority`` on a
    pid changes one thread only); threads that exit meanwhile are skipped."""
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, int(tid), nice)
