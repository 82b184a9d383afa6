"""Chapter 03_ipa's experiment: IPA and its baselines on the four Twitter load patterns
(PAPERS.md 3; also run by benchmarks/bench_ipa.py)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..workloads import Workload
from .baselines import fa2_high, fa2_low, rim_like
from .pipelines import IPAPipeline
from .policy import IPAPolicy

__all__ = ["SYSTEMS", "systems", "compare", "on_patterns"]

#: The systems the chapter compares, in its order.
SYSTEMS = ("IPA", "FA2-low", "FA2-high", "RIM-like")


def systems(
    ipa: IPAPipeline, rates_rps, include: Sequence[str] = SYSTEMS, predictor=None, **kw
) -> dict:
    """The policies by name, set up alike: the same predictor (IPA's LSTM by default),
    interval (10 s), headroom, SLA safety share and stabilisation (``kw``), each starting
    from its plan for the first second's rate.

    Examples
    --------
    >>> from ssloserve.ipa.pipelines import video
    >>> from ssloserve.predictors import MaxWindow
    >>> list(systems(video(source="fallback"), [5, 9], predictor=MaxWindow(30)))
    ['IPA', 'FA2-low', 'FA2-high', 'RIM-like']
    """
    if predictor is None:
        from ..predictors import LSTMPredictor

        predictor = LSTMPredictor.load()
    rates = np.asarray(rates_rps, dtype=float)
    kw = dict(kw, predictor=predictor)
    kw.setdefault("initial_rate_rps", float(rates[0]) if len(rates) else None)
    out = {}
    for name in include:
        if name == "IPA":
            out[name] = IPAPolicy(
                ipa.pipeline, ipa.sla_ms, ipa.alpha, ipa.beta, ipa.gamma, batches=ipa.batches, **kw
            )
        elif name == "FA2-low":
            out[name] = fa2_low(ipa, **kw)
        elif name == "FA2-high":
            out[name] = fa2_high(ipa, **kw)
        elif name == "RIM-like":
            out[name] = rim_like(ipa, rates, **kw)
        else:
            raise ValueError(f"unknown system {name!r}; choose from {SYSTEMS}")
    return out


def compare(
    ipa: IPAPipeline, workload, policies: Mapping, runtime: str = "sim", **run_kw
) -> pd.DataFrame:
    """Run every policy on one workload: accuracy, cost and violations per system.

    Returns
    -------
    DataFrame indexed by system: ``accuracy`` (mean PAS of the requests served in time),
    ``mean_cores``, ``core_seconds``, ``violation_pct`` (late or dropped), ``p99_ms``.

    Examples
    --------
    >>> from ssloserve.ipa.pipelines import video
    >>> from ssloserve.predictors import MaxWindow
    >>> from ssloserve.workloads import Workload
    >>> v = video(source="fallback")
    >>> rates = [4] * 20 + [12] * 20
    >>> w = Workload.from_rates(rates, seed=0, slo_ms=v.sla_ms)
    >>> t = compare(v, w, systems(v, rates, include=("IPA", "FA2-low"), predictor=MaxWindow(30)))
    >>> list(t.index), bool(t.loc["IPA", "accuracy"] >= t.loc["FA2-low", "accuracy"])
    (['IPA', 'FA2-low'], True)
    """
    from ..runtime.api import run

    n_s = max(int(math.ceil(workload.duration_s)), 1)
    rows = []
    for name, pol in policies.items():
        s = run(ipa.pipeline, workload, pol, runtime, **run_kw).summary()
        rows.append(
            dict(
                system=name,
                accuracy=s["mean_accuracy"],
                mean_cores=s["core_seconds"] / n_s,
                core_seconds=s["core_seconds"],
                violation_pct=s["violation_pct"],
                p99_ms=s["p99_ms"],
            )
        )
    return pd.DataFrame(rows).set_index("system")


def on_patterns(
    ipa: IPAPipeline,
    patterns: Sequence[str] = ("bursty", "steady_low", "steady_high", "fluctuating"),
    duration_s: int | None = None,
    include: Sequence[str] = SYSTEMS,
    seed: int = 0,
    source: str = "auto",
    **kw,
) -> pd.DataFrame:
    """:func:`compare` on each of IPA's load patterns (:func:`ssloserve.traces.segment`).

    ``duration_s`` keeps the first seconds of each pattern (quick runs); the ``source``
    column says whether the real Twitter trace or its synthetic stand-in ran.

    Examples
    --------
    >>> from ssloserve.ipa.pipelines import video
    >>> from ssloserve.predictors import MaxWindow
    >>> t = on_patterns(video(source="fallback"), ["steady_low"], duration_s=30,
    ...                 include=("IPA",), source="synthetic", predictor=MaxWindow(30))
    >>> list(t.columns)[:3]
    ['pattern', 'source', 'system']
    """
    from ..traces import segment

    frames = []
    for name in patterns:
        seg = segment(name, seed=seed, source=source)
        rates = seg.rates if duration_s is None else seg.rates[:duration_s]
        w = Workload.from_rates(rates, seed=seed, slo_ms=ipa.sla_ms, name=name, source=seg.source)
        t = compare(ipa, w, systems(ipa, rates, include=include, **kw)).reset_index()
        t.insert(0, "source", seg.source)
        t.insert(0, "pattern", name)
        frames.append(t)
    return pd.concat(frames, ignore_index=True)
