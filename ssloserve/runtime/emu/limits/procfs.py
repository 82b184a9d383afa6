"""What the OS reports about this machine and its processes, read from ``/proc``.

CPU time of a process (all its threads, ``/proc/PID/stat``), CPU time of the whole
machine (``/proc/stat``), the cores this process may run on (its affinity mask) and the
live children of a process. The core-limit backends and the tests measure with these.
Chapter: 00_tour ("the emulator").

Examples
--------
>>> cpu_time_s(os.getpid()) >= 0
True
>>> machine_cores() >= 1
True
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["machine_cores", "cpu_time_s", "machine_busy_s", "child_pids"]

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def machine_cores() -> int:
    """Cores this process may run on (its affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def _stat_fields(pid: int | str) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name (field 3 onwards)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()


def cpu_time_s(pid: int) -> float:
    """User + system CPU seconds used so far by every thread of process ``pid``.

    Read from ``/proc/PID/stat`` (fields 14 and 15, in clock ticks); it includes threads
    that have already exited. Raises ``ProcessLookupError`` when the process is gone.
    """
    try:
        fields = _stat_fields(pid)
    except FileNotFoundError:
        raise ProcessLookupError(pid) from None
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def machine_busy_s() -> float:
    """CPU seconds every core of the machine has spent busy since boot (``/proc/stat``:
    all time but idle and iowait), to measure how much other programs use."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / _CLK_TCK


def child_pids(pid: int | None = None) -> list[int]:
    """Live (non-zombie) child processes of ``pid`` (default: this process), from ``/proc``.

    Examples
    --------
    >>> isinstance(child_pids(), list)
    True
    """
    pid = os.getpid() if pid is None else pid
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            fields = _stat_fields(d)
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(d))
    return out
