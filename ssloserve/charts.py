"""What every chart builder shares: one colour per system, and charts with live sliders.

- :data:`SYSTEM_COLORS` and :func:`system_scale`: chart builders in :mod:`ssloserve.viz` and
  in the techniques' ``ui`` modules colour systems (policies, planners) with these, so FA2
  is the same green in chapter 01 as in any later chapter (issue 10).
- :class:`SliderChart`: a chart whose sliders are Vega-Lite parameters over precomputed
  data, committed as its Vega-Lite spec, so the sliders work on the static website too.

It sits in the lowest layer (it imports only Altair), so that every chart builder, at any
layer, can use it.
"""

from __future__ import annotations

import json

import altair as alt

__all__ = ["SYSTEM_COLORS", "system_scale", "SliderChart"]

#: One colour per system, used by every chart of the book (Tableau 10, Vega's default).
#: ``"load"`` is the offered load drawn beside the systems.
SYSTEM_COLORS: dict[str, str] = {
    "load": "#9d9d9d",
    "static peak": "#e45756",
    "InferLine-like": "#f58518",
    "HPA-like": "#4c78a8",
    "FA2": "#54a24b",
    "SLO split": "#b279a2",
    "simulator": "#72b7b2",
    "emulator": "#eeca3b",
    "IPA": "#9d755d",
    "FA2-low": "#88d27a",
    "FA2-high": "#2e6b2a",
    "RIM-like": "#ff9da6",
    "Biscale": "#7b4173",
    "horizontal only": "#439894",
    "vertical only": "#bcbd22",
    "vertical only, 1 replica": "#d6a5c9",
    # chapter 02_sponge
    "Sponge": "#17becf",
    "Sponge (worst case)": "#9edae5",
    "horizontal (FA2, 1-core)": "#637939",
    "VPA-like": "#843c39",
    "static half": "#ff9d98",
    # chapter 05 (NetNN): one detector's arithmetic and where it runs
    "float": "#e377c2",
    "int8": "#8c6d31",
    "switch": "#b6992d",
    "CPU replica": "#79706e",
}


def system_scale(systems) -> alt.Scale:
    """The colour scale for ``systems``, each in its :data:`SYSTEM_COLORS` colour.

    Parameters
    ----------
    systems : the system names a chart shows, in legend order

    Returns
    -------
    An ``altair.Scale`` with that domain and the matching range.

    Raises
    ------
    KeyError
        For a system with no colour yet (add it to :data:`SYSTEM_COLORS`).

    Examples
    --------
    >>> system_scale(["FA2", "SLO split"]).to_dict()
    {'domain': ['FA2', 'SLO split'], 'range': ['#54a24b', '#b279a2']}
    >>> system_scale(["mine"])
    Traceback (most recent call last):
    ...
    KeyError: "no colour for system 'mine': add it to ssloserve.charts.SYSTEM_COLORS"
    """
    names = list(dict.fromkeys(systems))
    missing = [n for n in names if n not in SYSTEM_COLORS]
    if missing:
        raise KeyError(
            f"no colour for system {missing[0]!r}: add it to ssloserve.charts.SYSTEM_COLORS"
        )
    return alt.Scale(domain=names, range=[SYSTEM_COLORS[n] for n in names])


class SliderChart:
    """Display a chart as a Vega-Lite spec, so its bound parameters (sliders) stay live.

    The svg renderer of :func:`setup_charts` draws a still picture; a chart whose sliders
    are Vega-Lite parameters (``alt.param(bind=alt.binding_range(...))``) over precomputed
    data needs the spec itself in the notebook. JupyterLab draws it with its Vega
    extension, and the book with its vendored Vega bundle, with no kernel.

    Parameters
    ----------
    chart : a top-level Altair chart; its parameters should be named (``alt.param(name=)``)
        so that the committed spec is the same on every run

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"b": [1, 2], "y": [1.0, 2.0]})
    >>> b = alt.param(name="b", value=1, bind=alt.binding_range(min=1, max=2, step=1))
    >>> ch = alt.Chart(df).mark_point().encode(x="b", y="y").add_params(b)
    >>> bundle = SliderChart(ch)._repr_mimebundle_()
    >>> mime = [k for k in bundle if "vegalite" in k][0]
    >>> json.loads(bundle[mime])["params"][0]["name"]
    'b'
    """

    def __init__(self, chart: alt.TopLevelMixin):
        self.chart = chart

    def to_dict(self) -> dict:
        """The Vega-Lite spec."""
        return self.chart.to_dict()

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        with alt.renderers.enable("mimetype"):  # Altair's Vega-Lite mimetype, for the front-ends
            bundle = self.chart._repr_mimebundle_()
        bundle = bundle[0] if isinstance(bundle, tuple) else bundle
        mime = next(k for k in bundle if "vegalite" in k)
        # as sorted text: nbformat keeps a mimetype not ending in "+json" as a string, and
        # the committed spec is then the same on every run
        return {mime: json.dumps(self.to_dict(), sort_keys=True), "text/plain": "<SliderChart>"}
