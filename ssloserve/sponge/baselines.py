"""The systems Sponge is compared with (PAPERS.md 2, baselines; chapter 02_sponge).

- :func:`horizontal_policy` -- FA2-style horizontal scaling with 1-core replicas: FA2's own
  policy (:class:`ssloserve.fa2.policy.FA2Policy`) with the menu restricted to 1 core per replica.
  Every scale-out starts a new replica, which serves only after its cold start.
- :func:`static_policy` -- a fixed replica: at the peak (``c_max`` cores, the paper's
  static 16) and at half of it (the paper's static 8).
- :class:`VPALikePolicy` -- a Kubernetes-VPA-like vertical scaler: the same decisions as
  Sponge, but a change of cores *recreates* the replica instead of resizing it in place.

How the VPA-like scaler recreates: the runtime resizes in place whenever a config keeps the
variant and changes the cores, and replaces the replica (a new process, a cold start) when
the variant changes (DESIGN.md's actuation table). So the stage carries a *twin* of its
variant, the same model under a second name (:func:`with_twin`), and every change of cores
switches between the two names. The runtime replaces replicas as a rolling update: the old
replica keeps serving with its old cores until the new one is ready, and both hold cores
meanwhile. Kubernetes' VPA in ``Recreate`` mode evicts the pod first, so with one replica it
also stops serving during the cold start; ours is the kinder variant of it, and pays the
cold start only as the delay before the new cores arrive (and the cores held twice).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import InfeasibleError, PolicyError
from ..fa2.graph import PlanOptions
from ..fa2.policy import FA2Policy
from ..observation import Observation
from ..pipeline import Config, Pipeline, Stage, StageConfig
from ..policies import Static
from .policy import SpongePolicy
from .solvers import solve, worst_case_ms

__all__ = [
    "TWIN_SUFFIX",
    "with_twin",
    "horizontal_policy",
    "static_policy",
    "VPALikePolicy",
]

#: The twin variant's name is the variant's name with this suffix.
TWIN_SUFFIX = " (recreated)"


def with_twin(pipeline: Pipeline) -> Pipeline:
    """The one-stage pipeline with a twin of its first variant (same model, name +
    :data:`TWIN_SUFFIX`) appended to the stage's menu, for :class:`VPALikePolicy`.

    Policies that use the stage's first variant (all others here) are unaffected.

    Examples
    --------
    >>> from ssloserve.latency import LatencyModel
    >>> from ssloserve.pipeline import Variant
    >>> p = Pipeline.chain(Stage("detect", (Variant("yolov5", 0.5, LatencyModel(1, 1, 1, 1)),)))
    >>> [v.name for v in with_twin(p).stage("detect").variants]
    ['yolov5', 'yolov5 (recreated)']
    """
    if len(pipeline) != 1:
        raise PolicyError("Sponge's systems serve one model: expected a one-stage pipeline")
    st = pipeline.stage(pipeline.order[0])
    v = st.variants[0]
    if any(x.name == v.name + TWIN_SUFFIX for x in st.variants):
        return pipeline
    twin = replace(v, name=v.name + TWIN_SUFFIX)
    return Pipeline.chain(Stage(st.name, (*st.variants, twin), max_batch=st.max_batch))


def horizontal_policy(
    pipeline: Pipeline, slo_ms: float, cl_max_ms: float = 0.0, replica_cores: float = 1.0, **kw
) -> FA2Policy:
    """FA2-style horizontal scaling with 1-core replicas (the paper's foil).

    :class:`~ssloserve.fa2.policy.FA2Policy` with ``cores_options=[replica_cores]`` (1 core;
    at this machine's scale the smallest step of the core grid) and the stage's first
    variant, planning against the budget left after the worst upload, ``slo_ms -
    cl_max_ms`` (FA2 knows one SLO, not each request's budget). ``kw`` goes to
    ``FA2Policy`` (interval, stabilisation, predictor, headroom, SLO safety factor; its
    defaults are chapter 01's).

    Examples
    --------
    >>> from ssloserve.latency import LatencyModel
    >>> from ssloserve.pipeline import Variant
    >>> p = Pipeline.chain(Stage("detect", (Variant("yolov5", 0.5, LatencyModel(18.3, 4.5, 45.7, 1.5)),)))
    >>> pol = horizontal_policy(p, 1000.0, 474.0, initial_rate_rps=20.0)
    >>> pol.initial(p, 1000.0)["detect"]        # 24 RPS (headroom 1.2) in 0.8 x 526 ms
    StageConfig(variant='yolov5', replicas=1, cores=1.0, batch=3)
    """
    first = pipeline.stage(pipeline.order[0]).variants[0].name
    opts = PlanOptions(variants={pipeline.order[0]: first}, cores_options=[float(replica_cores)])
    return FA2Policy(pipeline, slo_ms - cl_max_ms, options=opts, **kw)


def static_policy(
    pipeline: Pipeline,
    cores: float,
    rate_rps: float,
    slo_ms: float,
    cl_max_ms: float = 0.0,
    b_max: int = 16,
    margin: float = 0.9,
) -> Static:
    """One replica with ``cores`` cores for the whole run, with the batch size Sponge's
    worst-case solver picks at those cores for ``rate_rps`` (the peak); when none meets the
    SLO there, the batch with the smallest worst-case latency.

    Examples
    --------
    >>> from ssloserve.latency import LatencyModel
    >>> from ssloserve.pipeline import Variant
    >>> p = Pipeline.chain(Stage("detect", (Variant("yolov5", 0.5, LatencyModel(18.3, 4.5, 45.7, 1.5)),)))
    >>> static_policy(p, 16, 20.0, 1000.0, 474.0).config["detect"]
    StageConfig(variant='yolov5', replicas=1, cores=16.0, batch=1)
    """
    stage = pipeline.order[0]
    model = pipeline.stage(stage).variants[0].latency
    try:
        _, b = solve(model, rate_rps, slo_ms, cl_max_ms, b_max=b_max, margin=margin, cores=[cores])
    except InfeasibleError:
        b = 1 + int(np.argmin(worst_case_ms(model, rate_rps, cl_max_ms, b_max, cores=[cores])))
    name = pipeline.stage(stage).variants[0].name
    return Static(Config({stage: StageConfig(name, 1, float(cores), int(b))}), interval_s=1.0)


class VPALikePolicy(SpongePolicy):
    """A VPA-like vertical scaler: Sponge's decisions, applied by recreating the replica.

    Each interval it solves as :class:`~ssloserve.sponge.policy.SpongePolicy` does (same
    parameters). A new batch size applies at once (the next batch). A new core count
    switches the stage to the twin variant (:func:`with_twin`) with those cores: the
    runtime starts a new replica (a cold start) and retires the old one once the new one is
    ready. No further change of cores is asked while a replacement is under way (the
    config in force still serves the old name), as VPA waits for its pod to be recreated.

    Examples
    --------
    >>> from ssloserve.latency import LatencyModel
    >>> from ssloserve.pipeline import Variant
    >>> p = with_twin(Pipeline.chain(Stage("detect", (Variant("yolov5", 0.5, LatencyModel(18.3, 4.5, 45.7, 1.5)),))))
    >>> vpa = VPALikePolicy(slo_ms=1000.0); cfg = vpa.initial(p, 1000.0)
    >>> obs = Observation(1.0, np.array([40.0]), cfg, budgets_ms=np.zeros(0))
    >>> new = vpa.decide(obs)["detect"]; new.variant, new.cores
    ('yolov5 (recreated)', 2.0)
    >>> vpa.decide(Observation(2.0, np.array([80.0]), cfg))["detect"].cores  # still starting
    2.0
    """

    def initial(self, pipeline: Pipeline | None = None, slo_ms: float | None = None) -> Config:
        cfg = super().initial(pipeline, slo_ms)
        names = [v.name for v in pipeline.stage(self.stage).variants]
        twin = self.variant.name + TWIN_SUFFIX
        if twin not in names:
            raise PolicyError(
                f"VPALikePolicy needs the twin variant {twin!r}: use with_twin(pipeline)"
            )
        self._names = (self.variant.name, twin)
        self._asked = cfg[self.stage]
        return cfg

    def decide(self, obs: Observation) -> Config:
        want = super().decide(obs)[self.stage]
        asked = self._asked
        in_force = obs.config[self.stage] if obs.config is not None else asked
        settled = in_force.variant == asked.variant
        if settled and abs(want.cores - asked.cores) > 1e-9:
            other = self._names[1] if asked.variant == self._names[0] else self._names[0]
            asked = StageConfig(other, 1, want.cores, want.batch)
        else:
            asked = replace(asked, batch=want.batch)
        self._asked = asked
        return Config({self.stage: asked})

    def __repr__(self) -> str:
        return "VPALike" + super().__repr__()
