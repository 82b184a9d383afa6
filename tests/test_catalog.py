"""Tests of the profile catalogue ssloserve.catalog: tables, loaders, menus (PAPERS.md 0.1, 3)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssloserve import catalog
from ssloserve.data import has_data
from ssloserve.errors import DataNotFoundError, ProfileError, TraceFormatError
from ssloserve.latency import LatencyModel
from ssloserve.latency_table import LatencyTable
from ssloserve.pipeline import Variant

real_profiles = pytest.mark.skipif(
    not has_data("profiling"), reason="profiling tables absent ($SSLOSERVE_DATA)"
)


# ----------------------------------------------------------------------------- LatencyTable


def test_table_exact_points_and_interpolation():
    m = LatencyModel(20.0, 5.0, 40.0, 2.0)
    b = [1, 1, 1, 4, 4, 4]
    c = [1, 2, 8, 1, 2, 8]
    t = LatencyTable(b, c, m.latency(b, c), name="m")
    assert t.latency(4, 2) == pytest.approx(m.latency(4, 2))
    # the model is linear in 1/c, so interpolating in 1/c is exact between measured cores
    assert t.latency(1, 4) == pytest.approx(m.latency(1, 4))
    assert np.allclose(t.latency([1, 4], [3, 5]), m.latency([1, 4], [3, 5]))
    assert t.throughput(4, 8) == pytest.approx(m.throughput(4, 8))
    assert t.batches == [1, 4] and t.cores == [1.0, 2.0, 8.0]


def test_table_refuses_unmeasured_points():
    t = LatencyTable([1, 1, 2, 2], [1, 4, 1, 4], [40.0, 16.0, 70.0, 25.0], name="toy")
    with pytest.raises(ProfileError, match="batch 3 is not in the table"):
        t.latency(3, 1)
    with pytest.raises(ProfileError, match="outside the measured range 1-4"):
        t.latency(1, 8)
    with pytest.raises(ProfileError):
        LatencyTable([1], [1], [-2.0])


def test_table_fit_roundtrip_and_frame():
    true = LatencyModel(18.0, 4.5, 45.0, 1.2)
    b, c = np.meshgrid([1, 2, 4, 8], [1, 2, 4])
    t = LatencyTable(b.ravel(), c.ravel(), true.latency(b.ravel(), c.ravel()), name="x")
    fit = t.fit()
    assert np.allclose(fit.params, true.params)
    t2 = LatencyTable.from_frame(t.to_frame())
    assert t2.name == "x" and t2.latency(8, 4) == pytest.approx(t.latency(8, 4))


def test_table_serves_as_variant_latency():
    t = LatencyTable([1, 1], [1, 2], [100.0, 60.0], name="v")
    v = Variant("v", 0.5, t, cores=2)
    assert v.latency_ms(1) == 60.0 and v.throughput_rps(1) == pytest.approx(1000 / 60)


# ----------------------------------------------------------------------------- bad tables


def test_bad_grid_names_file_and_line(tmp_path):
    f = tmp_path / "g.csv"
    f.write_text("batch_size,cpu_cores,latency_s\n1,1,0.05\n1,2,abc\n")
    with pytest.raises(TraceFormatError) as e:
        catalog.sponge_grid(f)
    assert e.value.line == 3 and e.value.path == f and "not a number" in str(e.value)
    f.write_text("batch_size,cpu_cores,latency_s\n1,1,0.05\n2,1\n")
    with pytest.raises(TraceFormatError, match="missing cell") as e:
        catalog.yolov5s_grid(f)
    assert e.value.line == 3
    f.write_text("batch_size,cpu_cores,latency_s\n1,1,\n")
    with pytest.raises(TraceFormatError, match="empty") as e:
        catalog.sponge_grid(f)
    assert e.value.line == 2
    f.write_text("batch,cores\n1,1\n")
    with pytest.raises(TraceFormatError, match="missing column"):
        catalog.sponge_grid(f)
    f.write_text("")
    with pytest.raises(TraceFormatError, match="empty file"):
        catalog.sponge_grid(f)
    f.write_text("batch_size,cpu_cores,latency_s\n")
    with pytest.raises(TraceFormatError, match="no data rows"):
        catalog.sponge_grid(f)
    f.write_text("batch_size,cpu_cores,latency_s\n1,1,0.05\n\n2,1,-0.1\n")
    with pytest.raises(TraceFormatError, match="latency must be positive") as e:
        catalog.sponge_grid(f)
    assert e.value.line == 4  # the blank line counts
    f.write_text("batch_size,cpu_cores,latency_s\n1,1,0.05\n1.5,1,0.06\n")
    with pytest.raises(TraceFormatError, match="whole number") as e:
        catalog.sponge_grid(f)
    assert e.value.line == 3
    f.write_text("batch_size,cpu_cores,latency_s\n1,0,0.05\n")
    with pytest.raises(TraceFormatError, match="cpu_cores must be positive") as e:
        catalog.yolov5s_grid(f)
    assert e.value.line == 2


def test_bad_biscale_and_yaml(tmp_path):
    f = tmp_path / "b.csv"
    f.write_text(
        "pipeline,stage,slo_ms,max_batch,gamma,delta,epsilon,eta\nvideo,det,780,8,1,2,x,4\n"
    )
    with pytest.raises(TraceFormatError, match="'epsilon'") as e:
        catalog.biscale_latency_models(f)
    assert e.value.line == 2
    y = tmp_path / "a.yaml"
    y.write_text("video:\n  crop:\n    yolov5n: [45\n")
    with pytest.raises(TraceFormatError) as e:
        catalog.accuracy_table(y)
    assert e.value.line is not None
    y.write_text("video:\n  crop:\n    yolov5n: high\n")
    with pytest.raises(TraceFormatError, match="not a number"):
        catalog.accuracy_table(y)
    y.write_text("video:\n  crop:\n    yolov5n: 45.7\n    yolov5s: high\n")
    with pytest.raises(TraceFormatError, match="yolov5s: accuracy 'high'") as e:
        catalog.accuracy_table(y)
    assert e.value.line == 4
    y.write_text("video:\n  crop: [45.7, 56.8]\n")
    with pytest.raises(TraceFormatError, match="video/crop: expected a mapping") as e:
        catalog.accuracy_table(y)
    assert e.value.line == 2


def test_missing_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SSLOSERVE_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    with pytest.raises(DataNotFoundError, match="saeid93/sponge"):
        catalog.sponge_grid(source="data")


# ----------------------------------------------------------------------------- real tables


@real_profiles
def test_sponge_fit_matches_papers():
    """PAPERS.md 0.1: gamma ~18.3, delta ~4.5, epsilon ~45.6, eta 1.0-1.5, MAPE ~12 %.

    The grid is fixed data and the fit is deterministic least squares, so the only slack
    needed is for the one-decimal rounding of the published numbers: we allow 2 % on
    gamma, delta and epsilon (measured: 18.29, 4.47, 45.73), eta in [1.0, 1.6] (measured
    1.52; PAPERS.md gives a range) and MAPE in [11 %, 14 %] (measured 12.6 %)."""
    g = catalog.sponge_grid()
    assert len(g) == 30 and g.latency_ms.min() == pytest.approx(12.402)
    m = LatencyTable.from_frame(g).fit()
    assert m.gamma == pytest.approx(18.3, rel=0.02)
    assert m.delta == pytest.approx(4.5, rel=0.02)
    assert m.epsilon == pytest.approx(45.6, rel=0.02)
    assert 1.0 <= m.eta <= 1.6
    assert 11.0 <= m.mape <= 14.0


@real_profiles
def test_yolov5s_grid_and_fit():
    g = catalog.yolov5s_grid()
    assert sorted(g.batch.unique()) == [1, 2, 4, 8] and sorted(g.cores.unique()) == [1, 2, 4, 8, 16]
    t = LatencyTable.from_frame(g)
    assert t.latency(1, 1) == pytest.approx(151.6)
    assert t.fit().mape < 10  # a good fit: measured 5.7 %


@real_profiles
def test_infadapter_capacity_is_tidy_and_monotone_in_accuracy():
    d = catalog.infadapter_capacity()
    assert len(d) == 400 and set(d.model) == {f"resnet{k}" for k in (18, 34, 50, 101, 152)}
    assert d.latency_ms.isna().sum() == 9
    slow = catalog.resnet_slowdown()
    vals = list(slow.values())
    assert vals[0] == 1.0 and all(a < b for a, b in zip(vals, vals[1:], strict=False))


@real_profiles
def test_biscale_models_match_papers():
    fits = catalog.biscale_latency_models()
    assert len(fits) == 7
    det, cls = fits[("video", "video-detector")], fits[("video", "video-classifier")]
    assert det.parallel_fraction(1) == pytest.approx(0.875, abs=0.005)
    assert cls.parallel_fraction(1) == pytest.approx(0.77, abs=0.005)
    assert catalog.biscale_settings()["nlp"] == {"slo_ms": 2550.0, "max_batch": 4}


@real_profiles
def test_accuracy_menu_fractions():
    m = catalog.accuracy_menu()
    assert list(m["detector"]) == ["yolov5n", "yolov5s", "yolov5m", "yolov5l", "yolov5x"]
    assert list(m["detector"].values()) == [0.457, 0.568, 0.641, 0.673, 0.689]
    assert list(m["classifier"].values()) == [0.6975, 0.7331, 0.7613, 0.7737, 0.7831]


@real_profiles
def test_video_variants():
    det, cls = catalog.video_variants()
    assert [v.name for v in cls] == ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
    # the smallest variants are Biscale's published fits, unscaled
    assert (
        det[0].latency.params
        == catalog.biscale_latency_models()[("video", "video-detector")].params
    )
    # bigger variants are slower and more accurate at every batch and core count
    for menu in (det, cls):
        for a, b in zip(menu, menu[1:], strict=False):
            assert b.accuracy > a.accuracy
            for bb, cc in [(1, 1), (4, 2), (8, 16)]:
                assert b.latency_ms(bb, cc) > a.latency_ms(bb, cc)


@real_profiles
def test_fallback_numbers_are_the_data():
    fb = catalog.VIDEO_FALLBACK
    fits = catalog.biscale_latency_models()
    assert fits[("video", "video-detector")].params == pytest.approx(fb["detector_fit"])
    assert fits[("video", "video-classifier")].params == pytest.approx(fb["classifier_fit"])
    assert catalog.accuracy_menu() == fb["accuracy"]
    assert [round(x, 2) for x in catalog.resnet_slowdown().values()] == list(fb["slowdown"])


def test_video_variants_without_data(monkeypatch, tmp_path):
    monkeypatch.setenv("SSLOSERVE_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    det, cls = catalog.video_variants()
    assert [v.name for v in det][0] == "yolov5n" and len(cls) == 5
    assert cls[0].latency_ms(1, 1) == pytest.approx(70.4896)
    with pytest.raises(DataNotFoundError):
        catalog.video_variants(source="data")


# ----------------------------------------------------------------------------- properties


_pos = st.floats(min_value=0.1, max_value=100.0)


@settings(max_examples=40, deadline=None)
@given(_pos, _pos, _pos, _pos, st.floats(min_value=1.0, max_value=16.0), st.sampled_from([1, 2, 8]))
def test_table_interpolation_is_exact_for_the_model(g, d, e, h, c, b):
    """Between measured cores the table equals any l(b, c) model: it is linear in 1/c."""
    m = LatencyModel(g, d, e, h)
    bs = [bb for bb in (1, 2, 8) for _ in range(3)]
    cs = [1, 4, 16] * 3
    t = LatencyTable(bs, cs, m.latency(bs, cs))
    assert t.latency(b, c) == pytest.approx(m.latency(b, c), rel=1e-9)


def test_sponge_grid_falls_back_to_a_seeded_synthetic_twin(monkeypatch, tmp_path):
    """Without the data (chapter 00_tour run by a learner), sponge_grid() draws the same 30
    (b, c) points from PAPERS.md 0.1's model and says so; the noise is seeded and centred on
    that model: fits averaged over seeds recover its parameters."""
    monkeypatch.setenv("SSLOSERVE_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    g = catalog.sponge_grid()
    assert g.attrs["source"] == "synthetic" and g.model.iloc[0] == "yolov5n (synthetic)"
    assert sorted(g.batch.unique()) == [1, 2, 4, 8, 16] and len(g) == 30
    assert sorted(g.cores.unique()) == [1, 2, 4, 8, 16, 32]
    assert g.equals(catalog.sponge_grid(seed=0))
    assert not g.equals(catalog.sponge_grid(seed=1))
    fits = np.array(
        [LatencyTable.from_frame(catalog.sponge_grid(seed=s)).fit().params for s in range(40)]
    )
    mean = fits.mean(axis=0)
    assert mean[:3] == pytest.approx([18.3, 4.5, 45.6], rel=0.1)
    with pytest.raises(ValueError, match="source must be"):
        catalog.sponge_grid(source="real")
