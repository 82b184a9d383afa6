"""NetNN P4 emission: deterministic, golden files for a small model, the prototype's pitfalls."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from ssloserve.netnn.mapper import partition
from ssloserve.netnn.p4 import emit, golden_example, port_map, topology
from ssloserve.netnn.quantize import random_integer_model

GOLDEN = Path(__file__).parent / "golden" / "netnn"


def small():
    """conv (2 filters, 3 taps, pool 2) over 8 bytes, dense 3, output; 1 -> 2 -> 2 -> 1."""
    return golden_example()


def test_emission_is_deterministic():
    plan, m = small()
    a, b = emit(plan, m), emit(plan, m)
    assert a.programs == b.programs and a.commands == b.commands and a.topology == b.topology


def test_golden_files(tmp_path):
    plan, m = small()
    bundle = emit(plan, m)
    written = bundle.write(tmp_path)
    assert len(written) == 2 * len(bundle.programs) + 1
    for p in written:
        want = (GOLDEN / p.name).read_text()
        assert p.read_text() == want, (
            f"{p.name} differs from tests/golden/netnn; if the emitter changed on purpose, see "
            "tests/golden/README.md"
        )


def test_pitfalls_are_avoided():
    m = random_integer_model([0, 6, 1], conv=((4, 3, 2),), length=12, seed=1)
    plan = partition(m, widths=[1, 2, 3, 1])
    bundle = emit(plan, m)
    for name, src in bundle.programs.items():
        # registers are read into locals, never into header fields or out parameters
        assert not re.search(r"\.read\(\s*hdr\.", src), name
        # 32-bit sums, 8-bit weights sign-extended
        if name != "s0":
            assert "(int<32>)(int<8>)w" in src
        # a switch that forwards does not drop in that branch
        if "if (seen == ALL_ARRIVED) {" in src:
            finish = src.split("if (seen == ALL_ARRIVED) {")[1].split("} else {")[0]
            assert "mark_to_drop" not in finish
            # the result header is valid before any of its fields is written
            assert finish.index("hdr.res.setValid();") < finish.index("hdr.res.v")
            if "register<bit<32>>(SLOTS * N_ACC) acc;" in src:
                assert "arrived.write(meta.slot, 0);" in finish and "acc.write(" in finish
        assert "const bit<16> ETHERTYPE_NN = 0x1234;" in src
    # weights live in registers loaded by the control plane, not constants in the program
    n_weights = sum(q.weight.size for q in m.layers)
    n_writes = sum(c.count("register_write MyIngress.weights") for c in bundle.commands.values())
    assert n_writes == n_weights


def test_weights_in_commands_match_the_model():
    plan, m = small()
    bundle = emit(plan, m)
    cmds = bundle.commands["s2_1"]  # dense1, units 2..2, fed by two conv switches
    vals = [
        int(line.split()[-1]) for line in cmds.splitlines() if line.startswith("register_write")
    ]
    want = m.layers[1].weight[2:3].ravel().astype(np.int64) & 0xFF
    assert vals == want.tolist()
    assert "table_add MyIngress.arrival MyIngress.set_bit 1 => 2" in cmds


def test_ports_match_topology():
    plan, m = small()
    ports = port_map(plan)
    topo = topology(plan)
    for a, pa, b, pb in topo["links"]:
        if a in ports:
            assert ports[a][pa] == b
        if b in ports:
            assert ports[b][pb] == a
    bundle = emit(plan, m)
    # multicast groups send to the downstream ports only
    for name, cmds in bundle.commands.items():
        for line in cmds.splitlines():
            if line.startswith("mc_node_create"):
                for port in map(int, line.split()[2:]):
                    peer = ports[name][port]
                    assert peer == "h2" or int(peer[1]) == int(name[1]) + 1
    assert json.loads(json.dumps(topo)) == topo


@pytest.mark.parametrize("seed", [0, 1])
def test_paper_scale_program_sizes(seed):
    """Emission scales: one conv1 switch of a reduced paper-like model, size reported.

    Each program unrolls exactly the multiply-adds the Mapper counted: one weight read per
    MAC, per packet from each upstream switch; retraining changes only constants."""
    m = random_integer_model([0, 8, 1], conv=((8, 5, 5),), length=68, seed=seed)
    plan = partition(m)
    bundle = emit(plan, m)
    assert all(s > 0 for s in bundle.sizes().values())
    for li, parts in enumerate(plan.layers[1:], start=1):
        for p in parts:
            macs = plan.widths[li - 1] * p.usage["MACs per packet"]
            assert bundle.programs[p.name].count("weights.read(w, ") == macs, p.name
    other = random_integer_model([0, 8, 1], conv=((8, 5, 5),), length=68, seed=seed + 7)
    strip = re.compile(r"-?\d+")
    for name, src in emit(plan, other).programs.items():
        assert strip.sub("#", src) == strip.sub("#", bundle.programs[name]), name


# ------------------------------------------------------------- the looped form, read back


def _s8(v: int) -> int:
    return v - 256 if v > 127 else v


def _run_looped_macs(src: str, commands: str, part_values: dict) -> np.ndarray:
    """The partial sums (one sample slot) that a looped program's actions add, read from its
    text and run step by step: the weights from the emitted ``register_write`` commands, the
    actions each part's packet calls, once per pass with ``meta.step`` = pass."""
    const = {k: int(v) for k, v in re.findall(r"const bit<32> (\w+) = (\d+);", src)}
    weights = {}
    for i, v in re.findall(r"register_write MyIngress\.weights (\d+) (\d+)", commands):
        weights[int(i)] = _s8(int(v))
    actions = dict(re.findall(r"action (\w+)\(\) \{(.*?)\n    \}", src, re.S))
    conv = "PLEN" in const
    assert ("meta.abase = meta.slot * N_ACC + meta.step * PLEN;" in src) == conv
    # the arrival entries: part -> (bit, where its weights start in a channel's row)
    woff = {
        int(q): int(off)
        for q, off in re.findall(r"MyIngress\.set_bit (\d+) => \d+ (\d+)", commands)
    }
    acc = np.zeros(const["N_ACC"], np.int64)
    for q, x in part_values.items():
        h = re.search(rf"\(PREV_LAYER, {q}\): parse_(\w+);", src).group(1)  # its header
        body = re.search(rf"if \(hdr\.{h}\.isValid\(\)\) \{{(.*?)\}}", src, re.S).group(1)
        called = re.findall(r"(\w+)\(\);", body)
        for step in range(const["PASSES"]):
            wbase = step * const["FAN_IN"] + woff[q]
            abase = step * (const["PLEN"] if conv else 1)
            meta_w = {}
            for name in called:
                text = actions[name]
                local = {}
                for reg, k in re.findall(r"weights\.read\((w\d+), meta\.wbase \+ (\d+)\);", text):
                    local[reg] = weights[wbase + int(k)]  # dense: into locals w0, w1, ...
                loads = re.findall(
                    r"weights\.read\(w, meta\.wbase \+ (\d+)\);\s*meta\.w(\d+)", text
                )
                for k, n in loads:  # conv: this pass's weights, into meta.w0, meta.w1, ...
                    meta_w[int(n)] = weights[wbase + int(k)]
                m = re.search(r"acc\.read\(a, meta\.abase(?: \+ (\d+))?\);", text)
                if not m:
                    continue
                idx = abase + int(m.group(1) or 0)
                total = 0
                for mw, lw, fh, f in re.findall(
                    r"\+ (?:meta\.w(\d+)|\(int<32>\)\(int<8>\)(w\d+)) \* "
                    r"\(int<32>\)\(\(bit<32>\)hdr\.(\w+)\.v(\d+)\)",
                    text,
                ):
                    assert fh == h
                    w = meta_w[int(mw)] if mw else local[lw]
                    total += w * int(x[int(f)])
                acc[idx] += total
    return acc


def _wrap32(v: int) -> int:
    return ((v + 2**31) % 2**32) - 2**31


def _run_looped_finish(src: str, commands: str, acc: np.ndarray) -> list:
    """The values a looped program's finish passes put into the result header (one sample
    slot), from its ``finish_channel`` and ``copy_out`` actions run statement by statement
    (32-bit wrapping after every assignment), with the emitted ``bias`` writes."""
    const = {k: int(v) for k, v in re.findall(r"const bit<32> (\w+) = (\d+);", src)}
    bias = {
        int(u): _wrap32(int(v))
        for u, v in re.findall(r"register_write MyIngress\.bias (\d+) (\d+)", commands)
    }
    actions = dict(re.findall(r"action (\w+)\(\) \{(.*?)\n    \}", src, re.S))
    acc = [int(a) for a in acc]
    outbuf: dict[int, int] = {}
    res: dict[int, int] = {}
    casts = ("(int<32>)", "(bit<8>)(bit<32>)")

    def ev(expr: str, env: dict) -> int:
        for c in casts:
            expr = expr.replace(c, "")
        return eval(expr, {}, env)  # +, -, &, ~, >> on Python ints: two's complement

    for u in range(const["PASSES"]):
        env = {"fbase": u * const["PLEN"], "obase": u * const["OLEN"]}
        for line in actions["finish_channel"].splitlines():
            line = line.split("//")[0].strip().replace("meta.", "")
            if not line or re.match(r"(bit|int)<\d+> \w+;$", line):
                continue
            if m := re.match(r"bias\.read\(b, step - PASSES\);$", line):
                env["b"] = bias[u]
            elif m := re.match(r"acc\.read\(t, (.+)\);$", line):
                env["t"] = _wrap32(acc[ev(m.group(1), env)])
            elif m := re.match(r"acc\.write\((.+), 0\);$", line):
                acc[ev(m.group(1), env)] = 0
            elif m := re.match(r"outbuf\.write\((.+), (.+)\);$", line):
                outbuf[ev(m.group(1), env)] = ev(m.group(2), env) & 0xFF
            elif m := re.match(r"(\w+) = (.+);$", line):
                env[m.group(1)] = _wrap32(ev(m.group(2), env))
            else:
                raise AssertionError(f"statement not understood: {line}")
    for o, i in re.findall(
        r"outbuf\.read\(o, meta\.slot \* N_OUT \+ (\d+)\);\s*hdr\.res\.v(\d+) = o;",
        actions["copy_out"],
    ):
        res[int(i)] = outbuf[int(o)]
    assert not any(acc), "the finish leaves every partial sum reset"
    return [res[i] for i in range(const["N_OUT"])]


@pytest.mark.parametrize("layout", ["conv", "mlp"])
def test_looped_programs_add_what_the_layer_computes(layout):
    """Every looped switch's actions, run pass by pass as the program says, add exactly the
    layer's dot products (computed here from the weights) into its partial-sum register."""
    if layout == "conv":
        m = random_integer_model([0, 6, 1], conv=((4, 3, 2),), length=12, seed=1)
        plan = partition(m, widths=[1, 2, 3, 1])
    else:
        m = random_integer_model([6, 8, 1], seed=3)
        plan = partition(m, widths=[1, 2, 1])
    bundle = emit(plan, m, unroll_macs=0)
    x = np.random.default_rng(5).integers(0, 256, (1, plan.shapes[0].out_values)).astype(np.uint8)
    _, outs = m.forward(x, return_all=True)
    ins = [x.reshape(-1).astype(np.int64)] + [o.reshape(-1) for o in outs]
    looped = finished = 0
    for li, layer in enumerate(plan.layers[1:], start=1):
        s, prev, q = plan.shapes[li], plan.shapes[li - 1], m.layers[li - 1]
        ln = prev.out_length
        xin = ins[li - 1]
        for p in layer:
            src = bundle.programs[p.name]
            if "recirculate" not in src:
                continue
            looped += 1
            ups = plan.layers[li - 1]
            parts = {
                k: xin[u.lo * ln : u.hi * ln] for k, u in enumerate(ups)
            }  # each upstream part's slice
            got = _run_looped_macs(src, bundle.commands[p.name], parts)
            w = q.weight[p.lo : p.hi].astype(np.int64)
            if s.kind == "conv":
                xi = xin.reshape(prev.out_channels, ln)
                want = np.array(
                    [
                        [(w[u] * xi[:, t : t + s.kernel]).sum() for t in range(s.conv_length)]
                        for u in range(p.hi - p.lo)
                    ]
                ).ravel()
            else:
                want = w @ xin
            assert np.array_equal(got, want), p.name
            if "action finish_channel()" in src:  # the finish passes, from these sums
                out = _run_looped_finish(src, bundle.commands[p.name], got)
                assert out == outs[li - 1][0, p.lo : p.hi].ravel().tolist(), p.name
                finished += 1
    assert looped >= 2 and finished >= (2 if layout == "conv" else 0)
