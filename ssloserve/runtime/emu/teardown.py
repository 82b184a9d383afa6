"""Tearing down an emulator run: stop every process, remove every cgroup, drop priority.

:meth:`Teardown.close` runs on every exit path of a run (normal end, exception, Ctrl-C,
SIGTERM) and, as a last backstop, from ``atexit`` through :func:`cleanup_all` for every
router still in :func:`live_routers`. It resumes stopped processes (SIGCONT) before it
asks them to stop, kills what has not stopped after a second, removes the cgroups and
puts the router thread's scheduling back; a Ctrl-C or SIGTERM meanwhile does not cut it
short. Chapter: 00_tour.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import weakref

__all__ = ["Teardown", "live_routers", "cleanup_all"]

_LIVE: weakref.WeakSet = weakref.WeakSet()


def live_routers() -> list:
    """Routers that have started processes and not yet cleaned up."""
    return list(_LIVE)


def cleanup_all() -> None:
    """Stop every live router's processes and remove its cgroups (atexit backstop)."""
    for r in list(_LIVE):
        with contextlib.suppress(Exception):
            r.close()


class Teardown:
    """Stopping a router's processes and undoing everything it changed (idempotent)."""

    def _register(self) -> None:
        """The router is about to start processes: :func:`cleanup_all` will see it."""
        _LIVE.add(self)

    def close(self) -> None:
        """Stop every process (SIGCONT first, then stop, then kill), remove the cgroups and
        put the router thread's scheduling back as it was. Idempotent; a Ctrl-C or SIGTERM
        that arrives meanwhile does not cut it short: it is raised again once all is gone."""
        if self.closed:
            return
        pending = None
        for step in (self._stop_processes, self._close_limiter, self._drop_priority):
            for _ in range(10):  # a signal interrupted the step: do it again (each is idempotent)
                try:
                    step()
                    break
                except (KeyboardInterrupt, SystemExit) as e:
                    pending = pending or e
        self.closed = True
        _LIVE.discard(self)
        if pending is not None:
            raise pending

    def _stop_processes(self) -> None:
        reps = list(self.reps.values())
        for r in reps:
            with contextlib.suppress(Exception):
                if r.pid is not None:  # (None: a process not of this machine, e.g. Ray's)
                    os.kill(r.pid, signal.SIGCONT)
            with contextlib.suppress(Exception):
                r.conn.send(("stop",))
        if self.lg_conn is not None:
            with contextlib.suppress(Exception):
                self.lg_conn.send(("stop",))
        procs = [r.proc for r in reps] + ([self.loadgen] if self.loadgen is not None else [])
        t_end = time.monotonic() + 1.0
        for p in procs:
            with contextlib.suppress(Exception):
                p.join(timeout=max(0.0, t_end - time.monotonic()))
        for p in procs:
            with contextlib.suppress(Exception):
                if p.is_alive():
                    if p.pid is not None:
                        os.kill(p.pid, signal.SIGCONT)
                    p.kill()
                p.join(timeout=2)
        for p in procs:
            p.close()
        self.reps.clear()

    def _close_limiter(self) -> None:
        if self.limiter is not None:
            self.limiter.close()
