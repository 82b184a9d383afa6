"""The pipelines IPA adapts, with the source of every number (PAPERS.md 3; chapter 03_ipa).

- :func:`video` -- object detection (YOLOv5 n/s/m/l/x) then classification (ResNet
  18/34/50/101/152), published accuracies (:func:`~ssloserve.catalog.accuracy_menu`) and
  the latency models of :func:`~ssloserve.catalog.video_variants`;
- :func:`nlp` -- the thesis' three-stage NLP pipeline: language identification, then
  French-to-English translation (2 variants), then summarisation (6 variants), latencies
  from IPA's own profiles (:mod:`ssloserve.ipa.profiles`) on the shape of Biscale's
  published fits of the same stages.

Every menu entry says where its latency model comes from (``menu["source"]``):

- ``"published fit"``: Biscale's fitted l(b, c) for that stage, as published;
- ``"fitted"``: A / c + B fitted to IPA's batch-1 measurements over several core counts,
  split into l(b, c)'s four terms in the proportions of the stage's published fit (IPA
  measured no usable batch > 1: see profiles.py);
- ``"scaled"``: another model multiplied by a measured ratio (one point, or a slowdown);
- ``"fallback"``: the same, from constants transcribed in this module (:data:`NLP_FALLBACK`)
  because the profiling folder is absent; the tests check them against the files.

Cores per replica are IPA's base allocation (:func:`~ssloserve.ipa.allocation.base_allocation`)
for an equal share of the SLA per stage. The SLA and the largest batch are Biscale's for the
same pipeline (:func:`~ssloserve.catalog.biscale_settings`): the shared data holds no IPA
SLA. The weights are PAPERS.md 3's (video alpha 2, beta 1; others alpha 10, beta 0.5;
gamma 1e-6).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..catalog import (
    accuracy_table,
    biscale_latency_models,
    biscale_settings,
    video_variants,
)
from ..data import has_data
from ..latency import LatencyModel
from ..pipeline import Pipeline, Stage, Variant
from .allocation import base_allocation, with_cores
from .profiles import IPA_PROFILES, batch1_points, fit_batch1, ipa_profiles

__all__ = ["IPAPipeline", "video", "nlp", "PIPELINES", "NLP_FALLBACK", "split_like"]


@dataclass(frozen=True)
class IPAPipeline:
    """A pipeline with its menus, SLA, weights and the source of every menu entry.

    Attributes
    ----------
    name, pipeline : the pipeline's name and :class:`~ssloserve.pipeline.Pipeline` (each
        stage's variants in increasing accuracy, the least accurate first)
    sla_ms, max_batch : end-to-end SLA (ms) and the largest batch
    alpha, beta, gamma : IPA's weights
    menu : one row per variant: stage, variant, accuracy, cores, source, detail, l11_ms
        (latency at batch 1 on 1 core)
    """

    name: str
    pipeline: Pipeline
    sla_ms: float
    max_batch: int
    alpha: float
    beta: float
    gamma: float
    menu: pd.DataFrame

    @property
    def stages(self) -> list[list[Variant]]:
        """Per stage its variants, the ``stages`` argument of :func:`~ssloserve.ipa.milp.solve_chain`."""
        return [list(self.pipeline.stage(s).variants) for s in self.pipeline.order]

    @property
    def batches(self) -> list[int]:
        """Batch sizes to plan over: powers of two up to ``max_batch``."""
        return [b for b in (1, 2, 4, 8, 16, 32, 64) if b <= self.max_batch]


def _build(name, stages, sla_ms, max_batch, weights, rows, min_rps) -> IPAPipeline:
    built, table = [], []
    for stage_name, variants in stages:
        alloc = base_allocation(variants, sla_ms / len(stages), min_rps, batches=[1, 2, 4, 8])
        variants = sorted(with_cores(variants, alloc), key=lambda v: v.accuracy)
        built.append(Stage(stage_name, tuple(variants), max_batch=max_batch))
        for v in variants:
            src, detail = rows[v.name]
            table.append(
                dict(
                    stage=stage_name,
                    variant=v.name,
                    accuracy=v.accuracy,
                    cores=v.cores,
                    source=src,
                    detail=detail,
                    l11_ms=round(float(v.latency.latency(1, 1)), 3),
                )
            )
    return IPAPipeline(
        name, Pipeline.chain(*built), float(sla_ms), int(max_batch), *weights, pd.DataFrame(table)
    )


def video(source: str = "auto") -> IPAPipeline:
    """The video pipeline: YOLOv5 n-x then ResNet 18-152 (chapter 03_ipa).

    Examples
    --------
    >>> p = video(source="fallback")
    >>> p.pipeline.order, p.sla_ms, [v.name for v in p.stages[0]][:2]
    (('detect', 'classify'), 780.0, ['yolov5n', 'yolov5s'])
    >>> p.menu.set_index("variant").loc[["yolov5n", "resnet101"], ["cores", "source"]]
               cores    source
    variant
    yolov5n        1  fallback
    resnet101      2  fallback
    """
    data = source == "data" or (source == "auto" and has_data("profiling"))
    det, cls = video_variants(cores=1.0, source="data" if data else "fallback")
    sla, max_batch = (780.0, 8)
    if data:
        st = biscale_settings()["video"]
        sla, max_batch = st["slo_ms"], st["max_batch"]
    rows = {}
    for menu, base, what in (
        (det, "video-detector", "YOLOv5"),
        (cls, "video-classifier", "ResNet"),
    ):
        for k, v in enumerate(menu):
            if not data:
                rows[v.name] = ("fallback", "catalog.VIDEO_FALLBACK (no profiling folder)")
            elif k == 0:
                rows[v.name] = ("published fit", f"Biscale's {base} fit")
            else:
                k_ = v.latency.eta / menu[0].latency.eta
                rows[v.name] = (
                    "scaled",
                    f"{menu[0].name}'s fit x {k_:.2f}, InfAdapter's measured slowdown of "
                    f"{cls[k].name} against resnet18"
                    + (" (no public profile of this YOLOv5 variant)" if what == "YOLOv5" else ""),
                )
    return _build(
        "video",
        [("detect", det), ("classify", cls)],
        sla,
        max_batch,
        (2.0, 1.0, 1e-6),
        rows,
        4.0,
    )


#: What :func:`nlp` uses without the profiling folder: numbers transcribed from
#: ``biscale_latency_models.csv`` (fits, SLO, batch), ``ipa_model_variant_accuracies.yaml``
#: (percent) and ``ipa_profiles_nlp.csv`` (batch-1 mean latencies, ms, by cores);
#: tests/test_ipa_pipelines.py checks every number against the files.
NLP_FALLBACK: dict = {
    "sla_ms": 2550.0,
    "max_batch": 4,
    "fits": {
        "language-identification": (21.3687, 1.557, 53.7852, 27.7755),
        "translation": (304.5961, 74.0867, -13.4689, 11.6306),
        "summarizer": (263.9359, 83.6377, -1.0068, 23.5739),
    },
    "accuracy": {
        "nlp-li": {"dinalzein-xlm-roberta-base-finetuned-language-identification": 99.59},
        "nlp-trans": {
            "Helsinki-NLP-opus-mt-fr-en": 33.1,
            "Helsinki-NLP-opus-mt-tc-big-fr-en": 34.4,
        },
        "nlp-sum": {
            "sshleifer-distilbart-xsum-1-1": 32.26,
            "sshleifer-distilbart-xsum-12-1": 33.37,
            "sshleifer-distilbart-xsum-6-6": 35.73,
            "sshleifer-distilbart-xsum-12-3": 36.39,
            "sshleifer-distilbart-xsum-9-6": 36.61,
            "sshleifer-distilbart-xsum-12-6": 36.99,
        },
    },
    "batch1": {
        "dinalzein-xlm-roberta-base-finetuned-language-identification": (
            (1, 2, 4, 8, 16, 32),
            (87.216, 60.652, 35.731, 24.719, 18.553, 17.842),
        ),
        "Helsinki-NLP-opus-mt-fr-en": ((2, 4, 8, 16), (507.195, 320.223, 230.016, 230.074)),
        "Helsinki-NLP-opus-mt-tc-big-fr-en": ((2, 4, 8, 16), (1154.446, 660.415, 413.068, 299.84)),
        "sshleifer-distilbart-xsum-1-1": ((2,), (100.258,)),
        "sshleifer-distilbart-xsum-12-1": ((2,), (197.188,)),
        "sshleifer-distilbart-xsum-6-6": ((2,), (238.308,)),
        "sshleifer-distilbart-xsum-12-3": ((2,), (235.139,)),
        "sshleifer-distilbart-xsum-9-6": ((2,), (267.117,)),
        "sshleifer-distilbart-xsum-12-6": ((2,), (301.662,)),
    },
}
_NLP_STAGES = (
    ("identify", "nlp-li", "language-identification"),
    ("translate", "nlp-trans", "translation"),
    ("summarise", "nlp-sum", "summarizer"),
)


def split_like(a_ms: float, b_ms: float, shape: LatencyModel) -> LatencyModel:
    """l(b, c) with ``l(1, c) = A / c + B``, split into its four terms like ``shape``.

    ``gamma : epsilon`` as in ``shape`` (the parallel part, A = gamma + epsilon) and
    ``delta : eta`` likewise (the serial part, B = delta + eta), so the batch-1 latencies
    are the fitted ones and batching behaves like the published model.

    Examples
    --------
    >>> m = split_like(100.0, 20.0, LatencyModel(30.0, 3.0, 10.0, 1.0))
    >>> round(m.latency(1, 4), 6), round(m.gamma, 6), round(m.delta, 6)
    (45.0, 75.0, 15.0)
    """
    par = shape.gamma + shape.epsilon
    ser = shape.delta + shape.eta
    return LatencyModel(
        a_ms * shape.gamma / par,
        b_ms * shape.delta / ser,
        a_ms * shape.epsilon / par,
        b_ms * shape.eta / ser,
    )


def nlp(source: str = "auto") -> IPAPipeline:
    """The NLP pipeline: language identification, translation, summarisation (chapter 03_ipa).

    Accuracies are IPA's published scores as fractions (accuracy, BLEU, ROUGE-L; PAS
    multiplies them as IPA does). Latencies: IPA's batch-1 means (series 97-99, the ones its
    final configs read) fitted as A / c + B where a variant has two or more core counts and
    split like Biscale's fit of the stage (``"fitted"``); the summarisers, measured on 2 cores
    only, are Biscale's summariser fit scaled to the measured point (``"scaled"``).

    Examples
    --------
    >>> p = nlp(source="fallback")
    >>> p.pipeline.order, [len(s) for s in p.stages], p.sla_ms
    (('identify', 'translate', 'summarise'), [1, 2, 6], 2550.0)
    >>> sorted(set(p.menu.source))
    ['fallback']
    """
    data = source == "data" or (source == "auto" and has_data(IPA_PROFILES["nlp"]))
    fb = NLP_FALLBACK
    if data:
        fits = {k[1]: m for k, m in biscale_latency_models().items() if k[0] == "nlp"}
        st = biscale_settings()["nlp"]
        sla, max_batch = st["slo_ms"], st["max_batch"]
        acc = accuracy_table()
        acc = acc[acc.pipeline == "nlp"]
        accuracy = {t: dict(zip(g.variant, g.value, strict=True)) for t, g in acc.groupby("task")}
        prof = ipa_profiles("nlp")
    else:
        fits = {k: LatencyModel(*v) for k, v in fb["fits"].items()}
        sla, max_batch, accuracy = fb["sla_ms"], fb["max_batch"], fb["accuracy"]
    stages, rows = [], {}
    for stage, task, fit_name in _NLP_STAGES:
        shape = fits[fit_name]
        variants = []
        for name, pct in accuracy[task].items():
            if data:
                c, ms, stat = batch1_points(prof, task, name)
            else:
                c, ms = fb["batch1"][name]
                stat = "mean"
            if len(set(c)) >= 2:
                a, b, mape = fit_batch1(c, ms)
                model = split_like(a, b, shape)
                how = "fitted"
                detail = (
                    f"A/c+B on IPA's {len(c)} batch-1 {stat} latencies (MAPE {mape:.1f}%), "
                    f"split like Biscale's {fit_name} fit"
                )
            else:
                k = float(ms[0]) / float(shape.latency(1, c[0]))
                model = LatencyModel(
                    shape.gamma * k, shape.delta * k, shape.epsilon * k, shape.eta * k
                )
                how = "scaled"
                detail = (
                    f"Biscale's {fit_name} fit x {k:.3f}, IPA's one batch-1 {stat} point on "
                    f"{c[0]:g} cores"
                )
            rows[name] = (how if data else "fallback", detail)
            variants.append(Variant(name, round(pct / 100.0, 6), model))
        stages.append((stage, variants))
    return _build("nlp", stages, sla, max_batch, (10.0, 0.5, 1e-6), rows, 2.0)


#: The pipelines by name.
PIPELINES = {"video": video, "nlp": nlp}
