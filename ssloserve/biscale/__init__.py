"""Biscale: horizontal and vertical scaling together (PAPERS.md 4; chapter 04_biscale).

Vertical scaling (more cores per replica) takes effect at once but has diminishing
returns, bounded by Amdahl's law; horizontal scaling (more replicas) multiplies throughput
but pays a cold start. Biscale reacts vertically at once and moves to the cheaper
horizontal plan once new replicas are ready.

Modules, one concept each:

- :mod:`~ssloserve.biscale.plans` -- :func:`horizontal_plan` (FA2 with 1-core replicas) and
  :func:`vertical_plan` (FA2's DP over cores and batch with today's replicas;
  :func:`max_vertical_rate` when the core cap is not enough);
- :mod:`~ssloserve.biscale.oracle` -- brute force for both plans;
- :mod:`~ssloserve.biscale.speedup` -- Amdahl's law from the fitted models
  (:func:`speedup_table`) and measured on this machine (:func:`measure_speedups`);
- :mod:`~ssloserve.biscale.switching` -- the switching rule, a pure function
  (:func:`switch`, :data:`BRANCHES`);
- :mod:`~ssloserve.biscale.policy` -- :class:`BiscalePolicy` for ``ssloserve.run``;
- :mod:`~ssloserve.biscale.baselines` -- horizontal only, vertical only, InferLine-like, and
  the drop limits (:data:`DROP_LIMITS`);
- :mod:`~ssloserve.biscale.experiments` -- the chapter's experiments (the four Twitter
  patterns, the step load, the drop limits; also run by benchmarks/bench_biscale.py);
- :mod:`~ssloserve.biscale.sweep` -- where each mechanism wins: every system over a grid of
  cold starts and parallel fractions (:func:`~ssloserve.biscale.sweep.mechanism_sweep`);
- :mod:`~ssloserve.biscale.ui` -- the chapter's tables and charts (imported on its own:
  it needs the chart libraries).

The Amdahl equations (p(b), speedup, the bound, the largest useful core count) are in
:mod:`ssloserve.latency`.
"""

from .baselines import DROP_LIMITS, drop_options, horizontal_only, inferline_like, vertical_only
from .experiments import (
    PATTERNS,
    SYSTEMS,
    VERTICAL_ONE,
    VIDEO_SLO_MS,
    compare_drop_limits,
    compare_patterns,
    headline,
    run_systems,
    step_experiment,
    step_rates,
)
from .oracle import brute_force_horizontal, brute_force_vertical, random_instance
from .plans import (
    MAX_CORES,
    horizontal_plan,
    max_vertical_rate,
    today_replicas,
    vertical_options,
    vertical_plan,
)
from .policy import BiscalePolicy, capacity_rps
from .speedup import SpeedupMeasurement, measure_speedups, speedup_table
from .switching import BRANCHES, Signals, SwitchRule, SwitchState, switch

__all__ = [
    "MAX_CORES",
    "horizontal_plan",
    "vertical_plan",
    "max_vertical_rate",
    "vertical_options",
    "today_replicas",
    "brute_force_horizontal",
    "brute_force_vertical",
    "random_instance",
    "speedup_table",
    "measure_speedups",
    "SpeedupMeasurement",
    "BRANCHES",
    "Signals",
    "SwitchRule",
    "SwitchState",
    "switch",
    "BiscalePolicy",
    "capacity_rps",
    "DROP_LIMITS",
    "drop_options",
    "horizontal_only",
    "vertical_only",
    "inferline_like",
    "VIDEO_SLO_MS",
    "PATTERNS",
    "SYSTEMS",
    "VERTICAL_ONE",
    "run_systems",
    "compare_patterns",
    "step_rates",
    "step_experiment",
    "compare_drop_limits",
    "headline",
]
