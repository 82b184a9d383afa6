"""The emulator's own options (:class:`EmuOptions`), read next to the shared run options.

Chapter: 00_tour ("the emulator").
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import EmulatorError

__all__ = ["EmuOptions"]


@dataclass
class EmuOptions:
    """Emulator settings. :func:`~ssloserve.runtime.emu.emulate` reads these names from any
    options object (a :class:`~ssloserve.runtime.api.RunOptions`, a mapping, ``None``);
    missing ones take these defaults. The first group means the same as in ``RunOptions``.

    Attributes
    ----------
    queue, drop, k_slo, max_batch_delay_ms, node_cores, duration_s, slo_ms, history_s,
    progress : as in :class:`~ssloserve.runtime.api.RunOptions` (``node_cores=None``: this
        machine's cores bound burn and torch replicas; sleep replicas, which emulate their
        cores, are then unbounded)
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
    """

    queue: str = "fifo"
    drop: str = "never"
    k_slo: float = 2.0
    max_batch_delay_ms: float = 0.0
    node_cores: float | None = None
    duration_s: float | None = None
    slo_ms: float | None = None
    history_s: int = 600
    progress: bool | None = None
    core_limit: str = "auto"
    boost: bool = True
    max_retries: int = 1
    drain_s: float = 10.0
    start_timeout_s: float = 120.0

    @classmethod
    def from_any(cls, options) -> EmuOptions:
        """Read the fields above from ``options`` (any object or mapping, or ``None``)."""
        if isinstance(options, cls):
            return options
        out = cls()
        if options is None:
            return out
        if isinstance(options, dict):
            unknown = sorted(set(options) - set(cls.__dataclass_fields__))
            if unknown:
                raise EmulatorError(
                    f"unknown emulator option(s) {unknown}; options are "
                    f"{sorted(cls.__dataclass_fields__)}"
                )
        get = options.get if isinstance(options, dict) else (lambda k, d: getattr(options, k, d))
        for k in cls.__dataclass_fields__:
            v = get(k, None)
            if v is not None:
                setattr(out, k, v)
        return out
