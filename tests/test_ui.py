"""Headless tests of the chapter widgets in ssloserve/ui.py: set a slider, check ``.result``."""

from __future__ import annotations

import pytest

from ssloserve.latency import LatencyModel
from ssloserve.ui import defaults, latency_point, latency_widget

MODEL = LatencyModel(gamma=18.3, delta=4.5, epsilon=45.6, eta=1.5)


def test_latency_point_matches_the_model():
    r = latency_point(MODEL, b=8, c=4.0)
    assert r["latency_ms"] == pytest.approx(MODEL.latency(8, 4.0))
    assert r["throughput_rps"] == pytest.approx(1000 * 8 / MODEL.latency(8, 4.0))
    assert r["speedup"] == pytest.approx(MODEL.latency(8, 1) / MODEL.latency(8, 4.0))
    p = MODEL.parallel_fraction(8)
    assert r["max_speedup"] == pytest.approx(1 / (1 - p))
    # Amdahl: the speed-up never exceeds the limit, and approaches it with many cores
    assert r["speedup"] < r["max_speedup"]
    assert latency_point(MODEL, b=8, c=1e9)["speedup"] == pytest.approx(r["max_speedup"])


@pytest.mark.parametrize("bad", [{"b": 0}, {"b": 1.5}, {"c": 0.0}, {"c": -1.0}])
def test_latency_point_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        latency_point(MODEL, **bad)


def test_sliders_start_at_the_function_defaults():
    w = latency_widget(MODEL)
    assert {k: s.value for k, s in w.sliders.items()} == defaults(latency_point)
    assert w.result == latency_point(MODEL)


def test_setting_a_slider_updates_result():
    w = latency_widget(MODEL)
    w.sliders["b"].value = 16
    assert w.result == latency_point(MODEL, b=16, c=defaults(latency_point)["c"])
    w.sliders["c"].value = 8.0
    assert w.result == latency_point(MODEL, b=16, c=8.0)
    assert w.result["speedup"] == pytest.approx(MODEL.latency(16, 1) / MODEL.latency(16, 8))
