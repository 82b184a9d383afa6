"""A measured latency grid used as a model's l(b, c): :class:`LatencyTable` (PAPERS.md 0.1).

Chapter: 00_tour, where the Sponge grid is read into one. Where a variant has a
measured grid instead of a fitted :class:`~ssloserve.latency.LatencyModel`, this table is
its ``latency``; :meth:`LatencyTable.fit` gives the model through its points. The real grids
themselves are read by :mod:`ssloserve.catalog`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import ProfileError
from .latency import LatencyModel, fit_latency_model, throughput_rps

__all__ = ["LatencyTable"]


class LatencyTable:
    """A measured latency grid (batch b, cores c) -> ms, with ``.latency(b, c)``.

    Batches must be measured ones. Cores between two measured core counts are interpolated
    linearly in ``1/c`` (the latency model is linear in ``1/c``, so this is exact where the
    model holds); cores outside the measured range, or an unmeasured batch, raise
    :class:`~ssloserve.errors.ProfileError` naming the measured values.

    Parameters
    ----------
    batches, cores, latencies_ms : equal-length sequences, one entry per measured point
    name : the model's name

    Examples
    --------
    >>> t = LatencyTable([1, 1, 2, 2], [1, 4, 1, 4], [40.0, 16.0, 70.0, 25.0], name="toy")
    >>> t.latency(2, 4)
    25.0
    >>> t.latency(1, 2)  # halfway in 1/c between c = 1 and c = 4
    24.0
    >>> t.latency(3, 1)
    Traceback (most recent call last):
    ...
    ssloserve.errors.ProfileError: toy: batch 3 is not in the table (measured: [1, 2])
    """

    def __init__(self, batches, cores, latencies_ms, name: str = "table"):
        b = np.asarray(batches, dtype=float).ravel()
        c = np.asarray(cores, dtype=float).ravel()
        y = np.asarray(latencies_ms, dtype=float).ravel()
        if not (len(b) == len(c) == len(y)) or len(b) == 0:
            raise ProfileError(f"{name}: batches, cores and latencies must be equal, non-empty")
        if not np.isfinite(y).all() or (y <= 0).any():
            raise ProfileError(f"{name}: latencies must be positive numbers")
        self.name = name
        self._grid: dict[float, tuple[np.ndarray, np.ndarray]] = {}
        for bb in np.unique(b):
            sel = b == bb
            order = np.argsort(c[sel])
            cs, ys = c[sel][order], y[sel][order]
            if len(np.unique(cs)) != len(cs):
                raise ProfileError(f"{name}: batch {bb:g} has a core count measured twice")
            self._grid[float(bb)] = (cs, ys)
        self.points = (b, c, y)

    @property
    def batches(self) -> list[int]:
        """Measured batch sizes."""
        return [int(x) for x in self._grid]

    @property
    def cores(self) -> list[float]:
        """Core counts measured for any batch."""
        return sorted({float(x) for cs, _ in self._grid.values() for x in cs})

    def _one(self, b: float, c: float) -> float:
        if float(b) not in self._grid:
            raise ProfileError(
                f"{self.name}: batch {b:g} is not in the table (measured: {self.batches})"
            )
        cs, ys = self._grid[float(b)]
        if c < cs[0] - 1e-9 or c > cs[-1] + 1e-9:
            raise ProfileError(
                f"{self.name}: {c:g} cores is outside the measured range {cs[0]:g}-{cs[-1]:g} "
                f"for batch {b:g}"
            )
        # interpolate in 1/c: np.interp needs increasing x, and 1/c decreases with c
        return float(np.interp(1.0 / c, (1.0 / cs)[::-1], ys[::-1]))

    def latency(self, b, c):
        """Latency in ms of batch ``b`` on ``c`` cores (scalars or arrays)."""
        bb, cc = np.broadcast_arrays(np.asarray(b, dtype=float), np.asarray(c, dtype=float))
        out = np.array([self._one(x, z) for x, z in zip(bb.ravel(), cc.ravel(), strict=True)])
        out = out.reshape(bb.shape)
        return float(out) if out.ndim == 0 else out

    def throughput(self, b, c):
        """Requests per second of one replica, h(b, c) (:func:`~ssloserve.latency.throughput_rps`)."""
        return throughput_rps(b, self.latency(b, c))

    def fit(self) -> LatencyModel:
        """Least-squares :class:`LatencyModel` through the measured points."""
        return fit_latency_model(*self.points)

    def to_frame(self) -> pd.DataFrame:
        """Tidy form: columns model, batch, cores, latency_ms."""
        b, c, y = self.points
        return pd.DataFrame(
            {"model": self.name, "batch": b.astype(int), "cores": c, "latency_ms": y}
        )

    @classmethod
    def from_frame(cls, df: pd.DataFrame, name: str | None = None) -> LatencyTable:
        """From a tidy frame with columns batch, cores, latency_ms (and optionally model)."""
        if name is None:
            name = str(df["model"].iloc[0]) if "model" in df.columns and len(df) else "table"
        return cls(df["batch"], df["cores"], df["latency_ms"], name=name)

    def __repr__(self) -> str:
        return f"LatencyTable({self.name!r}, batches={self.batches}, cores={self.cores})"
