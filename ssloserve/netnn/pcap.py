"""Classic pcap files, read and written with the standard library (chapter 05, NetNN): how
frames go into and come out of a BMv2 ``simple_switch`` run with ``--use-files``.

scapy, when installed, is only used by :func:`to_scapy` to show the frames.
"""

from __future__ import annotations

import struct
from pathlib import Path

from ..errors import ToolNotFoundError, TraceFormatError

__all__ = ["write_pcap", "read_pcap", "to_scapy"]


def write_pcap(path, frames, times_us=None) -> Path:
    """Write Ethernet frames to a classic pcap file.

    ``times_us`` gives each frame's timestamp in microseconds (default: 1 ms apart). BMv2
    replays several input files merged by timestamp, so equal times keep parts of one sample
    together.

    Examples
    --------
    >>> import tempfile, os
    >>> p = write_pcap(os.path.join(tempfile.mkdtemp(), "x.pcap"), [b"\\x01" * 60, b"\\x02" * 64])
    >>> [len(f) for f in read_pcap(p)]
    [60, 64]
    """
    path = Path(path)
    frames = list(frames)
    if times_us is None:
        times_us = [1000 * i for i in range(len(frames))]
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, f in zip(times_us, frames, strict=True):
            t = int(t)
            fh.write(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(f), len(f)))
            fh.write(bytes(f))
    return path


def read_pcap(path, with_times: bool = False) -> list:
    """Frames of a classic pcap file (either byte order); with ``with_times`` also each
    frame's timestamp in seconds, as ``(seconds, frame)`` pairs. A record cut short at the end
    (a file still being written) is left out."""
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
    frac = 1e-9 if magic in (0xA1B23C4D, 0x4D3CB2A1) else 1e-6
    frames, off = [], 24
    while off + 16 <= len(data):
        sec, sub, incl, _ = struct.unpack(e + "IIII", data[off : off + 16])
        if off + 16 + incl > len(data):
            break
        f = data[off + 16 : off + 16 + incl]
        frames.append((sec + sub * frac, f) if with_times else f)
        off += 16 + incl
    return frames


def to_scapy(frames):
    """The frames as scapy ``Ether`` packets (needs scapy: ``pip install scapy``)."""
    try:
        from scapy.layers.l2 import Ether
    except ImportError as e:  # pragma: no cover - depends on the machine
        raise ToolNotFoundError("scapy is not installed: pip install scapy") from e
    return [Ether(bytes(f)) for f in frames]
