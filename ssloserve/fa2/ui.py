"""Charts and the plan explorer widget of chapter 01_fa2 (FA2).

Chart builders return Altair charts and never display them; :class:`PlanExplorer` is a thin
ipywidgets wrapper over the pure function :func:`plan_summary`, whose defaults its sliders
take.
"""

from __future__ import annotations

import inspect

import altair as alt
import ipywidgets as widgets
import networkx as nx
import pandas as pd

from ..errors import InfeasibleError
from ..palette import system_scale
from ..pipeline import Config, Pipeline
from .baselines import slo_split_plan
from .experiments import video_pipeline
from .plan import plan, plan_table

__all__ = [
    "graph_chart",
    "cost_chart",
    "timeline_chart",
    "plan_summary",
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
