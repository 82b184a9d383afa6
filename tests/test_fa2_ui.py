"""Headless tests of chapter 01_fa2's widget and charts (set a slider, check ``.result``)."""

from __future__ import annotations

import inspect

import altair as alt

from ssloserve import fa2
from ssloserve.fa2 import ui
from ssloserve.viz import to_svg

P = fa2.video_pipeline(source="fallback")


def test_slider_defaults_equal_function_defaults():
    w = ui.PlanExplorer(pipeline=P)
    sig = inspect.signature(ui.plan_summary).parameters
    assert w.rate.value == sig["rate_rps"].default
    assert w.slo.value == sig["slo_ms"].default
    assert w.result.equals(ui.plan_summary(pipeline=P))


def test_moving_a_slider_replans():
    w = ui.PlanExplorer(pipeline=P)
    w.rate.value = 50.0
    want = fa2.plan(P, 50.0, w.slo.value)
    got = w.result[w.result.planner == "FA2"].set_index("stage")
    assert got["cost"].sum() == want.cost
    assert got.loc["detect", "batch"] == want["detect"].batch
    assert f"FA2: {want.cost:g} cores" in w.table.value
    w.slo.value = 1500.0
    assert w.result[w.result.planner == "FA2"]["cost"].sum() == fa2.plan(P, 50.0, 1500.0).cost


def test_infeasible_slo_is_shown_not_raised():
    w = ui.PlanExplorer(pipeline=P)
    w.slo.value = 200.0  # below YOLOv5s + ResNet50 at batch 1 (about 460 ms)
    assert (w.result["stage"] == "-").all()
    assert "smallest feasible SLO" in w.result["note"].iloc[0]


def test_charts_render_offline():
    g = fa2.configuration_graph(P, 20.0, batches=[1, 2, 4, 8])
    ch = ui.graph_chart(g, fa2.plan(P, 20.0, 780.0, batches=[1, 2, 4, 8]))
    assert "<svg" in to_svg(ch)
    t = fa2.cost_vs_rate(P, [5, 20, 35], 780.0)
    assert isinstance(ui.cost_chart(t), alt.Chart)


# ------------------------------------------------- the DP worked step by step; slider chart


def _all_plans(lat, lam, slo):
    """Every full plan of a chain by enumeration: (latency, cost) each (the oracle's view)."""
    import itertools

    from ssloserve.fa2.dp import chain_layers

    layers = chain_layers(lat, lam, 1, slo)
    return [
        (sum(o[0] for o in combo), sum(o[1] for o in combo)) for combo in itertools.product(*layers)
    ]


def test_walkthrough_last_pareto_set_is_the_pareto_set_of_all_plans():
    """On random chains: the candidates kept at the last stage are exactly the non-dominated
    full plans within the SLO (found by enumerating every plan), and the cheapest of them is
    brute force's answer."""
    import numpy as np

    from ssloserve.errors import InfeasibleError

    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(40):
        lat, lam, slo = fa2.random_chain_instance(rng, max_stages=3)
        try:
            oracle = fa2.brute_force_chain(lat, lam, slo)
        except InfeasibleError:
            continue
        t = ui.pareto_walkthrough(lat, lam, slo)
        last = t[t.stage == len(lat)]
        kept = sorted(
            (round(a, 6), round(b, 6))
            for a, b in last[last.status == "kept"][["latency_ms", "cost"]].values
        )
        plans = [(a, b) for a, b in _all_plans(lat, lam, slo) if a <= slo + fa2.EPS_MS]
        front = sorted(
            {
                (round(a, 6), round(b, 6))
                for a, b in plans
                if not any((a2 <= a and b2 <= b) and (a2 < a or b2 < b) for a2, b2 in plans)
            }
        )
        assert kept == front
        assert min(c for _, c in kept) == oracle.cost
        # every dropped candidate says why, truthfully
        over = last[last.status == "over the SLO"]
        assert (over.latency_ms > slo).all()
        assert set(t.status) <= {"kept", "dominated", "over the SLO"}
        checked += 1
    assert checked >= 20


def test_walkthrough_by_hand():
    """The chapter's toy chain, worked by hand (the text of 01_fa2): A = {1: 60, 2: 70,
    4: 90} ms, B = {1: 30, 2: 36} ms at 40 RPS, SLO 160 ms."""
    t = ui.pareto_walkthrough([{1: 60.0, 2: 70.0, 4: 90.0}, {1: 30.0, 2: 36.0}], 40.0, 160.0)
    got = [(r.stage, r.latency_ms, r.cost, r.status) for r in t.itertuples()]
    assert got == [
        (1, 60.0, 3.0, "kept"),
        (1, 95.0, 2.0, "kept"),
        (1, 165.0, 1.0, "over the SLO"),
        (2, 90.0, 5.0, "kept"),
        (2, 121.0, 4.0, "kept"),
        (2, 125.0, 4.0, "dominated"),
        (2, 156.0, 3.0, "kept"),
    ]
    fronts = fa2.pareto_steps([{1: 60.0, 2: 70.0, 4: 90.0}, {1: 30.0, 2: 36.0}], 40.0, 160.0)
    assert [f.payload for f in fronts][-1][-1] == ((2, 2), (2, 1))


def test_plan_explorer_holds_plan_summary_at_every_rate():
    sc = ui.plan_explorer(P, 780.0, range(5, 41, 5))
    spec = sc.to_dict()
    rows = spec["datasets"][spec["data"]["name"]]
    for lam in range(5, 41, 5):
        want = ui.plan_summary(float(lam), 780.0, P).groupby("planner")["cost"].sum()
        got = {}
        for r in rows:
            if r["rate_rps"] == lam:
                got[r["planner"]] = got.get(r["planner"], 0.0) + r["cost"]
        assert got == want.to_dict(), lam
    (param,) = spec["params"]
    default = inspect.signature(ui.plan_summary).parameters["rate_rps"].default
    assert param["name"] == "rate" and param["value"] == default
    assert param["bind"]["input"] == "range" and param["bind"]["step"] == 5.0
