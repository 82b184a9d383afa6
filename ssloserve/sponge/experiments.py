"""Chapter 02_sponge's experiments: the paper's setting in the simulator, every system side by
side, and the queue ablation (also run by benchmarks/bench_sponge.py).

The paper's setting (PAPERS.md 2): one YOLOv5 on up to 16 cores and batches up to 16, SLO
1000 ms, 10-20 RPS for 600 s, 200 KB images uploaded over the Belgium 4G log. Here:

- the model is the latency model fitted to the measured YOLOv5s grid (b 1-8, c 1-16,
  :func:`ssloserve.catalog.yolov5s_grid`), or without the data its fit
  :data:`YOLOV5S_FIT` (``tests/test_sponge.py`` re-fits it from the data);
- each request's budget is what its upload leaves of the SLO in its second,
  :func:`ssloserve.network.remaining_budget` on :func:`ssloserve.network.bandwidth_series`
  (the Belgium log, or its synthetic stand-in without the data);
- the rate is a seeded random walk between 10 and 20 RPS (:func:`paper_rates`).

Every function says which sources it used (``"data"``/``"fallback"``,
``"belgium"``/``"synthetic"``).
"""

from __future__ import annotations

import numpy as np

from ..catalog import yolov5s_grid
from ..data import has_data
from ..fa2.experiments import compare, cores_per_second
from ..latency import LatencyModel
from ..latency_table import LatencyTable
from ..network import bandwidth_series, remaining_budget
from ..pipeline import Pipeline, Stage, Variant
from ..workloads import Workload
from .baselines import VPALikePolicy, horizontal_policy, static_policy, with_twin
from .machine import SubCoreModel
from .measure import MeasuredSponge
from .policy import RUN_OPTIONS, SpongePolicy

__all__ = [
    "YOLOV5S_FIT",
    "SYSTEMS",
    "paper_model",
    "paper_rates",
    "budget_workload",
    "sponge_pipeline",
    "systems",
    "paper_experiment",
    "MACHINE_CORES",
    "machine_model",
    "machine_experiment",
    "queue_ablation",
    "cores_per_second",
]

#: l(b, c) fitted by least squares to ``profiling/yolov5s_p95_latency_batch_cores.csv``
#: (gamma, delta, epsilon, eta in ms, rounded to 2 decimals); used when the file is absent.
YOLOV5S_FIT = (140.31, 25.31, -50.38, 22.34)
#: The systems :func:`systems` knows, in the order of the chapter's table.
SYSTEMS = (
    "Sponge",
    "Sponge (worst case)",
    "horizontal (FA2, 1-core)",
    "VPA-like",
    "static peak",
    "static half",
)


def paper_model(source: str = "auto") -> tuple[LatencyModel, str]:
    """The YOLOv5 latency model of the paper-scale experiment, and ``"data"`` or
    ``"fallback"``.

    Examples
    --------
    >>> m, src = paper_model("fallback")
    >>> round(m.latency(1, 16), 1), src          # one image on 16 cores
    (53.3, 'fallback')
    """
    if source not in ("auto", "data", "fallback"):
        raise ValueError(f"source must be 'auto', 'data' or 'fallback', got {source!r}")
    if source == "data" or (
        source == "auto" and has_data("profiling/yolov5s_p95_latency_batch_cores.csv")
    ):
        return LatencyTable.from_frame(yolov5s_grid()).fit(), "data"
    return LatencyModel(*YOLOV5S_FIT), "fallback"


def paper_rates(
    duration_s: int = 600, lo: int = 10, hi: int = 20, seed: int = 0, step_sd: float = 1.5
):
    """Per-second rates between ``lo`` and ``hi`` RPS: a seeded random walk (steps of
    standard deviation ``step_sd`` RPS, clipped to the range, rounded), starting midway.

    Examples
    --------
    >>> r = paper_rates(600, seed=0)
    >>> len(r), int(r.min()) >= 10, int(r.max()) <= 20
    (600, True, True)
    """
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, step_sd, size=duration_s)
    x = np.empty(duration_s)
    x[0] = (lo + hi) / 2
    for i in range(1, duration_s):
        x[i] = min(hi, max(lo, x[i - 1] + steps[i]))
    return np.round(x).astype(int)


def budget_workload(
    rates,
    payload_kb: float = 200,
    slo_ms: float = 1000.0,
    bandwidth: str = "auto",
    seed: int = 0,
) -> tuple[Workload, str]:
    """Requests at ``rates`` (one value per second), each with the budget its upload leaves:
    ``slo - payload / bandwidth`` of its second (:func:`ssloserve.network.remaining_budget`;
    ``payload_kb`` x 1024 bytes, as Sponge's table; at least 1 ms, so an upload slower
    than the SLO leaves a request that cannot make it). When ``payload_kb`` is a list, each
    request's payload is drawn from it (seeded), so requests of one second have different
    budgets.

    Returns
    -------
    ``(workload, bandwidth source)``: ``"belgium"`` or ``"synthetic"``.

    Examples
    --------
    >>> w, src = budget_workload([10, 12, 15], bandwidth="synthetic")
    >>> len(w), src, bool((w.budget_ms < 1000).all())
    (37, 'synthetic', True)
    """
    rates = np.asarray(rates)
    bw, src = bandwidth_series(bandwidth, seed=seed, duration_s=len(rates))
    if np.ndim(payload_kb) == 0:
        payload = int(payload_kb * 1024)
        budgets = remaining_budget(bw, payload, slo_ms, min_ms=1.0)
        w = Workload.from_rates(
            rates, seed=seed, budget_ms=budgets, payload_bytes=payload, source=src
        )
        return w, src
    t = Workload.from_rates(rates, seed=seed).arrival_s
    rng = np.random.default_rng([seed, 1])
    size = (rng.choice(np.asarray(payload_kb, dtype=float), size=len(t)) * 1024).astype(int)
    budgets = remaining_budget(bw[np.floor(t).astype(int)], size, slo_ms, min_ms=1.0)
    return Workload(t, budgets, size, source=src, duration_s=float(len(rates))), src


def sponge_pipeline(
    model: LatencyModel, name: str = "yolov5s", kind: str = "sleep", max_batch: int = 16
) -> Pipeline:
    """One stage ``"detect"`` serving ``model``, with the twin variant the VPA-like scaler
    switches to (:func:`~ssloserve.sponge.baselines.with_twin`); ``kind`` is what an
    emulator replica runs (``"sleep"``, ``"burn"``).

    Examples
    --------
    >>> p = sponge_pipeline(LatencyModel(*YOLOV5S_FIT))
    >>> [v.name for v in p.stage("detect").variants]
    ['yolov5s', 'yolov5s (recreated)']
    """
    v = Variant(name, 0.568, model, cores=1.0, model=kind)
    return with_twin(Pipeline.chain(Stage("detect", (v,), max_batch=max_batch)))


def systems(
    pipeline: Pipeline,
    rates_rps,
    slo_ms: float,
    cl_max_ms: float,
    c_max: int = 16,
    b_max: int = 16,
    *,
    cores=None,
    include=SYSTEMS,
    sponge=SpongePolicy,
) -> dict:
    """The systems of :data:`SYSTEMS`, set up alike, by name.

    - ``"Sponge"``: :class:`~ssloserve.sponge.policy.SpongePolicy` (per-request solver);
      ``"Sponge (worst case)"``: the same with the paper code's worst-case solver (both
      of class ``sponge``, e.g. :class:`~ssloserve.sponge.measure.MeasuredSponge`);
    - ``"horizontal (FA2, 1-core)"``: :func:`~ssloserve.sponge.baselines.horizontal_policy`
      replanning every second, told the worst upload ``cl_max_ms`` (the same knowledge
      as the worst-case solver), with replicas of 1 core (of the smallest core count of
      ``cores`` when given);
    - ``"VPA-like"``: :class:`~ssloserve.sponge.baselines.VPALikePolicy`;
    - ``"static peak"`` / ``"static half"``: one replica with the most cores of the grid
      (``c_max``; the paper's static 16) and half of that (static 8), batch for the peak
      rate (:func:`~ssloserve.sponge.baselines.static_policy`).

    Examples
    --------
    >>> p = sponge_pipeline(LatencyModel(*YOLOV5S_FIT))
    >>> s = systems(p, [10, 20], 1000.0, 474.0)
    >>> list(s) == list(SYSTEMS), s["static half"].config["detect"].cores
    (True, 8.0)
    """
    rates = np.asarray(rates_rps, dtype=float)
    peak = float(rates.max())
    top = float(max(cores)) if cores is not None else float(c_max)
    out = {}
    for name in include:
        kw = dict(cores=cores, b_max=b_max, initial_rate_rps=float(rates[0]))
        if name == "Sponge":
            out[name] = sponge(slo_ms, c_max, **kw)
        elif name == "Sponge (worst case)":
            out[name] = sponge(slo_ms, c_max, solver="worst_case", **kw)
        elif name == "VPA-like":
            out[name] = VPALikePolicy(slo_ms, c_max, **kw)
        elif name == "horizontal (FA2, 1-core)":
            out[name] = horizontal_policy(
                pipeline,
                slo_ms,
                cl_max_ms,
                replica_cores=1.0 if cores is None else float(min(cores)),
                interval_s=1.0,
                initial_rate_rps=float(rates[0]),
            )
        elif name in ("static peak", "static half"):
            c = top if name == "static peak" else top / 2
            out[name] = static_policy(pipeline, c, peak, slo_ms, cl_max_ms, b_max)
        else:
            raise ValueError(f"unknown system {name!r}; choose from {SYSTEMS}")
    return out


def paper_experiment(
    duration_s: int = 600,
    payload_kb: float = 200,
    slo_ms: float = 1000.0,
    seed: int = 0,
    *,
    include=SYSTEMS,
    source: str = "auto",
    bandwidth: str = "auto",
    runtime: str = "sim",
    **run_kw,
):
    """Every system on the paper's setting (module docstring), under the runtime's EDF queue
    with the cannot-finish drop rule (:data:`~ssloserve.sponge.policy.RUN_OPTIONS`) for all.

    Returns
    -------
    ``(summary, per_second, meta)``: as :func:`ssloserve.fa2.experiments.compare` (one row
    per system: ``core_seconds``, ``violation_pct``, ``p99_ms``, ``mean_cores``; per
    second: ``system``, ``second``, ``rate_rps``, ``cores``, ``violation_pct``), and
    ``meta`` with the sources used
    (``model``, ``bandwidth``), ``cl_max_ms`` (the slowest upload) and the ``policies``.

    Examples
    --------
    >>> s, per_s, meta = paper_experiment(60, include=("Sponge", "static peak"),
    ...                                   source="fallback", bandwidth="synthetic")
    >>> list(s.index), meta["model"], meta["bandwidth"]
    (['Sponge', 'static peak'], 'fallback', 'synthetic')
    >>> bool(s.loc["Sponge", "core_seconds"] < s.loc["static peak", "core_seconds"])
    True
    """
    model, msrc = paper_model(source)
    rates = paper_rates(duration_s, seed=seed)
    w, bsrc = budget_workload(rates, payload_kb, slo_ms, bandwidth, seed)
    cl_max = float(slo_ms - w.budget_ms.min())
    p = sponge_pipeline(model)
    pols = systems(p, rates, slo_ms, cl_max, include=include)
    kw = {**RUN_OPTIONS, **run_kw}
    summary, per_second = compare(p, w, pols, runtime, **kw)
    meta = dict(model=msrc, bandwidth=bsrc, cl_max_ms=cl_max, policies=pols, options=kw)
    return summary, per_second, meta


#: The core grid of the emulator on this machine: 0.25 to 1.5 cores.
MACHINE_CORES = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5)


def machine_model(
    model: LatencyModel, c_paper: float = 16.0, c_machine: float = 1.5, *, subcore: bool = False
) -> LatencyModel:
    """The paper-scale model on this machine's cores: ``c`` cores here serve as ``c * k``
    cores do in the paper, ``k = c_paper / c_machine``: ``l_m(b, c) = l(b, c k)``, so the
    parallel part (gamma, epsilon) shrinks by ``k`` and the serial part (delta, eta) stays.
    Latencies, the rates and the SLO are the paper's.

    What does not carry over: the serial part still costs its full CPU time, so a request
    needs more of this machine than of the paper's; and below one core a thread gets only
    ``c`` of a core, so its serial part takes ``1 / c`` times longer than l(b, c) says.
    The emulator shows both; the simulator and the solvers assume l(b, c), unless
    ``subcore=True``: then the model is its :class:`~ssloserve.sponge.machine.SubCoreModel`
    (same parameters, the serial part slowed by ``1 / c`` below one core), which every
    planner and the simulator then use.

    Examples
    --------
    >>> m = LatencyModel(*YOLOV5S_FIT)
    >>> mm = machine_model(m)
    >>> bool(abs(mm.latency(2, 1.5) - m.latency(2, 16)) < 1e-9)
    True
    """
    k = c_paper / c_machine
    m = LatencyModel(model.gamma / k, model.delta, model.epsilon / k, model.eta)
    return SubCoreModel.of(m) if subcore else m


def machine_experiment(
    duration_s: int = 60,
    payload_kb: float = 200,
    slo_ms: float = 1000.0,
    seed: int = 0,
    *,
    include=SYSTEMS,
    source: str = "auto",
    bandwidth: str = "auto",
    runtime: str = "emu",
    subcore: bool = False,
    rate_scale: float = 1.0,
    **run_kw,
):
    """The paper's setting at this machine's scale: a *burn* replica (real CPU under real
    core limits) of :func:`machine_model` between 0.25 and 1.5 cores
    (:data:`MACHINE_CORES`), the paper's rates, budgets and SLO; horizontal replicas of
    0.25 cores, static at 1.5 and 0.75 cores. Returns what :func:`paper_experiment` does;
    Sponge's policies are :class:`~ssloserve.sponge.measure.MeasuredSponge` (their
    ``cpu_use()``: the replica's measured CPU, second by second).

    ``subcore=True`` gives every planner (and the simulator) the latency the replica really
    has below one core (:func:`machine_model`); ``rate_scale`` multiplies the paper's rates
    (rounded), to bring the CPU the load needs within this machine's.

    Examples
    --------
    >>> s, _, meta = machine_experiment(20, include=("Sponge", "static peak"), runtime="sim",
    ...                                 source="fallback", bandwidth="synthetic")
    >>> meta["policies"]["static peak"].config["detect"].cores
    1.5
    """
    model, msrc = paper_model(source)
    rates = np.round(paper_rates(duration_s, seed=seed) * rate_scale).astype(int)
    w, bsrc = budget_workload(rates, payload_kb, slo_ms, bandwidth, seed)
    cl_max = float(slo_ms - w.budget_ms.min())
    p = sponge_pipeline(machine_model(model, subcore=subcore), kind="burn")
    pols = systems(
        p, rates, slo_ms, cl_max, cores=MACHINE_CORES, include=include, sponge=MeasuredSponge
    )
    kw = {**RUN_OPTIONS, **run_kw}
    summary, per_second = compare(p, w, pols, runtime, **kw)
    meta = dict(model=msrc, bandwidth=bsrc, cl_max_ms=cl_max, policies=pols, options=kw)
    return summary, per_second, meta


#: The queue settings :func:`queue_ablation` compares: (queue, drop rule).
ABLATION = (
    ("edf", "cannot_finish"),
    ("edf", "never"),
    ("fifo", "cannot_finish"),
    ("fifo", "never"),
)


def queue_ablation(
    duration_s: int = 600,
    rate_scale: float = 1.0,
    seed: int = 0,
    *,
    payload_kb=200,
    source="auto",
    bandwidth="auto",
    **run_kw,
):
    """Sponge under each queue and drop rule of :data:`ABLATION`, with the rates multiplied
    by ``rate_scale`` (above 1: overload, where the drop rule matters most) and the payload
    ``payload_kb`` (a list: a mix, :func:`budget_workload`).

    Returns
    -------
    One row per (queue, drop): ``violation_pct``, ``late_pct``, ``dropped_pct``,
    ``core_seconds``.

    Examples
    --------
    >>> t = queue_ablation(30, source="fallback", bandwidth="synthetic")
    >>> t[["queue", "drop"]].values.tolist()[:2]
    [['edf', 'cannot_finish'], ['edf', 'never']]
    """
    import pandas as pd

    from ..runtime.api import run

    model, _ = paper_model(source)
    rates = np.round(paper_rates(duration_s, seed=seed) * rate_scale).astype(int)
    w, _ = budget_workload(rates, payload_kb, 1000.0, bandwidth, seed)
    p = sponge_pipeline(model)
    rows = []
    for queue, drop in ABLATION:
        pol = SpongePolicy(1000.0, initial_rate_rps=float(rates[0]))
        s = run(p, w, pol, "sim", queue=queue, drop=drop, **run_kw).summary()
        n = max(s["requests"], 1)
        rows.append(
            dict(
                queue=queue,
                drop=drop,
                violation_pct=s["violation_pct"],
                late_pct=100.0 * s["late"] / n,
                dropped_pct=100.0 * s["dropped"] / n,
                core_seconds=s["core_seconds"],
            )
        )
    return pd.DataFrame(rows)
