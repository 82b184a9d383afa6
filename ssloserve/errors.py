"""The error types ssloserve raises (one small hierarchy; never a bare assert for user input).

Every message says what was wrong and, where it can, what would have worked.
"""

from __future__ import annotations

__all__ = [
    "SsloserveError",
    "InfeasibleError",
    "TraceFormatError",
    "DataNotFoundError",
    "ProfileError",
    "ConfigError",
    "PipelineError",
    "PolicyError",
    "MappingError",
    "ToolNotFoundError",
    "ToolError",
    "EmulatorError",
]


class SsloserveError(Exception):
    """Base class of every error ssloserve raises on purpose."""


class InfeasibleError(SsloserveError, ValueError):
    """No configuration meets the constraints.

    ``constraint`` names the binding constraint and ``nearest_feasible`` the nearest value of
    that constraint's parameter that would be feasible (for example the smallest SLO).

    Examples
    --------
    >>> e = InfeasibleError("SLO 50 ms is below the fastest path (62.5 ms)", constraint="slo_ms",
    ...                     nearest_feasible=62.5)
    >>> e.nearest_feasible
    62.5
    """

    def __init__(self, message: str, *, constraint: str | None = None, nearest_feasible=None):
        super().__init__(message)
        self.constraint = constraint
        self.nearest_feasible = nearest_feasible


class TraceFormatError(SsloserveError, ValueError):
    """A trace or table file is malformed; says which file and which line.

    Examples
    --------
    >>> str(TraceFormatError("not a number: 'abc'", path="w.txt", line=3))
    "w.txt, line 3: not a number: 'abc'"
    """

    def __init__(self, message: str, *, path=None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}, line {line}: " if line is not None else f"{path}: "
        super().__init__(where + message)
        self.path = path
        self.line = line


class DataNotFoundError(SsloserveError, FileNotFoundError):
    """A real data file is missing; names where to get it.

    Examples
    --------
    >>> e = DataNotFoundError("workload/x.tbz2", source="https://example.org/x")
    >>> "https://example.org/x" in str(e)
    True
    """

    def __init__(self, relpath: str, *, source: str, searched=()):
        where = ", ".join(str(s) for s in searched) or "$SSLOSERVE_DATA"
        super().__init__(
            f"data file {relpath!r} not found (looked in {where}). It is public: {source}. "
            "Put it under a folder and point SSLOSERVE_DATA there, or use the synthetic generator."
        )
        self.relpath = relpath
        self.source = source


class ProfileError(SsloserveError, ValueError):
    """A latency profile cannot be used or fitted (too few points, NaN, non-positive latency)."""


class ConfigError(SsloserveError, ValueError):
    """A Config is invalid for its pipeline (unknown stage or variant, batch < 1, ...)."""


class PipelineError(SsloserveError, ValueError):
    """A pipeline is malformed (a cycle, no source, an unknown stage, ...)."""


class PolicyError(SsloserveError, ValueError):
    """A policy returned something the runtime cannot apply."""


class MappingError(SsloserveError, ValueError):
    """A model does not fit the switches; names the binding resource and the layer."""

    def __init__(self, message: str, *, resource: str | None = None, layer=None):
        super().__init__(message)
        self.resource = resource
        self.layer = layer


class ToolNotFoundError(SsloserveError, RuntimeError):
    """An external tool (p4c, simple_switch, ...) is not installed; says how to get it."""


class ToolError(SsloserveError, RuntimeError):
    """An external tool (p4c, simple_switch_CLI, ...) ran and failed; carries its message."""


class EmulatorError(SsloserveError, RuntimeError):
    """The multiprocess emulator failed in a way it could not recover from."""
