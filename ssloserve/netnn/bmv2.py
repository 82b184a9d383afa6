"""Run an emitted plan on real BMv2 switches (chapter 05, NetNN).

The runner compiles each switch's program with ``p4c`` (``--target bmv2 --arch v1model``) and
runs the network layer by layer in ``simple_switch`` with pcap files (``--use-files``: port
``i`` reads ``<i>_in.pcap`` and writes ``<i>_out.pcap``; no root, no veth pairs needed). For
every switch it writes the frames its upstream switches sent into the right ports' input
files, loads the control-plane commands with ``simple_switch_CLI``, collects what each port
sent and hands it to the next layer. The logits the last switch sends to ``h2`` are compared
with the reference executor's.

p4c and BMv2 are not installable on the machines this project is tested on, so here
:func:`find_tools` finds nothing and the BMv2 tests skip with a message. To get them:

- **p4lang packages** (Ubuntu 20.04/22.04/24.04, Debian): add the p4lang repository from the
  openSUSE Build Service (``https://software.opensuse.org/download.html?project=home:p4lang&package=p4lang-p4c``),
  then ``sudo apt install p4lang-p4c p4lang-bmv2``;
- **container images**: ``docker pull p4lang/p4c`` and ``docker pull p4lang/behavioral-model``,
  then run this module inside a container that has both (for example ``p4lang/p4c`` with BMv2
  added), mounting the repository;
- **from source**: github.com/p4lang/p4c and github.com/p4lang/behavioral-model.

The pcap reader and writer below need nothing beyond the standard library; scapy, when
installed, is only used by :func:`to_scapy` to show the frames.
"""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ToolError, ToolNotFoundError, TraceFormatError
from .executor import decode_frame, encode_frame, execute
from .mapper import PartitionPlan
from .p4 import emit, port_map
from .quantize import IntegerModel

__all__ = [
    "INSTALL_HELP",
    "find_tools",
    "require_tools",
    "write_pcap",
    "read_pcap",
    "to_scapy",
    "compile_program",
    "BMv2Result",
    "run_bmv2",
]

INSTALL_HELP = (
    "p4c and BMv2 (simple_switch, simple_switch_CLI) are needed. Install the p4lang packages "
    "(add the home:p4lang repository from software.opensuse.org, then `apt install p4lang-p4c "
    "p4lang-bmv2`) or use the p4lang/p4c and p4lang/behavioral-model container images."
)

_TOOLS = {
    "p4c": ("p4c", "p4c-bm2-ss"),
    "simple_switch": ("simple_switch",),
    "simple_switch_CLI": ("simple_switch_CLI",),
}


def find_tools() -> dict[str, str | None]:
    """Paths of p4c, simple_switch and simple_switch_CLI on ``PATH`` (None when missing).

    Examples
    --------
    >>> sorted(find_tools())
    ['p4c', 'simple_switch', 'simple_switch_CLI']
    """
    out: dict[str, str | None] = {}
    for key, names in _TOOLS.items():
        out[key] = next((p for p in (shutil.which(n) for n in names) if p), None)
    return out


def require_tools() -> dict[str, str]:
    """The tool paths, or :class:`~ssloserve.errors.ToolNotFoundError` saying how to get them."""
    tools = find_tools()
    missing = [k for k, v in tools.items() if v is None]
    if missing:
        raise ToolNotFoundError(f"not found on PATH: {', '.join(missing)}. {INSTALL_HELP}")
    return tools  # type: ignore[return-value]


def write_pcap(path, frames) -> Path:
    """Write Ethernet frames to a classic pcap file (microsecond timestamps, 1 ms apart).

    Examples
    --------
    >>> import tempfile, os
    >>> p = write_pcap(os.path.join(tempfile.mkdtemp(), "x.pcap"), [b"\\x01" * 60, b"\\x02" * 64])
    >>> [len(f) for f in read_pcap(p)]
    [60, 64]
    """
    path = Path(path)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, f in enumerate(frames):
            fh.write(struct.pack("<IIII", i // 1000, (i % 1000) * 1000, len(f), len(f)))
            fh.write(bytes(f))
    return path


def read_pcap(path) -> list[bytes]:
    """Frames of a classic pcap file (either byte order)."""
    data = Path(path).read_bytes()
    if len(data) < 24:
        raise TraceFormatError("too short for a pcap header", path=path)
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        e = ">"
    else:
        raise TraceFormatError(f"not a pcap file (magic 0x{magic:08x})", path=path)
    frames, off = [], 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(e + "IIII", data[off : off + 16])
        frames.append(data[off + 16 : off + 16 + incl])
        off += 16 + incl
    return frames


def to_scapy(frames):
    """The frames as scapy ``Ether`` packets (needs scapy: ``pip install scapy``)."""
    try:
        from scapy.layers.l2 import Ether
    except ImportError as e:  # pragma: no cover - depends on the machine
        raise ToolNotFoundError("scapy is not installed: pip install scapy") from e
    return [Ether(bytes(f)) for f in frames]


def compile_program(p4_file, out_dir, p4c: str | None = None) -> Path:
    """Compile one program with p4c for BMv2/v1model; returns the JSON path."""
    p4c = p4c or require_tools()["p4c"]
    p4_file, out_dir = Path(p4_file), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if Path(p4c).name == "p4c-bm2-ss":
        cmd = [
            p4c,
            "--arch",
            "v1model",
            "-o",
            str(out_dir / (p4_file.stem + ".json")),
            str(p4_file),
        ]
    else:
        cmd = [p4c, "--target", "bmv2", "--arch", "v1model", "-o", str(out_dir), str(p4_file)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if res.returncode != 0:
        raise ToolError(f"p4c failed on {p4_file}:\n{res.stderr[-4000:]}")
    return out_dir / (p4_file.stem + ".json")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_switch(tools, json_path, workdir, ports, inputs, commands, wait_s, settle_s):
    """Run one simple_switch over pcap files; returns {port: [frames sent]}."""
    for port in ports:
        write_pcap(workdir / f"{port}_in.pcap", inputs.get(port, []))
    thrift = _free_port()
    args = [tools["simple_switch"], "--use-files", str(wait_s), "--thrift-port", str(thrift)]
    for port in ports:
        args += ["-i", f"{port}@{port}"]
    args.append(str(json_path))
    proc = subprocess.Popen(args, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(min(1.0, wait_s / 2))
        cli = subprocess.run(
            [tools["simple_switch_CLI"], "--thrift-port", str(thrift)],
            input=commands,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if cli.returncode != 0:
            raise ToolError(f"simple_switch_CLI failed on {json_path}: {cli.stderr[-2000:]}")
        time.sleep(wait_s + settle_s)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    out = {}
    for port in ports:
        f = workdir / f"{port}_out.pcap"
        out[port] = read_pcap(f) if f.exists() and f.stat().st_size >= 24 else []
    return out


@dataclass
class BMv2Result:
    """Logits from BMv2 and from the reference executor, side by side."""

    logits: np.ndarray
    reference: np.ndarray
    workdir: Path

    @property
    def equal(self) -> bool:
        """Whether BMv2 and the executor agree on every sample."""
        return bool(np.array_equal(self.logits, self.reference))

    def table(self) -> pd.DataFrame:
        """One row per sample: BMv2 logit, executor logit, equal."""
        return pd.DataFrame(
            {
                "bmv2": self.logits,
                "executor": self.reference,
                "equal": self.logits == self.reference,
            }
        )


def run_bmv2(
    plan: PartitionPlan,
    model: IntegerModel,
    x_u8: np.ndarray,
    workdir=None,
    *,
    wait_s: float | None = None,
    settle_s: float = 2.0,
) -> BMv2Result:
    """Compile every switch with p4c, run the plan in BMv2 layer by layer, compare with the executor.

    Needs p4c and BMv2 (see the module text); raises :class:`~ssloserve.errors.ToolNotFoundError`
    without them and :class:`~ssloserve.errors.ToolError` when one of them fails. At most ``spec.sample_slots`` samples are sent (one batch of sample slots).
    Each switch waits ``wait_s`` seconds (default: 2 s plus 1 s per 500 control-plane commands)
    for its commands before it reads its input pcaps, then ``settle_s`` for its output.
    """
    tools = require_tools()
    x = np.asarray(x_u8, np.uint8)[: plan.spec.sample_slots]
    workdir = Path(workdir or tempfile.mkdtemp(prefix="ssloserve-bmv2-"))
    bundle = emit(plan, model)
    bundle.write(workdir / "src")
    ports = port_map(plan)
    jsons = {
        n: compile_program(workdir / "src" / f"{n}.p4", workdir / "build", tools["p4c"])
        for n in bundle.programs
    }
    # frames waiting at each (switch, port)
    inbox: dict[str, dict[int, list[bytes]]] = {n: {} for n in ports}
    first = plan.layers[0][0].name
    inbox[first][1] = [encode_frame(i, 0, 0, row.tobytes()) for i, row in enumerate(x)]
    results: list[bytes] = []
    for layer in plan.layers:
        for part in layer:
            name = part.name
            wd = workdir / "run" / name
            wd.mkdir(parents=True, exist_ok=True)
            cmds = bundle.commands[name]
            wait = wait_s if wait_s is not None else 2.0 + cmds.count("\n") / 500
            sent = _run_switch(
                tools, jsons[name], wd, sorted(ports[name]), inbox[name], cmds, wait, settle_s
            )
            for port, frames in sent.items():
                peer = ports[name][port]
                if peer == "h2":
                    results += frames
                elif peer != "h1":
                    back = next(p for p, n in ports[peer].items() if n == name)
                    inbox[peer].setdefault(back, []).extend(frames)
    logits = np.zeros(len(x), np.int64)
    for f in results:
        sid, _, _, values = decode_frame(f)
        if sid < len(x):
            logits[sid] = struct.unpack("!i", values[:4])[0]
    ref = execute(plan, model, x).logits
    return BMv2Result(logits, ref, workdir)
