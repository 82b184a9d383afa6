"""The unrolled P4_16 program of a switch: every multiply-accumulate of a packet written out,
one action per output value (chapter 05, NetNN).

A packet crosses the switch in one pass, so BMv2 forwards it at its full rate, but the program
grows with the multiply-accumulates per packet (about 70 bytes of P4 each, and far more in
p4c's JSON). :mod:`~ssloserve.netnn.p4` uses it for switches with few of them and
:mod:`~ssloserve.netnn.p4_loop` for the rest. The ingress switch (NetNN's packet generator)
only fans the input out and is emitted here too.
"""

from __future__ import annotations

from .executor import SwitchConfig
from .p4_text import (
    INGRESS_START,
    PARSER_START,
    arrival_table,
    finish,
    header,
    header_type,
    in_slices,
    layer_parser,
    layer_preamble,
    tail,
)

__all__ = ["emit_unrolled", "emit_ingress"]


def emit_unrolled(cfg: SwitchConfig) -> str:
    """The unrolled program of a layer switch.

    Examples
    --------
    >>> from ssloserve.netnn.quantize import random_integer_model
    >>> from ssloserve.netnn.mapper import partition
    >>> from ssloserve.netnn.executor import configure
    >>> m = random_integer_model([3, 2, 1])
    >>> src = emit_unrolled(configure(partition(m), m)[1])
    >>> "register<bit<8>>(6) weights;" in src, src.count("action mac_in0_")
    (True, 2)
    """
    s = cfg.shape
    ch = cfg.hi - cfg.lo
    n_up = len(cfg.upstream)
    plen = s.conv_length
    n_acc = ch * plen
    registered = n_up > 1
    what = (
        f"layer {cfg.layer} ({s.name}, {s.kind}), output channels {cfg.lo}..{cfg.hi - 1} "
        f"of {s.out_channels}, {n_up} upstream switch(es)"
    )
    out = layer_preamble(cfg, what, registered)
    accs = "" if registered else "".join(f"    int<32> a{i};\n" for i in range(n_acc))
    out.append(f"struct metadata_t {{\n    bit<32> slot;\n    bit<32> part_bit;\n{accs}}}\n\n")
    out.append(layer_parser(cfg))
    # ingress
    out.append(INGRESS_START)
    out.append(
        f"    register<bit<8>>({cfg.weight.size}) weights;   // int8, loaded by the control plane\n"
    )
    if registered:
        out.append(
            "    register<bit<32>>(SLOTS * N_ACC) acc;      // int32 partial sums per sample slot\n"
        )
        out.append(
            "    register<bit<32>>(SLOTS) arrived;          // bitmap of upstream parts heard\n"
        )
    out.append(arrival_table(n_up))
    slices = in_slices(cfg)
    w_in = s.fan_in
    for q, first, n in slices:
        c0, c1 = cfg.upstream[q]
        for u in range(ch):
            for p in range(plen):
                i = u * plen + p
                terms = []
                if s.kind == "conv":
                    for c in range(c0, c1):
                        for t in range(s.kernel):
                            widx = (u * s.in_channels + c) * s.kernel + t
                            fld = (c - c0) * cfg.prev_shape.out_length + p + t
                            terms.append((widx, fld))
                else:
                    for j in range(first, first + n):
                        terms.append((u * w_in + j, j - first))
                out.append(f"    action mac_in{q}_{i}() {{\n        bit<8> w;\n")
                if registered:
                    out.append(
                        "        bit<32> a;\n"
                        f"        acc.read(a, meta.slot * N_ACC + {i});\n"
                        "        int<32> s = (int<32>)a;\n"
                    )
                    target = "s"
                else:
                    target = f"meta.a{i}"
                    out.append(f"        {target} = 0;\n")
                for widx, fld in terms:
                    out.append(
                        f"        weights.read(w, {widx});\n"
                        f"        {target} = {target} + (int<32>)(int<8>)w * (int<32>)((bit<32>)hdr.in{q}.v{fld});\n"
                    )
                if registered:
                    out.append(f"        acc.write(meta.slot * N_ACC + {i}, (bit<32>)s);\n")
                out.append("    }\n")
    # apply
    out.append("\n    apply {\n")
    out.append(
        "        if (!hdr.nn.isValid()) {\n            mark_to_drop(standard_metadata);\n            return;\n        }\n"
    )
    out.append("        meta.slot = hdr.nn.sample_id & (SLOTS - 1);\n        arrival.apply();\n")
    out.append("        bit<32> seen;\n")
    if registered:
        out.append("        arrived.read(seen, meta.slot);   // into a local, then use it\n")
        out.append("        seen = seen | meta.part_bit;\n")
    else:
        out.append("        seen = meta.part_bit;\n")
    for q, _, _ in slices:
        calls = "".join(f"            mac_in{q}_{i}();\n" for i in range(n_acc))
        out.append(f"        if (hdr.in{q}.isValid()) {{\n{calls}        }}\n")
    out.append("        if (seen == ALL_ARRIVED) {\n")
    out += finish(cfg, registered)
    out.append("        } else {\n")
    if registered:
        out.append("            arrived.write(meta.slot, seen);\n")
    out.append(
        "            mark_to_drop(standard_metadata);   // consumed; nothing to forward yet\n"
    )
    out.append("        }\n    }\n}\n")
    out.append(tail("        packet.emit(hdr.res);\n"))
    return "".join(out)


def emit_ingress(cfg: SwitchConfig) -> str:
    """The ingress switch's program: it fans every input frame out to layer 1.

    Examples
    --------
    >>> from ssloserve.netnn.quantize import random_integer_model
    >>> from ssloserve.netnn.mapper import partition
    >>> from ssloserve.netnn.executor import configure
    >>> m = random_integer_model([3, 2, 1])
    >>> "standard_metadata.mcast_grp = 1;" in emit_ingress(configure(partition(m), m)[0])
    True
    """
    n = cfg.shape.out_values
    what = f"ingress (NetNN's packet generator): {n} input bytes, fan-out to layer 1"
    out = [header(cfg.name, what), "\n", header_type("in0_t", n)]
    out.append(
        "\nstruct headers_t {\n    ethernet_t ethernet;\n    nn_t nn;\n    in0_t in0;\n}\n\n"
    )
    out.append("struct metadata_t {\n}\n\n")
    out.append(PARSER_START)
    out.append(
        "        transition select(hdr.nn.layer) {\n            0: parse_in0;\n            default: accept;\n        }\n    }\n"
        "    state parse_in0 {\n        packet.extract(hdr.in0);\n        transition accept;\n    }\n}\n\n"
    )
    out.append(INGRESS_START)
    out.append(
        "    apply {\n"
        "        if (hdr.in0.isValid()) {\n"
        "            standard_metadata.mcast_grp = 1;   // fan out to every switch of layer 1\n"
        "        } else {\n            mark_to_drop(standard_metadata);\n        }\n    }\n}\n"
    )
    out.append(tail("        packet.emit(hdr.in0);\n"))
    return "".join(out)
