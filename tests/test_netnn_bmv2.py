"""NetNN BMv2 runner: tool detection, pcap files, and (where p4c/BMv2 exist) three-way parity."""

import numpy as np
import pytest

from ssloserve.errors import ToolError, ToolNotFoundError
from ssloserve.netnn.bmv2 import (
    INSTALL_HELP,
    compile_program,
    find_tools,
    read_pcap,
    require_tools,
    run_bmv2,
    write_pcap,
)
from ssloserve.netnn.executor import decode_frame, encode_frame
from ssloserve.netnn.mapper import partition
from ssloserve.netnn.quantize import random_integer_model

HAVE_BMV2 = all(find_tools().values())
SKIP_MSG = "p4c/BMv2 not installed (not installable on this machine). " + INSTALL_HELP


def test_pcap_round_trip(tmp_path):
    frames = [encode_frame(i, 0, 0, bytes([i] * (i + 1))) for i in range(5)]
    p = write_pcap(tmp_path / "x.pcap", frames)
    back = read_pcap(p)
    assert back == frames
    assert [decode_frame(f)[0] for f in back] == list(range(5))
    # the classic pcap header: magic, version 2.4, Ethernet link type
    assert (
        p.read_bytes()[:4] == bytes.fromhex("d4c3b2a1") and p.read_bytes()[20:24] == b"\x01\0\0\0"
    )


def test_missing_tools_say_how_to_get_them(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert not any(find_tools().values())
    with pytest.raises(ToolNotFoundError, match="p4lang"):
        require_tools()


def test_a_failing_compiler_is_reported_with_its_message(tmp_path):
    fake = tmp_path / "p4c"
    fake.write_text("#!/bin/sh\necho 's1.p4(7): syntax error' >&2\nexit 1\n")
    fake.chmod(0o755)
    src = tmp_path / "s1.p4"
    src.write_text("not p4\n")
    with pytest.raises(ToolError, match=r"s1\.p4\(7\): syntax error") as e:
        compile_program(src, tmp_path / "build", p4c=str(fake))
    assert str(src) in str(e.value)


@pytest.mark.skipif(not HAVE_BMV2, reason=SKIP_MSG)
def test_bmv2_equals_executor(tmp_path):  # pragma: no cover - needs p4c and BMv2
    m = random_integer_model([0, 3, 1], conv=((2, 3, 2),), length=8, seed=0)
    plan = partition(m, widths=[1, 2, 2, 1])
    x = np.random.default_rng(0).integers(0, 256, (8, 8)).astype(np.uint8)
    r = run_bmv2(plan, m, x, tmp_path)
    assert r.equal, r.table()
    assert np.array_equal(r.logits, m.forward(x))
