"""Service times in the simulator: the l(b, c) table of a replica and the noise around it.

Chapter: 00_tour. A replica of ``variant`` with ``cores`` serves a batch of ``k`` in
l(k, c) exactly (``service="deterministic"``), or l(k, c) times a mean-1 draw
(``"exponential"``, or ``"lognormal"`` with coefficient of variation ``service_cv``) from
its stage's own stream (:mod:`ssloserve.runtime.streams`), so one stage's draws do not
depend on the other stages nor on any stream the user draws with the same seed.
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import ProfileError
from ..options import RunOptions
from ..streams import SERVICE, run_stream

__all__ = ["service_table", "noise_source", "CHUNK"]

#: Draws (and arrivals) converted to Python floats at a time.
CHUNK = 1 << 16


def service_table(stage, variant: str, cores: float, bmax: int) -> list:
    """Service seconds by batch size ``1..bmax`` (index 0 unused) of ``variant`` of ``stage``.

    Examples
    --------
    >>> from ssloserve.pipeline import Stage, Variant
    >>> from ssloserve.latency import LatencyModel
    >>> st = Stage("a", (Variant("x", 0.9, LatencyModel(0, 5.0, 0, 10.0)),))
    >>> [round(x, 4) for x in service_table(st, "x", 1.0, 3)]
    [0.0, 0.015, 0.02, 0.025]
    """
    v = stage.variant(variant)
    ks = np.arange(1, bmax + 1)
    lat = np.asarray(v.latency.latency(ks, cores), dtype=float).reshape(-1)
    if lat.shape != ks.shape:
        lat = np.array([float(v.latency.latency(int(k), cores)) for k in ks])
    if not (np.isfinite(lat).all() and (lat > 0).all()):
        k = int(ks[~(np.isfinite(lat) & (lat > 0))][0])
        raise ProfileError(
            f"stage {stage.name!r}, variant {variant!r}: latency l(b={k}, c={cores:g}) = "
            f"{float(lat[k - 1])!r} ms is not a positive number"
        )
    return [0.0] + (lat / 1000.0).tolist()


def noise_source(opts: RunOptions, k: int):
    """Multiplicative service-time noise (mean 1) for stage ``k``: a function that returns
    the next :data:`CHUNK` draws, or None for deterministic service.

    Examples
    --------
    >>> draw = noise_source(RunOptions(service="exponential", seed=3), 0)
    >>> x = draw(); len(x), 0.95 < sum(x) / len(x) < 1.05
    (65536, True)
    >>> noise_source(RunOptions(), 0) is None
    True
    """
    if opts.service == "deterministic":
        return None
    rng = run_stream(opts.seed, SERVICE, k)
    if opts.service == "exponential":
        return lambda: rng.exponential(1.0, CHUNK).tolist()
    sig = math.sqrt(math.log1p(opts.service_cv**2))
    return lambda: rng.lognormal(-sig * sig / 2.0, sig, CHUNK).tolist()
