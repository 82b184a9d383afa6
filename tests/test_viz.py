"""Chart setup: svg by default, interactive on request, rendering offline."""

from __future__ import annotations

import json

import altair as alt
import numpy as np
import pandas as pd
import pytest

from ssloserve import viz
from ssloserve.charts import SYSTEM_COLORS


@pytest.fixture(autouse=True)
def _restore_renderer():
    active = alt.renderers.active
    opts = dict(alt.renderers.options)
    yield
    alt.renderers.enable(active, **opts)
    alt.data_transformers.enable("default")


def test_svg_is_the_default(monkeypatch):
    monkeypatch.delenv(viz.CHARTS_ENV, raising=False)
    assert viz.setup_charts() == "svg"
    assert alt.renderers.active == "svg"


def test_environment_selects_interactive(monkeypatch):
    monkeypatch.setenv(viz.CHARTS_ENV, "interactive")
    assert viz.setup_charts() == "jupyter"
    assert alt.renderers.active == "jupyter"
    assert alt.renderers.options.get("offline") is True
    # An explicit argument wins over the environment.
    assert viz.setup_charts("svg") == "svg"


@pytest.mark.parametrize(
    "name,want", [("jupyter", "jupyter"), ("INTERACTIVE", "jupyter"), (" svg ", "svg")]
)
def test_names_are_forgiving(monkeypatch, name, want):
    monkeypatch.setenv(viz.CHARTS_ENV, name)
    assert viz.setup_charts() in ("svg", "jupyter")
    assert viz.setup_charts() == want and alt.renderers.active == want


def test_unknown_renderer_is_an_error():
    with pytest.raises(ValueError, match="unknown chart renderer"):
        viz.setup_charts("png")


def test_row_limit_off_by_default_and_opt_in():
    big = pd.DataFrame({"x": range(6000), "y": range(6000)})
    chart = alt.Chart(big).mark_point().encode(x="x", y="y")
    viz.setup_charts("svg")
    chart.to_dict()  # no MaxRowsError: chapters aggregate, the guard is opt-in
    viz.setup_charts("svg", max_rows=5000)
    with pytest.raises(alt.MaxRowsError):
        chart.to_dict()


def test_small_chart_renders_to_svg_offline(monkeypatch):
    # vl-convert renders in-process; no socket may be opened while it does.
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("chart rendering tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    df = pd.DataFrame({"b": [1, 2, 4, 8], "latency_ms": [12.0, 15.0, 22.0, 35.0]})
    chart = viz.line_chart(df, "b:Q", "latency_ms:Q", title="l(b, c=1)")
    svg = viz.to_svg(chart)
    assert svg.lstrip().startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "l(b, c=1)" in svg
    # The svg renderer puts the same picture in the notebook's output.
    viz.setup_charts("svg")
    bundle = chart._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "image/svg+xml" in data and "<svg" in data["image/svg+xml"]


def test_line_chart_colour_and_tooltips():
    df = pd.DataFrame({"b": [1, 2, 1, 2], "ms": [1.0, 2.0, 1.5, 2.5], "c": [1, 1, 2, 2]})
    spec = viz.line_chart(df, "b:Q", "ms:Q", color="c:N").to_dict()
    assert spec["encoding"]["color"]["field"] == "c"
    assert {t["field"] for t in spec["encoding"]["tooltip"]} == {"b", "ms", "c"}


def test_interactive_charts_are_offline_widgets():
    import re

    viz.setup_charts("interactive")
    chart = alt.Chart(pd.DataFrame({"a": [1, 2]})).mark_point().encode(x="a")
    bundle = chart._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "application/vnd.jupyter.widget-view+json" in data
    # offline=True: the widget carries the Vega bundle itself, it imports nothing remote.
    esm = alt.JupyterChart._esm
    esm = esm if isinstance(esm, str) else str(esm)
    assert len(esm) > 100_000
    assert not re.search(r"""import[^;]{0,200}["']https?://""", esm)


# ------------------------------------------------------------------ colours and sliders


def _color_scales(spec) -> list[dict]:
    """Every color encoding's scale found anywhere in a Vega-Lite spec."""
    out = []
    if isinstance(spec, dict):
        enc = spec.get("encoding", {})
        if isinstance(enc, dict) and isinstance(enc.get("color"), dict):
            out.append(enc["color"].get("scale", {}))
        for v in spec.values():
            out += _color_scales(v)
    elif isinstance(spec, list):
        for v in spec:
            out += _color_scales(v)
    return out


def _system_runs():
    from ssloserve.latency import LatencyModel
    from ssloserve.pipeline import Config, Pipeline, Stage, StageConfig, Variant
    from ssloserve.runtime.api import run
    from ssloserve.workloads import Workload

    v = Variant("m", 0.5, LatencyModel(10.0, 1.0, 5.0, 1.0))
    p = Pipeline.chain(Stage("s", (v,)))
    w = Workload.from_rates([5, 9, 5, 5], seed=0, slo_ms=500.0)
    runs = {}
    for name, n in (("static peak", 2), ("HPA-like", 1)):
        runs[name] = run(p, w, Config({"s": StageConfig("m", replicas=n)}), "sim", seed=0)
    return runs


def test_a_system_has_one_colour_in_every_chart():
    """The tour's timeline and FA2's charts take each system's colour from SYSTEM_COLORS."""
    from ssloserve.fa2 import cost_vs_rate, video_pipeline
    from ssloserve.fa2.ui import cost_chart, timeline_chart

    assert len(set(SYSTEM_COLORS.values())) == len(SYSTEM_COLORS)
    p = video_pipeline(source="fallback")
    per_s = pd.DataFrame(
        dict(
            system=["FA2"] * 3 + ["SLO split"] * 3,
            second=[0, 1, 2] * 2,
            rate_rps=1.0,
            cores=2.0,
            violation_pct=0.0,
        )
    )
    charts = [
        viz.policy_timeline_chart(_system_runs()),
        cost_chart(cost_vs_rate(p, [5, 10], 780.0)),
        timeline_chart(per_s),
    ]
    seen = 0
    for ch in charts:
        scales = [s for s in _color_scales(ch.to_dict()) if "domain" in s]
        assert scales, "a chart of systems must colour them with charts.system_scale"
        for s in scales:
            for name, colour in zip(s["domain"], s["range"], strict=True):
                assert SYSTEM_COLORS[name] == colour, name
                seen += 1
    assert seen >= 6


def test_latency_explorer_holds_latency_point_for_every_slider_position():
    from ssloserve.latency import LatencyModel
    from ssloserve.ui import latency_point

    m = LatencyModel(18.3, 4.5, 45.6, 1.5)
    sc = viz.latency_explorer(m, max_batch=3, max_cores=2.0)
    spec = sc.to_dict()
    rows = spec["datasets"][spec["data"]["name"]]
    assert {(r["b"], r["c"]) for r in rows} == {
        (b, c) for b in (1, 2, 3) for c in (0.5, 1.0, 1.5, 2.0)
    }
    for r in rows:
        want = latency_point(m, r["b"], r["c"])
        assert r["latency_ms"] == pytest.approx(want["latency_ms"], abs=1e-3)
        assert r["speedup"] == pytest.approx(want["speedup"], abs=1e-3)
    params = {p["name"]: p for p in spec["params"]}
    assert params["b"]["value"] == 4 and params["c"]["value"] == 4.0  # latency_point's
    assert params["b"]["bind"]["input"] == "range" and params["c"]["bind"]["max"] == 2.0
    # the committed output is the Vega-Lite spec itself, the same text on every run
    b1, b2 = sc._repr_mimebundle_(), viz.latency_explorer(m, 3, 2.0)._repr_mimebundle_()
    mime = next(k for k in b1 if "vegalite" in k)
    assert b1 == b2 and json.loads(b1[mime])["params"] == spec["params"]


def test_tour_charts_render_to_svg_offline():
    from ssloserve.catalog import sponge_grid
    from ssloserve.latency import LatencyModel
    from ssloserve.traces import segment

    grid = sponge_grid(source="synthetic")
    m = LatencyModel(18.3, 4.5, 45.6, 1.5)
    segs = {n: segment(n, source="synthetic") for n in ("bursty", "steady_low")}
    for ch in (
        viz.fit_chart(grid, m),
        viz.trace_chart(np.arange(3 * 86400) % 50),
        viz.patterns_chart(segs),
        viz.policy_timeline_chart(_system_runs()),
    ):
        assert viz.to_svg(ch).startswith("<svg")
