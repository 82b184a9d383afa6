"""The open-loop load generator: sends each request at its arrival time, whatever the system does.

It runs in its own process (``spawn``), so a busy router cannot delay arrivals: request
``i`` leaves at ``t0 + arrival_s[i]`` on the machine's monotonic clock, as a message
``("arr", first, last, t_sent)`` covering every request due at that wake-up (consecutive
indices, because arrivals are sorted). A closed-loop generator would wait for answers
and hide overload ("coordinated omission"); this one never waits. The router stamps each
request with its *intended* arrival time, so a late send counts against the system.
Chapter: 00_tour ("the emulator").
"""

from __future__ import annotations

import time

import numpy as np

from .child import become_child
from .limits.priority import boost_child_process

__all__ = ["loadgen_main"]


def loadgen_main(conn, arrival_s, parent_pid: int, boost: bool = False) -> None:
    """Entry point of the load-generator process.

    ``boost`` asks for the bounded real-time class (else nice -10; see
    :func:`~ssloserve.runtime.emu.limits.boost_child_process`). Waits for ``("go", t0)``, then sends ``("arr", i, j, t_sent)`` for requests ``i..j-1``
    as they fall due and ``("end", t)`` after the last one. Stops early on ``("stop",)``.
    """
    become_child(parent_pid)
    if boost:  # arrivals on time even on a busy machine (bounded real time, else nice -10)
        boost_child_process()
    arr = np.asarray(arrival_s, dtype=float)
    conn.send(("ready",))
    msg = conn.recv()
    if msg[0] != "go":
        return
    t0 = msg[1]
    n = len(arr)
    i = 0
    try:
        while i < n:
            if conn.poll():
                m = conn.recv()
                if m[0] == "stop":
                    return
            now = time.monotonic() - t0
            if arr[i] > now:
                time.sleep(min(arr[i] - now, 0.05))
                continue
            j = int(np.searchsorted(arr, now, side="right"))
            j = max(j, i + 1)
            conn.send(("arr", i, j, time.monotonic()))
            i = j
        conn.send(("end", time.monotonic()))
        while True:  # wait for the router to say stop (or to close the pipe)
            m = conn.recv()
            if m[0] == "stop":
                return
    except (EOFError, OSError, BrokenPipeError):
        return
