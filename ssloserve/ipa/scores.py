"""IPA's pipeline accuracy score, PAS (PAPERS.md 3; chapter 03_ipa).

A request is answered right only if every stage answers it right, so the journal version of
IPA scores a pipeline by the *product* of its stages' accuracies. The first version used a
*rank-normalised sum*: the k variants of a task are mapped to 0, 1/(k-1), ..., 1 in order of
accuracy and the stages' values are added. Both are here, with the plain sum for comparison.

The product has one definition in the library, :func:`ssloserve.pipeline.pipeline_accuracy`
(which :meth:`ssloserve.pipeline.Config.accuracy` also uses); :func:`pas` calls it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..pipeline import pipeline_accuracy

__all__ = ["PAS_METHODS", "pas", "rank_normalised"]

#: The accuracy scores :func:`pas` knows.
PAS_METHODS = ("multiply", "sum", "normalized_sum")


def rank_normalised(menu_accuracies: Sequence[float]) -> list[float]:
    """A task's variants mapped to 0, 1/(k-1), ..., 1 in increasing accuracy (PAPERS.md 3).

    ``k`` counts distinct accuracies, so variants of equal accuracy get the same value; a task
    with one distinct accuracy maps to 1 (choosing it is the best one can do).

    Parameters
    ----------
    menu_accuracies : the accuracy of every variant of one task, in any order

    Returns
    -------
    One value in [0, 1] per variant, in the order given.

    Examples
    --------
    >>> rank_normalised([0.70, 0.78, 0.73])
    [0.0, 1.0, 0.5]
    >>> rank_normalised([0.5, 0.5])
    [1.0, 1.0]
    """
    acc = np.asarray(menu_accuracies, dtype=float)
    if acc.size == 0:
        raise ValueError("a task needs at least one variant to rank")
    distinct = np.unique(acc)
    if len(distinct) == 1:
        return [1.0] * len(acc)
    rank = np.searchsorted(distinct, acc)
    return [float(r) / (len(distinct) - 1) for r in rank]


def pas(
    accuracies: Sequence[float],
    method: str = "multiply",
    menus: Sequence[Sequence[float]] | None = None,
) -> float:
    """The pipeline accuracy score of the chosen variants (PAPERS.md 3; chapter 03_ipa).

    Parameters
    ----------
    accuracies : the chosen variant's accuracy at every stage (fractions in [0, 1])
    method : ``"multiply"`` (IPA's journal version: the product, via
        :func:`~ssloserve.pipeline.pipeline_accuracy`), ``"sum"`` (the plain sum) or
        ``"normalized_sum"`` (the first version: each stage's value is the chosen accuracy's
        :func:`rank_normalised` place in its task's menu, then summed)
    menus : every variant's accuracy per stage; needed by ``"normalized_sum"`` only

    Returns
    -------
    The score: in [0, 1] for ``"multiply"``, in [0, number of stages] for the sums.

    Examples
    --------
    The video pipeline with YOLOv5s (mAP 0.568) and ResNet50 (top-1 0.7613):

    >>> round(pas([0.568, 0.7613]), 4)
    0.4324
    >>> round(pas([0.568, 0.7613], "sum"), 4)
    1.3293
    >>> menus = [[0.457, 0.568, 0.641], [0.6975, 0.7613, 0.7831]]
    >>> pas([0.568, 0.7613], "normalized_sum", menus)     # the middle of both menus
    1.0
    """
    acc = [float(a) for a in accuracies]
    if method not in PAS_METHODS:
        raise ValueError(f"unknown PAS method {method!r}; choose one of {PAS_METHODS}")
    if not all(math.isfinite(a) for a in acc):
        raise ValueError(f"accuracies must be finite numbers, got {acc}")
    if method == "multiply":
        return pipeline_accuracy(acc)
    if method == "sum":
        return float(sum(acc))
    if menus is None or len(menus) != len(acc):
        raise ValueError("normalized_sum needs the menus: every variant's accuracy per stage")
    total = 0.0
    for a, menu in zip(acc, menus, strict=True):
        menu = [float(x) for x in menu]
        if a not in menu:
            raise ValueError(f"accuracy {a} is not in its stage's menu {menu}")
        total += rank_normalised(menu)[menu.index(a)]
    return total
