"""Widgets for the chapters: thin ipywidgets wrappers over pure functions (chapter 00_tour).

Each widget puts sliders on the arguments of a pure function (slider defaults equal the
function's defaults), calls the function on every change and keeps the latest return value
in ``.result``, so a headless test can set a slider and read the outcome. Widgets are
frozen in the static book: a chapter states every result its prose needs in a static cell
too.

- :func:`latency_point` / :func:`latency_widget`: l(b, c), throughput and Amdahl speed-up of
  one replica under a :class:`~ssloserve.latency.LatencyModel` (PAPERS.md 0.1).
- :func:`amdahl_table`: the same quantities per batch size beside a measured grid's best
  speed-up, the table chapter 00_tour reads Amdahl's law from.
"""

from __future__ import annotations

import inspect

import pandas as pd

from .latency import LatencyModel, amdahl_bound

__all__ = ["latency_point", "latency_widget", "defaults", "amdahl_table"]


def latency_point(model: LatencyModel, b: int = 4, c: float = 4.0) -> dict:
    """What one replica does with batch ``b`` on ``c`` cores under ``model`` (chapter 00_tour).

    Parameters
    ----------
    model : the latency model l(b, c) (PAPERS.md 0.1)
    b : batch size, at least 1
    c : cores, positive (fractions allowed)

    Returns
    -------
    dict with ``b``, ``c``, ``latency_ms`` l(b, c), ``throughput_rps`` h(b, c) = 1000 b / l,
    ``speedup`` l(b, 1) / l(b, c), ``parallel_fraction`` p(b) and ``max_speedup``
    1 / (1 - p(b)) (Amdahl's limit with unlimited cores).

    Examples
    --------
    >>> m = LatencyModel(gamma=20.0, delta=5.0, epsilon=40.0, eta=2.0)
    >>> r = latency_point(m, b=4, c=2)
    >>> r["latency_ms"], round(r["throughput_rps"], 2), round(r["speedup"], 3)
    (82.0, 48.78, 1.732)
    >>> round(r["parallel_fraction"], 3), round(r["max_speedup"], 2)
    (0.845, 6.45)
    >>> latency_point(m, b=0)
    Traceback (most recent call last):
    ...
    ValueError: batch b must be an integer >= 1, got 0
    """
    if int(b) != b or b < 1:
        raise ValueError(f"batch b must be an integer >= 1, got {b!r}")
    if not c > 0:
        raise ValueError(f"cores c must be positive, got {c!r}")
    b, c = int(b), float(c)
    p = model.parallel_fraction(b)
    return {
        "b": b,
        "c": c,
        "latency_ms": model.latency(b, c),
        "throughput_rps": model.throughput(b, c),
        "speedup": model.speedup(b, c),
        "parallel_fraction": p,
        "max_speedup": amdahl_bound(p),
    }


def defaults(func) -> dict:
    """The default value of each keyword parameter of ``func`` (what sliders start at).

    Examples
    --------
    >>> defaults(latency_point)
    {'b': 4, 'c': 4.0}
    """
    return {
        k: p.default
        for k, p in inspect.signature(func).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def latency_widget(model: LatencyModel, max_batch: int = 16, max_cores: float = 32.0):
    """Sliders for batch and cores over :func:`latency_point` (chapter 00_tour).

    Parameters
    ----------
    model : the latency model to explore
    max_batch, max_cores : slider ranges

    Returns
    -------
    An ``ipywidgets.VBox`` with ``.sliders`` (``{"b": IntSlider, "c": FloatSlider}``,
    starting at :func:`latency_point`'s defaults) and ``.result`` (the latest
    :func:`latency_point` dict, updated on every change).

    Examples
    --------
    >>> w = latency_widget(LatencyModel(20.0, 5.0, 40.0, 2.0))
    >>> w.result["latency_ms"]
    52.0
    >>> w.sliders["c"].value = 2.0
    >>> w.result["latency_ms"]
    82.0
    """
    import ipywidgets as widgets

    d = defaults(latency_point)
    sliders = {
        "b": widgets.IntSlider(
            value=d["b"],
            min=1,
            max=max_batch,
            step=1,
            description="batch b",
            continuous_update=False,
        ),
        "c": widgets.FloatSlider(
            value=d["c"],
            min=0.5,
            max=max_cores,
            step=0.5,
            description="cores c",
            continuous_update=False,
        ),
    }
    out = widgets.HTML()  # a table as HTML: no display side effects, works headless
    box = widgets.VBox([*sliders.values(), out])
    box.sliders = sliders

    def update(_=None):
        r = latency_point(model, **{k: s.value for k, s in sliders.items()})
        box.result = r
        out.value = pd.DataFrame([r]).round(3).to_html(index=False)

    for s in sliders.values():
        s.observe(update, names="value")
    update()
    return box


def amdahl_table(model: LatencyModel, grid: pd.DataFrame, cores: float = 32.0) -> pd.DataFrame:
    """Amdahl's law per batch size: model against measurement (chapter 00_tour).

    Parameters
    ----------
    model : the fitted latency model
    grid : tidy measurements (columns batch, cores, latency_ms), e.g.
        :func:`ssloserve.catalog.sponge_grid`
    cores : the core count at which the model's speed-up is shown

    Returns
    -------
    pandas.DataFrame
        One row per measured batch size (index ``batch``), with the columns
        ``parallel fraction p(b)``, ``max speed-up 1/(1-p)``, ``model speed-up at
        {cores:g} cores`` and ``measured best speed-up`` (latency on the fewest measured
        cores over the lowest latency measured).

    Examples
    --------
    >>> m = LatencyModel(gamma=20.0, delta=5.0, epsilon=40.0, eta=2.0)
    >>> g = pd.DataFrame({"batch": [1, 1, 2, 2], "cores": [1.0, 4.0, 1.0, 4.0],
    ...                   "latency_ms": [67.0, 25.0, 92.0, 40.0]})
    >>> t = amdahl_table(m, g, cores=4)
    >>> list(t.index), t.columns[2]
    ([1, 2], 'model speed-up at 4 cores')
    >>> # by hand: p(1) = 60/67, 1/(1-p) = 67/7, l(1,1)/l(1,4) = 67/22; b = 2: 80/92, 92/12,
    >>> # 92/32; measured: 67/25 and 92/40
    >>> t.round(2).to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
    {'parallel fraction p(b)': [0.9, 0.87], 'max speed-up 1/(1-p)': [9.57, 7.67],
     'model speed-up at 4 cores': [3.05, 2.88], 'measured best speed-up': [2.68, 2.3]}
    """
    batches = sorted(int(b) for b in grid.batch.unique())
    by_cores = grid.sort_values("cores").groupby("batch").latency_ms
    measured = by_cores.first() / by_cores.min()
    rows = {}
    for b in batches:
        r = latency_point(model, b, cores)
        rows[b] = {
            "parallel fraction p(b)": r["parallel_fraction"],
            "max speed-up 1/(1-p)": r["max_speedup"],
            f"model speed-up at {cores:g} cores": r["speedup"],
            "measured best speed-up": float(measured.loc[b]),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("batch")
