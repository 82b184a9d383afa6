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
