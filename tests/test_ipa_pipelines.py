"""IPA's pipelines and profile reader: every number has a source (PAPERS.md 3; chapter 03_ipa)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssloserve.catalog import (
    accuracy_menu,
    accuracy_table,
    biscale_latency_models,
    biscale_settings,
)
from ssloserve.data import has_data
from ssloserve.errors import TraceFormatError
from ssloserve.ipa.pipelines import NLP_FALLBACK, nlp, split_like, video
from ssloserve.ipa.profiles import IPA_PROFILES, batch1_points, fit_batch1, ipa_profiles
from ssloserve.latency import LatencyModel

needs_profiles = pytest.mark.skipif(
    not has_data(IPA_PROFILES["nlp"]), reason="needs $SSLOSERVE_DATA/profiling (IPA's profiles)"
)


@needs_profiles
def test_nlp_fallback_is_the_files():
    fb = NLP_FALLBACK
    fits = biscale_latency_models()
    for name, params in fb["fits"].items():
        m = fits[("nlp", name)]
        assert (m.gamma, m.delta, m.epsilon, m.eta) == pytest.approx(params)
    assert biscale_settings()["nlp"] == {"slo_ms": fb["sla_ms"], "max_batch": fb["max_batch"]}
    acc = accuracy_table()
    for task, menu in fb["accuracy"].items():
        got = acc[(acc.pipeline == "nlp") & (acc.task == task)]
        assert dict(zip(got.variant, got.value, strict=True)) == menu
    prof = ipa_profiles("nlp")
    for task, menu in fb["accuracy"].items():
        for name in menu:
            c, ms, stat = batch1_points(prof, task, name)
            assert stat == "mean"
            want_c, want_ms = fb["batch1"][name]
            assert tuple(c) == want_c and tuple(ms) == want_ms


@needs_profiles
def test_nlp_from_data_equals_fallback_but_says_where_from():
    a, b = nlp(source="data"), nlp(source="fallback")
    assert set(a.menu.source) == {"fitted", "scaled"} and set(b.menu.source) == {"fallback"}
    for sa, sb in zip(a.stages, b.stages, strict=True):
        for va, vb in zip(sa, sb, strict=True):
            assert va.name == vb.name and va.accuracy == vb.accuracy and va.cores == vb.cores
            for bb in (1, 2, 4):
                assert va.latency_ms(bb, 2.0) == pytest.approx(vb.latency_ms(bb, 2.0))


@needs_profiles
def test_nlp_models_reproduce_the_measurements():
    p, prof = nlp(source="data"), ipa_profiles("nlp")
    tasks = dict(
        zip(("identify", "translate", "summarise"), ("nlp-li", "nlp-trans", "nlp-sum"), strict=True)
    )
    for stage in p.pipeline.order:
        for v in p.pipeline.stage(stage).variants:
            c, ms, _ = batch1_points(prof, tasks[stage], v.name)
            pred = np.array([v.latency.latency(1, x) for x in c])
            src = p.menu.set_index("variant").loc[v.name, "source"]
            if src == "scaled":  # one point: hit exactly
                assert pred == pytest.approx(ms)
            else:  # the least-squares fit: within 15% everywhere (the fits' MAPE is 1-7%)
                assert np.all(np.abs(pred / ms - 1) < 0.15)


def test_video_menu_accuracies_and_allocation():
    p = video()
    acc = accuracy_menu() if has_data("profiling/ipa_model_variant_accuracies.yaml") else None
    for stage, key in (("detect", "detector"), ("classify", "classifier")):
        vs = p.pipeline.stage(stage).variants
        assert [v.accuracy for v in vs] == sorted(v.accuracy for v in vs)
        assert [v.cores for v in vs] == sorted(v.cores for v in vs)  # never fewer cores
        if acc is not None:
            assert {v.name: v.accuracy for v in vs} == acc[key]
    assert set(p.menu.source) <= {"published fit", "scaled", "fallback"}
    assert p.menu.detail.str.len().min() > 10


def test_nlp_fallback_runs_without_data():
    p = nlp(source="fallback")
    assert [len(s) for s in p.stages] == [1, 2, 6]
    assert all(v.cores >= 1 for s in p.stages for v in s)


@settings(max_examples=100, deadline=None)
@given(
    st.floats(1, 2000),
    st.floats(1, 500),
    st.tuples(*[st.floats(0.5, 300)] * 4),
    st.sampled_from([1, 2, 4, 8, 16]),
)
def test_split_like_keeps_the_batch1_fit(a, b, shape, c):
    m = split_like(a, b, LatencyModel(*shape))
    assert m.latency(1, c) == pytest.approx(a / c + b, rel=1e-9)


def test_fit_batch1_recovers_a_and_b():
    c = np.array([1, 2, 4, 8.0])
    assert fit_batch1(c, 300 / c + 40)[:2] == pytest.approx((300.0, 40.0))


def test_bad_profile_names_file_and_line(tmp_path):
    good = (
        "pipeline,stage,node,variant,batch,cores,load_rps,load_duration_s,latency_avg_ms,"
        "latency_p99_ms,latency_p95_ms,latency_min_ms,throughput_max_rps,throughput_avg_rps,"
        "timeout_count,series,ipa_final_profile,source\n"
    )
    f = tmp_path / "p.csv"
    f.write_text(
        good
        + "nlp,nlp-li,n,x,1,2,10,60,50,,,,,,,98,True,s\nnlp,nlp-li,n,x,0,2,10,60,50,,,,,,,98,True,s\n"
    )
    with pytest.raises(TraceFormatError, match="line 3.*batch"):
        ipa_profiles("nlp", path=f)
