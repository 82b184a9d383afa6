"""Core limits for emulator replicas (DESIGN.md "Core limits in the emulator").

A replica's cores are enforced with the strongest mechanism the machine allows, and the
run reports which one it used. Four small modules:

- :mod:`.limiters`: the backends (cgroup quota, SIGSTOP/SIGCONT throttle, CPU affinity,
  none) behind one :class:`CoreLimiter` interface, and :func:`make_limiter`;
- :mod:`.cgroups`: cgroup v1/v2 CFS quotas (find, probe, write, remove, stale ones);
- :mod:`.priority`: the bounded real-time class and nice values of the ``boost`` option;
- :mod:`.procfs`: CPU time of a process and of the machine, children, cores.

This package re-exports their public names. Chapter: 00_tour ("the emulator").
"""

from .cgroups import emulator_cgroups, remove_stale_cgroups, stale_cgroups
from .limiters import (
    BACKENDS,
    CHOICES,
    AffinityLimiter,
    CgroupLimiter,
    CoreLimiter,
    NoLimiter,
    ThrottleLimiter,
    available_backends,
    make_limiter,
    pin_all_threads,
    threads_for,
)
from .priority import (
    RT_BUDGET_S,
    RT_KILL_S,
    RealtimeGuard,
    boost_child_process,
    is_realtime,
    realtime,
    renice_threads,
)
from .procfs import child_pids, cpu_time_s, machine_busy_s, machine_cores

__all__ = [
    "BACKENDS",
    "CHOICES",
    "CoreLimiter",
    "CgroupLimiter",
    "ThrottleLimiter",
    "AffinityLimiter",
    "NoLimiter",
    "available_backends",
    "make_limiter",
    "machine_cores",
    "threads_for",
    "cpu_time_s",
    "pin_all_threads",
    "stale_cgroups",
    "remove_stale_cgroups",
    "emulator_cgroups",
    "child_pids",
    "RT_BUDGET_S",
    "RT_KILL_S",
    "RealtimeGuard",
    "realtime",
    "is_realtime",
    "boost_child_process",
    "renice_threads",
    "machine_busy_s",
]
