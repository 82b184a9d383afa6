"""Charts, tables and widgets of chapter 05 (NetNN): thin wrappers over pure functions.

- Charts: :func:`gap_chart` (inter-arrival codes per kind of traffic),
  :func:`accuracy_chart` (float against int8), :func:`header_chart` (switches as the
  header limit shrinks), :func:`frames_chart` (frames leaving each layer),
  :func:`recall_chart` (held-out families) and :func:`serving_explorer` (a CPU replica
  against the SLO as the packet rate grows, with a Vega-Lite slider that works on the
  static website). Systems keep their colour of :data:`ssloserve.charts.SYSTEM_COLORS`.
- Tables: :func:`paper_table` (this chapter's accuracy beside NetNN's published one).
- Widget: :func:`mapping_outcome` is the pure function; :func:`mapper_widget` puts sliders
  on its arguments (defaults equal the function's) and keeps the latest outcome in
  ``.result``. It needs a running kernel.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ..charts import SliderChart, system_scale
from ..errors import MappingError
from .mapper import partition
from .packets import iat_code
from .switch import BMV2

__all__ = [
    "PAPER_ACCURACY",
    "hexdump",
    "gap_chart",
    "accuracy_chart",
    "header_chart",
    "frames_chart",
    "recall_chart",
    "serving_explorer",
    "paper_table",
    "mapping_outcome",
    "mapper_widget",
]

#: NetNN's published accuracy on its covert-channel data set (ISCC 2024), "within line-rate
#: processing": per flow and per packet.
PAPER_ACCURACY = {"per flow": 0.99, "per packet": 0.83}


def hexdump(data: bytes, width: int = 16) -> str:
    """Bytes as hex, ``width`` per line, each line led by its offset.

    Examples
    --------
    >>> print(hexdump(bytes(range(20)), width=8))
      0  00 01 02 03 04 05 06 07
      8  08 09 0a 0b 0c 0d 0e 0f
     16  10 11 12 13
    """
    return "\n".join(
        f"{i:3d}  {bytes(data[i : i + width]).hex(' ')}" for i in range(0, len(data), width)
    )


def gap_chart(packets) -> alt.Chart:
    """Histogram of the 8-bit inter-arrival code per kind of traffic (packets with a gap).

    Examples
    --------
    >>> from ssloserve.netnn.packets import generate_packets
    >>> gap_chart(generate_packets(20, seed=0)).to_dict()["mark"]["type"]
    'bar'
    """
    code = iat_code(packets.iat_s) // 8 * 8
    gaps = pd.DataFrame({"kind": packets.kind, "code": code})
    gaps = gaps[gaps.code > 0].groupby(["kind", "code"]).size()
    gaps = gaps.rename("packets").reset_index()
    return (
        alt.Chart(gaps, title="Inter-arrival code per kind of traffic (synthetic)")
        .mark_bar()
        .encode(
            x=alt.X("code:Q", bin=alt.Bin(step=8), title="8-bit inter-arrival code (log scale)"),
            y=alt.Y("packets:Q", stack=None),
            color=alt.Color("kind:N", title=None),
            opacity=alt.value(0.6),
        )
        .properties(width=360, height=200)
    )


def accuracy_chart(acc: pd.DataFrame, columns=("float", "int8")) -> alt.FacetChart:
    """Test accuracy per data set, one bar per arithmetic (``columns`` of ``acc``).

    Parameters
    ----------
    acc : :func:`~ssloserve.netnn.experiment.accuracy_table`, possibly with more columns
    columns : the systems to draw, each in its colour

    Examples
    --------
    >>> acc = pd.DataFrame({"data set": ["a"], "float": [0.9], "int8": [0.89]})
    >>> accuracy_chart(acc).to_dict()["spec"]["encoding"]["color"]["scale"]["domain"]
    ['float', 'int8']
    """
    long = acc.melt(
        id_vars=["data set"],
        value_vars=list(columns),
        var_name="arithmetic",
        value_name="accuracy",
    )
    return (
        alt.Chart(long, title="Test accuracy, float and 8-bit integer")
        .mark_bar(clip=True)
        .encode(
            x=alt.X("arithmetic:N", title=None),
            y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0.5, 1])),
            color=alt.Color("arithmetic:N", scale=system_scale(columns), title=None),
            tooltip=["data set", "arithmetic", alt.Tooltip("accuracy:Q", format=".3f")],
        )
        .properties(width=70, height=200)
        .facet(column=alt.Column("data set:N", title=None))
    )


def header_chart(sweep: pd.DataFrame) -> alt.Chart:
    """Switches against the header limit, uniform and free widths
    (:func:`~ssloserve.netnn.experiment.header_sweep`).

    Examples
    --------
    >>> df = pd.DataFrame({"header bytes": [900, 1000] * 2, "widths": ["uniform"] * 2
    ...                    + ["free"] * 2, "switches": [20.0, 18.0, 14.0, 12.0]})
    >>> header_chart(df).to_dict()["mark"]["type"]
    'line'
    """
    return (
        alt.Chart(sweep, title="Switches for NetNN's model as the header limit shrinks")
        .mark_line(point=True, interpolate="step-after")
        .encode(
            x=alt.X("header bytes:Q", title="custom-header bytes per packet"),
            y=alt.Y("switches:Q", title="switches"),
            color=alt.Color("widths:N", title="widths"),
        )
        .properties(width=400, height=200)
    )


def frames_chart(trace: pd.DataFrame) -> alt.Chart:
    """Largest frame leaving each layer (0 = the input), from an executor trace.

    Examples
    --------
    >>> tr = pd.DataFrame({"layer": [0, 1, 1], "frame bytes": [90, 60, 60]})
    >>> frames_chart(tr).to_dict()["encoding"]["y"]["title"]
    'frame bytes'
    """
    per_layer = trace.groupby("layer")["frame bytes"].agg(["count", "max"]).reset_index()
    return (
        alt.Chart(per_layer, title="Frames and their size, leaving each layer")
        .mark_bar()
        .encode(
            x=alt.X("layer:O", title="layer that sent the frame (0 = input)"),
            y=alt.Y("max:Q", title="frame bytes"),
            tooltip=["count", "max"],
        )
        .properties(width=300, height=180)
    )


def recall_chart(summary: pd.DataFrame) -> alt.FacetChart:
    """Recall of each attack family: held out of training (float, int8, switch) beside the
    same family under a random split (:func:`~ssloserve.netnn.evaluate.summarize`).

    Examples
    --------
    >>> s = pd.DataFrame({"data set": ["d"], "held out": ["a"], "random split": [0.9],
    ...                   "float": [0.2], "int8": [0.2], "switch": [0.2]})
    >>> recall_chart(s).to_dict()["spec"]["layer"][0]["mark"]["type"]
    'bar'
    """
    systems = ["float", "int8", "switch"]
    long = summary.melt(
        id_vars=["data set", "held out", "random split"],
        value_vars=systems,
        var_name="version",
        value_name="recall",
    )
    y = alt.Y("held out:N", title="held-out family")
    bars = (
        alt.Chart()
        .mark_bar()
        .encode(
            x=alt.X("recall:Q", scale=alt.Scale(domain=[0, 1]), title="recall (held out)"),
            y=y,
            yOffset="version:N",
            color=alt.Color("version:N", scale=system_scale(systems), title=None),
            tooltip=["held out", "version", alt.Tooltip("recall:Q", format=".3f")],
        )
    )
    seen = (
        alt.Chart()
        .mark_tick(color="black", thickness=2, size=18)
        .encode(x="random split:Q", y=y, tooltip=["held out", "random split"])
    )
    return (
        alt.layer(bars, seen, data=long)
        .properties(width=300, height=150)
        .facet(row=alt.Row("data set:N", title=None))
        .resolve_scale(y="independent")
    )


def serving_explorer(cpu: pd.DataFrame, slo_ms: float) -> SliderChart:
    """The CPU replicas that serve one request per packet within the SLO, at a packet rate
    chosen with a slider (:func:`~ssloserve.netnn.serving.serve_on_cpu`'s table).

    Every rate was run beforehand; the slider is a Vega-Lite parameter that picks one, so
    the chart works on the static website. Left: cores against the rate; right: the p99
    latency against the SLO (dashed); the chosen rate is marked, its plan written above
    the left panel.

    Examples
    --------
    >>> cpu = pd.DataFrame({"rate (packets/s)": [1000.0, 2000.0], "batch": [1, 2],
    ...                     "replicas": [1, 1], "p50 ms": [0.3, 0.4],
    ...                     "p99 ms": [0.5, 0.7], "violations %": [0.0, 0.1]})
    >>> spec = serving_explorer(cpu, 1.0).to_dict()
    >>> spec["params"][0]["name"], spec["params"][0]["bind"]["step"]
    ('kpps', 1.0)
    """
    t = cpu.dropna(subset=["replicas"]).copy()
    t["kpps"] = (t["rate (packets/s)"] / 1000).round(3)
    t["system"] = "CPU replica"
    t = t.astype({"batch": int, "replicas": int}).round(3)
    rates = t["kpps"].tolist()
    steps = np.diff(rates)
    step = float(steps.min()) if len(steps) else 1.0
    kpps = alt.param(
        name="kpps",
        value=rates[len(rates) // 2],
        bind=alt.binding_range(min=rates[0], max=rates[-1], step=step, name="kpackets/s "),
    )
    x = alt.X("kpps:Q", title="thousand packets per second")
    colour = alt.Color("system:N", scale=system_scale(["CPU replica"]), legend=None)
    here = alt.Chart(t).transform_filter("datum.kpps == kpps")
    dot = here.mark_point(size=160, filled=True, color="black")
    label = (
        here.transform_calculate(
            text="'batch ' + datum.batch + ' x ' + datum.replicas + ' replicas, p99 '"
            " + format(datum['p99 ms'], '.2f') + ' ms'"
        )
        .mark_text(align="left", x=5, y=-10)
        .encode(text="text:N")
    )
    cores = (
        alt.Chart(t)
        .mark_line(point=True)
        .encode(x=x, y=alt.Y("replicas:Q", title="CPU cores that meet the SLO"), color=colour)
        + dot.encode(x=x, y="replicas:Q")
        + label
    ).properties(width=200, height=170)
    slo = alt.Chart(pd.DataFrame({"slo": [slo_ms]})).mark_rule(strokeDash=[4, 4])
    p99 = (
        alt.Chart(t)
        .mark_line(point=True)
        .encode(x=x, y=alt.Y("p99 ms:Q", title=f"p99 (ms); SLO {slo_ms:g} ms"), color=colour)
        + slo.encode(y="slo:Q")
        + dot.encode(x=x, y="p99 ms:Q")
    ).properties(width=200, height=170)
    return SliderChart(alt.hconcat(cores, p99).add_params(kpps))


def paper_table(det, dataplane: dict) -> pd.DataFrame:
    """This chapter's packet detector beside NetNN's published accuracy
    (:data:`PAPER_ACCURACY`): per flow and per packet, float, int8 and on the switches.

    Parameters
    ----------
    det : the packet :class:`~ssloserve.netnn.experiment.Detector`
    dataplane : its :func:`~ssloserve.netnn.experiment.dataplane_run` row
    """
    return pd.DataFrame(
        {
            "NetNN (paper)": [PAPER_ACCURACY["per flow"], PAPER_ACCURACY["per packet"]],
            "float": [det.flow_float_acc, det.float_acc],
            "int8": [det.flow_int_acc, det.int_acc],
            "switch": [dataplane["data-plane flow accuracy"], dataplane["data-plane accuracy"]],
        },
        index=["per flow", "per packet"],
    )


def mapping_outcome(
    model,
    header_bytes: int = BMV2.header_bytes,
    ops_per_action: int = BMV2.ops_per_action,
    register_kib: int = BMV2.register_bytes // 1024,
    stages: int = BMV2.stages,
    sample_slots: int = BMV2.sample_slots,
    widths: str = "uniform",
) -> dict:
    """Map ``model`` onto BMv2-like switches with some limits changed (chapter 05).

    Returns
    -------
    dict with ``ok``, ``layout``, ``switches``, ``binding`` (resource per layer) and ``table``
    when it fits, else ``ok`` False with the error's ``resource``, ``layer`` and ``message``.

    Examples
    --------
    >>> from ssloserve.netnn.models import paper_architecture
    >>> mapping_outcome(paper_architecture())["layout"]
    '1 -> 4 -> 4 -> 4 -> 4 -> 1'
    >>> mapping_outcome(paper_architecture(), header_bytes=1200)["layout"]
    '1 -> 5 -> 5 -> 5 -> 5 -> 1'
    >>> r = mapping_outcome(paper_architecture(), header_bytes=600)
    >>> r["ok"], r["resource"], r["layer"]
    (False, 'header bytes', 'input')
    """
    spec = BMV2.with_(
        header_bytes=int(header_bytes),
        ops_per_action=int(ops_per_action),
        register_bytes=int(register_kib) * 1024,
        stages=int(stages),
        sample_slots=int(sample_slots),
    )
    try:
        plan = partition(model, spec, widths=widths)
    except MappingError as e:
        return {"ok": False, "resource": e.resource, "layer": e.layer, "message": str(e)}
    return {
        "ok": True,
        "layout": plan.layout,
        "switches": plan.n_switches,
        "binding": plan.binding(),
        "table": plan.table(),
        "plan": plan,
    }


def mapper_widget(model):
    """Sliders over :func:`mapping_outcome` for ``model``; ``.result`` holds the latest outcome."""
    import ipywidgets as w
    from IPython.display import display

    sliders = {
        "header_bytes": w.IntSlider(
            value=BMV2.header_bytes, min=100, max=1486, step=10, description="header B"
        ),
        "ops_per_action": w.IntSlider(
            value=BMV2.ops_per_action, min=8, max=2048, step=8, description="ops/action"
        ),
        "register_kib": w.IntSlider(
            value=BMV2.register_bytes // 1024, min=16, max=16384, step=16, description="regs KiB"
        ),
        "stages": w.IntSlider(value=BMV2.stages, min=12, max=8192, step=4, description="stages"),
        "sample_slots": w.Dropdown(
            options=[1, 2, 4, 8, 16, 32, 64], value=BMV2.sample_slots, description="slots"
        ),
        "widths": w.Dropdown(options=["uniform", "free"], value="uniform", description="widths"),
    }
    out = w.Output()
    box = w.VBox([*sliders.values(), out])

    def update(_=None):
        r = mapping_outcome(model, **{k: s.value for k, s in sliders.items()})
        box.result = r
        out.clear_output(wait=True)
        with out:
            if r["ok"]:
                display(pd.DataFrame({"layout": [r["layout"]], "switches": [r["switches"]]}))
                display(r["table"].drop_duplicates("layer").set_index("switch").T)
            else:
                display(pd.DataFrame({"does not fit": [r["message"]]}))

    for s in sliders.values():
        s.observe(update, names="value")
    update()
    return box
