"""The looped P4_16 program of a switch: one output channel per pass, the packet recirculated
until every channel of the switch's slice has its share of the packet (chapter 05, NetNN).

P4 has no loops over data, so an unrolled program (:mod:`~ssloserve.netnn.p4_unrolled`) is as
long as the multiply-accumulates a packet needs. For the paper's conv2 switches that is
101,120 per packet: 44 MB of P4, far beyond what p4c compiles and BMv2 loads in reasonable
time (a prototype's 153 MB JSON took 4 s to load). Here the program holds **one output
channel's** work, written for whichever channel ``meta.step`` names:

- the weights of that channel are read from the ``weights`` register at ``meta.step * FAN_IN``
  (conv: into metadata, once per pass, then shared by every position);
- every position's sum is one expression over the packet's header fields (the only values
  P4 cannot index at run time, so the loop runs over channels, not positions) and is added
  to the ``acc`` register at ``slot * N_ACC + step * PLEN + position``;
- while channels remain, ``meta.step`` is incremented and the egress recirculates the packet
  (``recirculate_preserving_field_list``; ``meta.step`` is the only field kept, ``@field_list(1)``).

After the last channel the packet sets its bit in the arrival bitmap; the packet that
completes the bitmap finishes the sample exactly as the unrolled program does (bias, shift,
clamp, max-pool, register reset, multicast). The upstream parts whose slices have the same
size share one header type and one set of actions: the arrival table also gives the sender's
weight offset (``meta.woff``, :func:`weight_offsets`). The program shrinks by the number of
channels (16 for conv2), the number of upstream parts (4) and by sharing the weight reads;
BMv2 pays with one pipeline pass per channel.
Sums are order-independent (32-bit wrapping adds), so interleaved passes of different
packets give the same result.
"""

from __future__ import annotations

from .executor import SwitchConfig
from .p4_text import (
    INGRESS_START,
    arrival_table,
    finish,
    forward,
    in_headers,
    layer_parser,
    layer_preamble,
    tail,
)

__all__ = ["emit_looped", "weight_offsets", "loop_finishes", "DENSE_TERMS"]

#: Register rows (samples in flight) of a looped program. BMv2 queues a recirculated packet
#: behind the new packets already waiting, so later samples overtake it: far more rows than
#: the plan's sample slots keep a later sample from landing on a row still in use.
LOOP_SLOTS = 1024

#: Dense-layer terms per action (each action reads its weights into locals first).
DENSE_TERMS = 32


def _u32(field: str) -> str:
    return f"(int<32>)((bit<32>){field})"


def emit_looped(cfg: SwitchConfig) -> str:
    """The looped program of a layer switch: one output channel per pass through BMv2.

    Examples
    --------
    >>> from ssloserve.netnn.quantize import random_integer_model
    >>> from ssloserve.netnn.mapper import partition
    >>> from ssloserve.netnn.executor import configure
    >>> m = random_integer_model([0, 4, 1], conv=((3, 3, 2),), length=10, seed=0)
    >>> src = emit_looped(configure(partition(m, widths=[1, 1, 1, 1]), m)[1])
    >>> "const bit<32> PASSES = 3;" in src, "recirculate_preserving_field_list(1);" in src
    (True, True)
    """
    s = cfg.shape
    ch = cfg.hi - cfg.lo
    n_up = len(cfg.upstream)
    plen = s.conv_length
    conv = s.kind == "conv"
    k = s.kernel
    what = (
        f"layer {cfg.layer} ({s.name}, {s.kind}), output channels {cfg.lo}..{cfg.hi - 1} "
        f"of {s.out_channels}, {n_up} upstream switch(es); looped, one channel per pass"
    )
    consts = f"const bit<32> PASSES = {ch};   // one pass per output channel\n"
    consts += f"const bit<32> FAN_IN = {s.fan_in};\n"
    if conv:
        consts += f"const bit<32> PLEN = {plen};\n"
    fin_loop = loop_finishes(cfg)
    if fin_loop:
        consts += (
            f"const bit<32> OLEN = {s.out_length};\nconst bit<32> N_OUT = {ch * s.out_length};\n"
        )
    out = layer_preamble(cfg, what, True, consts, shared=True, slots=LOOP_SLOTS)
    heads = in_headers(cfg, shared=True)
    lp = cfg.prev_shape.out_length
    n_w = max(n // lp for _, n, _ in heads) * k if conv else 0
    wfields = "".join(f"    int<32> w{i};\n" for i in range(n_w))
    out.append(
        "struct metadata_t {\n    bit<32> slot;\n    bit<32> part_bit;\n"
        "    bit<32> woff;      // where the sender's weights start in a channel's row\n"
        "    @field_list(1)\n    bit<32> step;      // output channel of this pass\n"
        "    bit<1>  again;     // recirculate after this pass\n"
        "    bit<32> wbase;\n    bit<32> abase;\n"
        + ("    bit<32> fbase;\n    bit<32> obase;\n" if fin_loop else "")
        + f"{wfields}}}\n\n"
    )
    out.append(layer_parser(cfg, shared=True))
    out.append(INGRESS_START)
    out.append(
        f"    register<bit<8>>({cfg.weight.size}) weights;   // int8, loaded by the control plane\n"
        "    register<bit<32>>(SLOTS * N_ACC) acc;      // int32 partial sums per sample slot\n"
        "    register<bit<32>>(SLOTS) arrived;          // bitmap of upstream parts heard\n"
    )
    if fin_loop:
        out.append(
            "    register<bit<32>>(PASSES) bias;            // int32, loaded by the control plane\n"
            "    register<bit<8>>(SLOTS * N_OUT) outbuf;    // the finished channels of a sample\n"
        )
    out.append(arrival_table(n_up, offset=True))
    if fin_loop:
        out.append(_finish_channel(cfg))
    calls: dict[str, list[str]] = {}
    for h, n, _ in heads:
        names = calls.setdefault(h, [])
        if conv:
            wc = n // lp  # channels in this header
            out.append(f"    action load_{h}() {{   // this channel's weights for the sender\n")
            out.append("        bit<8> w;\n")
            for c in range(wc):
                for t in range(k):
                    out.append(
                        f"        weights.read(w, meta.wbase + {c * k + t});\n"
                        f"        meta.w{c * k + t} = (int<32>)(int<8>)w;\n"
                    )
            out.append("    }\n")
            names.append(f"load_{h}")
            for p in range(plen):
                terms = [
                    f"meta.w{c * k + t} * {_u32(f'hdr.{h}.v{c * lp + p + t}')}"
                    for c in range(wc)
                    for t in range(k)
                ]
                out.append(_mac_action(f"mac_{h}_{p}", f"meta.abase + {p}", [], terms))
                names.append(f"mac_{h}_{p}")
        else:
            for g, j0 in enumerate(range(0, n, DENSE_TERMS)):
                js = range(j0, min(n, j0 + DENSE_TERMS))
                reads = [f"weights.read(w{j - j0}, meta.wbase + {j});" for j in js]
                terms = [f"(int<32>)(int<8>)w{j - j0} * {_u32(f'hdr.{h}.v{j}')}" for j in js]
                decl = [f"bit<8> w{j - j0};" for j in js]
                out.append(_mac_action(f"mac_{h}_{g}", "meta.abase", decl + reads, terms))
                names.append(f"mac_{h}_{g}")
    out.append("\n    apply {\n")
    out.append(
        "        if (!hdr.nn.isValid()) {\n            mark_to_drop(standard_metadata);\n            return;\n        }\n"
        "        meta.slot = hdr.nn.sample_id & (SLOTS - 1);\n        arrival.apply();\n"
        "        if (meta.part_bit == 0) {\n            return;   // not from an upstream part: arrival dropped it\n        }\n"
        "        meta.wbase = meta.step * FAN_IN + meta.woff;\n"
    )
    if conv:
        out.append("        meta.abase = meta.slot * N_ACC + meta.step * PLEN;\n")
    else:
        out.append("        meta.abase = meta.slot * N_ACC + meta.step;\n")
    ind = "    " if fin_loop else ""
    if fin_loop:
        out.append("        if (meta.step < PASSES) {\n")
    for h, _, _ in heads:
        body = "".join(f"{ind}            {a}();\n" for a in calls[h])
        out.append(f"{ind}        if (hdr.{h}.isValid()) {{\n{body}{ind}        }}\n")
    if fin_loop:
        out.append("        }\n")
    again = (
        "            meta.step = meta.step + 1;   // the next output channel\n"
        "            meta.again = 1;              // MyEgress recirculates the packet\n"
        "            standard_metadata.egress_spec = 1;\n"
    )
    out.append(
        f"        if (meta.step < PASSES - 1) {{\n{again}"
        + ("        } else if (meta.step == PASSES - 1) {\n" if fin_loop else "        } else {\n")
        + "            bit<32> seen;\n"
        "            arrived.read(seen, meta.slot);   // into a local, then use it\n"
        "            seen = seen | meta.part_bit;\n"
        "            if (seen == ALL_ARRIVED) {\n"
    )
    if fin_loop:  # on to the finish passes, one per channel
        out.append(_indent(again, 4))
    else:
        out += finish(cfg, True, indent=" " * 16, shared=True)
    out.append(
        "            } else {\n"
        "                arrived.write(meta.slot, seen);\n"
        "                mark_to_drop(standard_metadata);   // consumed; nothing to forward yet\n"
        "            }\n"
    )
    if fin_loop:
        out.append(
            "        } else {   // finish pass: channel meta.step - PASSES of the sample\n"
            "            meta.fbase = meta.slot * N_ACC + (meta.step - PASSES) * PLEN;\n"
            "            meta.obase = meta.slot * N_OUT + (meta.step - PASSES) * OLEN;\n"
            "            finish_channel();\n"
            f"            if (meta.step < 2 * PASSES - 1) {{\n{_indent(again, 4)}"
            "            } else {\n"
            "                hdr.res.setValid();\n"
            "                copy_out();\n"
        )
        out += forward(cfg, True, indent=" " * 16, shared=True)
        out.append("            }\n")
    out.append("        }\n    }\n}\n")
    emits = "".join(f"        packet.emit(hdr.{h});\n" for h, _, _ in heads)
    egress = (
        "\n        if (meta.again == 1) {\n"
        "            recirculate_preserving_field_list(1);   // keeps meta.step\n"
        "        }\n    "
    )
    out.append(tail(emits + "        packet.emit(hdr.res);\n", egress))
    return "".join(out)


def weight_offsets(cfg: SwitchConfig) -> list[int]:
    """Where each upstream part's weights start within one output channel's row of the
    ``weights`` register (the looped program's ``meta.woff``, set by the arrival table).

    Examples
    --------
    >>> from ssloserve.netnn.quantize import random_integer_model
    >>> from ssloserve.netnn.mapper import partition
    >>> from ssloserve.netnn.executor import configure
    >>> m = random_integer_model([0, 4, 1], conv=((3, 3, 2),), length=10, seed=0)
    >>> weight_offsets(configure(partition(m, widths=[1, 3, 1, 1]), m)[4])  # dense, 3 parts
    [0, 4, 8]
    """
    per_channel = cfg.shape.kernel if cfg.shape.kind == "conv" else cfg.prev_shape.out_length
    return [c0 * per_channel for c0, _ in cfg.upstream]


def _mac_action(name: str, index: str, pre: list[str], terms: list[str]) -> str:
    """An action adding ``sum(terms)`` to ``acc[index]`` (after the statements ``pre``)."""
    lines = [f"    action {name}() {{\n"]
    lines += [f"        {s}\n" for s in pre]
    lines.append(f"        bit<32> a;\n        acc.read(a, {index});\n")
    lines.append("        int<32> s = (int<32>)a")
    lines += [f"\n            + {t}" for t in terms]
    lines.append(f";\n        acc.write({index}, (bit<32>)s);\n    }}\n")
    return "".join(lines)


def loop_finishes(cfg: SwitchConfig) -> bool:
    """Whether the looped program also finishes one channel per pass (a hidden convolution:
    its finish, one requantised value per position and channel, would otherwise dominate the
    program), rather than all values in the last pass."""
    return cfg.shape.kind == "conv" and cfg.shape.relu


def _indent(text: str, n: int) -> str:
    return "".join(" " * n + line + "\n" for line in text.splitlines())


def _finish_channel(cfg: SwitchConfig) -> str:
    """Actions ``finish_channel`` (one channel's sums: bias from the ``bias`` register,
    shift, clamp, max-pool into ``outbuf``; sums reset) and ``copy_out`` (``outbuf`` into
    the result header, through a local)."""
    s = cfg.shape
    ch = cfg.hi - cfg.lo
    used = s.out_length * s.pool
    out = ["    action finish_channel() {   // one channel: bias, shift, clamp, max-pool\n"]
    out.append("        bit<32> t;\n        bit<32> b;\n        int<32> v;\n        int<32> d;\n")
    if s.pool > 1:
        out.append("        int<32> m;\n")
    out.append("        bias.read(b, meta.step - PASSES);\n")
    for p in range(s.conv_length):
        if p < used:
            out.append(f"        acc.read(t, meta.fbase + {p});\n")
        out.append(
            f"        acc.write(meta.fbase + {p}, 0);   // reset for the next sample\n"
            if p == 0
            else f"        acc.write(meta.fbase + {p}, 0);\n"
        )
        if p >= used:
            continue
        out.append("        v = (int<32>)t + (int<32>)b;\n        d = v >> 31;\n")
        shifted = f"(v >> {cfg.shift})" if cfg.shift else "v"
        out.append(
            f"        v = {shifted} & ~d;\n        d = 127 - v;\n        v = v + (d & (d >> 31));\n"
        )
        if s.pool == 1:
            out.append(f"        outbuf.write(meta.obase + {p}, (bit<8>)(bit<32>)v);\n")
            continue
        if p % s.pool == 0:
            out.append("        m = v;\n")
        else:
            out.append("        d = v - m;\n        m = m + (d & ~(d >> 31));\n")
        if p % s.pool == s.pool - 1:
            out.append(f"        outbuf.write(meta.obase + {p // s.pool}, (bit<8>)(bit<32>)m);\n")
    out.append("    }\n")
    out.append("    action copy_out() {   // the sample's finished values into the result header\n")
    out.append("        bit<8> o;\n")
    for i in range(ch * s.out_length):
        out.append(f"        outbuf.read(o, meta.slot * N_OUT + {i});\n        hdr.res.v{i} = o;\n")
    out.append("    }\n")
    return "".join(out)
