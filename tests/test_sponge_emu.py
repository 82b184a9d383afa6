"""Sponge in the emulator: a core change happens in place (same process), the next batches get
faster, and no request is lost across it.

It starts real processes and measures CPU time under real core limits: run it alone
(``pytest tests/test_sponge_emu.py``), a few seconds.
"""

from __future__ import annotations

import numpy as np
import pytest

from ssloserve.latency import LatencyModel
from ssloserve.outcomes import DROPPED, LATE, SERVED
from ssloserve.pipeline import Pipeline, Stage, Variant
from ssloserve.runtime.emu import emulate, live_routers, nothing_left
from ssloserve.runtime.options import RunOptions
from ssloserve.sponge import RUN_OPTIONS, SpongePolicy
from ssloserve.workloads import Workload

pytestmark = pytest.mark.emu

# 30 CPU-ms of parallel work and 2 of serial per request: l(1, 0.25) = 122 ms (8 RPS at
# most), l(1, 0.5) = 62 ms. So 3 RPS fits on 0.25 cores and 12 RPS needs 0.5.
BURN = LatencyModel(20.0, 1.0, 10.0, 1.0)
GRID = [0.25, 0.5, 0.75, 1.0, 1.25, 1.5]


class Watched(SpongePolicy):
    """SpongePolicy that also notes, at each decision, the pid of every live replica."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.pids: list[tuple[float, int, str]] = []

    def decide(self, obs):
        (router,) = live_routers()
        self.pids += [(obs.t_s, x.pid, x.state) for x in router.reps.values()]
        return super().decide(obs)


@pytest.fixture
def procs():
    with nothing_left():
        yield


def test_sponge_resizes_in_place_faster_batches_nothing_lost(procs):
    p = Pipeline.chain(Stage("detect", (Variant("burn", 0.5, BURN, model="burn"),), max_batch=4))
    w = Workload.from_rates([3, 3, 12, 12, 12], seed=4, slo_ms=1000.0)
    pol = Watched(1000.0, cores=GRID, b_max=4, initial_rate_rps=3.0)
    r = emulate(p, w, pol, RunOptions(**RUN_OPTIONS).validate())
    # no request lost: every arrival has exactly one final status
    arrived = len(w) - r.meta.get("requests_not_arrived", 0)
    assert arrived == len(w) and len(r) == len(w)
    c = r.counts()
    assert c["served"] + c["late"] + c["dropped"] == len(w)
    assert set(np.unique(r.requests["status"])) <= {SERVED, LATE, DROPPED}
    # Sponge grew the replica when the load rose, in place: a resize, no new replica, and
    # the same process served before and after
    d = pol.decisions()
    assert d.cores.iloc[0] == 0.25 and d.cores.max() >= 0.5
    ev = r.events
    resized = ev[(ev.kind == "resize") & (ev.state == "done")]
    assert len(resized) >= 1
    assert not ((ev.kind == "ready") & (ev.t_s > 0)).any()  # no cold start after the first
    assert len({pid for _, pid, _ in pol.pids}) == 1
    # the batches after the first resize ran faster: measured service time per batch of one
    t_up = float(resized["t_s"].iloc[0])
    rec = r.stage_records["detect"]
    ok = np.isfinite(rec["start_s"]) & (rec["batch"] == 1)
    svc = (rec["finish_s"] - rec["start_s"])[ok] * 1000.0
    start = rec["start_s"][ok]
    before, after = svc[start < t_up], svc[start > t_up + 0.05]
    assert len(before) >= 3 and len(after) >= 3
    assert np.median(after) < 0.75 * np.median(before), (np.median(before), np.median(after))


def test_a_replica_below_one_core_follows_the_subcore_model(procs):
    from ssloserve.sponge import SubCoreModel, measure_replica

    serial = LatencyModel(4.0, 10.0, 2.0, 10.0)  # 6 CPU-ms parallel, 20 serial at b = 1
    prof = measure_replica(serial, batches=(1, 2), cores=(0.25, 1.0), repeats=2)
    t = prof.table.set_index(["batch", "cores"]).latency_ms
    q = SubCoreModel.of(serial)
    for b in (1, 2):
        low = t[(b, 0.25)]
        # CPU time is exact (thread clocks), so the quota can only make it slower
        assert 0.9 * q.latency(b, 0.25) <= low <= 1.5 * q.latency(b, 0.25), (b, low)
        assert low > 1.5 * serial.latency(b, 0.25), (b, low)  # l(b, c) underestimates


def test_measured_sponge_reads_its_replica_cpu_under_the_limit(procs):
    from ssloserve.sponge import MeasuredSponge

    p = Pipeline.chain(Stage("detect", (Variant("burn", 0.5, BURN, model="burn"),), max_batch=4))
    w = Workload.from_rates([3, 3, 12, 12, 12, 12], seed=4, slo_ms=1000.0)
    pol = MeasuredSponge(1000.0, cores=GRID, b_max=4, initial_rate_rps=3.0)
    emulate(p, w, pol, RunOptions(**RUN_OPTIONS).validate())
    u = pol.cpu_use().dropna(subset=["used_cores"])
    assert len(u) >= 3 and (u.replicas == 1).all()
    # the quota holds (clock ticks of 10 ms and a resize in the interval: some slack)
    assert (u.used_cores <= np.maximum(u.limit_cores, u.chosen_cores) + 0.15).all(), u
    assert u.used_cores.max() > 0.1  # and the replica did work
