"""IPA as a policy for ``ssloserve.run`` (PAPERS.md 3; chapter 03_ipa).

Every 10 s :class:`IPAPolicy` predicts the load (IPA's LSTM, which answers like the max
predictor for its first 2 minutes: :class:`~ssloserve.predictors.LSTMPredictor`), solves
:func:`~ssloserve.ipa.milp.solve_chain` for that rate, preferring the plan in force among
equally good ones, and returns the config. The runtime carries the changes out with their
real costs: a new variant or a new replica serves after its cold start, a batch size
changes at the next batch (DESIGN.md, actuation).

It is :class:`ssloserve.policies.ReplanningPolicy` with this planner, so it shares the
headroom, SLA safety share and scale-in stabilisation with FA2's policy
(:mod:`ssloserve.fa2.policy`) and compares like with like against the baselines of
:mod:`ssloserve.ipa.baselines`.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import InfeasibleError
from ..observation import Observation
from ..pipeline import Config, Pipeline, StageConfig
from ..policies import ReplanningPolicy
from .milp import solve_chain
from .problem import as_menu, per_stage, stage_options

__all__ = ["IPAPolicy", "plan_config"]


def plan_config(pipeline: Pipeline, plan: Sequence) -> Config:
    """A :class:`~ssloserve.pipeline.Config` from a plan ``[(variant, batch, replicas), ...]``
    (cores per replica: the variant's own, IPA's base allocation).

    Examples
    --------
    >>> from ssloserve.ipa.pipelines import video
    >>> p = video(source="fallback").pipeline
    >>> plan_config(p, [("yolov5s", 2, 3), ("resnet18", 1, 1)]).cost     # 3 x 2 + 1 x 1 cores
    7.0
    """
    out = {}
    for s, (name, b, n) in zip(pipeline.order, plan, strict=True):
        v = pipeline.stage(s).variant(name)
        out[s] = StageConfig(name, int(n), v.cores, int(b))
    return Config(out)


class IPAPolicy(ReplanningPolicy):
    """IPA: every ``interval_s`` choose variants, batches and replicas by the MILP.

    Parameters
    ----------
    pipeline : a chain whose stages list their variants (cores per replica = the variant's)
    sla_ms : the end-to-end SLA (ms)
    alpha, beta, gamma : the objective's weights (PAS, cores, batch sizes)
    batches : batch sizes to plan over (default :data:`~ssloserve.ipa.problem.DEFAULT_BATCHES`)
    max_replicas : replicas per stage at most
    replicas : fix the replicas (one count, or one per stage): only variants and batches
        move (the RIM-like baseline)
    pas_method : see :func:`~ssloserve.ipa.scores.pas`
    predictor : default IPA's LSTM (``LSTMPredictor.load()``, the shipped weights)
    interval_s, headroom, stabilisation_s, min_rate_rps, initial_rate_rps : as in
        :class:`~ssloserve.policies.ReplanningPolicy`
    sla_safety : plan against ``sla_safety * sla_ms`` (the planner has no queueing delay)

    Notes
    -----
    When no plan meets the SLA at the predicted rate it serves as fast as it can: the plan
    for the smallest feasible SLA (:class:`~ssloserve.errors.InfeasibleError`'s
    ``nearest_feasible``); when a stage cannot carry the rate at all, every stage runs its
    highest-throughput option on the most replicas allowed.

    Examples
    --------
    >>> import numpy as np
    >>> from ssloserve.ipa.pipelines import video
    >>> from ssloserve.predictors import MaxWindow
    >>> v = video(source="fallback")
    >>> pol = IPAPolicy(v.pipeline, v.sla_ms, v.alpha, v.beta, v.gamma, batches=v.batches,
    ...                 predictor=MaxWindow(30), headroom=1.0, initial_rate_rps=5.0)
    >>> [(s, c.variant, c.batch, c.replicas) for s, c in pol.initial().stages.items()]
    [('detect', 'yolov5n', 1, 1), ('classify', 'resnet50', 1, 1)]

    At 5 RPS one 1-core ResNet50 replica (157 ms, 6.4 RPS) carries the load, so the more
    accurate classifier costs nothing extra. At 30 RPS accuracy has to give way:

    >>> obs = Observation(t_s=10.0, rates_rps=np.full(10, 30.0), config=None)
    >>> [(s, c.variant, c.batch, c.replicas) for s, c in pol.decide(obs).stages.items()]
    [('detect', 'yolov5n', 1, 6), ('classify', 'resnet18', 2, 2)]
    """

    def __init__(
        self,
        pipeline: Pipeline,
        sla_ms: float,
        alpha: float = 2.0,
        beta: float = 1.0,
        gamma: float = 1e-6,
        batches: Sequence[int] | None = None,
        max_replicas: int = 100,
        replicas: int | Sequence[int] | None = None,
        pas_method: str = "multiply",
        predictor=None,
        interval_s: float = 10.0,
        headroom: float = 1.2,
        sla_safety: float = 0.8,
        stabilisation_s: float = 60.0,
        min_rate_rps: float = 1.0,
        initial_rate_rps: float | None = None,
    ):
        if not 0 < sla_safety <= 1:
            raise ValueError(f"sla_safety must be in (0, 1], got {sla_safety!r}")
        if not pipeline.is_chain():
            raise ValueError("IPA plans chains; this pipeline has a fork or a join")
        if predictor is None:
            from ..predictors import LSTMPredictor

            predictor = LSTMPredictor.load()
        self.pipeline, self.sla_ms, self.sla_safety = pipeline, float(sla_ms), sla_safety
        self.alpha, self.beta, self.gamma = alpha, beta, gamma
        self.batches = None if batches is None else [int(b) for b in batches]
        self.max_replicas, self.replicas, self.pas_method = max_replicas, replicas, pas_method
        self.stages = [list(pipeline.stage(s).variants) for s in pipeline.order]
        self._current: list | None = None
        self.infeasible_plans = (
            0  #: how often no plan met the SLA and it served as fast as it could
        )
        super().__init__(
            self._plan_at,
            predictor=predictor,
            headroom=headroom,
            stabilisation_s=stabilisation_s,
            interval_s=interval_s,
            min_rate_rps=min_rate_rps,
            initial_rate_rps=initial_rate_rps,
        )

    def _solve(self, rate: float, sla_ms: float) -> list:
        return solve_chain(
            self.stages,
            rate,
            sla_ms,
            self.alpha,
            self.beta,
            self.gamma,
            self.max_replicas,
            self._current,
            batches=self.batches,
            pas_method=self.pas_method,
            replicas=self.replicas,
        )

    def _plan_at(self, rate: float) -> Config:
        try:
            plan = self._solve(rate, self.sla_ms * self.sla_safety)
        except InfeasibleError as e:
            self.infeasible_plans += 1
            if e.constraint == "sla_ms":
                plan = self._solve(rate, e.nearest_feasible * (1 + 1e-9))
            else:
                plan = self._fastest(rate)
        return plan_config(self.pipeline, plan)

    def _fastest(self, rate: float) -> list:
        """Every stage's highest-throughput (variant, batch) on the most replicas allowed."""
        menu = as_menu(self.stages, self.batches)
        fixed = per_stage(self.replicas, len(menu))
        plan = []
        for items, n in zip(menu, fixed, strict=True):
            n = self.max_replicas if n is None else n
            opts = stage_options(items, 1e-9, n, n)  # every option, n replicas
            best = max(opts, key=lambda o: (o.batch / o.service_ms, -o.cost))
            plan.append((best.variant, best.batch, n))
        return plan

    def decide(self, obs: Observation) -> Config:
        cfg = super().decide(obs)
        self._current = [(c.variant, c.batch, c.replicas) for c in cfg.stages.values()]
        return cfg

    def initial(self, pipeline: Pipeline | None = None, slo_ms: float | None = None) -> Config:
        self._current = None
        cfg = super().initial(pipeline, slo_ms)
        self._current = [(c.variant, c.batch, c.replicas) for c in cfg.stages.values()]
        return cfg
