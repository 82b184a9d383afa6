"""Train, quantise and score a detector in one call; the quick setting (chapter 05, NetNN).

``SSLOSERVE_QUICK=1`` (set by ``make test``) trains on fewer rows and epochs; what is shown
stays the same.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ..data import has_data
from .batched import execute_batched
from .data import DATASETS, FlowData, load_dataset, train_test_split
from .executor import execute
from .mapper import partition
from .models import FlowMLP, RawByteCNN, accuracy, predict_logits, train_model
from .packets import PacketData, flow_accuracy, flow_table, generate_packets, split_flows
from .quantize import IntegerModel, quantize
from .switch import BMV2, SwitchSpec

__all__ = [
    "quick",
    "settings",
    "Detector",
    "fit_flow_model",
    "flow_detector",
    "packet_detector",
    "accuracy_table",
    "dataplane_run",
    "header_sweep",
    "flow_datasets",
    "DATASET_FILES",
]


def quick() -> bool:
    """True when ``SSLOSERVE_QUICK`` is set to something other than ``0`` or empty.

    Examples
    --------
    >>> isinstance(quick(), bool)
    True
    """
    return os.environ.get("SSLOSERVE_QUICK", "") not in ("", "0")


def settings() -> dict:
    """Sizes used by the chapter, the tests and the benchmark (quick or full).

    Examples
    --------
    >>> sorted(settings())
    ['family_rows', 'flow_epochs', 'max_rows', 'n_flows', 'packet_epochs']

    ``family_rows`` caps the rows per attack family (and of benign traffic) in the held-out
    family evaluation (:mod:`~ssloserve.netnn.evaluate`); small families are kept whole.
    """
    if quick():
        return {
            "max_rows": 4000,
            "flow_epochs": 6,
            "n_flows": 240,
            "packet_epochs": 8,
            "family_rows": 1500,
        }
    return {
        "max_rows": None,
        "flow_epochs": 10,
        "n_flows": 400,
        "packet_epochs": 12,
        "family_rows": None,
    }


#: The file whose presence under ``$SSLOSERVE_DATA`` makes each real data set available.
DATASET_FILES = {
    "CIC-IDS2017": "nids/cicids2017_improved_sample/BENIGN_2500.csv",
    "NSL-KDD": "nids/nsl_kdd/KDDTrain+_20Percent.txt",
    "UNSW-NB15": "nids/unsw_nb15/UNSW_NB15_training-set.csv.zip",
}


def flow_datasets(max_rows: int | None = None, seed: int = 0) -> dict[str, FlowData]:
    """The real flow data sets found under ``$SSLOSERVE_DATA``; when none is there, synthetic
    flows (:func:`~ssloserve.netnn.packets.flow_table`) instead, named so on screen.

    Examples
    --------
    >>> sets = flow_datasets(max_rows=500)
    >>> all(len(d) > 0 for d in sets.values())
    True
    """
    out = {
        n: load_dataset(n, max_rows=max_rows, seed=seed)
        for n in DATASETS
        if has_data(DATASET_FILES[n])
    }
    if not out:
        out["synthetic flows"] = flow_table(generate_packets(settings()["n_flows"] * 2, seed=seed))
    return out


@dataclass(eq=False)
class Detector:
    """A trained float model, its integer version, the data split and their accuracies.

    ``vocab`` is the category vocabulary the training data was encoded with
    (:attr:`~ssloserve.netnn.data.FlowData.vocab`): encode new data with it (``load_nsl_kdd(path=...,
    vocab=det.vocab)``) so that a category keeps its code.
    """

    name: str
    model: torch.nn.Module
    qmodel: IntegerModel
    x_test: np.ndarray
    y_test: np.ndarray
    float_acc: float
    int_acc: float
    flow_float_acc: float | None = None
    flow_int_acc: float | None = None
    test: object = None
    vocab: dict = field(default_factory=dict)

    def row(self) -> dict:
        """One row of :func:`accuracy_table`."""
        return {
            "data set": self.name,
            "level": "packet" if self.flow_float_acc is not None else "flow",
            "float": self.float_acc,
            "int8": self.int_acc,
            "flow float": self.flow_float_acc,
            "flow int8": self.flow_int_acc,
            "test samples": len(self.y_test),
        }


def fit_flow_model(
    train: FlowData, *, hidden: tuple[int, ...] = (32, 16), epochs: int | None = None, seed: int = 0
) -> tuple[FlowMLP, IntegerModel]:
    """Train the chapter's :class:`~ssloserve.netnn.models.FlowMLP` on ``train`` and quantise it
    (calibrated on ``train``): ``(float model, integer model)``. Training runs on one torch
    thread (restored afterwards).

    Examples
    --------
    >>> x = np.random.default_rng(0).integers(0, 256, (200, 3)).astype(np.uint8)
    >>> d = FlowData("toy", x, (x[:, 0] > 127).astype(int), np.array(["c"] * 200), ("a", "b", "c"), "")
    >>> model, q = fit_flow_model(d, hidden=(4,), epochs=2)
    >>> [s.out_values for s in q.architecture]
    [3, 4, 1]
    """
    model = FlowMLP(train.x.shape[1], hidden, seed=seed)
    epochs = epochs or settings()["flow_epochs"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # matrices this small gain nothing from threads, which contend
    try:
        train_model(model, train.x, train.y, epochs=epochs, lr=3e-3, seed=seed)
    finally:
        torch.set_num_threads(threads)
    return model, quantize(model, train.x)


def flow_detector(
    data: FlowData | str,
    *,
    hidden: tuple[int, ...] = (32, 16),
    epochs: int | None = None,
    seed: int = 0,
    test_frac: float = 0.3,
) -> Detector:
    """Train a :class:`~ssloserve.netnn.models.FlowMLP` on a flow data set and quantise it.

    Parameters
    ----------
    data : a :class:`~ssloserve.netnn.data.FlowData` or a data-set name
    hidden : hidden widths
    epochs : training epochs (default from :func:`settings`)
    seed : seeds the split, the weights and the shuffling
    test_frac : held-out fraction

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(0, 256, (400, 4)).astype(np.uint8); y = (x[:, 1] > 100).astype(int)
    >>> d = FlowData("toy", x, y, y.astype(str), ("a", "b", "c", "d"), "made up")
    >>> det = flow_detector(d, hidden=(8,), epochs=100)
    >>> det.float_acc > 0.8 and abs(det.float_acc - det.int_acc) < 0.05
    True
    """
    if isinstance(data, str):
        data = load_dataset(data, max_rows=settings()["max_rows"], seed=seed)
    train, test = train_test_split(data, test_frac, seed)
    model, q = fit_flow_model(train, hidden=hidden, epochs=epochs, seed=seed)
    fa = accuracy((predict_logits(model, test.x) > 0).astype(int), test.y)
    ia = accuracy(q.predict(test.x), test.y)
    return Detector(data.name, model, q, test.x, test.y, fa, ia, test=test, vocab=data.vocab)


def packet_detector(
    data: PacketData | None = None,
    *,
    epochs: int | None = None,
    seed: int = 0,
    test_frac: float = 0.3,
    conv=((8, 5, 2), (16, 5, 2)),
    dense=(16,),
) -> Detector:
    """Train NetNN's raw-byte CNN on synthetic packets (split by flow) and quantise it.

    Reports packet-level and flow-level (majority of packets) accuracy.
    """
    s = settings()
    if data is None:
        data = generate_packets(s["n_flows"], seed=seed)
    train, test = split_flows(data, test_frac, seed)
    model = RawByteCNN(train.x.shape[1], conv=conv, dense=dense, seed=seed)
    train_model(model, train.x, train.y, epochs=epochs or s["packet_epochs"], lr=3e-3, seed=seed)
    q = quantize(model, train.x)
    pf = (predict_logits(model, test.x) > 0).astype(int)
    pi = q.predict(test.x)
    return Detector(
        "synthetic packets",
        model,
        q,
        test.x,
        test.y,
        accuracy(pf, test.y),
        accuracy(pi, test.y),
        flow_accuracy(pf, test.y, test.flow),
        flow_accuracy(pi, test.y, test.flow),
        test=test,
    )


def accuracy_table(detectors) -> pd.DataFrame:
    """Float and integer accuracy per detector (and flow-level for packet models)."""
    return pd.DataFrame([d.row() for d in detectors])


def dataplane_run(
    det: Detector,
    spec: SwitchSpec = BMV2,
    widths="uniform",
    seed: int = 0,
    executor: str = "batched",
) -> dict:
    """Map a detector's integer model onto switches and run every test sample through the
    executor (packets delivered in shuffled order): ``"batched"``
    (:func:`~ssloserve.netnn.batched.execute_batched`) or ``"packet"``
    (:func:`~ssloserve.netnn.executor.execute`, the packet-by-packet reference).

    Returns a dict: data set, layout, switches, whether the executor's logits equal the integer
    model's on every sample, accuracy from the executor's verdicts (and flow-level for packet
    models), packets processed and packets per second.
    """
    runners = {"batched": execute_batched, "packet": execute}
    if executor not in runners:
        raise ValueError(f"executor must be one of {sorted(runners)}, got {executor!r}")
    plan = partition(det.qmodel, spec, widths=widths)
    r = runners[executor](plan, det.qmodel, det.x_test, order="shuffle", seed=seed)
    ref = det.qmodel.forward(det.x_test)
    pred = r.predict()
    out = {
        "data set": det.name,
        "layout": plan.layout,
        "switches": plan.n_switches,
        "equal to int8 model": bool(np.array_equal(r.logits, ref)),
        "samples": len(ref),
        "data-plane accuracy": accuracy(pred, det.y_test),
        "data-plane flow accuracy": None,
        "packets": r.packets,
        "packets/s": r.packets_per_second,
    }
    if det.flow_float_acc is not None:
        out["data-plane flow accuracy"] = flow_accuracy(pred, det.y_test, det.test.flow)
    return out


def header_sweep(model, header_bytes=range(846, 1487, 40), spec: SwitchSpec = BMV2) -> pd.DataFrame:
    """Switches needed as the header limit changes (uniform and free widths); NaN where the
    model does not fit.

    Examples
    --------
    >>> from ssloserve.netnn.models import paper_architecture
    >>> df = header_sweep(paper_architecture(), [1486])
    >>> df.set_index("widths")["switches"].to_dict()
    {'uniform': 18.0, 'free': 12.0}
    """
    from ..errors import MappingError

    rows = []
    for hb in header_bytes:
        for widths in ("uniform", "free"):
            try:
                n = float(
                    partition(model, spec.with_(header_bytes=int(hb)), widths=widths).n_switches
                )
            except MappingError:
                n = float("nan")
            rows.append({"header bytes": int(hb), "widths": widths, "switches": n})
    return pd.DataFrame(rows)
