"""The router thread's priority during an emulator run (the ``boost`` option).

The router mostly waits for messages, and a late wake-up delays every request, so while
it routes it runs in the bounded real-time class (``SCHED_RR`` 1, reset on fork, under a
:class:`~ssloserve.runtime.emu.limits.RealtimeGuard`), and at nice -20 otherwise; while
the policy thinks it is back in the normal class (a slow policy must not starve the
replicas). All of it is undone by :meth:`Boost._drop_priority` when the run ends, and
``meta["boost"]`` says what was granted. :class:`Boost` is a part of
:class:`~ssloserve.runtime.emu.router.Router`. Chapter: 00_tour ("the emulator").
"""

from __future__ import annotations

import contextlib
import os
import threading

from .limits import RT_BUDGET_S, RealtimeGuard, is_realtime, realtime

__all__ = ["Boost"]


class Boost:
    """Raising the router thread's priority for a run, and putting it back."""

    def _boost_init(self) -> None:
        self._nice = None
        self._rt_ok = False
        self._tid: int | None = None  # the router thread's id (for close from elsewhere)
        self._guard: RealtimeGuard | None = None
        self._sched0: tuple | None = None  # the router thread's (policy, param) before
        self._demoted_seen = self._demoted0 = 0

    def _boost_start(self) -> None:
        """Before any process starts: the guard, and nice -20 for the router thread."""
        self._tid = threading.get_native_id()
        if not self.eopt.boost:
            return
        # bounded real time in this process (main thread only), entered before the
        # throttler thread starts; the router thread gets nice -20 with reset-on-fork,
        # so the replicas it starts begin at normal priority (a CPU-bound replica in
        # the real-time class would escape its quota: cgroups refuse to take it)
        self._guard = RealtimeGuard().__enter__()
        self._demoted_seen = self._demoted0 = RealtimeGuard.tripped
        if not is_realtime(self._tid):
            with contextlib.suppress(OSError, AttributeError):
                self._sched0 = (
                    os.sched_getscheduler(self._tid),
                    os.sched_getparam(self._tid),
                )
            realtime(False, self._tid)
            with contextlib.suppress(OSError):
                nice = os.getpriority(os.PRIO_PROCESS, self._tid)
                os.setpriority(os.PRIO_PROCESS, self._tid, min(nice, -20))
                self._nice = nice

    def _boost_go(self) -> None:
        """The clock starts: real time while routing (a thread already real-time is the
        caller's, and left alone)."""
        if self.eopt.boost and self._guard.ok and not is_realtime(self._tid):
            self._rt_ok = True
            self._realtime(True)

    def _boost_meta(self) -> dict:
        return {
            "router_realtime": self._guard is not None and self._guard.ok,
            "realtime_dropped": RealtimeGuard.tripped - self._demoted0,
        }

    def _realtime(self, on: bool) -> None:
        """Router thread in the bounded real-time class (``SCHED_RR`` 1, reset on fork,
        under a :class:`~ssloserve.runtime.emu.limits.RealtimeGuard`) while it routes,
        back to normal while the policy thinks (a slow policy must not starve the
        replicas). Once the guard has demoted it (it ran too long without blocking), it
        stays normal for the rest of the run and the timeline says so."""
        if not self._rt_ok:
            return
        if RealtimeGuard.tripped > self._demoted_seen:
            self._demoted_seen = RealtimeGuard.tripped
            self._rt_ok = False
            realtime(False, self._tid)
            self._event(
                "", "boost", "dropped", f"real time ran over {RT_BUDGET_S:g} s without blocking"
            )
            return
        if not realtime(on, self._tid) and on:
            self._rt_ok = False

    def _drop_priority(self) -> None:
        self._rt_ok = False
        if self._sched0 is not None:
            with contextlib.suppress(OSError, AttributeError):
                os.sched_setscheduler(self._tid, *self._sched0)
            self._sched0 = None
        if self._nice is not None:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, self._tid, self._nice)
            self._nice = None
        if self._guard is not None:
            self._guard.close()
            self._guard = None
