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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data import SOURCES, data_path, read_table

__all__ = [
    "FlowData",
    "log_code",
    "load_cicids2017",
    "load_nsl_kdd",
    "load_unsw_nb15",
    "load_dataset",
    "DATASETS",
    "train_test_split",
]


@dataclass(frozen=True, eq=False)
class FlowData:
    """Flow records as 8-bit codes with binary labels.

    ``x`` is ``(n, d)`` uint8, ``y`` is 0/1, ``classes`` the original class names, ``features``
    the column names, ``source`` the citation to show next to it.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    classes: np.ndarray
    features: tuple[str, ...]
    source: str

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, idx) -> FlowData:
        """The rows ``idx``."""
        return FlowData(
            self.name, self.x[idx], self.y[idx], self.classes[idx], self.features, self.source
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


def _cat(x) -> np.ndarray:
    cats = sorted(pd.unique(pd.Series(x).astype(str)))
    idx = {c: i for i, c in enumerate(cats)}
    return np.array([min(idx[str(v)], 255) for v in x], np.uint8)


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


def _make(name, cols: dict, y, classes, source, max_rows, seed) -> FlowData:
    x = np.stack([np.asarray(v, np.uint8) for v in cols.values()], axis=1)
    y = np.asarray(y, np.int64)
    idx = _subsample(pd.DataFrame(x), y, max_rows, seed)
    return FlowData(name, x[idx], y[idx], np.asarray(classes)[idx], tuple(cols), source)


def _table(relpath: str, numeric, text=(), names=None, **kw) -> pd.DataFrame:
    """One file of a data set, its columns checked (:func:`~ssloserve.data.read_table`)."""
    return read_table(data_path(relpath), numeric, text, names, **kw)


CIC_FILES = ("BENIGN", "DDoS", "Portscan")
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


def load_cicids2017(max_rows: int | None = None, seed: int = 0) -> FlowData:
    """CIC-IDS2017 (improved labels) BENIGN, DDoS and Portscan flows, 2,500 each.

    Examples
    --------
    >>> from ssloserve.data import has_data
    >>> if has_data("nids/cicids2017_improved_sample"):
    ...     d = load_cicids2017(max_rows=300); print(d.x.shape[1], d.x.dtype, sorted(set(d.y.tolist())))
    ... else:
    ...     print(16, "uint8", [0, 1])
    16 uint8 [0, 1]
    """
    frames = [
        _table(
            f"nids/cicids2017_improved_sample/{c}_2500.csv",
            _CIC_NUMERIC,
            ("Label",),
            low_memory=False,
        )
        for c in CIC_FILES
    ]
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


def load_nsl_kdd(max_rows: int | None = None, seed: int = 0, small: bool = False) -> FlowData:
    """NSL-KDD, the 20 % training file (25,192 connections; ``small`` reads the 1,011-row set).

    Content features (logins, shells, files) need the payload and are left out.

    Examples
    --------
    >>> from ssloserve.data import has_data
    >>> len(load_nsl_kdd(small=True)) if has_data("nids/nsl_kdd") else 1011
    1011
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
    d = _table(
        f"nids/nsl_kdd/{fname}",
        _NSL_NUMERIC,
        ("protocol_type", "service", "flag", "label"),
        names=names + ["label"],
    )
    proto = {"tcp": 6, "udp": 17, "icmp": 1}
    cols = {
        "duration": log_code(d["duration"], 6e4),
        "protocol": np.array([proto.get(p, 0) for p in d["protocol_type"]], np.uint8),
        "service": _cat(d["service"]),
        "TCP state": _cat(d["flag"]),
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
    return _make("NSL-KDD", cols, y, label, SOURCES["nids/nsl_kdd"], max_rows, seed)


def load_unsw_nb15(max_rows: int | None = None, seed: int = 0) -> FlowData:
    """UNSW-NB15, the 82,332-flow partition (Normal and nine attack categories).

    Examples
    --------
    >>> from ssloserve.data import has_data
    >>> d = load_unsw_nb15(max_rows=500) if has_data("nids/unsw_nb15") else None
    >>> d is None or abs(len(d) - 500) <= 2
    True
    """
    d = _table(
        "nids/unsw_nb15/UNSW_NB15_training-set.csv.zip",
        ("dur", "spkts", "dpkts", "sbytes", "dbytes", "sttl", "dttl", "swin", "dwin")
        + ("synack", "ackdat", "sinpkt", "dinpkt", "ct_dst_src_ltm", "label"),
        ("proto", "state", "attack_cat"),
    )
    cols = {
        "duration": log_code(d["dur"] * 1e6, 1.2e8),
        "protocol": _cat(d["proto"]),
        "state": _cat(d["state"]),
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
    return _make("UNSW-NB15", cols, y, label, SOURCES["nids/unsw_nb15"], max_rows, seed)


#: Loader per data-set name.
DATASETS = {
    "CIC-IDS2017": load_cicids2017,
    "NSL-KDD": load_nsl_kdd,
    "UNSW-NB15": load_unsw_nb15,
}


def load_dataset(name: str, max_rows: int | None = None, seed: int = 0) -> FlowData:
    """Load one of :data:`DATASETS` by name."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose from {sorted(DATASETS)}")
    return DATASETS[name](max_rows=max_rows, seed=seed)


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
