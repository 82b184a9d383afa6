"""Biscale's switching rule and policy on scripted load sequences (PAPERS.md 4; chapter 04_biscale).

The rule is a pure function: scripted signal sequences drive it through every branch. The
policy then runs in the simulator on a scripted load (a step nobody forecast, one that the
forecast saw coming, a drop) and every branch of the rule must fire, each where the script
puts it.
"""

from __future__ import annotations

import numpy as np
import pytest

from ssloserve.biscale import horizontal_plan
from ssloserve.biscale.policy import BiscalePolicy, capacity_rps
from ssloserve.biscale.switching import BRANCHES, Signals, SwitchRule, SwitchState, switch
from ssloserve.fa2 import video_pipeline
from ssloserve.runtime.api import run
from ssloserve.workloads import Workload

SLO = 780.0


def drive(signals, rule):
    state, seen = SwitchState(), []
    for sig in signals:
        branch, state = switch(state, sig, rule)
        seen.append((branch, state.mode))
    return seen


def test_switch_scripted_sequences_take_every_branch():
    rule = SwitchRule(k_stable=3, rise_tolerance=0.1)
    quiet = Signals(10, 10, 20)
    # a rise within tolerance is no rise; above it, vertical at once; K = 3 stable decisions
    # later the horizontal replicas are asked for, then they start, then horizontal again
    a = drive(
        [
            quiet,
            Signals(21, 10, 20),
            Signals(23, 10, 20),
            Signals(23, 23, 25, horizontal_ready=False),
            Signals(23, 23, 25, horizontal_ready=False),
            Signals(23, 23, 25, horizontal_ready=False),
            Signals(23, 23, 25, starting=True, horizontal_ready=False),
            Signals(23, 23, 25),
        ],
        rule,
    )
    assert [b for b, _ in a] == [
        "steady",
        "steady",
        "rise",
        "hold",
        "hold",
        "stable",
        "starting",
        "to_horizontal",
    ]
    assert [m for _, m in a] == ["horizontal"] * 2 + ["vertical"] * 5 + ["horizontal"]
    # a forecast rise; then one that puts a stage at its core cap: replicas at once, and
    # horizontal as soon as they are ready, before K stable decisions
    b = drive(
        [
            Signals(10, 30, 20),
            Signals(60, 60, 30, vertical_at_cap=True, horizontal_ready=False),
            Signals(60, 60, 61, starting=True, horizontal_ready=False),
            Signals(60, 60, 61),
        ],
        rule,
    )
    assert [x for x, _ in b] == ["predicted_rise", "at_cap", "starting", "to_horizontal"]
    # load falls: scale in only once the window agrees
    c = drive(
        [
            quiet,
            Signals(5, 5, 20, cheaper_now=True),
            Signals(5, 5, 20, cheaper_now=True, cheaper_stable=True),
        ],
        rule,
    )
    assert [x for x, _ in c] == ["steady", "scale_in_wait", "scale_in"]
    # a rise while vertical restarts the count of stable decisions
    d = drive(
        [Signals(30, 30, 20), Signals(30, 30, 31), Signals(40, 40, 31), Signals(40, 40, 41)], rule
    )
    assert [x for x, _ in d] == ["rise", "hold", "rise", "hold"]
    assert {x for seq in (a, b, c, d) for x, _ in seq} == set(BRANCHES)


def test_switch_rule_refuses_bad_thresholds():
    with pytest.raises(ValueError, match="k_stable"):
        SwitchRule(k_stable=0)
    with pytest.raises(ValueError, match="rise_tolerance"):
        SwitchRule(rise_tolerance=-0.1)


def scripted_load():
    """5 RPS; 40 at 60 s (not forecast); 50 at 140 s (forecast); 70 at 220 s (not forecast);
    10 from 300 s. The forecast sees 10 s ahead."""
    actual = np.repeat([5, 40, 50, 70, 10], [60, 80, 80, 80, 160]).astype(float)
    forecast = np.repeat([5, 5, 50, 50, 10], [60, 80, 80, 80, 160]).astype(float)

    def predictor(rates):  # at time t the policy has seen t whole seconds (t < 600)
        t = len(rates)
        return float(max(rates[-1], forecast[t : t + 10].max(initial=0.0)))

    return actual, predictor


def test_policy_in_the_simulator_fires_every_branch_where_the_script_puts_it():
    p = video_pipeline("yolov5n", "resnet18", max_batch=8, source="fallback")
    rates, predictor = scripted_load()
    w = Workload.from_rates(rates, seed=1, slo_ms=SLO)
    pol = BiscalePolicy(
        p, SLO, k_stable=5, stabilisation_s=30, predictor=predictor, initial_rate_rps=5.0
    )
    res = run(p, w, pol, "sim", cold_start_s=3.0, resize_delay_ms=0.2, progress=False)
    fired = pol.branches()
    assert set(fired) == set(BRANCHES), fired
    when = {}
    for t, b, _ in pol.log:
        when.setdefault(b, []).append(t)
    assert 60 <= min(when["at_cap"]) <= 62  # the unforecast step to 40 RPS: cap, replicas at once
    assert any(128 <= t < 140 for t in when["predicted_rise"])  # before the forecast step
    assert any(220 <= t <= 222 for t in when["rise"])  # the unforecast step to 70 RPS
    assert min(when["scale_in"]) >= 300 + 30  # only after the stabilisation window
    # at the cap the detectors ran on 8 cores; back to horizontal they run on 1
    tl = res.timeline
    at_cap = tl[(tl["t_s"] > 61) & (tl["t_s"] < 63)]["config"].iloc[0]
    assert at_cap["detect"].cores == 8.0
    assert pol.target["detect"].cores == 1.0 and pol.state.mode == "horizontal"
    s = res.summary()
    assert s["requests"] == s["served"] + s["late"] + s["dropped"]


def test_capacity_is_the_slowest_stage():
    p = video_pipeline("yolov5n", "resnet18", max_batch=8, source="fallback")
    cfg = horizontal_plan(p, 30.0, SLO)
    det, cls = (p.stage(s).variants[0] for s in p.order)
    want = min(
        cfg["detect"].replicas * det.throughput_rps(cfg["detect"].batch, 1.0),
        cfg["classify"].replicas * cls.throughput_rps(cfg["classify"].batch, 1.0),
    )
    assert capacity_rps(p, cfg) == pytest.approx(want)
    assert capacity_rps(p, cfg) >= 30.0
