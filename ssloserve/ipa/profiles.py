"""IPA's own profiling tables, read and fitted (PAPERS.md 0.1 and 3; chapter 03_ipa).

``profiling/ipa_profiles_{video,audio-qa,nlp}.csv`` are the rows IPA's notebooks printed of
its single-node profiler: one variant in one MLServer pod, ``batch`` the *maximum* batch of
an adaptive batcher, ``cores`` the CPU request, a constant load. SOURCE.md has the details;
two matter here:

- with adaptive batching at 10-20 RPS the served batches are smaller than ``batch`` (at
  20 RPS an 8-batch takes 350 ms to arrive, yet ``batch = 8`` on 32 cores shows 40 ms), so
  only the ``batch = 1`` rows measure l(1, c);
- the statistic differs by series (the p99 where printed, else the mean).

:func:`ipa_profiles` reads a table (checked, errors name file and line); :func:`batch1_points`
picks one variant's batch-1 points; :func:`fit_batch1` fits ``l(1, c) = A / c + B``, which is
the latency model of PAPERS.md 0.1 at b = 1 (A = gamma + epsilon, B = delta + eta).
(This reader lives here rather than in :mod:`ssloserve.catalog`, which is near its 500 lines.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..data import data_path, read_table
from ..errors import ProfileError, TraceFormatError

__all__ = ["IPA_PROFILES", "ipa_profiles", "batch1_points", "fit_batch1"]

#: The profile table of each IPA pipeline, relative to ``$SSLOSERVE_DATA``.
IPA_PROFILES = {
    "video": "profiling/ipa_profiles_video.csv",
    "audio-qa": "profiling/ipa_profiles_audio-qa.csv",
    "nlp": "profiling/ipa_profiles_nlp.csv",
}
_NUMERIC = [
    "batch",
    "cores",
    "load_rps",
    "latency_avg_ms",
    "latency_p99_ms",
    "latency_p95_ms",
    "series",
]


def ipa_profiles(pipeline: str, path=None) -> pd.DataFrame:
    """One of IPA's profile tables, checked (chapter 03_ipa).

    Parameters
    ----------
    pipeline : ``"video"``, ``"audio-qa"`` or ``"nlp"``
    path : read this file instead of the one under ``$SSLOSERVE_DATA``

    Returns
    -------
    DataFrame with the file's columns (numbers as floats) and ``_line``, each row's line.

    Examples
    --------
    >>> from ssloserve.data import require_data
    >>> require_data(IPA_PROFILES["nlp"])
    >>> d = ipa_profiles("nlp"); len(d), sorted(d.stage.unique())
    (57, ['nlp-li', 'nlp-sum', 'nlp-trans'])
    """
    if pipeline not in IPA_PROFILES:
        raise ValueError(f"unknown IPA pipeline {pipeline!r}; choose one of {list(IPA_PROFILES)}")
    p = Path(path) if path is not None else data_path(IPA_PROFILES[pipeline])
    df = read_table(
        p,
        _NUMERIC,
        text=("stage", "variant"),
        required=["batch", "cores", "series"],
        line_column="_line",
    )
    df = df.astype({c: float for c in _NUMERIC})
    for col, ok, want in (
        ("batch", (df.batch >= 1) & (df.batch == np.floor(df.batch)), "a whole number >= 1"),
        ("cores", df.cores > 0, "positive"),
        ("latency_avg_ms", ~(df.latency_avg_ms <= 0), "positive"),
        ("latency_p99_ms", ~(df.latency_p99_ms <= 0), "positive"),
    ):
        if not ok.all():
            bad = df[~ok].iloc[0]
            raise TraceFormatError(
                f"{col} must be {want}, got {bad[col]!r}", path=p, line=int(bad._line)
            )
    return df


def batch1_points(df: pd.DataFrame, stage: str, variant: str, series=None):
    """A variant's batch-1 latencies: ``(cores, latency_ms, statistic)``, one per core count.

    Uses the p99 where the rows have it, else the mean (``statistic`` says which); among
    several series, those IPA's final configs read (``ipa_final_profile``) first, then the
    one with the most core counts. ``series`` picks one explicitly.

    Examples
    --------
    >>> from ssloserve.data import require_data
    >>> require_data(IPA_PROFILES["nlp"])
    >>> c, ms, stat = batch1_points(ipa_profiles("nlp"), "nlp-trans", "Helsinki-NLP-opus-mt-fr-en")
    >>> c.tolist(), ms.tolist(), stat
    ([2.0, 4.0, 8.0, 16.0], [507.195, 320.223, 230.016, 230.074], 'mean')
    """
    rows = df[(df.stage == stage) & (df.variant == variant) & (df.batch == 1)]
    if series is not None:
        rows = rows[rows.series == series]
    if rows.empty:
        raise ProfileError(f"no batch-1 rows for {stage}/{variant}")
    groups = []
    for s, g in rows.groupby("series"):
        final = bool(g["ipa_final_profile"].astype(str).str.lower().eq("true").any())
        groups.append((final, g.cores.nunique(), -s, g))
    g = max(groups, key=lambda x: x[:3])[3]
    stat = "p99" if g.latency_p99_ms.notna().all() else "mean"
    col = "latency_p99_ms" if stat == "p99" else "latency_avg_ms"
    g = g[g[col].notna()]
    # one value per core count (rows at several loads: the lowest load, least queueing)
    g = g.sort_values(["cores", "load_rps"]).drop_duplicates("cores")
    return g.cores.to_numpy(float), g[col].to_numpy(float), stat


def fit_batch1(cores, latencies_ms) -> tuple[float, float, float]:
    """Least squares ``l(1, c) = A / c + B``: returns ``(A, B, mape_pct)``.

    Examples
    --------
    >>> fit_batch1([1, 2, 4], [110.0, 60.0, 35.0])
    (100.0, 10.0, 0.0)
    """
    c = np.asarray(cores, dtype=float)
    y = np.asarray(latencies_ms, dtype=float)
    if len(np.unique(c)) < 2:
        raise ProfileError("fitting A / c + B needs at least two core counts")
    X = np.column_stack([1.0 / c, np.ones_like(c)])
    (a, b), *_ = np.linalg.lstsq(X, y, rcond=None)
    mape = float(np.mean(np.abs(X @ [a, b] - y) / y) * 100.0)
    return round(float(a), 9), round(float(b), 9), round(mape, 9)
