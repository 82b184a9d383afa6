"""The emulator's router: per-stage queues, replica processes, the policy loop, actuation.

The router runs in the caller's process, in one thread, as an event loop over
``multiprocessing.connection.wait``: the load generator's pipe (arrivals), each
replica's pipe (ready, batch done, resize done) and each replica's process sentinel (it
died). Why in the caller's process and not a process of its own: the policy and the
``RequestLog`` live there (a policy written in a notebook cannot be pickled into a
spawned process), every decision is taken on the state the log records, and the
message path is one pipe hop shorter. The CPU-heavy work (load generation, models) is
in other processes, so the router's own work per request is a few tens of microseconds
(``benchmarks/bench_emu.py`` measures it).

Semantics follow DESIGN.md "Actuation semantics": a resize writes the core limit and
tells the replica to change its thread count, in place; scale-out starts a process that
loads its model (a real cold start) and serves once it says ready; scale-in drains (no
new batches, stop once idle); a variant switch starts replicas of the new variant and
drains the old ones as the new ones become ready. A replica that dies is noticed
through its sentinel, its in-flight requests are retried (``max_retries``) or dropped
with reason ``replica_crash``, and a replacement starts. Chapter: 00_tour.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import threading
import time
import weakref
from dataclasses import dataclass, field
from multiprocessing.connection import wait

import numpy as np
import pandas as pd

from ...errors import EmulatorError
from ...pipeline import Config, Pipeline, StageConfig
from ...queues import drop_threshold_s, make_queue
from ..api import checked_config, initial_config, workload_arrays
from ..observation import Observation
from ..result import PENDING, REASONS, RequestLog, Result, insert_rates
from .limits import (
    RT_BUDGET_S,
    CoreLimiter,
    RealtimeGuard,
    is_realtime,
    machine_cores,
    make_limiter,
    realtime,
)
from .models import ModelSpec
from .worker import Worker

__all__ = ["EmuOptions", "Router", "live_routers", "cleanup_all"]

_LIVE: weakref.WeakSet = weakref.WeakSet()


def live_routers() -> list:
    """Routers that have started processes and not yet cleaned up."""
    return list(_LIVE)


def cleanup_all() -> None:
    """Stop every live router's processes and remove its cgroups (atexit backstop)."""
    for r in list(_LIVE):
        with contextlib.suppress(Exception):
            r.close()


@dataclass
class EmuOptions:
    """Emulator settings. :func:`~ssloserve.runtime.emu.emulate` reads these names from any
    options object (a :class:`~ssloserve.runtime.api.RunOptions`, a mapping, ``None``);
    missing ones take these defaults. The first group means the same as in ``RunOptions``.

    Attributes
    ----------
    queue, drop, k_slo, max_batch_delay_ms, node_cores, duration_s, slo_ms, history_s,
    progress : as in :class:`~ssloserve.runtime.api.RunOptions` (``node_cores=None``: this
        machine's cores bound burn and torch replicas; sleep replicas, which emulate their
        cores, are then unbounded)
    core_limit : ``"auto"`` (strongest available), ``"cgroup"``, ``"cgroup_v1"``,
        ``"cgroup_v2"``, ``"throttle"``, ``"affinity"`` or ``"none"``
    boost : give the run priority over background work on the machine (needs root, else
        ignored): the replicas stand for dedicated cores, so other programs should not take
        their quota. CPU-bound replicas get cgroup weight 64x (or nice -10 under the
        throttle and affinity backends); the router thread nice -20; the threads that
        mostly wait (router while it routes, load generator, sleep replicas, throttler)
        the bounded real-time class (:func:`~ssloserve.runtime.emu.limits.realtime`:
        ``SCHED_RR`` 1, never inherited, dropped after 0.2 s without blocking). All of it
        ends with the run; ``meta["boost"]`` says what was granted
    max_retries : times a request whose replica crashed is queued again before it is
        dropped with reason ``replica_crash``
    drain_s : after the last arrival, how long to wait for requests still in the system
    start_timeout_s : initial replicas not ready by then are an error
    """

    queue: str = "fifo"
    drop: str = "never"
    k_slo: float = 2.0
    max_batch_delay_ms: float = 0.0
    node_cores: float | None = None
    duration_s: float | None = None
    slo_ms: float | None = None
    history_s: int = 600
    progress: bool | None = None
    core_limit: str = "auto"
    boost: bool = True
    max_retries: int = 1
    drain_s: float = 10.0
    start_timeout_s: float = 120.0

    @classmethod
    def from_any(cls, options) -> EmuOptions:
        """Read the fields above from ``options`` (any object or mapping, or ``None``)."""
        if isinstance(options, cls):
            return options
        out = cls()
        if options is None:
            return out
        if isinstance(options, dict):
            unknown = sorted(set(options) - set(cls.__dataclass_fields__))
            if unknown:
                raise EmulatorError(
                    f"unknown emulator option(s) {unknown}; options are "
                    f"{sorted(cls.__dataclass_fields__)}"
                )
        get = options.get if isinstance(options, dict) else (lambda k, d: getattr(options, k, d))
        for k in cls.__dataclass_fields__:
            v = get(k, None)
            if v is not None:
                setattr(out, k, v)
        return out


@dataclass(eq=False)
class _Replica:
    rid: int
    stage: str
    variant: str
    accuracy: float
    spec: ModelSpec
    cores: float
    proc: object
    conn: object
    t_requested: float
    state: str = "starting"  # starting, idle, busy, draining(+busy), stopping, dead
    draining: bool = False
    busy: bool = False
    pid: int | None = None
    batch: tuple | None = None  # (batch_id, [request ids], [queue times], t_sent)
    ready_t: float | None = None
    retiring: bool = False  # an old variant waiting for its replacement


@dataclass
class _StageState:
    name: str
    target: StageConfig
    queue: object = None
    replicas: dict = field(default_factory=dict)


class Router:
    """One emulator run: start processes, route requests, call the policy, clean up.

    Use :func:`ssloserve.runtime.emu.emulate` (or ``ssloserve.run(..., runtime="emu")``);
    this class is public for tests and benchmarks. ``close()`` is idempotent and is also
    registered with ``atexit`` and called from the SIGTERM handler.
    """

    def __init__(self, pipeline: Pipeline, workload, policy, options=None):
        self.pipeline = pipeline
        self.workload = workload
        self.policy = policy
        self.opt = EmuOptions.from_any(options)
        self.stages = list(pipeline.order)
        arr, dl, pay, horizon = workload_arrays(workload, self.opt.duration_s)
        self.arrival_s = np.ascontiguousarray(arr)
        self.deadline_s = np.ascontiguousarray(dl)
        self.payload = np.asarray(pay, dtype=np.int64)
        self.horizon_s = horizon
        self.log = RequestLog(arr, self.deadline_s, self.stages)
        self.threshold_s = drop_threshold_s(self.opt.drop, arr, self.deadline_s, self.opt.k_slo)
        self.free_since: dict[int, float] = {}
        self._win_t0 = 0.0  # start of the utilisation interval (s)
        self._busy_win = dict.fromkeys(pipeline.order, 0.0)
        self._ready_win = dict.fromkeys(pipeline.order, 0.0)
        self.n_final = 0
        self.core_acc = 0.0
        self.last_t = 0.0
        self.acc = np.ones(len(arr))
        self.retries = np.zeros(len(arr), dtype=np.int16)
        self.enq_t = {s: {} for s in self.stages}
        preds = {s: pipeline.predecessors(s) for s in self.stages}
        self.preds = preds
        self.join_left = {
            s: np.full(len(arr), len(p), dtype=np.int8) for s, p in preds.items() if len(p) > 1
        }
        self.limiter: CoreLimiter | None = None
        self.reps: dict[int, _Replica] = {}
        self.st: dict[str, _StageState] = {}
        self._rid = itertools.count()
        self._bid = itertools.count()
        self._tok = itertools.count()
        self.batches: dict[int, int] = {}  # batch id -> replica id
        self.events: list[dict] = []
        self.timeline: list[dict] = []
        self.pending_resize: dict[int, tuple] = {}  # token -> (rid, t_requested)
        self.loadgen = None
        self.lg_conn = None
        self.lg_done = False
        self.n_arrived = 0
        self.t0: float | None = None
        self.closed = False
        self._nice = None
        self._rt_ok = False
        self._tid: int | None = None  # the router thread's id (for close from elsewhere)
        self._guard: RealtimeGuard | None = None
        self._sched0: tuple | None = None  # the router thread's (policy, param) before
        self._demoted_seen = self._demoted0 = 0
        self.interrupted = False
        self.crashes = 0
        self.start_failures = 0
        self.cold_starts: list[float] = []
        self.resize_delays: list[float] = []
        self.lg_lag: list[float] = []
        self.machine = machine_cores()
        slo = float(np.median((dl - arr) * 1000.0)) if len(arr) else 1000.0
        self.slo_ms = float(self.opt.slo_ms) if self.opt.slo_ms is not None else slo

    # ------------------------------------------------------------------ time & events

    def now(self) -> float:
        """Seconds since the start of the run (0 before it starts)."""
        return 0.0 if self.t0 is None else time.monotonic() - self.t0

    def _rel(self, t_mono: float) -> float:
        return t_mono - self.t0 if self.t0 is not None else 0.0

    def _event(self, stage, kind, state, detail="", t=None, **extra):
        self.events.append(
            {"t_s": self.now() if t is None else t, "stage": stage, "kind": kind, "state": state}
            | {"detail": detail}
            | extra
        )

    # ------------------------------------------------------------------ replicas

    def _variant(self, stage: str, name: str):
        return self.pipeline.stage(stage).variant(name)

    def _capacity_ok(self, spec: ModelSpec, extra: float, per_replica: float) -> tuple[bool, str]:
        """Can the node give ``extra`` more cores (a replica of ``per_replica`` cores)?"""
        node = self.opt.node_cores
        if node is None:
            if not spec.uses_cpu:
                return True, ""
            node = self.machine
            in_use = sum(
                r.cores for r in self.reps.values() if r.spec.uses_cpu and r.state != "dead"
            )
        else:
            in_use = sum(r.cores for r in self.reps.values() if r.state != "dead")
        if per_replica > node + 1e-9:
            return False, f"{per_replica:g} cores per replica > {node:g} cores on the node"
        if in_use + extra > node + 1e-9:
            return False, f"{in_use + extra:g} cores in use would exceed the node's {node:g}"
        return True, ""

    def _start_replica(self, stage: str, variant: str, cores: float, why: str) -> _Replica | None:
        v = self._variant(stage, variant)
        spec = ModelSpec.from_variant(v)
        ok, detail = self._capacity_ok(spec, cores, cores)
        if not ok:
            self._event(stage, why, "infeasible", detail, variant=variant, cores=cores)
            return None
        rid = next(self._rid)
        t_req = time.monotonic()
        rt = self.opt.boost and not spec.uses_cpu
        proc = Worker("replica", (spec, cores, os.getpid(), rt), name=f"replica-{stage}-{rid}")
        r = _Replica(rid, stage, variant, v.accuracy, spec, cores, proc, proc.conn, t_req)
        r.pid = proc.pid
        self._account()
        self.reps[rid] = r
        self.st[stage].replicas[rid] = r
        if spec.uses_cpu:
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

        self._event(stage, why, "in_progress", f"replica {rid} loading {variant}", replica=rid)
        return r

    def _stop_replica(self, r: _Replica, kill: bool = False) -> None:
        if r.state in ("stopping", "dead"):
            return
        self._ready_ends(r)
        r.state = "stopping"
        with contextlib.suppress(OSError, BrokenPipeError, ValueError):
            if kill:
                raise OSError
            r.conn.send(("stop",))
        if kill:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                os.kill(r.pid, signal.SIGCONT)
                r.proc.kill()

    def _reap(self, r: _Replica) -> None:
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

    def _live(self, stage: str, variant: str | None = None) -> list[_Replica]:
        """Replicas that count toward the stage's target (not draining, not retiring)."""
        return [
            r
            for r in self.st[stage].replicas.values()
            if r.state in ("starting", "idle", "busy")
            and not r.draining
            and not r.retiring
            and (variant is None or r.variant == variant)
        ]

    # ------------------------------------------------------------------ actuation

    def _apply(self, config: Config, first: bool = False) -> None:
        for s in self.stages:
            new = config[s]
            st = self.st[s]
            old = st.target
            if new.variant != old.variant:
                retiring = self._live(s)
                for r in retiring:
                    r.retiring = True
                self._event(s, "variant", "requested", f"{old.variant} -> {new.variant}")
                started = 0
                for _ in range(new.replicas):
                    if self._start_replica(s, new.variant, new.cores, "variant"):
                        started += 1
                if started == 0 and new.replicas > 0:
                    # no new replica fits: infeasible, the old variant keeps serving (as in
                    # the simulator); the policy may ask again at its next decision
                    for r in retiring:
                        r.retiring = False
                    continue
                st.target = StageConfig(new.variant, new.replicas, new.cores, new.batch)
                if started == 0:  # a switch to zero replicas: the old ones just go
                    for r in list(st.replicas.values()):
                        if r.retiring:
                            self._drain(r)
                continue
            cores = old.cores
            if abs(new.cores - old.cores) > 1e-9 and not first:
                cores = self._resize_stage(s, new.cores)
            st.target = StageConfig(new.variant, new.replicas, cores, new.batch)
            self._reconcile(s, first=first)

    def _resize_stage(self, s: str, cores: float) -> float:
        """Change every live replica of ``s`` to ``cores`` in place; returns the cores in force."""
        st = self.st[s]
        live = [r for r in st.replicas.values() if r.state in ("starting", "idle", "busy")]
        old = st.target.cores
        spec = ModelSpec.from_variant(self._variant(s, st.target.variant))
        ok, detail = self._capacity_ok(spec, (cores - old) * len(live), cores)
        if not ok:
            self._event(s, "resize", "infeasible", f"{old:g} -> {cores:g}: {detail}")
            return old
        for r in live:
            t_req = time.monotonic()
            if r.spec.uses_cpu and r.pid in self.limiter.cores:
                with contextlib.suppress(OSError, ProcessLookupError):
                    self.limiter.set(r.pid, cores)
            self._account()
            r.cores = cores
            tok = next(self._tok)
            self.pending_resize[tok] = (r.rid, t_req)
            with contextlib.suppress(OSError, BrokenPipeError):
                r.conn.send(("cores", cores, tok))
            self._event(s, "resize", "requested", f"{old:g} -> {cores:g}", replica=r.rid)
        return cores

    def _drain(self, r: _Replica) -> None:
        if r.state == "starting":
            self._stop_replica(r, kill=True)
            self._event(r.stage, "scale_in", "done", f"replica {r.rid} cancelled", replica=r.rid)
            return
        r.draining = True
        if not r.busy:
            self._stop_replica(r)
            self._event(r.stage, "scale_in", "done", f"replica {r.rid} stopped", replica=r.rid)
        else:
            self._event(r.stage, "scale_in", "in_progress", f"draining {r.rid}", replica=r.rid)

    def _reconcile(self, s: str, first: bool = False) -> None:
        st = self.st[s]
        tgt = st.target
        live = self._live(s, tgt.variant)
        if len(live) < tgt.replicas:
            for _ in range(tgt.replicas - len(live)):
                if self._start_replica(s, tgt.variant, tgt.cores, "scale_out") is None:
                    break
        elif len(live) > tgt.replicas:
            order = {"starting": 0, "idle": 1, "busy": 2}
            victims = sorted(live, key=lambda r: (order[r.state], -r.rid))
            for r in victims[: len(live) - tgt.replicas]:
                self._drain(r)

    def actuated_config(self) -> Config:
        """The config in force: per stage the serving (ready, not draining) replicas."""
        out = {}
        for s in self.stages:
            st = self.st[s]
            serving = [
                r for r in st.replicas.values() if r.state in ("idle", "busy") and not r.draining
            ]
            variant = st.target.variant
            if serving and all(r.variant != variant for r in serving):
                variant = serving[0].variant
            cores = st.target.cores
            out[s] = StageConfig(variant, len(serving), cores, st.target.batch)
        return Config(out)

    def _account(self) -> None:
        """Integrate the cores held by live processes up to now (core-seconds)."""
        now = self.now()
        if now > self.last_t:
            self.core_acc += self.cores_in_use() * (now - self.last_t)
            self.last_t = now

    def cores_in_use(self) -> float:
        return float(sum(r.cores for r in self.reps.values() if r.state != "dead"))

    # ------------------------------------------------------------------ requests

    def _enqueue(self, s: str, i: int, t: float) -> None:
        self.enq_t[s][i] = t
        self.st[s].queue.push(i)

    def _arrive(self, i0: int, i1: int) -> None:
        src = self.pipeline.source
        for i in range(i0, i1):
            self._enqueue(src, i, float(self.arrival_s[i]))
        self.n_arrived = max(self.n_arrived, i1)

    def _finish_stage(self, r: _Replica, t_start: float, t_finish: float, t_recv: float) -> None:
        bid, ids, qts, _ = r.batch
        s = r.stage
        n = len(ids)
        for i, qt in zip(ids, qts, strict=True):
            self.log.stage_done(
                s, i, queue_s=qt, start_s=t_start, finish_s=t_finish, replica=r.rid, batch=n
            )
            self.acc[i] *= r.accuracy
            if s == self.pipeline.sink:
                if self.log.status[i] == PENDING:
                    self.n_final += 1
                self.log.finish(i, t_recv, accuracy=float(self.acc[i]))
                continue
            for nxt in self.pipeline.successors(s):
                if nxt in self.join_left:
                    self.join_left[nxt][i] -= 1
                    if self.join_left[nxt][i] > 0:
                        continue
                self._enqueue(nxt, i, t_finish)

    def _drop(self, i: int, reason: str, t: float) -> None:
        if self.log.status[i] == PENDING:
            self.n_final += 1
            self.log.drop(i, reason, t)

    def _service_s(self, s: str, b: int) -> list[float]:
        """Service time (s) of a batch of each size 0..b at stage ``s`` (for ``cannot_finish``)."""
        st = self.st[s]
        v = self._variant(s, st.target.variant)
        return [0.0] + [float(v.latency_ms(k, st.target.cores)) / 1000.0 for k in range(1, b + 1)]

    def _dispatch(self) -> float | None:
        """Send batches to idle replicas. Returns the time (s) of the next partial-batch
        timeout (``max_batch_delay_ms``) to wake up for, if any."""
        now = self.now()
        wake = None
        delay = float(self.opt.max_batch_delay_ms) / 1000.0
        for s in self.stages:
            st = self.st[s]
            q = st.queue
            if not len(q):
                continue
            b = max(1, st.target.batch)
            idle = [r for r in st.replicas.values() if r.state == "idle" and not r.draining]
            idle.sort(key=lambda r: (self.free_since.get(r.rid, 0.0), r.rid))
            for r in idle:
                if not len(q):
                    break
                if r.state != "idle" or r.draining:
                    continue
                if delay > 0 and len(q) < b:
                    since = max(self.free_since.get(r.rid, now), self._head_enqueued(s))
                    if now < since + delay - 1e-6:
                        wake = since + delay if wake is None else min(wake, since + delay)
                        break
                service = self._service_s(s, b) if self.opt.drop == "cannot_finish" else 0.0
                ids = q.take(b, now, service)
                dropped, reasons = q.take_dropped()
                for i, code in zip(dropped, reasons, strict=True):
                    self.enq_t[s].pop(i, None)
                    self._drop(i, REASONS[code], now)
                ids = [i for i in ids if self.log.status[i] == PENDING]
                if not ids:
                    continue
                bid = next(self._bid)
                qts = [self.enq_t[s].pop(i) for i in ids]
                r.batch = (bid, ids, qts, now)
                try:
                    r.conn.send(("batch", bid, len(ids), self.payload[ids].tolist()))
                except (OSError, BrokenPipeError):
                    pass  # the replica is dying; its sentinel reports it and the batch is retried
                r.state = "busy"
                r.busy = True
                self.batches[bid] = r.rid
        return wake

    def _head_enqueued(self, s: str) -> float:
        ids = self.st[s].queue.ids()
        return self.enq_t[s].get(ids[0], 0.0) if ids else 0.0

    # ------------------------------------------------------------------ messages

    def _on_replica_msg(self, r: _Replica, msg) -> None:
        op = msg[0]
        if op == "ready":
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
            if r.state == "stopping":
                return
            r.state = "idle"
            self.free_since[r.rid] = self.now()
            if r.retiring:  # a replica of the old variant that was still loading
                self._drain(r)
                return
            st = self.st[r.stage]
            if r.variant == st.target.variant:
                retiring = [x for x in st.replicas.values() if x.retiring and not x.draining]
                if retiring:
                    ready_new = [
                        x
                        for x in self._live(r.stage, st.target.variant)
                        if x.state in ("idle", "busy")
                    ]
                    # one old replica goes per new one ready; all go once the new are all up
                    n = len(retiring) if len(ready_new) >= st.target.replicas else 1
                    for x in retiring[:n]:
                        self._drain(x)
                    if n == len(retiring):
                        self._event(r.stage, "variant", "done", f"now {r.variant}")
        elif op == "done":
            _, bid, t_start, t_finish = msg
            t_recv = self.now()
            if r.batch is None or r.batch[0] != bid:
                return
            self._finish_stage(r, self._rel(t_start), self._rel(t_finish), t_recv)
            self._busy_win[r.stage] += max(0.0, t_recv - max(r.batch[3], self._win_t0))
            self.batches.pop(bid, None)
            r.batch = None
            r.busy = False
            if r.state == "busy":
                r.state = "idle"
                self.free_since[r.rid] = t_recv
            if r.draining and r.state == "idle":
                self._stop_replica(r)
                self._event(r.stage, "scale_in", "done", f"replica {r.rid} drained", replica=r.rid)
        elif op == "cores_ok":
            _, tok, t_applied = msg
            rid, t_req = self.pending_resize.pop(tok, (None, None))
            if rid is None:
                return
            if self.limiter is not None and r.pid in self.limiter.cores:
                with contextlib.suppress(Exception):
                    self.limiter.after_threads_changed(r.pid)
            delay = max(0.0, t_applied - t_req)
            self.resize_delays.append(delay)
            self._event(
                r.stage,
                "resize",
                "done",
                f"replica {r.rid} at {r.cores:g} cores ({delay * 1000:.1f} ms)",
                replica=r.rid,
                resize_delay_s=delay,
            )

    def _on_death(self, r: _Replica) -> None:
        if r.state == "stopping":
            self._reap(r)
            return
        now = self.now()
        was_starting = r.state == "starting"
        self.crashes += 1
        code = r.proc.exitcode
        self._event(r.stage, "crash", "done", f"replica {r.rid} died (exit {code})", replica=r.rid)
        self._ready_ends(r)
        if r.batch is not None:
            bid, ids, qts, t_sent = r.batch
            self._busy_win[r.stage] += max(0.0, now - max(t_sent, self._win_t0))
            self.batches.pop(bid, None)
            for i, qt in zip(ids, qts, strict=True):
                if self.retries[i] < self.opt.max_retries and self.deadline_s[i] > now:
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
        if not r.draining:
            self._reconcile(r.stage)

    # ------------------------------------------------------------------ policy

    def _rates(self, now: float) -> np.ndarray:
        k = int(np.floor(now))
        if k <= 0:
            return np.zeros(0)
        arr = self.arrival_s[: self.n_arrived]
        rates = np.bincount(np.floor(arr[arr < k]).astype(np.int64), minlength=k)[:k]
        return rates[-int(self.opt.history_s) :].astype(float)

    def _ready_ends(self, r: _Replica) -> None:
        """Replica ``r`` stops serving now: add its ready time in this interval."""
        if r.ready_t is not None and r.state in ("idle", "busy"):
            self._ready_win[r.stage] += max(0.0, self.now() - max(r.ready_t, self._win_t0))

    def utilisation(self) -> dict:
        """Per stage, the measured busy fraction of its ready replicas since the last call
        (busy replica-seconds / ready replica-seconds; a replica is busy from sending it a
        batch to receiving its answer, ready from its "ready" until it stops or dies);
        stages with no ready replica in the interval are left out. Starts a new interval."""
        now = self.now()
        w0 = self._win_t0
        out = {}
        for s in self.stages:
            busy, ready = self._busy_win[s], self._ready_win[s]
            for r in self.st[s].replicas.values():
                if r.ready_t is not None and r.state in ("idle", "busy"):
                    ready += max(0.0, now - max(r.ready_t, w0))
                if r.batch is not None:
                    busy += max(0.0, now - max(r.batch[3], w0))
            if ready > 1e-9:
                out[s] = min(1.0, busy / ready)
            self._busy_win[s] = self._ready_win[s] = 0.0
        self._win_t0 = now
        return out

    def observation(self) -> Observation:
        now = self.now()
        src = self.pipeline.source
        budgets = (self.st[src].queue.deadlines() - now) * 1000.0
        extra = {}
        if "utilisation" in getattr(Observation, "__dataclass_fields__", {}):
            extra["utilisation"] = self.utilisation()
        return Observation(
            t_s=now,
            rates_rps=self._rates(now),
            config=self.actuated_config(),
            budgets_ms=np.asarray(budgets, dtype=float),
            queue_lengths={s: len(self.st[s].queue) for s in self.stages},
            actuation=self._actuation_state(),
            pipeline=self.pipeline,
            slo_ms=self.slo_ms,
            **extra,
        )

    def _actuation_state(self) -> dict:
        out = {}
        for e in self.events:
            if e["kind"] in ("resize", "scale_out", "scale_in", "variant", "ready"):
                out[e["stage"]] = e["state"]
        for s in self.stages:
            if any(r.state == "starting" for r in self.st[s].replicas.values()):
                out[s] = "in_progress"
        return out

    def _record_interval(self, target: Config) -> None:
        cfg = self.actuated_config()
        self.timeline.append(
            {
                "t_s": self.now(),
                "cores": self.cores_in_use(),
                "replicas": sum(sc.replicas for sc in cfg.stages.values()),
                "config": cfg,
                "target": target,
                "actuation": self._actuation_state(),
            }
        )

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

    def _decide(self) -> None:
        obs = self.observation()
        self._realtime(False)
        try:
            decided = self.policy.decide(obs)
        finally:
            self._realtime(True)
        if decided is None:  # no change: keep the current targets
            decided = Config({s: self.st[s].target for s in self.stages})
        cfg = checked_config(decided, self.pipeline, self.policy, obs.t_s)
        self._apply(cfg)
        self._record_interval(cfg)

    # ------------------------------------------------------------------ run

    def _initial_config(self) -> Config:
        obs0 = Observation(
            t_s=0.0,
            rates_rps=np.zeros(0),
            config=Config.default(self.pipeline),
            pipeline=self.pipeline,
            slo_ms=self.slo_ms,
        )
        return initial_config(self.policy, self.pipeline, self.slo_ms, obs0)

    def _wait_objects(self):
        objs = {}
        if self.lg_conn is not None:
            objs[self.lg_conn] = ("lg", None)
        for r in list(self.reps.values()):
            if r.state == "dead":
                continue
            objs[r.conn] = ("msg", r)
            if r.proc.sentinel is not None:
                objs[r.proc.sentinel] = ("death", r)
        return objs

    def _pump(self, timeout: float) -> None:
        """Wait for and handle every ready message or death, at most ``timeout`` seconds."""
        objs = self._wait_objects()
        ready = wait(list(objs), timeout=max(0.0, timeout))
        deaths = []
        for o in ready:
            kind, r = objs[o]
            if kind == "lg":
                try:
                    while self.lg_conn.poll():
                        m = self.lg_conn.recv()
                        if m[0] == "arr":
                            self._arrive(m[1], m[2])
                            self.lg_lag.append(self._rel(m[3]) - float(self.arrival_s[m[1]]))
                        elif m[0] == "end":
                            self.lg_done = True
                except (EOFError, OSError):
                    self.lg_done = True
                    if self.n_arrived < len(self.arrival_s):
                        raise EmulatorError("the load generator died") from None
            elif kind == "msg":
                try:
                    while r.state != "dead" and r.conn.poll():
                        self._on_replica_msg(r, r.conn.recv())
                except (EOFError, OSError):
                    deaths.append(r)
            else:
                deaths.append(r)
        for r in deaths:
            if r.state != "dead":
                with contextlib.suppress(Exception):
                    r.proc.join(timeout=0.5)
                if r.proc.exitcode is None:
                    continue  # pipe error without exit yet; the sentinel will follow
                # read what it said before dying (a finished batch counts)
                with contextlib.suppress(EOFError, OSError):
                    while r.conn.poll():
                        self._on_replica_msg(r, r.conn.recv())
                self._on_death(r)

    def start(self, stop=None) -> None:
        """Create the limiter, start the initial replicas and the load generator; wait until
        all are ready (the clock starts after: initial replicas are warm). ``stop`` as for
        :meth:`loop`: a Ctrl-C while replicas load raises KeyboardInterrupt at once."""
        _LIVE.add(self)
        self._tid = threading.get_native_id()
        if self.opt.boost:
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
        self.limiter = make_limiter(self.opt.core_limit, boost=self.opt.boost)
        cfg = self.initial = self._initial_config()
        for s in self.stages:
            self.st[s] = _StageState(
                s,
                StageConfig(cfg[s].variant, 0, cfg[s].cores, cfg[s].batch),
                make_queue(self.opt.queue, self.deadline_s, self.opt.drop, self.threshold_s),
            )
        for s in self.stages:
            self.st[s].target = cfg[s]
            self._reconcile(s, first=True)
        self.loadgen = Worker(
            "loadgen", (self.arrival_s, os.getpid(), self.opt.boost), name="loadgen"
        )
        self.lg_conn = self.loadgen.conn
        deadline = time.monotonic() + self.opt.start_timeout_s
        lg_ready = False
        while True:
            if not lg_ready and self.lg_conn.poll():
                lg_ready = self.lg_conn.recv()[0] == "ready"
            starting = [r for r in self.reps.values() if r.state == "starting"]
            if lg_ready and not starting:
                break
            if stop is not None and stop.hit:
                raise KeyboardInterrupt
            if time.monotonic() > deadline:
                raise EmulatorError(
                    f"{len(starting)} replica(s) not ready after {self.opt.start_timeout_s} s"
                )
            objs = {r.conn: ("msg", r) for r in starting} | {
                r.proc.sentinel: ("death", r) for r in starting if r.proc.sentinel is not None
            }
            if not lg_ready:
                objs[self.lg_conn] = ("lgready", None)
            for o in wait(list(objs), timeout=0.5):
                kind, r = objs[o]
                if kind == "msg":
                    try:
                        self._on_replica_msg(r, r.conn.recv())
                    except (EOFError, OSError):
                        r.proc.join(timeout=2)
                        if r.state != "dead":
                            self._on_death(r)
                elif kind == "death" and r.state != "dead":
                    r.proc.join(timeout=0.5)
                    self._on_death(r)
        self.events = [dict(e, t_s=0.0) for e in self.events]
        self.cold_starts_initial = list(self.cold_starts)
        self.cold_starts = []
        if self.opt.boost and self._guard.ok and not is_realtime(self._tid):
            self._rt_ok = True  # (a thread already real-time is the caller's; left alone)
            self._realtime(True)
        self.t0 = time.monotonic()
        self._record_interval(self.initial)
        self.lg_conn.send(("go", self.t0))

    def loop(self, progress=None, stop=None) -> None:
        """Serve until every request has a final status or the drain time is over.

        ``stop``: an object whose ``hit`` turns True at Ctrl-C; the loop then raises
        KeyboardInterrupt between two events, where every record is consistent."""
        interval = float(getattr(self.policy, "interval_s", 1.0) or 1.0)
        last_arrival = float(self.arrival_s[-1]) if len(self.arrival_s) else 0.0
        horizon = max(self.horizon_s, last_arrival)
        end_by = horizon + self.opt.drain_s
        next_tick = interval
        n = len(self.arrival_s)
        done_prev = 0
        while True:
            if stop is not None and stop.hit:
                raise KeyboardInterrupt
            now = self.now()
            if now >= next_tick and next_tick < horizon:
                self._decide()
                next_tick += interval
                continue
            wake = self._dispatch()
            if self.lg_done and self.n_arrived >= n:
                if self.n_final >= n or now >= end_by:
                    break
            until = min(next_tick if next_tick < horizon else end_by, end_by)
            if wake is not None:
                until = min(until, wake)
            self._pump(min(max(until - now, 0.0), 0.25))
            if progress is not None:
                if self.n_final > done_prev:
                    progress.update(self.n_final - done_prev)
                    done_prev = self.n_final

    def finish(self) -> Result:
        """End every request still in the system and build the :class:`Result`.

        Requests waiting in a queue at the end are dropped (``deadline_passed``, or
        ``no_replica`` when their stage has no serving replica); after Ctrl-C, those in
        the system are ``interrupted`` and those that had not arrived are left out.
        """
        now = self.now()
        if self._rt_ok:  # the rest is bookkeeping: no reason to hold real time for it
            self._realtime(False)
            self._rt_ok = False
        self._account()
        in_flight = set()
        for r in self.reps.values():
            if r.batch is not None:
                in_flight.update(r.batch[1])
        for s in self.stages:
            st = self.st[s]
            serving = any(r.state in ("idle", "busy") for r in st.replicas.values())
            for i in st.queue.drain():
                if self.interrupted:
                    self._drop(i, "interrupted", now)
                elif not serving:
                    self._drop(i, "no_replica", now)
                else:
                    self._drop(i, "deadline_passed", now)
        n_arrived = self.n_arrived
        for i in self.log.pending():
            if i >= n_arrived:
                continue
            self._drop(
                int(i), "interrupted" if (self.interrupted or i in in_flight) else "no_replica", now
            )
        if self.interrupted and n_arrived < len(self.arrival_s):
            self.log.truncate(n_arrived)
        else:
            for i in self.log.pending():
                self._drop(int(i), "interrupted", now)
        tl = pd.DataFrame(
            self.timeline,
            columns=["t_s", "cores", "replicas", "config", "target", "actuation"],
        )
        tl = insert_rates(tl, self.arrival_s, self.horizon_s)
        cols = ["t_s", "stage", "kind", "state", "detail"]
        ev = pd.DataFrame(self.events)
        ev = ev if len(ev) else pd.DataFrame(columns=cols)
        lag = np.asarray(self.lg_lag) * 1000.0
        by_stage = {}
        for s in self.stages:
            spec = ModelSpec.from_variant(self._variant(s, self.st[s].target.variant))
            by_stage[s] = self.limiter.backend if spec.uses_cpu else "emulated (sleep model)"
        meta = {
            "core_limit": self.limiter.backend if self.limiter else "none",
            "core_limit_by_stage": by_stage,
            "machine_cores": self.machine,
            "node_cores": self.opt.node_cores,
            "slo_ms": self.slo_ms,
            "end_s": now,
            "wall_s": now,
            "core_seconds": self.core_acc,
            "interrupted": self.interrupted,
            "crashes": self.crashes,
            "retried": int((self.retries > 0).sum()),
            "cold_start_s": list(self.cold_starts_initial) + list(self.cold_starts),
            "resize_delay_s": list(self.resize_delays),
            "loadgen_lag_ms_p50": float(np.percentile(lag, 50)) if len(lag) else float("nan"),
            "loadgen_lag_ms_p99": float(np.percentile(lag, 99)) if len(lag) else float("nan"),
            "loadgen_lag_ms_max": float(lag.max()) if len(lag) else float("nan"),
            "options": {k: getattr(self.opt, k) for k in self.opt.__dataclass_fields__},
            "boost": {
                "router_realtime": self._guard is not None and self._guard.ok,
                "realtime_dropped": RealtimeGuard.tripped - self._demoted0,
            },
        }
        if self.interrupted:
            meta["interrupted_at_s"] = now
            meta["requests_not_arrived"] = len(self.arrival_s) - n_arrived
        return self.log.to_result("emu", stages=self.stages, timeline=tl, events=ev, meta=meta)

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
                    os.kill(p.pid, signal.SIGCONT)
                    p.kill()
                p.join(timeout=2)
        for p in procs:
            p.close()
        self.reps.clear()

    def _close_limiter(self) -> None:
        if self.limiter is not None:
            self.limiter.close()

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
