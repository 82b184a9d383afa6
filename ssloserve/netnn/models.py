"""NetNN's models in torch: an MLP over switch-computable flow features and the raw-byte CNN
(chapter 05, NetNN).

Every model reads 8-bit codes (0..255) scaled to [0, 1] and returns one logit per sample
(attack when positive). :func:`architecture` describes a model as a list of
:class:`LayerShape` so the Mapper can place it without looking at weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = [
    "LayerShape",
    "FlowMLP",
    "RawByteCNN",
    "paper_architecture",
    "architecture",
    "train_model",
    "predict_logits",
    "accuracy",
]


@dataclass(frozen=True)
class LayerShape:
    """Shape of one layer as a switch sees it (chapter 05).

    Every tensor between layers is ``channels x length`` in channel-major order; a dense
    layer's output is ``units x 1``. Switches split a layer by output channels (conv filters
    or dense neurons).

    Parameters
    ----------
    name : "input", "conv1", "dense2", ...
    kind : "input", "conv" or "dense"
    in_channels, in_length : shape of the input tensor (dense: ``1 x fan_in``)
    out_channels : filters or neurons (the units a Mapper distributes)
    kernel : conv taps (1 for dense)
    pool : max-pool window and stride (1 = none)
    relu : whether a ReLU follows (the output layer has none)

    Examples
    --------
    >>> s = LayerShape("conv1", "conv", 1, 816, 32, 5, 5, True)
    >>> s.conv_length, s.out_length, s.out_values
    (812, 162, 5184)
    """

    name: str
    kind: str
    in_channels: int
    in_length: int
    out_channels: int
    kernel: int = 1
    pool: int = 1
    relu: bool = True

    @property
    def conv_length(self) -> int:
        """Positions before pooling (dense: 1)."""
        if self.kind == "conv":
            return self.in_length - self.kernel + 1
        return 1 if self.kind == "dense" else self.in_length

    @property
    def out_length(self) -> int:
        """Positions after pooling (dense: 1)."""
        return self.conv_length // self.pool

    @property
    def out_values(self) -> int:
        """Values this layer emits per sample."""
        return self.out_channels * self.out_length

    @property
    def fan_in(self) -> int:
        """Inputs of one output value (conv: channels x taps)."""
        if self.kind == "conv":
            return self.in_channels * self.kernel
        return self.in_channels * self.in_length


def _dense_stack(width: int, hidden: tuple[int, ...]) -> nn.Sequential:
    """Linear + ReLU per hidden width, then a 1-unit output (the logit)."""
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


class FlowMLP(nn.Module):
    """A small MLP over switch-computable flow features (chapter 05).

    Parameters
    ----------
    n_features : number of 8-bit input features
    hidden : neurons per hidden layer
    seed : initialises the weights without touching the global RNG

    Examples
    --------
    >>> m = FlowMLP(6, (8, 4))
    >>> m(torch.zeros(2, 6)).shape
    torch.Size([2])
    """

    def __init__(self, n_features: int, hidden: tuple[int, ...] = (32, 16), seed: int = 0):
        super().__init__()
        self.n_features = n_features
        self.hidden = tuple(hidden)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.net = _dense_stack(n_features, self.hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.net(x).squeeze(-1)


class RawByteCNN(nn.Module):
    """NetNN's raw-byte model: 1-D convolutions with max-pooling, then dense layers (chapter 05).

    Parameters
    ----------
    length : input bytes per sample (e.g. a 4-byte inter-arrival slot + 68 packet bytes)
    conv : ``(filters, kernel, pool)`` per convolution
    dense : neurons per hidden dense layer (a 1-neuron output layer follows)
    seed : initialises the weights without touching the global RNG

    Examples
    --------
    >>> m = RawByteCNN(69, conv=((4, 5, 2),), dense=(8,))
    >>> m(torch.zeros(3, 69)).shape
    torch.Size([3])
    """

    def __init__(
        self,
        length: int = 72,
        conv: tuple[tuple[int, int, int], ...] = ((8, 5, 2), (16, 5, 2)),
        dense: tuple[int, ...] = (16,),
        seed: int = 0,
    ):
        super().__init__()
        self.length = length
        self.conv_spec = tuple(tuple(c) for c in conv)
        self.dense_spec = tuple(dense)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            convs: list[nn.Module] = []
            ch, ln = 1, length
            for filters, kernel, pool in self.conv_spec:
                convs += [nn.Conv1d(ch, filters, kernel), nn.ReLU()]
                if pool > 1:
                    convs.append(nn.MaxPool1d(pool))
                ch, ln = filters, (ln - kernel + 1) // pool
            self.features = nn.Sequential(*convs)
            self.flat = ch * ln
            self.head = _dense_stack(self.flat, self.dense_spec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        z = self.features(x.unsqueeze(1))
        return self.head(z.flatten(1)).squeeze(-1)


def paper_architecture(seed: int = 0) -> RawByteCNN:
    """The published NetNN model: 816 input bytes, conv 32x5 + pool 5, conv 64x5 + pool 5,
    dense 1984 -> 52 -> 100 -> 1 (chapter 05).

    816 = 12 x 68 bytes: the prototype's pooling register (1296 = 162 positions x 8 filters)
    and its 1984 = 64 x 31 dense inputs both follow from this length.

    Examples
    --------
    >>> [s.out_values for s in architecture(paper_architecture())]
    [816, 5184, 1984, 52, 100, 1]
    """
    return RawByteCNN(816, conv=((32, 5, 5), (64, 5, 5)), dense=(52, 100), seed=seed)


def _dense_shapes(width: int, hidden) -> list[LayerShape]:
    """Shapes of :func:`_dense_stack`: ``dense1..`` with ReLU, then the 1-unit output."""
    shapes = []
    for i, h in enumerate([*hidden, 1]):
        relu = i < len(hidden)
        shapes.append(LayerShape(f"dense{i + 1}", "dense", 1, width, h, relu=relu))
        width = h
    return shapes


def architecture(model) -> list[LayerShape]:
    """The layer shapes of a :class:`FlowMLP`, :class:`RawByteCNN` or integer model, input first.

    Examples
    --------
    >>> [(s.name, s.out_values) for s in architecture(FlowMLP(6, (8,)))]
    [('input', 6), ('dense1', 8), ('dense2', 1)]
    """
    if hasattr(model, "architecture") and not isinstance(model, nn.Module):
        return list(model.architecture)
    if isinstance(model, FlowMLP):
        shapes = [LayerShape("input", "input", 1, model.n_features, 1, relu=False)]
        return shapes + _dense_shapes(model.n_features, model.hidden)
    if isinstance(model, RawByteCNN):
        shapes = [LayerShape("input", "input", 1, model.length, 1, relu=False)]
        ch, ln = 1, model.length
        for i, (filters, kernel, pool) in enumerate(model.conv_spec):
            s = LayerShape(f"conv{i + 1}", "conv", ch, ln, filters, kernel, pool, True)
            shapes.append(s)
            ch, ln = filters, s.out_length
        return shapes + _dense_shapes(ch * ln, model.dense_spec)
    raise TypeError(f"cannot describe a {type(model).__name__}; use FlowMLP or RawByteCNN")


def _as_input(x_u8) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x_u8), dtype=torch.float32) / 255.0


def train_model(
    model: nn.Module,
    x_u8: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int = 10,
    lr: float = 3e-3,
    batch: int = 128,
    seed: int = 0,
) -> list[float]:
    """Train a model on 8-bit codes with Adam and binary cross-entropy; returns the loss per epoch.

    Classes are weighted to balance them. Deterministic under ``seed`` (shuffling uses its own
    generator).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(0, 256, (200, 4)).astype(np.uint8); y = (x[:, 0] > 127).astype(int)
    >>> m = FlowMLP(4, (8,))
    >>> losses = train_model(m, x, y, epochs=30, lr=1e-2)
    >>> losses[-1] < losses[0]
    True
    """
    xt = _as_input(x_u8)
    yt = torch.as_tensor(np.asarray(y), dtype=torch.float32)
    pos = float(yt.sum())
    neg = float(len(yt) - pos)
    pos_weight = torch.tensor(neg / pos if pos > 0 and neg > 0 else 1.0)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(xt), batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / len(xt))
    model.eval()
    return losses


@torch.no_grad()
def predict_logits(model: nn.Module, x_u8: np.ndarray) -> np.ndarray:
    """Float logits of a torch model on 8-bit codes.

    Examples
    --------
    >>> predict_logits(FlowMLP(3, (4,)), np.zeros((2, 3), np.uint8)).shape
    (2,)
    """
    model.eval()
    return model(_as_input(x_u8)).numpy()


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    """Fraction of predictions (0/1) equal to the labels.

    Examples
    --------
    >>> accuracy(np.array([1, 0, 1]), np.array([1, 1, 1]))
    0.6666666666666666
    """
    pred = np.asarray(pred)
    return float(np.mean(pred == np.asarray(y))) if len(pred) else float("nan")
