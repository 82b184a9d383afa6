"""Quantisation to the integer arithmetic a switch does, and the integer reference model
(chapter 05, NetNN).

The scheme (chosen, stated in the chapter):

- inputs are unsigned 8-bit codes (0..255); hidden activations are 0..127 (int8 after ReLU);
- weights are signed 8-bit (-127..127), biases signed 32-bit;
- every dot product accumulates in **32-bit** two's complement (the quantiser checks it cannot
  overflow; pure 8-bit wrap-around destroys the result, see PAPERS.md 5);
- a hidden layer requantises with an arithmetic **right shift** (the rounding half-step is
  folded into the bias) and **saturates** to [0, 127], which is also the ReLU;
- max-pooling compares the requantised values (shift and clamp are monotone, so pooling before
  or after them gives the same result);
- the output layer keeps its 32-bit sum: the logit; a sample is an attack when it is > 0.

:class:`IntegerModel` runs this with torch integer ops; it is the reference every data-plane
execution must equal bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import MappingError
from .models import FlowMLP, LayerShape, RawByteCNN, architecture

__all__ = ["QLayer", "IntegerModel", "quantize", "random_integer_model", "ACT_MAX", "INT32_MAX"]

ACT_MAX = 127
INT32_MAX = 2**31 - 1


@dataclass(frozen=True, eq=False)
class QLayer:
    """One quantised layer: int8 weights, int32 bias (rounding folded in), right shift.

    ``weight`` is ``(out, in, kernel)`` for conv and ``(out, fan_in)`` for dense.
    """

    shape: LayerShape
    weight: np.ndarray
    bias: np.ndarray
    shift: int

    @property
    def relu(self) -> bool:
        return self.shape.relu


def _wrap(a: torch.Tensor, bits: int = 32) -> torch.Tensor:
    if bits == 32:
        return a.to(torch.int32).to(torch.int64)
    half = 1 << (bits - 1)
    return torch.remainder(a + half, 2 * half) - half


@dataclass(frozen=True, eq=False)
class IntegerModel:
    """A model in switch integer arithmetic (chapter 05); the bit-exact reference.

    Parameters
    ----------
    input_shape : the input layer's :class:`LayerShape`
    layers : the quantised layers, in order; the last one outputs the logit
    input_scale : real value of one input code step (1/255)
    logit_scale : real value of one step of the output logit

    Examples
    --------
    >>> m = random_integer_model([4, 3, 1], seed=0)
    >>> m.forward(np.zeros((2, 4), np.uint8)).dtype
    dtype('int64')
    """

    input_shape: LayerShape
    layers: tuple[QLayer, ...]
    input_scale: float = 1 / 255
    logit_scale: float = 1.0

    @property
    def architecture(self) -> list[LayerShape]:
        """Layer shapes, input first (what the Mapper needs)."""
        return [self.input_shape] + [q.shape for q in self.layers]

    @torch.no_grad()
    def forward(self, x_u8: np.ndarray, return_all: bool = False, accumulator_bits: int = 32):
        """Integer logits (int64 holding int32 values) for 8-bit inputs ``(n, length)``.

        With ``return_all`` also the list of every layer's integer output ``(n, ch, len)``.
        ``accumulator_bits=8`` wraps every sum to 8 bits, as NetNN's prototype did (to show
        what that costs; switches here always use 32).
        """
        x = torch.as_tensor(np.asarray(x_u8, dtype=np.int64)).reshape(
            len(x_u8), self.input_shape.out_channels, self.input_shape.out_length
        )
        outs = []
        for q in self.layers:
            s = q.shape
            w = torch.as_tensor(q.weight.astype(np.int64))
            if s.kind == "conv":
                p = s.conv_length
                acc = torch.zeros(x.shape[0], s.out_channels, p, dtype=torch.int64)
                for t in range(s.kernel):
                    acc = acc + torch.einsum("fc,ncp->nfp", w[:, :, t], x[:, :, t : t + p])
            else:
                acc = (x.reshape(x.shape[0], -1) @ w.T).unsqueeze(-1)
            acc = _wrap(
                acc + torch.as_tensor(q.bias.astype(np.int64))[None, :, None], accumulator_bits
            )
            if s.relu:
                y = torch.clamp(acc >> q.shift, 0, ACT_MAX)
                if s.pool > 1:
                    n_out = s.out_length * s.pool
                    y = y[:, :, :n_out].reshape(y.shape[0], y.shape[1], s.out_length, s.pool)
                    y = y.max(dim=-1).values
            else:
                y = acc
            outs.append(y.numpy())
            x = y
        logits = x.reshape(x.shape[0], -1)[:, 0].numpy()
        return (logits, outs) if return_all else logits

    def predict(self, x_u8: np.ndarray, accumulator_bits: int = 32) -> np.ndarray:
        """0/1 decisions (logit > 0)."""
        return (self.forward(x_u8, accumulator_bits=accumulator_bits) > 0).astype(np.int64)

    def n_weights(self) -> int:
        """Number of int8 weights."""
        return int(sum(q.weight.size for q in self.layers))


def _check_accumulator(q: QLayer, in_max: int) -> None:
    bound = int(np.abs(q.weight.astype(np.int64)).reshape(q.weight.shape[0], -1).sum(1).max())
    bound = bound * in_max + int(np.abs(q.bias.astype(np.int64)).max(initial=0))
    if bound > INT32_MAX:
        raise MappingError(
            f"layer {q.shape.name!r} could overflow a 32-bit accumulator (|sum| up to {bound})",
            resource="accumulator bits",
            layer=q.shape.name,
        )


def _torch_layers(model: nn.Module) -> list[nn.Module]:
    if isinstance(model, FlowMLP):
        return [m for m in model.net if isinstance(m, nn.Linear)]
    if isinstance(model, RawByteCNN):
        convs = [m for m in model.features if isinstance(m, nn.Conv1d)]
        return convs + [m for m in model.head if isinstance(m, nn.Linear)]
    raise TypeError(f"cannot quantise a {type(model).__name__}")


@torch.no_grad()
def _float_activations(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Post-ReLU activations of every hidden layer of the float model."""
    acts = []
    if isinstance(model, RawByteCNN):
        z = x.unsqueeze(1)
        for m in model.features:
            z = m(z)
            if isinstance(m, nn.ReLU):
                acts.append(z)
        z = z.flatten(1)
        mods = model.head
    else:
        z = x
        mods = model.net
    for m in mods:
        z = m(z)
        if isinstance(m, nn.ReLU):
            acts.append(z)
    return acts


@torch.no_grad()
def quantize(model: nn.Module, calib_u8: np.ndarray, percentile: float = 99.9) -> IntegerModel:
    """Post-training quantisation of a trained torch model to switch integer arithmetic.

    Each hidden layer's output scale is calibrated on ``calib_u8`` (the ``percentile`` of its
    positive activations maps to 127); its right shift is the largest that keeps the weights
    within int8, and the weight scale is chosen so that the shift rescales exactly.

    Parameters
    ----------
    model : a trained :class:`FlowMLP` or :class:`RawByteCNN`
    calib_u8 : calibration inputs (8-bit codes), e.g. the training set
    percentile : activation percentile mapped to the largest code (127)

    Returns
    -------
    The :class:`IntegerModel` (the bit-exact reference for the data plane).

    Examples
    --------
    >>> m = FlowMLP(4, (8,))
    >>> q = quantize(m, np.random.default_rng(0).integers(0, 256, (64, 4)).astype(np.uint8))
    >>> [l.weight.dtype.name for l in q.layers], [l.shift >= 0 for l in q.layers]
    (['int8', 'int8'], [True, True])
    """
    shapes = architecture(model)
    mods = _torch_layers(model)
    x = torch.as_tensor(np.asarray(calib_u8), dtype=torch.float32) / 255.0
    acts = _float_activations(model, x)
    s_in = 1.0 / 255.0
    in_max = 255
    layers = []
    for i, (shape, mod) in enumerate(zip(shapes[1:], mods, strict=True)):
        w = mod.weight.detach().double().numpy()
        b = mod.bias.detach().double().numpy()
        wmax = float(np.abs(w).max()) or 1e-12
        if shape.relu:
            a = acts[i].double().numpy().ravel()
            a = a[a > 0]
            a_max = float(np.percentile(a, percentile)) if a.size else 1.0
            s_out = max(a_max, 1e-9) / ACT_MAX
            shift = math.floor(math.log2(ACT_MAX * s_out / (wmax * s_in)))
            if shift < 0:
                shift = 0
                s_w = wmax / ACT_MAX
            else:
                shift = min(shift, 30)
                s_w = s_out / (s_in * 2**shift)
        else:
            shift = 0
            s_w = wmax / ACT_MAX
        wq = np.clip(np.round(w / s_w), -ACT_MAX, ACT_MAX).astype(np.int8)
        bq = np.round(b / (s_w * s_in)).astype(np.int64)
        if shift > 0:
            bq = bq + (1 << (shift - 1))
        bq = np.clip(bq, -INT32_MAX, INT32_MAX).astype(np.int32)
        if shape.kind == "dense":
            wq = wq.reshape(shape.out_channels, shape.fan_in)
        q = QLayer(shape, wq, bq, int(shift))
        _check_accumulator(q, in_max)
        layers.append(q)
        if shape.relu:
            s_in = s_w * s_in * 2**shift
            in_max = ACT_MAX
        else:
            logit_scale = s_w * s_in
    return IntegerModel(shapes[0], tuple(layers), 1 / 255, float(logit_scale))


def random_integer_model(
    sizes, *, conv=(), seed: int = 0, length: int | None = None, weight_max: int = 127
) -> IntegerModel:
    """A random integer model for tests and for placing architectures without training.

    Parameters
    ----------
    sizes : dense widths, first the input features (MLP) or ignored input entry (with ``conv``),
        ending with 1, e.g. ``[6, 8, 1]``
    conv : ``(filters, kernel, pool)`` per convolution before the dense layers
    seed : RNG seed
    length : input length when ``conv`` is given
    weight_max : largest absolute weight

    Examples
    --------
    >>> m = random_integer_model([0, 4, 1], conv=((2, 3, 2),), length=12, seed=1)
    >>> [s.name for s in m.architecture]
    ['input', 'conv1', 'dense1', 'dense2']
    """
    rng = np.random.default_rng(seed)
    if conv:
        model = RawByteCNN(length, conv=tuple(conv), dense=tuple(sizes[1:-1]))
    else:
        model = FlowMLP(sizes[0], tuple(sizes[1:-1]))
    shapes = architecture(model)
    layers = []
    mean_in = 127.5
    for s in shapes[1:]:
        wshape = (
            (s.out_channels, s.in_channels, s.kernel)
            if s.kind == "conv"
            else (s.out_channels, s.fan_in)
        )
        w = rng.integers(-weight_max, weight_max + 1, wshape).astype(np.int8)
        spread = math.sqrt(s.fan_in) * max(weight_max, 1) * 0.58 * max(mean_in, 1.0)
        shift = max(0, round(math.log2(max(spread / 64.0, 1.0)))) if s.relu else 0
        b = rng.integers(-(2 ** (shift + 4)), 2 ** (shift + 4) + 1, s.out_channels)
        if shift > 0:
            b = b + (1 << (shift - 1))
        layers.append(QLayer(s, w, b.astype(np.int32), int(shift)))
        mean_in = 40.0
    return IntegerModel(shapes[0], tuple(layers))
