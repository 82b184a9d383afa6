"""What every child process of the emulator does first: leave SIGINT to its parent and die
with it.

A replica or the load generator ignores SIGINT (the router decides when to stop, and
stops its children itself) and asks the kernel to SIGKILL it when its parent dies
(``prctl(PR_SET_PDEATHSIG)``), so that no child outlives a run, even one whose router was
SIGKILLed. This module sits below every other module of the emulator that runs in a
child. Chapter: 00_tour ("the emulator").
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal

__all__ = ["become_child", "die_with_parent"]

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent exits; exit at once if the
    parent (``parent_pid``) is already gone (it died before ``prctl`` took effect)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


def become_child(parent_pid: int) -> None:
    """The first step of a child's entry point: ignore SIGINT, die with the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent_pid)
