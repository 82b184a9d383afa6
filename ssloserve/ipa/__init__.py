"""IPA: inference pipeline adaptation for accuracy and cost (PAPERS.md 3; chapter 03_ipa).

Per stage of a chain IPA chooses a model variant, a batch size and a replica count, trading
the pipeline's accuracy (PAS, the product of the stages' accuracies) against cores, as one
mixed-integer programme every 10 s. Modules, one concept each:

- :mod:`~ssloserve.ipa.scores` -- :func:`pas` (multiply, sum, rank-normalised sum);
- :mod:`~ssloserve.ipa.allocation` -- :func:`base_allocation`, the cores R(m) of a replica;
- :mod:`~ssloserve.ipa.problem` -- the problem: menus, each stage's options at a rate, the
  objective, the number of changes between two plans, the infeasibility message;
- :mod:`~ssloserve.ipa.milp` -- :func:`solve_chain`, the MILP in cvxpy (HiGHS), exact;
- :mod:`~ssloserve.ipa.oracle` -- :func:`brute_force`, the exhaustive oracle it is tested on.
"""

from .allocation import DEFAULT_CORES, base_allocation, with_cores
from .milp import SOLVERS, prune, quiet_highs, solve_chain
from .oracle import brute_force, random_instance
from .problem import (
    DEFAULT_BATCHES,
    EPS_MS,
    TIE_TOL,
    Choice,
    MenuItem,
    Option,
    as_menu,
    changes,
    evaluate,
    infeasible,
    is_tie,
    objective,
    stage_options,
)
from .scores import PAS_METHODS, pas, rank_normalised

__all__ = [
    "PAS_METHODS",
    "pas",
    "rank_normalised",
    "DEFAULT_CORES",
    "base_allocation",
    "with_cores",
    "DEFAULT_BATCHES",
    "EPS_MS",
    "TIE_TOL",
    "MenuItem",
    "Choice",
    "Option",
    "as_menu",
    "stage_options",
    "evaluate",
    "objective",
    "changes",
    "is_tie",
    "infeasible",
    "SOLVERS",
    "solve_chain",
    "prune",
    "quiet_highs",
    "brute_force",
    "random_instance",
]
