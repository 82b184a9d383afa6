"""Charts, the DP worked step by step, and the plan explorers of chapter 01_fa2 (FA2).

Chart builders return Altair charts and never display them. :func:`pareto_walkthrough`
tabulates every candidate the exact DP looks at on a small chain, and why it is kept or
dropped. :func:`plan_explorer` precomputes :func:`plan_summary` over a range of rates and
puts a Vega-Lite slider on it (it works on the static website); :class:`PlanExplorer` is a
thin ipywidgets wrapper over :func:`plan_summary` (rate and SLO; it needs a kernel), whose
defaults its sliders take.
"""

from __future__ import annotations

import inspect

import altair as alt
import ipywidgets as widgets
import networkx as nx
import pandas as pd

from ..charts import SliderChart, system_scale
from ..errors import InfeasibleError
from ..pipeline import Config, Pipeline
from .baselines import slo_split_plan
from .dp import EPS_MS, chain_layers, pareto_steps
from .experiments import video_pipeline
from .plan import plan, plan_table

__all__ = [
    "graph_chart",
    "cost_chart",
    "timeline_chart",
    "pareto_walkthrough",
    "plan_summary",
    "plan_explorer",
    "PlanExplorer",
]


def graph_chart(g: nx.DiGraph, config: Config | None = None, width: int = 420) -> alt.Chart:
    """Draw a configuration graph: one column per stage, one dot per configuration.

    Dots are coloured by cost (cores) and labelled with the batch size; the nodes and edges
    of ``config`` (a plan) are drawn thick and dark.

    Examples
    --------
    >>> from ssloserve.fa2 import configuration_graph
    >>> p = video_pipeline(source="fallback")
    >>> g = configuration_graph(p, 20.0, batches=[1, 2, 4])
    >>> isinstance(graph_chart(g, plan(p, 20.0, 780.0)), alt.LayerChart)
    True
    """
    chosen = set()
    if config is not None:
        chosen = {(s, sc.batch, sc.cores) for s, sc in config.stages.items()}
        chosen |= {"source", "sink"}
    rows = []
    for n, d in g.nodes(data=True):
        rows.append(
            dict(
                node=str(n),
                x=d["layer"],
                y=-d["index"] if n not in ("source", "sink") else 0.0,
                stage=d.get("stage", ""),
                batch=d.get("batch", 0),
                replicas=d.get("replicas", 0),
                latency_ms=round(float(d["latency_ms"]), 1),
                cost=float(d["cost"]),
                chosen=n in chosen,
                label=str(d["batch"]) if "batch" in d else "",
            )
        )
    nodes = pd.DataFrame(rows)
    # center the terminals vertically
    mid = nodes.loc[~nodes.node.isin(["source", "sink"]), "y"].mean()
    nodes.loc[nodes.node.isin(["source", "sink"]), "y"] = mid
    pos = {r.node: (r.x, r.y) for r in nodes.itertuples()}
    erows = []
    for u, v in g.edges:
        (x, y), (x2, y2) = pos[str(u)], pos[str(v)]
        erows.append(dict(x=x, y=y, x2=x2, y2=y2, chosen=(u in chosen and v in chosen)))
    edges = pd.DataFrame(erows).sort_values("chosen")
    xa = alt.X("x:Q", axis=None)
    ya = alt.Y("y:Q", axis=None)
    e = (
        alt.Chart(edges)
        .mark_rule()
        .encode(
            x=xa,
            y=ya,
            x2="x2:Q",
            y2="y2:Q",
            color=alt.condition("datum.chosen", alt.value("#222"), alt.value("#ccc")),
            strokeWidth=alt.condition("datum.chosen", alt.value(3), alt.value(0.5)),
        )
    )
    pts = (
        alt.Chart(nodes)
        .mark_circle(size=380, stroke="#222")
        .encode(
            x=xa,
            y=ya,
            color=alt.Color("cost:Q", scale=alt.Scale(scheme="blues"), title="cores"),
            strokeWidth=alt.condition("datum.chosen", alt.value(3), alt.value(0)),
            tooltip=["stage", "batch", "replicas", "latency_ms", "cost"],
        )
    )
    txt = alt.Chart(nodes).mark_text(fontSize=10).encode(x=xa, y=ya, text="label:N")
    heads = (
        alt.Chart(nodes.groupby("x", as_index=False).agg(stage=("stage", "first"), y=("y", "max")))
        .mark_text(dy=-22, fontWeight="bold")
        .encode(x=xa, y=ya, text="stage:N")
    )
    return (e + pts + txt + heads).properties(width=width, height=260)


def cost_chart(table: pd.DataFrame) -> alt.Chart:
    """Cores against rate for each planner (the table of :func:`ssloserve.fa2.experiments.cost_vs_rate`).

    Examples
    --------
    >>> from ssloserve.fa2 import cost_vs_rate
    >>> t = cost_vs_rate(video_pipeline(source="fallback"), [5, 10], 780.0)
    >>> isinstance(cost_chart(t), alt.Chart)
    True
    """
    return (
        alt.Chart(table)
        .mark_line(interpolate="step-after", point=True)
        .encode(
            x=alt.X("rate_rps:Q", title="arrival rate (RPS)"),
            y=alt.Y("cores:Q", title="cores"),
            color=alt.Color("system:N", title=None, scale=system_scale(table.system)),
            strokeDash=alt.StrokeDash("system:N", title=None),
        )
        .properties(width=420, height=220)
    )


def timeline_chart(per_second: pd.DataFrame, bin_s: int = 10) -> alt.VConcatChart:
    """Load, cores in use and SLO violations over time for each system (binned to ``bin_s``).

    ``per_second`` is the second table of :func:`ssloserve.fa2.experiments.compare`.

    Examples
    --------
    >>> ps = pd.DataFrame(dict(system=["FA2"] * 20, second=range(20), rate_rps=1.0, cores=2.0,
    ...                        violation_pct=0.0))
    >>> isinstance(timeline_chart(ps), alt.VConcatChart)
    True
    """
    d = per_second.assign(t_s=(per_second["second"] // bin_s) * bin_s)
    agg = d.groupby(["system", "t_s"], as_index=False).agg(
        rate_rps=("rate_rps", "mean"),
        cores=("cores", "mean"),
        violation_pct=("violation_pct", "mean"),
    )
    x = alt.X("t_s:Q", title="time (s)")
    rate = (
        alt.Chart(agg[agg.system == agg.system.iloc[0]])
        .mark_area(color="#bbb")
        .encode(x=x, y=alt.Y("rate_rps:Q", title="load (RPS)"))
        .properties(width=520, height=90)
    )
    color = alt.Color("system:N", title=None, scale=system_scale(agg.system))
    cores = (
        alt.Chart(agg)
        .mark_line()
        .encode(x=x, y=alt.Y("cores:Q", title="cores"), color=color)
        .properties(width=520, height=150)
    )
    viol = (
        alt.Chart(agg)
        .mark_line()
        .encode(x=x, y=alt.Y("violation_pct:Q", title="SLO violations (%)"), color=color)
        .properties(width=520, height=110)
    )
    return alt.vconcat(rate, cores, viol)


_DEFAULT_PIPELINE: Pipeline | None = None


def _default_pipeline() -> Pipeline:
    global _DEFAULT_PIPELINE
    if _DEFAULT_PIPELINE is None:
        _DEFAULT_PIPELINE = video_pipeline()
    return _DEFAULT_PIPELINE


def plan_summary(
    rate_rps: float = 20.0, slo_ms: float = 780.0, pipeline: Pipeline | None = None
) -> pd.DataFrame:
    """FA2's plan and the per-stage-splitting plan side by side at one rate and SLO.

    Parameters
    ----------
    rate_rps : arrival rate (RPS)
    slo_ms : end-to-end SLO (ms)
    pipeline : default :func:`ssloserve.fa2.experiments.video_pipeline`

    Returns
    -------
    One row per (planner, stage) with batch, replicas, cost and latency (ms); a planner with
    no feasible plan gets one row saying why.

    Examples
    --------
    >>> t = plan_summary(20.0, 780.0, video_pipeline(source="fallback"))
    >>> t.groupby("planner")["cost"].sum().to_dict()
    {'FA2': 10.0, 'SLO split': 11.0}
    """
    p = pipeline or _default_pipeline()
    frames = []
    for name, planner in (("FA2", plan), ("SLO split", slo_split_plan)):
        try:
            cfg = planner(p, rate_rps, slo_ms)
        except InfeasibleError as e:
            frames.append(pd.DataFrame([dict(planner=name, stage="-", note=str(e))]))
            continue
        t = plan_table(p, cfg, rate_rps).reset_index()
        t.insert(0, "planner", name)
        frames.append(t)
    return pd.concat(frames, ignore_index=True)


class PlanExplorer(widgets.VBox):
    """Sliders for rate and SLO; shows :func:`plan_summary` and keeps it in ``.result``.

    Examples
    --------
    >>> w = PlanExplorer(pipeline=video_pipeline(source="fallback"))
    >>> w.rate.value == inspect.signature(plan_summary).parameters["rate_rps"].default
    True
    >>> w.rate.value = 30.0
    >>> float(w.result.query("planner == 'FA2'")["cost"].sum()) > 0
    True
    """

    def __init__(self, pipeline: Pipeline | None = None):
        sig = inspect.signature(plan_summary).parameters
        self.pipeline = pipeline
        self.rate = widgets.FloatSlider(
            value=sig["rate_rps"].default, min=1.0, max=60.0, step=1.0, description="rate (RPS)"
        )
        self.slo = widgets.FloatSlider(
            value=sig["slo_ms"].default, min=200.0, max=2000.0, step=20.0, description="SLO (ms)"
        )
        self.table = widgets.HTML()
        self.result: pd.DataFrame | None = None
        super().__init__([widgets.HBox([self.rate, self.slo]), self.table])
        self.rate.observe(self._update, names="value")
        self.slo.observe(self._update, names="value")
        self._update()

    def _update(self, change=None) -> None:
        self.result = plan_summary(self.rate.value, self.slo.value, self.pipeline)
        costs = self.result.groupby("planner")["cost"].sum() if "cost" in self.result else {}
        head = ", ".join(f"{k}: {v:g} cores" for k, v in dict(costs).items())
        self.table.value = f"<b>{head}</b>" + self.result.to_html(index=False, na_rep="")


def _plan_str(choices) -> str:
    return " + ".join(f"b={b} x{n}" for b, n in choices)


def pareto_walkthrough(
    stage_latencies_ms, rate_rps: float, slo_ms: float, cores_per_instance: float = 1
) -> pd.DataFrame:
    """Every candidate the exact DP considers on a chain, and what it does with it (01_fa2).

    At stage 1 the candidates are the stage's options; at stage ``s > 1`` every point of
    the previous Pareto set followed by every option of stage ``s``. A candidate is
    ``over the SLO`` (latency above ``slo_ms``), ``dominated`` (another candidate is no
    slower and no dearer) or ``kept`` (in the Pareto set :func:`~ssloserve.fa2.dp.pareto_steps`
    returns); the cheapest kept one at the last stage is the plan.

    Parameters
    ----------
    stage_latencies_ms, rate_rps, slo_ms, cores_per_instance : as for
        :func:`~ssloserve.fa2.dp.solve_chain`

    Returns
    -------
    One row per candidate: ``stage``, ``plan`` (``b=.. xn`` per stage so far),
    ``latency_ms`` (service plus batch formation delay, summed), ``cost`` (cores) and
    ``status``.

    Examples
    --------
    >>> t = pareto_walkthrough([{1: 50.0, 4: 80.0}, {1: 30.0, 2: 36.0}], 40.0, 150.0)
    >>> t[["stage", "latency_ms", "cost", "status"]].values.tolist()  # doctest: +NORMALIZE_WHITESPACE
    [[1, 50.0, 2.0, 'kept'], [1, 155.0, 1.0, 'over the SLO'],
     [2, 80.0, 4.0, 'kept'], [2, 111.0, 3.0, 'kept']]
    """
    layers = chain_layers(stage_latencies_ms, rate_rps, cores_per_instance, slo_ms)
    fronts = pareto_steps(stage_latencies_ms, rate_rps, slo_ms, cores_per_instance)
    rows = []
    prev = [((), 0.0, 0.0)]  # (choices so far, latency, cost): the empty plan
    for s, (opts, front) in enumerate(zip(layers, fronts, strict=True), start=1):
        cands = [(ch + (o[2],), lat + o[0], cost + o[1]) for ch, lat, cost in prev for o in opts]
        kept = {tuple(p) for p in front.payload}
        for ch, lat, cost in cands:
            if lat > slo_ms + EPS_MS:
                status = "over the SLO"
            elif ch in kept:
                status = "kept"
            else:
                status = "dominated"
            rows.append(dict(stage=s, plan=_plan_str(ch), latency_ms=lat, cost=cost, status=status))
        prev = [
            (tuple(p), float(la), float(c))
            for p, la, c in zip(front.payload, front.lat, front.cost, strict=True)
        ]
    return pd.DataFrame(rows)


def plan_explorer(
    pipeline: Pipeline | None = None,
    slo_ms: float = 780.0,
    rates_rps=range(1, 61),
) -> SliderChart:
    """FA2's plan and the split plan at a rate chosen with a slider, for the website (01_fa2).

    :func:`plan_summary` is computed here at every rate of ``rates_rps``; the slider is a
    Vega-Lite parameter that picks one, so the chart works in the static book with no
    kernel. Bars: the cores of each planner's plan, one segment per stage, labelled with
    its batch size and replicas; a planner with no feasible plan shows no bar.

    Parameters
    ----------
    pipeline : default :func:`ssloserve.fa2.experiments.video_pipeline`
    slo_ms : the end-to-end SLO (fixed; :class:`PlanExplorer` also moves it)
    rates_rps : the rates the slider steps through (whole numbers, evenly spaced)

    Returns
    -------
    A :class:`~ssloserve.charts.SliderChart`; the slider starts at
    :func:`plan_summary`'s default rate.

    Examples
    --------
    >>> sc = plan_explorer(video_pipeline(source="fallback"), 780.0, range(10, 31, 10))
    >>> spec = sc.to_dict()
    >>> spec["params"][0]["name"], spec["params"][0]["value"], spec["params"][0]["bind"]["step"]
    ('rate', 20.0, 10.0)
    >>> rows = spec["datasets"][spec["data"]["name"]]
    >>> sorted({r["rate_rps"] for r in rows})
    [10.0, 20.0, 30.0]
    """
    rates = [float(r) for r in rates_rps]
    step = rates[1] - rates[0] if len(rates) > 1 else 1.0
    frames = []
    for lam in rates:
        t = plan_summary(lam, slo_ms, pipeline)
        if "cost" not in t:
            continue
        t = t.dropna(subset=["cost"]).assign(rate_rps=lam)
        t["label"] = [f"b={int(b)} x{int(n)}" for b, n in zip(t.batch, t.replicas, strict=True)]
        t["total"] = t.groupby("planner")["cost"].transform("sum")
        frames.append(t[["rate_rps", "planner", "stage", "cost", "label", "total", "latency_ms"]])
    table = pd.concat(frames, ignore_index=True).round(2)
    order = {name: i for i, name in enumerate(table.stage.unique())}
    table["stage_order"] = table.stage.map(order)
    default = inspect.signature(plan_summary).parameters["rate_rps"].default
    rate = alt.param(
        name="rate",
        value=float(default),
        bind=alt.binding_range(min=rates[0], max=rates[-1], step=step, name="rate (RPS) "),
    )
    base = alt.Chart(table).transform_filter("datum.rate_rps == rate")
    y = alt.Y("planner:N", title=None, scale=alt.Scale(domain=["FA2", "SLO split"]))
    x = alt.X("cost:Q", title="cores", scale=alt.Scale(domain=[0, float(table.total.max())]))
    bars = base.mark_bar(stroke="white").encode(
        x=x,
        y=y,
        color=alt.Color("stage:N", title="stage", sort=list(table.stage.unique())),
        order=alt.Order("stage_order:Q"),
        tooltip=["rate_rps", "planner", "stage", "label", "cost", "latency_ms"],
    )
    text = (
        base.transform_window(cum="sum(cost)", groupby=["planner"], sort=[{"field": "stage_order"}])
        .transform_calculate(mid="datum.cum - datum.cost / 2")
        .mark_text(color="white", align="center")
        .encode(x=alt.X("mid:Q"), y=y, text="label:N")
    )
    totals = base.mark_text(align="left", dx=4).encode(
        x="total:Q", y=y, text=alt.Text("total:Q", format=".0f")
    )
    chart = (
        (bars + text + totals)
        .add_params(rate)
        .properties(width=420, height=90, title=f"plans at the chosen rate, SLO {slo_ms:g} ms")
    )
    return SliderChart(chart)
