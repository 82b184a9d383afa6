"""Chapter 01_fa2's experiments: the video pipeline, the systems side by side, the planners
against brute force (also run by benchmarks/bench_fa2.py)."""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import InfeasibleError, PipelineError
from ..pipeline import Pipeline
from .baselines import slo_split_plan
from .dp import solve_chain, solve_chain_grid
from .oracle import brute_force_chain, random_chain_instance
from .plan import plan
from .policy import FA2Policy, SLOSplitPolicy, static_peak_policy

__all__ = [
    "video_pipeline",
    "systems",
    "compare",
    "cores_per_second",
    "cost_vs_rate",
    "versus_brute_force",
]


def video_pipeline(
    detector: str = "yolov5s",
    classifier: str = "resnet50",
    cores: float = 1.0,
    max_batch: int = 16,
    source: str = "auto",
) -> Pipeline:
    """The video pipeline, detector then classifier, with fixed variants from the menu.

    Latency models come from :func:`ssloserve.catalog.video_variants` (fitted on the
    profiles when they are present, else the published fits).

    Examples
    --------
    >>> p = video_pipeline(source="fallback")
    >>> p.order, p.stage("detect").variants[0].name, p.stage("classify").variants[0].name
    (('detect', 'classify'), 'yolov5s', 'resnet50')
    """
    from ..catalog import video_variants
    from ..pipeline import Stage

    det, cls = video_variants(cores=cores, source=source)
    pick = {v.name: v for v in det + cls}
    for name in (detector, classifier):
        if name not in pick:
            raise PipelineError(f"no variant {name!r}; the menu is {list(pick)}")
    return Pipeline.chain(
        Stage("detect", (pick[detector],), max_batch=max_batch),
        Stage("classify", (pick[classifier],), max_batch=max_batch),
    )


_MARGINS = ("headroom", "slo_safety")


def systems(
    pipeline: Pipeline,
    rates_rps,
    slo_ms: float,
    include: Sequence[str] = ("FA2", "SLO split", "static peak", "HPA-like", "InferLine-like"),
    **policy_kw,
) -> dict:
    """The policies chapter 01_fa2 compares, by name, set up alike.

    ``"FA2"`` (:class:`~ssloserve.fa2.policy.FA2Policy`) and ``"SLO split"``
    (:class:`~ssloserve.fa2.policy.SLOSplitPolicy`) share ``policy_kw`` (interval,
    predictor, headroom, SLO safety factor, menu) and start from the plan for the first
    second's rate; ``"static peak"`` is planned for the highest rate of ``rates_rps`` (a
    static policy knows the whole trace) with the same headroom and SLO safety factor;
    ``"HPA-like"`` and ``"InferLine-like"`` come from :func:`ssloserve.policies.baseline`.

    Examples
    --------
    >>> p = video_pipeline(source="fallback")
    >>> sorted(systems(p, [5, 20, 9], 780.0, include=("FA2", "static peak")))
    ['FA2', 'static peak']
    """
    from ..policies import baseline

    rates = np.asarray(rates_rps, dtype=float)
    kw = dict(policy_kw)
    kw.setdefault("initial_rate_rps", float(rates[0]) if len(rates) else None)
    defaults = inspect.signature(FA2Policy).parameters
    out: dict = {}
    for name in include:
        if name == "FA2":
            out[name] = FA2Policy(pipeline, slo_ms, **kw)
        elif name == "SLO split":
            out[name] = SLOSplitPolicy(pipeline, slo_ms, **kw)
        elif name == "static peak":
            margins = {k: kw.get(k, defaults[k].default) for k in _MARGINS}
            out[name] = static_peak_policy(pipeline, rates, slo_ms, **margins)
        elif name in ("HPA-like", "InferLine-like"):
            out[name] = baseline(name, pipeline, slo_ms, rates)
        else:
            raise ValueError(f"unknown system {name!r}")
    return out


def cores_per_second(result, duration_s: int | None = None) -> np.ndarray:
    """Cores in use during each second of a run, from its timeline (a step function).

    Seconds before the first timeline row take its value (the initial config, in force
    from the start).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> r = SimpleNamespace(timeline=pd.DataFrame({"t_s": [0.5, 2.0], "cores": [3.0, 5.0]}))
    >>> cores_per_second(r, 4).tolist()
    [3.0, 3.0, 5.0, 5.0]
    """
    tl = result.timeline
    t = tl["t_s"].to_numpy(dtype=float)
    c = tl["cores"].to_numpy(dtype=float)
    n = int(math.ceil(t[-1])) + 1 if duration_s is None else int(duration_s)
    idx = np.searchsorted(t, np.arange(n, dtype=float), side="right") - 1
    return c[np.clip(idx, 0, None)]


def compare(pipeline: Pipeline, workload, policies: Mapping, runtime: str = "sim", **run_kw):
    """Run every policy on the same workload; return a summary table and per-second data.

    Parameters
    ----------
    pipeline, workload : what to serve
    policies : name -> policy (e.g. from :func:`systems`)
    runtime, run_kw : passed to :func:`ssloserve.run`

    Returns
    -------
    (summary, per_second)
        ``summary``: one row per system with ``core_seconds``, ``violation_pct``,
        ``p99_ms`` and ``saving_vs_split_pct`` (core-seconds saved against ``"SLO split"``
        when it is among the systems). ``per_second``: columns ``system, second, rate_rps,
        cores, violation_pct``.

    Examples
    --------
    >>> from ssloserve.workloads import Workload
    >>> p = video_pipeline(source="fallback")
    >>> rates = [4] * 20 + [20] * 20
    >>> w = Workload.from_rates(rates, seed=0, slo_ms=780.0)
    >>> summ, per_s = compare(p, w, systems(p, rates, 780.0, include=("FA2", "SLO split")))
    >>> list(summ.index), sorted(per_s.columns)
    (['FA2', 'SLO split'], ['cores', 'rate_rps', 'second', 'system', 'violation_pct'])
    """
    from ..runtime.api import run

    rows, frames = [], []
    n_s = int(math.ceil(workload.duration_s))
    rates = workload.rates() if hasattr(workload, "rates") else None
    for name, pol in policies.items():
        res = run(pipeline, workload, pol, runtime, **run_kw)
        s = res.summary()
        rows.append(
            dict(
                system=name,
                core_seconds=s["core_seconds"],
                violation_pct=s["violation_pct"],
                p99_ms=s["p99_ms"],
                mean_cores=s["core_seconds"] / max(n_s, 1),
            )
        )
        ps = res.per_second().set_index("second").reindex(range(n_s))
        frames.append(
            pd.DataFrame(
                dict(
                    system=name,
                    second=np.arange(n_s),
                    rate_rps=rates[:n_s] if rates is not None else ps["requests"].fillna(0),
                    cores=cores_per_second(res, n_s),
                    violation_pct=ps["violation_pct"].fillna(0.0).to_numpy(),
                )
            )
        )
    summary = pd.DataFrame(rows).set_index("system")
    if "SLO split" in summary.index:
        base = summary.loc["SLO split", "core_seconds"]
        summary["saving_vs_split_pct"] = 100.0 * (1.0 - summary["core_seconds"] / base)
    return summary, pd.concat(frames, ignore_index=True)


def cost_vs_rate(
    pipeline: Pipeline, rates_rps: Sequence[float], slo_ms: float, **menu
) -> pd.DataFrame:
    """Cores each planner needs at each rate: FA2, per-stage SLO splitting, static peak.

    Static peak provisioning is planned once for the highest rate of ``rates_rps``;
    ``menu`` holds :class:`~ssloserve.fa2.graph.PlanOptions` fields for every planner.

    Returns
    -------
    Long table with columns ``rate_rps, system, cores``.

    Examples
    --------
    >>> p = video_pipeline(source="fallback")
    >>> t = cost_vs_rate(p, [5, 10, 20], 780.0).pivot(index="rate_rps", columns="system", values="cores")
    >>> bool((t["FA2"] <= t["SLO split"]).all()), t["static peak"].nunique()
    (True, 1)
    """
    peak = plan(pipeline, float(max(rates_rps)), slo_ms, **menu).cost
    rows = []
    for lam in rates_rps:
        lam = float(lam)
        rows.append(
            dict(rate_rps=lam, system="FA2", cores=plan(pipeline, lam, slo_ms, **menu).cost)
        )
        split = slo_split_plan(pipeline, lam, slo_ms, **menu).cost
        rows.append(dict(rate_rps=lam, system="SLO split", cores=split))
        rows.append(dict(rate_rps=lam, system="static peak", cores=peak))
    return pd.DataFrame(rows)


def versus_brute_force(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """Solve ``n`` random chains with the exact DP, the 1-ms grid DP and brute force.

    Returns
    -------
    One row per instance: ``stages``, ``plans`` (how many brute force tries), ``feasible``,
    ``dp_match`` and ``grid_match`` (same optimal cost as brute force, or all infeasible)
    and the solve times ``dp_s``, ``grid_s``, ``brute_s``.

    Examples
    --------
    >>> t = versus_brute_force(20, seed=1)
    >>> bool(t.dp_match.all()), len(t)
    (True, 20)
    """
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        args = random_chain_instance(rng)
        out, times = {}, {}
        for key, f in (
            ("dp", solve_chain),
            ("grid", solve_chain_grid),
            ("brute", brute_force_chain),
        ):
            t0 = time.perf_counter()
            try:
                out[key] = f(*args).cost
            except InfeasibleError:
                out[key] = None
            times[key] = time.perf_counter() - t0
        rows.append(
            dict(
                stages=len(args[0]),
                plans=int(np.prod([len(t) for t in args[0]])),
                feasible=out["brute"] is not None,
                dp_match=out["dp"] == out["brute"],
                grid_match=out["grid"] == out["brute"],
                dp_s=times["dp"],
                grid_s=times["grid"],
                brute_s=times["brute"],
            )
        )
    return pd.DataFrame(rows)
