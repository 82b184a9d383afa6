"""The emulator runtime (``runtime="emu"``): a real multiprocess server on this machine.

An open-loop load generator process sends each request at its arrival time; the router
(in the caller's process) keeps per-stage queues, dispatches batches to replica processes
over pipes, calls the policy every ``interval_s`` and actuates its configs; each replica
is an OS process running a sleep, burn or torch model under an enforced core limit
(:mod:`~ssloserve.runtime.emu.limits`). Wall-clock time is real.

Nothing outlives a run: :func:`emulate` stops every process and removes every cgroup on
a normal end, an exception (even inside the policy), Ctrl-C (the router stops between two
events, where every record is consistent, and returns the partial result, unfinished
requests ``interrupted``; a Ctrl-C while the initial replicas still load raises
KeyboardInterrupt at once, nothing having been measured; a second Ctrl-C interrupts at
once, and clean-up still runs to the end) and SIGTERM (it cleans up, then exits);
replicas also die with their parent (``PR_SET_PDEATHSIG``) and an ``atexit`` hook is the
last backstop. Chapter: 00_tour ("simulator and emulator side by side").
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import threading
import time

from ...errors import EmulatorError
from ..progress import Progress, SafeInterrupt
from .limits import (
    available_backends,
    child_pids,
    emulator_cgroups,
    is_realtime,
    machine_cores,
    remove_stale_cgroups,
)
from .options import EmuOptions
from .router import Router
from .teardown import cleanup_all, live_routers

__all__ = [
    "emulate",
    "EmuOptions",
    "Router",
    "available_backends",
    "machine_cores",
    "leftovers",
    "nothing_left",
    "live_routers",
]

atexit.register(cleanup_all)


class _Terminated(SystemExit):
    """Raised in the main thread when the process receives SIGTERM during a run."""


@contextlib.contextmanager
def _sigterm_raises():
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise _Terminated(128 + signum)

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def leftovers(pid: int | None = None) -> dict:
    """What emulator runs of process ``pid`` (default: this one) left behind: live child
    processes and cgroups. Both are empty after every run, whatever ended it.

    Examples
    --------
    >>> leftovers()["cgroups"]
    []
    """
    pid = os.getpid() if pid is None else pid
    return {"processes": child_pids(pid), "cgroups": [str(p) for p in emulator_cgroups(pid)]}


@contextlib.contextmanager
def nothing_left(wait_s: float = 5.0):
    """A block after which no child process started inside it is alive (waiting up to
    ``wait_s`` for them to exit), no emulator cgroup of this process remains and no router
    is live, and this thread is not left in the real-time class; else
    :class:`~ssloserve.errors.EmulatorError` says what was left.

    Examples
    --------
    >>> with nothing_left():
    ...     pass
    """
    before, rt0 = set(child_pids()), is_realtime()
    yield
    deadline = time.monotonic() + wait_s
    while set(child_pids()) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    left = {
        "processes": sorted(set(child_pids()) - before),
        "cgroups": [str(p) for p in emulator_cgroups(os.getpid())],
        "routers": len(live_routers()),
        "realtime": is_realtime() and not rt0,
    }
    if any(left.values()):
        raise EmulatorError(f"emulator runs left something behind: {left}")


def emulate(pipeline, workload, policy, options=None, emu=None, router=Router):
    """Serve ``workload`` on ``pipeline`` with real processes, adapting with ``policy``.

    Parameters
    ----------
    pipeline : the :class:`~ssloserve.pipeline.Pipeline`; each variant's ``model`` says
        what its replicas run (``"sleep"``, ``"burn"`` or a torch variant name)
    workload : a :class:`~ssloserve.workloads.Workload` (arrival_s, budget_ms, payload_bytes)
    policy : anything with ``interval_s`` and ``decide(obs) -> Config`` (and optionally
        ``initial(pipeline, slo_ms)``)
    options : the shared ``RunOptions`` (None: the defaults); ``progress``: True shows a
        tqdm bar, None (default) shows one once the run has taken 2 s, False never
    emu : the emulator's own :class:`EmuOptions` (None: the defaults)
    router : the router class; the Ray runtime passes its subclass
        (:class:`~ssloserve.runtime.ray.router.RayRouter`), whose replicas are Ray actors

    Returns
    -------
    :class:`~ssloserve.runtime.result.Result` with ``runtime="emu"``; ``meta["core_limit"]``
    names the core-limit backend, ``meta["cold_start_s"]`` and ``meta["resize_delay_s"]``
    the measured actuation costs, ``meta["interrupted"]`` whether Ctrl-C stopped it.
    """
    remove_stale_cgroups()
    router = router(pipeline, workload, policy, options, emu)
    progress = None
    with _sigterm_raises(), SafeInterrupt() as stop:
        try:
            router.start(stop)
            progress = Progress(
                router.opt.progress, len(router.arrival_s), unit="req", desc="emu", stop=stop
            )
            try:
                router.loop(progress, stop)
            except KeyboardInterrupt:
                router.interrupted = True
            return router.finish()
        finally:
            if progress is not None:
                progress.close(done=not router.interrupted)
            router.close()
