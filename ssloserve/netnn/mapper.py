"""The Mapper: split a model over a layered topology of switches (chapter 05, NetNN).

Each model layer runs on one *switch layer*; a layer is split by output channels (conv filters
or dense neurons) into contiguous parts, one per switch. Every switch multicasts its slice of
the layer's output to all switches of the next layer, so a switch of layer ``l`` receives one
packet per sample from each switch of layer ``l - 1``, adds that packet's contribution to its
partial sums, and finishes (bias, shift, clamp, pool) when all have arrived.

Resource accounting per switch (the largest part of a layer is the one checked):

- **operations per action**: one action adds one output value's contribution from one packet,
  ``2 x inputs in that packet that feed it`` (a multiply and an add per input);
- **stages**: ``fixed_stages + ceil(MAC actions per packet / actions_per_stage)``, with one MAC
  action per output value (conv: per filter and position);
- **register bytes**: int8 weights, plus (when more than one packet feeds the switch) 32-bit
  partial sums and a 32-bit arrival bitmap per sample slot;
- **header bytes**: custom header in and out (8 fixed bytes plus one byte per value; the
  output layer sends 4-byte logits), under the MTU;
- **table entries**: one arrival-table entry per upstream switch;
- **ports**: links to the previous and the next layer.

``partition`` minimises the number of switches, then the packets exchanged per sample (the hop
count of the multicast tree). By default every hidden layer has the same width (NetNN's layered
topology, capped by the layer's units); ``widths="free"`` lets each layer take its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from ..errors import MappingError
from .models import LayerShape, architecture
from .switch import BMV2, NN_HEADER_BYTES, RESOURCES, SwitchSpec

__all__ = ["SwitchPart", "PartitionPlan", "partition", "split_units", "part_usage", "switch_name"]

_MAX_WIDTH = 256


def split_units(units: int, width: int) -> list[tuple[int, int]]:
    """Contiguous ``[lo, hi)`` ranges of ``units`` over ``width`` switches, larger parts first.

    Examples
    --------
    >>> split_units(10, 3)
    [(0, 4), (4, 7), (7, 10)]
    """
    base, extra = divmod(units, width)
    out, lo = [], 0
    for j in range(width):
        hi = lo + base + (1 if j < extra else 0)
        out.append((lo, hi))
        lo = hi
    return out


def switch_name(layer: int, part: int, width: int) -> str:
    """``s<layer>`` for a one-switch layer, else ``s<layer>_<part>`` (NetNN's naming).

    Examples
    --------
    >>> switch_name(0, 0, 1), switch_name(2, 3, 4)
    ('s0', 's2_3')
    """
    return f"s{layer}" if width == 1 else f"s{layer}_{part}"


def _out_bytes(shape: LayerShape, channels: int) -> int:
    per = 4 if (shape.kind != "input" and not shape.relu) else 1
    return channels * shape.out_length * per


def part_usage(
    shapes: Sequence[LayerShape],
    layer: int,
    w_prev: int,
    width: int,
    w_next: int,
    spec: SwitchSpec,
) -> dict[str, int]:
    """Resources the largest switch of ``layer`` uses when split ``width`` ways (chapter 05).

    Returns a dict with the six resources of :data:`~ssloserve.netnn.switch.RESOURCES` and the
    details ``header in``, ``header out``, ``MACs per packet``, ``MAC actions per packet``.

    Examples
    --------
    >>> from ssloserve.netnn.models import architecture, paper_architecture
    >>> u = part_usage(architecture(paper_architecture()), 1, 1, 4, 4, BMV2)
    >>> u["header bytes"], u["operations per action"]
    (1304, 10)
    """
    s = shapes[layer]
    ports = w_prev + w_next
    if s.kind == "input":
        hdr = NN_HEADER_BYTES + _out_bytes(s, s.out_channels)
        return {
            "operations per action": 0,
            "stages": 1,
            "register bytes": 0,
            "header bytes": hdr,
            "table entries": 0,
            "ports": ports,
            "header in": hdr,
            "header out": hdr,
            "MACs per packet": 0,
            "MAC actions per packet": 0,
        }
    prev = shapes[layer - 1]
    ch = math.ceil(s.out_channels / width)
    in_ch = math.ceil(prev.out_channels / w_prev)
    in_values = in_ch * prev.out_length
    per_input = in_ch * s.kernel if s.kind == "conv" else in_values
    actions = ch * s.conv_length
    regs = ch * s.fan_in  # int8 weights
    if w_prev > 1:
        regs += 4 * ch * s.conv_length * spec.sample_slots + 4 * spec.sample_slots
    h_in = NN_HEADER_BYTES + _out_bytes(prev, in_ch)
    h_out = NN_HEADER_BYTES + _out_bytes(s, ch)
    return {
        "operations per action": 2 * per_input,
        "stages": spec.fixed_stages + math.ceil(actions / spec.actions_per_stage),
        "register bytes": regs,
        "header bytes": max(h_in, h_out),
        "table entries": w_prev,
        "ports": ports,
        "header in": h_in,
        "header out": h_out,
        "MACs per packet": actions * per_input,
        "MAC actions per packet": actions,
    }


def _limit(spec: SwitchSpec, resource: str) -> int:
    if resource == "header bytes":
        return spec.payload_bytes + NN_HEADER_BYTES
    return getattr(spec, RESOURCES[resource])


def _violation(usage: dict[str, int], spec: SwitchSpec) -> str | None:
    for r in RESOURCES:
        if usage[r] > _limit(spec, r):
            return r
    return None


@dataclass(frozen=True)
class SwitchPart:
    """One switch of a plan: which layer, which output channels ``[lo, hi)``, what it uses."""

    name: str
    layer: int
    part: int
    lo: int
    hi: int
    usage: dict


@dataclass(frozen=True, eq=False)
class PartitionPlan:
    """Where every layer and unit of a model runs (chapter 05).

    ``widths[l]`` switches run layer ``l`` (``widths[0] == 1`` is the ingress switch, NetNN's
    packet generator); ``layers[l]`` lists their :class:`SwitchPart`.
    """

    shapes: tuple[LayerShape, ...]
    spec: SwitchSpec
    widths: tuple[int, ...]
    layers: tuple[tuple[SwitchPart, ...], ...]

    def __repr__(self) -> str:
        return f"PartitionPlan({self.layout!r}, {self.spec.name}, {self.n_switches} switches)"

    @property
    def n_switches(self) -> int:
        """Total switches."""
        return sum(self.widths)

    @property
    def layout(self) -> str:
        """E.g. ``"1 -> 4 -> 4 -> 4 -> 4 -> 1"``."""
        return " -> ".join(str(w) for w in self.widths)

    @property
    def packets_per_sample(self) -> int:
        """Packets on inter-switch links per sample (multicast copies), hosts excluded."""
        return sum(a * b for a, b in zip(self.widths, self.widths[1:], strict=False))

    @property
    def switches(self) -> list[SwitchPart]:
        """Every switch, layer by layer."""
        return [p for layer in self.layers for p in layer]

    def binding(self) -> dict[str, str]:
        """Per layer name, the resource closest to its limit (largest used/limit ratio)."""
        out = {}
        for shape, parts in zip(self.shapes, self.layers, strict=True):
            u = parts[0].usage
            out[shape.name] = max(RESOURCES, key=lambda r: u[r] / _limit(self.spec, r))
        return out

    def table(self) -> pd.DataFrame:
        """One row per switch: layer, units, and each resource used."""
        rows = []
        for shape, parts in zip(self.shapes, self.layers, strict=True):
            for p in parts:
                row = {"switch": p.name, "layer": shape.name, "units": f"{p.lo}..{p.hi - 1}"}
                row.update(
                    {
                        k: p.usage[k]
                        for k in (
                            "header in",
                            "header out",
                            "operations per action",
                            "MACs per packet",
                            "stages",
                            "register bytes",
                            "table entries",
                            "ports",
                        )
                    }
                )
                rows.append(row)
        return pd.DataFrame(rows)

    def limits(self) -> dict[str, int]:
        """The spec's limit for each resource."""
        return {r: _limit(self.spec, r) for r in RESOURCES}


def _build(shapes, widths, spec) -> PartitionPlan:
    layers = []
    for li, (s, w) in enumerate(zip(shapes, widths, strict=True)):
        w_prev = widths[li - 1] if li > 0 else 1
        w_next = widths[li + 1] if li + 1 < len(widths) else 1
        parts = []
        for j, (lo, hi) in enumerate(split_units(s.out_channels, w)):
            u = part_usage(shapes, li, w_prev, w, w_next, spec)
            if j > 0:  # smaller parts: recompute with their own size
                u = _part_usage_exact(shapes, li, w_prev, hi - lo, w_next, spec)
            parts.append(SwitchPart(switch_name(li, j, w), li, j, lo, hi, u))
        layers.append(tuple(parts))
    return PartitionPlan(tuple(shapes), spec, tuple(widths), tuple(layers))


def _part_usage_exact(shapes, li, w_prev, channels, w_next, spec):
    # part_usage of a part with exactly `channels` output channels (width chosen to give it)
    s = shapes[li]
    width = max(1, math.ceil(s.out_channels / channels))
    while math.ceil(s.out_channels / width) > channels:
        width += 1
    return part_usage(shapes, li, w_prev, width, w_next, spec)


def _check(shapes, widths, spec) -> tuple[int, str] | None:
    for li in range(len(shapes)):
        w_prev = widths[li - 1] if li > 0 else 1
        w_next = widths[li + 1] if li + 1 < len(widths) else 1
        r = _violation(part_usage(shapes, li, w_prev, widths[li], w_next, spec), spec)
        if r is not None:
            return li, r
    return None


def _error(shapes, widths, spec, li, r, how) -> MappingError:
    w_prev = widths[li - 1] if li > 0 else 1
    w_next = widths[li + 1] if li + 1 < len(widths) else 1
    u = part_usage(shapes, li, w_prev, widths[li], w_next, spec)
    name = shapes[li].name
    return MappingError(
        f"layer {name!r} does not fit a {spec.name} switch: {r} needs {u[r]:,} > {_limit(spec, r):,}"
        f" ({how}, layout {' -> '.join(map(str, widths))})",
        resource=r,
        layer=name,
    )


def _uniform(shapes, spec) -> PartitionPlan:
    kmax = min(max(s.out_channels for s in shapes[1:]), _MAX_WIDTH)
    for k in range(1, kmax + 1):
        widths = [1] + [min(k, s.out_channels) for s in shapes[1:]]
        if _check(shapes, widths, spec) is None:
            return _build(shapes, widths, spec)
    # report a layer that fails at every width (no split helps it), else the first failure
    widths = [1] + [min(kmax, s.out_channels) for s in shapes[1:]]
    stuck = [
        li
        for li in range(len(shapes))
        if all(_layer_fails(shapes, li, k, spec) for k in range(1, kmax + 1))
    ]
    li = stuck[0] if stuck else _check(shapes, widths, spec)[0]
    w_prev = widths[li - 1] if li > 0 else 1
    w_next = widths[li + 1] if li + 1 < len(widths) else 1
    r = _violation(part_usage(shapes, li, w_prev, widths[li], w_next, spec), spec)
    raise _error(shapes, widths, spec, li, r, f"even split {widths[li]} ways")


def _layer_fails(shapes, li, k, spec) -> bool:
    widths = [1] + [min(k, s.out_channels) for s in shapes[1:]]
    w_prev = widths[li - 1] if li > 0 else 1
    w_next = widths[li + 1] if li + 1 < len(widths) else 1
    return _violation(part_usage(shapes, li, w_prev, widths[li], w_next, spec), spec) is not None


def _free(shapes, spec) -> PartitionPlan:
    # best[w] = (switches, packets, widths) over layers so far; ports checked after
    n = len(shapes)
    # only widths that shrink the largest part matter: others add switches and change nothing
    cands = [[1]] + [
        sorted(
            {
                w
                for ch in range(1, s.out_channels + 1)
                if (w := -(-s.out_channels // ch)) <= _MAX_WIDTH
            }
        )
        for s in shapes[1:]
    ]
    best = {1: (1, 0, [1])}
    for li in range(1, n):
        nxt = {}
        for w in cands[li]:
            for wp, (sw, pk, ws) in best.items():
                u = part_usage(shapes, li, wp, w, 1, spec)
                if _violation({**u, "ports": 0}, spec) is not None:
                    continue
                cost = (sw + w, pk + wp * w)
                if w not in nxt or cost < nxt[w][:2]:
                    nxt[w] = (cost[0], cost[1], ws + [w])
        if not nxt:
            wp = max(best)
            widths = list(best[wp][2]) + [cands[li][-1]] + [1] * (n - li - 1)
            u = part_usage(shapes, li, wp, cands[li][-1], 1, spec)
            r = _violation({**u, "ports": 0}, spec)
            raise _error(shapes, widths, spec, li, r, f"even split {cands[li][-1]} ways")
        best = nxt
    widths = min(best.values(), key=lambda t: t[:2])[2]
    bad = _check(shapes, widths, spec)
    if bad is not None:
        raise _error(shapes, widths, spec, bad[0], bad[1], "fewest switches")
    return _build(shapes, widths, spec)


def partition(model, spec: SwitchSpec = BMV2, widths="uniform") -> PartitionPlan:
    """Place a model on switches under ``spec``: fewest switches, then fewest packets (chapter 05).

    Parameters
    ----------
    model : a torch model, an :class:`~ssloserve.netnn.quantize.IntegerModel` or a list of
        :class:`~ssloserve.netnn.models.LayerShape`
    spec : the switch resources (:data:`~ssloserve.netnn.switch.BMV2` by default)
    widths : ``"uniform"`` (every hidden layer gets the same number of switches, capped by its
        units: NetNN's layered topology), ``"free"`` (each layer its own number), or an explicit
        sequence of switches per model layer (input first, which must be 1)

    Returns
    -------
    The :class:`PartitionPlan`.

    Raises
    ------
    MappingError
        when no split fits; ``.resource`` names the binding resource and ``.layer`` the layer.

    Examples
    --------
    >>> from ssloserve.netnn.models import paper_architecture
    >>> partition(paper_architecture()).layout
    '1 -> 4 -> 4 -> 4 -> 4 -> 1'
    >>> partition(paper_architecture(), widths="free").n_switches
    12
    """
    shapes = list(model) if isinstance(model, list | tuple) else architecture(model)
    if not shapes or shapes[0].kind != "input":
        raise MappingError("the model must start with its input layer", resource=None, layer=None)
    if isinstance(widths, str):
        if widths == "uniform":
            return _uniform(shapes, spec)
        if widths == "free":
            return _free(shapes, spec)
        raise ValueError(f"widths must be 'uniform', 'free' or a sequence, got {widths!r}")
    widths = [int(w) for w in widths]
    if len(widths) != len(shapes) or widths[0] != 1:
        raise ValueError(f"widths needs {len(shapes)} entries starting with 1, got {widths}")
    for s, w in zip(shapes, widths, strict=True):
        if not 1 <= w <= s.out_channels:
            raise ValueError(
                f"layer {s.name!r} has {s.out_channels} units; cannot use {w} switches"
            )
    bad = _check(shapes, widths, spec)
    if bad is not None:
        raise _error(shapes, widths, spec, bad[0], bad[1], "widths as given")
    return _build(shapes, widths, spec)
