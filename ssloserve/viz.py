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
"""

from __future__ import annotations

import os

import altair as alt
import pandas as pd

__all__ = [
    "CHARTS_ENV",
    "RENDERERS",
    "setup_charts",
    "chart_renderer",
    "to_svg",
    "line_chart",
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
