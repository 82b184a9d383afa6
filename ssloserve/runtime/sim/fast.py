"""The simulator's fast path: a Static config on a chain, one stage at a time.

Chapter: 00_tour. An optimisation with the event loop's semantics: each stage in one pass
over its arrivals, batch by batch (the Lindley recursion in closed form for one server and
batch 1, Kiefer-Wolfowitz for several), the next stage's arrivals being this stage's
completions in the order the event loop would process them. ``tests/test_sim_fast.py``
checks the two agree record for record.
"""

from __future__ import annotations

import heapq
from array import array

import numpy as np

from ...queues import drop_limit_s, drop_reason
from ..progress import Progress, SafeInterrupt
from ..result import Result
from .state import ACTIVE, CHUNK, INF

__all__ = ["FastPath"]


class FastPath:
    """The batch-at-a-time route of the simulator (a mixin of :class:`~.state.SimState`)."""

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
        prog = Progress(
            self.opts.progress,
            self.horizon * len(self.st),
            unit="sim s",
            desc="sim",
            stop=stop,
            wall0=wall0,
        )
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
            t_stop = prog.n
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
            for c0 in range(0, n, CHUNK):
                svc[c0 : c0 + CHUNK] *= np.asarray(st.draw())[: n - c0]
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
            for c0 in range(0, n, CHUNK):
                svc = self._service_array(st, min(CHUNK, n - c0), base)
                s_out = array("d")
                r_out = array("i")
                sa, ra = s_out.append, r_out.append
                for a, x in zip(A[c0 : c0 + CHUNK].tolist(), svc.tolist(), strict=True):
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
        noise, ni = ([], CHUNK) if draw is None else (st.noise, st.ni)
        drop = self.opts.drop
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
                        Ac = A[arr : arr + CHUNK].tolist()
                        cl = len(Ac)
                        if G is not None:
                            Gc = G[arr : arr + CHUNK].tolist()
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
                    limit = drop_limit_s(drop, s, exp[k0 if k0 < b else b])
                    k = 0
                    while head < arr and k < b:
                        if thrp[head] < limit:
                            dpos.append(head)
                            dre.append(drop_reason(drop, dlp[head], s))
                        else:
                            k += 1
                        head += 1
                    if k == 0:
                        continue
                if draw is None:
                    svc = tbl[k]
                else:
                    if ni >= CHUNK:
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
        noise, ni = ([], CHUNK) if draw is None else (st.noise, st.ni)
        drop = self.opts.drop
        thr = None if drop == "never" else self.thr
        # the rule's threshold is the deadline itself (drop_threshold_s returns the same
        # array): read it from the heap entry instead of indexing the array
        by_deadline = thr is self.d
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
            ii = np.arange(at, min(at + CHUNK, n)) if ids is None else ids[at : at + CHUNK]
            return (
                A[at : at + CHUNK].tolist(),
                ii.tolist(),
                d[ii].tolist(),
                None if G is None else G[at : at + CHUNK].tolist(),
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
                    limit = drop_limit_s(drop, s, exp[k0 if k0 < b else b])
                    k = 0
                    while qh and k < b:
                        dl, i = heappop(qh)
                        if (dl if by_deadline else thr[i]) < limit:
                            dids.append(i)
                            dre.append(drop_reason(drop, dl, s))
                        else:
                            seg_members.append(i)
                            k += 1
                    if k == 0:
                        continue
                if draw is None:
                    svc = tbl[k]
                else:
                    if ni >= CHUNK:
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
