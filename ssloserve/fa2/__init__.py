"""FA2: fast, accurate autoscaling of multi-model pipelines (PAPERS.md 1; chapter 01_fa2).

The planner chooses, for every stage of a pipeline, a batch size ``b`` and a number of
identical instances ``n`` (each of ``c`` cores), so that the cheapest configuration still
meets the end-to-end SLO at arrival rate ``lam``:

    minimise    sum_v  n_v * c_v
    subject to  sum_{v in path} ( l_v(b_v, c_v) + 1000 (b_v - 1) / lam ) <= slo_ms   (every path)
                n_v = ceil(lam * l_v(b_v, c_v) / (1000 b_v))

Modules, one concept each, in the order the chapter uses them:

- :mod:`~ssloserve.fa2.graph` -- the menu (:class:`PlanOptions`), the configuration graph
  (:func:`configuration_graph`), the DAG as a chain (:func:`to_chain`) and the parallel
  super-stage rule (:func:`parallel_super_stage`);
- :mod:`~ssloserve.fa2.dp` -- the DP along a chain: exact over Pareto fronts
  (:func:`solve_chain`, with its Pareto set after each stage from :func:`pareto_steps`) and
  the published 1-ms grid (:func:`solve_chain_grid`);
- :mod:`~ssloserve.fa2.plan` -- :func:`plan`, the DP run on the configuration graph of any
  series-parallel pipeline, and :func:`plan_table` to read a plan;
- :mod:`~ssloserve.fa2.baselines` -- per-stage SLO splitting and static peak provisioning;
- :mod:`~ssloserve.fa2.policy` -- :class:`FA2Policy` and :class:`SLOSplitPolicy`
  (:class:`ssloserve.policies.ReplanningPolicy` with these planners) for ``ssloserve.run``;
- :mod:`~ssloserve.fa2.oracle` -- the exhaustive oracles (:func:`brute_force`,
  :func:`brute_force_chain`) and random instances;
- :mod:`~ssloserve.fa2.experiments` -- the chapter's experiments (:func:`compare`, ...);
- :mod:`~ssloserve.fa2.ui` -- charts, the DP worked step by step, the plan explorers (imported on its own:
  ``from ssloserve.fa2 import ui``).

The latency equations it builds on (``l(b, c)``, the batch formation delay, ``ceil(lam / h)``)
are in :mod:`ssloserve.latency`.
"""

from .baselines import slo_split_plan, static_peak_plan
from .dp import EPS_MS, ChainPlan, pareto_steps, solve_chain, solve_chain_grid
from .experiments import (
    compare,
    cores_per_second,
    cost_vs_rate,
    systems,
    versus_brute_force,
    video_pipeline,
)
from .graph import (
    Parallel,
    PlanOptions,
    chain_str,
    configuration_graph,
    parallel_super_stage,
    stage_options,
    to_chain,
)
from .oracle import brute_force, brute_force_chain, random_chain_instance
from .plan import path_latency_ms, plan, plan_on_graph, plan_table
from .policy import FA2Policy, SLOSplitPolicy, static_peak_policy

__all__ = [
    "EPS_MS",
    "ChainPlan",
    "PlanOptions",
    "Parallel",
    "stage_options",
    "configuration_graph",
    "to_chain",
    "chain_str",
    "parallel_super_stage",
    "pareto_steps",
    "solve_chain",
    "solve_chain_grid",
    "plan",
    "plan_on_graph",
    "path_latency_ms",
    "plan_table",
    "slo_split_plan",
    "static_peak_plan",
    "FA2Policy",
    "SLOSplitPolicy",
    "static_peak_policy",
    "brute_force",
    "brute_force_chain",
    "random_chain_instance",
    "video_pipeline",
    "systems",
    "compare",
    "cores_per_second",
    "cost_vs_rate",
    "versus_brute_force",
]
