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

Semantics follow DESIGN.md "Actuation semantics". The router is one class in four parts,
one concept per file: :mod:`.routing` (queues, batching, dispatch, messages),
:mod:`.lifecycle` (replicas: start, ready, resize, drain, stop, death and retry),
:mod:`.teardown` (stop every process, remove every cgroup) and this module (the run:
start, the event loop with the policy's ticks, observation, the end of the run, and the
router thread's priority). Chapter: 00_tour.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
from multiprocessing.connection import wait

import numpy as np
import pandas as pd

from ...errors import EmulatorError
from ...observation import Observation
from ...pipeline import Config, Pipeline, StageConfig
from ...queues import drop_threshold_s, make_queue
from ..inputs import checked_config, initial_config, workload_arrays
from ..result import RequestLog, Result, insert_rates
from .lifecycle import Lifecycle, Replica, StageState
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
from .options import EmuOptions
from .routing import Routing
from .teardown import Teardown
from .worker import Worker

__all__ = ["Router"]


class Router(Routing, Lifecycle, Teardown):
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
        self.reps: dict[int, Replica] = {}
        self.st: dict[str, StageState] = {}
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
    # ------------------------------------------------------------------ policy

    def _rates(self, now: float) -> np.ndarray:
        k = int(np.floor(now))
        if k <= 0:
            return np.zeros(0)
        arr = self.arrival_s[: self.n_arrived]
        rates = np.bincount(np.floor(arr[arr < k]).astype(np.int64), minlength=k)[:k]
        return rates[-int(self.opt.history_s) :].astype(float)

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

    def start(self, stop=None) -> None:
        """Create the limiter, start the initial replicas and the load generator; wait until
        all are ready (the clock starts after: initial replicas are warm). ``stop`` as for
        :meth:`loop`: a Ctrl-C while replicas load raises KeyboardInterrupt at once."""
        self._register()
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
            self.st[s] = StageState(
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
