"""The emulator's own options (:class:`EmuOptions`); every other option is the shared
``RunOptions`` (the same meaning in every runtime).

Chapter: 00_tour ("the emulator").
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from ...errors import ConfigError
from .limits.limiters import CHOICES

__all__ = ["EmuOptions"]


@dataclass(frozen=True)
class EmuOptions:
    """What only the emulator needs to know, next to the shared ``RunOptions``
    (``run(..., runtime="emu", core_limit="throttle")`` sets them by name).

    Attributes
    ----------
    core_limit : ``"auto"`` (strongest available), ``"cgroup"``, ``"cgroup_v1"``,
        ``"cgroup_v2"``, ``"throttle"``, ``"affinity"`` or ``"none"``
    boost : give the run priority over background work on the machine (needs root, else
        ignored): the replicas stand for dedicated cores, so other programs should not take
        their quota. CPU-bound replicas get cgroup weight 64x (or nice -10 under the
        throttle and affinity backends); the router thread nice -20; the threads that
        mostly wait (router while it routes, load generator, sleep replicas, throttler)
        the bounded real-time class (:func:`~ssloserve.runtime.emu.limits.realtime`:
        ``SCHED_RR`` 1, never inherited, dropped after 0.2 s without blocking). All of it
        ends with the run; ``meta["boost"]`` says what was granted
    max_retries : times a request whose replica crashed is queued again before it is
        dropped with reason ``replica_crash``
    drain_s : after the last arrival, how long to wait for requests still in the system
    start_timeout_s : initial replicas not ready by then are an error

    Examples
    --------
    >>> EmuOptions().replace(core_limit="throttle").validate().core_limit
    'throttle'
    >>> EmuOptions(core_limit="magic").validate()
    Traceback (most recent call last):
    ...
    ssloserve.errors.ConfigError: unknown core limit 'magic'; choose one of ('auto', 'cgroup', 'cgroup_v2', 'cgroup_v1', 'throttle', 'affinity', 'none')
    """

    core_limit: str = "auto"
    boost: bool = True
    max_retries: int = 1
    drain_s: float = 10.0
    start_timeout_s: float = 120.0

    @classmethod
    def names(cls) -> set[str]:
        """The option names."""
        return {f.name for f in fields(cls)}

    def replace(self, **changes) -> EmuOptions:
        """A copy with some fields changed; unknown names raise :class:`ConfigError`."""
        bad = sorted(set(changes) - self.names())
        if bad:
            raise ConfigError(
                f"unknown emulator option(s) {bad}; options are {sorted(self.names())}"
            )
        return replace(self, **changes)

    def validate(self) -> EmuOptions:
        """Check every field; raise :class:`ConfigError` that names the bad one."""
        if self.core_limit not in CHOICES:
            raise ConfigError(f"unknown core limit {self.core_limit!r}; choose one of {CHOICES}")
        checks = {
            "boost": (lambda v: isinstance(v, bool), "True or False"),
            "max_retries": (lambda v: isinstance(v, int) and v >= 0, "an integer >= 0"),
            "drain_s": (lambda v: isinstance(v, int | float) and v >= 0, "a number >= 0"),
            "start_timeout_s": (lambda v: isinstance(v, int | float) and v > 0, "positive"),
        }
        for name, (ok, want) in checks.items():
            v = getattr(self, name)
            if isinstance(v, bool) and name != "boost" or not ok(v):
                raise ConfigError(
                    f"emulator option {name}={v!r} is out of range: it must be {want}"
                )
        return self
