"""One scripted actuation sequence on the simulator and on the emulator: both go through
the same changes, in the same states, in the same order, and end in the same config.

The script: one replica of variant ``a`` at 0.5 cores; scale out to 2; resize to 1 core
in place; switch to variant ``b`` (a rolling replacement); scale in to 1. The policy asks
for the next config once it sees the previous one in force and its change done, so a
slow cold start (a real process in the emulator, ``cold_start_s`` in the simulator)
changes *when* things happen, never their order. Both runtimes execute the shared
planner's steps (:mod:`ssloserve.runtime.actuation`). Requests arrive at k + 0.25 s and
take 20 ms, so no replica is busy when the policy acts (a busy replica would drain
instead of stopping at once: a different path, which depends on timing).
"""

from __future__ import annotations

import numpy as np
import pytest

from ssloserve import run
from ssloserve.latency import LatencyModel
from ssloserve.pipeline import Config, Pipeline, Stage, StageConfig, Variant
from ssloserve.runtime.emu import nothing_left
from ssloserve.runtime.emu.actuate import CHANGE_KINDS
from ssloserve.workloads import Workload

pytestmark = pytest.mark.emu

SLEEP = LatencyModel(0.0, 0.0, 0.0, 20.0)  # 20 ms whatever the batch and cores

#: The configs, in the order the policy asks for them.
SCRIPT = [
    Config({"s": StageConfig("a", 1, 0.5, 1)}),
    Config({"s": StageConfig("a", 2, 0.5, 1)}),  # scale out
    Config({"s": StageConfig("a", 2, 1.0, 1)}),  # resize in place
    Config({"s": StageConfig("b", 2, 1.0, 1)}),  # variant switch
    Config({"s": StageConfig("b", 1, 1.0, 1)}),  # scale in
]
END_S = 12.0  # long enough for two cold starts of several seconds on a busy machine


class Scripted:
    """Asks for ``SCRIPT[k + 1]`` once ``SCRIPT[k]`` is in force and its change is done;
    ``reached`` records the time each config was seen in force."""

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
    """(stage, kind, state) of every actuation event, in order."""
    ev = r.events
    ev = ev[ev["kind"].isin(CHANGE_KINDS)]
    return list(zip(ev["stage"], ev["kind"], ev["state"], strict=True))


def test_one_scripted_sequence_goes_the_same_way_in_both_runtimes():
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
    sim_policy, emu_policy = Scripted(), Scripted()
    sim = run(p, w, sim_policy, "sim", cold_start_s=0.5, resize_delay_ms=5.0)
    with nothing_left():
        emu = run(p, w, emu_policy, "emu")
    for policy in (sim_policy, emu_policy):  # every config was reached, the last one too
        assert len(policy.reached) == len(SCRIPT), policy.reached
    assert _changes(sim) == _changes(emu)
    kinds = [k for _, k, st in _changes(sim) if st == "requested"]
    assert kinds == ["scale_out", "scale_out", "resize", "variant", "scale_in"]
    assert all(st != "infeasible" for _, _, st in _changes(sim))
    for r in (sim, emu):
        assert r.timeline["config"].iloc[-1] == SCRIPT[-1]
        assert r.counts()["served"] == len(w)
