"""The emulator (runtime="emu"): real processes, accounting, actuation, crashes, clean-up.

Every run here starts real OS processes on this machine; each is kept to a few seconds.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from ssloserve.errors import EmulatorError
from ssloserve.latency import LatencyModel
from ssloserve.observation import Observation
from ssloserve.outcomes import DROPPED, LATE, SERVED
from ssloserve.pipeline import Config, Pipeline, Stage, StageConfig, Variant
from ssloserve.policies import Static
from ssloserve.runtime.emu import emulate, leftovers, live_routers, nothing_left
from ssloserve.runtime.emu.limits import (
    BACKENDS,
    RT_BUDGET_S,
    is_realtime,
    machine_cores,
    remove_stale_cgroups,
    stale_cgroups,
)
from ssloserve.workloads import Workload

pytestmark = pytest.mark.emu

SLEEP = LatencyModel(4.0, 1.0, 12.0, 3.0)  # l(1, 1) = 20 ms
BURN = LatencyModel(3.0, 0.5, 6.0, 0.5)  # 10 CPU-ms at b = 1


def accounted(r, w) -> None:
    """arrivals = served + late + dropped: every request of workload ``w`` that arrived
    (all of them, unless Ctrl-C stopped the run) has exactly one final status."""
    arrived = len(w) - r.meta.get("requests_not_arrived", 0)
    assert len(r) == arrived
    c = r.counts()
    assert c["served"] + c["late"] + c["dropped"] == arrived
    assert set(np.unique(r.requests["status"])) <= {SERVED, LATE, DROPPED}


def _priority() -> tuple:
    """How this thread is scheduled: a run must leave all of it as it found it."""
    return (
        os.sched_getscheduler(0),
        os.getpriority(os.PRIO_PROCESS, threading.get_native_id()),
        resource.getrlimit(resource.RLIMIT_RTTIME),
        signal.getsignal(signal.SIGXCPU),
    )


@pytest.fixture
def procs():
    """Around each test: nothing left (processes, cgroups, routers, real time) and the
    caller's scheduling (class, nice, real-time limit, SIGXCPU handler) as before."""
    prio = _priority()
    with nothing_left():
        yield
    assert _priority() == prio


@pytest.fixture(scope="module", autouse=True)
def nothing_left_by_the_module():
    """The same after the whole module (the SIGTERM test checks its subprocess itself)."""
    prio = _priority()
    with nothing_left():
        yield
    assert _priority() == prio


def _in_limit(router, pid: int) -> bool:
    """Whether the OS has ``pid`` under the router's limit (its cgroup, for cgroups)."""
    root = getattr(router.limiter, "root", None)
    if root is None:
        return pid in router.limiter.cores
    with open(f"/proc/{pid}/cgroup") as f:
        return f"{root.name}/r{pid}" in f.read()


class Script:
    """A policy that applies ``{t_s: Config}`` changes at the first tick at or after t_s;
    ``in_order``: and not before the change it asked for last is in force and done (so a
    slow cold start on a busy machine delays the next change rather than cancelling one)."""

    def __init__(
        self, initial: Config, changes: dict, interval_s: float = 0.25, in_order: bool = False
    ):
        self.config = initial
        self.changes = sorted(changes.items())
        self.interval_s = interval_s
        self.in_order = in_order
        self.seen = []

    def initial(self, pipeline, slo_ms):
        return self.config

    def _settled(self, obs) -> bool:
        done = all(v == "done" for v in obs.actuation.values())
        return not self.in_order or (obs.config == self.config and done)

    def decide(self, obs):
        self.seen.append(obs)
        while self.changes and obs.t_s >= self.changes[0][0] - 1e-9 and self._settled(obs):
            self.config = self.changes.pop(0)[1]
            if self.in_order:
                break
        return self.config


class Watch(Script):
    """A Script that also records, at each tick, every serving replica's scheduling class
    and core-limit membership as the OS reports them."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.watched = []

    def decide(self, obs):
        (router,) = live_routers()
        for x in list(router.reps.values()):
            if x.state in ("idle", "busy"):
                try:
                    self.watched.append(
                        (obs.t_s, x.pid, x.spec.kind, is_realtime(x.pid), _in_limit(router, x.pid))
                        if x.spec.uses_cpu
                        else (obs.t_s, x.pid, x.spec.kind, is_realtime(x.pid), True)
                    )
                except (OSError, FileNotFoundError):
                    pass  # it exited meanwhile
        return super().decide(obs)


def test_two_stage_sleep_records_every_request(procs):
    p = Pipeline.chain(
        Stage("a", (Variant("sa", 0.9, SLEEP, model="sleep"),)),
        Stage("b", (Variant("sb", 0.8, SLEEP, model="sleep"),)),
    )
    w = Workload.from_rates([30, 30, 30], seed=1, slo_ms=400.0)
    cfg = Config({"a": StageConfig("sa", 2, 2.0, 2), "b": StageConfig("sb", 1, 4.0, 4)})
    policy = Script(cfg, {}, interval_s=0.5)
    r = emulate(p, w, policy)
    accounted(r, w)
    assert r.runtime == "emu" and r.counts()["served"] == len(w)
    assert r.meta["core_limit"] in BACKENDS
    assert r.meta["core_limit_by_stage"]["a"].startswith("emulated")
    a, b = r.stage_records["a"], r.stage_records["b"]
    np.testing.assert_allclose(a["queue_s"], w.arrival_s)
    assert (a["start_s"] >= a["queue_s"] - 1e-3).all()
    np.testing.assert_allclose(b["queue_s"], a["finish_s"])
    # each batch took at least l(k, c) (the sleep model), and not much more
    for st, c in (("a", 2.0), ("b", 4.0)):
        rec = r.stage_records[st]
        svc = (rec["finish_s"] - rec["start_s"]) * 1000
        want = SLEEP.latency(rec["batch"].astype(float), c)
        assert (svc >= want - 0.5).all()
        assert np.median(svc - want) < 3.0
    assert (r.requests["finish_s"] >= b["finish_s"] - 1e-9).all()
    np.testing.assert_allclose(r.requests["accuracy"], 0.72)
    assert r.meta["core_seconds"] == pytest.approx(8.0 * r.meta["end_s"], rel=0.02)
    assert {"t_s", "rate_rps", "cores", "config"} <= set(r.timeline.columns)
    check_utilisation(policy.seen, r, {"a": 2, "b": 1})


def check_utilisation(seen, r, replicas) -> None:
    """The busy fraction the policy saw equals the one in the request records: batch
    service time over replica time, per interval (the router's view of a batch also holds
    its two pipe hops, so it may be a little larger)."""
    assert "utilisation" in Observation.__dataclass_fields__, "Observation lost utilisation"
    t_prev = 0.0
    for obs in seen:
        for s, n in replicas.items():
            rec = r.stage_records[s]
            batches = {
                (int(k), a, b)
                for k, a, b in zip(rec["replica"], rec["start_s"], rec["finish_s"], strict=True)
                if np.isfinite(a)
            }
            busy = sum(max(0.0, min(b, obs.t_s) - max(a, t_prev)) for _, a, b in batches)
            want = busy / (n * (obs.t_s - t_prev))
            got = obs.utilisation[s]
            assert want - 0.01 <= got <= want + 0.05, (s, obs.t_s, got, want)
        t_prev = obs.t_s


def test_actuation_in_place_resize_scale_out_variant_switch_scale_in(procs, capsys):
    burn = Variant("burn", 0.7, BURN, model="burn")
    tiny = Variant("resnet_tiny18", 0.6975, LatencyModel(5, 1, 5, 1), model="resnet_tiny18")
    p = Pipeline.chain(Stage("s", (burn, tiny)))
    c0 = Config({"s": StageConfig("burn", 1, 1.0, 1)})
    script = Watch(
        c0,
        {
            0.5: Config({"s": StageConfig("burn", 1, 0.5, 1)}),  # resize in place
            1.0: Config({"s": StageConfig("burn", 2, 0.5, 1)}),  # scale out
            3.0: Config({"s": StageConfig("burn", 1, 0.5, 1)}),  # scale in
            4.0: Config({"s": StageConfig("resnet_tiny18", 1, 1.0, 2)}),  # variant switch
            7.0: Config({"s": StageConfig("resnet_tiny18", 1, 1.0, 2)}),
        },
        in_order=True,
    )
    w = Workload.from_rates([8] * 10, seed=2, slo_ms=1500.0)
    r = emulate(p, w, script)
    accounted(r, w)
    assert "emu: " in capsys.readouterr().err  # progress=None: a bar once past 2 s
    ev = r.events
    resize = ev[(ev.kind == "resize") & (ev.state == "done")]
    assert len(resize) == 1 and resize["resize_delay_s"].iloc[0] < 0.5
    # in place: the resized replica kept serving (same replica id before and after)
    rid = int(resize["replica"].iloc[0])
    rec = r.stage_records["s"]
    t_resize = float(resize["t_s"].iloc[0])
    served_by = rec["replica"][np.isfinite(rec["start_s"])]
    starts = rec["start_s"][np.isfinite(rec["start_s"])]
    assert (served_by[starts > t_resize] == rid).any() and (
        served_by[starts < t_resize] == rid
    ).any()
    ready = ev[(ev.kind == "ready") & (ev.t_s > 0)]
    assert len(ready) >= 2  # the scale-out replica and the torch replica
    assert (ready["cold_start_s"] > 0.05).all()
    assert ((ev.kind == "variant") & (ev.state == "done")).any()
    assert ((ev.kind == "scale_in") & (ev.state == "done")).any()
    # after the switch the torch replica serves, at its published accuracy
    switched = ev[(ev.kind == "variant") & (ev.state == "done")]["t_s"].max()
    late = r.requests["arrival_s"] > switched
    served = r.requests["status"] == SERVED
    assert (late & served).sum() >= 5, switched
    assert np.allclose(r.requests["accuracy"][late & served], 0.6975)
    # the policy saw the config in force: 1 core until it asked for 0.5 (at its first tick
    # at or after 0.5 s), 0.5 from the next tick on; one replica until the scale-out was ready
    k = next(i for i, o in enumerate(script.seen) if o.t_s >= 0.5 - 1e-9)
    assert {o.config["s"].cores for o in script.seen[: k + 1]} == {1.0}
    assert script.seen[k + 1].config["s"].cores == 0.5
    assert script.seen[0].config["s"].replicas == 1
    assert max(o.config["s"].replicas for o in script.seen) == 2
    assert r.meta["cold_start_s"] and r.meta["resize_delay_s"]
    # every CPU-bound replica, including those started mid-run, ran in the normal class
    # under its limit (seen from /proc): none inherited the router's real-time priority
    burn_pids = {pid for _, pid, kind, _, _ in script.watched if kind == "burn"}
    assert len(burn_pids) >= 2  # the first replica and the scale-out one
    for t, pid, kind, rt, limited in script.watched:
        assert not (kind != "sleep" and rt), f"{kind} replica {pid} real-time at {t:.2f} s"
        assert limited, f"{kind} replica {pid} not under its core limit at {t:.2f} s"


def test_sigkilled_replica_is_replaced_and_its_requests_retried(procs):
    slow = LatencyModel(0.0, 0.0, 0.0, 80.0)
    p = Pipeline.chain(Stage("s", (Variant("v", 0.9, slow, model="sleep"),)))
    w = Workload.from_rates([20] * 4, seed=3, slo_ms=3000.0)
    killed = []

    def killer():
        t_end = time.monotonic() + 30
        while time.monotonic() < t_end and not killed:
            for router in live_routers():
                if router.t0 is None or router.now() < 1.0:
                    continue
                busy = [x for x in router.reps.values() if x.busy and x.state == "busy"]
                if busy:
                    killed.append((busy[0].pid, list(busy[0].batch[1])))
                    os.kill(busy[0].pid, signal.SIGKILL)
                    return
            time.sleep(0.01)

    th = threading.Thread(target=killer, daemon=True)
    th.start()
    r = emulate(p, w, Static(Config({"s": StageConfig("v", 2, 1.0, 1)})))
    th.join()
    accounted(r, w)
    assert killed, "the test did not find a busy replica to kill"
    pid, batch = killed[0]
    assert r.meta["crashes"] == 1
    ev = r.events
    t_crash = float(ev[ev.kind == "crash"]["t_s"].iloc[0])
    assert (ev[ev.kind == "ready"]["t_s"] > t_crash).any(), "no replacement became ready"
    st = r.requests["status"]
    for i in batch:  # retried (served, maybe late) or ended with reason replica_crash
        assert st[i] in (SERVED, LATE) or r.requests_df()["reason"][i] == "replica_crash"
    assert r.meta["retried"] >= 1
    assert (
        not os.path.exists(f"/proc/{pid}/stat")
        or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    )


def test_a_killed_load_generator_is_a_typed_error_and_leaves_nothing(procs):
    """Without its load generator a run cannot go on (arrivals would silently stop): an
    EmulatorError, and every process and cgroup is gone."""
    killed = []

    def killer():
        t_end = time.monotonic() + 30
        while time.monotonic() < t_end:
            routers = live_routers()
            if routers and routers[0].t0 is not None and routers[0].now() > 0.5:
                killed.append(routers[0].loadgen.pid)
                os.kill(killed[0], signal.SIGKILL)
                return
            time.sleep(0.01)

    th = threading.Thread(target=killer, daemon=True)
    th.start()
    with pytest.raises(EmulatorError, match="load generator died"):
        emulate(
            _one_stage(),
            Workload.from_rates([10] * 4, seed=10),
            Static(Config.default(_one_stage())),
        )
    th.join()
    assert killed


def test_more_cores_than_the_machine_is_an_infeasible_resize_or_switch(procs):
    """Asking for more cores than the machine has is recorded as infeasible and the
    replica keeps what it had: a resize, and a variant switch whose new replica cannot
    fit beside the old one (the old variant keeps serving, as in the simulator)."""
    p = Pipeline.chain(
        Stage(
            "s", (Variant("burn", 0.7, BURN, model="burn"), Variant("big", 0.8, BURN, model="burn"))
        )
    )
    huge = float(os.cpu_count() + 6)
    script = Script(
        Config({"s": StageConfig("burn", 1, 1.0, 1)}),
        {
            0.5: Config({"s": StageConfig("burn", 1, huge, 1)}),
            1.0: Config({"s": StageConfig("big", 1, float(machine_cores()), 1)}),
        },
    )
    w = Workload.from_rates([10, 10], seed=4, slo_ms=500.0)
    r = emulate(p, w, script)
    accounted(r, w)
    bad = r.events[(r.events.kind == "resize") & (r.events.state == "infeasible")]
    assert len(bad) >= 1 and "cores" in bad["detail"].iloc[0]  # asked again every tick
    switch = r.events[(r.events.kind == "variant") & (r.events.state == "infeasible")]
    assert len(switch) >= 1 and "do not fit" in switch["detail"].iloc[0]
    assert all(cfg["s"] == StageConfig("burn", 1, 1.0, 1) for cfg in r.timeline["config"])
    assert r.counts()["served"] == len(w)
    assert (r.stage_records["s"]["replica"] == 0).all()  # the first replica served them all


class Boom(Script):
    def __init__(self, exc):
        super().__init__(Config({"s": StageConfig("v", 2, 1.0, 1)}), {})
        self.exc = exc

    def decide(self, obs):
        if obs.t_s >= 0.5:
            raise self.exc
        return self.config


def _one_stage():
    return Pipeline.chain(Stage("s", (Variant("v", 0.9, SLEEP, model="sleep"),)))


def test_exception_inside_the_policy_leaves_nothing(procs):
    with pytest.raises(ZeroDivisionError):
        emulate(_one_stage(), Workload.from_rates([10] * 3, seed=5), Boom(ZeroDivisionError()))


def test_ctrl_c_returns_the_partial_result_and_leaves_nothing(procs):
    w = Workload.from_rates([10] * 4, seed=6, slo_ms=500.0)
    r = emulate(_one_stage(), w, Boom(KeyboardInterrupt()))
    accounted(r, w)
    assert r.meta["interrupted"] and len(r) < len(w)


def test_a_real_sigint_stops_between_events_with_consistent_records(procs, default_sigint):
    """Ctrl-C as the terminal sends it (SIGINT to this process, mid-run): the run stops at
    its next safe point, at once, and returns every arrived request with a final status."""
    w = Workload.from_rates([20] * 6, seed=8, slo_ms=500.0)
    p = Pipeline.chain(Stage("s", (Variant("burn", 0.7, BURN, model="burn"),)))
    sent = []

    def interrupt():
        t_end = time.monotonic() + 60
        while time.monotonic() < t_end:
            routers = live_routers()
            if routers and routers[0].t0 is not None and routers[0].now() >= 1.0:
                sent.append(routers[0].now())
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.01)

    th = threading.Thread(target=interrupt, daemon=True)
    th.start()
    r = emulate(p, w, Static(Config({"s": StageConfig("burn", 1, 1.0, 1)}), interval_s=0.5))
    th.join()
    accounted(r, w)
    assert sent and r.meta["interrupted"]
    assert 0 <= r.meta["interrupted_at_s"] - sent[0] < 0.5  # at once (a wait is <= 0.25 s)
    assert 0 < len(r) < len(w)


def test_a_sigint_while_replicas_load_stops_at_once(procs, default_sigint):
    """Ctrl-C before the run has started (replicas still loading) raises KeyboardInterrupt
    without waiting for them, and leaves nothing."""
    sent = []

    def interrupt():
        t_end = time.monotonic() + 60
        while time.monotonic() < t_end:
            routers = live_routers()
            if routers and routers[0].t0 is None and routers[0].reps:
                sent.append(time.monotonic())
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.002)

    th = threading.Thread(target=interrupt, daemon=True)
    th.start()
    with pytest.raises(KeyboardInterrupt):
        emulate(
            _one_stage(),
            Workload.from_rates([10] * 3, seed=9),
            Static(Config.default(_one_stage())),
        )
    th.join()
    assert sent and time.monotonic() - sent[0] < 3.0


SIGTERM_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from ssloserve.pipeline import Config, Pipeline, Stage, StageConfig, Variant
    from ssloserve.latency import LatencyModel
    from ssloserve.runtime.emu import emulate
    from ssloserve.runtime.emu import live_routers
    from ssloserve.workloads import Workload

    out = sys.argv[1]
    p = Pipeline.chain(Stage("s", (Variant("v", 0.9, LatencyModel(0, 0, 0, 5.0), model="burn"),)))

    class Report:
        interval_s = 0.2
        def initial(self, pipeline, slo_ms):
            return Config({"s": StageConfig("v", 2, 0.5, 1)})
        def decide(self, obs):
            r = live_routers()[0]
            pids = [x.pid for x in r.reps.values()] + [r.loadgen.pid]
            cg = str(r.limiter.root) if hasattr(r.limiter, "root") else ""
            with open(out + ".tmp", "w") as f:
                json.dump({"pids": pids, "cgroup": cg}, f)
            os.replace(out + ".tmp", out)
            return self.initial(None, None)

    emulate(p, Workload.from_rates([20] * 30, seed=0), Report())
    """
)


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (a zombie has exited; only its entry is left)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return False
    return raw[raw.rindex(")") + 2] != "Z"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_killed_parent_leaves_no_process_and_no_cgroup(tmp_path, sig):
    """SIGTERM: the run cleans up, then exits with 128 + 15. SIGKILL cannot be caught: the
    replicas and the load generator die with their parent (PR_SET_PDEATHSIG); its empty
    cgroup folders are removed by the next run's first step (remove_stale_cgroups)."""
    script = tmp_path / "run.py"
    script.write_text(SIGTERM_SCRIPT)
    out = tmp_path / "pids.json"
    proc = subprocess.Popen([sys.executable, str(script), str(out)])
    try:
        t_end = time.monotonic() + 60
        while not out.exists() and time.monotonic() < t_end and proc.poll() is None:
            time.sleep(0.05)
        assert out.exists(), "the emulator in the subprocess never started"
        import json

        info = json.loads(out.read_text())
        assert all(_alive(p) for p in info["pids"])
        proc.send_signal(sig)
        rc = proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == (128 + sig if sig == signal.SIGTERM else -sig)
    t_end = time.monotonic() + 5
    while any(_alive(p) for p in info["pids"]) and time.monotonic() < t_end:
        time.sleep(0.05)
    assert [p for p in info["pids"] if _alive(p)] == []
    if sig == signal.SIGKILL and info["cgroup"]:
        assert str(info["cgroup"]) in [str(d) for d in stale_cgroups()]
        remove_stale_cgroups()
    if info["cgroup"]:
        assert not os.path.exists(info["cgroup"])
    assert leftovers(proc.pid)["cgroups"] == []


RUNAWAY_SCRIPT = textwrap.dedent(
    """
    import os, resource, signal, sys, time
    from ssloserve.runtime.emu.limits import (
        RealtimeGuard, boost_child_process, is_realtime, realtime,
    )

    lim0, sig0 = resource.getrlimit(resource.RLIMIT_RTTIME), signal.getsignal(signal.SIGXCPU)
    if sys.argv[1] == "child":  # as the load generator and sleep replicas do
        guard, ok = None, boost_child_process()
    else:  # as the router does in the caller's process
        guard = RealtimeGuard().__enter__()
        ok = realtime(True)
    assert ok and is_realtime(), "the real-time class was not granted"
    t0 = time.process_time()
    while is_realtime() and time.process_time() - t0 < 5.0:
        pass  # a runaway: never blocks
    ran = time.process_time() - t0
    restored = None
    if guard is not None:
        guard.close()
        restored = (
            resource.getrlimit(resource.RLIMIT_RTTIME) == lim0
            and signal.getsignal(signal.SIGXCPU) is sig0
        )
    print(ran, RealtimeGuard.tripped, is_realtime(), restored)
    """
)


@pytest.mark.skipif(os.geteuid() != 0, reason="the real-time class needs root")
@pytest.mark.parametrize("where", ["router", "child"])
def test_a_runaway_real_time_loop_is_demoted_at_once(where, tmp_path):
    """A thread boosted to real time that never blocks is moved back to the normal class
    after RT_BUDGET_S of CPU (by the kernel's RLIMIT_RTTIME and the guard's handler), so it
    cannot hold a core; leaving the guard restores the limit and the handler."""
    script = tmp_path / "runaway.py"
    script.write_text(RUNAWAY_SCRIPT)
    out = subprocess.run(
        [sys.executable, str(script), where], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    ran, tripped, still_rt, restored = out.stdout.split()
    assert float(ran) < RT_BUDGET_S + 0.3, f"ran {ran} s of CPU in real time"
    assert float(ran) >= RT_BUDGET_S * 0.5
    assert (int(tripped), still_rt) == (1, "False")
    assert restored == ("True" if where == "router" else "None")


def test_ctrl_c_during_clean_up_does_not_cut_it_short(procs, monkeypatch):
    """A second Ctrl-C that lands while the run is cleaning up (here: at the very start of
    stopping the processes) still leaves no process, cgroup or raised priority, and is
    raised once everything is gone."""
    from ssloserve.runtime.emu.router import Router

    stop = Router._stop_processes
    hits = []

    def interrupted_once(self):
        if not hits:
            hits.append(1)
            raise KeyboardInterrupt
        stop(self)

    monkeypatch.setattr(Router, "_stop_processes", interrupted_once)
    p = Pipeline.chain(Stage("s", (Variant("burn", 0.7, BURN, model="burn"),)))
    w = Workload.from_rates([10], seed=7, slo_ms=500.0)
    with pytest.raises(KeyboardInterrupt):
        emulate(p, w, Static(Config({"s": StageConfig("burn", 1, 0.5, 1)})))
    assert hits
