"""Chapter 05's SLO comparison: the CPU replica planner, its run, and the data-plane timing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ssloserve.errors import InfeasibleError
from ssloserve.latency_table import LatencyTable
from ssloserve.netnn import serving, ui
from ssloserve.netnn.mapper import partition
from ssloserve.netnn.models import FlowMLP
from ssloserve.netnn.quantize import random_integer_model
from ssloserve.netnn.switch import BMV2


def _table(n=16):
    b = np.arange(1, n + 1)
    return LatencyTable(b, np.ones(n), 0.2 + 0.03 * b, name="toy")


@pytest.mark.parametrize("rate", [500.0, 4_000.0, 30_000.0, 90_000.0])
@pytest.mark.parametrize("slo", [0.5, 1.0, 3.0])
def test_cheapest_config_is_the_cheapest_that_fits(rate, slo):
    t = _table()
    try:
        c = serving.cheapest_config(t, rate, slo)["detect"]
    except InfeasibleError as e:
        # then truly nothing fits, and the nearest feasible SLO is above this one
        assert all(t.latency(b, 1) + 1000 * (b - 1) / rate > 0.8 * slo for b in t.batches)
        assert e.nearest_feasible > slo
        return
    lat = t.latency(c.batch, 1) + 1000 * (c.batch - 1) / rate
    assert lat <= 0.8 * slo
    assert c.replicas * 1000 * c.batch / t.latency(c.batch, 1) >= 1.2 * rate - 1e-6
    for b in t.batches:  # brute force: no fitting batch needs fewer replicas
        if t.latency(b, 1) + 1000 * (b - 1) / rate <= 0.8 * slo:
            need = math.ceil(1.2 * rate * t.latency(b, 1) / (1000 * b) - 1e-9)
            assert c.replicas <= max(need, 1)


def test_serve_on_cpu_meets_the_slo_it_planned_for():
    df = serving.serve_on_cpu(_table(), [2_000, 40_000], slo_ms=1.0, duration_s=2)
    assert df["replicas"].notna().all()
    assert (df["p50 ms"] <= 1.0).all() and (df["violations %"] < 5).all()
    # a tighter SLO than the fastest batch allows: no plan, the row says so with NaN
    assert serving.serve_on_cpu(_table(), [2_000], slo_ms=0.2)["replicas"].isna().all()


def test_cpu_latency_table_measures_every_batch():
    x = np.random.default_rng(0).integers(0, 256, (8, 5)).astype(np.uint8)
    t = serving.cpu_latency_table(FlowMLP(5, (4,)), x, max_batch=8, repeats=3)
    assert t.batches == list(range(1, 9))
    assert all(t.latency(b, 1) > 0 for b in t.batches)
    with pytest.raises(ValueError, match="at least 9"):
        serving.cpu_latency_table(FlowMLP(5, (4,)), x, max_batch=9)


def test_dataplane_latency_equals_the_integer_model():
    q = random_integer_model([20, 12, 1], seed=3)
    x = np.random.default_rng(1).integers(0, 256, (30, 20)).astype(np.uint8)
    d = serving.dataplane_latency(partition(q, BMV2.with_(header_bytes=40)), q, x, samples=5)
    assert d["equal to int8 model"] and d["executor p50 ms"] > 0
    assert d["layers of switches"] == len(partition(q, BMV2.with_(header_bytes=40)).layers)


def test_serving_explorer_holds_every_served_rate():
    df = serving.serve_on_cpu(_table(), [2_000, 4_000, 6_000], slo_ms=1.0, duration_s=1)
    spec = ui.serving_explorer(df, 1.0).to_dict()
    rows = spec["datasets"][spec["hconcat"][0]["data"]["name"]]
    assert sorted({r["kpps"] for r in rows}) == [2.0, 4.0, 6.0]
    assert spec["params"][0]["bind"]["input"] == "range"
