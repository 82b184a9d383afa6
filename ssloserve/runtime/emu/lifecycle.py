"""Replica lifecycle in the emulator's router: start, ready, resize, drain, stop, death.

A replica is a :class:`~ssloserve.runtime.emu.worker.Worker` process running
:func:`~ssloserve.runtime.emu.replica.replica_main`. It is ``starting`` from the request
to its "ready" message (a real cold start: spawn, imports, model load), then ``idle`` or
``busy``; a drained one stops once idle (``stopping``), and it is ``dead`` once its
process is gone. A resize writes the core limit and tells the replica to change its
thread count, in place. A replica that dies is noticed through its sentinel; its
in-flight requests are retried (``max_retries``) or dropped with reason
``replica_crash``, and a replacement starts. Capacity is checked before every start and
resize: what does not fit on the node is recorded as infeasible (DESIGN.md "Actuation
semantics"). :class:`Lifecycle` is a part of :class:`~ssloserve.runtime.emu.router.Router`
and works on its state (``st``, ``reps``, ``limiter``, ``events``). Chapter: 00_tour.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field

from ...errors import EmulatorError
from ...pipeline import Config, StageConfig
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
    state: str = "starting"  # starting, idle, busy, draining(+busy), stopping, dead
    draining: bool = False
    busy: bool = False
    pid: int | None = None
    batch: tuple | None = None  # (batch_id, [request ids], [queue times], t_sent)
    ready_t: float | None = None
    retiring: bool = False  # an old variant waiting for its replacement


@dataclass
class StageState:
    """A stage: its target config, its queue and its replicas (by id)."""

    name: str
    target: StageConfig
    queue: object = None
    replicas: dict = field(default_factory=dict)


class Lifecycle:
    """Starting, resizing, draining and stopping replicas, and their messages about it."""

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

    def _start_replica(self, stage: str, variant: str, cores: float, why: str) -> Replica | None:
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
        r = Replica(rid, stage, variant, v.accuracy, spec, cores, proc, proc.conn, t_req)
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

    def _stop_replica(self, r: Replica, kill: bool = False) -> None:
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

    def _live(self, stage: str, variant: str | None = None) -> list[Replica]:
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

    def _drain(self, r: Replica) -> None:
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

    def _on_ready(self, r: Replica, msg) -> None:
        """Replica ``r`` loaded its model: it serves from now (a variant switch retires
        one old replica per new one ready)."""
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
                    x for x in self._live(r.stage, st.target.variant) if x.state in ("idle", "busy")
                ]
                # one old replica goes per new one ready; all go once the new are all up
                n = len(retiring) if len(ready_new) >= st.target.replicas else 1
                for x in retiring[:n]:
                    self._drain(x)
                if n == len(retiring):
                    self._event(r.stage, "variant", "done", f"now {r.variant}")

    def _on_resized(self, r: Replica, msg) -> None:
        """Replica ``r`` runs its new thread count: the resize is done."""
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

    def _ready_ends(self, r: Replica) -> None:
        """Replica ``r`` stops serving now: add its ready time in this interval."""
        if r.ready_t is not None and r.state in ("idle", "busy"):
            self._ready_win[r.stage] += max(0.0, self.now() - max(r.ready_t, self._win_t0))
