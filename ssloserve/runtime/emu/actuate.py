"""The emulator's actuation executor: it carries out the steps that
:mod:`ssloserve.runtime.actuation` plans, with processes, core limits and pipes.

Chapter: 00_tour. What a change does is decided by the shared planner (the same rules as
the simulator, DESIGN.md "Actuation semantics"); here is only how the emulator makes it
happen: a :class:`~ssloserve.runtime.actuation.Start` spawns a replica process that loads
its model (a real cold start) and serves once it says ready; a
:class:`~ssloserve.runtime.actuation.Resize` writes the core limit and tells the replica
to change its thread count, in place (done when it confirms); a
:class:`~ssloserve.runtime.actuation.Stop` ends a starting or idle replica at once, a
:class:`~ssloserve.runtime.actuation.Drain` once its batch is done; a retiring replica
of the old variant serves until :func:`~ssloserve.runtime.actuation.on_ready` lets it go.
Each change is one :class:`_Change` of rows in ``Result.events`` (requested, in progress,
done, infeasible), as in the simulator. :class:`Actuator` is a part of
:class:`~ssloserve.runtime.emu.router.Router`.
"""

from __future__ import annotations

import contextlib
import math
import time

from ...pipeline import Config, StageConfig
from ..actuation import (
    Drain,
    Infeasible,
    Resize,
    Retire,
    SetBatch,
    Start,
    Stop,
    on_ready,
    plan_stage,
)
from .lifecycle import Replica
from .models import ModelSpec

__all__ = ["Actuator", "CHANGE_KINDS"]

#: The kinds of change the planner makes (the emulator also records ``ready``, ``crash``
#: and ``boost`` rows, which are not changes).
CHANGE_KINDS = ("batch", "variant", "scale_out", "scale_in", "resize")


class _Change:
    """One requested change of a stage: its rows in ``Result.events``. It is done once
    every replica it waits for (started, drained, resized) has finished. The initial
    replicas load before the run's clock starts, so the initial change goes from
    requested to done, as in the simulator."""

    def __init__(self, router, stage: str, kind: str, detail: str, initial: bool = False):
        self.router, self.stage, self.kind, self.detail = router, stage, kind, detail
        self.initial = initial
        self.pending: set = set()
        router._event(stage, kind, "requested", detail)

    def start(self, r: Replica) -> None:
        self.pending.add(r)
        r.groups.append(self)

    def launched(self) -> None:
        if not self.pending:
            self.router._event(self.stage, self.kind, "done", self.detail)
        elif not self.initial:
            self.router._event(self.stage, self.kind, "in_progress", self.detail)

    def finished(self, r: Replica, **extra) -> None:
        if r in self.pending:
            self.pending.discard(r)
            if not self.pending:
                self.router._event(self.stage, self.kind, "done", self.detail, **extra)


class Actuator:
    """Planning each stage's change with the shared planner, and executing its steps."""

    def _views(self, s: str) -> list:
        return [r.view() for r in self.st[s].replicas.values() if r.live]

    def _free_cores(self, s: str, variant: str) -> float:
        """Node cores not held by a live replica. Without ``node_cores``, this machine's
        cores bound the replicas that spend CPU (burn, torch); sleep replicas, which
        emulate their cores, are then unbounded."""
        node = self.opt.node_cores
        live = [r for r in self.reps.values() if r.live]
        if node is None:
            if not ModelSpec.from_variant(self._variant(s, variant)).uses_cpu:
                return math.inf
            node = self.machine
            live = [r for r in live if r.spec.uses_cpu]
        return float(node) - sum(r.holds for r in live)

    def _apply(self, config: Config, initial: bool = False) -> None:
        for s in self.stages:
            self._plan(s, config[s], initial)

    def _plan(self, s: str, target: StageConfig, initial: bool = False) -> None:
        """Plan stage ``s``'s change to ``target`` and carry it out now."""
        st = self.st[s]
        free = self._free_cores(s, target.variant)
        plan = plan_stage(st.target, target, self._views(s), free, initial=initial)
        for ch in plan.changes:
            g = _Change(self, s, ch.kind, ch.detail, initial)
            for step in ch.steps:
                self._execute(s, step, g)
            if ch.launched:
                g.launched()
        st.target = plan.config

    def _execute(self, s: str, step, g: _Change | None = None) -> None:
        """Carry out one step of a plan (``g``: the change it belongs to, if any)."""
        if isinstance(step, Start):
            r = self._start_replica(s, step.variant, step.cores)
            if g is not None:
                g.start(r)
        elif isinstance(step, SetBatch):
            pass  # the plan's config carries the batch size; the next batch uses it
        elif isinstance(step, Infeasible):
            self._event(s, g.kind, "infeasible", step.detail)
        else:
            r = self.st[s].replicas[step.rid]
            if isinstance(step, Stop):
                self._stop_replica(r, kill=r.state == "starting")
            elif isinstance(step, Drain):
                r.draining = True
                if r.busy:
                    if g is not None:
                        g.start(r)
                else:  # (the planner drains busy replicas only)
                    self._stop_replica(r)
            elif isinstance(step, Retire):
                r.retiring = True
            elif isinstance(step, Resize):
                self._resize(r, step.cores, g)

    def _resize(self, r: Replica, cores: float, g: _Change | None) -> None:
        """Write the new limit, tell the replica its thread count; a serving replica holds
        the larger of its old and new cores until it confirms, a starting one takes the
        new cores at once."""
        t_req = time.monotonic()
        self._account()
        if r.spec.uses_cpu and r.pid in self.limiter.cores:
            with contextlib.suppress(OSError, ProcessLookupError):
                self.limiter.set(r.pid, cores)
        tok = next(self._tok)
        if r.state == "starting":
            r.cores, r.resizing_to = cores, None
        else:
            r.resizing_to = cores
            if g is not None:
                g.start(r)
        self.pending_resize[tok] = (r.rid, t_req, cores)
        with contextlib.suppress(OSError, BrokenPipeError):
            r.conn.send(("cores", cores, tok))

    def _on_resized(self, r: Replica, msg) -> None:
        """Replica ``r`` runs its new thread count: its resize is done."""
        _, tok, t_applied = msg
        rid, t_req, cores = self.pending_resize.pop(tok, (None, None, None))
        if rid is None:
            return
        if self.limiter is not None and r.pid in self.limiter.cores:
            with contextlib.suppress(Exception):
                self.limiter.after_threads_changed(r.pid)
        delay = max(0.0, t_applied - t_req)
        self.resize_delays.append(delay)
        if r.resizing_to is not None and abs(r.resizing_to - cores) < 1e-12:
            self._account()
            r.cores, r.resizing_to = cores, None
            for g in list(r.groups):
                g.finished(r, replica=r.rid, resize_delay_s=delay)
            r.groups = [g for g in r.groups if r in g.pending]

    def _on_ready(self, r: Replica, msg) -> None:
        """Replica ``r`` loaded its model: it serves from now, the changes that waited for
        it may be done, and if it replaces an old variant, the retiring replicas that
        :func:`~ssloserve.runtime.actuation.on_ready` names go."""
        _, t_ready, pid, load_s = msg
        r.ready_t = self._rel(t_ready)
        cold = t_ready - r.t_requested
        self.cold_starts.append(cold)
        self._event(
            r.stage,
            "ready",
            "done",
            f"replica {r.rid} ready ({cold * 1000:.0f} ms cold start, {load_s * 1000:.0f} ms load)",
            replica=r.rid,
            cold_start_s=cold,
        )
        self.start_failures = 0
        if r.state != "starting":  # stopped while it loaded
            return
        r.state = "idle"
        self.free_since[r.rid] = self.now()
        for g in list(r.groups):
            g.finished(r)
        r.groups = [g for g in r.groups if r in g.pending]
        st = self.st[r.stage]
        if r.variant == st.target.variant and any(x.retiring for x in st.replicas.values()):
            for step in on_ready(self._views(r.stage), st.target.variant):
                self._execute(r.stage, step)

    def _drained(self, r: Replica) -> None:
        """A draining replica's batch is done: it stops."""
        self._stop_replica(r)

    def _left_groups(self, r: Replica) -> None:
        """Replica ``r`` stopped or died: the changes that waited for it stop waiting."""
        for g in list(r.groups):
            g.finished(r, replica=r.rid)
        r.groups = []
