"""Chapter 04_biscale's experiments (also run by benchmarks/bench_biscale.py).

- :func:`video_pipeline` -- YOLOv5n then ResNet18 (the published Biscale fits), batches up
  to 8, SLO :data:`VIDEO_SLO_MS` (PAPERS.md 4);
- :func:`systems` -- Biscale and the single-mechanism baselines, set up alike;
- :func:`run_systems` -- every system on one workload: violations, drops and core-seconds;
- :func:`compare_patterns` -- the four Twitter patterns (PAPERS.md 0.3), every system;
- :func:`step_rates` and :func:`step_experiment` -- the motivation experiment, the load in
  steps from 20 to 120 RPS;
- :func:`compare_drop_limits` -- the same systems under drop limits of 1x and 3x the SLO
  and none (:data:`~ssloserve.biscale.baselines.DROP_LIMITS`);
- :func:`headline` -- Biscale against each baseline: fewer violations by how much, at what
  cost.

Every run is in the simulator unless ``runtime="emu"`` is passed; the cold start and resize
delay default to the runtime's (the emulator's measured values,
:data:`ssloserve.runtime.options.EMU_COLD_START_S`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..pipeline import Pipeline
from .baselines import drop_options, horizontal_only, inferline_like, vertical_only
from .plans import MAX_CORES
from .policy import BiscalePolicy

__all__ = [
    "VIDEO_SLO_MS",
    "PATTERNS",
    "SYSTEMS",
    "VERTICAL_ONE",
    "video_pipeline",
    "systems",
    "run_systems",
    "compare_patterns",
    "step_rates",
    "step_experiment",
    "compare_drop_limits",
    "headline",
]

#: The video pipeline's SLO (ms), PAPERS.md 4.
VIDEO_SLO_MS = 780.0
#: IPA's four Twitter load patterns (:func:`ssloserve.traces.segment`).
PATTERNS = ("bursty", "steady_low", "steady_high", "fluctuating")
#: The systems compared, Biscale first.
SYSTEMS = ("Biscale", "horizontal only", "vertical only", "InferLine-like")
#: Vertical scaling alone on one replica per stage (a single replica resized in place, as in
#: Sponge): :func:`systems` knows it too.
VERTICAL_ONE = "vertical only, 1 replica"


def video_pipeline(source: str = "auto") -> Pipeline:
    """YOLOv5n then ResNet18 with Biscale's published l(b, c) fits, batches up to 8.

    Examples
    --------
    >>> p = video_pipeline(source="fallback")
    >>> [p.stage(s).variants[0].name for s in p.order], p.stage("detect").max_batch
    (['yolov5n', 'resnet18'], 8)
    """
    from ..fa2 import video_pipeline as fa2_video

    return fa2_video("yolov5n", "resnet18", max_batch=8, source=source)


def systems(
    pipeline: Pipeline,
    rates_rps,
    slo_ms: float,
    include: Sequence[str] = SYSTEMS,
    max_cores: float = MAX_CORES,
    **policy_kw,
) -> dict:
    """The systems by name, all starting from the plan for the first second's rate.

    ``"Biscale"`` (:class:`~ssloserve.biscale.policy.BiscalePolicy`), ``"horizontal only"``
    and ``"vertical only"`` (on the first second's replicas; :data:`VERTICAL_ONE` on one
    replica per stage) share ``policy_kw`` (headroom, slo_safety, predictor,
    stabilisation_s); ``"InferLine-like"`` has its own rule.

    Examples
    --------
    >>> p = video_pipeline(source="fallback")
    >>> list(systems(p, [5, 20], 780.0))
    ['Biscale', 'horizontal only', 'vertical only', 'InferLine-like']
    """
    rates = np.asarray(rates_rps, dtype=float)
    kw = dict(policy_kw)
    kw.setdefault("initial_rate_rps", float(rates[0]) if len(rates) else None)
    out: dict = {}
    for name in include:
        if name == "Biscale":
            out[name] = BiscalePolicy(pipeline, slo_ms, max_cores=max_cores, **kw)
        elif name == "horizontal only":
            out[name] = horizontal_only(pipeline, slo_ms, **kw)
        elif name == "vertical only":
            out[name] = vertical_only(pipeline, slo_ms, max_cores=max_cores, **kw)
        elif name == VERTICAL_ONE:
            out[name] = vertical_only(pipeline, slo_ms, 1, max_cores=max_cores, **kw)
        elif name == "InferLine-like":
            out[name] = inferline_like(pipeline, slo_ms, rates)
        else:
            raise ValueError(f"unknown system {name!r}; choose from {SYSTEMS + (VERTICAL_ONE,)}")
    return out


def run_systems(
    pipeline: Pipeline,
    workload,
    policies: dict,
    runtime: str = "sim",
    *,
    per_second: bool = False,
    **run_kw,
):
    """Run every policy on the same workload.

    Returns
    -------
    DataFrame, one row per system: ``violation_pct`` (late or dropped), ``dropped_pct``,
    ``core_seconds``, ``mean_cores`` (over the run's ``duration_s`` when given), ``p99_ms``.
    With ``per_second``, also a long table
    ``system, second, rate_rps, cores, violation_pct``.

    Examples
    --------
    >>> from ssloserve.workloads import Workload
    >>> p = video_pipeline(source="fallback")
    >>> rates = [5] * 20 + [30] * 20
    >>> w = Workload.from_rates(rates, seed=0, slo_ms=780.0)
    >>> t = run_systems(p, w, systems(p, rates, 780.0, include=("Biscale",)), cold_start_s=2.0)
    >>> list(t.index), bool(t.loc["Biscale", "core_seconds"] > 0)
    (['Biscale'], True)
    """
    from ..fa2.experiments import cores_per_second
    from ..runtime.api import run

    run_kw.setdefault("progress", False)
    horizon_s = float(run_kw.get("duration_s") or workload.duration_s)
    n_s = int(np.ceil(horizon_s))
    rows, frames = [], []
    for name, pol in policies.items():
        res = run(pipeline, workload, pol, runtime, **run_kw)
        s = res.summary()
        rows.append(
            dict(
                system=name,
                violation_pct=s["violation_pct"],
                dropped_pct=s["dropped_pct"],
                core_seconds=s["core_seconds"],
                mean_cores=s["core_seconds"] / max(horizon_s, 1.0),
                p99_ms=s["p99_ms"],
            )
        )
        if per_second:
            ps = res.per_second().set_index("second").reindex(range(n_s))
            frames.append(
                pd.DataFrame(
                    dict(
                        system=name,
                        second=np.arange(n_s),
                        rate_rps=ps["requests"].fillna(0).to_numpy(),
                        cores=cores_per_second(res, n_s),
                        violation_pct=ps["violation_pct"].fillna(0.0).to_numpy(),
                    )
                )
            )
    table = pd.DataFrame(rows).set_index("system")
    return (table, pd.concat(frames, ignore_index=True)) if per_second else table


def compare_patterns(
    patterns: Sequence[str] = PATTERNS,
    include: Sequence[str] = SYSTEMS,
    drop: str = "none",
    seed: int = 0,
    runtime: str = "sim",
    duration_s: int | None = None,
    source: str = "auto",
    policy_kw: dict | None = None,
    start_s: int = 0,
    **run_kw,
) -> pd.DataFrame:
    """Every system on each Twitter pattern, the video pipeline at SLO 780 ms.

    Parameters
    ----------
    patterns, include : which patterns and systems
    drop : the drop limit (:func:`~ssloserve.biscale.baselines.drop_options`)
    seed : seed of the arrivals
    runtime, run_kw : passed to ``ssloserve.run``
    duration_s : play only the first seconds of each pattern (None: all 20 minutes)
    start_s : start that many seconds into each pattern (a window of it, e.g. its rise)
    source : ``"auto"`` (the real trace when present), ``"twitter"`` or ``"synthetic"``
    policy_kw : shared by the policies (:func:`systems`)

    Returns
    -------
    Long table: ``pattern, source, system`` and the columns of :func:`run_systems`.
    """
    from ..traces import segment
    from ..workloads import Workload

    pipeline = video_pipeline()
    frames = []
    for name in patterns:
        seg = segment(name, seed=seed, source=source)
        end = start_s + duration_s if duration_s else None
        rates = seg.rates[start_s:end]
        if start_s:
            w = Workload.from_rates(
                rates, seed=seed, slo_ms=VIDEO_SLO_MS, name=name, source=seg.source
            )
        else:
            w = seg.workload(seed=seed, slo_ms=VIDEO_SLO_MS)
        pols = systems(pipeline, rates, VIDEO_SLO_MS, include, **(policy_kw or {}))
        opts = {**drop_options(drop), **run_kw}
        if duration_s:
            opts["duration_s"] = float(duration_s)
        t = run_systems(pipeline, w, pols, runtime, **opts).reset_index()
        t.insert(0, "source", seg.source)
        t.insert(0, "pattern", name)
        frames.append(t)
    return pd.concat(frames, ignore_index=True)


def step_rates(start: int = 20, stop: int = 120, step: int = 20, hold_s: int = 60) -> np.ndarray:
    """The motivation experiment's load: ``start`` to ``stop`` RPS in steps, each held ``hold_s``.

    Examples
    --------
    >>> r = step_rates(hold_s=2)
    >>> r.tolist()
    [20, 20, 40, 40, 60, 60, 80, 80, 100, 100, 120, 120]
    """
    return np.repeat(np.arange(start, stop + 1, step), hold_s)


def step_experiment(
    include: Sequence[str] = SYSTEMS,
    rates_rps=None,
    seed: int = 0,
    runtime: str = "sim",
    policy_kw: dict | None = None,
    **run_kw,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The step load (:func:`step_rates`) on the video pipeline: summary and per second.

    Returns
    -------
    (summary, per_second)
        ``summary`` and ``per_second`` as :func:`run_systems` with ``per_second=True``.
    """
    from ..workloads import Workload

    pipeline = video_pipeline()
    rates = step_rates() if rates_rps is None else np.asarray(rates_rps)
    w = Workload.from_rates(rates, seed=seed, slo_ms=VIDEO_SLO_MS)
    pols = systems(pipeline, rates, VIDEO_SLO_MS, include, **(policy_kw or {}))
    return run_systems(pipeline, w, pols, runtime, per_second=True, **run_kw)


def compare_drop_limits(
    pattern: str = "bursty",
    limits: Sequence[str] = ("1x SLO", "3x SLO", "none"),
    include: Sequence[str] = SYSTEMS,
    **kw,
) -> pd.DataFrame:
    """The systems on one pattern under each drop limit.

    Returns
    -------
    Long table: ``drop`` and the columns of :func:`compare_patterns`.
    """
    frames = []
    for limit in limits:
        t = compare_patterns((pattern,), include, drop=limit, **kw)
        t.insert(0, "drop", limit)
        frames.append(t)
    return pd.concat(frames, ignore_index=True)


def headline(table: pd.DataFrame, by: str = "pattern") -> pd.DataFrame:
    """Biscale against each baseline per ``by`` group: violation ratio and cost ratio.

    ``violations_x`` is the baseline's violation % over Biscale's (inf when Biscale had
    none and the baseline some; 1 when neither had any); ``cost_ratio`` Biscale's
    core-seconds over the baseline's.

    Examples
    --------
    >>> t = pd.DataFrame(dict(pattern=["a", "a"], system=["Biscale", "horizontal only"],
    ...                       violation_pct=[0.1, 1.5], core_seconds=[100.0, 90.0]))
    >>> headline(t)[["baseline", "violations_x", "cost_ratio"]].round(2).values.tolist()
    [['horizontal only', 15.0, 1.11]]
    """
    rows = []
    for key, g in table.groupby(by, sort=False):
        g = g.set_index("system")
        if "Biscale" not in g.index:
            continue
        b = g.loc["Biscale"]
        for name, r in g.drop(index="Biscale").iterrows():
            if b.violation_pct > 0:
                vx = r.violation_pct / b.violation_pct
            else:
                vx = float("inf") if r.violation_pct > 0 else 1.0
            rows.append(
                {
                    by: key,
                    "baseline": name,
                    "biscale_violation_pct": b.violation_pct,
                    "baseline_violation_pct": r.violation_pct,
                    "violations_x": vx,
                    "cost_ratio": b.core_seconds / r.core_seconds,
                }
            )
    return pd.DataFrame(rows)
