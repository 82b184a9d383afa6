"""NetNN quantisation: the integer reference model and its accuracy cost (chapter 05)."""

import numpy as np
import pytest
import torch

from ssloserve.errors import MappingError
from ssloserve.netnn.models import FlowMLP, RawByteCNN, architecture, paper_architecture
from ssloserve.netnn.quantize import (
    ACT_MAX,
    IntegerModel,
    QLayer,
    _check_accumulator,
    quantize,
    random_integer_model,
)


def test_integer_dense_by_hand():
    # 2 inputs -> 1 hidden (shift 1, rounding folded into the bias) -> 1 output
    m = random_integer_model([2, 1, 1], seed=0)
    h = QLayer(m.layers[0].shape, np.array([[3, -2]], np.int8), np.array([1], np.int32), 1)
    o = QLayer(m.layers[1].shape, np.array([[5]], np.int8), np.array([-7], np.int32), 0)
    q = IntegerModel(m.input_shape, (h, o))
    x = np.array([[10, 4], [0, 200], [255, 0]], np.uint8)
    hidden = np.clip((np.array([30 - 8, -400, 765]) + 1) >> 1, 0, ACT_MAX)
    assert q.forward(x).tolist() == (hidden * 5 - 7).tolist()


def test_integer_conv_pool_by_hand():
    m = random_integer_model([0, 1], conv=((1, 2, 2),), length=5, seed=0)
    c = QLayer(m.layers[0].shape, np.array([[[1, -1]]], np.int8), np.array([0], np.int32), 0)
    d = QLayer(m.layers[1].shape, np.array([[1, 2]], np.int8), np.array([0], np.int32), 0)
    q = IntegerModel(m.input_shape, (c, d))
    x = np.array([[9, 4, 7, 1, 3]], np.uint8)
    # conv: 5, -3, 6, -2 -> relu 5, 0, 6, 0 -> pool2: 5, 6 -> dense 5 + 12
    assert q.forward(x).tolist() == [17]


def test_quantised_close_to_float():
    torch.manual_seed(0)
    m = RawByteCNN(30, conv=((4, 3, 2),), dense=(8,))
    x = np.random.default_rng(0).integers(0, 256, (200, 30)).astype(np.uint8)
    q = quantize(m, x, percentile=100)
    with torch.no_grad():
        f = m(torch.as_tensor(x, dtype=torch.float32) / 255).numpy()
    i = q.forward(x) * q.logit_scale
    assert np.corrcoef(f, i)[0, 1] > 0.99
    for layer in q.layers:
        assert layer.weight.dtype == np.int8 and layer.bias.dtype == np.int32
        assert np.abs(layer.weight).max() <= 127 and layer.shift >= 0


def test_accumulator_overflow_is_refused():
    s = architecture(FlowMLP(70000, (1,)))[1]
    q = QLayer(s, np.full((1, 70000), 127, np.int8), np.zeros(1, np.int32), 0)
    with pytest.raises(MappingError) as e:
        _check_accumulator(q, 255)
    assert e.value.resource == "accumulator bits" and e.value.layer == "dense1"


def test_paper_architecture_shapes():
    shapes = architecture(paper_architecture())
    assert [s.out_values for s in shapes] == [816, 5184, 1984, 52, 100, 1]
    assert shapes[3].fan_in == 1984


def test_eight_bit_wraparound_differs_from_32_bit_sums():
    m = random_integer_model([8, 16, 1], seed=5)
    x = np.random.default_rng(5).integers(0, 256, (200, 8)).astype(np.uint8)
    a32, a8 = m.forward(x), m.forward(x, accumulator_bits=8)
    assert (a8 >= -128).all() and (a8 <= 127).all()
    assert (a32 != a8).mean() > 0.5
    assert np.array_equal(m.forward(x, accumulator_bits=32), a32)
