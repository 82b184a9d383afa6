"""Altair chart setup and chart builders used by every chapter.

Chart builders return ``altair`` charts and never display them; displaying is the
notebook's job. :func:`setup_charts` is the one call a chapter's setup cell makes: it
chooses how charts render, offline in both cases.

- ``"svg"`` (default): vl-convert renders each chart to a static SVG inside the kernel.
  Deterministic, needs no JavaScript, and shows the same picture in JupyterLab, in
  nbval's committed outputs and in the static book.
- ``"interactive"``: Altair's ``"jupyter"`` renderer (``JupyterChart``, an anywidget)
  with ``offline=True``, so the Vega libraries come from the installed ``vl-convert``
  package and not from a CDN. Tooltips, zoom and selections work in JupyterLab; the
  static book cannot run a kernel, so chapters are committed with the svg renderer.

Set ``SSLOSERVE_CHARTS=interactive`` in the environment (for example before starting
JupyterLab) to get interactive charts without editing a notebook.

Every chart that shows systems (policies, planners) colours them with
:func:`ssloserve.charts.system_scale`, so a system has one colour across the book; a chart
whose sliders are Vega-Lite parameters is returned as a :class:`~ssloserve.charts.SliderChart`,
committed as a Vega-Lite spec, so its sliders work in the static book, with no kernel.
The chart builders of chapter 00_tour are at the end: :func:`fit_chart`,
:func:`trace_chart`, :func:`patterns_chart`, :func:`policy_timeline_chart` and the slider
chart :func:`latency_explorer`.
"""

from __future__ import annotations

import os

import altair as alt
import numpy as np
import pandas as pd

from .charts import SliderChart, system_scale

__all__ = [
    "CHARTS_ENV",
    "RENDERERS",
    "setup_charts",
    "chart_renderer",
    "to_svg",
    "line_chart",
    "fit_chart",
    "trace_chart",
    "patterns_chart",
    "policy_timeline_chart",
    "latency_explorer",
]


#: Environment variable that selects the renderer when ``setup_charts`` gets none.
CHARTS_ENV = "SSLOSERVE_CHARTS"

#: Renderer names ``setup_charts`` accepts (aliases map to the same renderer).
RENDERERS = ("svg", "interactive", "jupyter")


def _resolve(renderer: str | None) -> str:
    """Return ``"svg"`` or ``"interactive"`` for a renderer name or ``None``."""
    name = renderer if renderer is not None else os.environ.get(CHARTS_ENV, "").strip()
    name = (name or "svg").lower()
    if name == "jupyter":
        name = "interactive"
    if name not in ("svg", "interactive"):
        raise ValueError(
            f"unknown chart renderer {name!r}; choose one of {', '.join(RENDERERS)}"
            f" (argument or ${CHARTS_ENV})"
        )
    return name


def setup_charts(renderer: str | None = None, max_rows: int | None = None) -> str:
    """Choose how Altair charts render in this kernel, offline (every chapter's setup).

    Parameters
    ----------
    renderer : ``"svg"``, ``"interactive"`` (alias ``"jupyter"``) or None. None reads
        ``$SSLOSERVE_CHARTS`` and falls back to ``"svg"``.
    max_rows : largest table a chart may embed, or None for no limit. Altair's own
        default (5,000 rows, then an error) is replaced: chapters aggregate with pandas
        before charting, so the check is only a guard you may opt into.

    Returns
    -------
    The Altair renderer now enabled: ``"svg"`` or ``"jupyter"``.

    Raises
    ------
    ValueError
        For an unknown renderer name.

    Notes
    -----
    Only Altair's renderer and data-transformer registries change; nothing is displayed
    and no file or network is touched. Calling it again switches renderer.

    Examples
    --------
    >>> setup_charts()
    'svg'
    >>> chart_renderer()
    'svg'
    >>> setup_charts("interactive")
    'jupyter'
    >>> setup_charts("svg", max_rows=1000)
    'svg'
    >>> setup_charts("vega")
    Traceback (most recent call last):
    ...
    ValueError: unknown chart renderer 'vega'; choose one of svg, interactive, jupyter (argument or $SSLOSERVE_CHARTS)
    >>> setup_charts()
    'svg'
    """
    name = _resolve(renderer)
    alt.data_transformers.enable("default", max_rows=max_rows)
    if name == "svg":
        alt.renderers.enable("svg")
        return "svg"
    alt.renderers.enable("jupyter", offline=True)
    return "jupyter"


def chart_renderer() -> str:
    """Name of the Altair renderer currently enabled.

    Returns
    -------
    The active renderer's registry name, e.g. ``"svg"``.

    Examples
    --------
    >>> _ = setup_charts("svg")
    >>> chart_renderer()
    'svg'
    """
    return alt.renderers.active


def to_svg(chart: alt.TopLevelMixin) -> str:
    """Render a chart to an SVG string offline with vl-convert (no browser, no network).

    Parameters
    ----------
    chart : any top-level Altair chart.

    Returns
    -------
    The SVG document as text.

    Examples
    --------
    >>> df = pd.DataFrame({"b": [1, 2, 4], "latency_ms": [10.0, 14.0, 22.0]})
    >>> to_svg(alt.Chart(df).mark_line().encode(x="b", y="latency_ms")).startswith("<svg")
    True
    """
    import vl_convert as vlc

    return vlc.vegalite_to_svg(chart.to_dict())


def line_chart(
    df: pd.DataFrame,
    x: str,
    y: str,
    color: str | None = None,
    title: str | None = None,
    width: int = 420,
    height: int = 240,
) -> alt.Chart:
    """A plain line chart with points and tooltips, the house style for curves.

    Parameters
    ----------
    df : tidy data, one row per point (aggregate first: keep it small).
    x, y : column names for the axes; Altair shorthand such as ``"b:Q"`` works.
    color : optional column that splits the data into one line per value.
    title : optional chart title.
    width, height : size in pixels.

    Returns
    -------
    An ``altair.Chart``; display it or combine it with others.

    Examples
    --------
    >>> df = pd.DataFrame({"b": [1, 2, 4], "latency_ms": [10.0, 14.0, 22.0]})
    >>> ch = line_chart(df, "b:Q", "latency_ms:Q", title="l(b, c=1)")
    >>> ch.to_dict()["mark"]["type"]
    'line'
    """
    enc = {"x": x, "y": y, "tooltip": list(df.columns)}
    if color is not None:
        enc["color"] = color
    props = {"width": width, "height": height}
    if title is not None:
        props["title"] = title
    return alt.Chart(df).mark_line(point=True).encode(**enc).properties(**props)


# --------------------------------------------------------------------- chapter 00_tour


def fit_chart(grid: pd.DataFrame, model, width: int = 460, height: int = 300) -> alt.LayerChart:
    """Measured latencies (points) against the fitted l(b, c) (lines), log-log (chapter 00_tour).

    Parameters
    ----------
    grid : tidy measurements with columns batch, cores, latency_ms
        (:func:`ssloserve.catalog.sponge_grid`)
    model : the fitted :class:`~ssloserve.latency.LatencyModel`
    width, height : size in pixels

    Returns
    -------
    An ``altair.LayerChart``: one colour per batch size.

    Examples
    --------
    >>> from ssloserve.latency import LatencyModel
    >>> g = pd.DataFrame({"batch": [1, 1, 2], "cores": [1.0, 2.0, 1.0],
    ...                   "latency_ms": [60.0, 40.0, 90.0]})
    >>> ch = fit_chart(g, LatencyModel(18.3, 4.5, 45.6, 1.5))
    >>> [layer.mark.type if hasattr(layer.mark, "type") else layer.mark for layer in ch.layer]
    ['line', 'point']
    """
    lo, hi = float(grid.cores.min()), float(grid.cores.max())
    cores = np.geomspace(lo, hi, 31)
    fitted = pd.DataFrame(
        [(b, c, float(model.latency(b, c))) for b in sorted(grid.batch.unique()) for c in cores],
        columns=["batch", "cores", "latency_ms"],
    )
    x = alt.X("cores:Q", scale=alt.Scale(type="log", base=2), title="cores c")
    y = alt.Y("latency_ms:Q", scale=alt.Scale(type="log"), title="latency (ms)")
    color = alt.Color("batch:O", scale=alt.Scale(scheme="viridis"))
    measured = (
        alt.Chart(grid[["batch", "cores", "latency_ms"]])
        .mark_point(filled=True, size=60)
        .encode(x, y, color)
    )
    lines = alt.Chart(fitted).mark_line().encode(x, y, color)
    return (lines + measured).properties(
        width=width, height=height, title="measured (points) vs fitted l(b, c) (lines)"
    )


def trace_chart(trace: np.ndarray, width: int = 520, height: int = 180) -> alt.LayerChart:
    """The Twitter trace as hourly means, with a rule where each IPA pattern starts (00_tour).

    Parameters
    ----------
    trace : per-second counts (:func:`ssloserve.traces.twitter_trace`); may be empty when
        the trace is absent, and the title then says so
    width, height : size in pixels

    Returns
    -------
    An ``altair.LayerChart``.

    Examples
    --------
    >>> ch = trace_chart(np.ones(2 * 86400, dtype=int))
    >>> len(ch.layer), ch.title
    (2, 'The Twitter trace (before damping)')
    >>> trace_chart(np.zeros(0, dtype=int)).title
    'The Twitter trace is not present ($SSLOSERVE_DATA): nothing to draw'
    """
    from .traces import SEGMENTS

    t = np.asarray(trace)
    hourly = pd.DataFrame({"day": np.arange(len(t)) // 3600 / 24, "count": t})
    hourly = hourly.groupby("day")["count"].mean().reset_index()
    first = [(name, parts[0][0] / 86400) for name, parts in SEGMENTS.items()]
    starts = pd.DataFrame(first, columns=["pattern", "day"])
    y = alt.Y("count:Q", title="tweets per second (hourly mean)")
    line = alt.Chart(hourly).mark_line(strokeWidth=1).encode(x="day:Q", y=y)
    rules = alt.Chart(starts).mark_rule(color="#e45756").encode(x="day:Q", tooltip=["pattern"])
    title = "The Twitter trace (before damping)"
    if len(t) == 0:
        title = "The Twitter trace is not present ($SSLOSERVE_DATA): nothing to draw"
    return (line + rules).properties(width=width, height=height, title=title)


def patterns_chart(segments: dict, window_s: int = 10) -> alt.FacetChart:
    """Each load pattern's mean (line) and range (band) per ``window_s`` seconds (00_tour).

    Parameters
    ----------
    segments : name -> :class:`~ssloserve.traces.Segment` (or anything with ``.rates``)
    window_s : seconds per window

    Returns
    -------
    An ``altair.FacetChart``, one panel per pattern, two columns.

    Examples
    --------
    >>> from ssloserve.traces import segment
    >>> ch = patterns_chart({"bursty": segment("bursty", source="synthetic")})
    >>> ch.to_dict()["facet"]["field"]
    'pattern'
    """
    frames = []
    for name, s in segments.items():
        rates = np.asarray(s.rates)
        t = np.arange(len(rates))
        df = pd.DataFrame({"minute": t // window_s * window_s / 60, "rps": rates})
        agg = df.groupby("minute").rps.agg(["mean", "min", "max"]).reset_index()
        frames.append(agg.assign(pattern=name))
    windows = pd.concat(frames, ignore_index=True)
    base = alt.Chart(windows).encode(x=alt.X("minute:Q", title="minute"))
    band = base.mark_area(opacity=0.3).encode(
        alt.Y("min:Q", title="requests per second"), y2="max:Q"
    )
    title = f"The {len(segments)} 20-minute load patterns ({window_s}-s windows)"
    return (
        (band + base.mark_line().encode(y="mean:Q"))
        .properties(width=220, height=130)
        .facet(facet="pattern:N", columns=2, title=title)
    )


def policy_timeline_chart(runs: dict, window_s: int = 10, width: int = 460) -> alt.FacetChart:
    """Load, cores held and SLO violation % per window, one line per policy (00_tour).

    Parameters
    ----------
    runs : system name -> :class:`~ssloserve.runtime.result.Result` of the same workload;
        names must be in :data:`ssloserve.charts.SYSTEM_COLORS`
    window_s : seconds per window (:meth:`~ssloserve.runtime.result.Result.per_window`)
    width : width in pixels

    Returns
    -------
    An ``altair.FacetChart`` with three rows: load (RPS), cores, violation_pct.

    Examples
    --------
    >>> from ssloserve.latency import LatencyModel
    >>> from ssloserve.pipeline import Config, Pipeline, Stage, StageConfig, Variant
    >>> from ssloserve.runtime.api import run
    >>> from ssloserve.workloads import Workload
    >>> v = Variant("m", 0.5, LatencyModel(10.0, 1.0, 5.0, 1.0))
    >>> p = Pipeline.chain(Stage("s", (v,)))
    >>> w = Workload.from_rates([5, 5, 5], seed=0, slo_ms=500.0)
    >>> r = run(p, w, Config({"s": StageConfig("m", replicas=1)}), "sim", seed=0)
    >>> ch = policy_timeline_chart({"static peak": r})
    >>> ch.to_dict()["facet"]["row"]["field"]
    'metric'
    """
    windows = pd.concat(
        [r.per_window(window_s).assign(policy=label) for label, r in runs.items()],
        ignore_index=True,
    )
    windows["minute"] = windows.second / 60
    tidy = windows.melt(["minute", "policy"], ["cores", "violation_pct"], var_name="metric")
    first = next(iter(runs))
    load = windows[windows.policy == first].assign(metric="load (RPS)", policy="load")
    tidy = pd.concat([load.rename(columns={"rps": "value"})[tidy.columns], tidy])
    scale = system_scale(["load", *runs])
    return (
        alt.Chart(tidy)
        .mark_line()
        .encode(
            x="minute:Q",
            y=alt.Y("value:Q", title=None),
            color=alt.Color("policy:N", scale=scale, title=None),
        )
        .properties(width=width, height=110)
        .facet(row=alt.Row("metric:N", sort=["load (RPS)", "cores", "violation_pct"], title=None))
        .resolve_scale(y="independent")
    )


def latency_explorer(model, max_batch: int = 16, max_cores: float = 32.0) -> SliderChart:
    """l(b, c) against cores for a batch chosen with a slider, the chosen c marked (00_tour).

    Every (b, c) on the sliders' grid (b = 1..max_batch, c in steps of 0.5) is computed
    here; the two sliders are Vega-Lite parameters that filter the precomputed table, so the
    chart works in the static book with no kernel. They start at
    :func:`ssloserve.ui.latency_point`'s defaults (b = 4, c = 4).

    Parameters
    ----------
    model : the :class:`~ssloserve.latency.LatencyModel`
    max_batch, max_cores : slider ranges

    Returns
    -------
    A :class:`~ssloserve.charts.SliderChart` (its ``.chart`` is the Altair chart).

    Examples
    --------
    >>> from ssloserve.latency import LatencyModel
    >>> sc = latency_explorer(LatencyModel(20.0, 5.0, 40.0, 2.0), max_batch=4, max_cores=4)
    >>> spec = sc.to_dict()
    >>> sorted(p["name"] for p in spec["params"])
    ['b', 'c']
    >>> len(spec["datasets"][spec["data"]["name"]])  # 4 batches x 8 core counts
    32
    """
    from .ui import defaults, latency_point

    d = defaults(latency_point)
    rows = []
    for b in range(1, max_batch + 1):
        for c in np.arange(0.5, max_cores + 0.25, 0.5):
            r = latency_point(model, b, float(c))
            rows.append({k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()})
    table = pd.DataFrame(rows)
    b = alt.param(
        name="b",
        value=d["b"],
        bind=alt.binding_range(min=1, max=max_batch, step=1, name="batch b "),
    )
    c = alt.param(
        name="c",
        value=d["c"],
        bind=alt.binding_range(min=0.5, max=max_cores, step=0.5, name="cores c "),
    )
    base = alt.Chart(table).transform_filter("datum.b == b")
    x = alt.X("c:Q", title="cores c", scale=alt.Scale(type="log", base=2))
    y = alt.Y("latency_ms:Q", title="latency l(b, c) (ms)", scale=alt.Scale(type="log"))
    line = base.mark_line().encode(x=x, y=y)
    here = base.transform_filter("datum.c == c")
    point = here.mark_point(filled=True, size=120, color="#e45756").encode(
        x=x, y=y, tooltip=list(table.columns)
    )
    label = (
        here.transform_calculate(
            text="'l = ' + format(datum.latency_ms, '.1f') + ' ms, h = '"
            " + format(datum.throughput_rps, '.1f') + ' RPS, speed-up '"
            " + format(datum.speedup, '.2f') + ' of at most ' + format(datum.max_speedup, '.2f')"
        )
        .mark_text(align="left", x=5, y=-12, fontSize=12)
        .encode(text="text:N")
    )
    chart = (line + point + label).add_params(b, c).properties(width=460, height=260)
    return SliderChart(chart)
