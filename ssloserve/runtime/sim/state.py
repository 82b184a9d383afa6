"""The simulator's state: stages, replicas, cores, records, observation, end of a run.

Chapter: 00_tour. See :mod:`ssloserve.runtime.sim` for how the parts fit together.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import asdict

import numpy as np
import pandas as pd

from ...observation import Observation
from ...outcomes import DROPPED, LATE, PENDING, REASONS, SERVED
from ...pipeline import Config, Pipeline, StageConfig
from ...policy import Static
from ...queues import drop_threshold_s, make_queue
from ..actuation import ReplicaView
from ..inputs import workload_arrays
from ..observe import arrival_counts, build_observation, config_in_force
from ..options import RunOptions
from ..result import RequestLog, Result, end_of_run
from .service import CHUNK, noise_source, service_table

__all__ = ["SimState"]

STARTING, ACTIVE, DRAINING, STOPPED = 0, 1, 2, 3
_VIEW_STATE = {STARTING: "starting", DRAINING: "draining"}
INF = math.inf
#: Kinds of event on the heap: a batch done, the policy's tick, a replica ready after its
#: cold start, a resize in effect, a batch-delay timer.
EV_DONE, EV_TICK, EV_READY, EV_RESIZED, EV_TIMER = range(5)


class _Rep:
    __slots__ = (
        "rid",
        "st",
        "variant",
        "acc",
        "cores",
        "reserved",
        "target",
        "gen",
        "tbl",
        "exp",
        "state",
        "busy",
        "batch",
        "bstart",
        "retiring",
        "groups",
    )

    def __hash__(self):
        return id(self)


class _St:
    __slots__ = (
        "name",
        "stage",
        "q",
        "idle",
        "reps",
        "b",
        "variant",
        "cores",
        "succ",
        "preds",
        "join",
        "gather_until",
        "bmax",
        "next_rid",
        "last_state",
        "m_idx",
        "b_start",
        "b_fin",
        "b_rep",
        "b_k",
        "b_acc",
        "draw",
        "noise",
        "ni",
        "busy_fin",
        "busy_j",
        "busy_seen",
        "ready_n",
        "ready_acc",
        "ready_t",
        "ready_seen",
    )


class SimState:
    """The simulator's state and bookkeeping: stages, replicas, cores, records, what a
    policy observes, and the end of a run. The event loop (:mod:`.loop`), the actuation
    (:mod:`~ssloserve.runtime.sim.actuate`) and the fast path (:mod:`.fast`) work on it."""

    def __init__(self, pipeline: Pipeline, workload, policy, opts: RunOptions, fast=True):
        self.pipeline, self.policy, self.opts = pipeline, policy, opts
        a, d, _pay, horizon = workload_arrays(workload, opts.duration_s)
        self.a, self.d, self.horizon = a, d, horizon
        self.n = n = len(a)
        budgets = (d - a) * 1000.0
        self.slo_ms = float(
            opts.slo_ms
            if opts.slo_ms is not None
            else getattr(workload, "slo_ms", None) or (np.median(budgets) if n else 1000.0)
        )
        self.node_cores = opts.resolved_node_cores("sim")
        self.log = RequestLog(a, d, pipeline.order)
        # a request's finish is its finish at the sink: share the column (saves 8 B a request)
        self.log.finish_s = self.log.stage_cols[pipeline.sink]["finish_s"]
        self.log.accuracy[:] = 1.0
        self.thr = drop_threshold_s(opts.drop, a, d, opts.k_slo)
        self.counts = arrival_counts(a, horizon)
        self.heap: list = []
        self.cnt = itertools.count()
        self.used = 0.0
        self.core_acc = 0.0
        self.last_t = 0.0
        self.events: list = []
        self.timeline: list = []
        self._tables: dict = {}
        self.drop_idx: list[int] = []
        self.drop_arrays: list = []
        self.fast = fast
        self.drop_reason: list[int] = []
        self.dag = not pipeline.is_chain()
        self.dead = bytearray(n) if self.dag else None
        self.static = type(policy) is Static
        # stages
        self.st: dict[str, _St] = {}
        for name in pipeline.order:
            s = _St()
            s.name, s.stage = name, pipeline.stage(name)
            s.q = make_queue(opts.queue, d, opts.drop, self.thr, k_slo=opts.k_slo)
            s.idle, s.reps = [], []
            s.b, s.variant, s.cores = 1, s.stage.variants[0].name, s.stage.variants[0].cores
            s.gather_until = INF
            s.bmax = s.stage.max_batch
            s.next_rid = 0
            s.last_state = "done"
            # per finished batch: start, finish, replica, size, accuracy; members in m_idx
            s.m_idx, s.b_start, s.b_fin, s.b_rep, s.b_k, s.b_acc = [], [], [], [], [], []
            s.join = None
            s.draw = noise_source(opts, len(self.st))
            s.noise, s.ni = [], CHUNK
            # measured utilisation: service seconds of finished batches (summed up to
            # b_fin[busy_j]), and replica-seconds of ready (active or draining) replicas
            s.busy_fin, s.busy_j, s.busy_seen = 0.0, 0, 0.0
            s.ready_n, s.ready_acc, s.ready_t, s.ready_seen = 0, 0.0, 0.0, 0.0
            self.st[name] = s
        for name, s in self.st.items():
            s.succ = [self.st[x] for x in pipeline.successors(name)]
            s.preds = list(pipeline.predecessors(name))
            if len(s.preds) > 1:
                s.join = bytearray([len(s.preds)]) * n
        self.src = self.st[pipeline.source]

    # ---------------------------------------------------------------- service tables
    def table(self, st: _St, variant: str, cores: float):
        """(service s by batch size, the same as the expected service), index 0 unused."""
        bmax = max(st.bmax, st.b)
        key = (st.name, variant, cores, bmax)
        hit = self._tables.get(key)
        if hit is None:
            tbl = service_table(st.stage, variant, cores, bmax)
            hit = self._tables[key] = (tbl, tbl)
        return hit

    # ---------------------------------------------------------------- bookkeeping
    def account(self, t):
        if t > self.last_t:
            self.core_acc += self.used * (t - self.last_t)
            self.last_t = t

    def event(self, t, st, kind, state, detail):
        self.events.append((t, st.name, kind, state, detail))
        st.last_state = state

    def new_rep(self, st: _St, variant: str, cores: float, state: int) -> _Rep:
        r = _Rep()
        r.rid = st.next_rid
        st.next_rid += 1
        r.st, r.variant = st, variant
        r.acc = st.stage.variant(variant).accuracy
        r.cores = r.reserved = r.target = cores
        r.gen = 0
        r.tbl, r.exp = self.table(st, variant, cores)
        r.state, r.busy, r.batch, r.bstart, r.retiring = state, False, None, 0.0, False
        r.groups = []
        st.reps.append(r)
        return r

    def stop(self, r: _Rep, t):
        self.account(t)
        self.used -= r.reserved
        if r.state in (ACTIVE, DRAINING):
            self.ready_change(r.st, t, -1)
        r.state = STOPPED
        r.st.reps.remove(r)
        for g in r.groups:
            g.finished(r, t)
        r.groups = []

    def ready_change(self, st: _St, t, delta: int):
        """``delta`` replicas of ``st`` became ready (active) or stopped serving at ``t``."""
        st.ready_acc += st.ready_n * (t - st.ready_t)
        st.ready_t = t
        st.ready_n += delta

    def sum_finished(self, st: _St) -> None:
        """Add the service time of the batches recorded since the last call to ``busy_fin``."""
        j = st.busy_j
        if len(st.b_fin) > j:
            st.busy_fin += math.fsum(st.b_fin[j:]) - math.fsum(st.b_start[j:])
            st.busy_j = len(st.b_fin)

    def busy_until(self, st: _St, t) -> float:
        """Replica-seconds ``st`` has spent serving batches up to ``t`` (batches in progress
        count up to ``t``)."""
        self.sum_finished(st)
        return st.busy_fin + sum(t - r.bstart for r in st.reps if r.busy)

    def utilisation(self, t) -> dict:
        """Per stage, the measured busy fraction of its ready replicas since the previous
        call: busy replica-seconds / ready replica-seconds (stages with no ready replica in
        the interval are left out)."""
        out = {}
        for name, st in self.st.items():
            busy = self.busy_until(st, t)
            ready = st.ready_acc + st.ready_n * (t - st.ready_t)
            if ready - st.ready_seen > 1e-12:
                out[name] = min(1.0, max(0.0, (busy - st.busy_seen) / (ready - st.ready_seen)))
            st.busy_seen, st.ready_seen = busy, ready
        return out

    def free_cores(self):
        return self.node_cores - self.used

    # ---------------------------------------------------------------- observation
    def views(self, st: _St) -> list:
        """The live replicas of ``st`` as the actuation planner sees them."""
        return [
            ReplicaView(
                r.rid,
                r.variant,
                r.cores,
                _VIEW_STATE[r.state] if r.state != ACTIVE else ("busy" if r.busy else "idle"),
                r.retiring,
                r.target if r.target != r.cores else None,
                r.reserved,
            )
            for r in st.reps
        ]

    def target(self, st: _St) -> StageConfig:
        """The stage's config as last planned (its replica count is not needed)."""
        return StageConfig(st.variant, 0, st.cores, st.b)

    def in_force(self) -> Config:
        return config_in_force({n: (self.views(st), self.target(st)) for n, st in self.st.items()})

    def observe(self, t) -> Observation:
        return build_observation(
            t,
            counts=self.counts,
            history_s=self.opts.history_s,
            config=self.in_force(),
            waiting_deadlines_s=self.src.q.deadlines(),
            queue_lengths={n: len(st.q) for n, st in self.st.items()},
            actuation={n: st.last_state for n, st in self.st.items()},
            pipeline=self.pipeline,
            slo_ms=self.slo_ms,
            utilisation=self.utilisation(t) if t > 0 else {},
        )

    def record_tick(self, t, target: Config):
        cfg = self.in_force()
        self.timeline.append(
            (
                t,
                self.used,
                cfg.stages and sum(s.replicas for s in cfg.stages.values()),
                cfg,
                target,
                {n: st.last_state for n, st in self.st.items()},
            )
        )

    # ---------------------------------------------------------------- records
    def flush(self, st: _St):
        if not st.m_idx:
            return
        self.sum_finished(st)  # keep the busy time of the batches about to be flushed
        st.busy_j = 0
        idx = np.array(st.m_idx, dtype=np.int64)
        k = np.array(st.b_k, dtype=np.int64)
        b_start, b_fin, b_rep, b_acc = st.b_start, st.b_fin, st.b_rep, st.b_acc
        st.m_idx, st.b_start, st.b_fin, st.b_rep, st.b_k, st.b_acc = [], [], [], [], [], []
        cols = self.log.stage_cols[st.name]
        cols["start_s"][idx] = np.repeat(np.array(b_start), k)
        cols["finish_s"][idx] = np.repeat(np.array(b_fin), k)
        cols["replica"][idx] = np.repeat(np.array(b_rep, dtype=np.int32), k)
        cols["batch"][idx] = np.repeat(k.astype(np.int16), k)
        self.log.accuracy[idx] *= np.repeat(np.array(b_acc), k)

    def finish(self, n_arrived, interrupted, end_s, wall0, it) -> Result:
        log = self.log
        for st in self.st.values():
            self.flush(st)
        for st in self.st.values():
            cols = log.stage_cols[st.name]
            if not st.preds:
                cols["queue_s"][:] = log.arrival_s
            elif len(st.preds) == 1:
                cols["queue_s"][:] = log.stage_cols[st.preds[0]]["finish_s"]
            else:
                cols["queue_s"][:] = np.maximum.reduce(
                    [log.stage_cols[p]["finish_s"] for p in st.preds]
                )
        # log.finish_s is the sink's finish column (one array); statuses in chunks
        fin, dl, status = log.finish_s, log.deadline_s, log.status
        for lo in range(0, len(fin), 1 << 20):
            f, d_, s_ = (
                fin[lo : lo + (1 << 20)],
                dl[lo : lo + (1 << 20)],
                status[lo : lo + (1 << 20)],
            )
            s_[f <= d_ + 1e-12] = SERVED
            s_[f > d_ + 1e-12] = LATE
        if self.drop_idx:
            self.drop_arrays.append((self.drop_idx, self.drop_reason))
        for di, dr in self.drop_arrays:
            di = np.asarray(di, dtype=np.int64)
            log.status[di] = DROPPED
            log.reason[di] = np.asarray(dr, dtype=np.int8)
        if n_arrived < self.n:
            log.truncate(n_arrived)
        left = log.status == PENDING
        log.status[left] = DROPPED
        log.reason[left] = REASONS.index("interrupted" if interrupted else "no_replica")
        dropped = log.status == DROPPED
        log.finish_s[dropped] = np.nan
        log.accuracy[dropped] = np.nan
        wall = time.perf_counter() - wall0
        meta = {
            "seed": self.opts.seed,
            "options": asdict(self.opts),
            "node_cores": self.node_cores,
            "end_s": end_s,
            "core_seconds": self.core_acc,
            "interrupted": interrupted,
            "wall_s": wall,
            "events_processed": it,
            "sim_requests_per_wall_s": n_arrived / wall if wall > 0 else float("inf"),
            "slo_ms": self.slo_ms,
            "service": self.opts.service,
            "path": getattr(self, "path", "events"),
        }
        if interrupted:
            meta["interrupted_at_s"] = end_s
            meta["requests_not_arrived"] = self.n - n_arrived
        return end_of_run(
            log,
            "sim",
            stages=self.pipeline.order,
            timeline=self.timeline_df(),
            events=self.events,
            arrival_s=self.a,
            horizon_s=self.horizon,
            meta=meta,
        )

    def timeline_df(self):
        """The timeline rows; a Static run has one row per interval, all alike."""
        rows = self.timeline
        if self.static and rows:
            t0, used, reps, cfg, target, act = rows[0]
            iv = float(self.policy.interval_s)
            ts = np.arange(0.0, max(self.horizon, iv), iv)
            m = len(ts)
            df = pd.DataFrame({"t_s": ts, "cores": np.full(m, used), "replicas": reps})
            df["config"] = [cfg] * m
            df["target"] = [target] * m
            df["actuation"] = [act] * m
            return df
        return rows
