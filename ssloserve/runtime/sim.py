"""The discrete-event simulator behind ``run(..., runtime="sim")``.

Chapter: 00_tour (and every chapter's paper-scale runs). Deterministic for a seed.

How it works, in one paragraph: arrivals are read in order from the workload (no event per
arrival); a binary heap holds the other events (a batch finishes, a replica is ready after
its cold start, a resize takes effect, a batch-delay timer fires, the policy's tick).
Each stage has a queue from :mod:`ssloserve.queues` and a heap of idle replicas (the one
idle longest goes first). A free replica takes up to ``b`` requests and is busy for the
service time l(k, c) of the ``k`` it took (deterministic, exponential or log-normal around
l). A finished batch moves its requests to the next stages; a stage with several upstream
stages (a join) starts a request once all of them finished it. Records are kept per batch
and written into the columnar :class:`~ssloserve.runtime.result.RequestLog` in chunks.

Ties: at equal times events go before arrivals and events keep the order they were
scheduled in. A ``Static`` policy on a chain with no batch delay takes a faster route with
the same semantics: each stage in one pass over its arrivals, batch by batch (the Lindley
recursion in closed form for one server and batch 1), the next stage's arrivals being this
stage's completions in the order the event loop would process them
(``tests/test_sim_fast.py`` checks the two agree record for record).

Actuation follows DESIGN.md: a vertical resize happens in place after ``resize_delay_ms``
(the batch in progress keeps its speed); a new replica (scale-out or a variant switch)
serves after ``cold_start_s``; scale-in drains (a busy replica finishes its batch); a
variant switch keeps the old replicas serving until the new ones are ready; a batch-size
change applies to the next batch. A change that needs more cores than ``node_cores`` free
is infeasible: it is recorded and the replica keeps its cores.

What a policy sees (:class:`~ssloserve.runtime.observation.Observation`) includes each
stage's measured utilisation over the last interval: the replica-seconds its ready (active
or draining) replicas spent serving batches, over the replica-seconds they were ready.

Ctrl-C stops a run at the next safe point (within about a thousand events) and returns what
was measured: requests that arrived are accounted for (the unfinished ones dropped with
reason ``interrupted``), the others are left out. Every result's accounting is checked
(:meth:`~ssloserve.runtime.result.Result.check_accounting`) before it is returned.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from array import array
from dataclasses import asdict

import numpy as np
import pandas as pd

from ..errors import ProfileError
from ..pipeline import Config, Pipeline, StageConfig
from ..queues import drop_threshold_s, make_queue
from .api import (
    PROGRESS_AFTER_S,
    RunOptions,
    SafeInterrupt,
    checked_config,
    initial_config,
    workload_arrays,
)
from .observation import Observation
from .result import (
    DROPPED,
    LATE,
    PENDING,
    REASONS,
    SERVED,
    RequestLog,
    Result,
    insert_rates,
)

_R_DEADLINE = REASONS.index("deadline_passed")
_R_CANNOT = REASONS.index("cannot_finish")
_R_KSLO = REASONS.index("k_slo")

__all__ = ["simulate"]

STARTING, ACTIVE, DRAINING, STOPPED = 0, 1, 2, 3
EV_DONE, EV_TICK, EV_READY, EV_RESIZED, EV_TIMER, EV_RETIRE = range(6)
INF = math.inf
_FLUSH = 1 << 17  # stage-visits kept in Python lists before they go into the numpy columns
_CHUNK = 1 << 16  # arrivals converted to Python floats at a time


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


class _Sim:
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
        self.counts = np.bincount(
            np.floor(a).astype(np.int64), minlength=int(math.ceil(horizon)) + 1
        )
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
        from ..policies import Static

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
            s.draw = _noise_source(opts, len(self.st))
            s.noise, s.ni = [], _CHUNK
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
        """(service s by batch size, expected service s by batch size), index 0 unused."""
        bmax = max(st.bmax, st.b)
        key = (st.name, variant, cores, bmax)
        hit = self._tables.get(key)
        if hit is not None:
            return hit
        v = st.stage.variant(variant)
        ks = np.arange(1, bmax + 1)
        lat = np.asarray(v.latency.latency(ks, cores), dtype=float).reshape(-1)
        if lat.shape != ks.shape:
            lat = np.array([float(v.latency.latency(int(k), cores)) for k in ks])
        if not (np.isfinite(lat).all() and (lat > 0).all()):
            k = int(ks[~(np.isfinite(lat) & (lat > 0))][0])
            raise ProfileError(
                f"stage {st.name!r}, variant {variant!r}: latency l(b={k}, c={cores:g}) = "
                f"{float(lat[k - 1])!r} ms is not a positive number"
            )
        exp = [0.0] + (lat / 1000.0).tolist()
        self._tables[key] = (exp, exp)
        return exp, exp

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

    # ---------------------------------------------------------------- actuation
    def apply(self, cfg: Config, t, initial=False):
        for st in self.st.values():
            self.reconcile(st, cfg[st.name], t, initial)

    def reconcile(self, st: _St, sc: StageConfig, t, initial=False):
        heap, cnt = self.heap, self.cnt
        if sc.batch != st.b:
            old = st.b
            st.b = sc.batch
            if st.b > st.bmax:
                st.bmax = st.b
                for r in st.reps:
                    r.tbl, r.exp = self.table(st, r.variant, r.cores)
            if not initial:
                g = _Group(self, t, st, "batch", f"batch {old}->{sc.batch}")
                g.launched(t)
        old_variant, retiring = st.variant, []
        if sc.variant != st.variant:
            g = _Group(self, t, st, "variant", f"{st.variant}->{sc.variant}")
            for r in st.reps:
                if r.state in (STARTING, ACTIVE) and r.variant != sc.variant and not r.retiring:
                    r.retiring = True
                    retiring.append(r)
                    heapq.heappush(heap, (t + self.opts.cold_start_s, next(cnt), EV_RETIRE, r))
            st.variant = sc.variant
            vgroup = g
        else:
            vgroup = None
        st.cores = sc.cores
        cur = [
            r
            for r in st.reps
            if r.state in (STARTING, ACTIVE) and r.variant == st.variant and not r.retiring
        ]
        m, want = len(cur), sc.replicas
        if m < want:
            g = vgroup or _Group(
                self, t, st, "scale_out", "initial" if initial else f"replicas {m}->{want}"
            )
            bad = 0
            for _ in range(want - m):
                if self.free_cores() + 1e-9 < sc.cores:
                    bad += 1
                    continue
                self.account(t)
                self.used += sc.cores
                if initial:
                    r = self.new_rep(st, st.variant, sc.cores, ACTIVE)
                    self.ready_change(st, t, 1)
                    heapq.heappush(st.idle, (t, r.rid, r))
                else:
                    r = self.new_rep(st, st.variant, sc.cores, STARTING)
                    g.start(r)
                    heapq.heappush(heap, (t + self.opts.cold_start_s, next(cnt), EV_READY, r))
            if bad:
                self.event(
                    t,
                    st,
                    g.kind,
                    "infeasible",
                    f"{bad} of {want - m} new replica(s) of {sc.cores:g} cores do not fit: "
                    f"{max(self.free_cores(), 0):g} of {self.node_cores:g} node cores free",
                )
            if bad < want - m or not bad:
                g.launched(t)
            elif vgroup is not None:  # no new replica fits: keep the old variant serving
                for r in retiring:
                    r.retiring = False
                st.variant = old_variant
                return
        elif vgroup is not None:
            vgroup.launched(t)
        if m > want:
            g = _Group(self, t, st, "scale_in", f"replicas {m}->{want}")
            order = sorted(
                cur,
                key=lambda r: (r.state != STARTING, r.busy, -r.rid),
            )
            for r in order[: m - want]:
                if r.state == STARTING or not r.busy:
                    self.stop(r, t)
                else:
                    r.state = DRAINING
                    g.start(r)
            g.launched(t)
            cur = order[m - want :]
        # vertical: every live replica of the current variant to sc.cores
        todo = [r for r in cur if r.target != sc.cores]
        if todo:
            g = _Group(self, t, st, "resize", f"cores {todo[0].target:g}->{sc.cores:g}")
            bad = 0
            for r in todo:
                new_res = max(r.cores, sc.cores) if r.state == ACTIVE else sc.cores
                if new_res - r.reserved > self.free_cores() + 1e-9:
                    bad += 1
                    continue
                self.account(t)
                self.used += new_res - r.reserved
                r.reserved = new_res
                r.target = sc.cores
                r.gen += 1
                if r.state == STARTING:
                    r.cores = sc.cores
                    r.tbl, r.exp = self.table(st, r.variant, r.cores)
                else:
                    g.start(r)
                    heapq.heappush(
                        heap,
                        (
                            t + self.opts.resize_delay_ms / 1000.0,
                            next(cnt),
                            EV_RESIZED,
                            (r, r.gen, sc.cores),
                        ),
                    )
            if bad:
                self.event(
                    t,
                    st,
                    "resize",
                    "infeasible",
                    f"{bad} replica(s) cannot grow to {sc.cores:g} cores: "
                    f"{max(self.free_cores(), 0):g} of {self.node_cores:g} node cores free; "
                    "they keep their cores",
                )
            if bad < len(todo):
                g.launched(t)

    def on_ready(self, r: _Rep, t):
        if r.state != STARTING:
            return
        r.state = ACTIVE
        self.ready_change(r.st, t, 1)
        heapq.heappush(r.st.idle, (t, r.rid, r))
        for g in list(r.groups):
            g.finished(r, t)
        r.groups = []

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

    def on_retire(self, r: _Rep, t):
        if not r.retiring:  # the switch was cancelled (its new replicas did not fit)
            return
        if r.state == STARTING or (r.state == ACTIVE and not r.busy):
            self.stop(r, t)
        elif r.state == ACTIVE:
            r.state = DRAINING

    # ---------------------------------------------------------------- observation
    def in_force(self) -> Config:
        out = {}
        for name, st in self.st.items():
            act = [r for r in st.reps if r.state == ACTIVE]
            variant = st.variant
            if act and not any(r.variant == variant for r in act):
                variant = act[0].variant
            cores = max((r.cores for r in act if r.variant == variant), default=st.cores)
            n = sum(1 for r in act if r.variant == variant)
            out[name] = StageConfig(variant, n, cores, st.b)
        return Config(out)

    def observe(self, t) -> Observation:
        s = int(math.floor(t + 1e-9))
        s = min(s, len(self.counts))
        lo = max(0, s - self.opts.history_s)
        return Observation(
            t_s=t,
            rates_rps=self.counts[lo:s].astype(float),
            config=self.in_force(),
            budgets_ms=(self.src.q.deadlines() - t) * 1000.0,
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

    # ---------------------------------------------------------------- the fast path
    def fast_ok(self) -> bool:
        """Static config, a chain, no batch delay, every stage served: one pass per stage."""
        if not (self.fast and self.static and self.pipeline.is_chain()):
            return False
        if self.opts.max_batch_delay_ms > 0:
            return False
        for st in self.st.values():
            act = [r for r in st.reps if r.state == ACTIVE]
            if not act or len({(r.variant, r.cores) for r in act}) != 1:
                return False
        return True

    def run_fast(self, wall0) -> Result:
        """Each stage in turn, batch by batch; stage k+1's arrivals are stage k's completions
        in the order the event loop would process them (finish time, then dispatch order),
        grouped by batch. Records go straight into the columns, in chunks."""
        log = self.log
        ids = None  # position -> request index (None: identity)
        A, G = self.a, None
        interrupted, t_stop, nb = False, INF, 0
        stop = SafeInterrupt()
        prog = _Progress(self.opts.progress, wall0, self.horizon * len(self.st), stop)
        try:
            stop.__enter__()
            for k, name in enumerate(self.pipeline.order):
                st = self.st[name]
                reps = sorted((r for r in st.reps if r.state == ACTIVE), key=lambda r: r.rid)
                t_off = k * self.horizon
                fifo = self.opts.queue == "fifo"
                if fifo and self.thr is None and st.b == 1 and len(reps) == 1:
                    served, n_b, intr, t_now = self._pass_lindley(st, A, ids, reps[0])
                elif fifo and self.thr is None and st.b == 1:
                    served, n_b, intr, t_now = self._pass_kw(st, A, ids, reps, prog, t_off)
                elif fifo or self._edf_is_fifo(ids):
                    served, n_b, intr, t_now = self._pass_fifo(st, A, G, ids, reps, prog, t_off)
                else:
                    served, n_b, intr, t_now = self._pass_edf(st, A, G, ids, reps, prog, t_off)
                nb += n_b
                log.accuracy[slice(None) if served is None else served] *= reps[0].acc
                if intr:
                    interrupted, t_stop = True, t_now
                    break
                del A, G, ids
                if k + 1 < len(self.st):
                    A, G, ids = self._next_input(st, served)
                del served
        except KeyboardInterrupt:
            interrupted = True
            t_stop = prog.t
        finally:
            stop.__exit__()
        prog.close(done=not interrupted)
        if interrupted:
            t_stop = max(float(t_stop), 0.0) if np.isfinite(t_stop) else 0.0
            for cols in log.stage_cols.values():
                late = ~(cols["finish_s"] <= t_stop)
                cols["start_s"][late] = np.nan
                cols["finish_s"][late] = np.nan
                cols["replica"][late] = -1
                cols["batch"][late] = 0
            n_arr = int(np.searchsorted(self.a, t_stop, side="right"))
            for j, (di, dr) in enumerate(self.drop_arrays):
                di = np.asarray(di, dtype=np.int64)
                self.drop_arrays[j] = (di[di < n_arr], np.asarray(dr)[di < n_arr])
            end_s = t_stop
        else:
            n_arr = self.n
            fin = log.stage_cols[self.pipeline.sink]["finish_s"]
            last = float(np.nanmax(fin)) if np.isfinite(fin).any() else 0.0
            end_s = max(self.horizon, last)
        self.account(end_s)
        self.path = "fast"
        return self.finish(n_arr, interrupted, end_s, wall0, nb)

    def _edf_is_fifo(self, ids) -> bool:
        """True when the requests reach this stage in (deadline, index) order, e.g. one
        budget for all: then earliest-deadline-first takes them exactly in arrival order
        (the queue is always a contiguous run of arrivals and its head has the earliest
        deadline), so the FIFO pass gives the same result without a heap."""
        d = self.d if ids is None else self.d[ids]
        if len(d) < 2:
            return True
        step = np.diff(d)
        if ids is None:
            return bool((step >= 0).all())
        return bool(((step > 0) | ((step == 0) & (np.diff(ids) > 0))).all())

    def _next_input(self, st, served):
        """The next stage's arrivals: times, batch-group ends and request indices (lean on
        memory: a paper-scale trace has tens of millions of requests)."""
        cols = self.log.stage_cols[st.name]
        finish = cols["finish_s"]
        if served is None:  # everyone, in index order
            order = np.argsort(finish, kind="stable")
        else:
            order = served[np.argsort(finish[served], kind="stable")]
        n = len(order)
        ids = order.astype(np.int32) if n < 2**31 else order
        del order
        fin = finish[ids]
        # a new batch group starts where the finish time or the replica changes
        new = np.empty(n, dtype=bool)
        new[:1] = True
        np.not_equal(fin[1:], fin[:-1], out=new[1:])
        rep = cols["replica"][ids]
        new[1:] |= rep[1:] != rep[:-1]
        del rep
        # G[i] = where i's group ends = the next group start: i + 1 where a group starts at
        # i + 1, then a suffix minimum carries it back over the group
        G = np.arange(1, n + 1, dtype=ids.dtype)
        G[:-1][~new[1:]] = np.iinfo(ids.dtype).max
        del new
        back = G[::-1]
        np.minimum.accumulate(back, out=back)
        return fin, G, ids

    def _write(self, st, req, bs, bf, br, bk):
        """Batch records (start, finish, replica, size per batch) for requests ``req``."""
        cols = self.log.stage_cols[st.name]
        k = np.frombuffer(bk, dtype=np.int32) if isinstance(bk, array) else np.asarray(bk)
        f64 = np.float64
        cols["start_s"][req] = np.repeat(np.frombuffer(bs, dtype=f64), k)
        cols["finish_s"][req] = np.repeat(np.frombuffer(bf, dtype=f64), k)
        cols["replica"][req] = np.repeat(np.frombuffer(br, dtype=np.int32), k)
        cols["batch"][req] = np.repeat(k.astype(np.int16), k)

    def _service_array(self, st, n, base_s):
        """Service times of ``n`` single requests in dispatch order (the stage's noise stream)."""
        svc = np.full(n, base_s)
        if st.draw is not None:
            for c0 in range(0, n, _CHUNK):
                svc[c0 : c0 + _CHUNK] *= np.asarray(st.draw())[: n - c0]
        return svc

    def _pass_lindley(self, st, A, ids, rep):
        """One server, batch 1, FIFO, no drops: the Lindley recursion
        ``D_n = max(A_n, D_{n-1}) + S_n`` in closed form,
        ``D_n = C_n + max_{k<=n}(A_k - C_{k-1})`` with ``C`` the cumulative service."""
        n = len(A)
        svc = self._service_array(st, n, rep.tbl[1])
        c = np.cumsum(svc)
        c -= svc
        np.subtract(A, c, out=c)
        np.maximum.accumulate(c, out=c)  # max_k (A_k - C_{k-1})
        c += np.cumsum(svc)  # D_n
        cols = self.log.stage_cols[st.name]
        req = slice(0, n) if ids is None else ids
        cols["finish_s"][req] = c
        c -= svc
        cols["start_s"][req] = c
        cols["replica"][req] = rep.rid
        cols["batch"][req] = 1
        return ids, n, False, 0.0

    def _pass_kw(self, st, A, ids, reps, prog, t_off):
        """Several servers, batch 1, FIFO, no drops (the Kiefer-Wolfowitz recursion): request
        n starts at max(A_n, earliest free time) on the replica free earliest."""
        n = len(A)
        base = reps[0].tbl[1]
        free = [(0.0, r.rid) for r in reps]
        heapreplace = heapq.heapreplace
        cols = self.log.stage_cols[st.name]
        done = 0
        s = 0.0
        intr = False
        try:
            for c0 in range(0, n, _CHUNK):
                svc = self._service_array(st, min(_CHUNK, n - c0), base)
                s_out = array("d")
                r_out = array("i")
                sa, ra = s_out.append, r_out.append
                for a, x in zip(A[c0 : c0 + _CHUNK].tolist(), svc.tolist(), strict=True):
                    f, rid = free[0]
                    s = f if f > a else a
                    heapreplace(free, (s + x, rid))
                    sa(s)
                    ra(rid)
                m = len(s_out)
                req = slice(c0, c0 + m) if ids is None else ids[c0 : c0 + m]
                start = np.frombuffer(s_out, dtype=np.float64)
                cols["start_s"][req] = start
                cols["finish_s"][req] = start + svc[:m]
                cols["replica"][req] = np.frombuffer(r_out, dtype=np.int32)
                cols["batch"][req] = 1
                done = c0 + m
                prog.update(t_off + s)
        except KeyboardInterrupt:
            intr = True
        if ids is None:
            served = None if done == n else np.arange(done)
        else:
            served = ids[:done]
        return served, done, intr, s

    def _pass_fifo(self, st, A, G, ids, reps, prog, t_off):
        """One FIFO stage, batch by batch (any b, replicas and drop rule)."""
        b, n = st.b, len(A)
        tbl, exp = reps[0].tbl, reps[0].exp
        free = [(0.0, r.rid) for r in reps]
        heapreplace = heapq.heapreplace
        draw = st.draw
        noise, ni = ([], _CHUNK) if draw is None else (st.noise, st.ni)
        drop = self.opts.drop
        cf = drop == "cannot_finish"
        rcode = _R_KSLO if drop == "k_slo" else _R_DEADLINE
        if self.thr is None:
            thrp = dlp = None
        else:
            thrp = self.thr if ids is None else self.thr[ids]
            dlp = self.d if ids is None else self.d[ids]
        keep = np.ones(n, dtype=bool)
        dpos: list = []
        dre: list = []
        bs, bf, br, bk = array("d"), array("d"), array("i"), array("i")
        seg = 0  # first position not yet written
        head = arr = 0
        t_last = -INF
        c0 = cl = 0
        Ac: list = []
        Gc: list = []
        s = 0.0
        it = 0
        intr = False
        done_head = 0

        def flush(upto):
            lo = seg
            if dpos:
                keep[np.asarray(dpos, dtype=np.int64)] = False
                self.drop_arrays.append(
                    (
                        np.asarray(dpos, dtype=np.int64) if ids is None else ids[dpos],
                        np.asarray(dre, dtype=np.int8),
                    )
                )
                dpos.clear()
                dre.clear()
            pos = np.flatnonzero(keep[lo:upto]) + lo
            self._write(st, pos if ids is None else ids[pos], bs, bf, br, bk)

        try:
            while True:
                f, rid = free[0]
                while arr < n:
                    j = arr - c0
                    if j >= cl:
                        c0, j = arr, 0
                        Ac = A[arr : arr + _CHUNK].tolist()
                        cl = len(Ac)
                        if G is not None:
                            Gc = G[arr : arr + _CHUNK].tolist()
                    x = Ac[j]
                    if x < f:
                        t_last = x
                        arr += 1
                    else:
                        break
                if head >= arr:
                    if arr >= n:
                        break
                    j = arr - c0
                    t_last = Ac[j]
                    arr = Gc[j] if G is not None else arr + 1
                s = f if f > t_last else t_last
                if thrp is None:
                    hi = head + b
                    if hi > arr:
                        hi = arr
                    k = hi - head
                    head = hi
                else:
                    k0 = arr - head
                    limit = s + exp[k0 if k0 < b else b] if cf else s
                    k = 0
                    while head < arr and k < b:
                        if thrp[head] < limit:
                            dpos.append(head)
                            dre.append(
                                (_R_DEADLINE if dlp[head] < s else _R_CANNOT) if cf else rcode
                            )
                        else:
                            k += 1
                        head += 1
                    if k == 0:
                        continue
                if draw is None:
                    svc = tbl[k]
                else:
                    if ni >= _CHUNK:
                        noise, ni = draw(), 0
                    svc = tbl[k] * noise[ni]
                    ni += 1
                heapreplace(free, (s + svc, rid))
                bs.append(s)
                bf.append(s + svc)
                br.append(rid)
                bk.append(k)
                done_head = head
                it += 1
                if not it & 0xFFFF:
                    flush(head)
                    seg = head
                    bs, bf, br, bk = array("d"), array("d"), array("i"), array("i")
                    prog.update(t_off + s)
        except KeyboardInterrupt:  # forget the batch being formed
            intr = True
            head = done_head
            dre[:] = [r for p, r in zip(dpos, dre, strict=True) if p < head]
            dpos[:] = [p for p in dpos if p < head]
        flush(head)
        if head == n and keep.all():  # everyone served: no index array needed
            return ids, it, intr, s
        keep[head:] = False
        served = np.flatnonzero(keep)
        if ids is not None:
            served = ids[served]
        return served, it, intr, s

    def _pass_edf(self, st, A, G, ids, reps, prog, t_off):
        """One EDF stage, batch by batch (any b, replicas and drop rule)."""
        b, n = st.b, len(A)
        tbl, exp = reps[0].tbl, reps[0].exp
        free = [(0.0, r.rid) for r in reps]
        heapreplace, heappush, heappop = heapq.heapreplace, heapq.heappush, heapq.heappop
        draw = st.draw
        noise, ni = ([], _CHUNK) if draw is None else (st.noise, st.ni)
        drop = self.opts.drop
        cf = drop == "cannot_finish"
        thr = None if drop == "never" else self.thr
        by_deadline = drop in ("deadline", "cannot_finish")
        rcode = _R_KSLO if drop == "k_slo" else _R_DEADLINE
        d = self.d
        qh: list = []
        members = array("q")
        seg_members = array("q")
        committed = 0
        bs, bf, br, bk = array("d"), array("d"), array("i"), array("i")
        dids: list = []
        dre: list = []
        arr = 0
        t_last = -INF
        c0 = cl = 0
        Ac: list = []
        Ic: list = []
        Dc: list = []
        Gc: list = []
        s = 0.0
        it = 0
        intr = False

        def load(at):
            ii = np.arange(at, min(at + _CHUNK, n)) if ids is None else ids[at : at + _CHUNK]
            return (
                A[at : at + _CHUNK].tolist(),
                ii.tolist(),
                d[ii].tolist(),
                None if G is None else G[at : at + _CHUNK].tolist(),
            )

        try:
            while True:
                f, rid = free[0]
                while arr < n:
                    j = arr - c0
                    if j >= cl:
                        c0, j = arr, 0
                        Ac, Ic, Dc, Gc = load(arr)
                        cl = len(Ac)
                    x = Ac[j]
                    if x < f:
                        t_last = x
                        heappush(qh, (Dc[j], Ic[j]))
                        arr += 1
                    else:
                        break
                if not qh:
                    if arr >= n:
                        break
                    j = arr - c0
                    t_last = Ac[j]
                    g = Gc[j] if G is not None else arr + 1
                    while arr < g:
                        j = arr - c0
                        if j >= cl:
                            c0, j = arr, 0
                            Ac, Ic, Dc, Gc = load(arr)
                            cl = len(Ac)
                        heappush(qh, (Dc[j], Ic[j]))
                        arr += 1
                s = f if f > t_last else t_last
                if thr is None:
                    k = len(qh)
                    if k > b:
                        k = b
                    for _ in range(k):
                        seg_members.append(heappop(qh)[1])
                else:
                    k0 = len(qh)
                    limit = s + exp[k0 if k0 < b else b] if cf else s
                    k = 0
                    while qh and k < b:
                        dl, i = heappop(qh)
                        if (dl if by_deadline else thr[i]) < limit:
                            dids.append(i)
                            dre.append((_R_DEADLINE if dl < s else _R_CANNOT) if cf else rcode)
                        else:
                            seg_members.append(i)
                            k += 1
                    if k == 0:
                        continue
                if draw is None:
                    svc = tbl[k]
                else:
                    if ni >= _CHUNK:
                        noise, ni = draw(), 0
                    svc = tbl[k] * noise[ni]
                    ni += 1
                heapreplace(free, (s + svc, rid))
                bs.append(s)
                bf.append(s + svc)
                br.append(rid)
                bk.append(k)
                committed = len(seg_members)
                it += 1
                if not it & 0xFFFF:
                    committed = 0
                    self._write(st, np.frombuffer(seg_members, dtype=np.int64), bs, bf, br, bk)
                    members.extend(seg_members)
                    seg_members = array("q")
                    bs, bf, br, bk = array("d"), array("d"), array("i"), array("i")
                    prog.update(t_off + s)
        except KeyboardInterrupt:  # forget the batch being formed
            intr = True
            del seg_members[committed:]
        if len(bk):
            self._write(st, np.frombuffer(seg_members, dtype=np.int64), bs, bf, br, bk)
            members.extend(seg_members)
        if dids:
            self.drop_arrays.append(
                (np.asarray(dids, dtype=np.int64), np.asarray(dre, dtype=np.int8))
            )
        return np.frombuffer(members, dtype=np.int64).copy(), it, intr, s

    # ---------------------------------------------------------------- the loop
    def run(self) -> Result:
        opts, policy = self.opts, self.policy
        wall0 = time.perf_counter()
        heap, cnt = self.heap, self.cnt
        heappush, heappop = heapq.heappush, heapq.heappop
        drop_idx, drop_reason = self.drop_idx, self.drop_reason
        dead, dag = self.dead, self.dag
        delay = opts.max_batch_delay_ms / 1000.0
        det = opts.service == "deterministic"

        def dispatch(st: _St, t):
            q = st.q
            idle = st.idle
            while idle and len(q):
                if delay and len(q) < st.b and t < st.gather_until:
                    if st.gather_until == INF:
                        st.gather_until = t + delay
                        heappush(heap, (t + delay, next(cnt), EV_TIMER, st))
                    return
                entry = heappop(idle)
                rep = entry[2]
                if rep.state != ACTIVE or rep.busy:
                    continue
                batch = q.take(st.b, t, rep.exp)
                if q.dropped:
                    di, dr = q.take_dropped()
                    drop_idx.extend(di)
                    drop_reason.extend(dr)
                    if dag:
                        for i in di:
                            dead[i] = 1
                if not batch:
                    heappush(idle, entry)
                    continue
                if det:
                    svc = rep.tbl[len(batch)]
                else:
                    j = st.ni
                    if j >= _CHUNK:
                        st.noise = st.draw()
                        j = 0
                    svc = rep.tbl[len(batch)] * st.noise[j]
                    st.ni = j + 1
                rep.busy = True
                rep.batch = batch
                rep.bstart = t
                st.gather_until = INF
                heappush(heap, (t + svc, next(cnt), EV_DONE, rep))

        # -- initial config
        obs0 = self.observe(0.0)
        cfg0 = initial_config(policy, self.pipeline, self.slo_ms, obs0)
        self.apply(cfg0, 0.0, initial=True)
        self.record_tick(0.0, cfg0)
        if self.fast_ok():
            return self.run_fast(wall0)
        interval = float(policy.interval_s)
        if not self.static and interval < self.horizon:
            heappush(heap, (interval, next(cnt), EV_TICK, None))

        a, n = self.a, self.n
        src = self.src
        srcq = src.q
        chunk = a[:_CHUNK].tolist()
        clen = len(chunk)
        base = 0
        ai = 0
        ta = chunk[0] if n else INF
        t = 0.0
        interrupted = False
        stop = SafeInterrupt()
        prog = _Progress(opts.progress, wall0, self.horizon, stop)
        it = queued = 0
        try:
            stop.__enter__()
            while True:
                if heap and heap[0][0] <= ta:
                    ev = heappop(heap)
                    t = ev[0]
                    kind = ev[2]
                    if kind == EV_DONE:
                        rep = ev[3]
                        st = rep.st
                        batch = rep.batch
                        st.m_idx.extend(batch)
                        st.b_start.append(rep.bstart)
                        st.b_fin.append(t)
                        st.b_rep.append(rep.rid)
                        st.b_k.append(len(batch))
                        st.b_acc.append(rep.acc)
                        # rep.busy stays True while the batch moves on: nothing below looks
                        # at this stage's replicas before it takes a new batch or goes idle
                        for s2 in st.succ:
                            push = s2.q.push
                            need = s2.join
                            if need is None:
                                if dag:
                                    for i in batch:
                                        if not dead[i]:
                                            push(i)
                                else:
                                    for i in batch:
                                        push(i)
                            else:
                                for i in batch:
                                    need[i] -= 1
                                    if need[i] == 0 and not dead[i]:
                                        push(i)
                            if s2.idle:
                                dispatch(s2, t)
                        if rep.state == ACTIVE:
                            q = st.q
                            if q and not delay:
                                # no other replica of this stage is idle (it would have
                                # taken the queue), so this one takes the next batch: the
                                # same steps as dispatch(), inlined on purpose (a helper
                                # call here costs 5-8% of an M/M/1 run, measured)
                                batch = q.take(st.b, t, rep.exp)
                                if q.dropped:
                                    di, dr = q.take_dropped()
                                    drop_idx.extend(di)
                                    drop_reason.extend(dr)
                                    if dag:
                                        for i in di:
                                            dead[i] = 1
                                if batch:
                                    if det:
                                        svc = rep.tbl[len(batch)]
                                    else:
                                        j = st.ni
                                        if j >= _CHUNK:
                                            st.noise = st.draw()
                                            j = 0
                                        svc = rep.tbl[len(batch)] * st.noise[j]
                                        st.ni = j + 1
                                    rep.batch = batch
                                    rep.bstart = t
                                    heappush(heap, (t + svc, next(cnt), EV_DONE, rep))
                                else:
                                    rep.busy = False
                                    rep.batch = None
                                    heappush(st.idle, (t, rep.rid, rep))
                            else:
                                rep.busy = False
                                rep.batch = None
                                heappush(st.idle, (t, rep.rid, rep))
                                if q:
                                    dispatch(st, t)
                        else:
                            rep.busy = False
                            rep.batch = None
                            if rep.state == DRAINING:
                                self.stop(rep, t)
                    elif kind == EV_TICK:
                        obs = self.observe(t)
                        cfg = policy.decide(obs)
                        if cfg is None:
                            cfg = obs.config
                        cfg = checked_config(cfg, self.pipeline, policy, t)
                        self.apply(cfg, t)
                        self.record_tick(t, cfg)
                        nt = t + interval
                        if nt < self.horizon - 1e-9:
                            heappush(heap, (nt, next(cnt), EV_TICK, None))
                        for st in self.st.values():
                            if st.idle and len(st.q):
                                dispatch(st, t)
                    elif kind == EV_READY:
                        self.on_ready(ev[3], t)
                        dispatch(ev[3].st, t)
                    elif kind == EV_RESIZED:
                        self.on_resized(ev[3], t)
                    elif kind == EV_TIMER:
                        st = ev[3]
                        if st.gather_until <= t:
                            st.gather_until = -INF
                            dispatch(st, t)
                            if st.gather_until == -INF:
                                st.gather_until = INF
                    else:  # EV_RETIRE
                        self.on_retire(ev[3], t)
                elif ta < INF:
                    # this arrival and, while no source replica is idle (an arrival can then
                    # only join the queue), every later one before the next event
                    h0 = heap[0][0] if heap else INF
                    while True:
                        t = ta
                        srcq.push(ai)
                        ai += 1
                        j = ai - base
                        if j < clen:
                            ta = chunk[j]
                        else:
                            base = ai
                            chunk = a[ai : ai + _CHUNK].tolist()
                            clen = len(chunk)
                            ta = chunk[0] if chunk else INF
                        if src.idle:
                            dispatch(src, t)
                            break
                        if not ta < h0:
                            break
                        queued += 1  # an arrival handled without a turn of the outer loop
                else:
                    break
                it += 1
                if not it & 0x3FF:  # a safe point: every record and queue is consistent
                    if stop.hit:
                        raise KeyboardInterrupt
                    if not it & 0x7FFF:
                        for st in self.st.values():
                            if len(st.m_idx) > _FLUSH:
                                self.flush(st)
                        prog.update(t)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            stop.__exit__()
            prog.close(done=not interrupted)
        end_s = t if interrupted else max(self.horizon, t)
        self.account(end_s)
        return self.finish(ai if interrupted else n, interrupted, end_s, wall0, it + queued)

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
        timeline = self.timeline_df(end_s)
        events = pd.DataFrame(self.events, columns=["t_s", "stage", "kind", "state", "detail"])
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
        return log.to_result(
            "sim", stages=self.pipeline.order, timeline=timeline, events=events, meta=meta
        )

    def timeline_df(self, end_s) -> pd.DataFrame:
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
        else:
            df = pd.DataFrame(
                rows, columns=["t_s", "cores", "replicas", "config", "target", "actuation"]
            )
        return insert_rates(df, self.a, self.horizon)


def _noise_source(opts: RunOptions, k: int):
    """Multiplicative service-time noise (mean 1) for stage ``k``: its own seeded stream, so a
    stage's draws do not depend on the other stages."""
    if opts.service == "deterministic":
        return None
    rng = np.random.default_rng([opts.seed, k])
    if opts.service == "exponential":
        return lambda: rng.exponential(1.0, _CHUNK).tolist()
    sig = math.sqrt(math.log1p(opts.service_cv**2))
    return lambda: rng.lognormal(-sig * sig / 2.0, sig, _CHUNK).tolist()


#: The emulator imports the Ctrl-C guard under this name.
_CtrlC = SafeInterrupt


class _Progress:
    """A progress bar over simulated time that appears once a run has taken
    :data:`PROGRESS_AFTER_S` (auto); every update is also a safe point to stop at Ctrl-C."""

    def __init__(self, progress, wall0, total, stop: SafeInterrupt | None = None):
        self.progress, self.wall0, self.total, self.stop = progress, wall0, total, stop
        self.bar = _bar(total) if progress else None
        self.t = 0.0

    def update(self, t):
        if self.stop is not None and self.stop.hit:
            raise KeyboardInterrupt
        self.t = t
        if self.progress is False:
            return
        if self.bar is None and time.perf_counter() - self.wall0 > PROGRESS_AFTER_S:
            self.bar = _bar(self.total)
        if self.bar is not None:
            self.bar.update(max(0, min(int(t), int(self.total)) - self.bar.n))

    def close(self, done: bool = True):
        if self.bar is not None:
            if done:
                self.bar.update(max(0, int(self.total) - self.bar.n))
            self.bar.close()


def _bar(total):
    from tqdm.auto import tqdm

    return tqdm(total=int(math.ceil(total)), unit="sim s", desc="sim", leave=False)


def simulate(
    pipeline: Pipeline, workload, policy, options: RunOptions | None = None, *, fast: bool = True
) -> Result:
    """Run the discrete-event simulator (what ``run(..., runtime="sim")`` calls).

    Parameters
    ----------
    pipeline, workload, policy : as for :func:`ssloserve.run`
    options : :class:`~ssloserve.runtime.api.RunOptions` (defaults when None)
    fast : use the batch-at-a-time path when it applies (a ``Static`` policy, a chain of
        stages, no batch delay): each stage in one pass over its arrivals, with the same
        semantics as the event loop (``tests/test_sim_fast.py`` checks they agree)

    Returns
    -------
    Result; ``meta["core_seconds"]`` is the exact integral of reserved cores, ``meta["path"]``
    says which route ran (``"fast"`` or ``"events"``) and ``meta["events_processed"]`` how much
    work it did (the event loop: arrivals, batch completions and other events; the fast path:
    batches).

    Examples
    --------
    >>> from ssloserve.pipeline import Pipeline, Stage, Variant, Config, StageConfig
    >>> from ssloserve.latency import LatencyModel
    >>> from ssloserve.policies import Static
    >>> from ssloserve.workloads import Workload
    >>> p = Pipeline.chain(Stage("a", (Variant("x", 0.8, LatencyModel(0, 0, 0, 100.0)),)))
    >>> w = Workload(np.array([0.0, 0.05, 0.3]), 140.0, 0)
    >>> r = simulate(p, w, Static(Config({"a": StageConfig("x", 1, 1.0, 1)})))
    >>> r.requests["finish_s"].round(3).tolist(), r.counts()
    ([0.1, 0.2, 0.4], {'served': 2, 'late': 1, 'dropped': 0})
    """
    sim = _Sim(pipeline, workload, policy, (options or RunOptions()).validate(), fast)
    del workload  # the simulator keeps arrivals and deadlines; let the caller free the rest
    return sim.run()
