"""Real intrusion data reduced to what a switch can compute (chapter 05, NetNN).

Three public data sets under ``$SSLOSERVE_DATA/nids`` (see its SOURCE.md): CIC-IDS2017 with
improved labels (BENIGN, DDoS, Portscan samples), NSL-KDD (20 % train) and UNSW-NB15 (the 82k
partition). Each loader keeps 16 features a switch can compute from packet headers and
per-flow registers (ports, protocol, lengths, flag counts, packet and byte counts, minimum and
maximum inter-arrival times, TTLs, windows, per-host counters) and encodes every one as an
8-bit code: counts, sizes and times through ``log_code`` (a 256-entry range-match table in a
switch), small integers clipped to 255. A few NSL-KDD/UNSW features are rates or means of two
counters; a switch approximates that division with a lookup table (marked ``~`` in
``features``). The label is binary: 0 benign, 1 attack; ``classes`` keeps the original class.

Categorical features (NSL-KDD ``service`` and ``flag``, UNSW-NB15 ``proto`` and ``state``) are
coded by a **vocabulary**: the sorted categories of the data a model is trained on, code =
position, and :data:`OTHER` (255) for a category the vocabulary lacks. Every loader returns the
vocabulary it used (``FlowData.vocab``) and takes one (``vocab=``): new data is encoded with
the training data's vocabulary, so one service has one code in both.
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import SOURCES, data_path, has_data, read_table
from ..errors import DataNotFoundError

__all__ = [
    "FlowData",
    "OTHER",
    "vocabulary",
    "encode_category",
    "log_code",
    "load_cicids2017",
    "load_nsl_kdd",
    "nsl_attack_categories",
    "load_unsw_nb15",
    "load_dataset",
    "DATASETS",
    "train_test_split",
]


@dataclass(frozen=True, eq=False)
class FlowData:
    """Flow records as 8-bit codes with binary labels.

    ``x`` is ``(n, d)`` uint8, ``y`` is 0/1, ``classes`` the original class names, ``features``
    the column names, ``source`` the citation to show next to it, ``vocab`` the categories
    behind each categorical feature's codes (feature name -> categories, code = position;
    :data:`OTHER` for anything else) and ``groups`` a coarser class per row where the data set
    names one (NSL-KDD: the attack category, dos/probe/r2l/u2r, or normal).
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    classes: np.ndarray
    features: tuple[str, ...]
    source: str
    vocab: dict[str, tuple[str, ...]] = field(default_factory=dict)
    groups: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, idx) -> FlowData:
        """The rows ``idx``."""
        return FlowData(
            self.name,
            self.x[idx],
            self.y[idx],
            self.classes[idx],
            self.features,
            self.source,
            self.vocab,
            None if self.groups is None else self.groups[idx],
        )

    def summary(self) -> pd.DataFrame:
        """Rows per original class and label."""
        df = pd.DataFrame({"class": self.classes, "label": self.y})
        return df.groupby(["label", "class"]).size().rename("flows").reset_index()


def log_code(x, x_max: float) -> np.ndarray:
    """8-bit logarithmic code of a non-negative quantity: ``round(255 log2(1+x) / log2(1+x_max))``.

    Examples
    --------
    >>> log_code([0, 1, 1000, 1e9], 1000).tolist()
    [0, 26, 255, 255]
    """
    x = np.clip(np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0, posinf=x_max), 0, None)
    return np.clip(np.round(255 * np.log2(1 + x) / np.log2(1 + x_max)), 0, 255).astype(np.uint8)


def _clip(x) -> np.ndarray:
    return np.clip(np.nan_to_num(np.asarray(x, dtype=np.float64)), 0, 255).round().astype(np.uint8)


#: The code of a category the vocabulary does not know (and of categories past the 255th).
OTHER = 255


def vocabulary(values) -> tuple[str, ...]:
    """The sorted distinct categories of ``values`` (as text): a categorical feature's vocabulary.

    Examples
    --------
    >>> vocabulary(["http", "ftp", "http", "smtp"])
    ('ftp', 'http', 'smtp')
    """
    return tuple(sorted(pd.unique(pd.Series(values, dtype=object).astype(str))))


def encode_category(values, vocab: Sequence[str]) -> np.ndarray:
    """8-bit codes of ``values``: the position in ``vocab``, :data:`OTHER` (255) when absent
    (or when the position is 255 or more).

    Examples
    --------
    >>> encode_category(["http", "gopher", "ftp"], ("ftp", "http")).tolist()
    [1, 255, 0]
    """
    idx = {c: i for i, c in enumerate(vocab) if i < OTHER}
    return np.array([idx.get(str(v), OTHER) for v in values], np.uint8)


def _categories(columns: dict, vocab: dict | None) -> tuple[dict, dict]:
    """Codes of every categorical column, with the given vocabulary or one built from the data."""
    used, codes = {}, {}
    for name, values in columns.items():
        used[name] = tuple(vocab[name]) if vocab and name in vocab else vocabulary(values)
        codes[name] = encode_category(values, used[name])
    return codes, used


def _subsample(df: pd.DataFrame, label: np.ndarray, max_rows: int | None, seed: int):
    if max_rows is None or len(df) <= max_rows:
        return np.arange(len(df))
    rng = np.random.default_rng(seed)
    keep = []
    for v in np.unique(label):
        idx = np.flatnonzero(label == v)
        k = max(1, round(max_rows * len(idx) / len(df)))
        keep.append(rng.choice(idx, size=min(k, len(idx)), replace=False))
    return np.sort(np.concatenate(keep))


def _make(name, cols: dict, y, classes, source, max_rows, seed, vocab=None, groups=None):
    x = np.stack([np.asarray(v, np.uint8) for v in cols.values()], axis=1)
    y = np.asarray(y, np.int64)
    idx = _subsample(pd.DataFrame(x), y, max_rows, seed)
    g = None if groups is None else np.asarray(groups)[idx]
    return FlowData(
        name, x[idx], y[idx], np.asarray(classes)[idx], tuple(cols), source, vocab or {}, g
    )


#: Where :func:`load_cicids2017` looks by default: one CSV file per class (any number of them).
CIC_DIR = "nids/cicids2017_improved_sample"
_CIC_NUMERIC = (
    "Dst Port",
    "Protocol",
    "Flow Duration",
    "Total Fwd Packet",
    "Total Bwd packets",
    "Total Length of Fwd Packet",
    "Total Length of Bwd Packet",
    "Fwd Packet Length Max",
    "Bwd Packet Length Max",
    "Flow IAT Max",
    "Flow IAT Min",
    "SYN Flag Count",
    "FIN Flag Count",
    "RST Flag Count",
    "FWD Init Win Bytes",
)


def _cic_paths(files) -> list[Path]:
    """The class files to read: a list of paths, a directory (its ``*.csv``) or a glob."""
    if files is None:
        files = data_path(CIC_DIR)
    if isinstance(files, (str, Path)):
        p = Path(files)
        if p.is_dir():
            paths = sorted(p.glob("*.csv"))
        elif p.exists():
            paths = [p]
        else:
            paths = [Path(f) for f in sorted(glob.glob(str(files)))]
        if not paths:
            raise DataNotFoundError(str(files), source=SOURCES["nids/cicids2017"])
        return paths
    paths = [Path(f) for f in files]
    if not paths:
        raise ValueError("files is an empty list; give at least one CIC-IDS2017 class file")
    return paths


def load_cicids2017(
    max_rows: int | None = None, seed: int = 0, files=None, vocab: dict | None = None
) -> FlowData:
    """CIC-IDS2017 (improved labels) flows, one CSV file per class (here BENIGN, DDoS and
    Portscan, 2,500 each).

    Parameters
    ----------
    max_rows : subsample to about this many rows (stratified by label)
    seed : seeds the subsample
    files : the class files: a list of paths, a directory (every ``*.csv`` in it) or a glob
        pattern; default every ``*.csv`` under ``$SSLOSERVE_DATA/nids/cicids2017_improved_sample``.
        Any class file of the improved-label format works (the class is read from ``Label``).
    vocab : accepted for symmetry with the other loaders; CIC-IDS2017's features here are all
        numeric, so the returned vocabulary is empty

    Examples
    --------
    >>> from ssloserve.data import require_data
    >>> require_data("nids/cicids2017_improved_sample")
    >>> d = load_cicids2017(max_rows=300)
    >>> d.x.shape[1], d.x.dtype.name, sorted(set(d.y.tolist())), sorted(set(d.classes))
    (16, 'uint8', [0, 1], ['BENIGN', 'DDoS', 'Portscan'])
    """
    frames = [read_table(p, _CIC_NUMERIC, ("Label",), low_memory=False) for p in _cic_paths(files)]
    d = pd.concat(frames, ignore_index=True)
    port = d["Dst Port"].clip(0, 65535).astype(int).to_numpy()
    us = 1.2e8  # two minutes in microseconds
    cols = {
        "dst port (high byte)": (port >> 8).astype(np.uint8),
        "dst port (low byte)": (port & 0xFF).astype(np.uint8),
        "protocol": _clip(d["Protocol"]),
        "duration": log_code(d["Flow Duration"], us),
        "fwd packets": log_code(d["Total Fwd Packet"], 1e6),
        "bwd packets": log_code(d["Total Bwd packets"], 1e6),
        "fwd bytes": log_code(d["Total Length of Fwd Packet"], 1e9),
        "bwd bytes": log_code(d["Total Length of Bwd Packet"], 1e9),
        "fwd length max": log_code(d["Fwd Packet Length Max"], 65535),
        "bwd length max": log_code(d["Bwd Packet Length Max"], 65535),
        "IAT max": log_code(d["Flow IAT Max"], us),
        "IAT min": log_code(d["Flow IAT Min"], us),
        "SYN count": _clip(d["SYN Flag Count"]),
        "FIN count": _clip(d["FIN Flag Count"]),
        "RST count": _clip(d["RST Flag Count"]),
        "fwd init window": log_code(d["FWD Init Win Bytes"], 65535),
    }
    label = d["Label"].astype(str).to_numpy()
    y = (label != "BENIGN").astype(int)
    return _make("CIC-IDS2017", cols, y, label, SOURCES["nids/cicids2017"], max_rows, seed)


_NSL_NUMERIC = (
    "duration",
    "src_bytes",
    "dst_bytes",
    "land",
    "wrong_fragment",
    "urgent",
    "count",
    "srv_count",
    "serror_rate",
    "same_srv_rate",
    "dst_host_count",
    "dst_host_srv_count",
    "dst_host_serror_rate",
)


def nsl_attack_categories() -> dict[str, str]:
    """NSL-KDD's attack name -> category (``dos``, ``probe``, ``r2l``, ``u2r``), from
    ``AttackTypes.csv`` (CR line endings), with ``normal`` -> ``normal``.

    Examples
    --------
    >>> from ssloserve.data import require_data
    >>> require_data("nids/nsl_kdd/AttackTypes.csv")
    >>> cats = nsl_attack_categories()
    >>> cats["neptune"], cats["guess_passwd"], cats["normal"]
    ('dos', 'r2l', 'normal')
    """
    text = data_path("nids/nsl_kdd/AttackTypes.csv").read_text()
    out = {"normal": "normal"}
    for line in text.replace("\r", "\n").splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 2 and parts[0] and parts[1]:
            out[parts[0]] = parts[1].lower()
    return out


def load_nsl_kdd(
    max_rows: int | None = None,
    seed: int = 0,
    small: bool = False,
    vocab: dict | None = None,
    path=None,
) -> FlowData:
    """NSL-KDD, the 20 % training file (25,192 connections; ``small`` reads the 1,011-row set).

    Content features (logins, shells, files) need the payload and are left out. ``groups`` holds
    each row's attack category (``AttackTypes.csv``; ``unknown`` for a name it lacks).

    Parameters
    ----------
    max_rows, seed : subsample to about ``max_rows`` rows (stratified by label)
    small : read ``SmallTrainingSet.csv`` instead
    vocab : the ``service`` and ``TCP state`` vocabularies to encode with (a trained model's
        ``FlowData.vocab``); default: built from this file
    path : another file of the NSL-KDD format (e.g. a held-out test file) instead

    Examples
    --------
    >>> from ssloserve.data import require_data
    >>> require_data("nids/nsl_kdd")
    >>> d = load_nsl_kdd(small=True)
    >>> len(d), len(d.vocab["TCP state"]) <= 11
    (1011, True)
    """
    names = [
        line.split(",")[0].strip()
        for line in data_path("nids/nsl_kdd/FieldNames.csv")
        .read_text()
        .replace("\r", "\n")
        .splitlines()
        if line.strip()
    ]
    fname = "SmallTrainingSet.csv" if small else "KDDTrain+_20Percent.txt"
    d = read_table(
        path if path is not None else data_path(f"nids/nsl_kdd/{fname}"),
        _NSL_NUMERIC,
        ("protocol_type", "service", "flag", "label"),
        names=names + ["label"],
    )
    proto = {"tcp": 6, "udp": 17, "icmp": 1}
    cat, used = _categories({"service": d["service"], "TCP state": d["flag"]}, vocab)
    cols = {
        "duration": log_code(d["duration"], 6e4),
        "protocol": np.array([proto.get(p, 0) for p in d["protocol_type"]], np.uint8),
        "service": cat["service"],
        "TCP state": cat["TCP state"],
        "src bytes": log_code(d["src_bytes"], 1e9),
        "dst bytes": log_code(d["dst_bytes"], 1e9),
        "land": _clip(d["land"]),
        "wrong fragment": _clip(d["wrong_fragment"]),
        "urgent": _clip(d["urgent"]),
        "count (2 s, same host)": log_code(d["count"], 511),
        "count (2 s, same service)": log_code(d["srv_count"], 511),
        "~SYN error rate": _clip(d["serror_rate"] * 255),
        "~same service rate": _clip(d["same_srv_rate"] * 255),
        "dst host count": _clip(d["dst_host_count"]),
        "dst host service count": _clip(d["dst_host_srv_count"]),
        "~dst host SYN error rate": _clip(d["dst_host_serror_rate"] * 255),
    }
    label = d["label"].astype(str).to_numpy()
    y = (label != "normal").astype(int)
    kinds = (
        nsl_attack_categories()
        if has_data("nids/nsl_kdd/AttackTypes.csv")
        else {"normal": "normal"}
    )
    groups = np.array([kinds.get(c, "unknown") for c in label])
    source = SOURCES["nids/nsl_kdd"]
    return _make("NSL-KDD", cols, y, label, source, max_rows, seed, used, groups)


def load_unsw_nb15(
    max_rows: int | None = None, seed: int = 0, vocab: dict | None = None, path=None
) -> FlowData:
    """UNSW-NB15, the 82,332-flow partition (Normal and nine attack categories).

    ``vocab`` gives the ``protocol`` and ``state`` vocabularies to encode with (default: built
    from this file); ``path`` reads another file of the same format (CSV, or a zip holding one).

    Examples
    --------
    >>> from ssloserve.data import require_data
    >>> require_data("nids/unsw_nb15")
    >>> d = load_unsw_nb15(max_rows=500)
    >>> abs(len(d) - 500) <= 2, sorted(d.vocab)
    (True, ['protocol', 'state'])
    """
    d = read_table(
        path if path is not None else data_path("nids/unsw_nb15/UNSW_NB15_training-set.csv.zip"),
        ("dur", "spkts", "dpkts", "sbytes", "dbytes", "sttl", "dttl", "swin", "dwin")
        + ("synack", "ackdat", "sinpkt", "dinpkt", "ct_dst_src_ltm", "label"),
        ("proto", "state", "attack_cat"),
    )
    cat, used = _categories({"protocol": d["proto"], "state": d["state"]}, vocab)
    cols = {
        "duration": log_code(d["dur"] * 1e6, 1.2e8),
        "protocol": cat["protocol"],
        "state": cat["state"],
        "src packets": log_code(d["spkts"], 1e6),
        "dst packets": log_code(d["dpkts"], 1e6),
        "src bytes": log_code(d["sbytes"], 1e9),
        "dst bytes": log_code(d["dbytes"], 1e9),
        "src TTL": _clip(d["sttl"]),
        "dst TTL": _clip(d["dttl"]),
        "src window": log_code(d["swin"], 65535),
        "dst window": log_code(d["dwin"], 65535),
        "SYN to SYN-ACK": log_code(d["synack"] * 1e6, 1e7),
        "ACK delay": log_code(d["ackdat"] * 1e6, 1e7),
        "~src mean IAT": log_code(d["sinpkt"] * 1e3, 1.2e8),
        "~dst mean IAT": log_code(d["dinpkt"] * 1e3, 1.2e8),
        "flows same src-dst (100)": _clip(d["ct_dst_src_ltm"]),
    }
    label = d["attack_cat"].astype(str).str.strip().to_numpy()
    y = d["label"].astype(int).to_numpy()
    return _make("UNSW-NB15", cols, y, label, SOURCES["nids/unsw_nb15"], max_rows, seed, used)


#: Loader per data-set name.
DATASETS = {
    "CIC-IDS2017": load_cicids2017,
    "NSL-KDD": load_nsl_kdd,
    "UNSW-NB15": load_unsw_nb15,
}


def load_dataset(
    name: str, max_rows: int | None = None, seed: int = 0, vocab: dict | None = None
) -> FlowData:
    """Load one of :data:`DATASETS` by name (``vocab`` as the loaders take it)."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose from {sorted(DATASETS)}")
    return DATASETS[name](max_rows=max_rows, seed=seed, vocab=vocab)


def train_test_split(data: FlowData, test_frac: float = 0.3, seed: int = 0):
    """A seeded, label-stratified split into ``(train, test)``.

    Examples
    --------
    >>> d = FlowData("t", np.zeros((10, 2), np.uint8), np.array([0, 1] * 5), np.array(["a"] * 10), ("f", "g"), "")
    >>> tr, te = train_test_split(d, 0.4)
    >>> len(tr), len(te), int(te.y.sum())
    (6, 4, 2)
    """
    rng = np.random.default_rng(seed)
    test = []
    for v in np.unique(data.y):
        idx = np.flatnonzero(data.y == v)
        rng.shuffle(idx)
        test.append(idx[: round(len(idx) * test_frac)])
    test_idx = np.sort(np.concatenate(test))
    mask = np.ones(len(data), bool)
    mask[test_idx] = False
    return data.subset(np.flatnonzero(mask)), data.subset(test_idx)
