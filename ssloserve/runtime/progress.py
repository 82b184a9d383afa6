"""What a long run shows and how it stops: the progress bar and the Ctrl-C guard.

Chapter: 00_tour. Every runtime uses both (CONVENTIONS.md: long work shows progress and
stops cleanly on Ctrl-C with partial results): the simulator counts simulated seconds, the
emulator requests with a final status; the bar and its rule are the same.
"""

from __future__ import annotations

import math
import signal
import threading
import time

__all__ = ["Progress", "SafeInterrupt", "PROGRESS_AFTER_S"]

#: Seconds of wall time after which ``progress=None`` (auto) shows a progress bar, in every
#: runtime.
PROGRESS_AFTER_S = 2.0


class Progress:
    """A tqdm bar over ``total`` units: shown at once for ``mode=True``, once the run has
    taken :data:`PROGRESS_AFTER_S` of wall time for ``mode=None`` (auto), never for ``False``.

    Every update is also a safe point: with a :class:`SafeInterrupt` as ``stop``, an update
    after Ctrl-C raises KeyboardInterrupt (the caller stops there).

    Parameters
    ----------
    mode : True, None (auto) or False, as ``RunOptions.progress``
    total : units of the whole run (simulated seconds, requests)
    unit, desc : the bar's unit and label
    stop : the run's :class:`SafeInterrupt`, or None
    wall0 : ``time.perf_counter()`` at the start of the run (None: now)

    Examples
    --------
    >>> p = Progress(False, 10, unit="req", desc="emu")
    >>> p.update(4); p.advance(3); p.n, p.bar is None
    (7, True)
    >>> p.close()
    """

    def __init__(self, mode, total, *, unit: str, desc: str, stop=None, wall0=None):
        self.mode, self.total, self.unit, self.desc, self.stop = mode, total, unit, desc, stop
        self.wall0 = time.perf_counter() if wall0 is None else wall0
        self.n = 0
        self.bar = self._open() if mode is True else None

    def _open(self):
        from tqdm.auto import tqdm

        return tqdm(
            total=int(math.ceil(self.total)),
            unit=self.unit,
            desc=self.desc,
            leave=self.mode is True,
        )

    def update(self, n) -> None:
        """The run has reached ``n`` units (raises KeyboardInterrupt after a Ctrl-C)."""
        if self.stop is not None and self.stop.hit:
            raise KeyboardInterrupt
        self.n = n
        if self.mode is False:
            return
        if self.bar is None and time.perf_counter() - self.wall0 > PROGRESS_AFTER_S:
            self.bar = self._open()
        if self.bar is not None:
            self.bar.update(max(0, min(int(n), int(math.ceil(self.total))) - self.bar.n))

    def advance(self, k) -> None:
        """``k`` more units done."""
        self.update(self.n + k)

    def close(self, done: bool = True) -> None:
        """Close the bar (filled to the end when the run finished)."""
        if self.bar is not None:
            if done:
                self.bar.update(max(0, int(math.ceil(self.total)) - self.bar.n))
            self.bar.close()
            self.bar = None


class SafeInterrupt:
    """Ctrl-C (SIGINT) during a run sets ``hit`` instead of raising; the runtime checks ``hit``
    at its safe points (where every record is consistent) and stops there, so a
    KeyboardInterrupt never lands between two writes of one request's record. A second Ctrl-C
    raises at once. Only the main thread can hold signal handlers: elsewhere, and where SIGINT
    is ignored, it installs nothing and Ctrl-C behaves as usual. The previous handler is put
    back on exit.

    Examples
    --------
    Python's own handler first, whatever the caller set (a shell that ignores SIGINT, as
    ``nohup`` and background jobs do, would make the example say nothing):

    >>> import os, signal
    >>> caller = signal.signal(signal.SIGINT, signal.default_int_handler)
    >>> with SafeInterrupt() as stop:
    ...     os.kill(os.getpid(), signal.SIGINT)   # a Ctrl-C mid-run: noted, nothing raised
    ...     stop.hit
    True
    >>> signal.getsignal(signal.SIGINT) is signal.default_int_handler   # put back
    True
    >>> _ = signal.signal(signal.SIGINT, caller)
    """

    def __init__(self):
        self.hit = False
        self.prev = None

    def _handler(self, signum, frame):
        if self.hit:
            raise KeyboardInterrupt
        self.hit = True

    def __enter__(self) -> SafeInterrupt:
        if threading.current_thread() is threading.main_thread():
            prev = signal.getsignal(signal.SIGINT)
            if prev not in (signal.SIG_IGN, None):
                self.prev = prev
                signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        if self.prev is not None:
            signal.signal(signal.SIGINT, self.prev)
            self.prev = None
