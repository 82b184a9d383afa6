"""Latency models l(b, c), their least-squares fit, and profile tables (PAPERS.md 0.1).

Chapters: every chapter uses it; 00_tour introduces it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import ProfileError

__all__ = ["LatencyModel", "fit_latency_model"]


@dataclass(frozen=True)
class LatencyModel:
    """l(b, c) = gamma*b/c + delta*b + epsilon/c + eta, in milliseconds (PAPERS.md 0.1).

    ``(gamma*b + epsilon)/c`` is the part more cores speed up (Amdahl's parallel part),
    ``delta*b + eta`` the part they do not.

    Examples
    --------
    >>> m = LatencyModel(gamma=20.0, delta=5.0, epsilon=40.0, eta=2.0)
    >>> m.latency(4, 2)
    82.0
    >>> round(m.throughput(4, 2), 2)
    48.78
    >>> round(m.speedup(1, 1e9), 3) == round(1 / (1 - m.parallel_fraction(1)), 3)
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
        out = self.gamma * b / c + self.delta * b + self.epsilon / c + self.eta
        return float(out) if out.ndim == 0 else out

    def throughput(self, b, c):
        """Requests per second of one replica: h(b, c) = 1000 b / l(b, c)."""
        b = np.asarray(b, dtype=float)
        out = 1000.0 * b / np.asarray(self.latency(b, c))
        return float(out) if out.ndim == 0 else out

    def parallel_fraction(self, b):
        """p(b) = (gamma b + epsilon) / (gamma b + epsilon + delta b + eta)."""
        b = np.asarray(b, dtype=float)
        par = self.gamma * b + self.epsilon
        out = par / (par + self.delta * b + self.eta)
        return float(out) if out.ndim == 0 else out

    def speedup(self, b, c):
        """Amdahl speed-up l(b, 1) / l(b, c)."""
        out = np.asarray(self.latency(b, 1.0)) / np.asarray(self.latency(b, c))
        return float(out) if out.ndim == 0 else out

    @property
    def params(self) -> tuple[float, float, float, float]:
        """(gamma, delta, epsilon, eta)."""
        return (self.gamma, self.delta, self.epsilon, self.eta)


def fit_latency_model(batches, cores, latencies_ms) -> LatencyModel:
    """Least-squares fit of :class:`LatencyModel` on the features ``[b/c, b, 1/c, 1]``.

    Parameters
    ----------
    batches, cores, latencies_ms : equal-length sequences of measurements (ms, positive)

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
    theta, *_ = np.linalg.lstsq(X, y, rcond=None)
    pred = X @ theta
    err = np.abs(pred - y)
    return LatencyModel(
        *(float(t) for t in theta),
        mape=float(np.mean(err / y) * 100.0),
        max_error_ms=float(err.max()),
    )
