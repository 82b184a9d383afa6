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

Semantics follow DESIGN.md "Actuation semantics", planned by the same code as in the
simulator (:mod:`ssloserve.runtime.actuation`). The router is one class in parts, one
concept per file: :mod:`.routing` (queues, batching, dispatch, messages),
:mod:`~ssloserve.runtime.emu.actuate` (executing the planner's steps), :mod:`.lifecycle` (replica processes:
start, stop, death and retry), :mod:`.boost` (the router thread's priority),
:mod:`.teardown` (stop every process, remove every cgroup) and this module (the run:
start, the event loop with the policy's ticks, observation, the end of the run).
Chapter: 00_tour.
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import asdict
from multiprocessing.connection import wait

import numpy as np

from ...errors import EmulatorError
from ...observation import Observation
from ...pipeline import Config, Pipeline, StageConfig
from ...queues import drop_threshold_s, make_queue
from ..inputs import checked_config, initial_config, workload_arrays
from ..observe import arrival_counts, build_observation, config_in_force
from ..options import RunOptions
from ..result import RequestLog, Result, end_of_run
from .actuate import CHANGE_KINDS, Actuator
from .boost import Boost
from .lifecycle import Lifecycle, Replica, StageState
from .limits import (
    CoreLimiter,
    machine_cores,
    make_limiter,
)
from .models import ModelSpec
from .options import EmuOptions
from .routing import Routing
from .teardown import Teardown
from .worker import Worker

__all__ = ["Router"]


class Router(Routing, Actuator, Lifecycle, Boost, Teardown):
    """One emulator run: start processes, route requests, call the policy, clean up.

    Use :func:`ssloserve.runtime.emu.emulate` (or ``ssloserve.run(..., runtime="emu")``);
    this class is public for tests and benchmarks. ``close()`` is idempotent and is also
    registered with ``atexit`` and called from the SIGTERM handler.
    """

    #: The runtime named in the :class:`Result` (the Ray runtime's router is a subclass).
    RUNTIME = "emu"

    def __init__(
        self,
        pipeline: Pipeline,
        workload,
        policy,
        options: RunOptions | None = None,
        emu: EmuOptions | None = None,
    ):
        self.pipeline = pipeline
        self.workload = workload
        self.policy = policy
        self.opt = RunOptions() if options is None else options
        self.eopt = EmuOptions() if emu is None else emu
        self.stages = list(pipeline.order)
        arr, dl, pay, horizon = workload_arrays(workload, self.opt.duration_s)
        self.arrival_s = np.ascontiguousarray(arr)
        self.deadline_s = np.ascontiguousarray(dl)
        self.payload = np.asarray(pay, dtype=np.int64)
        self.horizon_s = horizon
        self.counts = arrival_counts(arr, horizon)  # arrivals per whole second
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
        self.timeline: list[tuple] = []  # rows of result.TIMELINE_COLUMNS
        self.pending_resize: dict[int, tuple] = {}  # token -> (rid, t_requested, cores)
        self.loadgen = None
        self.lg_conn = None
        self.lg_done = False
        self.n_arrived = 0
        self.t0: float | None = None
        self.closed = False
        self._boost_init()
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
        if kind in CHANGE_KINDS:
            self.st[stage].last_state = state
        self.events.append(
            {"t_s": self.now() if t is None else t, "stage": stage, "kind": kind, "state": state}
            | {"detail": detail}
            | extra
        )

    # ------------------------------------------------------------------ policy

    def observation(self) -> Observation:
        """What the policy sees now (the same builder as in every runtime)."""
        now = self.now()
        return build_observation(
            now,
            counts=self.counts,
            history_s=self.opt.history_s,
            config=self.actuated_config(),
            waiting_deadlines_s=self.st[self.pipeline.source].queue.deadlines(),
            queue_lengths={s: len(self.st[s].queue) for s in self.stages},
            actuation=self._actuation_state(),
            pipeline=self.pipeline,
            slo_ms=self.slo_ms,
            utilisation=self.utilisation(),
        )

    def _actuation_state(self) -> dict:
        """Per stage, the state of its last change."""
        return {s: self.st[s].last_state for s in self.stages}

    def actuated_config(self) -> Config:
        """The config in force: per stage its serving replicas (see
        :func:`~ssloserve.runtime.actuation.in_force`)."""
        return config_in_force({s: (self._views(s), self.st[s].target) for s in self.stages})

    def _record_interval(self, target: Config) -> None:
        cfg = self.actuated_config()
        self.timeline.append(
            (
                self.now(),
                self.cores_in_use(),
                sum(sc.replicas for sc in cfg.stages.values()),
                cfg,
                target,
                self._actuation_state(),
            )
        )

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
        obs0 = build_observation(  # before any replica: nothing in force, nothing measured
            0.0,
            counts=self.counts,
            history_s=self.opt.history_s,
            config=Config.default(self.pipeline),
            waiting_deadlines_s=[],
            queue_lengths=dict.fromkeys(self.stages, 0),
            actuation={},
            pipeline=self.pipeline,
            slo_ms=self.slo_ms,
            utilisation={},
        )
        return initial_config(self.policy, self.pipeline, self.slo_ms, obs0)

    def start(self, stop=None) -> None:
        """Create the limiter, start the initial replicas and the load generator; wait until
        all are ready (the clock starts after: initial replicas are warm). ``stop`` as for
        :meth:`loop`: a Ctrl-C while replicas load raises KeyboardInterrupt at once."""
        self._register()
        self._boost_start()
        self.limiter = make_limiter(self.eopt.core_limit, boost=self.eopt.boost)
        cfg = self.initial = self._initial_config()
        for s in self.stages:
            self.st[s] = StageState(
                s,
                StageConfig(cfg[s].variant, 0, cfg[s].cores, cfg[s].batch),
                make_queue(self.opt.queue, self.deadline_s, self.opt.drop, self.threshold_s),
            )
        self._apply(cfg, initial=True)
        self.loadgen = Worker(
            "loadgen", (self.arrival_s, os.getpid(), self.eopt.boost), name="loadgen"
        )
        self.lg_conn = self.loadgen.conn
        deadline = time.monotonic() + self.eopt.start_timeout_s
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
                    f"{len(starting)} replica(s) not ready after {self.eopt.start_timeout_s} s"
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
        self._boost_go()
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
        end_by = horizon + self.eopt.drain_s
        next_tick = interval
        n = len(self.arrival_s)
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
                progress.update(self.n_final)

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
            "options": asdict(self.opt) | asdict(self.eopt),
            "boost": self._boost_meta(),
        }
        if self.interrupted:
            meta["interrupted_at_s"] = now
            meta["requests_not_arrived"] = len(self.arrival_s) - n_arrived
        return end_of_run(
            self.log,
            self.RUNTIME,
            stages=self.stages,
            timeline=self.timeline,
            events=self.events,
            arrival_s=self.arrival_s,
            horizon_s=self.horizon_s,
            meta=meta,
        )
