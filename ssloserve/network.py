"""Dynamic SLOs from the network: bandwidth logs and the budget they leave (PAPERS.md 0.4).

Chapter: 02_sponge. A mobile client uploads a payload of S bytes over a link whose
bandwidth changes every second; :func:`remaining_budget` is what is left of the SLO for
serving, ``SLO - S / bandwidth``.

- bandwidth logs: :func:`belgium_4g` (Sponge's), :func:`norway_traces` / :func:`norway_trace`,
  :func:`fivegophers_throughput`; :func:`bandwidth_per_second` resamples one;
- :func:`sponge_dynamic_slas`: Sponge's published per-second budgets;
- :func:`synthetic_bandwidth` (statistics :data:`BELGIUM_STATS`) for a machine without the
  logs, and :func:`bandwidth_series`, which picks one and says which.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .data import data_path, read_table
from .errors import TraceFormatError

__all__ = [
    "BELGIUM",
    "NORWAY",
    "FIVEGOPHERS",
    "SPONGE_SLAS",
    "belgium_4g",
    "norway_traces",
    "norway_trace",
    "fivegophers_throughput",
    "bandwidth_per_second",
    "remaining_budget",
    "sponge_dynamic_slas",
    "BELGIUM_STATS",
    "synthetic_bandwidth",
    "bandwidth_series",
]

BELGIUM = "network/belgium_4g_report_bus_0001.log"
NORWAY = "network/norway_hsdpa_cooked"
FIVEGOPHERS = "network/5gophers/throughput_per_second.csv"
SPONGE_SLAS = "network/sponge_dynamic_slas.csv"


def _numeric_table(
    path, names: tuple[str, ...], *, positive=(), nonnegative=(), increasing=None
) -> np.ndarray:
    """Parse a whitespace-separated numeric table with columns ``names``; errors name the
    file and line. Columns in ``positive`` must be > 0, in ``nonnegative`` >= 0, and the
    column ``increasing`` must never go down from one row to the next."""
    path = Path(path)
    ncols = len(names)
    rows: list[list[float]] = []
    with open(path) as f:
        for i, line in enumerate(f, start=1):
            if not line.strip():
                continue
            toks = line.split()
            if len(toks) < ncols:
                raise TraceFormatError(
                    f"expected {ncols} columns, found {len(toks)}", path=path, line=i
                )
            try:
                row = [float(t) for t in toks[:ncols]]
            except ValueError:
                raise TraceFormatError(
                    f"non-numeric value in {line.strip()[:60]!r}", path=path, line=i
                ) from None
            for c in positive:
                if not row[names.index(c)] > 0:
                    raise TraceFormatError(f"{c} must be positive", path=path, line=i)
            for c in nonnegative:
                if not row[names.index(c)] >= 0:
                    raise TraceFormatError(f"{c} must not be negative", path=path, line=i)
            if increasing is not None and rows:
                k = names.index(increasing)
                if row[k] < rows[-1][k]:
                    raise TraceFormatError(
                        f"{increasing} goes back from {rows[-1][k]:g} to {row[k]:g}",
                        path=path,
                        line=i,
                    )
            rows.append(row)
    if not rows:
        raise TraceFormatError("no data rows (empty file)", path=path)
    return np.array(rows)


def belgium_4g(path=None) -> pd.DataFrame:
    """The Belgium 4G bus log that Sponge uses (PAPERS.md 0.4), with bandwidth in bytes/s.

    Columns ``unix_ms, elapsed_ms, lat, lon, bytes_received, interval_ms`` as in the file
    and ``bandwidth_Bps = bytes_received / interval_ms * 1000``. 607 rows, about one a second.

    Examples
    --------
    >>> from ssloserve.data import require_data
    >>> require_data(BELGIUM)
    >>> d = belgium_4g(); print(len(d), round(d.bandwidth_Bps.min() / 1e6, 2))
    607 0.43
    """
    p = Path(path) if path is not None else data_path(BELGIUM)
    names = ("unix_ms", "elapsed_ms", "lat", "lon", "bytes_received", "interval_ms")
    a = _numeric_table(p, names, positive=("interval_ms",), nonnegative=("bytes_received",))
    d = pd.DataFrame(a, columns=list(names))
    d["bandwidth_Bps"] = d.bytes_received / d.interval_ms * 1000.0
    return d


def norway_traces(folder=None) -> list[str]:
    """Names of the 80 Norway 3G/HSDPA cooked traces (``norway_bus_1``, ...).

    Examples
    --------
    >>> from ssloserve.data import require_data
    >>> require_data(NORWAY)
    >>> len(norway_traces())
    80
    """
    f = Path(folder) if folder is not None else data_path(NORWAY)
    return sorted(p.name for p in f.iterdir() if p.is_file() and not p.name.endswith(".md"))


def norway_trace(name: str = "norway_bus_1", folder=None) -> pd.DataFrame:
    """One Norway cooked trace: columns ``time_s``, ``throughput_mbps``, ``bandwidth_Bps``.

    Examples
    --------
    >>> from ssloserve.data import require_data
    >>> require_data(NORWAY)
    >>> d = norway_trace("norway_bus_1"); print(list(d.columns))
    ['time_s', 'throughput_mbps', 'bandwidth_Bps']
    """
    f = Path(folder) if folder is not None else data_path(NORWAY)
    names = ("time_s", "throughput_mbps")
    a = _numeric_table(f / name, names, nonnegative=names, increasing="time_s")
    d = pd.DataFrame(a, columns=list(names))
    d["bandwidth_Bps"] = d.throughput_mbps * 1e6 / 8.0
    return d


def fivegophers_throughput(path=None, carrier: str | None = None) -> pd.DataFrame:
    """The 5Gophers per-second 5G throughput table, with ``bandwidth_Bps`` added.

    Parameters
    ----------
    path : the CSV (default ``$SSLOSERVE_DATA/network/5gophers/throughput_per_second.csv``)
    carrier : keep only ``"SPRINT"``, ``"TMOBILE"`` or ``"VERIZON"``

    Examples
    --------
    >>> from ssloserve.data import require_data
    >>> require_data(FIVEGOPHERS)
    >>> print(len(fivegophers_throughput()))
    7257
    """
    p = Path(path) if path is not None else data_path(FIVEGOPHERS)
    cols = [
        "protocol",
        "carrier",
        "num_tcp_conn",
        "server_location",
        "run_num",
        "seq_num",
        "throughput_mbps",
    ]
    d = read_table(p, numeric=cols[-1:], text=cols[:-1], required=cols[-1:])
    if carrier is not None:
        d = d[d.carrier == carrier.upper()].reset_index(drop=True)
    d["bandwidth_Bps"] = d.throughput_mbps * 1e6 / 8.0
    return d


def bandwidth_per_second(time_s, bandwidth_Bps, duration_s: int | None = None) -> np.ndarray:
    """Resample an irregular bandwidth series to one value per whole second (last value held).

    Examples
    --------
    >>> bandwidth_per_second([0.0, 0.6, 2.1], [10.0, 20.0, 30.0]).tolist()
    [20.0, 20.0, 30.0]
    """
    t = np.asarray(time_s, dtype=float)
    bw = np.asarray(bandwidth_Bps, dtype=float)
    n = int(np.floor(t.max())) + 1 if duration_s is None else int(duration_s)
    grid = np.arange(n) + 1.0  # value known at the end of second i
    idx = np.searchsorted(t, grid, side="left") - 1
    return bw[np.clip(idx, 0, len(bw) - 1)]


def remaining_budget(
    bandwidth_Bps, payload_bytes, slo_ms: float = 1000.0, min_ms: float = 0.0
) -> np.ndarray:
    """Time left for serving after the upload: ``SLO - S / bandwidth`` (ms, PAPERS.md 0.4).

    Budgets below ``min_ms`` (uploads slower than the SLO) are raised to it: 0 by default,
    as in Sponge's table (its 500 KB row has zeros). A runtime that wants every request to
    have a positive budget can pass e.g. ``min_ms=1.0``; such requests miss their SLO anyway.
    Sponge's "200 KB" is 200 * 1024 bytes: with that, this function reproduces
    ``network/sponge_dynamic_slas.csv`` from the first 600 rows of the Belgium log: never
    below it and at most 2.04 ms above it (the table cuts seconds to 3 decimals).

    Parameters
    ----------
    bandwidth_Bps : bytes per second, positive (scalar or array, e.g. one per second)
    payload_bytes : request payload in bytes (scalar or array)
    slo_ms : end-to-end SLO
    min_ms : the smallest budget returned

    Returns
    -------
    Remaining budget in ms, same shape as the broadcast inputs.

    Examples
    --------
    >>> remaining_budget([1_000_000.0, 200_000.0], 100_000, slo_ms=1000.0).tolist()
    [900.0, 500.0]
    """
    bw = np.asarray(bandwidth_Bps, dtype=float)
    if (bw <= 0).any() or not np.isfinite(bw).all():
        raise ValueError("bandwidth must be positive and finite")
    out = slo_ms - 1000.0 * np.asarray(payload_bytes, dtype=float) / bw
    return np.maximum(out, float(min_ms))


def sponge_dynamic_slas(path=None) -> dict[int, np.ndarray]:
    """Sponge's published per-second budgets, in ms, keyed by payload size in KB (100/200/500).

    Examples
    --------
    >>> from ssloserve.data import require_data
    >>> require_data(SPONGE_SLAS)
    >>> s = sponge_dynamic_slas(); print(sorted(s), len(s[200]))
    [100, 200, 500] 600
    """
    p = Path(path) if path is not None else data_path(SPONGE_SLAS)
    out = {}
    with open(p) as f:
        lines = f.read().splitlines()
    if not lines:
        raise TraceFormatError("empty file", path=p)
    for i, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        toks = line.split(",")
        try:
            out[int(toks[0])] = np.array([float(t) for t in toks[1:]]) * 1000.0
        except ValueError:
            raise TraceFormatError("non-numeric value", path=p, line=i) from None
    return out


#: Statistics of the Belgium 4G log's per-second bandwidth (measured with
#: :func:`belgium_4g`; the test re-measures them): bytes/s range, and mean, standard
#: deviation and lag-1 autocorrelation of its natural log.
BELGIUM_STATS: dict[str, float] = {
    "min_Bps": 432_002.0,
    "max_Bps": 6_998_871.0,
    "log_mean": 14.971,
    "log_sd": 0.435,
    "log_ac1": 0.738,
}


def synthetic_bandwidth(duration_s: int = 600, seed: int = 0) -> np.ndarray:
    """A seeded stand-in for the Belgium 4G bandwidth log, in bytes/s (no data needed).

    An AR(1) process in log-bandwidth with the log's mean, spread and lag-1 autocorrelation
    (:data:`BELGIUM_STATS`), clipped to the log's range. How close (tests, seeds 0-4): mean
    bandwidth within 10 %, lag-1 autocorrelation of the log within 0.1, and the mean upload
    time of 200 KB within 15 % of the real 72 ms. It lacks the real log's rare deep fades
    (the log of the real series is skewed left), so its worst upload is shorter.

    Examples
    --------
    >>> bw = synthetic_bandwidth(600, seed=1)
    >>> len(bw), bool(bw.min() >= 432_002.0)
    (600, True)
    """
    st = BELGIUM_STATS
    rng = np.random.default_rng(seed)
    phi, sd = st["log_ac1"], st["log_sd"]
    eps = rng.normal(0.0, sd * np.sqrt(1 - phi * phi), size=duration_s)
    z = np.empty(duration_s)
    z[0] = rng.normal(0.0, sd)
    for i in range(1, duration_s):
        z[i] = phi * z[i - 1] + eps[i]
    return np.clip(np.exp(st["log_mean"] + z), st["min_Bps"], st["max_Bps"])


def bandwidth_series(source: str = "auto", seed: int = 0, duration_s: int = 600):
    """Per-second upload bandwidth (bytes/s) for dynamic SLOs, and which source it is.

    Parameters
    ----------
    source : ``"auto"`` (Belgium log when present, else synthetic), ``"belgium"`` or
        ``"synthetic"``
    seed : seed of the synthetic generator
    duration_s : seconds wanted (the Belgium log has 607; it is repeated when shorter)

    Returns
    -------
    ``(bandwidth_Bps, source)`` with source ``"belgium"`` or ``"synthetic"``.

    Examples
    --------
    >>> bw, src = bandwidth_series("synthetic", duration_s=10)
    >>> len(bw), src
    (10, 'synthetic')
    """
    from .data import has_data

    if source not in ("auto", "belgium", "synthetic"):
        raise ValueError(f"source must be 'auto', 'belgium' or 'synthetic', got {source!r}")
    if source == "belgium" or (source == "auto" and has_data(BELGIUM)):
        bw = belgium_4g().bandwidth_Bps.to_numpy()
        return np.resize(bw, duration_s), "belgium"
    return synthetic_bandwidth(duration_s, seed=seed), "synthetic"
