"""A seeded synthetic packet-level data set for NetNN's raw-byte model (chapter 05).

**Synthetic**: there is no public packet capture of NetNN's covert-channel data, so this
generator builds real Ethernet/IPv4/TCP/UDP packet bytes (valid IPv4 and TCP/UDP checksums)
for benign sessions (web over TCP, DNS over UDP) and three attacks:

- a **covert timing channel**: a TCP session whose bytes look like web traffic but whose
  inter-arrival times encode bits (250 ms for 0, 500 ms for 1, 5 ms jitter): slower than most
  web packets, about as slow as some benign DNS queries;
- a **SYN flood**: SYNs from spoofed sources to one server port, sub-millisecond gaps;
- a **port scan**: SYNs from one source over many ports, with the target's RSTs.

Each packet becomes the model's input (72 bytes): a 4-byte slot holding the 8-bit code of the
inter-arrival time since the previous packet of its flow (:func:`iat_code`, repeated four
times), then the packet's first 68 bytes (zero-padded). Repeating the code is our choice: with
a single byte among 68 mostly noisy ones (sequence numbers, checksums, payload) the small CNN
did not learn to use it in a few epochs; four copies fill whole 5-byte windows. Every packet
carries its flow's label; a flow's verdict is the majority of its packets' verdicts.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .data import FlowData, log_code

__all__ = [
    "KINDS",
    "SNAP_BYTES",
    "IAT_REPEAT",
    "PacketData",
    "iat_code",
    "generate_packets",
    "split_flows",
    "flow_accuracy",
    "ipv4_checksum",
    "flow_table",
]

SNAP_BYTES = 68
IAT_REPEAT = 4
KINDS = ("benign web", "benign DNS", "covert timing channel", "SYN flood", "port scan")
_FIN, _SYN, _RST, _PSH, _ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def iat_code(iat_s) -> np.ndarray:
    """8-bit log code of an inter-arrival time (microseconds; 1 s and more give 255).

    Examples
    --------
    >>> iat_code([0.0, 0.010, 0.250, 2.0]).tolist()
    [0, 170, 229, 255]
    """
    return log_code(np.asarray(iat_s, dtype=np.float64) * 1e6, 1e6)


def ipv4_checksum(header: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``header``.

    Examples
    --------
    >>> hex(ipv4_checksum(bytes.fromhex("450000730000400040110000c0a80001c0a800c7")))
    '0xb861'
    """
    if len(header) % 2:
        header += b"\0"
    s = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _packet(rng, src, dst, sport, dport, proto, flags, payload, ttl, win, seq, ack) -> bytes:
    macs = bytes([0x02, 0, 0, 0, dst[2], dst[3]]) + bytes([0x02, 0, 0, 0, src[2], src[3]])
    eth = macs + b"\x08\x00"
    if proto == 6:
        l4 = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, win, 0, 0)
    else:
        l4 = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    seg = l4 + payload
    pseudo = bytes(src) + bytes(dst) + struct.pack("!BBH", 0, proto, len(seg))
    csum = ipv4_checksum(pseudo + seg)
    off = 16 if proto == 6 else 6
    seg = seg[:off] + struct.pack("!H", csum) + seg[off + 2 :]
    ident = int(rng.integers(0, 65536))
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(seg),
        ident,
        0x4000,
        ttl,
        proto,
        0,
        bytes(src),
        bytes(dst),
    )
    ip = ip[:10] + struct.pack("!H", ipv4_checksum(ip)) + ip[12:]
    return eth + ip + seg


def _ip(rng, net: tuple[int, int]) -> tuple[int, int, int, int]:
    return (net[0], net[1], int(rng.integers(0, 256)), int(rng.integers(1, 255)))


_HTTP = b"GET /index.html HTTP/1.1\r\nHost: example.org\r\nUser-Agent: ssloserve\r\n\r\n"


def _payload(rng, n: int) -> bytes:
    if n <= 0:
        return b""
    if rng.random() < 0.5:
        return (_HTTP * (n // len(_HTTP) + 1))[:n]
    return rng.integers(0, 256, n).astype(np.uint8).tobytes()


def _session(rng, n, iats, client, server, dport, ttl):
    """A TCP session: handshake, data both ways, FIN."""
    sport = int(rng.integers(32768, 61000))
    seq_c, seq_s = int(rng.integers(0, 2**32)), int(rng.integers(0, 2**32))
    win_c, win_s = int(rng.choice([29200, 64240, 65535])), int(rng.choice([28960, 65160]))
    pk = []
    for i in range(n):
        to_server = i in (0, 2) or (i > 2 and rng.random() < 0.5)
        if i == 0:
            flags, size = _SYN, 0
        elif i == 1:
            flags, size, to_server = _SYN | _ACK, 0, False
        elif i == 2:
            flags, size = _ACK, 0
        elif i == n - 1:
            flags, size = _FIN | _ACK, 0
        else:
            flags = _PSH | _ACK
            size = int(np.clip(rng.lognormal(5.5 if not to_server else 4.5, 1.0), 1, 1400))
        src, dst = (client, server) if to_server else (server, client)
        a, b = (sport, dport) if to_server else (dport, sport)
        pk.append(
            _packet(
                rng,
                src,
                dst,
                a,
                b,
                6,
                flags,
                _payload(rng, size),
                ttl if to_server else 64,
                win_c if to_server else win_s,
                seq_c if to_server else seq_s,
                0 if i == 0 else (seq_s if to_server else seq_c),
            )
        )
        if to_server:
            seq_c = (seq_c + max(size, 1)) % 2**32
        else:
            seq_s = (seq_s + max(size, 1)) % 2**32
    return pk, iats


def _flow(rng, kind: str):
    client, server = _ip(rng, (10, 0)), _ip(rng, (10, 1))
    ttl = int(rng.choice([64, 128]))
    if kind in ("benign web", "covert timing channel"):
        n = int(rng.integers(8, 25))
        dport = int(rng.choice([80, 443, 8080]))
        if kind == "benign web":
            iats = rng.lognormal(np.log(0.02), 1.0, n)
        else:
            bits = rng.integers(0, 2, n)
            iats = np.where(bits == 1, 0.500, 0.250) + rng.uniform(-0.005, 0.005, n)
        iats[0] = 0.0
        return _session(rng, n, iats, client, server, dport, ttl)
    if kind == "benign DNS":
        n = 2 * int(rng.integers(2, 7))
        pk, iats = [], []
        for i in range(n):
            q = i % 2 == 0
            sport = int(rng.integers(32768, 61000))
            size = int(rng.integers(20, 60)) if q else int(rng.integers(60, 300))
            src, dst = (client, server) if q else (server, client)
            pk.append(
                _packet(
                    rng,
                    src,
                    dst,
                    sport if q else 53,
                    53 if q else sport,
                    17,
                    0,
                    _payload(rng, size),
                    ttl if q else 64,
                    0,
                    0,
                    0,
                )
            )
            iats.append(
                0.0
                if i == 0
                else (rng.lognormal(np.log(0.1), 1.0) if q else rng.uniform(0.002, 0.05))
            )
        return pk, np.array(iats)
    if kind == "SYN flood":
        n = int(rng.integers(12, 33))
        dport = int(rng.choice([80, 443]))
        pk = [
            _packet(
                rng,
                (
                    int(rng.integers(1, 224)),
                    int(rng.integers(0, 256)),
                    int(rng.integers(0, 256)),
                    int(rng.integers(1, 255)),
                ),
                server,
                int(rng.integers(1024, 65536)),
                dport,
                6,
                _SYN,
                b"",
                int(rng.integers(32, 256)),
                int(rng.integers(512, 65536)),
                int(rng.integers(0, 2**32)),
                0,
            )
            for _ in range(n)
        ]
        iats = rng.exponential(0.0003, n)
        iats[0] = 0.0
        return pk, iats
    if kind == "port scan":
        n = int(rng.integers(12, 33))
        start = int(rng.integers(1, 60000))
        sport = int(rng.integers(32768, 61000))
        pk, iats = [], []
        for i in range(n):
            port = start + i // 2
            if i % 2 == 0:
                pk.append(
                    _packet(
                        rng,
                        client,
                        server,
                        sport,
                        port,
                        6,
                        _SYN,
                        b"",
                        ttl,
                        1024,
                        int(rng.integers(0, 2**32)),
                        0,
                    )
                )
                iats.append(rng.uniform(0.0005, 0.005))
            else:
                pk.append(
                    _packet(rng, server, client, port, sport, 6, _RST | _ACK, b"", 64, 0, 0, 0)
                )
                iats.append(rng.uniform(0.0001, 0.001))
        iats[0] = 0.0
        return pk, np.array(iats)
    raise ValueError(f"unknown kind {kind!r}; choose from {KINDS}")


@dataclass(frozen=True, eq=False)
class PacketData:
    """Synthetic packets: ``snap`` (n, 68) first bytes, ``iat_s`` gaps within the flow, ``flow``
    ids, ``kind`` per packet, ``y`` 0 benign / 1 attack, ``frames`` the full packet bytes."""

    snap: np.ndarray
    iat_s: np.ndarray
    flow: np.ndarray
    kind: np.ndarray
    y: np.ndarray
    frames: tuple[bytes, ...]

    def __len__(self) -> int:
        return len(self.y)

    @property
    def x(self) -> np.ndarray:
        """Model input: the inter-arrival code (4 copies) then the 68 packet bytes, ``(n, 72)``.

        The code comes first so that the first convolution windows see it (with valid
        convolutions and floor pooling the last bytes can fall off the end)."""
        code = np.repeat(iat_code(self.iat_s)[:, None], IAT_REPEAT, axis=1)
        return np.concatenate([code, self.snap], axis=1)

    def subset(self, idx) -> PacketData:
        """The packets ``idx``."""
        idx = np.asarray(idx)
        return PacketData(
            self.snap[idx],
            self.iat_s[idx],
            self.flow[idx],
            self.kind[idx],
            self.y[idx],
            tuple(self.frames[i] for i in idx),
        )

    def summary(self) -> pd.DataFrame:
        """Flows and packets per kind."""
        df = pd.DataFrame({"kind": self.kind, "flow": self.flow, "label": self.y})
        g = df.groupby(["label", "kind"])
        return pd.DataFrame({"flows": g["flow"].nunique(), "packets": g.size()}).reset_index()


def generate_packets(n_flows: int = 300, seed: int = 0, attack_frac: float = 0.5) -> PacketData:
    """Generate ``n_flows`` flows of synthetic packets (benign and attacks), seeded.

    Parameters
    ----------
    n_flows : number of flows (sessions or attack bursts)
    seed : RNG seed; the same seed gives the same bytes
    attack_frac : fraction of flows that are attacks, split evenly over the three attacks

    Examples
    --------
    >>> p = generate_packets(20, seed=1)
    >>> p.x.shape[1], p.snap.dtype.name, p.frames[0][12:14].hex()
    (72, 'uint8', '0800')
    """
    rng = np.random.default_rng(seed)
    snaps, iats, flows, kinds = [], [], [], []
    frames: list[bytes] = []
    for f in range(n_flows):
        if rng.random() < attack_frac:
            kind = KINDS[2 + int(rng.integers(0, 3))]
        else:
            kind = KINDS[0] if rng.random() < 0.8 else KINDS[1]
        pk, gaps = _flow(rng, kind)
        for b, g in zip(pk, gaps, strict=True):
            frames.append(b)
            snaps.append(np.frombuffer(b[:SNAP_BYTES].ljust(SNAP_BYTES, b"\0"), np.uint8))
            iats.append(float(g))
            flows.append(f)
            kinds.append(kind)
    kinds_a = np.array(kinds)
    y = np.isin(kinds_a, KINDS[2:]).astype(np.int64)
    return PacketData(np.stack(snaps), np.array(iats), np.array(flows), kinds_a, y, tuple(frames))


def split_flows(data: PacketData, test_frac: float = 0.3, seed: int = 0):
    """Split by flow (no flow in both parts) into ``(train, test)``.

    Examples
    --------
    >>> tr, te = split_flows(generate_packets(30, seed=2))
    >>> set(tr.flow) & set(te.flow)
    set()
    """
    rng = np.random.default_rng(seed)
    ids = np.unique(data.flow)
    rng.shuffle(ids)
    test = set(ids[: round(len(ids) * test_frac)].tolist())
    mask = np.array([f in test for f in data.flow])
    return data.subset(np.flatnonzero(~mask)), data.subset(np.flatnonzero(mask))


def flow_accuracy(pred: np.ndarray, y: np.ndarray, flow: np.ndarray) -> float:
    """Accuracy of flow verdicts: a flow is an attack when most of its packets are flagged.

    Examples
    --------
    >>> flow_accuracy(np.array([1, 1, 0, 0, 0]), np.array([1, 1, 1, 0, 0]), np.array([0, 0, 0, 1, 1]))
    1.0
    """
    df = pd.DataFrame({"p": np.asarray(pred), "y": np.asarray(y), "f": np.asarray(flow)})
    g = df.groupby("f").agg(p=("p", "mean"), y=("y", "max"))
    return float(((g["p"] > 0.5).astype(int) == g["y"]).mean())


def flow_table(data: PacketData) -> FlowData:
    """Per-flow features of synthetic packets, the same 16 as :func:`~ssloserve.netnn.data.load_cicids2017`.

    What a switch keeps per flow in registers: the first packet's destination port and protocol
    and TCP window, packet and byte counts and maximum lengths per direction (forward = from the
    flow's first sender), minimum and maximum gaps, and SYN/FIN/RST counts. Used when the real
    data sets are not available.

    Examples
    --------
    >>> f = flow_table(generate_packets(30, seed=0))
    >>> len(f), f.x.shape[1], f.name
    (30, 16, 'synthetic flows')
    """
    from .data import _clip

    cols: dict[str, list] = {
        k: []
        for k in (
            "dst port (high byte)",
            "dst port (low byte)",
            "protocol",
            "duration",
            "fwd packets",
            "bwd packets",
            "fwd bytes",
            "bwd bytes",
            "fwd length max",
            "bwd length max",
            "IAT max",
            "IAT min",
            "SYN count",
            "FIN count",
            "RST count",
            "fwd init window",
        )
    }
    ys, kinds = [], []
    us = 1.2e8
    for f in np.unique(data.flow):
        idx = np.flatnonzero(data.flow == f)
        frames = [data.frames[i] for i in idx]
        first = frames[0]
        src0 = first[26:30]
        proto = first[23]
        fwd = np.array([fr[26:30] == src0 for fr in frames])
        lens = np.array([len(fr) for fr in frames], dtype=np.float64)
        flags = np.array([fr[47] if fr[23] == 6 else 0 for fr in frames])
        dport = int.from_bytes(first[36:38], "big")
        gaps = data.iat_s[idx][1:] * 1e6 if len(idx) > 1 else np.zeros(1)
        cols["dst port (high byte)"].append(dport >> 8)
        cols["dst port (low byte)"].append(dport & 0xFF)
        cols["protocol"].append(proto)
        cols["duration"].append(log_code(data.iat_s[idx].sum() * 1e6, us))
        cols["fwd packets"].append(log_code(fwd.sum(), 1e6))
        cols["bwd packets"].append(log_code((~fwd).sum(), 1e6))
        cols["fwd bytes"].append(log_code(lens[fwd].sum(), 1e9))
        cols["bwd bytes"].append(log_code(lens[~fwd].sum(), 1e9))
        cols["fwd length max"].append(log_code(lens[fwd].max(initial=0), 65535))
        cols["bwd length max"].append(log_code(lens[~fwd].max(initial=0), 65535))
        cols["IAT max"].append(log_code(gaps.max(), us))
        cols["IAT min"].append(log_code(gaps.min(), us))
        cols["SYN count"].append(int((flags & 0x02).astype(bool).sum()))
        cols["FIN count"].append(int((flags & 0x01).astype(bool).sum()))
        cols["RST count"].append(int((flags & 0x04).astype(bool).sum()))
        win = int.from_bytes(first[48:50], "big") if proto == 6 else 0
        cols["fwd init window"].append(log_code(win, 65535))
        ys.append(int(data.y[idx[0]]))
        kinds.append(str(data.kind[idx[0]]))
    x = np.stack([_clip(np.asarray(v, dtype=np.float64)) for v in cols.values()], axis=1)
    return FlowData(
        "synthetic flows",
        x,
        np.array(ys),
        np.array(kinds),
        tuple(cols),
        "synthetic (ssloserve.netnn.packets), not a public data set",
    )
