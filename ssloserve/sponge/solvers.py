"""Sponge's decision every second: the cores ``c`` and batch size ``b`` of the one replica
(PAPERS.md 2; chapter 02_sponge).

Both solvers return the fewest cores, then the smallest batch, that meet two constraints:

- **latency** -- the worst-case form (:func:`solve`, the paper's public code) queues all
  ``lam`` requests of a second with the worst upload delay ``cl_max``::

      ceil(lam / b) * l(b, c) + cl_max <= margin * slo

  the per-request form (:func:`solve_edf`) serves the waiting requests in deadline order, so
  the request at position ``k`` (1-based) finishes with the ``ceil(k / b)``-th batch::

      ceil(k / b) * l(b, c) <= budget_k          for every waiting request k

- **throughput** -- one replica keeps up with the rate: ``h(b, c) >= lam``.

``l`` and ``h`` are :meth:`ssloserve.latency.LatencyModel.latency` and
:func:`ssloserve.latency.throughput_rps`. Cores are chosen from a grid: by default the
integers ``1, 2, ..., c_max`` (Kubernetes' whole-core requests, as in the paper); the
``cores`` argument gives any other grid, e.g. the emulator's 0.25-1.5 cores on this machine.
When nothing fits, :class:`~ssloserve.errors.InfeasibleError` names the binding constraint
and the nearest feasible value (the smallest SLO, or when no SLO helps, the highest rate
one replica can serve).

Both solvers evaluate every (b, c) at once with numpy: O(C B) for the worst case and
O(C n log B) for ``n`` waiting requests, because in deadline order the request that binds
in each batch is its first (the earliest deadline), so batch ``j`` of size ``b`` needs only
``j l(b, c) <= budget_{(j-1) b + 1}``: ``n / b`` checks per ``b`` instead of ``n``. The
exhaustive scans they are tested against are in :mod:`ssloserve.sponge.oracle`.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ..errors import InfeasibleError, ProfileError
from ..latency import throughput_rps

__all__ = [
    "EPS_MS",
    "core_grid",
    "worst_case_ms",
    "edf_excess_ms",
    "solve",
    "solve_edf",
]

#: Tolerance of every comparison (ms, and RPS for the throughput): a latency equal to its
#: bound up to floating-point noise meets it.
EPS_MS = 1e-9


def core_grid(c_max: int = 16, cores=None) -> np.ndarray:
    """The core counts a solver chooses from, ascending: ``cores`` when given, else the
    integers ``1, ..., c_max``.

    Examples
    --------
    >>> core_grid(4).tolist()
    [1.0, 2.0, 3.0, 4.0]
    >>> core_grid(cores=[1.5, 0.25, 0.5, 0.5]).tolist()     # the emulator's grid
    [0.25, 0.5, 1.5]
    """
    if cores is None:
        if not (isinstance(c_max, int | np.integer) and c_max >= 1):
            raise ValueError(f"c_max must be an integer >= 1, got {c_max!r}")
        return np.arange(1, int(c_max) + 1, dtype=float)
    g = np.unique(np.asarray(cores, dtype=float).ravel())
    if len(g) == 0 or not np.isfinite(g).all() or (g <= 0).any():
        raise ValueError(f"cores must be a non-empty list of positive numbers, got {cores!r}")
    return g


def _batches(b_max: int) -> np.ndarray:
    if not (isinstance(b_max, int | np.integer) and b_max >= 1):
        raise ValueError(f"b_max must be an integer >= 1, got {b_max!r}")
    return np.arange(1, int(b_max) + 1, dtype=float)


def _check_rate(rate_rps: float) -> float:
    rate = float(rate_rps)
    if not (rate >= 0 and math.isfinite(rate)):
        raise ValueError(f"rate_rps must be a finite number >= 0, got {rate_rps!r}")
    return rate


def _tables(model, b_max: int, c_max: int, cores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(batches, cores, l(b, c) as a (B, C) array); every latency must be positive."""
    b, c = _batches(b_max), core_grid(c_max, cores)
    lat = np.asarray(model.latency(b[:, None], c[None, :]), dtype=float)
    if not (np.isfinite(lat).all() and (lat > 0).all()):
        raise ProfileError(
            f"the latency model gives a non-positive or non-finite l(b, c) for some b <= "
            f"{len(b)} and c in {c.tolist()}: {model!r}"
        )
    return b, c, lat


def _number(x):
    """An int when ``x`` is whole (the default core grid), else a float."""
    x = float(x)
    return int(x) if x.is_integer() else x


def _first(ok: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple:
    """The fewest cores, then the smallest batch, among the True cells of ``ok`` (B x C)."""
    col = int(np.argmax(ok.any(axis=0)))
    row = int(np.argmax(ok[:, col]))
    return _number(c[col]), int(b[row])


def _no_throughput(rate: float, b, c, h) -> InfeasibleError:
    i, j = np.unravel_index(int(np.argmax(h)), h.shape)
    return InfeasibleError(
        f"throughput: no batch <= {int(b[-1])} on cores <= {_number(c[-1]):g} serves "
        f"{rate:g} RPS; the most one replica serves is {h[i, j]:.6g} RPS (b={int(b[i])}, "
        f"c={_number(c[j]):g}), so no SLO is feasible: raise c_max or b_max, or lower the rate",
        constraint="rate_rps",
        nearest_feasible=float(h[i, j]),
    )


def worst_case_ms(
    model, rate_rps: float, cl_max_ms: float, b_max: int = 16, c_max: int = 16, *, cores=None
):
    """The worst-case latency ``ceil(lam / b) l(b, c) + cl_max`` for every (b, c): the last
    of the ``lam`` requests of a second, queued behind the others, after the slowest upload.

    Returns
    -------
    A (b_max, len(cores)) array: row ``b - 1``, column of each core count of
    :func:`core_grid`.

    Examples
    --------
    >>> from ssloserve.latency import LatencyModel
    >>> m = LatencyModel(0.0, 10.0, 100.0, 0.0)          # l(b, c) = 10 b + 100 / c
    >>> worst_case_ms(m, 20.0, 300.0, b_max=2, c_max=2)  # ceil(20 / b) l + 300
    array([[2500., 1500.],
           [1500., 1000.]])
    """
    rate = _check_rate(rate_rps)
    b, _, lat = _tables(model, b_max, c_max, cores)
    return np.ceil(rate / b)[:, None] * lat + float(cl_max_ms)


def solve(
    model,
    rate_rps: float,
    slo_ms: float,
    cl_max_ms: float,
    c_max: int = 16,
    b_max: int = 16,
    margin: float = 0.9,
    *,
    cores=None,
) -> tuple:
    """Sponge's worst-case solver: the fewest cores, then the smallest batch, with
    ``ceil(lam / b) l(b, c) + cl_max <= margin * slo`` and ``h(b, c) >= lam``.

    Parameters
    ----------
    model : the latency model l(b, c) (anything with a vectorised ``.latency(b, c)`` in ms,
        e.g. :class:`~ssloserve.latency.LatencyModel`)
    rate_rps : the rate ``lam`` to serve (requests per second, >= 0)
    slo_ms : the end-to-end SLO
    cl_max_ms : the worst upload delay of the second (communication latency, ms)
    c_max, b_max : the largest core count and batch size
    margin : the safety factor on the SLO (0.9 in the paper)
    cores : the core counts to choose from (default the integers 1..c_max; when given,
        ``c_max`` is not used), e.g. ``[0.25, 0.5, ..., 1.5]``

    Returns
    -------
    ``(cores, batch)``: cores an ``int`` when whole, else a ``float``.

    Raises
    ------
    InfeasibleError
        When nothing fits: ``constraint="slo_ms"`` with ``nearest_feasible`` the smallest
        SLO at which one (b, c) fits, or ``constraint="rate_rps"`` (no SLO helps: no
        replica up to the caps keeps up) with the highest rate one replica serves.

    Examples
    --------
    The model fitted to Sponge's YOLOv5 grid (PAPERS.md 0.1), 20 RPS, the Belgium log's
    slowest upload of 200 KB (474 ms):

    >>> from ssloserve.latency import LatencyModel
    >>> yolo = LatencyModel(18.3, 4.5, 45.7, 1.5)
    >>> solve(yolo, 20.0, 1000.0, 474.0)
    (2, 4)
    >>> solve(yolo, 50.0, 1000.0, 474.0)
    (6, 10)
    >>> solve(yolo, 20.0, 600.0, 474.0)
    Traceback (most recent call last):
    ...
    ssloserve.errors.InfeasibleError: slo_ms: at SLO 600 ms no batch <= 16 on cores <= 16 meets ceil(20 / b) l(b, c) + 474 <= 0.9 x SLO; the smallest feasible SLO is 661.764 ms (b=10, c=16)
    """
    rate = _check_rate(rate_rps)
    if not (0 < margin <= 1):
        raise ValueError(f"margin must be in (0, 1], got {margin!r}")
    if math.isnan(slo_ms) or math.isnan(cl_max_ms):
        raise ValueError(f"slo_ms and cl_max_ms must be numbers, got {slo_ms!r}, {cl_max_ms!r}")
    b, c, lat = _tables(model, b_max, c_max, cores)
    h = throughput_rps(b[:, None], lat)
    fast = h >= rate - EPS_MS
    if not fast.any():
        raise _no_throughput(rate, b, c, h)
    worst = np.ceil(rate / b)[:, None] * lat + float(cl_max_ms)
    ok = fast & (worst - margin * float(slo_ms) <= EPS_MS)
    if ok.any():
        return _first(ok, b, c)
    need = np.where(fast, worst, np.inf) / margin
    i, j = np.unravel_index(int(np.argmin(need)), need.shape)
    raise InfeasibleError(
        f"slo_ms: at SLO {slo_ms:g} ms no batch <= {int(b[-1])} on cores <= {_number(c[-1]):g} "
        f"meets ceil({rate:g} / b) l(b, c) + {cl_max_ms:g} <= {margin:g} x SLO; the smallest "
        f"feasible SLO is {need[i, j]:.6g} ms (b={int(b[i])}, c={_number(c[j]):g})",
        constraint="slo_ms",
        nearest_feasible=float(need[i, j]),
    )


@lru_cache(maxsize=32)
def _groups(n: int, b_max: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For every b in 1..b_max, the batches of ``n`` requests in deadline order: the row of
    ``b``, the batch number ``j``, the 0-based position of its first request, and where each
    ``b``'s block starts (for ``np.maximum.reduceat``)."""
    rows, js, starts, offsets = [], [], [], []
    for b in range(1, b_max + 1):
        m = -(-n // b)
        offsets.append(sum(len(x) for x in js))
        rows.append(np.full(m, b - 1))
        js.append(np.arange(1, m + 1, dtype=float))
        starts.append(np.arange(m) * b)
    return np.concatenate(rows), np.concatenate(js), np.concatenate(starts), np.array(offsets)


def _sorted_budgets(budgets_ms) -> np.ndarray:
    d = np.sort(np.asarray(budgets_ms, dtype=float).ravel())
    if np.isnan(d).any():
        raise ValueError("budgets_ms has NaN values")
    return d


def edf_excess_ms(model, budgets_ms, b_max: int = 16, c_max: int = 16, *, cores=None):
    """By how much the most-late waiting request misses its budget, for every (b, c):
    ``max_k ceil(k / b) l(b, c) - budget_k`` over the requests in deadline order (<= 0:
    every request is in time; ``-inf`` when nobody waits).

    Returns
    -------
    A (b_max, len(cores)) array (row ``b - 1``, a column per core count of :func:`core_grid`).

    Examples
    --------
    >>> from ssloserve.latency import LatencyModel
    >>> m = LatencyModel(0.0, 10.0, 100.0, 0.0)          # l(1, 1) = 110, l(2, 1) = 120 ms
    >>> edf_excess_ms(m, [300.0, 100.0, 250.0], b_max=2, c_max=1)
    array([[30.],
           [20.]])

    In deadline order the budgets are 100, 250, 300. One at a time (b = 1) they finish at
    110, 220 and 330 ms: 10, -30 and 30 ms over, so 30. In pairs (b = 2) the first two
    finish at 120 (20 over for the first) and the third at 240 (60 early), so 20.
    """
    d = _sorted_budgets(budgets_ms)
    b, _, lat = _tables(model, b_max, c_max, cores)
    return _excess(d, lat, len(b))


def _excess(d: np.ndarray, lat: np.ndarray, b_max: int) -> np.ndarray:
    if len(d) == 0:
        return np.full(lat.shape, -np.inf)
    rows, js, starts, offsets = _groups(len(d), b_max)
    per_batch = js[:, None] * lat[rows] - d[starts][:, None]
    return np.maximum.reduceat(per_batch, offsets, axis=0)


def solve_edf(
    model,
    budgets_ms,
    rate_rps: float,
    c_max: int = 16,
    b_max: int = 16,
    *,
    cores=None,
    slo_ms: float | None = None,
) -> tuple:
    """Sponge's per-request solver: the fewest cores, then the smallest batch, with which
    every waiting request, served in deadline order, ends within its budget
    (``ceil(k / b) l(b, c) <= budget_k`` at position ``k``) and ``h(b, c) >= lam``.

    Parameters
    ----------
    model : the latency model l(b, c) (vectorised ``.latency(b, c)`` in ms)
    budgets_ms : the remaining budget of each waiting request (deadline - now, ms), any order
    rate_rps : the rate ``lam`` to keep up with (requests per second, >= 0)
    c_max, b_max : the largest core count and batch size
    cores : the core counts to choose from (default the integers 1..c_max; when given,
        ``c_max`` is not used)
    slo_ms : the SLO the budgets come from; only used to state the smallest feasible SLO
        when nothing fits

    Returns
    -------
    ``(cores, batch)``: cores an ``int`` when whole, else a ``float``.

    Raises
    ------
    InfeasibleError
        When nothing fits. ``constraint="rate_rps"``: no replica up to the caps keeps up
        (``nearest_feasible``: the highest rate one serves). Otherwise some request cannot
        make its budget: ``nearest_feasible`` is how many ms every budget would need to be
        longer (``constraint="budgets_ms"``), or, when ``slo_ms`` is given, the smallest
        SLO that works, ``slo_ms`` plus that (``constraint="slo_ms"``).

    Examples
    --------
    >>> from ssloserve.latency import LatencyModel
    >>> yolo = LatencyModel(18.3, 4.5, 45.7, 1.5)
    >>> budgets = [950.0] * 15 + [526.0] * 5                # 5 of 20 after a slow upload
    >>> solve_edf(yolo, budgets, 20.0)
    (1, 2)

    The worst-case solver assumes all 20 had the slow upload (cl_max = 474 ms) and that
    they arrive at once, and takes twice the cores: ``solve(yolo, 20.0, 1000.0, 474.0)``
    gives ``(2, 4)``.

    >>> solve_edf(yolo, [3.0, 900.0], 20.0, slo_ms=1000.0)
    Traceback (most recent call last):
    ...
    ssloserve.errors.InfeasibleError: slo_ms: the request at position 1 in deadline order (budget 3 ms) ends 7 ms late even with b=1, c=16 (l = 10 ms); every budget 7 ms longer would do: the smallest feasible SLO is 1007 ms
    """
    rate = _check_rate(rate_rps)
    d = _sorted_budgets(budgets_ms)
    b, c, lat = _tables(model, b_max, c_max, cores)
    h = throughput_rps(b[:, None], lat)
    fast = h >= rate - EPS_MS
    if not fast.any():
        raise _no_throughput(rate, b, c, h)
    if len(d) == 0:
        return _first(fast, b, c)
    if np.all(np.diff(lat, axis=1) <= 0):  # more cores never slower: bisect on the cores
        found, excess = _bisect(d, lat, fast)
        if found is not None:
            return _number(c[found[1]]), int(b[found[0]])
        fast = fast & (np.arange(len(c)) == len(c) - 1)  # each row's least excess is at c_max
    else:
        excess = _excess(d, lat, len(b))
        ok = fast & (excess <= EPS_MS)
        if ok.any():
            return _first(ok, b, c)
    short = np.where(fast, excess, np.inf)
    i, j = np.unravel_index(int(np.argmin(short)), short.shape)
    bb, lij, shift = int(b[i]), float(lat[i, j]), float(short[i, j])
    ends = np.ceil(np.arange(1, len(d) + 1) / bb) * lij - d
    k = int(np.argmax(ends))
    where = (
        f"the request at position {k + 1} in deadline order (budget {d[k]:.6g} ms) ends "
        f"{shift:.6g} ms late even with b={bb}, c={_number(c[j]):g} (l = {lij:.6g} ms); "
        f"every budget {shift:.6g} ms longer would do"
    )
    if slo_ms is None:
        raise InfeasibleError(
            f"budgets_ms: {where}", constraint="budgets_ms", nearest_feasible=shift
        )
    raise InfeasibleError(
        f"slo_ms: {where}: the smallest feasible SLO is {slo_ms + shift:.6g} ms",
        constraint="slo_ms",
        nearest_feasible=float(slo_ms) + shift,
    )


def _bisect(d: np.ndarray, lat: np.ndarray, fast: np.ndarray):
    """Binary search for the fewest cores with a feasible batch, when every row of ``lat``
    is non-increasing in the cores (so is each batch's excess, and ``fast`` holds from some
    core count on, so "some batch fits" holds from some core count on). Each probe checks
    one core count for every batch: O(n log B) requests instead of O(n log B x C).

    Returns ``((row, column) or None, excess)``: the first feasible cell (fewest cores, then
    smallest batch) and the excess of every cell that was computed (the last column is
    always computed; other cells are NaN)."""
    rows, js, starts, offsets = _groups(len(d), lat.shape[0])
    first = d[starts]
    excess = np.full(lat.shape, np.nan)

    def fits(col: int) -> np.ndarray:
        excess[:, col] = np.maximum.reduceat(js * lat[rows, col] - first, offsets)
        return fast[:, col] & (excess[:, col] <= EPS_MS)

    hi = lat.shape[1] - 1
    top = fits(hi)
    if not top.any():
        return None, excess
    lo, ok = 0, top
    while lo < hi:
        mid = (lo + hi) // 2
        at_mid = fits(mid)
        if at_mid.any():
            hi, ok = mid, at_mid
        else:
            lo = mid + 1
    return (int(np.argmax(ok)), hi), excess
