"""Chapter 04_biscale's tables, charts and sweep (ssloserve.biscale.ui, ssloserve.biscale.sweep)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssloserve.biscale import plans, sweep, ui
from ssloserve.fa2 import PlanOptions, video_pipeline
from ssloserve.latency import LatencyModel
from ssloserve.pipeline import Pipeline, Stage, Variant


def _one_stage(model: LatencyModel) -> Pipeline:
    return Pipeline.chain(Stage("s", (Variant("v", 1.0, model),), max_batch=1))


@pytest.mark.parametrize("rate", [3.0, 12.0, 30.0, 44.0])
@pytest.mark.parametrize("replicas", [1, 2, 3])
def test_cores_table_first_carrying_row_is_the_vertical_plan(rate, replicas):
    m = LatencyModel(148.8, 37.5, 5.43, -15.5)
    t = ui.cores_table(m, rate, replicas, max_cores=8)
    carries = t.index[t.carries]
    cfg = plans.vertical_plan(_one_stage(m), rate, 10_000.0, replicas)["s"]
    if len(carries):
        assert (cfg.replicas, cfg.cores) == (replicas, float(carries[0]))
    else:  # past the cap: 8 cores and replicas added, as many as the last row needs
        assert cfg.cores == 8.0 and cfg.replicas == t.loc[8, "replicas_needed"] > replicas


def test_cores_table_rows_by_hand():
    t = ui.cores_table(LatencyModel(60.0, 0.0, 0.0, 20.0), 30.0, replicas=2, max_cores=3)
    # l(1, c) = 60 / c + 20: 80, 50, 40 ms; h = 12.5, 20, 25 RPS
    assert t.latency_ms.tolist() == [80.0, 50.0, 40.0]
    assert t.carried_rps.tolist() == [25.0, 40.0, 50.0]
    assert t.carries.tolist() == [False, True, True]
    assert t.replicas_needed.tolist() == [3, 2, 2]


@pytest.mark.parametrize("p", [0.0, 0.3, 0.75, 1.0])
def test_amdahl_model_is_amdahls_law_at_every_batch(p):
    m = sweep.amdahl_model(p, one_core_ms=100.0)
    for b in (1, 4):
        assert m.parallel_fraction(b) == pytest.approx(p)
        for c in (1, 2, 8):
            assert m.speedup(b, c) == pytest.approx(1.0 / ((1 - p) + p / c))
    with pytest.raises(ValueError):
        sweep.amdahl_model(1.5)


def test_sweep_vertical_only_copes_only_with_a_large_parallel_fraction():
    rates = sweep.sweep_rates(6, 24, 5, 15)
    t = sweep.mechanism_sweep([0.0, 6.0], [0.4, 0.95], rates_rps=rates).set_index(
        ["cold_start_s", "parallel_fraction", "system"]
    )
    v = t.violation_pct
    # two replicas of 8 cores at p = 0.4 carry 2 x 5.7 x 1.54 = 17.5 RPS < 24
    assert v[(0.0, 0.4, "vertical only")] > 0 and v[(6.0, 0.4, "vertical only")] > 0
    assert v[(0.0, 0.95, "vertical only")] == 0
    # the cold start is what horizontal scaling pays for
    assert v[(6.0, 0.95, "horizontal only")] > v[(0.0, 0.95, "horizontal only")]
    assert v[(6.0, 0.95, "Biscale")] < v[(6.0, 0.95, "horizontal only")]


def test_sweep_chart_has_two_sliders_over_the_whole_table():
    t = pd.DataFrame(
        [
            dict(cold_start_s=c, parallel_fraction=p, system=s, violation_pct=1.0, core_seconds=2.0)
            for c in (0.0, 5.0, 10.0)
            for p in (0.5, 0.7, 0.9)
            for s in sweep.SWEEP_SYSTEMS
        ]
    )
    spec = ui.sweep_chart(t).to_dict()
    params = {p["name"]: p for p in spec["params"]}
    assert params["cold"]["bind"]["step"] == 5.0 and params["cold"]["value"] == 5.0
    assert params["p"]["bind"]["step"] == pytest.approx(0.2)
    assert len(spec["datasets"][next(iter(spec["datasets"]))]) == len(t)
    uneven = t[t.cold_start_s != 5.0].assign(
        cold_start_s=lambda d: d.cold_start_s.replace(10.0, 3.0)
    )
    with pytest.raises(ValueError, match="evenly spaced"):
        ui.sweep_chart(pd.concat([uneven, t[t.cold_start_s == 5.0]]))


def test_restricted_graph_equals_the_subgraph_copy():
    p = video_pipeline("yolov5n", "resnet18", max_batch=8, source="fallback")
    g = plans._vertical_graph(p, 30.0, PlanOptions(), 8)
    rng = np.random.default_rng(1)
    for _ in range(10):
        keep = {n for n in g.nodes if rng.random() < 0.5} | {"source", "sink"}
        a, b = g.subgraph(keep).copy(), plans._induced(g, keep)
        assert dict(a.nodes(data=True)) == dict(b.nodes(data=True))
        assert {(u, v): d for u, v, d in a.edges(data=True)} == {
            (u, v): d for u, v, d in b.edges(data=True)
        }
        # in the configuration graph's order, whatever the hash seed
        assert list(b.nodes) == [n for n in g.nodes if n in keep]
