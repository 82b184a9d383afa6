"""NetNN on real BMv2: tool detection, pcap files, and (where p4c and BMv2 are on PATH) every
emitted program compiled and the three-way parity model = executor = BMv2, frame by frame."""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from ssloserve.data import has_data
from ssloserve.errors import ToolError, ToolNotFoundError
from ssloserve.netnn.batched import execute_batched
from ssloserve.netnn.bmv2 import model_frames, packet_on_bmv2, run_bmv2
from ssloserve.netnn.data import DATASETS
from ssloserve.netnn.executor import decode_frame, encode_frame, execute
from ssloserve.netnn.experiment import flow_detector, packet_detector
from ssloserve.netnn.mapper import partition
from ssloserve.netnn.p4 import UNROLL_MACS, emit, golden_example
from ssloserve.netnn.p4c import INSTALL_HELP, compile_program, find_tools, require_tools
from ssloserve.netnn.pcap import read_pcap, write_pcap
from ssloserve.netnn.quantize import random_integer_model
from ssloserve.netnn.switch import BMV2

HAVE_BMV2 = all(find_tools().values())
SKIP_MSG = "p4c/BMv2 not found on PATH. " + INSTALL_HELP
needs_tools = pytest.mark.skipif(not HAVE_BMV2, reason=SKIP_MSG)
needs_data = pytest.mark.skipif(not has_data("nids"), reason="needs $SSLOSERVE_DATA/nids")
GOLDEN = Path(__file__).parent / "golden" / "netnn"
N_SAMPLES = 200  # test samples per data set through the whole chain


@pytest.fixture(autouse=True)
def _quick(monkeypatch):
    monkeypatch.setenv("SSLOSERVE_QUICK", os.environ.get("SSLOSERVE_QUICK", "1"))


def small_layouts():
    """The small layouts the NetNN tests use: (name, plan, model)."""
    plan, m = golden_example()
    m2 = random_integer_model([0, 6, 1], conv=((4, 3, 2),), length=12, seed=1)
    m3 = random_integer_model([6, 8, 1], seed=3)
    return [
        ("golden", plan, m),
        ("conv 1-2-3-1", partition(m2, widths=[1, 2, 3, 1]), m2),
        ("mlp 1-2-1", partition(m3, widths=[1, 2, 1]), m3),
    ]


#: The paper layout's switches that its BMv2 test runs (one of each layer).
PAPER_SAMPLE = ("s0", "s1_0", "s2_3", "s3_1", "s4_2", "s5")


def paper_layout():
    m = random_integer_model([0, 52, 100, 1], conv=((32, 5, 5), (64, 5, 5)), length=816, seed=4)
    return partition(m, BMV2), m


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
    p = write_pcap(tmp_path / "t.pcap", frames[:2], times_us=[2_500_000, 7])
    assert read_pcap(p, with_times=True) == [(2.5, frames[0]), (7e-6, frames[1])]
    # a record still being written is left out, not returned cut short
    (tmp_path / "cut.pcap").write_bytes(p.read_bytes()[:-3])
    assert read_pcap(tmp_path / "cut.pcap") == frames[:1]


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


@pytest.mark.parametrize("run", [execute, execute_batched])
@pytest.mark.parametrize("layout", range(3))
def test_model_frames_are_what_the_executor_sends(layout, run):
    """The integer model's frames (the BMv2 oracle) equal both executors' traces, every value
    byte of every frame."""
    _, plan, m = small_layouts()[layout]
    x = np.random.default_rng(layout).integers(0, 256, (20, plan.shapes[0].out_values))
    want = model_frames(plan, m, x.astype(np.uint8))
    tr = run(plan, m, x, order="shuffle", seed=1, trace=True).trace
    sender = {(li, p.part): p.name for li, layer in enumerate(plan.layers) for p in layer}
    links = sum(len(a) * len(b) for a, b in zip(plan.layers[:-1], plan.layers[1:], strict=True))
    assert len(tr) == len(x) * (1 + links + 1)  # h1 -> ingress, switch to switch, last -> h2
    for r in tr.to_dict("records"):
        if r["to"] == plan.layers[0][0].name:
            continue  # what h1 sends
        f = want[(sender[(r["layer"], r["part"])], r["sample"])]
        sid, layer, part, values = decode_frame(f)
        assert (sid, layer, part) == (r["sample"], r["layer"], r["part"])
        assert (len(values), len(f)) == (r["value bytes"], r["frame bytes"])
        assert values == r["values"] and values[:8].hex(" ") == r["first values"]


# ---------------------------------------------------------------- with p4c and BMv2 on PATH


@pytest.fixture(scope="module")
def detectors():
    """Every data set's detector, trained with the quick settings (the process's own
    environment is left as it was)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SSLOSERVE_QUICK", "1")
        dets = [flow_detector(n, seed=0) for n in DATASETS] if has_data("nids") else []
        return dets + [packet_detector(seed=0)]


def _compile_all(programs: dict, out: Path) -> dict:
    warned = {}
    for name, src in programs.items():
        p = out / "src" / f"{name}.p4"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(src)
        c = compile_program(p, out / "build")
        assert c.json.exists() and c.json_bytes > 0, name
        if c.warnings:
            warned[name] = c.warnings
    return warned


@needs_tools
def test_golden_and_small_programs_compile_without_warnings(tmp_path):
    warned = {}
    for p4 in sorted(GOLDEN.glob("*.p4")):
        c = compile_program(p4, tmp_path / "golden")
        assert c.json_bytes > 0
        if c.warnings:
            warned[p4.name] = c.warnings
    for name, plan, m in small_layouts():
        for form, unroll in (("unrolled", UNROLL_MACS), ("looped", 0)):
            progs = emit(plan, m, unroll).programs
            out = tmp_path / form / name.replace(" ", "_")
            warned |= {f"{form} {name}/{k}": v for k, v in _compile_all(progs, out).items()}
    assert not warned, warned


def test_paper_layout_programs_are_compact():
    """No switch's program grows with its multiply-accumulates: the conv switches are looped,
    and every program is under 1 MB of P4 (unrolled, conv2's was 44 MB)."""
    plan, m = paper_layout()
    bundle = emit(plan, m)
    looped = sorted(n for n, src in bundle.programs.items() if "recirculate" in src)
    assert looped == [p.name for layer in plan.layers[1:4] for p in layer]
    assert max(bundle.sizes().values()) < 1e6


def _check(r, plan, n):
    assert r.equal, (r.table()[~r.table()["equal"]], r.frames[~r.frames["model"]], r.missing)
    # every switch sent one frame per sample to each downstream peer, nothing more
    per_sample = sum(
        len(plan.layers[i + 1]) * len(layer) for i, layer in enumerate(plan.layers[:-1])
    )
    assert len(r.frames) == n * (per_sample + 1)
    assert r.frames.groupby(["switch", "to", "sample"]).size().max() == 1


@needs_tools
@pytest.mark.parametrize("unroll_macs", [UNROLL_MACS, 0], ids=["unrolled", "looped"])
@pytest.mark.parametrize("layout", range(3))
def test_small_layouts_three_way_parity_on_bmv2(tmp_path, layout, unroll_macs):
    """The whole chain, 200 samples, with the programs as emitted (all unrolled) and with
    every switch of more than one output channel looped (recirculated once per channel)."""
    _, plan, m = small_layouts()[layout]
    x = np.random.default_rng(7).integers(0, 256, (N_SAMPLES, plan.shapes[0].out_values))
    r = run_bmv2(plan, m, x.astype(np.uint8), tmp_path, unroll_macs=unroll_macs)
    looped = [n for n, src in emit(plan, m, unroll_macs).programs.items() if "recirculate" in src]
    assert bool(looped) == (unroll_macs == 0)
    _check(r, plan, N_SAMPLES)
    assert np.array_equal(r.logits, m.forward(x))


@needs_tools
def test_one_packet_on_bmv2_beside_the_executor(tmp_path):
    plan, m = golden_example()
    x = np.random.default_rng(3).integers(0, 256, (4, 8)).astype(np.uint8)
    df = packet_on_bmv2(plan, m, x, sample=2, workdir=tmp_path, show_bytes=4)
    assert df["equal"].all() and (df["bmv2"] == df["executor"]).all()
    assert df.iloc[0]["bmv2"] == x[2, :4].tobytes().hex(" ")
    last = df.iloc[-1]
    assert last["to"] == "h2" and last["bmv2 score"] == m.forward(x[2:3])[0]
    assert last["executor score"] == last["bmv2 score"]
    # h1 -> s0, s0 -> two conv switches, 2 x 2 conv -> dense, two dense -> s3, s3 -> h2
    assert len(df) == 1 + 2 + 4 + 2 + 1


@needs_tools
def test_detectors_compile_and_three_way_parity_on_bmv2(tmp_path, detectors):
    """Every data set's detector: each program compiles without warnings, and at least 200
    test samples go through the whole chain of switches."""
    for det in detectors:
        assert len(det.x_test) >= N_SAMPLES, det.name
        plan = partition(det.qmodel, BMV2)
        x = det.x_test[:N_SAMPLES]
        r = run_bmv2(plan, det.qmodel, x, tmp_path / det.name.replace(" ", "_"))
        assert len(r.switches) == plan.n_switches, det.name  # every program compiled
        assert (r.switches["p4c warnings"] == 0).all(), r.switches
        _check(r, plan, N_SAMPLES)
        assert np.array_equal(r.logits, det.qmodel.forward(x)), det.name


@needs_tools
def test_paper_layout_sample_on_bmv2(tmp_path):
    """A sample of the 18-switch layout: one switch of each layer (conv1, conv2 and dense1
    looped), each fed the frames the integer model says it receives."""
    plan, m = paper_layout()
    names = list(PAPER_SAMPLE)
    x = np.random.default_rng(2).integers(0, 256, (8, 816)).astype(np.uint8)
    r = run_bmv2(plan, m, x, tmp_path, switches=names)
    # the programs compiled without warnings (the other 12: the next test)
    assert (r.switches["p4c warnings"] == 0).all(), r.switches
    assert r.equal, (r.frames[~r.frames["model"]], r.missing)
    assert set(r.frames["switch"]) == set(names)
    assert np.array_equal(r.logits, m.forward(x))


@needs_tools
def test_the_other_paper_switches_compile_without_warnings(tmp_path):
    """The 12 programs of the 18-switch layout that the test above does not run (conv1,
    conv2 and dense1 looped), compiled two at a time: each gives BMv2 JSON, no warning."""
    plan, m = paper_layout()
    programs = emit(plan, m).programs
    rest = {n: src for n, src in programs.items() if n not in PAPER_SAMPLE}
    assert len(programs) == 18 and len(rest) == 12
    with ThreadPoolExecutor(max_workers=2) as pool:
        parts = pool.map(lambda kv: _compile_all(dict([kv]), tmp_path), rest.items())
        warned = {k: v for part in parts for k, v in part.items()}
    assert not warned, warned
    assert sorted(p.stem for p in (tmp_path / "build").glob("*.json")) == sorted(rest)
