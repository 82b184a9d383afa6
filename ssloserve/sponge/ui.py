"""Charts and worked tables of chapter 02_sponge (Sponge).

Chart builders return Altair charts (or a :class:`~ssloserve.charts.SliderChart` when a
Vega-Lite slider is bound) and never display them; systems take their colours from
:data:`ssloserve.charts.SYSTEM_COLORS`.

- :func:`bandwidth_traces` and :func:`budget_table` -- the upload bandwidth of the mobile
  traces, and what each payload leaves of the SLO; :func:`budget_explorer` draws the
  budgets over time with payload and SLO sliders (they work on the static website);
- :func:`solver_walkthrough` and :func:`edf_walkthrough` -- the two solvers' constraints
  cell by cell, for working them by hand;
- :func:`subcore_chart` -- a replica's latency measured on this machine against l(b, c)
  and :class:`~ssloserve.sponge.machine.SubCoreModel`;
- :func:`cpu_chart` -- the replica's measured CPU use against Sponge's decisions;
- :func:`ablation_chart` -- the queue and drop-rule ablation.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ..charts import SliderChart
from ..data import has_data
from ..latency import throughput_rps
from ..network import NORWAY, bandwidth_per_second, bandwidth_series, norway_trace
from .solvers import EPS_MS

__all__ = [
    "bandwidth_traces",
    "budget_table",
    "budget_explorer",
    "solver_walkthrough",
    "edf_walkthrough",
    "subcore_chart",
    "cpu_chart",
    "ablation_chart",
]


def bandwidth_traces(duration_s: int = 600, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Per-second upload bandwidth of the Belgium 4G log and the Norway 3G bus trace.

    The Belgium log, or without the data its synthetic stand-in
    (:func:`ssloserve.network.bandwidth_series`); the Norway trace ``norway_bus_1`` (155 s,
    repeated to ``duration_s``) only when the data is there.

    Returns
    -------
    ``(table, sources)``: columns ``trace, second, bandwidth_Bps``; ``sources`` maps each
    trace to ``"belgium"``, ``"synthetic"`` or ``"norway"``.

    Examples
    --------
    >>> t, src = bandwidth_traces(30)
    >>> sorted(t.trace.unique())[0], len(t[t.trace == "Belgium 4G"])
    ('Belgium 4G', 30)
    """
    bw, src = bandwidth_series("auto", seed=seed, duration_s=duration_s)
    traces, sources = {"Belgium 4G": bw}, {"Belgium 4G": src}
    if has_data(NORWAY):
        d = norway_trace("norway_bus_1")
        nw = bandwidth_per_second(d.time_s, d.bandwidth_Bps)
        traces["Norway 3G"], sources["Norway 3G"] = np.resize(nw, duration_s), "norway"
    frames = [
        pd.DataFrame({"trace": k, "second": np.arange(duration_s), "bandwidth_Bps": v})
        for k, v in traces.items()
    ]
    return pd.concat(frames, ignore_index=True), sources


def _budget(bw, payload_kb, slo_ms):
    return np.maximum(0.0, slo_ms - 1000.0 * payload_kb * 1024 / np.asarray(bw, dtype=float))


def budget_table(traces: pd.DataFrame, payloads_kb=(100, 200, 500), slo_ms=1000.0):
    """Upload time and remaining budget per trace and payload (``payload x 1024`` bytes).

    Returns
    -------
    One row per (trace, payload): ``upload_mean_ms``, ``upload_max_ms``, ``budget_min_ms``,
    ``budget_mean_ms`` and ``no_budget_pct`` (seconds whose upload alone exceeds the SLO).

    Examples
    --------
    >>> t = pd.DataFrame(dict(trace="x", second=[0, 1], bandwidth_Bps=[1024e3, 512e3]))
    >>> budget_table(t, (200,)).loc[0, ["upload_max_ms", "budget_min_ms"]].tolist()
    [400.0, 600.0]
    """
    rows = []
    for name, d in traces.groupby("trace", sort=False):
        bw = d.bandwidth_Bps.to_numpy()
        for kb in payloads_kb:
            up = 1000.0 * kb * 1024 / bw
            bud = _budget(bw, kb, slo_ms)
            rows.append(dict(trace=name, payload_kb=kb, upload_mean_ms=up.mean(),
                             upload_max_ms=up.max(), budget_min_ms=bud.min(),
                             budget_mean_ms=bud.mean(),
                             no_budget_pct=100.0 * (up >= slo_ms).mean()))  # fmt: skip
    return pd.DataFrame(rows)


def budget_explorer(traces: pd.DataFrame, payload_kb: int = 200, slo_ms: int = 1000):
    """Each second's remaining budget ``SLO - payload / bandwidth`` over time, one line per
    trace, with a payload slider (50-1000 KB) and an SLO slider (200-3000 ms).

    The budget is a Vega-Lite calculation on the per-second bandwidth, so the sliders work
    on the static website with no kernel.

    Examples
    --------
    >>> t, _ = bandwidth_traces(20)
    >>> spec = budget_explorer(t).to_dict()
    >>> [p["name"] for p in spec["params"]]
    ['payload_kb', 'slo_ms']
    """
    payload = alt.param(
        name="payload_kb",
        value=payload_kb,
        bind=alt.binding_range(min=50, max=1000, step=50, name="payload (KB) "),
    )
    slo = alt.param(
        name="slo_ms",
        value=slo_ms,
        bind=alt.binding_range(min=200, max=3000, step=50, name="SLO (ms) "),
    )
    data = traces[["trace", "second", "bandwidth_Bps"]].round(1)
    chart = (
        alt.Chart(data)
        .transform_calculate(
            budget_ms="max(0, slo_ms - 1000 * payload_kb * 1024 / datum.bandwidth_Bps)"
        )
        .mark_line(strokeWidth=1)
        .encode(
            x=alt.X("second:Q", title="time (s)"),
            y=alt.Y("budget_ms:Q", title="remaining budget (ms)"),
            color=alt.Color("trace:N", title=None),
            tooltip=["trace", "second", alt.Tooltip("budget_ms:Q", format=".0f")],
        )
        .add_params(payload, slo)
        .properties(width=460, height=220, title="what the upload leaves of the SLO")
    )
    return SliderChart(chart)


def solver_walkthrough(model, rate_rps, slo_ms, cl_max_ms, cores, b_max, margin=0.9):
    """The worst-case solver's scan, one row per (c, b) in its order (cores up, then batch
    up): ``l(b, c)``, the number of batches ``ceil(lam / b)``, the worst latency
    ``ceil(lam / b) l + cl_max`` against ``margin x SLO``, the throughput ``h(b, c)``
    against ``lam``, and ``first_fit`` on the answer.

    Examples
    --------
    >>> from ssloserve.latency import LatencyModel
    >>> m = LatencyModel(0, 10, 200, 0)                 # l(b, c) = 10 b + 200 / c
    >>> t = solver_walkthrough(m, 12, 1000, 300, [1, 2], 4)
    >>> t[t.first_fit][["cores", "batch", "worst_ms"]].values.tolist()
    [[2.0, 3.0, 820.0]]
    """
    rows = []
    for c in cores:
        for b in range(1, b_max + 1):
            lat = float(model.latency(b, c))
            n = int(np.ceil(rate_rps / b))
            worst = n * lat + cl_max_ms
            h = float(throughput_rps(b, lat))
            ok = worst <= margin * slo_ms + EPS_MS and h >= rate_rps - EPS_MS
            rows.append(dict(cores=c, batch=b, l_ms=lat, batches=n, worst_ms=worst,
                             bound_ms=margin * slo_ms, h_rps=h, fits=ok))  # fmt: skip
    t = pd.DataFrame(rows)
    t["first_fit"] = False
    if t.fits.any():
        t.loc[t.fits.idxmax(), "first_fit"] = True
    return t


def edf_walkthrough(model, budgets_ms, cores: float, batch: int) -> pd.DataFrame:
    """The waiting requests in deadline order on ``cores`` and ``batch``: position ``k``,
    budget, the batch that serves it ``ceil(k / b)``, when it ends ``ceil(k / b) l(b, c)``,
    and the slack left (negative: late).

    Examples
    --------
    >>> from ssloserve.latency import LatencyModel
    >>> edf_walkthrough(LatencyModel(0, 10, 100, 0), [300, 100, 250], 1, 2).slack_ms.tolist()
    [-20.0, 130.0, 60.0]
    """
    d = np.sort(np.asarray(budgets_ms, dtype=float))
    k = np.arange(1, len(d) + 1)
    j = np.ceil(k / batch).astype(int)
    ends = j * float(model.latency(batch, cores))
    return pd.DataFrame(dict(k=k, budget_ms=d, batch_no=j, ends_ms=ends, slack_ms=d - ends))


def subcore_chart(measured: pd.DataFrame, plain, subcore) -> alt.LayerChart:
    """A replica's latency measured on this machine (points, one colour per batch) against
    the plain model l(b, c) (dashed) and its sub-core form (solid), over the cores.

    ``measured`` has columns ``batch, cores, latency_ms`` (e.g. the table of
    :func:`ssloserve.runtime.emu.profile.profile_model`).

    Examples
    --------
    >>> from ssloserve.latency import LatencyModel
    >>> from ssloserve.sponge.machine import SubCoreModel
    >>> m = LatencyModel(10, 20, 0, 0)
    >>> t = pd.DataFrame(dict(batch=[1, 1], cores=[0.5, 1.0], latency_ms=[61.0, 30.0]))
    >>> isinstance(subcore_chart(t, m, SubCoreModel.of(m)), alt.LayerChart)
    True
    """
    cores = np.linspace(float(measured.cores.min()), float(measured.cores.max()), 26)
    lines = [
        (b, c, float(mod.latency(b, c)), name)
        for b in sorted(measured.batch.unique())
        for c in cores
        for mod, name in ((plain, "l(b, c)"), (subcore, "sub-core model"))
    ]
    fitted = pd.DataFrame(lines, columns=["batch", "cores", "latency_ms", "model"])
    x = alt.X("cores:Q", title="cores (CPU quota)")
    y = alt.Y("latency_ms:Q", scale=alt.Scale(type="log"), title="latency of a batch (ms)")
    color = alt.Color("batch:O", scale=alt.Scale(scheme="viridis"))
    dash = alt.StrokeDash("model:N", title=None, sort=["sub-core model", "l(b, c)"])
    ln = alt.Chart(fitted).mark_line().encode(x, y, color, dash)
    pts = (
        alt.Chart(measured[["batch", "cores", "latency_ms"]])
        .mark_point(filled=True, size=70)
        .encode(x, y, color)
    )
    return (ln + pts).properties(width=440, height=260, title="measured (points) vs models")


def cpu_chart(cpu_use: pd.DataFrame) -> alt.LayerChart:
    """The replica's measured CPU use each second (line with points) under the core limit
    Sponge set (step line), from :meth:`~ssloserve.sponge.measure.MeasuredSponge.cpu_use`.

    Examples
    --------
    >>> t = pd.DataFrame(dict(t_s=[1.0, 2.0], limit_cores=[0.5, 1.0], chosen_cores=[1.0, 1.0],
    ...                       used_cores=[0.4, 0.9], replicas=[1, 1]))
    >>> isinstance(cpu_chart(t), alt.LayerChart)
    True
    """
    d = cpu_use.rename(
        columns={"limit_cores": "limit set by Sponge", "used_cores": "measured CPU use"}
    )
    long = d.melt("t_s", ["limit set by Sponge", "measured CPU use"], "series", "cores")
    x = alt.X("t_s:Q", title="time (s)")
    y = alt.Y("cores:Q", title="cores")
    color = alt.Color(
        "series:N",
        title=None,
        scale=alt.Scale(
            domain=["limit set by Sponge", "measured CPU use"], range=["#9d755d", "#333333"]
        ),
    )
    limit = (
        alt.Chart(long[long.series == "limit set by Sponge"])
        .mark_line(interpolate="step-before", strokeWidth=3, opacity=0.6)
        .encode(x, y, color)
    )
    used = (
        alt.Chart(long[long.series == "measured CPU use"])
        .mark_line(point=True, strokeWidth=1.5)
        .encode(x, y, color)
    )
    return (limit + used).properties(
        width=460, height=200, title="the replica's CPU use follows Sponge's core limit"
    )


def ablation_chart(table: pd.DataFrame) -> alt.Chart:
    """Violations per queue and drop rule, split into late and dropped requests (the
    table of :func:`ssloserve.sponge.experiments.queue_ablation`, with a ``load`` column
    when several loads are drawn).

    Examples
    --------
    >>> t = pd.DataFrame(dict(queue=["edf"], drop=["never"], late_pct=[3.0],
    ...                       dropped_pct=[0.0], load="x1"))
    >>> isinstance(ablation_chart(t), alt.FacetChart)
    True
    """
    d = table.assign(setting=table["queue"].str.upper() + ", drop " + table["drop"])
    if "load" not in d:
        d = d.assign(load="")
    long = d.melt(["setting", "load"], ["late_pct", "dropped_pct"], "outcome", "pct")
    long["outcome"] = long.outcome.map({"late_pct": "late", "dropped_pct": "dropped"})
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("pct:Q", title="requests (%)", stack="zero"),
            y=alt.Y("setting:N", title=None),
            color=alt.Color("outcome:N", title=None, scale=alt.Scale(range=["#e45756", "#bab0ac"])),
            tooltip=["setting", "outcome", alt.Tooltip("pct:Q", format=".2f")],
        )
        .properties(width=380, height=110)
        .facet(row=alt.Row("load:N", title=None))
    )
