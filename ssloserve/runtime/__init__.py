"""One experiment API over three runtimes: ``run(pipeline, workload, policy, runtime=...)``."""

from .observation import Observation
from .result import REASONS, STATUSES, RequestLog, Result

__all__ = ["Observation", "Result", "RequestLog", "STATUSES", "REASONS"]
