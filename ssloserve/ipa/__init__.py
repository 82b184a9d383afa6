"""IPA: inference pipeline adaptation for accuracy and cost (PAPERS.md 3; chapter 03_ipa).

Per stage of a chain IPA chooses a model variant, a batch size and a replica count, trading
the pipeline's accuracy (PAS, the product of the stages' accuracies) against cores, as one
mixed-integer programme every 10 s. Modules, one concept each:

- :mod:`~ssloserve.ipa.scores` -- :func:`pas` (multiply, sum, rank-normalised sum);
- :mod:`~ssloserve.ipa.allocation` -- :func:`base_allocation`, the cores R(m) of a replica;
- :mod:`~ssloserve.ipa.problem` -- the problem: menus, each stage's options at a rate, the
  objective, the number of changes between two plans, the infeasibility message;
- :mod:`~ssloserve.ipa.milp` -- :func:`solve_chain`, the MILP in cvxpy (HiGHS), exact;
- :mod:`~ssloserve.ipa.oracle` -- :func:`brute_force`, the exhaustive oracle it is tested on;
- :mod:`~ssloserve.ipa.profiles` -- IPA's own profile tables, read and fitted;
- :mod:`~ssloserve.ipa.pipelines` -- the video and NLP pipelines, each menu entry with its source;
- :mod:`~ssloserve.ipa.policy` -- :class:`IPAPolicy` for ``ssloserve.run``;
- :mod:`~ssloserve.ipa.baselines` -- FA2-low, FA2-high (FA2's planner on fixed variants), RIM-like;
- :mod:`~ssloserve.ipa.experiments` -- the four systems on the four Twitter load patterns;
- :mod:`~ssloserve.ipa.ui` -- chapter 03_ipa's tables and charts: every plan of a small chain,
  the product's linearisation at a plan, the Pareto front and the alpha/beta slider (imported
  on its own: ``from ssloserve.ipa import ui``).
"""

from .allocation import DEFAULT_CORES, base_allocation, with_cores
from .baselines import FA2_HIGH, fa2_fixed, fa2_high, fa2_low, high_variants, low_variants, rim_like
from .experiments import SYSTEMS, compare, on_patterns, systems
from .milp import SOLVERS, prune, quiet_highs, solve_chain
from .oracle import brute_force, random_instance
from .pipelines import NLP_FALLBACK, PIPELINES, IPAPipeline, nlp, split_like, video
from .policy import IPAPolicy, plan_config
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
    per_stage,
    stage_options,
)
from .profiles import IPA_PROFILES, batch1_points, fit_batch1, ipa_profiles
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
    "per_stage",
    "SOLVERS",
    "solve_chain",
    "prune",
    "quiet_highs",
    "brute_force",
    "random_instance",
    "IPA_PROFILES",
    "ipa_profiles",
    "batch1_points",
    "fit_batch1",
    "IPAPipeline",
    "video",
    "nlp",
    "PIPELINES",
    "NLP_FALLBACK",
    "split_like",
    "IPAPolicy",
    "plan_config",
    "FA2_HIGH",
    "low_variants",
    "high_variants",
    "fa2_fixed",
    "fa2_low",
    "fa2_high",
    "rim_like",
    "SYSTEMS",
    "systems",
    "compare",
    "on_patterns",
]
