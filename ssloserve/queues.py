"""Per-stage request queues: FIFO and earliest-deadline-first, batch pop and drop rules.

Chapter: 00_tour (queues, batching and the drop rules); every runtime uses these classes, so
the simulator and the emulator's router form batches and drop requests the same way.

A queue holds request *indices* (ints). Each request ``i`` has a deadline
``deadline_s[i]`` (arrival + its own budget). A free replica calls :meth:`take` with its
batch size ``b``, the current time and the service time of a batch of each size; the queue
hands back up to ``b`` requests in its order (arrival order for FIFO, earliest deadline
first for EDF) and drops, on the way, the requests its drop rule rejects:

==================  =======================================================================
drop rule           a request taken at time ``now`` is dropped when
==================  =======================================================================
``never``           never (late requests are served late)
``deadline``        its deadline has passed: ``deadline < now``
``cannot_finish``   it cannot finish in time: ``deadline < now + service time of the batch
                    it would join`` (reason ``deadline_passed`` if already past, else
                    ``cannot_finish``)
``k_slo``           it waited more than ``k`` times its budget: ``now > arrival + k*budget``
==================  =======================================================================

Only requests that reach the head of the queue are examined (as a real batcher does):
under FIFO a hopeless request behind the head is dropped when its turn comes; under EDF
the head has the earliest deadline, so for ``deadline`` and ``cannot_finish`` nobody
behind it would be dropped either.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Sequence

import numpy as np

from .errors import ConfigError
from .outcomes import REASONS

__all__ = [
    "QUEUE_KINDS",
    "DROP_RULES",
    "drop_threshold_s",
    "drop_limit_s",
    "drop_reason",
    "FifoQueue",
    "EdfQueue",
    "make_queue",
]

#: Queue disciplines.
QUEUE_KINDS = ("fifo", "edf")
#: Drop rules (see the module docstring).
DROP_RULES = ("never", "deadline", "cannot_finish", "k_slo")

_R_DEADLINE = REASONS.index("deadline_passed")
_R_CANNOT = REASONS.index("cannot_finish")
_R_KSLO = REASONS.index("k_slo")


def drop_threshold_s(drop: str, arrival_s, deadline_s, k_slo: float = 2.0) -> np.ndarray | None:
    """Per request, the time after which the drop rule ``drop`` rejects it (None for "never").

    For ``deadline`` and ``cannot_finish`` it is the deadline; for ``k_slo`` it is
    ``arrival + k_slo * budget``.

    Examples
    --------
    >>> drop_threshold_s("k_slo", [0.0, 1.0], [0.5, 1.2], k_slo=3).tolist()
    [1.5, 1.6...]
    >>> drop_threshold_s("never", [0.0], [0.5]) is None
    True
    """
    if drop not in DROP_RULES:
        raise ConfigError(f"unknown drop rule {drop!r}; choose one of {DROP_RULES}")
    if drop == "never":
        return None
    a = np.asarray(arrival_s, dtype=float)
    d = np.asarray(deadline_s, dtype=float)
    if drop == "k_slo":
        if not k_slo > 0:
            raise ConfigError(f"k_slo must be positive, got {k_slo!r}")
        return a + k_slo * (d - a)
    return d


def drop_limit_s(drop: str, now_s: float, batch_service_s: float) -> float:
    """The time a request's threshold (:func:`drop_threshold_s`) must not be before when a
    batch starts at ``now_s``: ``now_s``, or for ``cannot_finish`` the batch's end.

    Examples
    --------
    >>> drop_limit_s("deadline", 1.0, 0.25), drop_limit_s("cannot_finish", 1.0, 0.25)
    (1.0, 1.25)
    """
    return now_s + batch_service_s if drop == "cannot_finish" else now_s


def drop_reason(drop: str, deadline_s: float, now_s: float) -> int:
    """The reason code (:data:`~ssloserve.outcomes.REASONS`) of a request that rule
    ``drop`` rejects at ``now_s``.

    Examples
    --------
    >>> [REASONS[drop_reason("cannot_finish", d, 1.0)] for d in (0.9, 1.1)]
    ['deadline_passed', 'cannot_finish']
    >>> REASONS[drop_reason("k_slo", 5.0, 1.0)]
    'k_slo'
    """
    if drop == "cannot_finish":
        return _R_DEADLINE if deadline_s < now_s else _R_CANNOT
    return _R_KSLO if drop == "k_slo" else _R_DEADLINE


_SLOTS = ("deadline_s", "_thr", "_drop_rule", "_cf", "dropped", "dropped_reason")


class _Base:
    """Shared drop logic. ``dropped`` and ``dropped_reason`` collect the dropped requests."""

    __slots__ = ()

    def _setup(self, deadline_s, drop: str = "never", threshold_s=None, *, k_slo: float = 2.0):
        if drop not in DROP_RULES:
            raise ConfigError(f"unknown drop rule {drop!r}; choose one of {DROP_RULES}")
        self.deadline_s = deadline_s
        if drop != "never" and threshold_s is None:
            if drop == "k_slo":
                raise ConfigError("drop='k_slo' needs threshold_s (see drop_threshold_s)")
            threshold_s = deadline_s
        self._thr = None if drop == "never" else threshold_s
        self._drop_rule = drop
        self._cf = drop == "cannot_finish"
        self.dropped: list[int] = []
        self.dropped_reason: list[int] = []

    def _limit(self, k: int, now_s: float, service_s) -> float:
        if not self._cf:
            return now_s
        if type(service_s) is list:  # the runtimes' case: skip the (slow) ABC check below
            svc = service_s[k if k < len(service_s) else -1]
        elif isinstance(service_s, Sequence | np.ndarray):
            svc = float(service_s[min(k, len(service_s) - 1)])
        else:
            svc = float(service_s)
        return drop_limit_s(self._drop_rule, now_s, svc)

    def _take_checked(self, pop, b: int, now_s: float, limit: float) -> list[int]:
        """Pop (``pop()`` gives the next id in queue order) until ``b`` requests pass the drop
        rule or the queue is empty; the others are dropped on the way."""
        thr = self._thr
        out: list[int] = []
        while len(self) and len(out) < b:
            i = pop()
            if thr[i] < limit:
                self._drop(i, now_s)
            else:
                out.append(i)
        return out

    def drain(self) -> list[int]:
        """Remove and return every queued request, in queue order."""
        out = self.ids()
        self.clear()
        return out

    def _drop(self, i: int, now_s: float) -> None:
        self.dropped.append(i)
        self.dropped_reason.append(drop_reason(self._drop_rule, self.deadline_s[i], now_s))

    def take_dropped(self) -> tuple[list[int], list[int]]:
        """The requests dropped since the last call, with their reason codes; clears them."""
        out = (self.dropped, self.dropped_reason)
        self.dropped, self.dropped_reason = [], []
        return out


class FifoQueue(_Base, deque):
    """First in, first out.

    Parameters
    ----------
    deadline_s : indexable, deadline (s) of each request index
    drop : one of :data:`DROP_RULES`
    threshold_s : per-request drop time (from :func:`drop_threshold_s`); defaults to the
        deadline (required for ``k_slo``)

    Examples
    --------
    >>> q = FifoQueue([1.0, 0.2, 5.0], drop="deadline")
    >>> for i in range(3): q.push(i)
    >>> q.take(2, now_s=0.5)          # request 1's deadline passed: dropped, 2 takes its place
    [0, 2]
    >>> q.dropped, len(q)
    ([1], 0)
    """

    # a deque underneath: push and len() run at C speed in the simulator's hot loop
    __slots__ = _SLOTS

    def __init__(self, deadline_s, drop: str = "never", threshold_s=None, *, k_slo: float = 2.0):
        deque.__init__(self)
        self._setup(deadline_s, drop, threshold_s, k_slo=k_slo)

    #: Add request ``i`` at the tail.
    push = deque.append

    @property
    def _q(self):
        return self

    def ids(self) -> list[int]:
        """The queued request indices, head first."""
        return list(deque.__iter__(self))

    def take(self, b: int, now_s: float, service_s=0.0) -> list[int]:
        """Up to ``b`` requests from the head, dropping those the rule rejects.

        ``service_s`` is the service time (s) of the batch (a number, or a sequence indexed
        by batch size); only ``cannot_finish`` uses it, for a batch of ``min(b, len(self))``.
        """
        q = self
        n = len(q)
        if n == 0:
            return []
        k = b if b < n else n
        thr = self._thr
        pop = q.popleft
        if thr is None:
            return [pop()] if k == 1 else [pop() for _ in range(k)]
        return self._take_checked(pop, b, now_s, self._limit(k, now_s, service_s))

    def deadlines(self) -> np.ndarray:
        """Deadlines (s) of the queued requests, head first."""
        return np.asarray([self.deadline_s[i] for i in self.ids()], dtype=float)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} queued)"


class EdfQueue(_Base, list):
    """Earliest deadline first (ties: lower index first).

    Examples
    --------
    >>> q = EdfQueue([3.0, 1.0, 2.0])
    >>> for i in range(3): q.push(i)
    >>> q.take(2, now_s=0.0)
    [1, 2]
    >>> q = EdfQueue([3.0, 1.0, 2.0], drop="cannot_finish")
    >>> for i in range(3): q.push(i)
    >>> q.take(1, now_s=0.5, service_s=[0.0, 1.0])  # 1 would end at 1.5 > 1.0, 2 at 1.5 <= 2.0
    [2]
    >>> q.dropped, q.dropped_reason
    ([1], [2])
    """

    # a list underneath (the heap of (deadline, index)): len() runs at C speed
    __slots__ = _SLOTS

    def __init__(self, deadline_s, drop: str = "never", threshold_s=None, *, k_slo: float = 2.0):
        list.__init__(self)
        self._setup(deadline_s, drop, threshold_s, k_slo=k_slo)

    def push(self, i: int) -> None:
        """Add request ``i`` (ordered by its deadline, then its index)."""
        heapq.heappush(self, (float(self.deadline_s[i]), i))

    def ids(self) -> list[int]:
        """The queued request indices, earliest deadline first."""
        return [i for _, i in sorted(list.__iter__(self))]

    def __repr__(self) -> str:
        return f"EdfQueue({len(self)} queued)"

    def take(self, b: int, now_s: float, service_s=0.0) -> list[int]:
        h = self
        n = len(h)
        if n == 0:
            return []
        k = b if b < n else n
        pop = heapq.heappop
        thr = self._thr
        if thr is None:
            return [pop(h)[1] for _ in range(k)]
        return self._take_checked(lambda: pop(h)[1], b, now_s, self._limit(k, now_s, service_s))

    def deadlines(self) -> np.ndarray:
        return np.asarray(sorted(d for d, _ in list.__iter__(self)), dtype=float)


def make_queue(kind: str, deadline_s, drop: str = "never", threshold_s=None, *, k_slo=2.0):
    """A queue of discipline ``kind`` (``"fifo"`` or ``"edf"``) with drop rule ``drop``.

    Examples
    --------
    >>> type(make_queue("edf", [1.0])).__name__
    'EdfQueue'
    >>> make_queue("lifo", [1.0])
    Traceback (most recent call last):
    ...
    ssloserve.errors.ConfigError: unknown queue 'lifo'; choose one of ('fifo', 'edf')
    """
    if kind == "fifo":
        return FifoQueue(deadline_s, drop, threshold_s, k_slo=k_slo)
    if kind == "edf":
        return EdfQueue(deadline_s, drop, threshold_s, k_slo=k_slo)
    raise ConfigError(f"unknown queue {kind!r}; choose one of {QUEUE_KINDS}")
