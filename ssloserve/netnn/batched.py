"""The batched data-plane executor: the same switches as :mod:`~ssloserve.netnn.executor`, fed
whole batches of frames at a time with numpy (chapter 05, NetNN).

A batch is a 2-D ``uint8`` array whose rows are complete Ethernet frames, byte for byte the
frames :func:`~ssloserve.netnn.executor.encode_frame` builds. Every switch parses the header
columns of the batch (EtherType, sample id, layer, part, value bytes), refuses what the packet
executor refuses, adds each frame's contribution to its 32-bit partial-sum registers (one row
per sample slot), sets the sender's bit in the arrival bitmap, and finishes (bias, shift,
clamp, pool, register reset, a new frame per sample) the samples whose every upstream part has
arrived.

Samples enter in windows of ``in_flight`` samples, at most ``sample_slots`` (the registers'
rows), so no two samples of a window share a slot, as in the packet executor. One batch
carries ``windows`` consecutive windows, and a switch with registers keeps one register file
per window of the batch (``windows x sample_slots`` rows, row = window, slot). That gives
what the same windows give one after the other on one register file, because every window
leaves its registers reset (the tests check the reset and the frames, byte for byte).

Why it is faster: a switch does the work of a whole batch in a few dozen numpy calls instead of
a few dozen Python statements per frame. The dot products run as floating-point matrix
products, which are exact here: the weights are int8 and the inputs at most 255, so every
partial sum of one upstream part's contribution is an integer of magnitude at most
(its fan-in) x 128 x 255. Below 2**24 that is exact in float32, below 2**53 in float64; the
switch picks float32 where the bound allows, float64 otherwise (checked when configured). The
sums across parts and the bias are added in int64 and wrapped to 32 bits, as in the packet
executor.

:mod:`~ssloserve.netnn.executor` stays the readable reference; the tests check this one
against it frame for frame and against :class:`~ssloserve.netnn.quantize.IntegerModel` bit
for bit. Nothing here calls the model.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np
import pandas as pd

from ..errors import TraceFormatError
from .executor import (
    ETHERTYPE_NN,
    ExecutionResult,
    SwitchConfig,
    check_inputs,
    configure,
    encode_frame,
)
from .mapper import PartitionPlan
from .quantize import ACT_MAX, IntegerModel
from .switch import ETHERNET_BYTES, NN_HEADER_BYTES

__all__ = ["encode_frames", "decode_frames", "BatchedDataPlane", "execute_batched"]

_HDR = ETHERNET_BYTES + NN_HEADER_BYTES  # 22 bytes before the values
_EXACT64 = 2**53  # float64 adds and multiplies integers below this exactly
_EXACT32 = 2**24  # and float32 below this


def _template(layer: int, part: int, n_values: int) -> np.ndarray:
    """The 22 header bytes every frame of one sender shares (the sample id left zero)."""
    return np.frombuffer(encode_frame(0, layer, part, b"")[:_HDR], np.uint8).copy() | np.array(
        [0] * 20 + [n_values >> 8, n_values & 0xFF], np.uint8
    )


_ETYPE = np.array([ETHERTYPE_NN >> 8, ETHERTYPE_NN & 0xFF], np.uint8)
_SID_BYTES = np.array([1 << 24, 1 << 16, 1 << 8, 1], np.int64)


def encode_frames(sample_ids: np.ndarray, layer: int, part: int, values: np.ndarray) -> np.ndarray:
    """One frame per row of ``values`` (``(n, v)`` uint8), the same bytes as
    :func:`~ssloserve.netnn.executor.encode_frame` builds for each.

    Examples
    --------
    >>> from ssloserve.netnn.executor import encode_frame
    >>> f = encode_frames(np.array([7, 8]), 1, 2, np.array([[1, 2, 3], [4, 5, 6]], np.uint8))
    >>> f.shape, f[0].tobytes() == encode_frame(7, 1, 2, bytes([1, 2, 3]))
    ((2, 25), True)
    """
    n, v = values.shape
    out = np.empty((n, _HDR + v), np.uint8)
    out[:, :_HDR] = _template(layer, part, v)
    sid = np.asarray(sample_ids, np.int64) & 0xFFFFFFFF
    out[:, 14:18] = sid.astype(">u4").view(np.uint8).reshape(n, 4)
    out[:, _HDR:] = values
    return out


def decode_frames(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(sample_ids, layers, parts, values)`` of a batch of frames (rows of equal length).

    Raises :class:`~ssloserve.errors.TraceFormatError` as
    :func:`~ssloserve.netnn.executor.decode_frame` does, naming the first bad row.

    Examples
    --------
    >>> sid, layer, part, v = decode_frames(encode_frames(np.array([3]), 1, 0, np.ones((1, 2), np.uint8)))
    >>> sid.tolist(), layer.tolist(), part.tolist(), v.tolist()
    ([3], [1], [0], [[1, 1]])
    """
    f = frames
    if not isinstance(f, np.ndarray) or f.ndim != 2 or f.dtype != np.uint8:
        raise TraceFormatError("a batch of frames is a 2-D uint8 array")
    if f.shape[1] < _HDR:
        raise TraceFormatError(f"frame of {f.shape[1]} bytes is too short for the NetNN header")
    if len(f) == 0:
        return (np.zeros(0, np.int64),) * 3 + (f[:, _HDR:],)
    if (f[:, 12:14] != _ETYPE).any():
        i = int(np.flatnonzero((f[:, 12:14] != _ETYPE).any(1))[0])
        etype = int(f[i, 12]) << 8 | int(f[i, 13])
        raise TraceFormatError(
            f"row {i}: EtherType 0x{etype:04x} is not NetNN's 0x{ETHERTYPE_NN:04x}"
        )
    if (f[:, 20:22] != f[0, 20:22]).any():
        i = int(np.flatnonzero((f[:, 20:22] != f[0, 20:22]).any(1))[0])
        raise TraceFormatError(f"row {i}: value bytes differ from row 0's within one batch")
    n = int(f[0, 20]) << 8 | int(f[0, 21])
    if n > f.shape[1] - _HDR:
        raise TraceFormatError(f"header says {n} value bytes, frame has {f.shape[1] - _HDR}")
    return f[:, 14:18] @ _SID_BYTES, f[:, 18], f[:, 19], f[:, _HDR : _HDR + n]


def _wrap32(a: np.ndarray) -> np.ndarray:
    """Two's-complement 32-bit wrap-around of int64 sums."""
    return ((a + 2**31) & 0xFFFFFFFF) - 2**31


class _BatchSwitch:
    """One switch, fed batches: registers ``acc[slot, channel, position]`` and ``arrived``."""

    def __init__(self, cfg: SwitchConfig):
        self.cfg = cfg
        self.ch = cfg.hi - cfg.lo
        self.n_up = len(cfg.upstream)
        self.packets = 0
        if cfg.layer == 0:
            return
        self.set_windows(1, cfg.slots)
        if cfg.weight.dtype != np.int8:
            raise TypeError(f"{cfg.name}: weights must be int8, got {cfg.weight.dtype}")
        # one part's partial sums are at most (its fan-in) x 128 x 255 in magnitude
        self.dtypes = []
        for c0, c1 in cfg.upstream:
            per = c1 - c0
            fan_in = (
                per * cfg.shape.kernel
                if cfg.shape.kind == "conv"
                else per * cfg.prev_shape.out_length
            )
            bound = fan_in * 128 * 255
            if bound >= _EXACT64:
                raise ValueError(f"{cfg.name}: fan-in {fan_in} too large for exact float sums")
            self.dtypes.append(np.float32 if bound < _EXACT32 else np.float64)
        self.full = (1 << self.n_up) - 1

    def set_windows(self, windows: int, in_flight: int) -> None:
        """One register file (``sample_slots`` rows) per window of ``in_flight`` samples in a
        batch of ``windows`` windows; registers start at zero."""
        cfg = self.cfg
        self.windows, self.in_flight = windows, in_flight
        if cfg.layer > 0 and self.n_up > 1:
            rows = windows * cfg.slots
            self.acc = np.zeros((rows, self.ch, cfg.shape.conv_length), np.int64)
            self.arrived = np.zeros(rows, np.int64)

    def _register_rows(self, sid: np.ndarray) -> np.ndarray:
        """Register row of each sample: its window within the batch, then its slot."""
        slots = self.cfg.slots
        return (sid // self.in_flight) % self.windows * slots + (sid & (slots - 1))

    def _contribution(self, q: int, vals: np.ndarray) -> np.ndarray:
        """``(m, ch, positions)`` partial sums of ``m`` frames from upstream part ``q``.

        The weights are read from the switch's configuration at every batch, as a switch
        reads its tables, so a wrong weight loaded by the control plane shows in the result.
        """
        cfg, s, prev = self.cfg, self.cfg.shape, self.cfg.prev_shape
        c0, c1 = cfg.upstream[q]
        if vals.shape[1] != (c1 - c0) * prev.out_length:
            raise TraceFormatError(
                f"{cfg.name}: part {q} sent {vals.shape[1]} values, "
                f"expected {(c1 - c0) * prev.out_length}"
            )
        m, dt = len(vals), self.dtypes[q]
        if s.kind == "conv":  # taps side by side: x[:, c, t, p] = input[c, p + t]
            w = cfg.weight[:, c0:c1, :].reshape(self.ch, -1).astype(dt)  # (ch, c k)
            x = vals.reshape(m, c1 - c0, prev.out_length).astype(dt)
            p = s.conv_length
            taps = np.stack([x[:, :, t : t + p] for t in range(s.kernel)], axis=2)
            return (w @ taps.reshape(m, -1, p)).astype(np.int64)  # (m, ch, P)
        w = cfg.weight[:, c0 * prev.out_length : c1 * prev.out_length].T.astype(dt)
        return (vals.astype(dt) @ w).astype(np.int64)[:, :, None]

    def _finish(self, acc: np.ndarray) -> np.ndarray:
        """Output value bytes ``(m, v)`` of ``m`` complete samples."""
        s = self.cfg.shape
        total = _wrap32(acc + self.cfg.bias.astype(np.int64)[None, :, None])
        m = len(total)
        if not s.relu:
            return total.astype(">i4").view(np.uint8).reshape(m, -1)
        y = np.clip(total >> self.cfg.shift, 0, ACT_MAX)
        if s.pool > 1:
            n_out = s.out_length * s.pool
            y = y[:, :, :n_out].reshape(m, self.ch, s.out_length, s.pool).max(-1)
        return y.astype(np.uint8).reshape(m, -1)

    def receive(self, frames: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """Process a batch of frames; return ``(destination, frames)`` batches to send."""
        cfg = self.cfg
        self.packets += len(frames)
        sid, layer, part, values = decode_frames(frames)
        if cfg.layer == 0:  # ingress: NetNN's packet generator, fan out to layer 1
            out = encode_frames(sid, 0, 0, values)
            return [(d, out) for d in cfg.downstream]
        if (layer != cfg.layer - 1).any() or (part >= self.n_up).any():
            i = int(np.flatnonzero((layer != cfg.layer - 1) | (part >= self.n_up))[0])
            raise TraceFormatError(
                f"{cfg.name}: unexpected packet from layer {layer[i]} part {part[i]}"
            )
        if self.n_up == 1:  # no registers: every frame completes its sample
            done_sid, done_acc = sid, self._contribution(0, values)
        else:
            done_sid, done_acc = self._accumulate(sid, part, values)
            if done_sid is None:
                return []
        out = encode_frames(done_sid, cfg.layer, cfg.part, self._finish(done_acc))
        return [(d, out) for d in cfg.downstream]

    def _accumulate(self, sid, part, values):
        """Add the batch to the registers; return the samples now complete (and reset them)."""
        cfg = self.cfg
        done_sid, done_acc = [], []
        for q in np.unique(part).tolist():
            rows = np.flatnonzero(part == q)
            contrib = self._contribution(q, values[rows])
            slot = self._register_rows(sid[rows])
            bit = 1 << q
            uniq, counts = np.unique(slot, return_counts=True)
            twice = uniq[counts > 1].tolist() + slot[(self.arrived[slot] & bit) != 0].tolist()
            if twice:
                raise TraceFormatError(
                    f"{cfg.name}: part {q} of the sample in register row {twice[0]} arrived twice"
                )
            self.acc[slot] = _wrap32(self.acc[slot] + contrib)
            self.arrived[slot] |= bit
            full = self.arrived[slot] == self.full
            if full.any():
                ready = slot[full]
                done_sid.append(sid[rows][full])
                done_acc.append(self.acc[ready])  # fancy indexing copies
                self.acc[ready] = 0  # reset per sample (an unreset register leaks)
                self.arrived[ready] = 0
        if not done_sid:
            return None, None
        return np.concatenate(done_sid), np.concatenate(done_acc)


class BatchedDataPlane:
    """The switches of a plan fed batches of frames (chapter 05); results equal
    :class:`~ssloserve.netnn.executor.DataPlane`'s frame for frame.

    Examples
    --------
    >>> from ssloserve.netnn.quantize import random_integer_model
    >>> from ssloserve.netnn.mapper import partition
    >>> m = random_integer_model([4, 6, 1], seed=3)
    >>> x = np.arange(8, dtype=np.uint8).reshape(2, 4)
    >>> net = BatchedDataPlane(partition(m, widths=[1, 2, 1]), m)
    >>> bool((net.run(x).logits == m.forward(x)).all())
    True
    """

    def __init__(self, plan: PartitionPlan, model: IntegerModel):
        self.plan = plan
        self.configs = configure(plan, model)
        self.switches = {c.name: _BatchSwitch(c) for c in self.configs}
        self.ingress = self.configs[0].name

    def run(
        self,
        x_u8: np.ndarray,
        *,
        order: str = "fifo",
        seed: int = 0,
        in_flight: int | None = None,
        windows: int | None = None,
        trace: bool = False,
    ) -> ExecutionResult:
        """Send ``x_u8`` into the ingress switch, a batch of ``windows`` windows of ``in_flight``
        samples at a time.

        Keywords as :meth:`~ssloserve.netnn.executor.DataPlane.run`; ``windows`` defaults to
        enough windows for about 1,024 samples per batch (1 = one window per batch, as the
        packet executor keeps in flight). With ``order="shuffle"``
        the pending batches are delivered in random order, each split in two at a random row
        and its rows permuted, so switches see partial and interleaved arrivals.
        """
        x, in_flight = check_inputs(self.plan, x_u8, order, in_flight)
        if windows is not None and windows < 1:
            raise ValueError(f"windows must be at least 1, got {windows}")
        windows = windows or max(1, 1024 // in_flight)
        for sw in self.switches.values():
            sw.set_windows(windows, in_flight)
        rng = np.random.default_rng(seed)
        logits = np.zeros(len(x), np.int64)
        rows = [] if trace else None
        before = sum(s.packets for s in self.switches.values())
        t0 = time.perf_counter()
        per_batch = windows * in_flight
        for w0 in range(0, len(x), per_batch):
            sids = np.arange(w0, min(len(x), w0 + per_batch))
            first = encode_frames(sids, 0, 0, x[sids])
            pending: deque | list = deque([(self.ingress, first)]) if order == "fifo" else []
            if order == "shuffle":
                self._scatter(pending, [(self.ingress, first)], rng, split=True)
            while pending:
                if order == "fifo":
                    dst, frames = pending.popleft()
                else:
                    dst, frames = pending.pop(int(rng.integers(len(pending))))
                if rows is not None:
                    rows.extend(_trace_rows(dst, frames))
                if dst == "h2":
                    sid, _, _, values = decode_frames(frames)
                    v = np.ascontiguousarray(values[:, :4])
                    logits[sid] = v.view(">i4").reshape(-1)
                    continue
                sent = self.switches[dst].receive(frames)
                if order == "fifo":
                    pending.extend(sent)
                else:
                    self._scatter(pending, sent, rng)
        seconds = time.perf_counter() - t0
        packets = sum(s.packets for s in self.switches.values()) - before
        per = {n: s.packets for n, s in self.switches.items()}
        return ExecutionResult(logits, packets, seconds, pd.DataFrame(rows) if trace else None, per)

    @staticmethod
    def _scatter(pending: list, sent, rng: np.random.Generator, split: bool = False) -> None:
        for dst, frames in sent:
            frames = frames[rng.permutation(len(frames))]
            cut = int(rng.integers(0, len(frames) + 1)) if split else len(frames)
            pending.extend((dst, f) for f in (frames[:cut], frames[cut:]) if len(f))


def _trace_rows(dst: str, frames: np.ndarray) -> list[dict]:
    """Trace rows, the same columns as the packet executor's trace."""
    sid, layer, part, values = decode_frames(frames)
    return [
        {
            "to": dst,
            "sample": int(sid[i]),
            "layer": int(layer[i]),
            "part": int(part[i]),
            "value bytes": values.shape[1],
            "frame bytes": frames.shape[1],
            "first values": values[i, :8].tobytes().hex(" "),
            "values": values[i].tobytes(),
        }
        for i in range(len(frames))
    ]


def execute_batched(
    plan: PartitionPlan, model: IntegerModel, x_u8: np.ndarray, **kw
) -> ExecutionResult:
    """Run ``x_u8`` through a fresh :class:`BatchedDataPlane` (keywords as
    :meth:`BatchedDataPlane.run`).

    Examples
    --------
    >>> from ssloserve.netnn.quantize import random_integer_model
    >>> from ssloserve.netnn.mapper import partition
    >>> m = random_integer_model([0, 4, 1], conv=((3, 3, 2),), length=10, seed=0)
    >>> x = np.random.default_rng(0).integers(0, 256, (40, 10)).astype(np.uint8)
    >>> r = execute_batched(partition(m, widths=[1, 3, 2, 1]), m, x, order="shuffle")
    >>> bool((r.logits == m.forward(x)).all()), r.packets  # 40 x (1 + 3 + 3 x 2 + 2 x 1)
    (True, 480)
    """
    return BatchedDataPlane(plan, model).run(x_u8, **kw)
