"""The simulator's event loop (the reference semantics) and :func:`simulate`.

Chapter: 00_tour. See :mod:`ssloserve.runtime.sim` for how it works.
"""

from __future__ import annotations

import heapq
import time

from ...pipeline import Pipeline
from ..inputs import checked_config, initial_config
from ..options import RunOptions
from ..progress import Progress, SafeInterrupt
from ..result import Result
from .actuate import Actuator
from .fast import FastPath
from .state import (
    ACTIVE,
    CHUNK,
    DRAINING,
    EV_DONE,
    EV_READY,
    EV_RESIZED,
    EV_TICK,
    EV_TIMER,
    INF,
    SimState,
)

__all__ = ["simulate"]

_FLUSH = 1 << 17  # stage-visits kept in Python lists before they go into the numpy columns


class _Sim(Actuator, FastPath, SimState):
    """One simulation: the state, its actuation, the fast path and the event loop."""

    def run(self) -> Result:
        """Serve the workload: the event loop (or the fast path when it applies)."""
        opts, policy = self.opts, self.policy
        wall0 = time.perf_counter()
        heap, cnt = self.heap, self.cnt
        heappush, heappop = heapq.heappush, heapq.heappop
        drop_idx, drop_reason = self.drop_idx, self.drop_reason
        dead, dag = self.dead, self.dag
        delay = opts.max_batch_delay_ms / 1000.0
        det = opts.service == "deterministic"

        def dispatch(st, t):
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
                    if j >= CHUNK:
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
        chunk = a[:CHUNK].tolist()
        clen = len(chunk)
        base = 0
        ai = 0
        ta = chunk[0] if n else INF
        t = 0.0
        interrupted = False
        stop = SafeInterrupt()
        prog = Progress(
            opts.progress, self.horizon, unit="sim s", desc="sim", stop=stop, wall0=wall0
        )
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
                                        if j >= CHUNK:
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
                        st = ev[3].st
                        self.on_ready(ev[3], t)
                        # replicas ready at the same instant are ready together: each
                        # retires its old replica before any of them takes a batch
                        while heap and heap[0][0] == t and heap[0][2] == EV_READY:
                            if heap[0][3].st is not st:
                                break
                            self.on_ready(heappop(heap)[3], t)
                        dispatch(st, t)
                    elif kind == EV_RESIZED:
                        self.on_resized(ev[3], t)
                    else:  # EV_TIMER
                        st = ev[3]
                        if st.gather_until <= t:
                            st.gather_until = -INF
                            dispatch(st, t)
                            if st.gather_until == -INF:
                                st.gather_until = INF
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
                            chunk = a[ai : ai + CHUNK].tolist()
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


def simulate(
    pipeline: Pipeline, workload, policy, options: RunOptions | None = None, *, fast: bool = True
) -> Result:
    """Run the discrete-event simulator (what ``run(..., runtime="sim")`` calls).

    Parameters
    ----------
    pipeline, workload, policy : as for :func:`ssloserve.run`
    options : :class:`~ssloserve.runtime.options.RunOptions` (defaults when None)
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
    >>> import numpy as np
    >>> from ssloserve.pipeline import Pipeline, Stage, Variant, Config, StageConfig
    >>> from ssloserve.latency import LatencyModel
    >>> from ssloserve.policy import Static
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
