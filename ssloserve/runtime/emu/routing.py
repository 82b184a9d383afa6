"""Routing in the emulator's router: per-stage queues, batching, dispatch, messages.

Requests enter the source stage's queue when the load generator says they arrived (at
their *intended* arrival time); an idle replica takes a batch of up to ``b`` requests
(waiting up to ``max_batch_delay_ms`` for a full one); its answer records the batch in
the :class:`~ssloserve.runtime.result.RequestLog` and moves each request to the next
stages (a join waits for all its predecessors). :meth:`Routing._pump` waits on every
pipe and process sentinel at once (``multiprocessing.connection.wait``) and hands each
message on. :class:`Routing` is a part of :class:`~ssloserve.runtime.emu.router.Router`.
Chapter: 00_tour.
"""

from __future__ import annotations

import contextlib
from multiprocessing.connection import wait

from ...errors import EmulatorError
from ...outcomes import PENDING, REASONS
from .lifecycle import Replica

__all__ = ["Routing"]


class Routing:
    """Queues, batches and messages: the router's work per request."""

    def _enqueue(self, s: str, i: int, t: float) -> None:
        self.enq_t[s][i] = t
        self.st[s].queue.push(i)

    def _arrive(self, i0: int, i1: int) -> None:
        src = self.pipeline.source
        for i in range(i0, i1):
            self._enqueue(src, i, float(self.arrival_s[i]))
        self.n_arrived = max(self.n_arrived, i1)

    def _finish_stage(self, r: Replica, t_start: float, t_finish: float, t_recv: float) -> None:
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

    def _on_replica_msg(self, r, msg) -> None:
        op = msg[0]
        if op == "ready":
            self._on_ready(r, msg)
        elif op == "done":
            self._on_done(r, msg)
        elif op == "cores_ok":
            self._on_resized(r, msg)

    def _on_done(self, r, msg) -> None:
        """Replica ``r`` finished its batch: record it, move its requests on."""
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
            self._drained(r)

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
