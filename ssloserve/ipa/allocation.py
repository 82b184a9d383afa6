"""IPA's base allocation: the cores each replica of a variant gets (PAPERS.md 3; chapter 03_ipa).

IPA scales horizontally only, so every replica of a variant has a fixed core count R(m). It
is the smallest profiled core count at which *some* batch size meets the task's share of the
SLA while one replica serves at least a threshold rate (4 RPS for the video pipeline), and a
more accurate variant never gets fewer cores than a less accurate one (bigger models are not
cheaper to run).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from ..errors import InfeasibleError
from ..latency import throughput_rps

__all__ = ["DEFAULT_CORES", "base_allocation", "with_cores"]

#: Core counts tried for a variant whose latency is a model rather than a measured table.
DEFAULT_CORES = (1, 2, 4, 8, 16)


def base_allocation(
    variants: Sequence,
    latency_share_ms: float,
    min_throughput_rps: float = 4.0,
    cores: Sequence[float] | None = None,
    batches: Sequence[int] = (1, 2, 4, 8),
) -> dict[str, float]:
    """R(m) for every variant of one task (PAPERS.md 3; chapter 03_ipa).

    Parameters
    ----------
    variants : the task's :class:`~ssloserve.pipeline.Variant` objects (any order); their
        ``latency`` gives l(b, c)
    latency_share_ms : the task's share of the SLA (ms) that one batch may take
    min_throughput_rps : the least a replica must serve, h(b, c) = 1000 b / l(b, c)
    cores : core counts to try (default: a :class:`~ssloserve.latency_table.LatencyTable`'s
        measured ones, else :data:`DEFAULT_CORES`)
    batches : batch sizes to try

    Returns
    -------
    dict variant name -> cores per replica, non-decreasing in accuracy.

    Raises
    ------
    InfeasibleError
        When a variant meets the share and the threshold at no core count tried;
        ``nearest_feasible`` is the smallest share that would do (``constraint`` is
        ``"latency_share_ms"``), or the highest rate it reaches when no configuration reaches
        the threshold (``constraint`` is ``"min_throughput_rps"``).

    Examples
    --------
    >>> from ssloserve.catalog import video_variants
    >>> det, cls = video_variants(source="fallback")
    >>> base_allocation(cls, latency_share_ms=300)
    {'resnet18': 1, 'resnet34': 1, 'resnet50': 1, 'resnet101': 2, 'resnet152': 2}

    By hand for ResNet101 (3.7 x ResNet18's model): on 1 core batch 1 takes 261 ms but serves
    only 3.8 RPS, and batch 2 takes 397 ms, over the share; on 2 cores batch 1 takes 161 ms
    and serves 6.2 RPS.
    """
    if not latency_share_ms > 0:
        raise ValueError(f"latency_share_ms must be positive, got {latency_share_ms!r}")
    out: dict[str, float] = {}
    floor = 0.0
    for v in sorted(variants, key=lambda v: v.accuracy):
        cs = cores if cores is not None else (getattr(v.latency, "cores", None) or DEFAULT_CORES)
        chosen = None
        for c in sorted(cs):
            for b in batches:
                l_ms = float(v.latency.latency(b, c))
                if l_ms <= latency_share_ms and throughput_rps(b, l_ms) >= min_throughput_rps:
                    chosen = c
                    break
            if chosen is not None:
                break
        if chosen is None:
            grid = [(float(v.latency.latency(b, c)), b) for c in cs for b in batches]
            fast = [ms for ms, b in grid if throughput_rps(b, ms) >= min_throughput_rps]
            if fast:
                raise InfeasibleError(
                    f"variant {v.name!r}: no batch in {list(batches)} on {list(cs)} cores serves "
                    f"{min_throughput_rps:g} RPS within {latency_share_ms:g} ms; the smallest "
                    f"share that does is {min(fast):.6g} ms",
                    constraint="latency_share_ms",
                    nearest_feasible=min(fast),
                )
            top = max(throughput_rps(b, ms) for ms, b in grid)
            raise InfeasibleError(
                f"variant {v.name!r} serves at most {top:.6g} RPS per replica, below "
                f"{min_throughput_rps:g}",
                constraint="min_throughput_rps",
                nearest_feasible=top,
            )
        chosen = max(chosen, floor)
        floor = chosen
        out[v.name] = int(chosen) if float(chosen).is_integer() else float(chosen)
    return {v.name: out[v.name] for v in variants}


def with_cores(variants: Sequence, allocation: dict[str, float]) -> list:
    """The variants with their ``cores`` set to the allocation (``dataclasses.replace``).

    Examples
    --------
    >>> from ssloserve.catalog import video_variants
    >>> _, cls = video_variants(source="fallback")
    >>> [v.cores for v in with_cores(cls, base_allocation(cls, 300))]
    [1, 1, 1, 2, 2]
    """
    out = []
    for v in variants:
        c = allocation[v.name]
        if not (c > 0 and math.isfinite(c)):
            raise ValueError(f"{v.name}: cores must be positive, got {c!r}")
        out.append(dataclasses.replace(v, cores=c))
    return out
