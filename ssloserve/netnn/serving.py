"""The packet detector against an SLO: in the data plane, or on a CPU replica (chapter 05).

NetNN classifies every packet where it passes. The alternative the rest of the book
studies is to serve the same model on CPU replicas, one request per packet, against a
latency SLO. This module measures both sides on this machine:

- :func:`cpu_latency_table`: the model's latency l(b) on one core, measured for every
  batch size (a :class:`~ssloserve.latency_table.LatencyTable`);
- :func:`cheapest_config`: the fewest one-core replicas, and their batch size, that keep
  up with a packet rate within the SLO (FA2's problem for a single stage, with FA2's
  headroom and SLO margin);
- :func:`serve_on_cpu`: that configuration served by
  :func:`~ssloserve.runtime.api.run` (the simulator), per packet rate: cores, p50/p99
  latency, SLO violations;
- :func:`dataplane_latency`: the time one packet's inference takes in the reference
  executor (packet by packet, along the whole chain of switches) and the batched
  executor's packets per second.

The executor is a Python model of the switches: its times say what this model costs on
this machine, not what a hardware pipeline would take.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import torch

from ..errors import InfeasibleError
from ..latency_table import LatencyTable
from ..pipeline import Config, Pipeline, Stage, StageConfig, Variant
from ..runtime.api import run
from ..workloads import Workload
from .batched import execute_batched
from .executor import execute

__all__ = [
    "cpu_latency_table",
    "replica_pipeline",
    "cheapest_config",
    "serve_on_cpu",
    "dataplane_latency",
]

STAGE = "detect"


def _fastest_ms(fns, repeats: int) -> list[float]:
    """The fastest of ``repeats`` timed calls of each function, taken in turns so that a
    burst of load on a shared machine does not fall on one function's runs only."""
    best = [math.inf] * len(fns)
    for _ in range(repeats + 1):  # the first round warms up and is timed too
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return [1000.0 * t for t in best]


@torch.no_grad()
def cpu_latency_table(
    model: torch.nn.Module, x_u8: np.ndarray, max_batch: int = 32, repeats: int = 15
) -> LatencyTable:
    """Measure ``model``'s latency on one torch thread for every batch 1..``max_batch``.

    Parameters
    ----------
    model : a trained float model (:mod:`~ssloserve.netnn.models`)
    x_u8 : inputs as 8-bit codes, at least ``max_batch`` rows
    max_batch : largest batch measured
    repeats : timed runs per batch, the batch sizes in turns; the fastest is kept: the
        time on a core of its own (what a busy shared machine adds is not the model's)

    Returns
    -------
    A :class:`~ssloserve.latency_table.LatencyTable` with one core.

    Examples
    --------
    >>> from ssloserve.netnn.models import FlowMLP
    >>> x = np.zeros((4, 3), np.uint8)
    >>> t = cpu_latency_table(FlowMLP(3, (4,)), x, max_batch=4, repeats=2)
    >>> t.batches, t.cores
    ([1, 2, 3, 4], [1.0])
    """
    if len(x_u8) < max_batch:
        raise ValueError(f"need at least {max_batch} inputs, got {len(x_u8)}")
    x = torch.as_tensor(np.asarray(x_u8[:max_batch]), dtype=torch.float32) / 255.0
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model.eval()
    try:
        ms = _fastest_ms([lambda b=b: model(x[:b]) for b in range(1, max_batch + 1)], repeats)
    finally:
        torch.set_num_threads(threads)
    batches = list(range(1, max_batch + 1))
    return LatencyTable(batches, [1.0] * max_batch, ms, name=type(model).__name__)


def replica_pipeline(table: LatencyTable, accuracy: float = float("nan")) -> Pipeline:
    """One stage, ``detect``, whose only variant has the measured latency ``table``."""
    variant = Variant(table.name, accuracy, table, cores=1.0)
    return Pipeline.chain(Stage(STAGE, (variant,), max_batch=max(table.batches)))


def cheapest_config(
    table: LatencyTable,
    rate_rps: float,
    slo_ms: float,
    *,
    headroom: float = 1.2,
    slo_safety: float = 0.8,
) -> Config:
    """The fewest one-core replicas (then the lowest latency) that serve ``rate_rps``
    within ``slo_ms``.

    Batch ``b`` needs ``ceil(headroom * rate / h(b))`` replicas, ``h(b) = 1000 b / l(b)``,
    and is planned to take ``l(b) + 1000 (b - 1) / rate`` ms (the batch fills, then is
    served), which must stay within ``slo_safety * slo_ms``. The planned latency has no
    queueing in it; the two margins (FA2's defaults, chapter 1) leave room for it.

    Raises
    ------
    InfeasibleError
        When no batch size fits (``nearest_feasible`` is the smallest SLO that would).

    Examples
    --------
    >>> t = LatencyTable([1, 2, 3], [1, 1, 1], [1.0, 1.2, 1.4])
    >>> c = cheapest_config(t, 2000.0, 3.0)["detect"]
    >>> c.batch, c.replicas  # b = 1 needs 3 replicas; b = 2 and 3 need 2, b = 2 is faster
    (2, 2)
    >>> cheapest_config(t, 2000.0, 1.0)
    Traceback (most recent call last):
    ...
    ssloserve.errors.InfeasibleError: no batch size serves 2000/s within 0.8 x 1 ms (best 1.000 ms)
    """
    options = []
    for b in table.batches:
        lat = table.latency(b, 1.0)
        n = math.ceil(headroom * rate_rps * lat / (1000.0 * b) - 1e-9)
        options.append((max(n, 1), lat + 1000.0 * (b - 1) / rate_rps, b))
    budget = slo_safety * slo_ms
    fits = [o for o in options if o[1] <= budget]
    if not fits:
        best = min(o[1] for o in options)
        raise InfeasibleError(
            f"no batch size serves {rate_rps:g}/s within {slo_safety:g} x {slo_ms:g} ms "
            f"(best {best:.3f} ms)",
            constraint="slo_ms",
            nearest_feasible=best / slo_safety,
        )
    n, _, b = min(fits)
    return Config({STAGE: StageConfig(table.name, replicas=n, cores=1.0, batch=b)})


def serve_on_cpu(
    table: LatencyTable,
    rates_rps,
    slo_ms: float,
    duration_s: int = 2,
    seed: int = 0,
    **margins,
) -> pd.DataFrame:
    """Serve one request per packet on CPU replicas with :func:`~ssloserve.runtime.api.run`
    (the simulator).

    For each rate: :func:`cheapest_config` (``margins``: its ``headroom`` and
    ``slo_safety``), then a Poisson load at that rate for ``duration_s`` seconds, every
    request with the budget ``slo_ms``.

    Returns
    -------
    One row per rate: ``rate (packets/s)``, ``batch``, ``replicas`` (= cores),
    ``p50 ms``, ``p99 ms``, ``violations %``; the rate's row has NaN where no
    configuration fits the SLO.

    Examples
    --------
    >>> t = LatencyTable(range(1, 9), [1] * 8, [0.3 + 0.05 * b for b in range(1, 9)])
    >>> df = serve_on_cpu(t, [1000, 20000], slo_ms=1.0, duration_s=1)
    >>> df["replicas"].tolist()  # b = 5 at 20,000/s: ceil(1.2 x 20 x 0.55 / 5) = 3
    [1, 3]
    """
    pipe = replica_pipeline(table)
    rows = []
    for rate in rates_rps:
        row = {"rate (packets/s)": float(rate)}
        try:
            cfg = cheapest_config(table, float(rate), slo_ms, **margins)
        except InfeasibleError:
            rows.append(row)
            continue
        w = Workload.from_rates([float(rate)] * duration_s, seed=seed, slo_ms=slo_ms)
        s = run(pipe, w, cfg, progress=False).summary()
        row.update(
            {
                "batch": cfg[STAGE].batch,
                "replicas": cfg[STAGE].replicas,
                "p50 ms": s["p50_ms"],
                "p99 ms": s["p99_ms"],
                "violations %": s["violation_pct"],
            }
        )
        rows.append(row)
    cols = ["rate (packets/s)", "batch", "replicas", "p50 ms", "p99 ms", "violations %"]
    return pd.DataFrame(rows, columns=cols).astype({"batch": "Int64", "replicas": "Int64"})


def dataplane_latency(plan, qmodel, x_u8: np.ndarray, samples: int = 20) -> dict:
    """Per-packet inference time in the reference executor, and the batched throughput.

    Each of ``samples`` inputs goes alone through the whole chain of switches in the
    packet-by-packet executor (:func:`~ssloserve.netnn.executor.execute`): the wall
    time from its input frame to its logit. Then all ``x_u8`` go through the batched
    executor at once.

    Returns
    -------
    dict: ``switches`` on the path, ``frames per sample``, ``executor p50 ms`` and
    ``executor p99 ms`` per sample, ``batched packets/s`` and whether both executors'
    logits equal the integer model's (``equal to int8 model``).
    """
    x = np.asarray(x_u8, np.uint8)
    times, same, frames = [], True, 0
    for i in range(min(samples, len(x))):
        t0 = time.perf_counter()
        r = execute(plan, qmodel, x[i : i + 1])
        times.append(1000.0 * (time.perf_counter() - t0))
        same &= bool(np.array_equal(r.logits, qmodel.forward(x[i : i + 1])))
        frames = r.packets
    b = execute_batched(plan, qmodel, x)
    same &= bool(np.array_equal(b.logits, qmodel.forward(x)))
    return {
        "layers of switches": len(plan.layers),
        "frames per sample": frames,
        "executor p50 ms": float(np.median(times)),
        "executor p99 ms": float(np.percentile(times, 99)),
        "batched packets/s": b.packets_per_second,
        "equal to int8 model": same,
    }
