"""The Ray runtime (runtime="ray"): the same experiment as sim and emu, a killed actor,
clean shutdown, and the error without Ray.

Each ``run(..., "ray")`` here starts its own local Ray (2 CPUs) and stops it: seconds on a
quiet machine (2.6 s measured in issue 14), 12-50 s on this shared 2-core machine under
load; after each, no Ray process of it may be alive. The shutdown test starts its own Ray
twice in a subprocess (Ctrl-C, exception). Ray is not started while the emulator runs, so
Ray's own processes do not slow the emulator's cold starts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from ssloserve import run
from ssloserve.errors import ToolNotFoundError
from ssloserve.latency import LatencyModel
from ssloserve.outcomes import LATE, SERVED
from ssloserve.pipeline import Config, Pipeline, Stage, StageConfig, Variant
from ssloserve.policies import Static
from ssloserve.runtime.emu import live_routers, nothing_left
from ssloserve.runtime.emu.actuate import CHANGE_KINDS
from ssloserve.workloads import Workload

pytestmark = pytest.mark.emu

SLEEP = LatencyModel(0.0, 0.0, 0.0, 20.0)  # 20 ms whatever the batch and cores

#: The configs of the three-runtime test, in the order the policy asks for them.
SCRIPT = [
    Config({"s": StageConfig("a", 1, 0.5, 1)}),
    Config({"s": StageConfig("a", 2, 0.5, 1)}),  # scale out
    Config({"s": StageConfig("a", 2, 1.0, 1)}),  # resize in place
    Config({"s": StageConfig("b", 2, 1.0, 1)}),  # variant switch
    Config({"s": StageConfig("b", 1, 1.0, 1)}),  # scale in
]
END_S = 20.0  # room for cold starts of several seconds on a busy machine


class Scripted:
    """Asks for ``SCRIPT[k + 1]`` once ``SCRIPT[k]`` is in force and its change is done, so
    a slower cold start changes when things happen, never their order."""

    interval_s = 0.5

    def __init__(self):
        self.k = 0
        self.reached = []

    def initial(self, pipeline, slo_ms):
        return SCRIPT[0]

    def decide(self, obs):
        done = obs.config == SCRIPT[self.k] and obs.actuation["s"] == "done"
        if done and len(self.reached) == self.k:
            self.reached.append(obs.t_s)
            self.k = min(self.k + 1, len(SCRIPT) - 1)
        return SCRIPT[self.k]


def _changes(r) -> list[tuple]:
    ev = r.events
    ev = ev[ev["kind"].isin(CHANGE_KINDS)]
    return list(zip(ev["stage"], ev["kind"], ev["state"], strict=True))


@pytest.fixture
def ray_installed():
    pytest.importorskip("ray")


def _no_ray_process_left(r) -> None:
    """The run started its own Ray and shut it down: none of the processes it recorded
    (GCS server, raylet, workers, agents) is alive, none names its session."""
    from ssloserve.runtime.ray import leftovers

    info = r.meta["ray"]
    assert info["started_here"] and len(info["processes"]) >= 3, info
    assert leftovers(info) == []


def test_sim_emu_and_ray_go_through_the_same_steps_with_close_summaries(ray_installed):
    """Tolerances (stated): every request served in all three; the same actuation rows
    (stage, kind, state) in the same order; the replicas' median service time within 10 ms
    of the model's 20 ms; end-to-end p50 within 60 ms of the simulator's (router, pipes or
    Ray calls on a 2-core machine that other jobs load: Ray's p50 was 47 ms at load
    average 10, see benchmarks/ray.md for its overhead); mean accuracy within
    0.05 and core-seconds within 35% of the simulator's given the runtime's measured median
    cold start (cold starts set when each change happens, and a starting replica holds its
    cores: a process or an actor takes seconds, on a busy machine a varying number)."""
    p = Pipeline.chain(
        Stage(
            "s",
            (
                Variant("a", 0.8, SLEEP, model="sleep"),
                Variant("b", 0.9, SLEEP, model="sleep"),
            ),
        )
    )
    arrivals = np.arange(0.25, END_S, 1.0)
    w = Workload(arrivals, np.full(len(arrivals), 1000.0), np.zeros(len(arrivals)), END_S)
    pol = {k: Scripted() for k in ("sim", "emu", "ray")}
    res = {"sim": run(p, w, pol["sim"], "sim", cold_start_s=0.5, resize_delay_ms=5.0)}
    with nothing_left():
        res["emu"] = run(p, w, pol["emu"], "emu", progress=False)
        res["ray"] = run(p, w, pol["ray"], "ray", progress=False)
    assert res["ray"].runtime == "ray"
    _no_ray_process_left(res["ray"])
    for k, policy in pol.items():  # every config was reached, the last one too
        assert len(policy.reached) == len(SCRIPT), (k, policy.reached)
    assert _changes(res["sim"]) == _changes(res["emu"]) == _changes(res["ray"])
    kinds = [k for _, k, st in _changes(res["ray"]) if st == "requested"]
    assert kinds == ["scale_out", "scale_out", "resize", "variant", "scale_in"]
    for k in ("emu", "ray"):
        # the simulator again, given the cold start this runtime measured (median)
        cold_s = float(np.median(res[k].meta["cold_start_s"]))
        sim = run(p, w, Scripted(), "sim", cold_start_s=cold_s, resize_delay_ms=5.0).summary()
        s = res[k].summary()
        assert s["requests"] == s["served"] == sim["requests"] == len(w), k
        assert res[k].timeline["config"].iloc[-1] == SCRIPT[-1]
        rec = res[k].stage_records["s"]  # the replica's own time per batch: the model
        svc_ms = float(np.nanmedian(rec["finish_s"] - rec["start_s"])) * 1000.0
        assert abs(svc_ms - 20.0) < 10.0, (k, svc_ms)
        assert abs(s["p50_ms"] - sim["p50_ms"]) < 60.0, (k, s["p50_ms"], sim["p50_ms"])
        assert abs(s["mean_accuracy"] - sim["mean_accuracy"]) < 0.05, k
        rel = abs(s["core_seconds"] - sim["core_seconds"]) / sim["core_seconds"]
        assert rel < 0.35, (k, cold_s, s["core_seconds"], sim["core_seconds"])
    cold = res["ray"].meta["cold_start_s"]  # real actor start-ups were measured
    assert len(cold) == 4 and all(c > 0 for c in cold)


_HEAD = textwrap.dedent(
    """
    import os, sys, time, ray
    ray.init(num_cpus=2, include_dashboard=False)
    node = ray._private.worker._global_node
    out = sys.argv[1]
    with open(out + ".tmp", "w") as f:
        f.write(node.address + " " + os.path.basename(node.get_session_dir_path()))
    os.rename(out + ".tmp", out)
    while not os.path.exists(out + ".stop"):
        time.sleep(0.1)
    ray.shutdown()
    """
)


@pytest.fixture
def ray_cluster(ray_installed, tmp_path):
    """A running Ray cluster (a head started by another process, as ``ray start --head``
    would); yields its address. Ray 2.60 clusters use token authentication: the head
    writes its token to ``~/.ray/auth_token`` (if none is there), and ``address=`` joins
    with it. Afterwards the head is shut down and no process names its session."""
    from ssloserve.runtime.ray.session import _mentions

    out = tmp_path / "head"
    head = subprocess.Popen(
        [sys.executable, "-c", _HEAD, str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        t_end = time.monotonic() + 180
        while not out.exists():
            assert head.poll() is None and time.monotonic() < t_end, head.stderr.read()[-2000:]
            time.sleep(0.1)
        address, session = out.read_text().split()
        yield address
    finally:
        (tmp_path / "head.stop").touch()
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()
    time.sleep(0.5)
    assert _mentions(session) == []


def test_a_killed_actor_on_a_joined_cluster_is_replaced_and_loses_no_request(ray_cluster):
    """On a cluster joined by ``address=``: SIGKILL a busy replica actor's process mid-run;
    Ray reports it dead, its batch is retried on the other replica or its replacement, and
    every request is served. The run leaves the cluster running and this process
    disconnected."""
    import ray

    slow = LatencyModel(0.0, 0.0, 0.0, 80.0)
    p = Pipeline.chain(Stage("s", (Variant("v", 0.9, slow, model="sleep"),)))
    w = Workload.from_rates([10] * 12, seed=3, slo_ms=5000.0)  # room for a replacement
    killed = []

    def killer():
        t_end = time.monotonic() + 60
        while time.monotonic() < t_end and not killed:
            for router in live_routers():
                if router.t0 is None or router.now() < 1.0:
                    continue
                busy = [x for x in router.reps.values() if x.busy and x.state == "busy"]
                if busy and busy[0].rid in router.actor_pids:
                    pid = router.actor_pids[busy[0].rid]
                    killed.append((pid, list(busy[0].batch[1])))
                    os.kill(pid, signal.SIGKILL)
                    return
            time.sleep(0.01)

    th = threading.Thread(target=killer, daemon=True)
    th.start()
    cfg = Config({"s": StageConfig("v", 2, 1.0, 1)})
    r = run(p, w, Static(cfg), "ray", address=ray_cluster, progress=False)
    th.join()
    assert r.meta["ray"]["address"] == ray_cluster and not r.meta["ray"]["started_here"]
    assert not ray.is_initialized()
    assert killed, "the test did not find a busy replica to kill"
    st = r.requests["status"]
    assert len(r) == len(w) and set(np.unique(st)) <= {SERVED, LATE}  # none lost
    assert r.meta["crashes"] == 1 and r.meta["retried"] >= 1
    for i in killed[0][1]:
        assert st[i] in (SERVED, LATE)
    ev = r.events
    t_crash = float(ev[ev.kind == "crash"]["t_s"].iloc[0])
    after = ev[ev.t_s >= t_crash]
    assert ((after.kind == "scale_out") & (after.state == "requested")).any()
    assert (after.kind == "ready").any(), "no replacement became ready"
    assert "ActorDiedError" in " ".join(ev[ev.kind == "crash_cause"]["detail"])


_SHUTDOWN = textwrap.dedent(
    """
    import json, os, signal, sys, threading, time
    import numpy as np
    from ssloserve import run
    from ssloserve.latency import LatencyModel
    from ssloserve.pipeline import Config, Pipeline, Stage, StageConfig, Variant
    from ssloserve.policies import Static
    from ssloserve.runtime.emu import live_routers
    from ssloserve.runtime.ray.session import descendants
    from ssloserve.workloads import Workload

    seen, stop = set(), threading.Event()
    def watch():  # every process this one starts (Ray's too), while they are its descendants
        while not stop.is_set():
            seen.update(descendants())
            time.sleep(0.1)
    threading.Thread(target=watch, daemon=True).start()
    p = Pipeline.chain(Stage("s", (Variant("v", 0.9, LatencyModel(0, 0, 0, 20.0), model="sleep"),)))
    w = Workload.from_rates([10] * 20, seed=1, slo_ms=1000.0)
    static = Static(Config({"s": StageConfig("v", 1, 1.0, 1)}), interval_s=0.5)

    def interrupt():  # Ctrl-C as the terminal sends it, 1 s into the run
        while True:
            rs = live_routers()
            if rs and rs[0].t0 is not None and rs[0].now() >= 1.0:
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.01)
    threading.Thread(target=interrupt, daemon=True).start()
    r = run(p, w, static, "ray", progress=False)
    out = {"interrupted": r.meta["interrupted"], "session": r.meta["ray"]["session_name"]}

    class Boom:
        interval_s = 0.5
        def initial(self, pipeline, slo_ms):
            return static.initial(pipeline, slo_ms)
        def decide(self, obs):
            raise ValueError("boom")
    try:
        run(p, w, Boom(), "ray", progress=False)
        out["raised"] = None
    except ValueError as e:
        out["raised"] = str(e)
    stop.set()
    time.sleep(0.2)
    out["seen"] = sorted(seen)
    out["left_now"] = descendants()
    print("RESULT " + json.dumps(out))
    """
)


def test_no_ray_process_outlives_a_run_after_ctrl_c_or_an_exception(tmp_path):
    """A subprocess runs twice on its own local Ray: stopped by SIGINT 1 s in, and ended by
    an exception in the policy. Afterwards none of the processes it ever had below it
    (GCS server, raylet, workers, agents, load generator) is alive, and none names its
    Ray session. Its starts print no token-mode notice (Ray's 240-character line at
    every local start, held back by the session; RAY_AUTH_MODE unset as by default)."""
    pytest.importorskip("ray")
    from ssloserve.runtime.ray.session import _mentions

    env = dict(os.environ, PYTHONPATH=os.getcwd())
    env.pop("RAY_AUTH_MODE", None)
    proc = subprocess.run(
        [sys.executable, "-c", _SHUTDOWN],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    assert "Token authentication" not in proc.stderr, proc.stderr[-3000:]
    out = json.loads(lines[0][len("RESULT ") :])
    assert out["interrupted"] is True
    assert out["raised"] == "boom"
    assert len(out["seen"]) >= 3, out  # Ray's processes were seen (gcs, raylet, workers)
    time.sleep(0.5)
    alive = [p for p in out["seen"] if os.path.exists(f"/proc/{p}/stat")]
    alive = [p for p in alive if open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"]
    assert alive == [] and out["left_now"] == []
    assert _mentions(out["session"]) == []


def test_without_ray_the_ray_runtime_says_how_to_install_it(monkeypatch):
    """With ``import ray`` failing (as where it is not installed), ``runtime="ray"`` raises
    ToolNotFoundError naming the extra, before starting anything."""
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    p = Pipeline.chain(Stage("s", (Variant("v", 0.9, SLEEP, model="sleep"),)))
    w = Workload.from_rates([5] * 2, seed=1, slo_ms=1000.0)
    with pytest.raises(ToolNotFoundError, match=r"pip install 'ssloserve\[ray\]'"):
        run(p, w, Config.default(p), "ray")
