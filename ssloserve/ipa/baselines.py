"""The systems IPA is compared with (PAPERS.md 3, baselines; chapter 03_ipa).

- **FA2-low** and **FA2-high**: fixed variants (YOLOv5n + ResNet18, YOLOv5s + ResNet101 in
  the video pipeline), scaled by FA2's own planner (:class:`ssloserve.fa2.policy.FA2Policy`
  with the variants fixed in its :class:`~ssloserve.fa2.graph.PlanOptions`): they choose
  batch sizes and replicas, never the variant;
- **RIM-like**: switch variants only, resources fixed. The replicas and their cores are
  FA2-high's plan at the peak rate of the run (a provisioning that carries the peak with the
  high variants); every interval it takes the most accurate variants (then the smallest
  batches) that these replicas, on these cores, still carry within the SLA:
  :class:`~ssloserve.ipa.policy.IPAPolicy` on the pipeline with every variant of a stage
  moved to the stage's fixed cores, with ``replicas`` fixed and ``beta = 0`` (the
  provisioning is paid for whatever runs on it).

For a pipeline other than the video one, "low" is each stage's least accurate variant and
"high" its most accurate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from ..fa2.graph import PlanOptions
from ..fa2.plan import plan
from ..fa2.policy import FA2Policy
from ..pipeline import Pipeline, Stage
from .pipelines import IPAPipeline
from .policy import IPAPolicy

__all__ = [
    "FA2_HIGH",
    "low_variants",
    "high_variants",
    "fa2_fixed",
    "fa2_low",
    "fa2_high",
    "rim_like",
]

#: FA2-high's variants where the paper names them.
FA2_HIGH = {"video": {"detect": "yolov5s", "classify": "resnet101"}}


def low_variants(ipa: IPAPipeline) -> dict[str, str]:
    """Each stage's least accurate variant.

    Examples
    --------
    >>> from ssloserve.ipa.pipelines import video
    >>> low_variants(video(source="fallback"))
    {'detect': 'yolov5n', 'classify': 'resnet18'}
    """
    p = ipa.pipeline
    return {s: min(p.stage(s).variants, key=lambda v: v.accuracy).name for s in p.order}


def high_variants(ipa: IPAPipeline) -> dict[str, str]:
    """FA2-high's variants: the paper's for the video pipeline, else the most accurate.

    Examples
    --------
    >>> from ssloserve.ipa.pipelines import nlp
    >>> list(high_variants(nlp(source="fallback")).values())[-1]
    'sshleifer-distilbart-xsum-12-6'
    """
    if ipa.name in FA2_HIGH:
        return dict(FA2_HIGH[ipa.name])
    p = ipa.pipeline
    return {s: max(p.stage(s).variants, key=lambda v: v.accuracy).name for s in p.order}


def _fa2_kw(kw: dict) -> dict:
    out = dict(kw)
    if "sla_safety" in out:
        out["slo_safety"] = out.pop("sla_safety")
    out.setdefault("interval_s", 10.0)
    return out


def fa2_fixed(ipa: IPAPipeline, variants: Mapping[str, str], **kw) -> FA2Policy:
    """FA2 on fixed variants: it chooses batches and replicas only (scale only).

    ``kw`` goes to :class:`~ssloserve.fa2.policy.FA2Policy` (``sla_safety`` is accepted as
    its ``slo_safety``); the interval defaults to IPA's 10 s.

    Examples
    --------
    >>> from ssloserve.ipa.pipelines import video
    >>> from ssloserve.predictors import MaxWindow
    >>> v = video(source="fallback")
    >>> pol = fa2_fixed(v, high_variants(v), predictor=MaxWindow(30), initial_rate_rps=5.0)
    >>> sorted((c.variant for c in pol.initial().stages.values()), reverse=True)
    ['yolov5s', 'resnet101']
    """
    opts = PlanOptions(variants=dict(variants), batches=ipa.batches)
    return FA2Policy(ipa.pipeline, ipa.sla_ms, options=opts, **_fa2_kw(kw))


def fa2_low(ipa: IPAPipeline, **kw) -> FA2Policy:
    """FA2-low: :func:`fa2_fixed` on :func:`low_variants`."""
    return fa2_fixed(ipa, low_variants(ipa), **kw)


def fa2_high(ipa: IPAPipeline, **kw) -> FA2Policy:
    """FA2-high: :func:`fa2_fixed` on :func:`high_variants`."""
    return fa2_fixed(ipa, high_variants(ipa), **kw)


def rim_like(ipa: IPAPipeline, rates_rps, headroom: float = 1.2, sla_safety: float = 0.8, **kw):
    """RIM-like: replicas and cores fixed at FA2-high's plan for the peak of ``rates_rps``;
    switches to the most accurate variants they carry (IPA's objective with ``beta = 0``).

    Examples
    --------
    >>> from ssloserve.ipa.pipelines import video
    >>> from ssloserve.predictors import MaxWindow
    >>> v = video(source="fallback")
    >>> pol = rim_like(v, [5, 30, 12], predictor=MaxWindow(30), initial_rate_rps=5.0)
    >>> pol.replicas == [c.replicas for c in plan(v.pipeline, 36.0, 624.0,
    ...     variants=high_variants(v), batches=v.batches).stages.values()]
    True
    """
    peak = max(float(np.max(np.asarray(rates_rps, dtype=float))), 1.0) * headroom
    fixed = plan(
        ipa.pipeline,
        peak,
        ipa.sla_ms * sla_safety,
        PlanOptions(variants=high_variants(ipa), batches=ipa.batches),
    )
    replicas = [fixed[s].replicas for s in ipa.pipeline.order]
    stages = [
        Stage(s, tuple(replace(v, cores=fixed[s].cores) for v in st.variants), st.max_batch)
        for s, st in ((s, ipa.pipeline.stage(s)) for s in ipa.pipeline.order)
    ]
    return IPAPolicy(
        Pipeline.chain(*stages),
        ipa.sla_ms,
        ipa.alpha,
        0.0,
        ipa.gamma,
        batches=ipa.batches,
        replicas=replicas,
        headroom=headroom,
        sla_safety=sla_safety,
        **kw,
    )
