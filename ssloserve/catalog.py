"""The profile catalogue: the real latency grids, published fits and variant menus, each
with its source (PAPERS.md 0.1 and 3).

Chapters: 00_tour reads the Sponge grid; 01_fa2 and 03_ipa plan over :func:`video_variants`;
02_sponge and 04_biscale use the grids and fits.

It reads the real profiles under ``$SSLOSERVE_DATA/profiling`` (their public sources are in
``profiling/SOURCE.md``) into one tidy form (columns model, batch, cores, latency_ms and, where
the table has them, sla_ms, capacity_rps, saturation_rps):

- :func:`sponge_grid` -- Sponge's measured grid (saeid93/sponge), or a seeded synthetic twin;
- :func:`yolov5s_grid` -- a YOLOv5s p95 grid (reconfigurable-ml-pipeline/ipa);
- :func:`infadapter_capacity` and :func:`resnet_slowdown` -- InfAdapter's ResNet CPU capacities;
- :func:`biscale_latency_models` and :func:`biscale_settings` -- Biscale's published l(b, c)
  fits, SLOs and batch limits;
- :func:`accuracy_table` and :func:`accuracy_menu` -- IPA's published accuracies;
- :func:`video_variants` -- the video pipeline's variant menus built from all of the above.

A malformed table raises :class:`~ssloserve.errors.TraceFormatError` naming the file and the
line. The latency model itself is :mod:`ssloserve.latency`; a measured grid used as a
variant's latency is a :class:`~ssloserve.latency_table.LatencyTable`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .data import data_path, read_table
from .errors import ProfileError, TraceFormatError
from .latency import LatencyModel

__all__ = [
    "sponge_grid",
    "yolov5s_grid",
    "infadapter_capacity",
    "biscale_latency_models",
    "biscale_settings",
    "accuracy_table",
    "accuracy_menu",
    "resnet_slowdown",
    "video_variants",
    "VIDEO_FALLBACK",
    "SPONGE_PUBLISHED",
    "SPONGE_SYNTHETIC_SIGMA",
]

SPONGE_GRID = "profiling/sponge_latency_batch_cores.csv"
YOLOV5S_GRID = "profiling/yolov5s_p95_latency_batch_cores.csv"
INFADAPTER = "profiling/infadapter_resnet_cpu_capacity_Feb21.csv"
BISCALE = "profiling/biscale_latency_models.csv"
ACCURACIES = "profiling/ipa_model_variant_accuracies.yaml"


def _read(path, numeric: list[str], text: tuple[str, ...] = (), required=None) -> pd.DataFrame:
    """A checked table (:func:`~ssloserve.data.read_table`) with each row's line in ``_line``."""
    need = numeric if required is None else required
    df = read_table(path, numeric, text, required=need, line_column="_line")
    return df.astype({c: float for c in numeric})


def _grid(relpath: str, model: str, path=None) -> pd.DataFrame:
    p = Path(path) if path is not None else data_path(relpath)
    df = _read(p, ["batch_size", "cpu_cores", "latency_s"])
    bad = df.latency_s <= 0
    if bad.any():
        raise TraceFormatError("latency must be positive", path=p, line=int(df._line[bad].iloc[0]))
    bad = (df.batch_size < 1) | (df.batch_size != np.floor(df.batch_size))
    if bad.any():
        raise TraceFormatError(
            f"batch_size must be a whole number >= 1, got {df.batch_size[bad].iloc[0]:g}",
            path=p,
            line=int(df._line[bad].iloc[0]),
        )
    bad = df.cpu_cores <= 0
    if bad.any():
        raise TraceFormatError(
            "cpu_cores must be positive", path=p, line=int(df._line[bad].iloc[0])
        )
    return pd.DataFrame(
        {
            "model": model,
            "batch": df.batch_size.astype(int),
            "cores": df.cpu_cores.astype(float),
            "latency_ms": df.latency_s * 1000.0,
        }
    )


#: PAPERS.md 0.1's parameters for the Sponge grid (gamma, delta, epsilon, eta; ms), from which
#: :func:`sponge_grid`'s synthetic twin is drawn when the measured grid is absent.
SPONGE_PUBLISHED = (18.3, 4.5, 45.6, 1.5)

#: Spread of the synthetic twin around the published model: multiplicative log-normal noise
#: whose mean absolute error (about 12 %) is the real fit's MAPE (PAPERS.md 0.1).
SPONGE_SYNTHETIC_SIGMA = 0.15


def sponge_grid(path=None, source: str = "auto", seed: int = 0) -> pd.DataFrame:
    """Sponge's measured latency grid (b in 1-16, c in 1-32), ms, or its synthetic twin.

    The Sponge notebook does not label the model; its configs serve YOLOv5n (see
    ``profiling/SOURCE.md``), so ``model`` is ``"yolov5n (sponge)"``. Fitting it gives
    PAPERS.md 0.1's parameters (chapter 00_tour). Without the data, the same 30 points are
    drawn from the published model (:data:`SPONGE_PUBLISHED`) with seeded log-normal noise
    (:data:`SPONGE_SYNTHETIC_SIGMA`); ``model`` is then ``"yolov5n (synthetic)"``.

    Parameters
    ----------
    path : a CSV to read instead of ``$SSLOSERVE_DATA``'s (implies ``source="data"``)
    source : ``"auto"`` (the measured grid when present, else synthetic), ``"data"``
        (require it: :class:`~ssloserve.errors.DataNotFoundError` names its source) or
        ``"synthetic"``
    seed : seed of the synthetic twin (unused for the measured grid)

    Returns
    -------
    DataFrame with columns model, batch, cores, latency_ms (30 rows); ``.attrs["source"]``
    is ``"sponge"`` or ``"synthetic"``.

    Examples
    --------
    >>> syn = sponge_grid(source="synthetic")
    >>> syn.attrs["source"], len(syn), syn.model.iloc[0]
    ('synthetic', 30, 'yolov5n (synthetic)')
    >>> syn.equals(sponge_grid(source="synthetic", seed=0))
    True
    >>> from ssloserve.data import require_data
    >>> require_data(SPONGE_GRID)
    >>> g = sponge_grid()
    >>> g.attrs["source"]
    'sponge'
    >>> from ssloserve.latency_table import LatencyTable
    >>> m = LatencyTable.from_frame(g).fit()
    >>> print(round(m.gamma, 1), round(m.delta, 1), round(m.epsilon, 1), round(m.mape))
    18.3 4.5 45.7 13
    """
    from .data import has_data

    if source not in ("auto", "data", "synthetic"):
        raise ValueError(f"source must be 'auto', 'data' or 'synthetic', got {source!r}")
    if path is not None or source == "data" or (source == "auto" and has_data(SPONGE_GRID)):
        df = _grid(SPONGE_GRID, "yolov5n (sponge)", path)
        df.attrs["source"] = "sponge"
        return df
    rng = np.random.default_rng(seed)
    b, c = np.meshgrid([1, 2, 4, 8, 16], [1.0, 2.0, 4.0, 8.0, 16.0, 32.0], indexing="ij")
    model = LatencyModel(*SPONGE_PUBLISHED)
    noise = rng.lognormal(0.0, SPONGE_SYNTHETIC_SIGMA, size=b.size)
    df = pd.DataFrame(
        {
            "model": "yolov5n (synthetic)",
            "batch": b.ravel().astype(int),
            "cores": c.ravel(),
            "latency_ms": model.latency(b.ravel(), c.ravel()) * noise,
        }
    )
    df.attrs["source"] = "synthetic"
    return df


def yolov5s_grid(path=None) -> pd.DataFrame:
    """YOLOv5s p95 latency grid (b in 1-8, c in 1-16), ms; columns model, batch, cores, latency_ms.

    Examples
    --------
    >>> from ssloserve.data import require_data
    >>> require_data(YOLOV5S_GRID)
    >>> len(yolov5s_grid())
    20
    """
    return _grid(YOLOV5S_GRID, "yolov5s", path)


def infadapter_capacity(path=None) -> pd.DataFrame:
    """InfAdapter's ResNet CPU capacity table in tidy form (TF-Serving, batch 1, 1-20 cores).

    Returns
    -------
    DataFrame with columns model (``"resnet18"`` ...), batch, cores, sla_ms, latency_ms (the
    p99 at capacity; NaN when not even 1 RPS met the SLA), capacity_rps (highest RPS whose
    p99 meets the SLA) and saturation_rps (peak throughput). 400 rows.

    Examples
    --------
    >>> from ssloserve.data import require_data
    >>> require_data(INFADAPTER)
    >>> d = infadapter_capacity(); r = d[(d.model == "resnet18") & (d.sla_ms == 750)]
    >>> print(r.set_index("cores").capacity_rps[[1, 4, 8, 16]].tolist())
    [19.0, 90.0, 190.0, 385.0]
    """
    p = Path(path) if path is not None else data_path(INFADAPTER)
    cols = ["CPU", "ARCH", "BATCH", "SLA", "p99_latency", "capacity", "saturation_tp"]
    df = _read(p, cols, required=["CPU", "ARCH", "BATCH", "SLA", "capacity", "saturation_tp"])
    return pd.DataFrame(
        {
            "model": "resnet" + df.ARCH.astype(int).astype(str),
            "batch": df.BATCH.astype(int),
            "cores": df.CPU.astype(float),
            "sla_ms": df.SLA.astype(float),
            "latency_ms": df.p99_latency,
            "capacity_rps": df.capacity,
            "saturation_rps": df.saturation_tp,
        }
    )


def biscale_latency_models(path=None) -> dict[tuple[str, str], LatencyModel]:
    """Biscale's published l(b, c) fits, keyed by (pipeline, stage) (chapter 04_biscale).

    Examples
    --------
    >>> from ssloserve.data import require_data
    >>> require_data(BISCALE)
    >>> m = biscale_latency_models()[("video", "video-classifier")]
    >>> print(round(m.gamma, 1), round(m.parallel_fraction(1), 2))
    34.7 0.77
    """
    p = Path(path) if path is not None else data_path(BISCALE)
    df = _read(p, ["gamma", "delta", "epsilon", "eta"], text=("pipeline", "stage"))
    return {
        (r.pipeline, r.stage): LatencyModel(r.gamma, r.delta, r.epsilon, r.eta)
        for r in df.itertuples()
    }


def biscale_settings(path=None) -> dict[str, dict[str, float]]:
    """Per Biscale pipeline its SLO (ms) and maximum batch, from the same table.

    Examples
    --------
    >>> from ssloserve.data import require_data
    >>> require_data(BISCALE)
    >>> biscale_settings()["video"]
    {'slo_ms': 780.0, 'max_batch': 8}
    """
    p = Path(path) if path is not None else data_path(BISCALE)
    df = _read(p, ["slo_ms", "max_batch"], text=("pipeline",))
    return {
        r.pipeline: {"slo_ms": float(r.slo_ms), "max_batch": int(r.max_batch)}
        for r in df.itertuples()
    }


def _yaml_line(text: str, keys) -> int | None:
    """1-based line of the value under ``keys`` (a path of mapping keys) in a YAML text."""
    import yaml

    node = yaml.compose(text)
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            return None
        node = next((v for k, v in node.value if str(k.value) == str(key)), None)
        if node is None:
            return None
    return node.start_mark.line + 1


def accuracy_table(path=None) -> pd.DataFrame:
    """Every published accuracy in IPA's table, as published: pipeline, task, variant, value.

    Values keep IPA's units (percent; minus WER for speech recognition).

    Examples
    --------
    >>> from ssloserve.data import require_data
    >>> require_data(ACCURACIES)
    >>> d = accuracy_table(); print(d[d.variant == "yolov5s"].value.iloc[0])
    56.8
    """
    import yaml

    p = Path(path) if path is not None else data_path(ACCURACIES)
    text = p.read_text()
    try:
        doc = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark is not None else None
        raise TraceFormatError(f"not valid YAML: {e.problem}", path=p, line=line) from None
    if not isinstance(doc, dict):
        raise TraceFormatError("expected a mapping pipeline -> task -> variant -> value", path=p)
    rows = []
    for pipe, tasks in doc.items():
        if not isinstance(tasks or {}, dict):
            raise TraceFormatError(
                f"{pipe}: expected a mapping task -> variant -> value",
                path=p,
                line=_yaml_line(text, [pipe]),
            )
        for task, variants in (tasks or {}).items():
            if not isinstance(variants or {}, dict):
                raise TraceFormatError(
                    f"{pipe}/{task}: expected a mapping variant -> value",
                    path=p,
                    line=_yaml_line(text, [pipe, task]),
                )
            for var, val in (variants or {}).items():
                if not isinstance(val, int | float) or isinstance(val, bool):
                    raise TraceFormatError(
                        f"{pipe}/{task}/{var}: accuracy {val!r} is not a number",
                        path=p,
                        line=_yaml_line(text, [pipe, task, var]),
                    )
                rows.append((str(pipe), str(task), str(var), float(val)))
    return pd.DataFrame(rows, columns=["pipeline", "task", "variant", "value"])


def accuracy_menu(path=None) -> dict[str, dict[str, float]]:
    """Published accuracies of the video pipeline's menus, as fractions (chapter 03_ipa).

    ``detector``: YOLOv5 n/s/m/l/x COCO mAP; ``classifier``: ResNet 18/34/50/101/152
    ImageNet top-1; both in increasing accuracy.

    Examples
    --------
    >>> from ssloserve.data import require_data
    >>> require_data(ACCURACIES)
    >>> m = accuracy_menu(); print(m["detector"]["yolov5n"], m["classifier"]["resnet152"])
    0.457 0.7831
    """
    d = accuracy_table(path)
    video = d[d.pipeline == "video"]
    out = {}
    for key, task in (("detector", "crop"), ("classifier", "classification")):
        rows = video[video.task == task].sort_values("value")
        if rows.empty:
            raise TraceFormatError(f"no video/{task} accuracies", path=path or ACCURACIES)
        out[key] = {r.variant: round(r.value / 100.0, 6) for r in rows.itertuples()}
    return out


def resnet_slowdown(path=None) -> dict[str, float]:
    """How much slower each ResNet is than ResNet18, from InfAdapter's measurements.

    The ratio is ``saturation_rps(resnet18) / saturation_rps(resnetN)`` at the same cores
    and SLA, median over the 80 (cores, SLA) pairs.

    Examples
    --------
    >>> from ssloserve.data import require_data
    >>> require_data(INFADAPTER)
    >>> print({k: round(v, 2) for k, v in resnet_slowdown().items()})
    {'resnet18': 1.0, 'resnet34': 1.73, 'resnet50': 2.23, 'resnet101': 3.7, 'resnet152': 5.23}
    """
    d = infadapter_capacity(path)
    wide = d.pivot_table(index=["cores", "sla_ms"], columns="model", values="saturation_rps")
    ratio = wide.rdiv(wide["resnet18"], axis=0)
    order = sorted(ratio.columns, key=lambda m: int(m.removeprefix("resnet")))
    return {m: float(ratio[m].median()) for m in order}


#: What :func:`video_variants` uses when the profiling folder is absent: the published
#: Biscale fits and IPA accuracies (PAPERS.md 0.1 and 3) and the slowdowns that
#: :func:`resnet_slowdown` measures on InfAdapter's table, rounded to 2 decimals.
#: ``tests/test_catalog.py`` checks every number against the data files when present.
VIDEO_FALLBACK: dict[str, object] = {
    "detector_fit": (148.8171, 37.4937, 5.4329, -15.4759),
    "classifier_fit": (34.6933, 2.0581, 19.4788, 14.2594),
    "accuracy": {
        "detector": {
            "yolov5n": 0.457,
            "yolov5s": 0.568,
            "yolov5m": 0.641,
            "yolov5l": 0.673,
            "yolov5x": 0.689,
        },
        "classifier": {
            "resnet18": 0.6975,
            "resnet34": 0.7331,
            "resnet50": 0.7613,
            "resnet101": 0.7737,
            "resnet152": 0.7831,
        },
    },
    "slowdown": (1.0, 1.73, 2.23, 3.7, 5.23),
}


def video_variants(cores: float = 1.0, source: str = "auto"):
    """The video pipeline's variant menus (detector, classifier) with fitted latency models.

    Choice (chapter 03_ipa): the published Biscale fits for YOLOv5n and ResNet18 are the
    smallest variants. A bigger ResNet's model is ResNet18's with all four parameters
    multiplied by its measured slowdown (:func:`resnet_slowdown`, InfAdapter, TF-Serving on
    CPU). No public profile covers YOLOv5 m/l/x, so the k-th YOLOv5 variant borrows the
    k-th ResNet's slowdown (n 1.0, s 1.73, m 2.23, l 3.70, x 5.23). For comparison, the
    measured YOLOv5s grid is 3.3-6.2x slower than Sponge's (likely YOLOv5n) grid on other
    hardware, so the detector menu is, if anything, optimistic about the big variants.

    Parameters
    ----------
    cores : each variant's default cores per replica
    source : ``"auto"`` (the profiling tables when present, else :data:`VIDEO_FALLBACK`),
        ``"data"`` or ``"fallback"``

    Returns
    -------
    ``(detectors, classifiers)``: two lists of :class:`ssloserve.pipeline.Variant`, in
    increasing accuracy; accuracies from :func:`accuracy_menu`.

    Examples
    --------
    >>> det, cls = video_variants()
    >>> [v.name for v in det][-1], round(cls[0].latency_ms(1, 1), 1)
    ('yolov5x', 70.5)
    >>> round(video_variants(source="fallback")[1][4].latency_ms(1, 1) / 70.49, 2)
    5.23
    """
    from .data import has_data
    from .pipeline import Variant

    if source not in ("auto", "data", "fallback"):
        raise ValueError(f"source must be 'auto', 'data' or 'fallback', got {source!r}")
    if source == "data" or (source == "auto" and has_data("profiling")):
        acc = accuracy_menu()
        fits = biscale_latency_models()
        slow = list(resnet_slowdown().values())
        base = {
            "detector": fits[("video", "video-detector")],
            "classifier": fits[("video", "video-classifier")],
        }
    else:
        fb = VIDEO_FALLBACK
        acc = fb["accuracy"]
        slow = list(fb["slowdown"])
        base = {
            "detector": LatencyModel(*fb["detector_fit"]),
            "classifier": LatencyModel(*fb["classifier_fit"]),
        }
    out = []
    for key in ("detector", "classifier"):
        names = list(acc[key])
        if len(names) != len(slow):
            raise ProfileError(f"{key}: {len(names)} variants but {len(slow)} slowdown ratios")
        m0 = base[key]
        menu = []
        for (name, a), k in zip(acc[key].items(), slow, strict=True):
            lat = LatencyModel(m0.gamma * k, m0.delta * k, m0.epsilon * k, m0.eta * k)
            menu.append(Variant(name, a, lat, cores=cores))
        out.append(menu)
    return out[0], out[1]
