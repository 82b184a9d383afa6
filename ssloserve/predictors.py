"""Load predictors: reactive, max-of-window, moving average and IPA's LSTM (PAPERS.md 0.3).

Chapter: 03_ipa (IPA plans every 10 s for the rate its predictor expects).

Every predictor answers one question: given the per-second rates seen so far, what is the
*maximum* rate of the next ``horizon_s`` (20) seconds? Planning for the maximum rather than
the mean is what keeps a pipeline inside its SLO through a burst, so the two numbers that
matter are the mean absolute error (cost of over-provisioning) and how often a predictor
*under*-predicts (SLO risk).

The LSTM follows IPA: the last 120 s, summarised as 12 maxima of 10-s windows, go through
an LSTM with 25 units and one dense output, trained with MSE and Adam on days 1-14 of the
Twitter trace with zero seconds removed. Where we differ from IPA's public training script
(``prediction-modules/lstm-module/train.py`` in reconfigurable-ml-pipeline/ipa), and why:

- each input window is divided by its own mean and the output multiplied back, so one set
  of weights serves the raw trace and any damping factor (IPA trains on ``int(x / 8)``);
- the split is by day of the original trace, then zeros are removed from each part (IPA
  removes zeros first, so its test part starts a few hours after day 14);
- torch's LSTM (tanh) without IPA's ReLU activation and L1 penalty, 20 epochs of batch 256
  with a cosine learning-rate decay on windows every 5 s (IPA: 30 epochs of batch 64 on
  windows every 10 s), which trains in minutes on 2 cores.

The shipped weights (``data/lstm_predictor.pt``) were made by ``benchmarks/train_lstm.py``;
``data/README.md`` has the command and ``benchmarks/predictors.md`` the test-set errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .data import project_data_path
from .errors import ProfileError

__all__ = [
    "HISTORY_S",
    "HORIZON_S",
    "STEP_S",
    "Predictor",
    "Reactive",
    "MaxWindow",
    "MovingAverage",
    "LSTMPredictor",
    "history_maxima",
    "future_max",
    "make_windows",
    "evaluate",
    "train_lstm",
    "twitter_split",
]

HISTORY_S = 120  #: seconds of history the LSTM reads
STEP_S = 10  #: the history is summarised as maxima of 10-s windows
HORIZON_S = 20  #: predict the maximum rate of the next 20 s
WEIGHTS = "lstm_predictor.pt"


def _history(history_rps) -> np.ndarray:
    h = np.asarray(history_rps, dtype=float).ravel()
    if h.size == 0:
        raise ValueError("a predictor needs at least one second of history")
    if not np.isfinite(h).all() or (h < 0).any():
        raise ValueError("rates must be finite and non-negative")
    return h


def _times(rates, t) -> tuple[np.ndarray, np.ndarray]:
    """``rates`` as floats and ``t`` as ints, each ``t`` between 1 and ``len(rates)``."""
    r = np.asarray(rates, dtype=float)
    t = np.asarray(t, dtype=np.int64)
    if t.size and (t.min() < 1 or t.max() > len(r)):
        raise ValueError(
            f"prediction times must lie in 1..{len(r)} (the history is rates[:t]), "
            f"got {int(t.min())}..{int(t.max())}"
        )
    return r, t


class Predictor:
    """Interface: ``predict(history_rps) -> float``, the max rate of the next ``horizon_s``.

    ``predict_many(rates, t)`` predicts at many times ``t`` (the history is ``rates[:t]``);
    subclasses vectorise it.
    """

    name: str = "predictor"
    horizon_s: int = HORIZON_S

    def predict(self, history_rps) -> float:  # pragma: no cover - interface
        raise NotImplementedError

    def predict_many(self, rates, t) -> np.ndarray:
        """Predictions at each time index in ``t`` (each uses ``rates[:t_i]``)."""
        r, t = _times(rates, t)
        return np.array([self.predict(r[:i]) for i in t])

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@dataclass(repr=True)
class Reactive(Predictor):
    """The last observed rate (what a reactive autoscaler plans for).

    Examples
    --------
    >>> Reactive().predict([3, 9, 4])
    4.0
    """

    name: str = "reactive"

    def predict(self, history_rps) -> float:
        return float(_history(history_rps)[-1])

    def predict_many(self, rates, t) -> np.ndarray:
        r, t = _times(rates, t)
        return r[t - 1]


@dataclass(repr=True)
class MaxWindow(Predictor):
    """The maximum rate of the last ``window_s`` seconds (IPA's fallback "max" predictor).

    Examples
    --------
    >>> MaxWindow(window_s=2).predict([9, 3, 4])
    4.0
    """

    window_s: int = HISTORY_S
    name: str = "max"

    def predict(self, history_rps) -> float:
        return float(_history(history_rps)[-self.window_s :].max())

    def predict_many(self, rates, t) -> np.ndarray:
        return _window_stat(rates, t, self.window_s, np.max)


@dataclass(repr=True)
class MovingAverage(Predictor):
    """The mean rate of the last ``window_s`` seconds.

    Examples
    --------
    >>> MovingAverage(window_s=2).predict([9, 3, 5])
    4.0
    """

    window_s: int = 60
    name: str = "moving_average"

    def predict(self, history_rps) -> float:
        return float(_history(history_rps)[-self.window_s :].mean())

    def predict_many(self, rates, t) -> np.ndarray:
        return _window_stat(rates, t, self.window_s, np.mean)


def _window_stat(rates, t, window_s: int, fn) -> np.ndarray:
    r, t = _times(rates, t)
    if (t >= window_s).all():
        view = np.lib.stride_tricks.sliding_window_view(r, window_s)
        return fn(view[t - window_s], axis=1)
    return np.array([fn(r[max(0, i - window_s) : i]) for i in t])


# --------------------------------------------------------------------------- windows


def history_maxima(history_rps, history_s: int = HISTORY_S, step_s: int = STEP_S) -> np.ndarray:
    """The LSTM's input: the last ``history_s`` seconds as maxima of ``step_s``-s windows.

    Examples
    --------
    >>> history_maxima(list(range(40)), history_s=20, step_s=10).tolist()
    [29.0, 39.0]
    """
    h = _history(history_rps)
    if len(h) < history_s:
        raise ValueError(f"need {history_s} s of history, got {len(h)}")
    return h[-history_s:].reshape(-1, step_s).max(axis=1)


def future_max(rates, t, horizon_s: int = HORIZON_S) -> np.ndarray:
    """The target: max of ``rates[t : t + horizon_s]`` for each ``t``.

    Examples
    --------
    >>> future_max([1, 5, 2, 7, 3], [1, 2], horizon_s=2).tolist()
    [5.0, 7.0]
    """
    r = np.asarray(rates, dtype=float)
    view = np.lib.stride_tricks.sliding_window_view(r, horizon_s)
    return view[np.asarray(t, dtype=np.int64)].max(axis=1)


def make_windows(
    rates,
    stride: int = 1,
    history_s: int = HISTORY_S,
    step_s: int = STEP_S,
    horizon_s: int = HORIZON_S,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (time, input maxima, target) triples of a rate series, every ``stride`` seconds.

    Returns
    -------
    t : int array of prediction times (history is ``rates[:t]``)
    X : float array ``(len(t), history_s // step_s)`` of window maxima
    y : float array of the max of the next ``horizon_s`` seconds

    Examples
    --------
    >>> t, X, y = make_windows(np.arange(50), stride=5, history_s=20, step_s=10, horizon_s=5)
    >>> t.tolist(), X[0].tolist(), float(y[0])
    ([20, 25, 30, 35, 40, 45], [9.0, 19.0], 24.0)
    """
    r = np.asarray(rates, dtype=float)
    t = np.arange(history_s, len(r) - horizon_s + 1, stride, dtype=np.int64)
    if len(t) == 0:
        raise ValueError(f"series of {len(r)} s is shorter than {history_s + horizon_s} s")
    blocks = np.lib.stride_tricks.sliding_window_view(r, step_s)[:, :].max(axis=1)
    # blocks[j] = max(r[j:j+step_s]); the k-th input of time t starts at t - history_s + k*step
    offs = np.arange(0, history_s, step_s) - history_s
    X = blocks[t[:, None] + offs[None, :]]
    y = future_max(r, t, horizon_s)
    return t, X, y


def twitter_split(trace=None, damping: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """IPA's split of the Twitter trace: days 1-14 (train) and 15-21 (test), zeros removed.

    The trace has a gap of about 29 minutes of zero counts each day (a collection outage);
    like IPA we drop zero seconds before making windows.

    Returns
    -------
    (train, test) int arrays of per-second rates, divided by ``damping`` (``int(x / d)``).

    Examples
    --------
    >>> from ssloserve.data import require_data
    >>> require_data("workload/twitter_workload_per_second.tbz2")
    >>> tr, te = twitter_split(); print(len(tr) > 1_150_000, len(te) > 570_000)
    True True
    """
    from .traces import twitter_trace

    a = np.asarray(twitter_trace() if trace is None else trace, dtype=np.int64) // int(damping)
    day = 86_400
    train, test = a[: 14 * day], a[14 * day : 21 * day]
    return train[train != 0], test[test != 0]


# --------------------------------------------------------------------------- LSTM


def _torch():
    import torch

    torch.set_num_threads(2)
    return torch


def _build_net(units: int = 25, n_in: int = HISTORY_S // STEP_S):
    torch = _torch()

    class LoadLSTM(torch.nn.Module):
        """LSTM(1 -> units) over the window maxima, then one dense output."""

        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(input_size=1, hidden_size=units, batch_first=True)
            self.dense = torch.nn.Linear(units, 1)

        def forward(self, x):  # x: (batch, n_in)
            out, _ = self.lstm(x.unsqueeze(-1))
            return self.dense(out[:, -1, :]).squeeze(-1)

    return LoadLSTM()


def _normalise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = np.maximum(X.mean(axis=1), 1.0)
    return X / scale[:, None], scale


@dataclass
class LSTMPredictor(Predictor):
    """IPA's LSTM load predictor (PAPERS.md 0.3), with a max-of-window fallback.

    With less than ``HISTORY_S`` seconds of history it answers like :class:`MaxWindow`
    (as IPA does for its first 2 minutes).

    Examples
    --------
    >>> p = LSTMPredictor.load()
    >>> hist = [20.0] * 120
    >>> 15.0 < p.predict(hist) < 30.0
    True
    >>> p.predict([5.0, 7.0])  # too little history: the max predictor
    7.0
    """

    net: object = None
    units: int = 25
    meta: dict = field(default_factory=dict)
    name: str = "lstm"

    def __post_init__(self):
        if self.net is None:
            self.net = _build_net(self.units)

    def predict(self, history_rps) -> float:
        h = _history(history_rps)
        if len(h) < HISTORY_S:
            return float(h.max())
        return float(self.predict_maxima(history_maxima(h)[None, :])[0])

    def predict_maxima(self, X) -> np.ndarray:
        """Predictions for rows of 12 window maxima (batched, no fallback)."""
        torch = _torch()
        Xn, scale = _normalise(np.asarray(X, dtype=float))
        self.net.eval()
        out = []
        with torch.no_grad():
            for i in range(0, len(Xn), 65536):
                xb = torch.as_tensor(Xn[i : i + 65536], dtype=torch.float32)
                out.append(self.net(xb).numpy())
        return np.maximum(np.concatenate(out).astype(float) * scale, 0.0)

    def predict_many(self, rates, t) -> np.ndarray:
        r, t = _times(rates, t)
        out = np.empty(len(t))
        short = t < HISTORY_S
        if short.any():
            out[short] = [r[:i].max() for i in t[short]]
        if (~short).any():
            tt = t[~short]
            blocks = np.lib.stride_tricks.sliding_window_view(r, STEP_S).max(axis=1)
            offs = np.arange(0, HISTORY_S, STEP_S) - HISTORY_S
            out[~short] = self.predict_maxima(blocks[tt[:, None] + offs[None, :]])
        return out

    def save(self, path) -> Path:
        """Save the weights and training metadata (a small torch file)."""
        torch = _torch()
        path = Path(path)
        torch.save(
            {"state_dict": self.net.state_dict(), "units": self.units, "meta": self.meta}, path
        )
        return path

    @classmethod
    def load(cls, path=None) -> LSTMPredictor:
        """Load weights; by default the shipped ``data/lstm_predictor.pt``."""
        torch = _torch()
        p = Path(path) if path is not None else project_data_path(WEIGHTS)
        if not p.exists():
            raise ProfileError(
                f"no LSTM weights at {p}; train them with `python benchmarks/train_lstm.py`"
            )
        blob = torch.load(p, weights_only=True)
        obj = cls(units=int(blob["units"]), meta=dict(blob.get("meta", {})))
        obj.net.load_state_dict(blob["state_dict"])
        return obj


def train_lstm(
    rates,
    stride: int = 10,
    epochs: int = 20,
    batch_size: int = 256,
    lr: float = 1e-2,
    units: int = 25,
    seed: int = 0,
    progress: bool = False,
) -> LSTMPredictor:
    """Train IPA's LSTM on a per-second rate series (MSE on mean-normalised windows, Adam).

    Parameters
    ----------
    rates : training series (e.g. days 1-14 of the Twitter trace, zeros removed)
    stride : use every ``stride``-th window (training windows overlap heavily; a stride
        of 10 keeps about 120,000 of the 1.2 million and trains in minutes on 2 cores)
    epochs, batch_size, lr : optimiser settings (Adam)
    units : LSTM units (25 in IPA)
    seed : seeds torch and the shuffling
    progress : show a tqdm bar over epochs

    Returns
    -------
    LSTMPredictor with ``meta`` recording the settings and the final training loss.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> r = 20 + 5 * np.sin(np.arange(3000) / 50) + rng.normal(0, 1, 3000)
    >>> p = train_lstm(np.clip(r, 0, None), stride=5, epochs=2)
    >>> p.meta["n_windows"]
    573
    """
    torch = _torch()
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    _, X, y = make_windows(rates, stride=stride)
    Xn, scale = _normalise(X)
    yn = y / scale
    pred = LSTMPredictor(units=units)
    net = pred.net
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    Xt = torch.as_tensor(Xn, dtype=torch.float32)
    yt = torch.as_tensor(yn, dtype=torch.float32)
    loss_val = math.nan
    net.train()
    for _ in tqdm(range(epochs), desc="train LSTM", disable=not progress):
        order = torch.as_tensor(rng.permutation(len(Xt)))
        total = 0.0
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(net(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        sched.step()
        loss_val = total / len(Xt)
    net.eval()
    pred.meta = {
        "n_windows": int(len(Xt)),
        "stride": int(stride),
        "epochs": int(epochs),
        "batch_size": int(batch_size),
        "lr": float(lr),
        "seed": int(seed),
        "train_mse_normalised": float(loss_val),
    }
    return pred


def evaluate(predictor: Predictor, rates, stride: int = 1) -> dict[str, float]:
    """Mean absolute error and under-prediction rate of a predictor on a rate series.

    Every ``stride``-th second from ``HISTORY_S`` on, the predictor sees the history and
    guesses the max of the next ``HORIZON_S`` seconds.

    Returns
    -------
    ``{"mae": ..., "under_rate": share of predictions below the true max,
    "mean_under": mean shortfall when under, "n": number of predictions}``

    Examples
    --------
    >>> r = np.arange(200.0)
    >>> ev = evaluate(Reactive(), r, stride=10)
    >>> ev["under_rate"], ev["mae"]
    (1.0, 20.0)
    """
    t, _, y = make_windows(rates, stride=stride)
    p = predictor.predict_many(rates, t)
    err = p - y
    under = err < 0
    return {
        "mae": float(np.abs(err).mean()),
        "under_rate": float(under.mean()),
        "mean_under": float(-err[under].mean()) if under.any() else 0.0,
        "n": int(len(t)),
    }
