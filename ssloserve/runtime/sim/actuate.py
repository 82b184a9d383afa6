"""The simulator's actuation executor: it carries out the steps that
:mod:`ssloserve.runtime.actuation` plans, with events on the simulator's heap.

Chapter: 00_tour. What a change does is decided by the shared planner (the same rules as
the emulator); here is only how the simulator makes it happen: a new replica holds its
cores at once and serves after ``cold_start_s`` (an ``EV_READY`` event); a resize of a
serving replica holds the larger of its old and new cores and takes effect after
``resize_delay_ms`` (``EV_RESIZED``; the batch in progress keeps its speed), of a
starting replica at once; a drained replica stops when its batch is done (the loop's
``EV_DONE``). Each change is one :class:`_Group` of rows in ``Result.events``.
"""

from __future__ import annotations

import heapq

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
from .state import ACTIVE, DRAINING, EV_READY, EV_RESIZED, STARTING, STOPPED

__all__ = ["Actuator"]


class _Group:
    """One requested change (a row per state in ``Result.events``)."""

    __slots__ = ("sim", "t", "st", "kind", "detail", "pending")

    def __init__(self, sim, t, st, kind, detail):
        self.sim, self.t, self.st, self.kind, self.detail = sim, t, st, kind, detail
        self.pending = set()
        sim.event(t, st, kind, "requested", detail)

    def start(self, rep):
        self.pending.add(rep)
        rep.groups.append(self)

    def launched(self, t):
        if self.pending:
            self.sim.event(t, self.st, self.kind, "in_progress", self.detail)
        else:
            self.sim.event(t, self.st, self.kind, "done", self.detail)

    def finished(self, rep, t):
        if rep in self.pending:
            self.pending.discard(rep)
            if not self.pending:
                self.sim.event(t, self.st, self.kind, "done", self.detail)


class Actuator:
    """The actuation half of the simulator (a mixin of :class:`~.state.SimState`)."""

    def apply(self, cfg: Config, t, initial=False):
        for st in self.st.values():
            self.reconcile(st, cfg[st.name], t, initial)

    def reconcile(self, st, sc: StageConfig, t, initial=False):
        """Plan the stage's change to ``sc`` and carry it out at ``t``."""
        if initial:  # the first batch size is not a change
            self.set_batch(st, sc.batch)
        plan = plan_stage(self.target(st), sc, self.views(st), self.free_cores(), initial=initial)
        for ch in plan.changes:
            g = _Group(self, t, st, ch.kind, ch.detail)
            for step in ch.steps:
                self.execute(st, step, t, g, initial)
            if ch.launched:
                g.launched(t)
        st.variant, st.cores = plan.config.variant, plan.config.cores

    def set_batch(self, st, b: int):
        st.b = b
        if b > st.bmax:
            st.bmax = b
            for r in st.reps:
                r.tbl, r.exp = self.table(st, r.variant, r.cores)

    def execute(self, st, step, t, g=None, initial=False):
        """Carry out one step of a plan (``g``: the change it belongs to, if any)."""
        if isinstance(step, Start):
            self.account(t)
            self.used += step.cores
            if initial:  # the initial replicas are warm
                r = self.new_rep(st, step.variant, step.cores, ACTIVE)
                self.ready_change(st, t, 1)
                heapq.heappush(st.idle, (t, r.rid, r))
            else:
                r = self.new_rep(st, step.variant, step.cores, STARTING)
                g.start(r)
                heapq.heappush(self.heap, (t + self.opts.cold_start_s, next(self.cnt), EV_READY, r))
        elif isinstance(step, SetBatch):
            self.set_batch(st, step.batch)
        elif isinstance(step, Infeasible):
            self.event(t, st, g.kind, "infeasible", step.detail)
        else:
            r = next(x for x in st.reps if x.rid == step.rid)
            if isinstance(step, Stop):
                self.stop(r, t)
            elif isinstance(step, Drain):
                r.state = DRAINING
                if g is not None:
                    g.start(r)
            elif isinstance(step, Retire):
                r.retiring = True
            else:
                self.resize(r, step, t, g)

    def resize(self, r, step: Resize, t, g):
        c = step.cores
        new_res = max(r.cores, c) if r.state == ACTIVE else c
        self.account(t)
        self.used += new_res - r.reserved
        r.reserved = new_res
        r.target = c
        r.gen += 1
        if r.state == STARTING:
            r.cores = c
            r.tbl, r.exp = self.table(r.st, r.variant, c)
        else:
            g.start(r)
            heapq.heappush(
                self.heap,
                (t + self.opts.resize_delay_ms / 1000.0, next(self.cnt), EV_RESIZED, (r, r.gen, c)),
            )

    def on_ready(self, r, t):
        """Replica ``r`` has finished its cold start: it serves, and if it replaces an old
        variant, the retiring replicas that :func:`~ssloserve.runtime.actuation.on_ready`
        names go."""
        if r.state != STARTING:
            return
        r.state = ACTIVE
        st = r.st
        self.ready_change(st, t, 1)
        heapq.heappush(st.idle, (t, r.rid, r))
        for g in list(r.groups):
            g.finished(r, t)
        r.groups = []
        if r.variant == st.variant and any(x.retiring for x in st.reps):
            for step in on_ready(self.views(st), st.variant):
                self.execute(st, step, t)

    def on_resized(self, arg, t):
        r, gen, c = arg
        if r.gen != gen or r.state == STOPPED:
            return
        self.account(t)
        self.used += c - r.reserved
        r.reserved = r.cores = c
        r.tbl, r.exp = self.table(r.st, r.variant, c)
        for g in list(r.groups):
            g.finished(r, t)
        r.groups = [g for g in r.groups if r in g.pending]
