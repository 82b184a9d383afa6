"""Arrivals and the Workload type, and synthetic rate series (PAPERS.md 0.3; chapter 00_tour).

The runtime consumes a :class:`Workload`: one arrival time (s), one remaining budget (ms)
and one payload size (bytes) per request, built from a per-second rate series by
:func:`arrivals` (Poisson points within each second, as the papers' load generator).
:func:`step_load` is a synthetic rate series and :func:`rate_stats` describes one.

The real rate series are in :mod:`ssloserve.traces` (the Twitter trace and IPA's four
load patterns); the per-request budgets that the network leaves are in
:mod:`ssloserve.network` (bandwidth logs, :func:`~ssloserve.network.remaining_budget`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import TraceFormatError

__all__ = ["Workload", "arrivals", "step_load", "rate_stats"]


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
