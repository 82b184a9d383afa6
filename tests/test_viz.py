"""Chart setup: svg by default, interactive on request, rendering offline."""

from __future__ import annotations

import altair as alt
import pandas as pd
import pytest

from ssloserve import viz


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
