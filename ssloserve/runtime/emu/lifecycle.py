"""Replica lifecycle in the emulator's router: start, ready, stop, death and retry.

A replica is a :class:`~ssloserve.runtime.emu.worker.Worker` process running
:func:`~ssloserve.runtime.emu.replica.replica_main`. It is ``starting`` from the request
to its "ready" message (a real cold start: spawn, imports, model load), then ``idle`` or
``busy``; a stopped one is ``stopping`` until its process is gone, then ``dead``. A
replica that dies unasked is noticed through its sentinel; its in-flight requests are
retried (``max_retries``) or dropped with reason ``replica_crash``, and the stage is
planned again, so a replacement starts. *Which* replicas start, stop, drain or resize is
decided by the shared planner (:mod:`ssloserve.runtime.actuation`, executed by
:mod:`~ssloserve.runtime.emu.actuate`). :class:`Lifecycle` is a part of
:class:`~ssloserve.runtime.emu.router.Router` and works on its state (``st``, ``reps``,
``limiter``, ``events``). Chapter: 00_tour.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field

from ...errors import EmulatorError
from ...pipeline import StageConfig
from ..actuation import ReplicaView
from .models import ModelSpec
from .worker import Worker

__all__ = ["Lifecycle", "Replica", "StageState"]


@dataclass(eq=False)
class Replica:
    """One replica process as the router sees it."""

    rid: int
    stage: str
    variant: str
    accuracy: float
    spec: ModelSpec
    cores: float
    proc: object
    conn: object
    t_requested: float
    state: str = "starting"  # starting, idle, busy, stopping, dead
    draining: bool = False  # takes no new batch; stops once its batch is done
    busy: bool = False
    pid: int | None = None
    batch: tuple | None = None  # (batch_id, [request ids], [queue times], t_sent)
    ready_t: float | None = None
    retiring: bool = False  # an old variant serving until its replacement is ready
    resizing_to: float | None = None  # the cores of a resize in progress
    groups: list = field(default_factory=list)  # the changes waiting for this replica

    @property
    def live(self) -> bool:
        """Its process runs and was not asked to stop."""
        return self.state in ("starting", "idle", "busy")

    @property
    def holds(self) -> float:
        """Cores it holds on the node: during a resize of a serving replica, the larger of
        the old and the new."""
        if self.resizing_to is None:
            return self.cores
        return max(self.cores, self.resizing_to)

    def view(self) -> ReplicaView:
        """This replica as the actuation planner sees it."""
        state = "draining" if self.draining else self.state
        return ReplicaView(
            self.rid, self.variant, self.cores, state, self.retiring, self.resizing_to, self.holds
        )


@dataclass
class StageState:
    """A stage: its target config, its queue and its replicas (by id)."""

    name: str
    target: StageConfig
    queue: object = None
    replicas: dict = field(default_factory=dict)
    last_state: str = "done"  # the state of the stage's last change (Result.events)


class Lifecycle:
    """Starting and stopping replica processes, and what happens when one dies."""

    def _variant(self, stage: str, name: str):
        return self.pipeline.stage(stage).variant(name)

    def _start_replica(self, stage: str, variant: str, cores: float) -> Replica:
        """Start a process for a replica of ``variant`` and put it under its core limit."""
        v = self._variant(stage, variant)
        spec = ModelSpec.from_variant(v)
        rid = next(self._rid)
        t_req = time.monotonic()
        rt = self.eopt.boost and not spec.uses_cpu
        proc = self._spawn_replica(spec, cores, rt, f"replica-{stage}-{rid}")
        r = Replica(rid, stage, variant, v.accuracy, spec, cores, proc, proc.conn, t_req)
        r.pid = proc.pid
        self._account()
        self.reps[rid] = r
        self.st[stage].replicas[rid] = r
        if spec.uses_cpu and proc.pid is not None:
            try:
                self.limiter.add(proc.pid, cores)
            except (OSError, ProcessLookupError) as e:
                if proc.exitcode is None and os.path.exists(f"/proc/{proc.pid}"):
                    # alive and not limited: its results would mean nothing
                    raise EmulatorError(
                        f"could not put replica {rid} of stage {stage!r} under its "
                        f"{cores:g}-core limit ({self.limiter.backend}): {e}"
                    ) from e
                # it died before it could be limited: its sentinel reports the crash
        return r

    def _spawn_replica(self, spec: ModelSpec, cores: float, realtime: bool, name: str):
        """The replica's process handle: a :class:`~ssloserve.runtime.emu.worker.Worker`
        (``conn``, ``pid``, ``sentinel``, ``exitcode``, ``join``, ``kill``, ``close``).
        The Ray runtime overrides this with an actor behind the same interface, whose
        ``pid`` is None: a process the router does not limit or signal itself."""
        return Worker("replica", (spec, cores, os.getpid(), realtime), name=name)

    def _stop_replica(self, r: Replica, kill: bool = False) -> None:
        if r.state in ("stopping", "dead"):
            return
        self._ready_ends(r)
        self._account()
        r.state = "stopping"
        self._left_groups(r)
        with contextlib.suppress(OSError, BrokenPipeError, ValueError):
            if kill:
                raise OSError
            r.conn.send(("stop",))
        if kill:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                if r.pid is not None:
                    os.kill(r.pid, signal.SIGCONT)
                r.proc.kill()

    def _reap(self, r: Replica) -> None:
        """The process is gone: forget it everywhere."""
        self._account()
        r.state = "dead"
        with contextlib.suppress(Exception):
            r.proc.join(timeout=1)
        if self.limiter is not None and r.pid in self.limiter.cores:
            with contextlib.suppress(Exception):
                self.limiter.remove(r.pid)
        r.proc.close()
        self.st[r.stage].replicas.pop(r.rid, None)
        self.reps.pop(r.rid, None)

    def _account(self) -> None:
        """Integrate the cores held by live processes up to now (core-seconds)."""
        now = self.now()
        if now > self.last_t:
            self.core_acc += self.cores_in_use() * (now - self.last_t)
            self.last_t = now

    def cores_in_use(self) -> float:
        """Cores held by replicas whose process runs and was not asked to stop."""
        return float(sum(r.holds for r in self.reps.values() if r.live))

    def _on_death(self, r: Replica) -> None:
        if r.state == "stopping":
            self._reap(r)
            return
        now = self.now()
        was_starting = r.state == "starting"
        self.crashes += 1
        code = r.proc.exitcode
        self._event(r.stage, "crash", "done", f"replica {r.rid} died (exit {code})", replica=r.rid)
        self._ready_ends(r)
        self._left_groups(r)
        if r.batch is not None:
            bid, ids, qts, t_sent = r.batch
            self._busy_win[r.stage] += max(0.0, now - max(t_sent, self._win_t0))
            self.batches.pop(bid, None)
            for i, qt in zip(ids, qts, strict=True):
                if self.retries[i] < self.eopt.max_retries and self.deadline_s[i] > now:
                    self.retries[i] += 1
                    self._enqueue(r.stage, i, qt)
                else:
                    self._drop(i, "replica_crash", now)
        self._reap(r)
        if was_starting:
            self.start_failures += 1
            if self.start_failures >= 3:
                raise EmulatorError(
                    f"replicas of stage {r.stage!r} ({r.variant}) died while loading 3 times "
                    f"in a row (last exit code {code})"
                )
        if not r.draining and not r.retiring:
            self._plan(r.stage, self.st[r.stage].target)  # a replacement starts

    def _ready_ends(self, r: Replica) -> None:
        """Replica ``r`` stops serving now: add its ready time in this interval."""
        if r.ready_t is not None and r.state in ("idle", "busy"):
            self._ready_win[r.stage] += max(0.0, self.now() - max(r.ready_t, self._win_t0))
