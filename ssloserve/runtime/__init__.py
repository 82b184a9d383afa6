"""One experiment API over the runtimes: ``run(pipeline, workload, policy, runtime=...)``.

Layers inside: ``options``, ``inputs``, ``progress``, ``result``, ``actuation`` and
``observe`` are shared by every runtime; ``sim`` and ``emu`` are the runtimes; ``api``
dispatches to them.
"""

from .api import run
from .options import RunOptions
from .result import RequestLog, Result

__all__ = ["run", "RunOptions", "Result", "RequestLog"]
