"""One experiment API over the runtimes: ``run(pipeline, workload, policy, runtime=...)``."""

from .api import RunOptions, run
from .observation import Observation
from .result import REASONS, STATUSES, RequestLog, Result

__all__ = ["run", "RunOptions", "Observation", "Result", "RequestLog", "STATUSES", "REASONS"]
