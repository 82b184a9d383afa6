"""Tables and charts of chapter 04_biscale (Biscale).

Chart builders return Altair charts and never display them; systems are coloured with
:func:`ssloserve.charts.system_scale`.

- :func:`cores_table` -- the vertical plan of one batch-1 stage worked by hand: for each
  core count, what today's replicas carry and what they cost;
- :func:`speedup_chart` -- speed-up against cores from the fitted models (Amdahl's law) and
  its bound, with measured speed-ups as points;
- :func:`comparison_chart` -- violations and core-seconds per system;
- :func:`timeline_chart` -- load, cores and violations over time per system (FA2's chart,
  :func:`ssloserve.fa2.ui.timeline_chart`, reused);
- :func:`sweep_chart` -- two Vega-Lite sliders, cold start and parallel fraction, over a
  precomputed :func:`~ssloserve.biscale.sweep.mechanism_sweep` (works with no kernel).
"""

from __future__ import annotations

import math

import altair as alt
import numpy as np
import pandas as pd

from ..charts import SliderChart, system_scale
from ..fa2.ui import timeline_chart as _fa2_timeline
from ..latency import LatencyModel, amdahl_bound

__all__ = ["cores_table", "speedup_chart", "comparison_chart", "timeline_chart", "sweep_chart"]


def cores_table(
    latency: LatencyModel, rate_rps: float, replicas: int, max_cores: int = 8
) -> pd.DataFrame:
    """The vertical plan of one stage at batch 1, by hand: one row per core count.

    Parameters
    ----------
    latency : the stage's l(b, c)
    rate_rps : the rate lam the stage must carry (RPS)
    replicas : today's replicas n (kept: vertical scaling adds none)
    max_cores : the cap on cores per replica

    Returns
    -------
    DataFrame indexed by ``cores`` c: ``latency_ms`` l(1, c), ``replica_rps`` h(1, c),
    ``carried_rps`` n h(1, c), ``carries`` (n h(1, c) >= lam), ``cost`` n c, and
    ``replicas_needed`` ceil(lam / h(1, c)) (what scaling out at c cores would need).
    The vertical plan is the first row that carries lam; with none,
    vertical scaling carries at most the last row's ``carried_rps``.

    Examples
    --------
    >>> m = LatencyModel(100.0, 0.0, 0.0, 25.0)      # l(1, c) = 100 / c + 25
    >>> t = cores_table(m, 12.0, replicas=2, max_cores=4)
    >>> t[["latency_ms", "carried_rps", "carries", "cost"]].round(1).values.tolist()
    [[125.0, 16.0, True, 2.0], [75.0, 26.7, True, 4.0], [58.3, 34.3, True, 6.0], [50.0, 40.0, True, 8.0]]
    """
    rows = []
    for c in range(1, int(max_cores) + 1):
        l_ms = float(latency.latency(1, c))
        h = 1000.0 / l_ms
        rows.append(
            dict(
                cores=c,
                latency_ms=l_ms,
                replica_rps=h,
                carried_rps=replicas * h,
                carries=bool(replicas * h >= rate_rps),
                cost=float(replicas * c),
                replicas_needed=math.ceil(rate_rps / h - 1e-9),
            )
        )
    return pd.DataFrame(rows).set_index("cores")


def speedup_chart(
    models: dict, batch: int = 1, max_cores: int = 16, measured: pd.DataFrame | None = None
) -> alt.LayerChart:
    """Speed-up l(b, 1) / l(b, c) against cores c for each model, with its Amdahl bound.

    Parameters
    ----------
    models : name -> :class:`~ssloserve.latency.LatencyModel`
    batch : the batch size b of the curves
    max_cores : the largest c drawn
    measured : optional points: columns ``model, cores, speedup`` (e.g. from
        :func:`~ssloserve.biscale.speedup.measure_speedups`, its ``table`` at this batch)

    Examples
    --------
    >>> ms = {"a": LatencyModel(100.0, 0.0, 0.0, 25.0)}
    >>> isinstance(speedup_chart(ms, max_cores=4), alt.LayerChart)
    True
    """
    rows, bounds = [], []
    for name, m in models.items():
        for c in np.arange(1.0, max_cores + 0.01, 0.5):
            rows.append(dict(model=name, cores=float(c), speedup=float(m.speedup(batch, c))))
        bounds.append(dict(model=name, bound=float(amdahl_bound(m.parallel_fraction(batch)))))
    curves, lim = pd.DataFrame(rows), pd.DataFrame(bounds)
    x = alt.X("cores:Q", title="cores c", scale=alt.Scale(domain=[1, max_cores]))
    y = alt.Y("speedup:Q", title=f"speed-up l({batch}, 1) / l({batch}, c)")
    color = alt.Color("model:N", title=None)
    lines = alt.Chart(curves).mark_line().encode(x=x, y=y, color=color)
    ideal = (
        alt.Chart(pd.DataFrame(dict(cores=[1.0, float(max_cores)], speedup=[1.0, max_cores])))
        .mark_line(color="#bbb", strokeDash=[2, 2])
        .encode(x=x, y=y)
    )
    rules = (
        alt.Chart(lim)
        .mark_rule(strokeDash=[6, 4])
        .encode(y="bound:Q", color=color, tooltip=["model", alt.Tooltip("bound:Q", format=".2f")])
    )
    layers = [ideal, lines, rules]
    if measured is not None and len(measured):
        layers.append(
            alt.Chart(measured)
            .mark_point(filled=True, size=90, shape="diamond")
            .encode(x=x, y=y, color=color, tooltip=list(measured.columns))
        )
    return alt.layer(*layers).properties(width=440, height=260)


def comparison_chart(table: pd.DataFrame, by: str | None = None) -> alt.HConcatChart:
    """Violations (%) and core-seconds per system, side by side (one row per ``by`` value).

    ``table`` has columns ``system, violation_pct, core_seconds`` (the tables of
    :func:`~ssloserve.biscale.experiments.run_systems` and
    :func:`~ssloserve.biscale.experiments.compare_patterns`).

    Examples
    --------
    >>> t = pd.DataFrame(dict(system=["Biscale", "vertical only"], violation_pct=[0.0, 1.0],
    ...                       core_seconds=[10.0, 12.0]))
    >>> isinstance(comparison_chart(t), alt.HConcatChart)
    True
    """
    t = table.reset_index() if "system" not in table.columns else table
    color = alt.Color("system:N", title=None, scale=system_scale(t.system), legend=None)
    y = alt.Y("system:N", title=None, sort=None)
    charts = []
    for col, title in (("violation_pct", "SLO violations (%)"), ("core_seconds", "core-seconds")):
        ch = alt.Chart(t).mark_bar().encode(x=alt.X(f"{col}:Q", title=title), y=y, color=color)
        ch = ch.encode(tooltip=["system", alt.Tooltip(f"{col}:Q", format=".3f")])
        if by is not None:
            ch = ch.encode(row=alt.Row(f"{by}:N", title=None))
        charts.append(ch.properties(width=200, height=22 * t.system.nunique()))
    return alt.hconcat(*charts)


def timeline_chart(per_second: pd.DataFrame, bin_s: int = 10) -> alt.VConcatChart:
    """Load, cores in use and SLO violations over time per system, binned to ``bin_s``.

    ``per_second`` is the second table of
    :func:`~ssloserve.biscale.experiments.step_experiment` (or of
    :func:`~ssloserve.biscale.experiments.run_systems` with ``per_second=True``); the chart
    is FA2's (:func:`ssloserve.fa2.ui.timeline_chart`), with Biscale's systems coloured.

    Examples
    --------
    >>> ps = pd.DataFrame(dict(system=["Biscale"] * 4, second=range(4), rate_rps=1.0,
    ...                        cores=2.0, violation_pct=0.0))
    >>> isinstance(timeline_chart(ps, bin_s=2), alt.VConcatChart)
    True
    """
    return _fa2_timeline(per_second, bin_s)


def sweep_chart(sweep: pd.DataFrame) -> SliderChart:
    """Violations and core-seconds per system for the (cold start, p) chosen on two sliders.

    Every pair of the grid is in ``sweep`` (:func:`~ssloserve.biscale.sweep.mechanism_sweep`,
    evenly spaced values on each axis); the sliders are Vega-Lite parameters that filter
    it, so the chart works in the static book with no kernel. They start at the middle of
    each grid.

    Examples
    --------
    >>> t = pd.DataFrame(dict(cold_start_s=[0.0, 5.0], parallel_fraction=[0.5, 0.5],
    ...                       system="Biscale", violation_pct=[0.0, 1.0],
    ...                       core_seconds=[10.0, 11.0]))
    >>> spec = sweep_chart(t).to_dict()
    >>> sorted(p["name"] for p in spec["params"])
    ['cold', 'p']
    """
    params = []
    for col, name, label in (
        ("cold_start_s", "cold", "cold start (s) "),
        ("parallel_fraction", "p", "parallel fraction p "),
    ):
        vals = np.sort(sweep[col].unique())
        steps = np.diff(vals)
        if len(vals) > 2 and not np.allclose(steps, steps[0]):
            raise ValueError(f"{col}: the slider needs evenly spaced values, got {vals.tolist()}")
        step = float(steps[0]) if len(vals) > 1 else 1.0
        bind = alt.binding_range(min=float(vals[0]), max=float(vals[-1]), step=step, name=label)
        params.append(alt.param(name=name, value=float(vals[len(vals) // 2]), bind=bind))
    t = sweep[["cold_start_s", "parallel_fraction", "system", "violation_pct", "core_seconds"]]
    base = alt.Chart(t.round(4)).transform_filter(
        "abs(datum.cold_start_s - cold) < 1e-6 && abs(datum.parallel_fraction - p) < 1e-6"
    )
    color = alt.Color("system:N", title=None, scale=system_scale(t.system))
    y = alt.Y("system:N", title=None, sort=None, axis=alt.Axis(labels=False, ticks=False))
    charts = []
    for col, title, top in (
        ("violation_pct", "SLO violations (%)", float(t.violation_pct.max())),
        ("core_seconds", "core-seconds", float(t.core_seconds.max())),
    ):
        x = alt.X(f"{col}:Q", title=title, scale=alt.Scale(domain=[0, max(top, 1e-9)]))
        tip = ["system", alt.Tooltip(f"{col}:Q", format=".2f")]
        charts.append(
            base.mark_bar().encode(x=x, y=y, color=color, tooltip=tip).properties(width=190)
        )
    chart = alt.hconcat(*charts).add_params(*params)
    return SliderChart(chart)
