"""P4_16 (v1model) programs, simple_switch_CLI commands and a topology for a partition plan
(chapter 05, NetNN).

One program per switch. Each parses Ethernet, then NetNN's custom header (EtherType 0x1234:
sample id, layer, part, value bytes), then the values of the upstream part named in it (one
header type per upstream part). Weights live in a register that the control plane fills
(``register_write``, :mod:`~ssloserve.netnn.control_plane`), so programs do not change when
the model is retrained; biases and shifts are constants. An arrival table maps the upstream
part to a bit of a per-sample bitmap; when all bits are set the switch adds the bias, shifts,
clamps to [0, 127], max-pools, **resets** the sample's registers and multicasts its slice to
the next layer (group 1). The known pitfalls of the published prototype are avoided:
registers are read into local variables, sums are 32-bit, registers are reset per sample,
arrival is counted (order-independent), a switch that forwards never calls ``mark_to_drop``,
and the result header is made valid before its fields are written (P4 leaves writes to an
invalid header unspecified).

Two forms of a layer switch, chosen by :func:`emit_switch` from the multiply-accumulates one
packet costs (:func:`macs_per_packet`):

- **unrolled** (:mod:`~ssloserve.netnn.p4_unrolled`), at most :data:`UNROLL_MACS`: one action
  per output value, every multiply-accumulate written out; one pass per packet;
- **looped** (:mod:`~ssloserve.netnn.p4_loop`), above it: the work of one output channel,
  repeated by recirculating the packet once per channel. The paper's conv2 switch shrinks
  from 44 MB of P4 to 1.3 MB (what is left is mostly the finish: 2,528 sums to requantise),
  its dense1 switch from 2.7 MB to 87 kB.

Emission is deterministic: the same plan and model give the same bytes. The files emitted
for :func:`golden_example` are kept in ``tests/golden/netnn`` as the test's oracle; when the
emitter changes on purpose, rewrite them with
``python -m ssloserve.netnn.p4 --write-golden tests/golden/netnn`` and say so in the commit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .control_plane import port_map, switch_commands, topology
from .executor import SwitchConfig, configure
from .mapper import PartitionPlan, partition
from .p4_loop import emit_looped, loop_finishes, weight_offsets
from .p4_unrolled import emit_ingress, emit_unrolled
from .quantize import IntegerModel, random_integer_model

#: Multiply-accumulates per packet above which a switch's program is looped
#: (:mod:`~ssloserve.netnn.p4_loop`) rather than unrolled (:mod:`~ssloserve.netnn.p4_unrolled`).
UNROLL_MACS = 4096

__all__ = [
    "P4Bundle",
    "emit",
    "emit_switch",
    "macs_per_packet",
    "looped",
    "UNROLL_MACS",
    "switch_commands",
    "topology",
    "port_map",
    "golden_example",
    "main",
]


def macs_per_packet(cfg: SwitchConfig) -> int:
    """Multiply-accumulates one packet from the largest upstream part costs this switch.

    Examples
    --------
    >>> from ssloserve.netnn.quantize import random_integer_model
    >>> from ssloserve.netnn.mapper import partition
    >>> from ssloserve.netnn.executor import configure
    >>> m = random_integer_model([3, 2, 1])
    >>> [macs_per_packet(c) for c in configure(partition(m), m)]
    [0, 6, 2]
    """
    if cfg.layer == 0:
        return 0
    s = cfg.shape
    ch = cfg.hi - cfg.lo
    widest = max(c1 - c0 for c0, c1 in cfg.upstream)
    if s.kind == "conv":
        return ch * s.conv_length * widest * s.kernel
    return ch * widest * cfg.prev_shape.out_length


def emit_switch(cfg: SwitchConfig, unroll_macs: int = UNROLL_MACS) -> str:
    """The P4_16 program of one switch: unrolled when a packet costs at most ``unroll_macs``
    multiply-accumulates (or the switch has one output channel), looped otherwise.

    Examples
    --------
    >>> from ssloserve.netnn.quantize import random_integer_model
    >>> from ssloserve.netnn.mapper import partition
    >>> from ssloserve.netnn.executor import configure
    >>> m = random_integer_model([3, 2, 1])
    >>> src = emit_switch(configure(partition(m), m)[1])
    >>> "register<bit<8>>(6) weights;" in src
    True
    >>> finish = src.split("if (seen == ALL_ARRIVED) {")[1].split("} else {")[0]
    >>> "mcast_grp = 1" in finish and "mark_to_drop" not in finish
    True
    >>> "recirculate" in emit_switch(configure(partition(m), m)[1], unroll_macs=1)
    True
    """
    if cfg.layer == 0:
        return emit_ingress(cfg)
    if looped(cfg, unroll_macs):
        return emit_looped(cfg)
    return emit_unrolled(cfg)


def looped(cfg: SwitchConfig, unroll_macs: int = UNROLL_MACS) -> bool:
    """Whether :func:`emit_switch` gives this switch the looped program.

    Examples
    --------
    >>> from ssloserve.netnn.quantize import random_integer_model
    >>> from ssloserve.netnn.mapper import partition
    >>> from ssloserve.netnn.executor import configure
    >>> m = random_integer_model([3, 2, 1])
    >>> [looped(c, 0) for c in configure(partition(m), m)]  # the last has one output channel
    [False, True, False]
    """
    return cfg.layer > 0 and macs_per_packet(cfg) > unroll_macs and cfg.hi - cfg.lo > 1


@dataclass(frozen=True)
class P4Bundle:
    """Everything emitted for a plan: program and commands per switch, and the topology."""

    programs: dict[str, str]
    commands: dict[str, str]
    topology: dict

    def write(self, folder) -> list[Path]:
        """Write ``<switch>.p4``, ``<switch>.txt`` and ``topology.json`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for name in self.programs:
            for ext, text in ((".p4", self.programs[name]), (".txt", self.commands[name])):
                p = folder / f"{name}{ext}"
                p.write_text(text)
                paths.append(p)
        p = folder / "topology.json"
        p.write_text(json.dumps(self.topology, indent=2, sort_keys=True) + "\n")
        paths.append(p)
        return paths

    def sizes(self) -> dict[str, int]:
        """Program size in bytes per switch."""
        return {n: len(t.encode()) for n, t in self.programs.items()}


def emit(plan: PartitionPlan, model: IntegerModel, unroll_macs: int = UNROLL_MACS) -> P4Bundle:
    """P4 programs, control-plane commands and topology for a plan and a quantised model
    (``unroll_macs`` as in :func:`emit_switch`).

    Examples
    --------
    >>> from ssloserve.netnn.quantize import random_integer_model
    >>> from ssloserve.netnn.mapper import partition
    >>> m = random_integer_model([3, 4, 1])
    >>> b = emit(partition(m, widths=[1, 2, 1]), m)
    >>> sorted(b.programs)
    ['s0', 's1_0', 's1_1', 's2']
    """
    cfgs = configure(plan, model)
    ports = port_map(plan)
    programs = {c.name: emit_switch(c, unroll_macs) for c in cfgs}
    commands = {
        c.name: switch_commands(
            c,
            ports[c.name],
            weight_offsets(c) if looped(c, unroll_macs) else None,
            looped(c, unroll_macs) and loop_finishes(c),
        )
        for c in cfgs
    }
    return P4Bundle(programs, commands, topology(plan))


def golden_example() -> tuple[PartitionPlan, IntegerModel]:
    """The small plan whose emitted files are the golden files (``tests/golden/netnn``).

    A convolution (2 filters, 3 taps, pool 2) over 8 bytes, a dense layer of 3 and the output,
    on ``1 -> 2 -> 2 -> 1`` switches.

    Examples
    --------
    >>> plan, m = golden_example()
    >>> plan.layout
    '1 -> 2 -> 2 -> 1'
    """
    m = random_integer_model([0, 3, 1], conv=((2, 3, 2),), length=8, seed=0)
    return partition(m, widths=[1, 2, 2, 1]), m


def main(argv=None) -> int:
    """``python -m ssloserve.netnn.p4 --write-golden DIR``: write :func:`golden_example`'s files.

    Run it only when the emitter changes on purpose; the tests compare against these files
    and never write them.
    """
    import argparse

    ap = argparse.ArgumentParser(prog="python -m ssloserve.netnn.p4", description=main.__doc__)
    ap.add_argument("--write-golden", metavar="DIR", required=True, help="folder to write")
    args = ap.parse_args(argv)
    plan, m = golden_example()
    for path in emit(plan, m).write(args.write_golden):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
