"""Held-out attack families: how the detector does on attacks it never saw (chapter 05, NetNN).

A random split of one capture puts rows of every attack into both training and test data, so
the test asks "is this one of the attacks you were shown?". An intrusion detector is judged on
attacks it was *not* shown. :func:`holdout_split` takes every row of one attack family out of
the training data and puts all of them in the test data; :func:`family_holdout` trains the
chapter's detector that way for every family and a few seeds and reports the **recall** on the
held-out family (the fraction of its rows flagged as attacks) for the float model, the int8
model and the switches (the batched executor on the emitted plan), next to the recall the same
family gets from a random split, and the benign false-alarm rate. :func:`summarize` averages
over the seeds.

A family is ``FlowData.groups`` where the data set names one (NSL-KDD: dos, probe, r2l, u2r),
else the class (CIC-IDS2017: DDoS, Portscan).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import has_data
from .batched import execute_batched
from .data import FlowData, load_dataset, train_test_split
from .experiment import DATASET_FILES, fit_flow_model, settings
from .mapper import partition
from .models import predict_logits
from .packets import flow_table, generate_packets
from .switch import BMV2, SwitchSpec

__all__ = [
    "families",
    "cap_per_family",
    "holdout_data",
    "holdout_report",
    "holdout_split",
    "family_recall",
    "family_holdout",
    "summarize",
    "default_seeds",
]

RANDOM = "none (random split)"


def _family(data: FlowData) -> np.ndarray:
    return np.asarray(data.groups if data.groups is not None else data.classes).astype(str)


def families(data: FlowData) -> list[str]:
    """The attack families of a data set (groups of its attack rows), sorted.

    Examples
    --------
    >>> d = FlowData("t", np.zeros((4, 1), np.uint8), np.array([0, 1, 1, 1]),
    ...              np.array(["ok", "a", "b", "a"]), ("f",), "")
    >>> families(d)
    ['a', 'b']
    """
    return sorted(set(_family(data)[data.y == 1].tolist()))


def cap_per_family(data: FlowData, max_rows: int | None, seed: int = 0) -> FlowData:
    """At most ``max_rows`` random rows of every family (benign included); small families whole.

    Examples
    --------
    >>> d = FlowData("t", np.zeros((6, 1), np.uint8), np.array([0, 0, 0, 0, 1, 1]),
    ...              np.array(["ok"] * 4 + ["a"] * 2), ("f",), "")
    >>> cap_per_family(d, 3).classes.tolist()
    ['ok', 'ok', 'ok', 'a', 'a']
    """
    if max_rows is None:
        return data
    rng = np.random.default_rng(seed)
    fam = _family(data)
    keep = []
    for f in dict.fromkeys(fam.tolist()):
        idx = np.flatnonzero(fam == f)
        keep.append(idx if len(idx) <= max_rows else rng.choice(idx, max_rows, replace=False))
    return data.subset(np.sort(np.concatenate(keep)))


def holdout_data(name: str, seed: int = 0) -> FlowData:
    """A real data set for the held-out family evaluation: every row, then at most
    ``settings()["family_rows"]`` per family (no cap in the full setting).

    Examples
    --------
    >>> from ssloserve.data import require_data
    >>> require_data("nids/nsl_kdd")
    >>> d = holdout_data("NSL-KDD")
    >>> families(d), int((d.groups == "u2r").sum())
    (['dos', 'probe', 'r2l', 'u2r'], 11)
    """
    return cap_per_family(load_dataset(name), settings()["family_rows"], seed)


def holdout_split(data: FlowData, family: str | None, test_frac: float = 0.3, seed: int = 0):
    """``(train, test)``: every row of ``family`` in ``test`` and none in ``train``; the other
    rows split at random as :func:`~ssloserve.netnn.data.train_test_split` does. ``None``
    holds nothing out (the chapter's random split).

    Examples
    --------
    >>> d = FlowData("t", np.zeros((8, 1), np.uint8), np.array([0, 0, 0, 0, 1, 1, 1, 1]),
    ...              np.array(["ok"] * 4 + ["a", "a", "b", "b"]), ("f",), "")
    >>> tr, te = holdout_split(d, "b", test_frac=0.5)
    >>> sorted(tr.classes.tolist()), sorted(te.classes.tolist())
    (['a', 'ok', 'ok'], ['a', 'b', 'b', 'ok', 'ok'])
    """
    fam = _family(data)
    if family is not None and family not in families(data):
        raise ValueError(f"{family!r} is not an attack family of {data.name}: {families(data)}")
    held = fam == family if family is not None else np.zeros(len(data), bool)
    rest = data.subset(np.flatnonzero(~held))
    train, test = train_test_split(rest, test_frac, seed)
    if held.any():
        out = data.subset(np.flatnonzero(held))
        test = FlowData(
            test.name,
            np.concatenate([test.x, out.x]),
            np.concatenate([test.y, out.y]),
            np.concatenate([test.classes, out.classes]),
            test.features,
            test.source,
            test.vocab,
            None if test.groups is None else np.concatenate([test.groups, out.groups]),
        )
    return train, test


def _recall(pred: np.ndarray, mask: np.ndarray) -> float:
    return float(pred[mask].mean()) if mask.any() else float("nan")


def family_recall(
    data: FlowData,
    family: str | None,
    *,
    seed: int = 0,
    hidden: tuple[int, ...] = (32, 16),
    epochs: int | None = None,
    spec: SwitchSpec = BMV2,
    test_frac: float = 0.3,
) -> pd.DataFrame:
    """Train without ``family`` (``None``: the random split), then the fraction of each
    family's test rows flagged as attacks, for the float model, the int8 model and the switches.

    Returns
    -------
    One row per family of the test data (benign included: there the "recall" is the
    false-alarm rate), with its test rows, ``float``, ``int8``, ``switch`` and whether the
    switches' logits equal the int8 model's on every test row (``switch = int8``).
    """
    train, test = holdout_split(data, family, test_frac, seed)
    model, q = fit_flow_model(train, hidden=hidden, epochs=epochs, seed=seed)
    preds = {
        "float": (predict_logits(model, test.x) > 0).astype(int),
        "int8": q.predict(test.x),
    }
    run = execute_batched(partition(q, spec), q, test.x, order="shuffle", seed=seed)
    preds["switch"] = run.predict()
    same = bool(np.array_equal(run.logits, q.forward(test.x)))
    fam = _family(test)
    rows = []
    for f in dict.fromkeys(fam.tolist()):
        m = fam == f
        row = {"family": f, "benign": bool(test.y[m].max() == 0), "test rows": int(m.sum())}
        row.update({k: _recall(p, m) for k, p in preds.items()})
        row["switch = int8"] = same
        rows.append(row)
    accuracy = float((preds["switch"] == test.y).mean())
    return pd.DataFrame(rows).assign(**{"switch accuracy": accuracy})


def family_holdout(
    data: FlowData,
    *,
    seeds=(0, 1, 2),
    held_out=None,
    hidden: tuple[int, ...] = (32, 16),
    epochs: int | None = None,
    spec: SwitchSpec = BMV2,
    test_frac: float = 0.3,
) -> pd.DataFrame:
    """Per attack family and seed: recall when the family is held out of training, and when it
    is not (the chapter's random split), for the float, int8 and switch versions.

    Parameters
    ----------
    data : a flow data set (``groups`` or ``classes`` name the families)
    seeds : one training per seed and family, plus one random-split training per seed
    held_out : the families to hold out (default: every attack family)
    hidden, epochs : the detector (as :func:`~ssloserve.netnn.experiment.flow_detector`)
    spec : the switches the int8 model is mapped onto
    test_frac : test fraction of the rows that are not held out

    Returns
    -------
    One row per (family, seed): ``test rows``; ``random split`` (switch recall when the family
    was in training); ``float``, ``int8``, ``switch`` (recall when held out); ``other attacks``
    (switch recall on the families that were in training); ``false alarms`` (benign rows
    flagged); ``random-split accuracy`` (switch accuracy on the random split's test data, the
    chapter's headline figure); ``switch = int8`` (bit-for-bit, both trainings).
    """
    held_out = families(data) if held_out is None else list(held_out)
    rows = []
    for seed in seeds:
        kw = dict(seed=seed, hidden=hidden, epochs=epochs, spec=spec, test_frac=test_frac)
        base = family_recall(data, None, **kw).set_index("family")
        for fam in held_out:
            r = family_recall(data, fam, **kw).set_index("family")
            attacks = r[~r["benign"]].drop(index=fam)
            other = (attacks["switch"] * attacks["test rows"]).sum() / attacks["test rows"].sum()
            rows.append(
                {
                    "data set": data.name,
                    "held out": fam,
                    "seed": seed,
                    "test rows": int(r.loc[fam, "test rows"]),
                    "random split": float(base.loc[fam, "switch"]) if fam in base.index else np.nan,
                    "float": float(r.loc[fam, "float"]),
                    "int8": float(r.loc[fam, "int8"]),
                    "switch": float(r.loc[fam, "switch"]),
                    "other attacks": float(other) if len(attacks) else np.nan,
                    "false alarms": float(r.loc[r["benign"], "switch"].mean()),
                    "random-split accuracy": float(base["switch accuracy"].iloc[0]),
                    "switch = int8": bool(r["switch = int8"].all() and base["switch = int8"].all()),
                }
            )
    return pd.DataFrame(rows)


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per held-out family, with the range of the switch's recall.

    Examples
    --------
    >>> t = pd.DataFrame({"data set": "d", "held out": "a", "seed": [0, 1], "test rows": 10,
    ...     "random split": [1.0, 0.9], "float": [0.1, 0.3], "int8": [0.1, 0.3],
    ...     "switch": [0.1, 0.3], "other attacks": 1.0, "false alarms": 0.0,
    ...     "random-split accuracy": 0.98, "switch = int8": True})
    >>> s = summarize(t).iloc[0]
    >>> [round(float(s[c]), 2) for c in ("random split", "switch", "switch min", "switch max")]
    [0.95, 0.2, 0.1, 0.3]
    >>> int(s["seeds"]), bool(s["switch = int8"])
    (2, True)
    """
    g = table.groupby(["data set", "held out"], sort=False)
    cols = ["random split", "float", "int8", "switch", "other attacks", "false alarms"]
    out = g[cols + ["random-split accuracy"]].mean()
    out.insert(0, "test rows", g["test rows"].first())
    out.insert(out.columns.get_loc("switch") + 1, "switch min", g["switch"].min())
    out.insert(out.columns.get_loc("switch min") + 1, "switch max", g["switch"].max())
    out["switch = int8"] = g["switch = int8"].all()
    out["seeds"] = g["seed"].nunique()
    return out.reset_index()


def default_seeds() -> tuple[int, ...]:
    """Seeds the chapter uses: 2 in the quick setting, 3 otherwise.

    Examples
    --------
    >>> len(default_seeds()) in (2, 3)
    True
    """
    return (0, 1) if settings()["max_rows"] else (0, 1, 2)


def holdout_report(seeds=None, spec: SwitchSpec = BMV2) -> pd.DataFrame:
    """:func:`family_holdout` on NSL-KDD and CIC-IDS2017 (:func:`holdout_data`) where their
    files are under ``$SSLOSERVE_DATA``, else on the synthetic flows
    (:func:`~ssloserve.netnn.packets.flow_table`), whose ``data set`` column says so.

    ``seeds`` defaults to :func:`default_seeds`.
    """
    seeds = default_seeds() if seeds is None else tuple(seeds)
    sets = [holdout_data(n) for n in ("NSL-KDD", "CIC-IDS2017") if has_data(DATASET_FILES[n])]
    if not sets:
        sets = [flow_table(generate_packets(settings()["n_flows"] * 2, seed=0))]
    return pd.concat([family_holdout(d, seeds=seeds, spec=spec) for d in sets], ignore_index=True)
