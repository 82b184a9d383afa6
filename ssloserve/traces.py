"""Real request-rate traces: the Twitter trace and IPA's four load patterns (PAPERS.md 0.3).

Chapters: 00_tour introduces the Twitter trace; 03_ipa the four 20-minute load patterns.

- :func:`twitter_trace` (read by :func:`read_counts`): 22 days of per-second counts;
- :data:`SEGMENTS` and :func:`ipa_segment`: IPA's four named 20-minute windows of it;
- :func:`synthetic_segment`: seeded stand-ins with the same statistics (:data:`SEGMENT_STATS`)
  for a machine without the trace;
- :func:`segment`: the real pattern when the trace is present, else the synthetic one, as a
  :class:`Segment` that says which and makes a :class:`~ssloserve.workloads.Workload`.
"""

from __future__ import annotations

import functools
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import data_path
from .errors import TraceFormatError
from .workloads import Workload

__all__ = [
    "TWITTER",
    "read_counts",
    "twitter_trace",
    "SEGMENTS",
    "SEGMENT_STATS",
    "Segment",
    "ipa_segment",
    "synthetic_segment",
    "segment",
]

TWITTER = "workload/twitter_workload_per_second.tbz2"


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
    >>> from ssloserve.data import require_data
    >>> require_data(TWITTER)
    >>> t = twitter_trace(); print(len(t), int(t.max()), round(float(t.mean()), 1))
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
#: aim at these; ``tests/test_traces.py`` re-measures them on the real trace.
SEGMENT_STATS: dict[str, dict[str, float]] = {
    "bursty": {"min": 3, "max": 34, "mean": 12.03, "cv": 0.777, "ac1": 0.979},
    "steady_low": {"min": 3, "max": 8, "mean": 5.06, "cv": 0.187, "ac1": 0.056},
    "steady_high": {"min": 23, "max": 34, "mean": 28.84, "cv": 0.067, "ac1": -0.010},
    "fluctuating": {"min": 3, "max": 34, "mean": 16.53, "cv": 0.566, "ac1": 0.970},
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
    >>> from ssloserve.data import require_data
    >>> require_data(TWITTER)
    >>> s = ipa_segment("bursty"); print(len(s), s.min(), s.max(), round(s.mean(), 1))
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

    How close (checked over seeds 0-9 in ``tests/test_traces.py``): min and max within
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
