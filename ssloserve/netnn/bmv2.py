"""Run an emitted plan on real BMv2 switches and check it bit for bit (chapter 05, NetNN).

The runner compiles each switch's program with ``p4c`` (:mod:`~ssloserve.netnn.p4c`) and
runs the network **one switch per ``simple_switch`` process, layer by layer, over pcap
files** (:mod:`~ssloserve.netnn.simple_switch`, :mod:`~ssloserve.netnn.pcap`). Every switch
is fed exactly the frames its upstream switches sent, loaded with the emitted control-plane
commands through ``simple_switch_CLI``, and what it sends on each port is read back and
handed to the next layer. The switches of one layer run side by side.

Why files and not veth pairs in a network namespace: files need no root and no
``CAP_NET_ADMIN`` (so the check runs in CI containers and on a user's laptop), every frame
that crosses a link is captured whole (the parity check compares every intermediate frame,
not only the scores), the run is deterministic (each input file is ordered by sample id, so
all parts of a sample reach a switch before the next sample reusing its register slot), and a
failing switch leaves its program, commands, pcaps and log in its own folder. What it gives
up: layers do not overlap in time, so the wall time is not the network's latency.

Three-way parity: the integer model says what every switch must send (:func:`model_frames`),
the reference executor's trace says what its switches sent, and BMv2's output pcaps say what
the real switches sent; :attr:`BMv2Result.equal` holds when all three agree on every byte of
every frame and on every score. :func:`packet_on_bmv2` shows one sample's frames side by side.
"""

from __future__ import annotations

import struct
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .executor import decode_frame, encode_frame, execute
from .mapper import PartitionPlan
from .p4 import UNROLL_MACS, emit, port_map
from .p4c import INSTALL_HELP as INSTALL_HELP  # the chapter imports these two from here
from .p4c import compile_program, require_tools
from .p4c import find_tools as find_tools
from .quantize import IntegerModel
from .simple_switch import run_switch

__all__ = ["model_frames", "BMv2Result", "run_bmv2", "packet_on_bmv2"]


def model_frames(plan: PartitionPlan, model: IntegerModel, x_u8: np.ndarray) -> dict:
    """The frame every switch should send for every sample, from the integer model alone.

    Returns ``{(switch, sample): frame bytes}``: the ingress switch sends the input bytes, a
    hidden-layer switch its slice of the layer's 8-bit output, the last switch its 32-bit
    logits (big-endian), each behind the custom header with the switch's layer and part.

    Examples
    --------
    >>> from ssloserve.netnn.quantize import random_integer_model
    >>> from ssloserve.netnn.mapper import partition
    >>> m = random_integer_model([3, 2, 1], seed=0)
    >>> x = np.array([[1, 2, 3]], np.uint8)
    >>> f = model_frames(partition(m), m, x)
    >>> sorted(f)
    [('s0', 0), ('s1', 0), ('s2', 0)]
    >>> int.from_bytes(f[("s2", 0)][-4:], "big", signed=True) == int(m.forward(x)[0])
    True
    """
    x = np.asarray(x_u8, np.uint8)
    _, outs = model.forward(x, return_all=True)
    frames = {}
    for li, parts in enumerate(plan.layers):
        for p in parts:
            for sid in range(len(x)):
                if li == 0:
                    vals = x[sid].tobytes()
                else:
                    y = outs[li - 1][sid, p.lo : p.hi]
                    if plan.shapes[li].relu:
                        vals = y.astype(np.uint8).tobytes()
                    else:
                        vals = y.astype(">i4").tobytes()
                frames[(p.name, sid)] = encode_frame(sid, li, p.part, vals)
    return frames


@dataclass
class BMv2Result:
    """Scores from BMv2, the reference executor and the integer model, and every frame.

    ``logits`` is None when the last switch was not among the switches run.
    ``frames`` has one row per frame a BMv2 switch sent: the sender, port, receiver, sample,
    layer, part, the bytes, and whether they equal the integer model's frame (``model``)
    and what the executor's trace shows of the same frame (``executor``). ``switches`` has
    one row per switch: compile time, JSON bytes, p4c warnings, control-plane load, frames in
    and out, and packets per second between its first and last output frame.
    """

    logits: np.ndarray | None
    reference: np.ndarray
    model: np.ndarray
    frames: pd.DataFrame
    switches: pd.DataFrame
    missing: list
    workdir: Path

    @property
    def equal(self) -> bool:
        """BMv2, executor and integer model agree on every score and every frame."""
        scores = self.logits is None or (
            np.array_equal(self.logits, self.reference) and np.array_equal(self.logits, self.model)
        )
        return bool(
            scores
            and len(self.frames) > 0
            and self.frames["model"].all()
            and self.frames["executor"].all()
            and not self.missing
        )

    def table(self) -> pd.DataFrame:
        """One row per sample: BMv2, executor and integer-model logit."""
        if self.logits is None:
            raise ValueError("the last switch was not run, so BMv2 gave no scores")
        return pd.DataFrame(
            {
                "bmv2": self.logits,
                "executor": self.reference,
                "model": self.model,
                "equal": (self.logits == self.reference) & (self.logits == self.model),
            }
        )


def _trace_index(trace: pd.DataFrame) -> dict:
    return {
        (r["to"], int(r["sample"]), int(r["layer"]), int(r["part"])): r["values"]
        for r in trace.to_dict("records")
    }


def run_bmv2(
    plan: PartitionPlan,
    model: IntegerModel,
    x_u8: np.ndarray,
    workdir=None,
    *,
    switches=None,
    timeout_s: float = 300.0,
    unroll_macs: int = UNROLL_MACS,
) -> BMv2Result:
    """Compile the switches with p4c, run them in BMv2 and compare with the executor and model.

    Parameters
    ----------
    plan, model : the partition plan and the quantised model it was made for
    x_u8 : inputs ``(n, input length)`` as 8-bit codes; any number of samples
    workdir : folder for programs, JSON, pcaps and logs (default: a new temporary folder)
    switches : None runs the whole chain, each switch fed what BMv2's upstream switches sent;
        a list of switch names runs only those, each fed the frames the integer model says
        its upstream switches send (a sample of a large layout)
    timeout_s : longest wait for a switch's Thrift port, its commands or its output
    unroll_macs : switches whose packets cost more multiply-accumulates run the looped
        program (:func:`~ssloserve.netnn.p4.emit_switch`)

    Needs p4c and BMv2; raises :class:`~ssloserve.errors.ToolNotFoundError` without them and
    :class:`~ssloserve.errors.ToolError` when one of them fails.
    """
    tools = require_tools()
    x = np.asarray(x_u8, np.uint8)
    workdir = Path(workdir or tempfile.mkdtemp(prefix="ssloserve-bmv2-"))
    bundle = emit(plan, model, unroll_macs)
    bundle.write(workdir / "src")
    ports = port_map(plan)
    names = [p.name for layer in plan.layers for p in layer]
    chosen = names if switches is None else [n for n in names if n in set(switches)]
    unknown = set(switches or ()) - set(names)
    if unknown:
        raise ValueError(f"no such switches in the plan: {sorted(unknown)}")
    compiled = {
        n: compile_program(workdir / "src" / f"{n}.p4", workdir / "build", tools["p4c"])
        for n in chosen
    }
    want = model_frames(plan, model, x)
    layer_of = {p.name: li for li, layer in enumerate(plan.layers) for p in layer}
    n_up = {n: (len(plan.layers[layer_of[n] - 1]) if layer_of[n] else 1) for n in names}

    def inputs_of(name, sent_by):
        inp = {p: [] for p in ports[name]}
        for port, peer in ports[name].items():
            if peer == "h1":
                inp[port] = [(s, encode_frame(s, 0, 0, x[s].tobytes())) for s in range(len(x))]
            elif port <= n_up[name]:
                inp[port] = sent_by(peer, name)
        return inp

    sent_frames: dict[tuple[str, str], list] = {}  # (sender, receiver) -> [(sample, frame)]

    def from_bmv2(peer, name):
        return sent_frames.get((peer, name), [])

    def from_model(peer, name):
        return [(s, want[(peer, s)]) for s in range(len(x))]

    rows, stats = [], []
    for layer in plan.layers:
        todo = [p.name for p in layer if p.name in compiled]

        def one(name, device):
            ins = inputs_of(name, from_bmv2 if switches is None else from_model)
            expect = {p: len(x) for p in ports[name] if p > n_up[name]}
            return name, run_switch(
                tools,
                name,
                compiled[name].json,
                workdir / "run" / name,
                ins,
                bundle.commands[name],
                expect,
                device=device,
                timeout_s=timeout_s,
            )

        with ThreadPoolExecutor(max(1, len(todo))) as pool:
            done = list(pool.map(one, todo, range(len(todo))))
        for name, r in done:
            times = []
            for port, items in r["sent"].items():
                peer = ports[name][port]
                for t, f in items:
                    sid = decode_frame(f)[0]
                    sent_frames.setdefault((name, peer), []).append((sid, f))
                    rows.append({"switch": name, "port": port, "to": peer, "frame": f})
                    times.append(t)
            n_in = len(x) * n_up[name]
            busy = max(times) - min(times) if len(times) > 1 else float("nan")
            c = compiled[name]
            stats.append(
                {
                    "switch": name,
                    "compile s": c.seconds,
                    "JSON bytes": c.json_bytes,
                    "p4c warnings": len(c.warnings),
                    "commands": r["commands"],
                    "load s": r["load s"],
                    "commands s": r["commands s"],
                    "use-files N": r["use-files N"],
                    "frames in": n_in,
                    "frames out": len(times),
                    "packets/s": n_in / busy if busy > 0 else float("nan"),
                }
            )
    ex = execute(plan, model, x, trace=True)
    tr = _trace_index(ex.trace)
    seen = set()
    for r in rows:
        sid, layer, part, values = decode_frame(r["frame"])
        key = (r["to"], sid, layer, part)
        seen.add((r["switch"], r["to"], sid))
        r.update(sample=sid, layer=layer, part=part)
        r["model"] = r["frame"] == want.get((r["switch"], sid))
        r["executor"] = tr.get(key) == values  # every value byte of every frame
    missing = [
        (n, peer, s)
        for n in chosen
        for p, peer in ports[n].items()
        if p > n_up[n]
        for s in range(len(x))
        if (n, peer, s) not in seen
    ]
    last = plan.layers[-1][0].name
    logits = None
    if last in compiled:
        logits = np.zeros(len(x), np.int64)
        for sid, f in sent_frames.get((last, "h2"), []):
            logits[sid] = struct.unpack("!i", decode_frame(f)[3][:4])[0]
    cols = ["switch", "port", "to", "sample", "layer", "part", "frame", "model", "executor"]
    return BMv2Result(
        logits,
        ex.logits,
        model.forward(x),
        pd.DataFrame(rows, columns=cols),
        pd.DataFrame(stats),
        missing,
        workdir,
    )


def packet_on_bmv2(
    plan: PartitionPlan,
    model: IntegerModel,
    x_u8: np.ndarray,
    sample: int = 0,
    *,
    workdir=None,
    show_bytes: int = 12,
) -> pd.DataFrame:
    """One sample through the switches on BMv2, beside the reference executor: every frame's
    bytes going in and the score coming out.

    Parameters
    ----------
    plan, model : the partition plan and the quantised model it was made for
    x_u8 : inputs ``(n, input length)`` as 8-bit codes
    sample : the row of ``x_u8`` to send (it travels as sample id 0)
    workdir : folder for programs, JSON, pcaps and logs (default: a new temporary folder)
    show_bytes : value bytes shown per frame (the comparison covers all of them)

    Returns
    -------
    One row per frame, in the order the layers send them: ``from``, ``to``, ``layer``,
    ``part``, ``value bytes``, the first ``show_bytes`` value bytes as BMv2 sent them
    (``bmv2``) and as the executor sent them (``executor``), whether the whole frames are
    equal (``equal``), and on the last row the score (the logit) from each (``bmv2 score``,
    ``executor score``). The first row is the input frame that ``h1`` sends.

    Needs p4c and BMv2 (:func:`~ssloserve.netnn.p4c.require_tools`).
    """
    x = np.asarray(x_u8, np.uint8)[sample : sample + 1]
    r = run_bmv2(plan, model, x, workdir)
    ex = execute(plan, model, x, trace=True)
    by_key = {
        (t["to"], int(t["layer"]), int(t["part"])): t["values"] for t in ex.trace.to_dict("records")
    }
    first = plan.layers[0][0].name
    x_in = x[0].tobytes()
    rows = [
        {
            "from": "h1",
            "to": first,
            "layer": 0,
            "part": 0,
            "value bytes": len(x_in),
            "bmv2": x_in[:show_bytes].hex(" "),
            "executor": by_key[(first, 0, 0)][:show_bytes].hex(" "),
            "equal": by_key[(first, 0, 0)] == x_in,
        }
    ]
    for f in r.frames.sort_values(["layer", "part", "to"], kind="stable").to_dict("records"):
        values = decode_frame(f["frame"])[3]
        mine = by_key.get((f["to"], f["layer"], f["part"]), b"")
        rows.append(
            {
                "from": f["switch"],
                "to": f["to"],
                "layer": f["layer"],
                "part": f["part"],
                "value bytes": len(values),
                "bmv2": values[:show_bytes].hex(" "),
                "executor": mine[:show_bytes].hex(" "),
                "equal": bool(f["executor"] and f["model"]),
            }
        )
    out = pd.DataFrame(rows)
    out["bmv2 score"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out["executor score"] = pd.array([pd.NA] * len(out), dtype="Int64")
    if r.logits is not None:
        last = out.index[out["to"] == "h2"]
        out.loc[last, "bmv2 score"] = int(r.logits[0])
        out.loc[last, "executor score"] = int(ex.logits[0])
    return out
