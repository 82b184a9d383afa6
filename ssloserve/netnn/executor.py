"""The reference data-plane executor: runs a partition plan packet by packet on the encoded
header bytes, with the switches' integer semantics (chapter 05, NetNN).

Every switch parses the frame (Ethernet, EtherType 0x1234, the custom header), adds the
packet's contribution to 32-bit partial-sum registers indexed by sample slot, sets the
sender's bit in an arrival bitmap, and, once every upstream switch has been heard, adds the
bias, shifts, clamps, pools, **resets its registers for that slot**, and multicasts a new frame
with its slice of the layer's output to the next layer. Results are independent of packet
order. Nothing here calls the model: :class:`~ssloserve.netnn.quantize.IntegerModel` is only
what the results are checked against.
"""

from __future__ import annotations

import struct
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import MappingError, TraceFormatError
from .mapper import PartitionPlan, split_units
from .quantize import ACT_MAX, IntegerModel
from .switch import NN_HEADER_BYTES

__all__ = [
    "ETHERTYPE_NN",
    "encode_frame",
    "decode_frame",
    "SwitchConfig",
    "configure",
    "check_inputs",
    "DataPlane",
    "ExecutionResult",
    "execute",
]

ETHERTYPE_NN = 0x1234
_ETH = struct.Struct("!6s6sH")
_NN = struct.Struct("!IBBH")
_BROADCAST = b"\xff" * 6


def _mac(layer: int, part: int) -> bytes:
    return bytes([0x02, 0, 0, 0, layer & 0xFF, part & 0xFF])


def encode_frame(sample_id: int, layer: int, part: int, values: bytes) -> bytes:
    """An Ethernet frame carrying NetNN's custom header and ``values``.

    Layout: Ethernet (14 B, EtherType 0x1234), then sample id (4 B), layer of the values (1 B),
    sending part (1 B), value bytes (2 B), then the values.

    Examples
    --------
    >>> f = encode_frame(7, 1, 2, bytes([1, 2, 3]))
    >>> len(f), f[12:14].hex()
    (25, '1234')
    """
    return (
        _ETH.pack(_BROADCAST, _mac(layer, part), ETHERTYPE_NN)
        + _NN.pack(sample_id & 0xFFFFFFFF, layer, part, len(values))
        + bytes(values)
    )


def decode_frame(frame: bytes) -> tuple[int, int, int, bytes]:
    """``(sample_id, layer, part, values)`` of a frame made by :func:`encode_frame`.

    Examples
    --------
    >>> decode_frame(encode_frame(7, 1, 2, b"ab"))
    (7, 1, 2, b'ab')
    """
    if len(frame) < 14 + NN_HEADER_BYTES:
        raise TraceFormatError(f"frame of {len(frame)} bytes is too short for the NetNN header")
    _, _, etype = _ETH.unpack_from(frame, 0)
    if etype != ETHERTYPE_NN:
        raise TraceFormatError(f"EtherType 0x{etype:04x} is not NetNN's 0x{ETHERTYPE_NN:04x}")
    sid, layer, part, n = _NN.unpack_from(frame, 14)
    values = frame[14 + NN_HEADER_BYTES : 14 + NN_HEADER_BYTES + n]
    if len(values) != n:
        raise TraceFormatError(f"header says {n} value bytes, frame has {len(values)}")
    return sid, layer, part, values


@dataclass(frozen=True, eq=False)
class SwitchConfig:
    """What the control plane loads into one switch: its slice of the layer, its weights
    (int8), biases, shift, the upstream slices it expects and where it sends its output."""

    name: str
    layer: int
    part: int
    shape: object
    prev_shape: object
    lo: int
    hi: int
    upstream: tuple[tuple[int, int], ...]
    downstream: tuple[str, ...]
    weight: np.ndarray | None
    bias: np.ndarray | None
    shift: int
    slots: int


def configure(plan: PartitionPlan, model: IntegerModel) -> list[SwitchConfig]:
    """Per-switch configuration of a plan for a quantised model (the control-plane state).

    Examples
    --------
    >>> from ssloserve.netnn.quantize import random_integer_model
    >>> from ssloserve.netnn.mapper import partition
    >>> m = random_integer_model([4, 6, 1])
    >>> [c.name for c in configure(partition(m, widths=[1, 2, 1]), m)]
    ['s0', 's1_0', 's1_1', 's2']
    """
    shapes = plan.shapes
    if list(shapes) != model.architecture:
        raise MappingError(
            "the plan was made for a different architecture than this model: "
            f"{[s.name for s in shapes]} vs {[s.name for s in model.architecture]}; "
            "partition(model, spec) makes a plan for it"
        )
    out = []
    n = len(shapes)
    for li, parts in enumerate(plan.layers):
        nxt = [p.name for p in plan.layers[li + 1]] if li + 1 < n else ["h2"]
        prev = shapes[li - 1] if li > 0 else None
        upstream = tuple(split_units(prev.out_channels, plan.widths[li - 1])) if li > 0 else ()
        for p in parts:
            if li == 0:
                w = b = None
                shift = 0
            else:
                q = model.layers[li - 1]
                # copies: what the control plane writes into the switch's registers
                w, b, shift = q.weight[p.lo : p.hi].copy(), q.bias[p.lo : p.hi].copy(), q.shift
            out.append(
                SwitchConfig(
                    p.name,
                    li,
                    p.part,
                    shapes[li],
                    prev,
                    p.lo,
                    p.hi,
                    upstream,
                    tuple(nxt),
                    w,
                    b,
                    shift,
                    plan.spec.sample_slots,
                )
            )
    return out


def _wrap32(a: np.ndarray) -> np.ndarray:
    return ((a.astype(np.int64) + 2**31) % 2**32) - 2**31


class _Switch:
    def __init__(self, cfg: SwitchConfig):
        self.cfg = cfg
        s = cfg.shape
        self.ch = cfg.hi - cfg.lo
        self.n_up = len(cfg.upstream)
        if cfg.layer > 0 and self.n_up > 1:
            self.acc = np.zeros((cfg.slots, self.ch, s.conv_length), np.int64)
            self.arrived = np.zeros(cfg.slots, np.int64)
        self.packets = 0

    def _contribution(self, q: int, vals: np.ndarray) -> np.ndarray:
        cfg, s, prev = self.cfg, self.cfg.shape, self.cfg.prev_shape
        c0, c1 = cfg.upstream[q]
        if vals.size != (c1 - c0) * prev.out_length:
            raise TraceFormatError(
                f"{cfg.name}: part {q} sent {vals.size} values, expected {(c1 - c0) * prev.out_length}"
            )
        w = cfg.weight.astype(np.int64)
        if s.kind == "conv":
            x = vals.reshape(c1 - c0, prev.out_length)
            win = sliding_window_view(x, s.kernel, axis=1)  # (c, P, k)
            return np.einsum("fct,cpt->fp", w[:, c0:c1, :], win)
        lo, hi = c0 * prev.out_length, c1 * prev.out_length
        return (w[:, lo:hi] @ vals)[:, None]

    def _finish(self, acc: np.ndarray) -> bytes:
        cfg, s = self.cfg, self.cfg.shape
        total = _wrap32(acc + cfg.bias.astype(np.int64)[:, None])
        if not s.relu:
            return b"".join(struct.pack("!i", int(v)) for v in total.ravel())
        y = np.clip(total >> cfg.shift, 0, ACT_MAX)
        if s.pool > 1:
            y = y[:, : s.out_length * s.pool].reshape(self.ch, s.out_length, s.pool).max(-1)
        return y.astype(np.uint8).tobytes()

    def receive(self, frame: bytes) -> list[tuple[str, bytes]]:
        cfg = self.cfg
        self.packets += 1
        sid, layer, part, values = decode_frame(frame)
        if cfg.layer == 0:  # ingress: NetNN's packet generator, fan out to layer 1
            return [(d, encode_frame(sid, 0, 0, values)) for d in cfg.downstream]
        if layer != cfg.layer - 1 or part >= self.n_up:
            raise TraceFormatError(f"{cfg.name}: unexpected packet from layer {layer} part {part}")
        vals = np.frombuffer(values, np.uint8).astype(np.int64)
        contrib = self._contribution(part, vals)
        if self.n_up == 1:
            acc = _wrap32(contrib)
        else:
            slot = sid & (cfg.slots - 1)
            bit = 1 << part
            if self.arrived[slot] & bit:
                raise TraceFormatError(f"{cfg.name}: part {part} of sample {sid} arrived twice")
            self.acc[slot] = _wrap32(self.acc[slot] + contrib)
            self.arrived[slot] |= bit
            if self.arrived[slot] != (1 << self.n_up) - 1:
                return []
            acc = self.acc[slot].copy()
            self.acc[slot] = 0  # reset per sample (an unreset register leaks into the next one)
            self.arrived[slot] = 0
        out = self._finish(acc)
        return [(d, encode_frame(sid, cfg.layer, cfg.part, out)) for d in cfg.downstream]


@dataclass
class ExecutionResult:
    """Logits per sample (decoded from the last switch's frames) and what happened on the way."""

    logits: np.ndarray
    packets: int
    seconds: float
    trace: pd.DataFrame | None = None
    per_switch: dict = field(default_factory=dict)

    @property
    def packets_per_second(self) -> float:
        """Frames processed by switches per wall-clock second."""
        return self.packets / self.seconds if self.seconds > 0 else float("inf")

    def predict(self) -> np.ndarray:
        """0/1 decisions (logit > 0)."""
        return (self.logits > 0).astype(np.int64)


def check_inputs(
    plan: PartitionPlan, x_u8: np.ndarray, order: str, in_flight: int | None
) -> tuple[np.ndarray, int]:
    """The inputs as ``uint8`` and the samples in flight, or a ValueError saying what is wrong.

    Examples
    --------
    >>> from ssloserve.netnn.quantize import random_integer_model
    >>> from ssloserve.netnn.mapper import partition
    >>> plan = partition(random_integer_model([4, 3, 1]))
    >>> x, k = check_inputs(plan, np.zeros((2, 4), int), "fifo", 100)
    >>> x.dtype.name, k
    ('uint8', 16)
    """
    if order not in ("fifo", "shuffle"):
        raise ValueError(f"order must be 'fifo' or 'shuffle', got {order!r}")
    slots = plan.spec.sample_slots
    if in_flight is not None and in_flight < 1:
        raise ValueError(f"in_flight must be at least 1, got {in_flight}")
    n_in = plan.shapes[0].out_values
    x = np.asarray(x_u8)
    if x.ndim != 2 or x.shape[1] != n_in:
        raise ValueError(f"inputs must be (samples, {n_in}) 8-bit codes, got shape {x.shape}")
    if x.size and (x.min() < 0 or x.max() > 255):
        raise ValueError("inputs must be 8-bit codes (0..255)")
    return x.astype(np.uint8), min(in_flight or slots, slots)


class DataPlane:
    """The switches of a plan, configured with a quantised model's weights (chapter 05).

    Examples
    --------
    >>> from ssloserve.netnn.quantize import random_integer_model
    >>> from ssloserve.netnn.mapper import partition
    >>> m = random_integer_model([4, 6, 1], seed=3)
    >>> x = np.arange(8, dtype=np.uint8).reshape(2, 4)
    >>> net = DataPlane(partition(m, widths=[1, 2, 1]), m)
    >>> bool((net.run(x).logits == m.forward(x)).all())
    True
    """

    def __init__(self, plan: PartitionPlan, model: IntegerModel):
        self.plan = plan
        self.configs = configure(plan, model)
        self.switches = {c.name: _Switch(c) for c in self.configs}
        self.ingress = self.configs[0].name

    def run(
        self,
        x_u8: np.ndarray,
        *,
        order: str = "fifo",
        seed: int = 0,
        in_flight: int | None = None,
        trace: bool = False,
    ) -> ExecutionResult:
        """Send every sample of ``x_u8`` into the ingress switch and collect the logits.

        Parameters
        ----------
        x_u8 : inputs ``(n, input length)`` as 8-bit codes
        order : ``"fifo"`` or ``"shuffle"`` (pending packets are delivered in random order)
        seed : seeds the shuffling
        in_flight : samples injected before waiting for results (at most the sample slots)
        trace : record every frame: receiver (``to``), sample, layer, part, ``value bytes``,
            ``frame bytes``, ``first values`` (hex, for display) and ``values`` (all of them)
        """
        x, in_flight = check_inputs(self.plan, x_u8, order, in_flight)
        rng = np.random.default_rng(seed)
        logits = np.zeros(len(x), np.int64)
        done = np.zeros(len(x), bool)
        rows = [] if trace else None
        pending: deque | list = deque() if order == "fifo" else []
        before = sum(s.packets for s in self.switches.values())
        t0 = time.perf_counter()
        nxt = oldest = 0  # sample ids in flight stay within one window of slots
        while nxt < len(x) or pending:
            while nxt < len(x) and nxt < oldest + in_flight:
                pending.append((self.ingress, encode_frame(nxt, 0, 0, x[nxt].tobytes())))
                nxt += 1
            if order == "fifo":
                dst, frame = pending.popleft()
            else:
                dst, frame = pending.pop(int(rng.integers(len(pending))))
            if dst == "h2":
                sid, _, part, values = decode_frame(frame)
                logits[sid] = struct.unpack("!i", values[:4])[0]
                done[sid] = True
                while oldest < len(x) and done[oldest]:
                    oldest += 1
                if rows is not None:
                    rows.append(_row("h2", frame))
                continue
            if rows is not None:
                rows.append(_row(dst, frame))
            pending.extend(self.switches[dst].receive(frame))
        seconds = time.perf_counter() - t0
        packets = sum(s.packets for s in self.switches.values()) - before
        per = {n: s.packets for n, s in self.switches.items()}
        return ExecutionResult(logits, packets, seconds, pd.DataFrame(rows) if trace else None, per)


def _row(dst: str, frame: bytes) -> dict:
    sid, layer, part, values = decode_frame(frame)
    return {
        "to": dst,
        "sample": sid,
        "layer": layer,
        "part": part,
        "value bytes": len(values),
        "frame bytes": len(frame),
        "first values": values[:8].hex(" "),
        "values": bytes(values),
    }


def execute(plan: PartitionPlan, model: IntegerModel, x_u8: np.ndarray, **kw) -> ExecutionResult:
    """Run ``x_u8`` through a fresh :class:`DataPlane` (keywords as :meth:`DataPlane.run`).

    Examples
    --------
    >>> from ssloserve.netnn.quantize import random_integer_model
    >>> from ssloserve.netnn.mapper import partition
    >>> m = random_integer_model([0, 4, 1], conv=((3, 3, 2),), length=10, seed=0)
    >>> x = np.random.default_rng(0).integers(0, 256, (5, 10)).astype(np.uint8)
    >>> r = execute(partition(m, widths=[1, 3, 2, 1]), m, x, order="shuffle")
    >>> bool((r.logits == m.forward(x)).all())
    True
    """
    return DataPlane(plan, model).run(x_u8, **kw)
