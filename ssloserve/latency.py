"""The latency model and what follows from it, one function per equation (PAPERS.md 0.1-0.2).

Chapters: 00_tour introduces every function here; every technique chapter plans with them.

One replica of a model with batch size ``b`` on ``c`` cores:

- latency l(b, c) = gamma b / c + delta b + epsilon / c + eta (ms):
  :meth:`LatencyModel.latency`; fitted by least squares on the features [b/c, b, 1/c, 1]
  (:func:`fit_latency_model`);
- throughput h(b, c) = 1000 b / l(b, c) (RPS of one replica): :func:`throughput_rps`;
- parallel fraction p(b) = (gamma b + epsilon) / (gamma b + epsilon + delta b + eta):
  :meth:`LatencyModel.parallel_fraction`;
- speed-up l(b, 1) / l(b, c) = 1 / ((1 - p) + p / c): :func:`amdahl_speedup`, and Amdahl's
  bound 1 / (1 - p) that no number of cores passes: :func:`amdahl_bound`;
- the largest useful core count, the most cores of which the last still adds at least ``g``
  to the speed-up: :func:`largest_useful_cores`;
- offered load a = lam / h(b, c) (replicas kept busy, in Erlangs): :func:`offered_load`;
- replicas n = ceil(lam / (h(b, c) u)), at least ``min_replicas``: :func:`replicas_needed`;
- batch formation delay q(b) = 1000 (b - 1) / lam ms, or its 99th percentile
  (PAPERS.md 0.2): :func:`batch_delay_ms`.

Every module that needs one of these calls it here; none retypes the formula.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import ProfileError

__all__ = [
    "LatencyModel",
    "fit_latency_model",
    "throughput_rps",
    "amdahl_speedup",
    "amdahl_bound",
    "largest_useful_cores",
    "offered_load",
    "replicas_needed",
    "batch_delay_ms",
]


def _out(x):
    """A float for a 0-d result, the array otherwise."""
    x = np.asarray(x)
    return float(x) if x.ndim == 0 else x


def throughput_rps(b, l_ms):
    """h = 1000 b / l: requests per second of one replica serving batches of ``b`` in ``l_ms``.

    Parameters
    ----------
    b : batch size (scalar or array)
    l_ms : latency of one batch in milliseconds, positive (scalar or array)

    Returns
    -------
    Requests per second (a float for scalars, else an array).

    Examples
    --------
    >>> throughput_rps(1, 100.0)        # one request every 100 ms
    10.0
    >>> throughput_rps(4, 200.0)        # four requests every 200 ms
    20.0
    >>> throughput_rps([1, 2], [50.0, 50.0])
    array([20., 40.])
    """
    return _out(1000.0 * np.asarray(b, dtype=float) / np.asarray(l_ms, dtype=float))


def amdahl_speedup(p, c):
    """Amdahl's law: speed-up ``1 / ((1 - p) + p / c)`` on ``c`` cores of work whose fraction
    ``p`` runs in parallel.

    For the latency model, ``amdahl_speedup(m.parallel_fraction(b), c)`` equals
    ``m.speedup(b, c) = l(b, 1) / l(b, c)``.

    Parameters
    ----------
    p : parallel fraction in [0, 1]
    c : cores, positive

    Examples
    --------
    >>> amdahl_speedup(0.5, 2)           # half the work halves: 1 / (0.5 + 0.25)
    1.3333333333333333
    >>> amdahl_speedup(1.0, 8)           # all of it parallel: linear
    8.0
    >>> m = LatencyModel(20.0, 5.0, 40.0, 2.0)
    >>> round(amdahl_speedup(m.parallel_fraction(4), 3), 12) == round(m.speedup(4, 3), 12)
    True
    """
    p = np.asarray(p, dtype=float)
    return _out(1.0 / ((1.0 - p) + p / np.asarray(c, dtype=float)))


def amdahl_bound(p):
    """The most that any number of cores can speed up work with parallel fraction ``p``:
    ``1 / (1 - p)`` (infinite for ``p = 1``).

    Examples
    --------
    >>> amdahl_bound(0.875)              # PAPERS.md 0.1's YOLOv5n: at most 8x
    8.0
    >>> amdahl_bound(0.0)
    1.0
    """
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore"):
        return _out(np.where(p >= 1.0, np.inf, 1.0 / (1.0 - p)))


def largest_useful_cores(p: float, min_gain: float = 0.5) -> float:
    """The largest useful core count: the most cores ``c`` such that the ``c``-th core still
    adds at least ``min_gain`` to the speed-up.

    With ``a = 1 - p`` and ``S(c) = 1 / (a + p / c)`` (:func:`amdahl_speedup`), the ``c``-th
    core adds ``S(c) - S(c - 1) = p / ((a c + p)(a (c - 1) + p))`` (the first adds 1), which
    shrinks as ``c`` grows. It is at least ``g`` while ``u (u - a) <= p / g`` with
    ``u = a c + p``, i.e. up to ``c* = (u* - p) / a``, ``u* = (a + sqrt(a^2 + 4 p / g)) / 2``;
    the answer is ``floor(c*)``. A core past it buys less than ``min_gain`` of a core's worth
    of throughput, where a one-core replica more buys a whole one: horizontal scaling serves
    more per core (chapter 04_biscale).

    Parameters
    ----------
    p : parallel fraction in [0, 1]
    min_gain : the least speed-up one more core must add, in (0, 1]

    Returns
    -------
    A whole number of cores (a float, at least 1), ``inf`` for ``p = 1``.

    Examples
    --------
    >>> largest_useful_cores(0.875)          # YOLOv5n at b = 1 (PAPERS.md 0.1)
    4.0
    >>> s = [amdahl_speedup(0.875, c) for c in (3, 4, 5)]
    >>> round(s[1] - s[0], 3), round(s[2] - s[1], 3)     # the 4th core adds 0.509, the 5th 0.424
    (0.509, 0.424)
    >>> largest_useful_cores(0.875, min_gain=0.25), largest_useful_cores(0.77)
    (8.0, 2.0)
    >>> largest_useful_cores(0.0), largest_useful_cores(1.0)
    (1.0, inf)
    """
    if not 0 < min_gain <= 1:
        raise ValueError(f"min_gain must be in (0, 1], got {min_gain!r}")
    if not 0 <= p <= 1:
        raise ValueError(f"the parallel fraction p must be in [0, 1], got {p!r}")
    if p >= 1:
        return math.inf
    a = 1.0 - p
    u = (a + math.sqrt(a * a + 4.0 * p / min_gain)) / 2.0
    return float(max(1, math.floor((u - p) / a + 1e-9)))


def offered_load(lam, l_ms, b):
    """a = lam / h(b, c) = lam l / (1000 b): how many replicas the rate ``lam`` keeps busy.

    Queueing theory's offered load in Erlangs; divided by the number of replicas it is their
    busy fraction (utilisation) when batches are full.

    Parameters
    ----------
    lam : arrival rate, requests per second, >= 0
    l_ms : latency of one batch in milliseconds
    b : batch size

    Examples
    --------
    >>> offered_load(30.0, 100.0, 1)     # 30 RPS on replicas that serve 10 RPS each
    3.0
    >>> offered_load(8.0, 100.0, 1) / 2  # spread over 2 replicas: each 40% busy
    0.4
    """
    return _out(np.asarray(lam, dtype=float) * np.asarray(l_ms, dtype=float) / (1000.0 * b))


def replicas_needed(
    lam: float, l_ms: float, b: int, *, utilisation: float = 1.0, min_replicas: int = 1
) -> int:
    """Replicas to serve ``lam`` RPS with batches of ``b`` taking ``l_ms`` each: ceil(lam / h).

    ``n = max(min_replicas, ceil(lam / (h * utilisation)))`` with ``h = 1000 b / l_ms``
    (:func:`throughput_rps`). A quotient within 1e-9 of an integer counts as that integer
    (floating-point noise must not buy an extra replica).

    At ``lam = 0`` the answer is ``min_replicas``: 1 by default, because a stage with no
    replica drops every request that does arrive. A policy that may scale a stage to zero
    passes ``min_replicas=0``. FA2, the HPA-like and the InferLine-like policies all size
    replicas with this function.

    Parameters
    ----------
    lam : arrival rate, requests per second, >= 0
    l_ms : latency of one batch in milliseconds, positive
    b : batch size, at least 1
    utilisation : target busy fraction of each replica in (0, 1] (InferLine: 0.8)
    min_replicas : the fewest replicas returned, >= 0

    Examples
    --------
    >>> replicas_needed(30.0, 100.0, 1)   # 10 RPS per replica
    3
    >>> replicas_needed(31.0, 100.0, 1)
    4
    >>> replicas_needed(30.0, 100.0, 4)
    1
    >>> replicas_needed(30.0, 100.0, 1, utilisation=0.8)   # ceil(30 / 8)
    4
    >>> replicas_needed(0.0, 100.0, 1), replicas_needed(0.0, 100.0, 1, min_replicas=0)
    (1, 0)
    """
    x = lam * l_ms / (1000.0 * b * utilisation)
    return max(int(min_replicas), math.ceil(x - 1e-9))


def batch_delay_ms(b: int, lam: float, kind: str = "mean") -> float:
    """Batch formation delay q(b): the first of ``b`` requests waits for ``b - 1`` more
    (PAPERS.md 0.2).

    Parameters
    ----------
    b : batch size, at least 1
    lam : arrival rate, requests per second, positive
    kind : ``"mean"``: ``(b - 1) / lam``, what the planners use by default; ``"p99"``: the
        99th percentile of the Gamma(b - 1, 1 / lam) time that ``b - 1`` Poisson arrivals
        take (stricter)

    Returns
    -------
    Milliseconds (0 for ``b = 1``).

    Examples
    --------
    >>> batch_delay_ms(4, 100.0)
    30.0
    >>> batch_delay_ms(1, 0.5)
    0.0
    >>> round(batch_delay_ms(2, 100.0, "p99"), 2)   # one exponential gap: ln(100) / lam
    46.05
    """
    if b <= 1:
        return 0.0
    if kind == "mean":
        return 1000.0 * (b - 1) / lam
    if kind == "p99":
        return _gamma_p99(b - 1) * 1000.0 / lam
    raise ValueError(f"batch delay kind must be 'mean' or 'p99', got {kind!r}")


_P99_CACHE: dict[int, float] = {}


def _gamma_p99(k: int) -> float:
    """99th percentile of Gamma(k, 1) (cached)."""
    if k not in _P99_CACHE:
        from scipy.stats import gamma

        _P99_CACHE[k] = float(gamma.ppf(0.99, k))
    return _P99_CACHE[k]


@dataclass(frozen=True)
class LatencyModel:
    """l(b, c) = gamma*b/c + delta*b + epsilon/c + eta, in milliseconds (PAPERS.md 0.1).

    ``(gamma*b + epsilon)/c`` is the part more cores speed up (Amdahl's parallel part),
    ``delta*b + eta`` the part they do not.

    Examples
    --------
    >>> m = LatencyModel(gamma=20.0, delta=5.0, epsilon=40.0, eta=2.0)
    >>> m.latency(4, 2)                  # 20*4/2 + 5*4 + 40/2 + 2
    82.0
    >>> round(m.throughput(4, 2), 2)     # 1000 * 4 / 82
    48.78
    >>> m.parallel_fraction(1)           # (20 + 40) / (20 + 40 + 5 + 2)
    0.8955223880597015
    >>> round(m.speedup(1, 1e9), 3) == round(amdahl_bound(m.parallel_fraction(1)), 3)
    True
    """

    gamma: float
    delta: float
    epsilon: float
    eta: float
    mape: float | None = field(default=None, compare=False)
    max_error_ms: float | None = field(default=None, compare=False)

    def latency(self, b, c):
        """Latency in ms of one batch of size ``b`` on ``c`` cores (vectorised)."""
        b = np.asarray(b, dtype=float)
        c = np.asarray(c, dtype=float)
        return _out(self.gamma * b / c + self.delta * b + self.epsilon / c + self.eta)

    def throughput(self, b, c):
        """Requests per second of one replica: h(b, c) (:func:`throughput_rps`)."""
        return throughput_rps(b, self.latency(b, c))

    def parallel_fraction(self, b):
        """p(b) = (gamma b + epsilon) / (gamma b + epsilon + delta b + eta)."""
        b = np.asarray(b, dtype=float)
        par = self.gamma * b + self.epsilon
        return _out(par / (par + self.delta * b + self.eta))

    def speedup(self, b, c):
        """Amdahl speed-up l(b, 1) / l(b, c) (equal to :func:`amdahl_speedup` of p(b))."""
        return _out(np.asarray(self.latency(b, 1.0)) / np.asarray(self.latency(b, c)))

    @property
    def params(self) -> tuple[float, float, float, float]:
        """(gamma, delta, epsilon, eta)."""
        return (self.gamma, self.delta, self.epsilon, self.eta)


def fit_latency_model(batches, cores, latencies_ms, *, nonnegative: bool = False) -> LatencyModel:
    """Least-squares fit of :class:`LatencyModel` on the features ``[b/c, b, 1/c, 1]``.

    Parameters
    ----------
    batches, cores, latencies_ms : equal-length sequences of measurements (ms, positive)
    nonnegative : constrain all four parameters to be >= 0 (non-negative least squares).
        Off by default, as in the papers (a published YOLOv5n fit has eta < 0); on for
        measurements of one's own machine, where each term is CPU time and a negative one
        only fits noise (chapter 00_tour).

    Returns
    -------
    LatencyModel with ``mape`` (mean absolute percentage error, %) and ``max_error_ms`` set.

    Examples
    --------
    >>> true = LatencyModel(18.0, 4.5, 45.0, 1.2)
    >>> b = [1, 2, 4, 8, 1, 2, 4, 8]; c = [1, 1, 1, 1, 4, 4, 4, 4]
    >>> fit = fit_latency_model(b, c, true.latency(b, c))
    >>> [round(x, 6) for x in fit.params]
    [18.0, 4.5, 45.0, 1.2]
    >>> b, c = [1, 2, 4, 1, 2, 4], [1, 1, 1, 2, 2, 2]
    >>> noisy = [27.2, 41.4, 87.2, 43.6, 70.2, 127.0]   # 2 cores slower: a busy machine
    >>> min(fit_latency_model(b, c, noisy).params) < 0
    True
    >>> min(fit_latency_model(b, c, noisy, nonnegative=True).params) >= 0
    True
    """
    b = np.asarray(batches, dtype=float).ravel()
    c = np.asarray(cores, dtype=float).ravel()
    y = np.asarray(latencies_ms, dtype=float).ravel()
    if not (len(b) == len(c) == len(y)):
        raise ProfileError(
            f"batches, cores and latencies_ms differ in length ({len(b)}, {len(c)}, {len(y)})"
        )
    bad = ~np.isfinite(b) | ~np.isfinite(c) | ~np.isfinite(y)
    if bad.any():
        raise ProfileError(f"NaN or infinite value at point(s) {np.flatnonzero(bad).tolist()}")
    if (y <= 0).any():
        raise ProfileError(
            f"latencies must be positive; point(s) {np.flatnonzero(y <= 0).tolist()} are not"
        )
    if (b < 1).any() or (c <= 0).any():
        raise ProfileError("batch sizes must be >= 1 and cores > 0")
    distinct = {(float(x), float(z)) for x, z in zip(b, c, strict=True)}
    if len(distinct) < 4:
        raise ProfileError(
            f"need at least 4 distinct (batch, cores) points to fit 4 parameters; got {len(distinct)}"
        )
    X = np.column_stack([b / c, b, 1.0 / c, np.ones_like(b)])
    if np.linalg.matrix_rank(X) < 4:
        raise ProfileError(
            "the (batch, cores) points do not determine the 4 parameters: vary both batch and cores"
        )
    if nonnegative:
        from scipy.optimize import nnls

        theta, _ = nnls(X, y)
    else:
        theta, *_ = np.linalg.lstsq(X, y, rcond=None)
    pred = X @ theta
    err = np.abs(pred - y)
    return LatencyModel(
        *(float(t) for t in theta),
        mape=float(np.mean(err / y) * 100.0),
        max_error_ms=float(err.max()),
    )
