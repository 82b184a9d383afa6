"""NetNN data-plane executor: bit-for-bit parity with the integer model (chapter 05)."""

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssloserve.data import has_data
from ssloserve.errors import MappingError, TraceFormatError
from ssloserve.netnn.executor import DataPlane, decode_frame, encode_frame, execute
from ssloserve.netnn.experiment import flow_detector, packet_detector
from ssloserve.netnn.mapper import partition
from ssloserve.netnn.quantize import IntegerModel, random_integer_model
from ssloserve.netnn.switch import BMV2, NN_HEADER_BYTES, TOFINO

needs_data = pytest.mark.skipif(not has_data("nids"), reason="needs $SSLOSERVE_DATA/nids")


@pytest.fixture(autouse=True)
def _quick(monkeypatch):
    monkeypatch.setenv("SSLOSERVE_QUICK", os.environ.get("SSLOSERVE_QUICK", "1"))


def test_frames_round_trip_and_reject_garbage():
    f = encode_frame(2**32 - 1, 3, 7, bytes(range(10)))
    assert decode_frame(f) == (2**32 - 1, 3, 7, bytes(range(10)))
    with pytest.raises(TraceFormatError):
        decode_frame(f[:12] + b"\x08\x00" + f[14:])
    with pytest.raises(TraceFormatError):
        decode_frame(f[:-1])


def test_paper_architecture_parity_with_random_weights():
    m = random_integer_model([0, 52, 100, 1], conv=((32, 5, 5), (64, 5, 5)), length=816, seed=4)
    plan = partition(m, BMV2)
    assert plan.layout == "1 -> 4 -> 4 -> 4 -> 4 -> 1"
    x = np.random.default_rng(1).integers(0, 256, (6, 816)).astype(np.uint8)
    r = execute(plan, m, x, order="shuffle", seed=3, trace=True)
    assert np.array_equal(r.logits, m.forward(x))
    assert len(set(r.logits.tolist())) == len(x)  # distinct logits: the parity is not trivial
    # every sample: 1 ingress + 4 + 16 + 16 + 16 + 4 frames into switches, 1 to h2
    assert r.packets == 6 * (1 + 4 + 16 + 16 + 16 + 4)
    sizes = r.trace.groupby("layer")["value bytes"].max().tolist()
    assert sizes == [816, 1296, 496, 13, 25, 4]


def test_executor_never_calls_the_model(monkeypatch):
    m = random_integer_model([0, 4, 1], conv=((3, 3, 2),), length=10, seed=0)
    x = np.random.default_rng(0).integers(0, 256, (12, 10)).astype(np.uint8)
    ref = m.forward(x)
    plan = partition(m, widths=[1, 3, 2, 1])

    def refuse(*args, **kwargs):
        raise AssertionError("the data plane called the integer model")

    monkeypatch.setattr(IntegerModel, "forward", refuse)
    monkeypatch.setattr(IntegerModel, "predict", refuse)
    assert np.array_equal(execute(plan, m, x, order="shuffle", seed=5).logits, ref)


def test_results_come_from_the_frames_and_the_loaded_weights():
    """Change a byte on a link or a weight in one switch and the logits no longer match."""
    m = random_integer_model([6, 8, 1], seed=7)
    x = np.random.default_rng(7).integers(0, 256, (30, 6)).astype(np.uint8)
    ref = m.forward(x)
    plan = partition(m, widths=[1, 2, 1])
    net = DataPlane(plan, m)
    sw = net.switches["s2"]
    honest = sw.receive

    def tampered(frame):  # zero the values that s1_0 sends to s2
        sid, layer, part, values = decode_frame(frame)
        if part == 0:
            frame = encode_frame(sid, layer, part, bytes(len(values)))
        return honest(frame)

    sw.receive = tampered
    assert not np.array_equal(net.run(x).logits, ref)
    sw.receive = honest
    assert np.array_equal(net.run(x).logits, ref)
    net.switches["s1_1"].cfg.weight[0, 0] ^= 0x7F  # the control plane loaded a wrong weight
    assert not np.array_equal(net.run(x).logits, ref)
    assert np.array_equal(m.forward(x), ref)  # the switches hold copies; the model is untouched


def test_bad_inputs_are_refused_clearly():
    m = random_integer_model([4, 3, 1], seed=0)
    net = DataPlane(partition(m, widths=[1, 2, 1]), m)
    x = np.zeros((2, 4), np.uint8)
    with pytest.raises(ValueError, match=r"\(samples, 4\)"):
        net.run(np.zeros((2, 5), np.uint8))
    with pytest.raises(ValueError, match="8-bit"):
        net.run(np.full((2, 4), 300))
    with pytest.raises(ValueError, match="order"):
        net.run(x, order="random")
    with pytest.raises(ValueError, match="in_flight"):
        net.run(x, in_flight=-1)
    other = random_integer_model([5, 3, 1], seed=0)
    with pytest.raises(MappingError, match="different architecture"):
        DataPlane(partition(m, widths=[1, 2, 1]), other)


def test_registers_are_reset_between_samples():
    m = random_integer_model([5, 6, 4, 1], seed=2)
    net = DataPlane(partition(m, widths=[1, 3, 2, 1]), m)
    x = np.random.default_rng(0).integers(0, 256, (40, 5)).astype(np.uint8)
    first = net.run(x).logits
    again = net.run(x[::-1]).logits  # same switches, reused slots
    assert np.array_equal(first, m.forward(x)) and np.array_equal(again, first[::-1])
    for sw in net.switches.values():
        if hasattr(sw, "acc"):
            assert not sw.acc.any() and not sw.arrived.any()


def test_duplicate_packets_are_detected():
    m = random_integer_model([3, 4, 1], seed=1)
    net = DataPlane(partition(m, widths=[1, 2, 1]), m)
    frame = encode_frame(0, 1, 0, bytes([1, 2]))
    net.switches["s2"].receive(frame)
    with pytest.raises(TraceFormatError):
        net.switches["s2"].receive(frame)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 10_000),
    st.booleans(),
    st.sampled_from([BMV2, TOFINO, BMV2.with_(header_bytes=60, ops_per_action=64)]),
    st.sampled_from(["uniform", "free"]),
    st.sampled_from(["fifo", "shuffle"]),
)
def test_executor_equals_model_on_random_models(seed, conv, spec, widths, order):
    rng = np.random.default_rng(seed)
    if conv:
        length = int(rng.integers(12, 40))
        layers = ((int(rng.integers(1, 6)), int(rng.integers(2, 5)), int(rng.integers(1, 3))),)
        m = random_integer_model(
            [0, int(rng.integers(1, 10)), 1], conv=layers, length=length, seed=seed
        )
    else:
        length = int(rng.integers(2, 20))
        hidden = [int(h) for h in rng.integers(1, 24, int(rng.integers(1, 3)))]
        m = random_integer_model([length, *hidden, 1], seed=seed)
    try:
        plan = partition(m, spec, widths=widths)
    except MappingError:  # a model that does not fit is fine here; its error is tested elsewhere
        return
    x = rng.integers(0, 256, (int(rng.integers(1, 30)), length)).astype(np.uint8)
    r = execute(plan, m, x, order=order, seed=seed, trace=True)
    assert np.array_equal(r.logits, m.forward(x))
    # the Mapper's header accounting is what the frames really carry, layer by layer
    sent = r.trace.groupby("layer")["value bytes"].max().to_dict()
    for li, parts in enumerate(plan.layers):
        assert sent[li] + NN_HEADER_BYTES == max(p.usage["header out"] for p in parts)
        assert sent[li] + NN_HEADER_BYTES <= plan.limits()["header bytes"]


@needs_data
@pytest.mark.parametrize("name", ["CIC-IDS2017", "NSL-KDD", "UNSW-NB15"])
def test_parity_on_real_data(name):
    det = flow_detector(name, seed=0)
    assert abs(det.float_acc - det.int_acc) <= 0.02
    plan = partition(det.qmodel, BMV2)
    x = det.x_test
    r = execute(plan, det.qmodel, x, order="shuffle", seed=1)
    ref = det.qmodel.forward(x)
    assert np.array_equal(r.logits, ref), f"{(r.logits != ref).sum()} of {len(x)} differ"
    # the Tofino-like spec needs more switches, and still agrees
    tplan = partition(det.qmodel, TOFINO)
    assert tplan.n_switches > plan.n_switches
    assert np.array_equal(execute(tplan, det.qmodel, x[:300]).logits, ref[:300])


def test_parity_on_synthetic_packets():
    det = packet_detector(seed=0)
    assert det.flow_int_acc >= det.int_acc - 0.05
    plan = partition(det.qmodel, BMV2.with_(header_bytes=160))
    assert plan.n_switches > len(plan.widths)  # a real split
    r = execute(plan, det.qmodel, det.x_test, order="shuffle", seed=2)
    assert np.array_equal(r.logits, det.qmodel.forward(det.x_test))
