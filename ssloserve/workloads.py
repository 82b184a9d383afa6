"""Workloads: request-rate traces, named load patterns, arrivals and dynamic SLOs (PAPERS.md 0.3, 0.4).

Chapters: 00_tour introduces the Twitter trace and arrivals; 02_sponge the dynamic SLOs;
03_ipa the four 20-minute load patterns.

The runtime consumes a :class:`Workload`: one arrival time (s), one remaining budget (ms)
and one payload size (bytes) per request, built from a per-second rate series by
:func:`arrivals`.
"""

from __future__ import annotations

import functools
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .data import data_path, read_table
from .errors import TraceFormatError

__all__ = [
    "Workload",
    "arrivals",
    "read_counts",
    "twitter_trace",
    "SEGMENTS",
    "SEGMENT_STATS",
    "Segment",
    "ipa_segment",
    "synthetic_segment",
    "segment",
    "step_load",
    "rate_stats",
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

TWITTER = "workload/twitter_workload_per_second.tbz2"
BELGIUM = "network/belgium_4g_report_bus_0001.log"
NORWAY = "network/norway_hsdpa_cooked"
FIVEGOPHERS = "network/5gophers/throughput_per_second.csv"
SPONGE_SLAS = "network/sponge_dynamic_slas.csv"


def _as_rates(rates, *, what: str = "rates") -> np.ndarray:
    """Validate a per-second rate series (finite, non-negative) and return it as floats."""
    r = np.asarray(rates, dtype=float).ravel()
    bad = ~np.isfinite(r)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise TraceFormatError(f"{what}: value at second {i} is not finite ({r[i]!r})", line=None)
    if (r < 0).any():
        i = int(np.flatnonzero(r < 0)[0])
        raise TraceFormatError(f"{what}: negative rate {r[i]!r} at second {i}")
    return r


def _counts(rates: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Integer request counts per second: integral rates as they are, fractional ones
    rounded up with probability equal to their fractional part (keeps the mean)."""
    base = np.floor(rates)
    frac = rates - base
    if frac.any():
        base = base + (rng.random(len(rates)) < frac)
    return base.astype(np.int64)


def arrivals(rates, seed: int = 0) -> np.ndarray:
    """Request timestamps (s) for a per-second rate series, seeded (PAPERS.md 0.3).

    Second ``i`` receives ``r_i`` requests in ``[i, i + 1)``. Like the papers' load
    generator they are Poisson points within the second: given their number, Poisson
    points are independent uniform times, i.e. exponential gaps conditioned to fit in the
    second. A fractional rate ``r`` gives ``floor(r)`` or ``ceil(r)`` requests, the latter
    with probability ``r - floor(r)`` (so the mean count is ``r``).

    Parameters
    ----------
    rates : requests per second, one value per second, non-negative
    seed : seed of the random generator; the same seed gives the same times

    Returns
    -------
    Sorted float array of arrival times in seconds, ``len == sum(rates)`` for integer rates.

    Raises
    ------
    TraceFormatError : a rate is negative or not finite

    Examples
    --------
    >>> t = arrivals([2, 0, 3], seed=1)
    >>> len(t), bool((t[:2] < 1).all()), bool((t[2:] >= 2).all())
    (5, True, True)
    >>> bool(np.all(np.diff(t) >= 0))
    True
    >>> np.array_equal(arrivals([2, 0, 3], seed=1), t)
    True
    """
    r = _as_rates(rates)
    rng = np.random.default_rng(seed)
    n = _counts(r, rng)
    second = np.repeat(np.arange(len(r), dtype=float), n)
    t = second + rng.random(int(n.sum()))
    t.sort()
    return t


@dataclass(frozen=True, eq=False)
class Workload:
    """Requests to serve: arrival time, remaining SLO budget and payload of each request.

    Parameters
    ----------
    arrival_s : sorted arrival times in seconds
    budget_ms : per-request time left for serving (ms); the deadline is
        ``arrival_s + budget_ms / 1000``
    payload_bytes : per-request payload size in bytes (0 when it does not matter)
    name : a label, e.g. ``"bursty"``
    source : where the rates came from, e.g. ``"twitter"`` or ``"synthetic"``

    Examples
    --------
    >>> w = Workload.from_rates([3, 1], seed=0, slo_ms=500.0)
    >>> len(w), w.duration_s, w.budget_ms.tolist()
    (4, 2.0, [500.0, 500.0, 500.0, 500.0])
    >>> w.rates().tolist()
    [3, 1]
    >>> w2 = Workload.from_rates([1, 1], seed=0, budget_ms=[900.0, 700.0], payload_bytes=200_000)
    >>> w2.budget_ms.tolist(), int(w2.payload_bytes[0])
    ([900.0, 700.0], 200000)
    """

    arrival_s: np.ndarray
    budget_ms: np.ndarray
    payload_bytes: np.ndarray
    name: str = ""
    source: str = ""
    duration_s: float = field(default=float("nan"))

    def __post_init__(self):
        a = np.asarray(self.arrival_s, dtype=float).ravel()
        n = len(a)
        b = np.broadcast_to(np.asarray(self.budget_ms, dtype=float), (n,)).copy()
        p = np.broadcast_to(np.asarray(self.payload_bytes, dtype=np.int64), (n,)).copy()
        if n and (np.diff(a) < 0).any():
            raise ValueError("arrival_s must be sorted")
        for arr in (a, b, p):
            arr.setflags(write=False)
        object.__setattr__(self, "arrival_s", a)
        object.__setattr__(self, "budget_ms", b)
        object.__setattr__(self, "payload_bytes", p)
        d = float(self.duration_s)
        if not np.isfinite(d):
            d = float(np.floor(a[-1]) + 1.0) if n else 0.0
        object.__setattr__(self, "duration_s", d)

    def __len__(self) -> int:
        return len(self.arrival_s)

    @property
    def deadline_s(self) -> np.ndarray:
        """Absolute deadline of each request: arrival + budget."""
        return self.arrival_s + self.budget_ms / 1000.0

    def rates(self) -> np.ndarray:
        """Requests per second, one count per whole second of ``duration_s``."""
        n_s = int(np.ceil(self.duration_s))
        idx = np.floor(self.arrival_s).astype(np.int64)
        return np.bincount(idx, minlength=n_s)[: max(n_s, 0)]

    @classmethod
    def from_rates(
        cls,
        rates,
        seed: int = 0,
        slo_ms: float = 1000.0,
        budget_ms=None,
        payload_bytes=0,
        name: str = "",
        source: str = "",
    ) -> Workload:
        """Build a workload from a per-second rate series with :func:`arrivals`.

        Parameters
        ----------
        rates : requests per second, one value per second
        seed : seed for the arrival times
        slo_ms : every request's budget when ``budget_ms`` is None
        budget_ms : None, a number, or an array with one budget per second (each request
            gets its second's budget, e.g. from :func:`remaining_budget`); when shorter
            than ``rates`` it is repeated cyclically
        payload_bytes : a number, or an array with one size per second (cycled likewise)
        name, source : labels

        Returns
        -------
        Workload
        """
        r = _as_rates(rates)
        t = arrivals(r, seed=seed)
        sec = np.floor(t).astype(np.int64)

        def per_second(x, default):
            if x is None:
                return np.full(len(t), default, dtype=float)
            x = np.asarray(x, dtype=float)
            if x.ndim == 0:
                return np.full(len(t), float(x))
            if len(x) == 0:
                raise ValueError("per-second array is empty")
            return x[sec % len(x)]

        b = per_second(budget_ms, slo_ms)
        p = per_second(payload_bytes, 0).astype(np.int64)
        return cls(t, b, p, name=name, source=source, duration_s=float(len(r)))


# --------------------------------------------------------------------------- traces


def _bad_token(text: str, path) -> TraceFormatError:
    """Locate the first token of ``text`` that is not a non-negative integer."""
    for i, line in enumerate(text.splitlines(), start=1):
        for tok in line.split():
            try:
                v = int(tok)
            except ValueError:
                return TraceFormatError(f"not an integer count: {tok[:40]!r}", path=path, line=i)
            if v < 0:
                return TraceFormatError(f"negative count {v}", path=path, line=i)
    return TraceFormatError("unreadable counts", path=path)


def read_counts(path) -> np.ndarray:
    """Read whitespace-separated per-second counts from a text file or a bzip2 tar of one.

    Parameters
    ----------
    path : a plain text file, or a ``.tbz2`` / ``.tar.bz2`` archive whose first member is one

    Returns
    -------
    int64 array, one count per second.

    Raises
    ------
    TraceFormatError : the file is empty, or a token is not a non-negative integer
        (the message names the file and the line)

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); f = os.path.join(d, "w.txt")
    >>> _ = open(f, "w").write("3 4\\n5 x\\n")
    >>> read_counts(f)
    Traceback (most recent call last):
    ...
    ssloserve.errors.TraceFormatError: ...w.txt, line 2: not an integer count: 'x'
    """
    path = Path(path)
    if tarfile.is_tarfile(path):
        with tarfile.open(path, "r:*") as tf:
            members = [m for m in tf.getmembers() if m.isfile()]
            if not members:
                raise TraceFormatError("archive holds no file", path=path)
            raw = tf.extractfile(members[0]).read()
        where = f"{path}[{members[0].name}]"
    else:
        raw = path.read_bytes()
        where = str(path)
    try:
        out = np.array(raw.split(), dtype=np.int64)
    except ValueError:
        raise _bad_token(raw.decode("utf-8", "replace"), where) from None
    if out.size == 0:
        raise TraceFormatError("no counts (empty file)", path=where)
    if (out < 0).any():
        raise _bad_token(raw.decode("utf-8", "replace"), where)
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=4)
def _cached_counts(path: str, mtime: float) -> np.ndarray:
    return read_counts(path)


def twitter_trace(path=None) -> np.ndarray:
    """The Twitter per-second request counts (about 22 days; PAPERS.md 0.3), cached.

    Parameters
    ----------
    path : the ``.tbz2`` archive or a plain text file; default
        ``$SSLOSERVE_DATA/workload/twitter_workload_per_second.tbz2``

    Returns
    -------
    Read-only int64 array of 1,899,061 counts (min 0, max 388, mean 63.6). The first call
    decompresses the archive (about 3 s); later calls return the cached array.

    Raises
    ------
    DataNotFoundError : no data folder holds the trace (names its public source)

    Examples
    --------
    >>> from ssloserve.data import has_data
    >>> if has_data(TWITTER):
    ...     t = twitter_trace(); print(len(t), int(t.max()), round(float(t.mean()), 1))
    ... else:
    ...     print(1899061, 388, 63.6)
    1899061 388 63.6
    """
    p = Path(path) if path is not None else data_path(TWITTER)
    return _cached_counts(str(p.resolve()), p.stat().st_mtime)


# --------------------------------------------------------------------------- segments

#: IPA's four 20-minute patterns: (start, end) index ranges into the Twitter trace,
#: concatenated in order (PAPERS.md 0.3).
SEGMENTS: dict[str, tuple[tuple[int, int], ...]] = {
    "bursty": ((1301160, 1302360),),
    "steady_low": ((1299600, 1300800),),
    "steady_high": ((1768800, 1769400), (1768800, 1769400)),
    "fluctuating": ((1301400, 1302000), (1308600, 1309200)),
}

#: Statistics of the real segments at damping 8 (measured with :func:`rate_stats` on the
#: Twitter trace; min / max / mean are PAPERS.md 0.3's table). The synthetic generators
#: aim at these; ``tests/test_workloads.py`` re-measures them on the real trace.
SEGMENT_STATS: dict[str, dict[str, float]] = {
    "bursty": {"min": 3, "max": 34, "mean": 12.03, "cv": 0.777, "ac1": 0.979},
    "steady_low": {"min": 3, "max": 8, "mean": 5.06, "cv": 0.187, "ac1": 0.056},
    "steady_high": {"min": 23, "max": 34, "mean": 28.84, "cv": 0.067, "ac1": -0.010},
    "fluctuating": {"min": 3, "max": 34, "mean": 16.53, "cv": 0.566, "ac1": 0.970},
}


def rate_stats(rates) -> dict[str, float]:
    """min, max, mean, coefficient of variation and lag-1 autocorrelation of a rate series.

    Examples
    --------
    >>> s = rate_stats([1, 2, 3, 4])
    >>> s["min"], s["max"], s["mean"], round(s["ac1"], 2)
    (1.0, 4.0, 2.5, 0.25)
    """
    x = np.asarray(rates, dtype=float)
    d = x - x.mean()
    denom = float((d * d).sum())
    ac1 = float((d[:-1] * d[1:]).sum() / denom) if denom > 0 else 0.0
    mean = float(x.mean())
    return {
        "min": float(x.min()),
        "max": float(x.max()),
        "mean": mean,
        "cv": float(x.std() / mean) if mean else 0.0,
        "ac1": ac1,
    }


def _check_name(name: str) -> None:
    if name not in SEGMENTS:
        raise KeyError(f"unknown segment {name!r}; the segments are {list(SEGMENTS)}")


def ipa_segment(name: str, damping: int = 8, trace=None) -> np.ndarray:
    """One of IPA's four named 20-minute load patterns, from the real trace (PAPERS.md 0.3).

    Parameters
    ----------
    name : ``"bursty"``, ``"steady_low"``, ``"steady_high"`` or ``"fluctuating"``
    damping : the damping factor; each count becomes ``int(x / damping)``
    trace : the per-second counts (default :func:`twitter_trace`)

    Returns
    -------
    int64 array of 1200 per-second rates.

    Examples
    --------
    >>> from ssloserve.data import has_data
    >>> if has_data(TWITTER):
    ...     s = ipa_segment("bursty"); print(len(s), s.min(), s.max(), round(s.mean(), 1))
    ... else:
    ...     print(1200, 3, 34, 12.0)
    1200 3 34 12.0
    """
    _check_name(name)
    if damping < 1:
        raise ValueError(f"damping must be >= 1, got {damping}")
    t = twitter_trace() if trace is None else np.asarray(trace)
    parts = [np.asarray(t[a:b], dtype=np.int64) for a, b in SEGMENTS[name]]
    return np.concatenate(parts) // int(damping)


#: Shape of each synthetic pattern: knots (time_s, level_rps) of the real segment's
#: minute-mean profile (read off the real segments), linearly interpolated.
_KNOTS: dict[str, tuple[tuple[float, float], ...]] = {
    "steady_low": ((0, 5.06), (1200, 5.06)),
    "steady_high": ((0, 28.84), (1200, 28.84)),
    "bursty": (
        (0, 5.0),
        (330, 5.1),
        (380, 14.0),
        (420, 27.2),
        (600, 27.0),
        (700, 25.0),
        (750, 17.0),
        (800, 12.0),
        (860, 6.0),
        (1200, 5.5),
    ),
    "fluctuating": (
        (0, 5.0),
        (60, 5.5),
        (120, 8.0),
        (170, 27.0),
        (450, 25.5),
        (500, 15.0),
        (550, 8.0),
        (600, 6.6),
        (700, 7.2),
        (750, 12.0),
        (790, 27.5),
        (880, 27.3),
        (930, 21.0),
        (980, 12.5),
        (1030, 7.0),
        (1200, 6.6),
    ),
}


def _noise_sd(level: np.ndarray) -> np.ndarray:
    # within-pattern noise grows with the level: 0.94 rps at 5 rps (steady_low) and
    # 1.92 rps at 28.8 rps (steady_high), the two real steady segments
    return 0.74 + 0.041 * level


def synthetic_segment(name: str, seed: int = 0, duration_s: int = 1200) -> np.ndarray:
    """A seeded synthetic stand-in for one of IPA's four load patterns (no data needed).

    The level follows the real segment's minute-mean profile (knots in ``_KNOTS``), with
    the burst times jittered by up to +-30 s and the levels by up to +-4 % per seed; each
    second adds Gaussian noise whose spread grows with the level as in the two real steady
    segments; values are rounded and clipped to the real segment's [min, max].

    How close (checked over seeds 0-9 in ``tests/test_workloads.py``): min and max within
    1 and 4 RPS of :data:`SEGMENT_STATS`, mean within 8 %, coefficient of variation within
    0.05 + 20 %, lag-1 autocorrelation within 0.1.

    Parameters
    ----------
    name : one of :data:`SEGMENTS`
    seed : random seed
    duration_s : length; the profile is stretched to it

    Returns
    -------
    int64 array of per-second rates.

    Examples
    --------
    >>> s = synthetic_segment("steady_high", seed=3)
    >>> len(s), bool(23 <= s.min() and s.max() <= 34), bool(abs(s.mean() - 28.84) < 1)
    (1200, True, True)
    >>> np.array_equal(s, synthetic_segment("steady_high", seed=3))
    True
    """
    _check_name(name)
    rng = np.random.default_rng(seed)
    knots = np.array(_KNOTS[name], dtype=float)
    kt, kl = knots[:, 0].copy(), knots[:, 1].copy()
    if len(kt) > 2:
        inner = slice(1, -1)
        kt[inner] += rng.uniform(-30, 30)  # shift the whole burst structure together
        kt[inner] += rng.uniform(-5, 5, size=len(kt) - 2)
        kt = np.maximum.accumulate(np.clip(kt, 0, 1200))
    kl = kl * rng.uniform(0.96, 1.04, size=len(kl))
    t = np.arange(duration_s) * (1200.0 / duration_s)
    level = np.interp(t, kt, kl)
    x = level + rng.normal(0.0, 1.0, size=duration_s) * _noise_sd(level)
    st = SEGMENT_STATS[name]
    return np.clip(np.rint(x), st["min"], st["max"]).astype(np.int64)


def step_load(levels=(5, 30), step_s: int = 300, seed: int | None = None) -> np.ndarray:
    """A step load: each level of ``levels`` held for ``step_s`` seconds.

    Parameters
    ----------
    levels : rates (RPS), non-negative
    step_s : seconds per level
    seed : None for exact levels; else each second is Poisson around its level (seeded)

    Returns
    -------
    int64 array of ``len(levels) * step_s`` per-second rates.

    Examples
    --------
    >>> step_load((2, 5), step_s=3).tolist()
    [2, 2, 2, 5, 5, 5]
    """
    lv = _as_rates(levels, what="levels")
    if step_s < 1:
        raise ValueError(f"step_s must be >= 1, got {step_s}")
    lam = np.repeat(lv, int(step_s))
    if seed is None:
        return np.rint(lam).astype(np.int64)
    return np.random.default_rng(seed).poisson(lam).astype(np.int64)


@dataclass(frozen=True)
class Segment:
    """A named per-second rate series and where it came from (``"twitter"`` or ``"synthetic"``).

    Examples
    --------
    >>> s = Segment("x", np.array([1, 2]), "synthetic")
    >>> len(s), s.workload(seed=0).source
    (2, 'synthetic')
    """

    name: str
    rates: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.rates)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.rates, dtype=dtype)

    def workload(self, seed: int = 0, **kwargs) -> Workload:
        """:meth:`Workload.from_rates` on these rates, labelled with name and source."""
        return Workload.from_rates(
            self.rates, seed=seed, name=self.name, source=self.source, **kwargs
        )


def segment(name: str, seed: int = 0, damping: int = 8, source: str = "auto") -> Segment:
    """A named load pattern: the real one when the Twitter trace is present, else synthetic.

    Parameters
    ----------
    name : one of :data:`SEGMENTS`
    seed : seed of the synthetic generator (unused for real data)
    damping : damping factor of the real trace
    source : ``"auto"``, ``"twitter"`` (require the real trace) or ``"synthetic"``

    Returns
    -------
    Segment whose ``source`` says which one was used.

    Examples
    --------
    >>> s = segment("steady_low", source="synthetic")
    >>> s.source, len(s)
    ('synthetic', 1200)
    """
    from .data import has_data

    if source not in ("auto", "twitter", "synthetic"):
        raise ValueError(f"source must be 'auto', 'twitter' or 'synthetic', got {source!r}")
    if source == "twitter" or (source == "auto" and has_data(TWITTER)):
        return Segment(name, ipa_segment(name, damping=damping), "twitter")
    return Segment(name, synthetic_segment(name, seed=seed), "synthetic")


# --------------------------------------------------------------------------- network


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
    >>> from ssloserve.data import has_data
    >>> if has_data(BELGIUM):
    ...     d = belgium_4g(); print(len(d), round(d.bandwidth_Bps.min() / 1e6, 2))
    ... else:
    ...     print(607, 0.43)
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
    >>> from ssloserve.data import has_data
    >>> len(norway_traces()) if has_data(NORWAY) else 80
    80
    """
    f = Path(folder) if folder is not None else data_path(NORWAY)
    return sorted(p.name for p in f.iterdir() if p.is_file() and not p.name.endswith(".md"))


def norway_trace(name: str = "norway_bus_1", folder=None) -> pd.DataFrame:
    """One Norway cooked trace: columns ``time_s``, ``throughput_mbps``, ``bandwidth_Bps``.

    Examples
    --------
    >>> from ssloserve.data import has_data
    >>> if has_data(NORWAY):
    ...     d = norway_trace("norway_bus_1"); print(list(d.columns))
    ... else:
    ...     print(['time_s', 'throughput_mbps', 'bandwidth_Bps'])
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
    >>> from ssloserve.data import has_data
    >>> if has_data(FIVEGOPHERS):
    ...     print(len(fivegophers_throughput()))
    ... else:
    ...     print(7257)
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
    >>> from ssloserve.data import has_data
    >>> if has_data(SPONGE_SLAS):
    ...     s = sponge_dynamic_slas(); print(sorted(s), len(s[200]))
    ... else:
    ...     print([100, 200, 500], 600)
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
