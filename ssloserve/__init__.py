"""ssloserve: SLO-aware inference serving, taught by re-implementing the techniques of
K. Razavi's thesis (FA2, Sponge, IPA, Biscale, NetNN) as small composable functions.

``ssloserve.run(pipeline, workload, policy, runtime="sim"|"emu"|"ray")`` runs one experiment.
"""

from .observation import Observation
from .runtime.api import run
from .runtime.options import RunOptions

__version__ = "0.1.0"

__all__ = ["run", "RunOptions", "Observation", "__version__"]
