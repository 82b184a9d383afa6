"""The baseline policies and the re-planning loop the planners share (chapter 00_tour).

The contract (:class:`~ssloserve.policy.Policy`) and the fixed policy :class:`Static` live in
:mod:`ssloserve.policy`, below the runtime, which wraps a bare Config in ``Static``; both are
re-exported here with the baselines.

Baselines the papers compare against: :class:`Static` (fixed provisioning), :class:`HPA`
(Kubernetes' Horizontal Pod Autoscaler: a utilisation target, 10% tolerance, a scale-down
stabilisation window) and :class:`InferLine` (replicas from the peak rate of the last 30 s,
PAPERS.md section 4 baselines).

:class:`ReplanningPolicy` is the loop the planners share (FA2 in chapter 01_fa2): predict the
rate, add headroom, plan, scale in only after a stabilisation window.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import numpy as np

from .errors import PolicyError
from .latency import offered_load, replicas_needed
from .observation import Observation
from .pipeline import Config, Pipeline
from .policy import Policy, Static
from .predictors import MaxWindow

__all__ = ["Policy", "Static", "HPA", "InferLine", "baseline", "BASELINES", "ReplanningPolicy"]


def _check_args(policy: str, min_replicas: int, max_replicas: int, **ranges) -> None:
    """Raise :class:`PolicyError` naming the first argument out of range; ``ranges`` maps a
    name to ``(value, ok, what it must be)``."""
    for name, (v, ok, want) in ranges.items():
        if not ok:  # NaN fails every comparison, so it lands here too
            raise PolicyError(f"{policy} {name} must be {want}, got {v!r}")
    if not (isinstance(min_replicas, int) and isinstance(max_replicas, int)):
        raise PolicyError(
            f"{policy} min_replicas and max_replicas must be integers, "
            f"got {min_replicas!r}, {max_replicas!r}"
        )
    if not 0 <= min_replicas <= max_replicas:
        raise PolicyError(
            f"{policy} needs 0 <= min_replicas <= max_replicas, got {min_replicas}, {max_replicas}"
        )


def _base(config: Config | None, pipeline: Pipeline) -> Config:
    return config if config is not None else Config.default(pipeline)


class HPA:
    """A Kubernetes-HPA-like horizontal autoscaler (one per stage; variant, cores, batch fixed).

    Every ``interval_s`` (Kubernetes: 15 s) it reads each stage's CPU utilisation ``u``, the
    busy fraction of its ready replicas over the last interval, as the runtime measured it
    (``obs.utilisation[stage]``). Where the runtime gave no measurement it estimates
    ``u = min(1, lam * l(b, c) / (1000 * b * n))`` (the offered load of
    :func:`~ssloserve.latency.offered_load` over ``n``) with ``lam`` the mean arrival rate of the
    last interval (full batches assumed; a replica cannot be more than 100% busy, so under
    overload it sees 100%, as the real HPA does). Then it sets

        desired = ceil(n * u / target)

    unless ``|u / target - 1| <= tolerance`` (10%). Scaling up is limited to
    ``max(2 n, n + 4)`` per step (Kubernetes' default scale-up policy); scaling down takes the
    highest recommendation of the last ``stabilisation_s`` (300 s), so replicas leave slowly.

    Parameters
    ----------
    config : the starting config (variants, cores, batch, replicas); ``Config.default`` if None
    target : utilisation target in (0, 1]
    tolerance : relative band around the target with no change
    interval_s : sync period
    stabilisation_s : scale-down stabilisation window
    min_replicas, max_replicas : bounds per stage

    Examples
    --------
    >>> from ssloserve.pipeline import Pipeline, Stage, Variant, StageConfig
    >>> from ssloserve.latency import LatencyModel
    >>> p = Pipeline.chain(Stage("a", (Variant("x", 1.0, LatencyModel(0, 0, 0, 100.0)),)))
    >>> hpa = HPA(Config({"a": StageConfig("x", 2)}), target=0.5)
    >>> cfg = hpa.initial(p, 1000.0)
    >>> obs = Observation(15.0, np.full(15, 8.0), cfg, pipeline=p)   # 8 RPS x 0.1 s = 0.8 busy
    >>> hpa.decide(obs)["a"].replicas                                 # 2 x 0.4 / 0.5 -> 2
    2
    >>> obs = Observation(30.0, np.full(15, 16.0), cfg, pipeline=p)   # 0.8 busy each
    >>> hpa.decide(obs)["a"].replicas                                 # ceil(2 x 0.8 / 0.5)
    4

    A runtime that measured the busy fraction (here 75%, e.g. small batches that take longer
    per request than the estimate's full ones) is believed over the estimate:

    >>> hpa = HPA(Config({"a": StageConfig("x", 2)}), target=0.5); cfg = hpa.initial(p, 1000.0)
    >>> obs = Observation(15.0, np.full(15, 8.0), cfg, pipeline=p, utilisation={"a": 0.75})
    >>> hpa.utilisation(obs, "a"), hpa.decide(obs)["a"].replicas      # ceil(2 x 0.75 / 0.5)
    (0.75, 3)
    """

    def __init__(
        self,
        config: Config | None = None,
        target: float = 0.8,
        tolerance: float = 0.1,
        interval_s: float = 15.0,
        stabilisation_s: float = 300.0,
        min_replicas: int = 1,
        max_replicas: int = 1000,
    ):
        _check_args(
            "HPA",
            min_replicas,
            max_replicas,
            target=(target, 0 < target <= 1, "a utilisation in (0, 1]"),
            tolerance=(tolerance, tolerance >= 0, ">= 0"),
            interval_s=(interval_s, interval_s > 0, "> 0"),
            stabilisation_s=(stabilisation_s, stabilisation_s >= 0, ">= 0"),
        )
        self.config, self.target, self.tolerance = config, target, tolerance
        self.interval_s, self.stabilisation_s = interval_s, stabilisation_s
        self.min_replicas, self.max_replicas = min_replicas, max_replicas
        self._spec: dict[str, int] = {}
        self._history: dict[str, deque] = {}
        self._pipeline: Pipeline | None = None

    def initial(self, pipeline: Pipeline, slo_ms: float | None = None) -> Config:
        self._pipeline = pipeline
        cfg = _base(self.config, pipeline)
        self.config = cfg
        self._spec = {k: sc.replicas for k, sc in cfg.stages.items()}
        self._history = {k: deque() for k in cfg.stages}
        return cfg

    def utilisation(self, obs: Observation, stage: str) -> float:
        """Busy fraction of the stage's ready replicas: measured (``obs.utilisation``) when
        the runtime measured it, else estimated from the arrival rate (capped at 1)."""
        measured = getattr(obs, "utilisation", None) or {}
        u = measured.get(stage)
        if u is not None and math.isfinite(u):
            return min(1.0, max(0.0, float(u)))
        pipeline = obs.pipeline or self._pipeline
        sc = obs.config[stage]
        win = max(1, int(round(self.interval_s)))
        lam = float(np.mean(obs.rates_rps[-win:])) if len(obs.rates_rps) else 0.0
        n = max(sc.replicas, 1)
        l_ms = pipeline.stage(stage).variant(sc.variant).latency_ms(sc.batch, sc.cores)
        return min(1.0, offered_load(lam, l_ms, sc.batch) / n)

    def decide(self, obs: Observation) -> Config:
        if self.config is None:
            self.initial(obs.pipeline, obs.slo_ms)
        out = self.config
        for stage, base in self.config.stages.items():
            spec = self._spec.get(stage, base.replicas)
            ready = max(obs.config[stage].replicas, 1) if stage in obs.config.stages else spec
            u = self.utilisation(obs, stage)
            ratio = u / self.target
            desired = spec if abs(ratio - 1.0) <= self.tolerance else math.ceil(ready * ratio)
            desired = min(desired, max(2 * spec, spec + 4))
            hist = self._history.setdefault(stage, deque())
            hist.append((obs.t_s, desired))
            while hist and hist[0][0] < obs.t_s - self.stabilisation_s:
                hist.popleft()
            if desired < spec:  # scale down only to the highest recent recommendation
                desired = min(spec, max(d for _, d in hist))
            desired = int(min(max(desired, self.min_replicas), self.max_replicas))
            self._spec[stage] = desired
            out = out.with_stage(stage, replicas=desired)
        return out

    def __repr__(self) -> str:
        return f"HPA(target={self.target:g}, interval_s={self.interval_s:g})"


class InferLine:
    """An InferLine-like planner: replicas from the peak rate of the recent past.

    Every ``interval_s``, per stage (variant, cores and batch fixed)::

        replicas = ceil(max rate of the last window_s seconds / (h(b, c) * utilisation))

    with ``h(b, c) = 1000 b / l(b, c)`` the throughput of one replica (PAPERS.md, Biscale's
    baselines). Every request visits every stage, so each stage sees the same rate.

    Examples
    --------
    >>> from ssloserve.pipeline import Pipeline, Stage, Variant, StageConfig
    >>> from ssloserve.latency import LatencyModel
    >>> p = Pipeline.chain(Stage("a", (Variant("x", 1.0, LatencyModel(0, 0, 0, 100.0)),)))
    >>> il = InferLine(Config({"a": StageConfig("x", 1, 1.0, 1)}), utilisation=0.8)
    >>> cfg = il.initial(p, 1000.0)
    >>> rates = np.r_[np.full(60, 5.0), 30.0, np.full(29, 10.0)]    # a 30 RPS peak 29 s ago
    >>> il.decide(Observation(90.0, rates, cfg, pipeline=p))["a"].replicas   # 30 / (10 x 0.8)
    4
    """

    def __init__(
        self,
        config: Config | None = None,
        utilisation: float = 0.8,
        window_s: int = 30,
        interval_s: float = 1.0,
        min_replicas: int = 1,
        max_replicas: int = 1000,
    ):
        _check_args(
            "InferLine",
            min_replicas,
            max_replicas,
            utilisation=(utilisation, 0 < utilisation <= 1, "a utilisation in (0, 1]"),
            window_s=(window_s, window_s >= 1, ">= 1"),
            interval_s=(interval_s, interval_s > 0, "> 0"),
        )
        self.config, self.utilisation, self.window_s = config, utilisation, int(window_s)
        self.interval_s, self.min_replicas, self.max_replicas = (
            interval_s,
            min_replicas,
            max_replicas,
        )
        self._pipeline: Pipeline | None = None

    def initial(self, pipeline: Pipeline, slo_ms: float | None = None) -> Config:
        self._pipeline = pipeline
        self.config = _base(self.config, pipeline)
        return self.config

    def replicas_for(self, lam_rps: float, pipeline: Pipeline, stage: str) -> int:
        """ceil(lam / (h(b, c) * utilisation)) within the bounds
        (:func:`~ssloserve.latency.replicas_needed`; ``min_replicas`` at ``lam = 0``)."""
        sc = self.config[stage]
        l_ms = pipeline.stage(stage).variant(sc.variant).latency_ms(sc.batch, sc.cores)
        n = replicas_needed(
            lam_rps, l_ms, sc.batch, utilisation=self.utilisation, min_replicas=self.min_replicas
        )
        return int(min(n, self.max_replicas))

    def decide(self, obs: Observation) -> Config:
        pipeline = obs.pipeline or self._pipeline
        if self.config is None:
            self.initial(pipeline, obs.slo_ms)
        recent = obs.rates_rps[-self.window_s :]
        lam = float(np.max(recent)) if len(recent) else 0.0
        out = self.config
        for stage in self.config.stages:
            out = out.with_stage(stage, replicas=self.replicas_for(lam, pipeline, stage))
        return out

    def __repr__(self) -> str:
        return f"InferLine(utilisation={self.utilisation:g}, window_s={self.window_s})"


#: Names :func:`baseline` knows (with the aliases other modules use).
BASELINES = ("static", "hpa", "inferline")
_ALIASES = {"static peak": "static", "hpa-like": "hpa", "inferline-like": "inferline"}


def baseline(
    name: str,
    pipeline: Pipeline,
    slo_ms: float | None = None,
    rates_rps=None,
    config: Config | None = None,
    **kw,
):
    """A baseline policy by name, sized alike: ``"static"`` (replicas for the peak of
    ``rates_rps``), ``"hpa"`` / ``"HPA-like"`` and ``"inferline"`` / ``"InferLine-like"``
    (both starting with replicas for the first second's rate).

    Replica counts use InferLine's rule ``ceil(lam / (h(b, c) * 0.8))`` on ``config``
    (default: :meth:`Config.default`). ``kw`` goes to the policy's constructor.

    Examples
    --------
    >>> from ssloserve.pipeline import Stage, Variant
    >>> from ssloserve.latency import LatencyModel
    >>> p = Pipeline.chain(Stage("a", (Variant("x", 1.0, LatencyModel(0, 0, 0, 100.0)),)))
    >>> baseline("static", p, 1000.0, [4, 30, 8]).config["a"].replicas   # 30 / (10 x 0.8)
    4
    >>> type(baseline("HPA-like", p, 1000.0, [4, 30, 8])).__name__
    'HPA'
    """
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in BASELINES:
        raise PolicyError(f"unknown baseline {name!r}; choose one of {BASELINES}")
    cfg = _base(config, pipeline)
    rates = np.asarray([] if rates_rps is None else rates_rps, dtype=float)
    sizer = InferLine(cfg)
    sizer.initial(pipeline, slo_ms)

    def sized(lam):
        out = cfg
        for stage in cfg.stages:
            out = out.with_stage(stage, replicas=sizer.replicas_for(lam, pipeline, stage))
        return out

    if key == "static":
        return Static(sized(float(rates.max()) if len(rates) else 0.0), **kw)
    start = sized(float(rates[0]) if len(rates) else 0.0)
    return HPA(start, **kw) if key == "hpa" else InferLine(start, **kw)


class ReplanningPolicy:
    """Replan every interval for the predicted rate; scale out at once, scale in slowly.

    Every ``interval_s`` seconds it predicts the rate from the recent per-second rates,
    multiplies it by ``headroom`` (at least ``min_rate_rps``), calls ``planner(rate)`` and
    returns the most expensive recommendation of the last ``stabilisation_s`` seconds: a
    costlier plan is taken at once, a cheaper one only when every recommendation of the
    window agrees (Kubernetes-style downscale stabilisation; FA2 replans this way, PAPERS.md
    1). FA2 and the SLO-splitting baseline (:mod:`ssloserve.fa2.policy`) are this loop with
    their planner; other planners plug in the same way.

    Parameters
    ----------
    planner : rate (RPS) -> Config to run at that rate
    predictor : recent per-second rates -> rate to plan for: a callable or a
        :class:`ssloserve.predictors.Predictor`; default the max of the last 30 s
        (:class:`~ssloserve.predictors.MaxWindow`)
    headroom : multiply the predicted rate by this before planning (1.2: replicas run at
        most about 83% busy, InferLine's utilisation target, room for Poisson bursts)
    stabilisation_s : scale in only when every recommendation of this window is cheaper
    interval_s : adaptation interval (s)
    min_rate_rps : plan for at least this rate (an idle pipeline keeps its smallest config)
    initial_rate_rps : rate of the config at time 0 (default ``min_rate_rps``)

    Attributes
    ----------
    history : ``(t_s, config)`` recommendations of the current window

    Examples
    --------
    A planner that wants one core per 10 RPS:

    >>> from ssloserve.pipeline import StageConfig
    >>> per_10 = lambda lam: Config({"a": StageConfig("x", math.ceil(lam / 10))})
    >>> pol = ReplanningPolicy(per_10, headroom=1.0, stabilisation_s=30, interval_s=10)
    >>> pol.initial().cost
    1.0
    >>> ob = lambda t, r: Observation(t_s=t, rates_rps=np.array(r), config=None)
    >>> [pol.decide(ob(t, [r])).cost for t, r in [(10, 300), (20, 50), (30, 50), (40, 50)]]
    [30.0, 30.0, 30.0, 5.0]
    """

    def __init__(
        self,
        planner: Callable[[float], Config],
        predictor=None,
        headroom: float = 1.2,
        stabilisation_s: float = 60.0,
        interval_s: float = 5.0,
        min_rate_rps: float = 1.0,
        initial_rate_rps: float | None = None,
    ):
        for name, v, ok, want in (
            ("headroom", headroom, headroom > 0, "> 0"),
            ("stabilisation_s", stabilisation_s, stabilisation_s >= 0, ">= 0"),
            ("interval_s", interval_s, interval_s > 0, "> 0"),
            ("min_rate_rps", min_rate_rps, min_rate_rps >= 0, ">= 0"),
        ):
            if not ok:  # NaN fails every comparison, so it lands here too
                raise PolicyError(f"ReplanningPolicy {name} must be {want}, got {v!r}")
        self.planner = planner
        self.predictor = MaxWindow(window_s=30) if predictor is None else predictor
        self.headroom, self.stabilisation_s, self.interval_s = headroom, stabilisation_s, interval_s
        self.min_rate_rps, self.initial_rate_rps = min_rate_rps, initial_rate_rps
        self.history: list[tuple[float, Config]] = []

    def predict(self, rates_rps) -> float:
        """The predictor's rate for these recent per-second rates (0 with no history)."""
        r = np.asarray(rates_rps, dtype=float)
        if len(r) == 0:
            return 0.0
        f = getattr(self.predictor, "predict", self.predictor)  # a Predictor or a callable
        return float(f(r))

    def plan_for(self, rate_rps: float) -> Config:
        """The planner's config for ``max(min_rate_rps, headroom x rate_rps)``."""
        return self.planner(max(self.min_rate_rps, rate_rps * self.headroom))

    def initial(self, pipeline: Pipeline | None = None, slo_ms: float | None = None) -> Config:
        """The config at time 0, planned for ``initial_rate_rps`` (or ``min_rate_rps``)."""
        rate = self.initial_rate_rps if self.initial_rate_rps is not None else self.min_rate_rps
        cfg = self.plan_for(rate)
        self.history = [(0.0, cfg)]
        return cfg

    def decide(self, obs: Observation) -> Config:
        """Replan for the predicted rate; scale in only when the whole window agrees."""
        rec = self.plan_for(self.predict(obs.rates_rps))
        t = float(obs.t_s)
        self.history.append((t, rec))
        # the window is the last stabilisation_s seconds, and always holds this recommendation
        # (with stabilisation_s = 0 it is the only one: scale in at once)
        lo = t - self.stabilisation_s + 1e-9
        self.history = [(u, c) for u, c in self.history if u > lo or u >= t]
        # the most expensive recommendation of the window (the latest among equals)
        return max(self.history, key=lambda uc: (uc[1].cost, uc[0]))[1]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(headroom={self.headroom:g}, "
            f"stabilisation_s={self.stabilisation_s:g}, interval_s={self.interval_s:g})"
        )
