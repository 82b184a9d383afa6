"""Amdahl's law on the latency model, from the fitted models and measured on this machine.

Chapter 04_biscale, section 1. The equations are in :mod:`ssloserve.latency`: the parallel
fraction p(b) (:meth:`~ssloserve.latency.LatencyModel.parallel_fraction`), the speed-up
l(b, 1) / l(b, c) = 1 / ((1 - p) + p / c) (:func:`~ssloserve.latency.amdahl_speedup`), its
bound 1 / (1 - p) (:func:`~ssloserve.latency.amdahl_bound`) and the largest useful core
count (:func:`~ssloserve.latency.largest_useful_cores`). Here:

- :func:`speedup_table` -- those numbers for a fitted model over a grid of batches and cores;
- :func:`measure_speedups` -- the speed-ups one emulator replica reaches on this machine
  under enforced core limits (:func:`ssloserve.runtime.emu.profile.profile_model`), next to
  what a reference model predicts. A *burn* replica spends exactly the CPU time of its
  latency model, the parallel part split over ``ceil(c)`` threads (the emulator's
  calibration), so on a quiet machine its measured speed-up is Amdahl's; a torch replica
  shows what a real network does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..latency import LatencyModel, amdahl_bound, amdahl_speedup, largest_useful_cores

__all__ = ["speedup_table", "SpeedupMeasurement", "measure_speedups"]


def speedup_table(latency: LatencyModel, batches=(1, 4, 8), cores=(1, 2, 4, 8)) -> pd.DataFrame:
    """Amdahl's law read off a latency model: one row per (batch, cores).

    Parameters
    ----------
    latency : the model l(b, c)
    batches, cores : the grid

    Returns
    -------
    DataFrame with ``batch, cores, latency_ms, p`` (the parallel fraction p(b)),
    ``speedup`` (l(b, 1) / l(b, c)), ``amdahl`` (1 / ((1 - p) + p / c), the same number by
    Amdahl's formula), ``bound`` (1 / (1 - p)), ``efficiency`` (speedup / c)
    and ``useful_cores`` (:func:`~ssloserve.latency.largest_useful_cores` of p).

    Examples
    --------
    YOLOv5n's published fit (PAPERS.md 0.1): 8 cores give 4.3x of the at most 8x.

    >>> yolo = LatencyModel(148.8, 37.5, 5.43, -15.5)
    >>> t = speedup_table(yolo, batches=[1], cores=[1, 8])
    >>> print(t[["cores", "p", "speedup", "bound", "useful_cores"]].round(2).to_string(index=False))
     cores    p  speedup  bound  useful_cores
       1.0 0.88     1.00   8.01           4.0
       8.0 0.88     4.27   8.01           4.0
    """
    rows = []
    for b in batches:
        p = float(latency.parallel_fraction(b))
        for c in cores:
            s = float(latency.speedup(b, c))
            rows.append(
                dict(
                    batch=int(b),
                    cores=float(c),
                    latency_ms=float(latency.latency(b, c)),
                    p=p,
                    speedup=s,
                    amdahl=float(amdahl_speedup(p, c)),
                    bound=float(amdahl_bound(p)),
                    efficiency=s / float(c),
                    useful_cores=largest_useful_cores(min(max(p, 0.0), 1.0)),
                )
            )
    return pd.DataFrame(rows)


@dataclass
class SpeedupMeasurement:
    """What :func:`measure_speedups` measured.

    Attributes
    ----------
    table : one row per (batch, cores): ``latency_ms`` (median measured), ``speedup``
        (measured l(b, 1) / l(b, c)), ``expected`` (the reference model's), ``error_pct``
        (measured against expected, %)
    reference : the model the speed-ups were compared with
    backend : the core-limit backend that enforced the cores
    background_cores : cores other programs used on average while it measured (the
        measurement is only as good as the machine was quiet)
    """

    table: pd.DataFrame
    reference: LatencyModel
    backend: str
    background_cores: float

    def worst_error_pct(self) -> float:
        """The largest relative error of the measured speed-up, ``abs(measured - expected) / expected``, in %."""
        return float(self.table["error_pct"].abs().max())


def measure_speedups(
    model,
    batches=(1, 4),
    cores=(1.0, 2.0),
    *,
    reference: LatencyModel | None = None,
    repeats: int = 5,
    warmup: int = 1,
    core_limit: str = "auto",
) -> SpeedupMeasurement:
    """Measure speed-ups on this machine under enforced core limits (chapter 04_biscale).

    One replica process serves every point (:func:`ssloserve.runtime.emu.profile.profile_model`:
    resized in place to each core count, the median of ``repeats`` batches per point).

    Parameters
    ----------
    model : a :class:`~ssloserve.latency.LatencyModel` (run as a *burn* replica calibrated to
        it), or anything :func:`~ssloserve.runtime.emu.profile.profile_model` takes (a torch
        variant name such as ``"resnet_tiny18"``, a ModelSpec, a Variant)
    batches, cores : the grid; ``cores`` must hold 1 (speed-ups are against one core) and
        at most this machine's cores
    reference : the model whose speed-ups to compare with; default: ``model`` itself when it
        is a LatencyModel, else the model fitted on these measurements
    repeats, warmup, core_limit : as for ``profile_model``

    Returns
    -------
    :class:`SpeedupMeasurement`
    """
    from ..runtime.emu.models import ModelSpec
    from ..runtime.emu.profile import profile_model
    from ..runtime.fidelity import background_cores

    cores = sorted({float(c) for c in cores})
    if cores[0] != 1.0:
        raise ValueError(f"cores must include 1 (speed-ups are against one core), got {cores}")
    spec = ModelSpec("burn", "burn", model.params) if isinstance(model, LatencyModel) else model
    if reference is None and isinstance(model, LatencyModel):
        reference = model
    prof, others = background_cores(
        lambda: profile_model(
            spec, batches, cores, repeats=repeats, warmup=warmup, core_limit=core_limit
        )
    )
    ref = prof.latency if reference is None else reference
    t = prof.table.copy()
    one = t[t["cores"] == 1.0].set_index("batch")["latency_ms"]
    t["speedup"] = one.reindex(t["batch"]).to_numpy() / t["latency_ms"].to_numpy()
    t["expected"] = np.asarray(ref.speedup(t["batch"].to_numpy(), t["cores"].to_numpy()))
    t["error_pct"] = 100.0 * (t["speedup"] / t["expected"] - 1.0)
    cols = ["batch", "cores", "latency_ms", "speedup", "expected", "error_pct"]
    return SpeedupMeasurement(t[cols], ref, prof.backend, float(others))
