"""The control plane and the wiring of an emitted plan (chapter 05, NetNN): port numbers,
the simple_switch_CLI commands that load a switch (arrival entries, weights, multicast group)
and the topology a Mininet script or the BMv2 runner builds.
"""

from __future__ import annotations

from .executor import SwitchConfig
from .mapper import PartitionPlan

__all__ = ["port_map", "switch_commands", "topology"]


def port_map(plan: PartitionPlan) -> dict[str, dict[int, str]]:
    """Port numbers of every switch: ``1..w_prev`` lead to the upstream switches (the ingress:
    ``h1``), the next ones to the downstream switches (the last switch: ``h2``).

    Examples
    --------
    >>> from ssloserve.netnn.quantize import random_integer_model
    >>> from ssloserve.netnn.mapper import partition
    >>> port_map(partition(random_integer_model([3, 4, 1]), widths=[1, 2, 1]))["s1_0"]
    {1: 's0', 2: 's2'}
    """
    out = {}
    n = len(plan.layers)
    for li, parts in enumerate(plan.layers):
        ups = [p.name for p in plan.layers[li - 1]] if li > 0 else ["h1"]
        downs = [p.name for p in plan.layers[li + 1]] if li + 1 < n else ["h2"]
        for p in parts:
            out[p.name] = {i + 1: peer for i, peer in enumerate(ups + downs)}
    return out


def switch_commands(
    cfg: SwitchConfig,
    ports: dict[int, str],
    weight_offsets: list[int] | None = None,
    biases: bool = False,
) -> str:
    """simple_switch_CLI commands for one switch: arrival entries, weights, multicast group.

    ``weight_offsets``: for a looped program, where each upstream part's weights start in a
    channel's row (a second parameter of the arrival entries). ``biases``: also write the
    biases into the ``bias`` register (32-bit two's complement; a looped program that
    finishes one channel per pass reads them there).

    Examples
    --------
    >>> from ssloserve.netnn.quantize import random_integer_model
    >>> from ssloserve.netnn.mapper import partition
    >>> from ssloserve.netnn.executor import configure
    >>> m = random_integer_model([3, 2, 1])
    >>> plan = partition(m)
    >>> print(switch_commands(configure(plan, m)[0], port_map(plan)["s0"]))
    mc_mgrp_create 1
    mc_node_create 0 2
    mc_node_associate 1 0
    <BLANKLINE>
    """
    lines = []
    n_up = len(cfg.upstream) if cfg.layer > 0 else 1
    if cfg.layer > 0:
        for q in range(n_up):
            off = "" if weight_offsets is None else f" {weight_offsets[q]}"
            lines.append(f"table_add MyIngress.arrival MyIngress.set_bit {q} => {1 << q}{off}")
        for i, w in enumerate(cfg.weight.ravel()):
            lines.append(f"register_write MyIngress.weights {i} {int(w) & 0xFF}")
        if biases:
            for u, b in enumerate(cfg.bias.ravel()):
                lines.append(f"register_write MyIngress.bias {u} {int(b) & 0xFFFFFFFF}")
    if cfg.shape.kind == "input" or cfg.shape.relu:
        down = [str(p) for p in sorted(ports) if p > n_up]
        lines += ["mc_mgrp_create 1", f"mc_node_create 0 {' '.join(down)}", "mc_node_associate 1 0"]
    return "\n".join(lines) + "\n"


def topology(plan: PartitionPlan) -> dict:
    """Hosts, switches (program, commands, ports) and links of the plan, for a Mininet script.

    Examples
    --------
    >>> from ssloserve.netnn.quantize import random_integer_model
    >>> from ssloserve.netnn.mapper import partition
    >>> t = topology(partition(random_integer_model([3, 4, 1]), widths=[1, 2, 1]))
    >>> t["links"][:2]
    [['h1', 0, 's0', 1], ['s0', 2, 's1_0', 1]]
    """
    ports = port_map(plan)
    switches = {
        name: {
            "program": f"{name}.p4",
            "commands": f"{name}.txt",
            "ports": {str(k): v for k, v in pm.items()},
        }
        for name, pm in ports.items()
    }
    links = []
    seen = set()
    for name, pm in ports.items():
        for port, peer in pm.items():
            if peer in ("h1", "h2"):
                links.append([peer, 0, name, port] if peer == "h1" else [name, port, peer, 0])
                continue
            peer_port = next(p for p, n in ports[peer].items() if n == name)
            key = tuple(sorted([(name, port), (peer, peer_port)]))
            if key not in seen:
                seen.add(key)
                links.append([name, port, peer, peer_port])
    order = {n: i for i, n in enumerate(["h1"] + list(ports) + ["h2"])}
    links.sort(key=lambda k: (order[k[0]], k[1]))
    return {
        "ethertype": "0x1234",
        "layout": plan.layout,
        "hosts": {
            "h1": {"sends_to": plan.layers[0][0].name},
            "h2": {"receives_from": plan.layers[-1][0].name},
        },
        "switches": switches,
        "links": links,
    }
