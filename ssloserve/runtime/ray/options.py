"""The Ray runtime's own options (:class:`RayOptions`); every other option is the shared
``RunOptions`` (the same meaning in every runtime). Chapter: 00_tour.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from ...errors import ConfigError
from ..emu.options import EmuOptions

__all__ = ["RayOptions"]


@dataclass(frozen=True)
class RayOptions:
    """What only the Ray runtime needs (``run(..., runtime="ray", address="ray://...")``).

    Attributes
    ----------
    address : None starts a local Ray for the run (and stops it after); an address
        (``"auto"``, ``"HOST:6379"``, ``"ray://HOST:10001"``) joins that running cluster,
        whose nodes must have ssloserve installed
    num_cpus : logical CPUs of the local Ray (ignored with ``address``)
    max_retries : times a request whose replica died is queued again before it is dropped
        with reason ``replica_crash``
    drain_s : after the last arrival, how long to wait for requests still in the system
    start_timeout_s : initial replicas not ready by then are an error

    Examples
    --------
    >>> RayOptions(num_cpus=4).validate().num_cpus
    4
    >>> RayOptions(max_retries=-1).validate()
    Traceback (most recent call last):
    ...
    ssloserve.errors.ConfigError: Ray option max_retries=-1 is out of range: it must be an integer >= 0
    """

    address: str | None = None
    num_cpus: int = 2
    max_retries: int = 1
    drain_s: float = 10.0
    start_timeout_s: float = 120.0

    @classmethod
    def names(cls) -> set[str]:
        """The option names."""
        return {f.name for f in fields(cls)}

    def replace(self, **changes) -> RayOptions:
        """A copy with some fields changed; unknown names raise :class:`ConfigError`."""
        bad = sorted(set(changes) - self.names())
        if bad:
            raise ConfigError(f"unknown Ray option(s) {bad}; options are {sorted(self.names())}")
        return replace(self, **changes)

    def validate(self) -> RayOptions:
        """Check every field; raise :class:`ConfigError` that names the bad one."""

        def integer(v):
            return isinstance(v, int) and not isinstance(v, bool)

        checks = {
            "address": (lambda v: v is None or isinstance(v, str) and v, "None or an address"),
            "num_cpus": (lambda v: integer(v) and v >= 1, "an integer >= 1"),
            "max_retries": (lambda v: integer(v) and v >= 0, "an integer >= 0"),
            "drain_s": (lambda v: isinstance(v, int | float) and v >= 0, "a number >= 0"),
            "start_timeout_s": (lambda v: isinstance(v, int | float) and v > 0, "positive"),
        }
        for name, (ok, want) in checks.items():
            v = getattr(self, name)
            if not ok(v):
                raise ConfigError(f"Ray option {name}={v!r} is out of range: it must be {want}")
        return self

    def emu_options(self) -> EmuOptions:
        """The emulator router's options for a Ray run: no OS core limit and no priority
        boost from the router (Ray owns the replica processes), the same retries and
        timeouts."""
        return EmuOptions(
            core_limit="none",
            boost=False,
            max_retries=self.max_retries,
            drain_s=self.drain_s,
            start_timeout_s=self.start_timeout_s,
        )
