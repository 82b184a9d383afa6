"""Tests of ssloserve.traces: the Twitter trace, IPA's load patterns and their synthetic stand-ins."""

from __future__ import annotations

import numpy as np
import pytest

from ssloserve import traces, workloads
from ssloserve.data import has_data
from ssloserve.errors import DataNotFoundError, TraceFormatError

real_twitter = pytest.mark.skipif(
    not has_data(traces.TWITTER),
    reason="Twitter trace absent ($SSLOSERVE_DATA); synthetic path only",
)


def test_read_counts_plain_and_errors(tmp_path):
    f = tmp_path / "w.txt"
    f.write_text("1 2 3\n4 5\n")
    assert traces.read_counts(f).tolist() == [1, 2, 3, 4, 5]
    f.write_text("1 2\n3 abc\n")
    with pytest.raises(TraceFormatError) as e:
        traces.read_counts(f)
    assert e.value.line == 2 and "w.txt" in str(e.value.path)
    f.write_text("1\n2\n-3\n")
    with pytest.raises(TraceFormatError, match="negative") as e:
        traces.read_counts(f)
    assert e.value.line == 3
    f.write_text("")
    with pytest.raises(TraceFormatError, match="empty"):
        traces.read_counts(f)


def test_read_counts_from_tar(tmp_path):
    import tarfile

    src = tmp_path / "workload.txt"
    src.write_text("7 8 9")
    arc = tmp_path / "w.tbz2"
    with tarfile.open(arc, "w:bz2") as tf:
        tf.add(src, arcname="workload.txt")
    assert traces.read_counts(arc).tolist() == [7, 8, 9]


def test_missing_data_names_the_source(monkeypatch, tmp_path):
    monkeypatch.setenv("SSLOSERVE_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(DataNotFoundError, match="reconfigurable-ml-pipeline/ipa"):
        traces.twitter_trace()
    assert traces.segment("bursty").source == "synthetic"


@real_twitter
def test_twitter_trace_stats_and_cache():
    t = traces.twitter_trace()
    assert len(t) == 1_899_061 and int(t.min()) == 0 and int(t.max()) == 388
    assert round(float(t.mean()), 1) == 63.6
    assert traces.twitter_trace() is t  # cached: the same object, no re-read


@real_twitter
@pytest.mark.parametrize(
    "name,lo,hi,mean",
    [
        ("bursty", 3, 34, 12.0),
        ("steady_low", 3, 8, 5.1),
        ("steady_high", 23, 34, 28.8),
        ("fluctuating", 3, 34, 16.5),
    ],
)
def test_ipa_segments_match_papers_table(name, lo, hi, mean):
    s = traces.ipa_segment(name)
    assert len(s) == 1200
    assert (s.min(), s.max(), round(float(s.mean()), 1)) == (lo, hi, mean)
    assert traces.segment(name).source == "twitter"


@real_twitter
def test_ipa_segment_exact_indices():
    t = traces.twitter_trace()
    assert np.array_equal(traces.ipa_segment("bursty"), np.asarray(t[1301160:1302360]) // 8)
    sh = traces.ipa_segment("steady_high")
    assert np.array_equal(sh[:600], sh[600:])
    assert np.array_equal(traces.ipa_segment("bursty", damping=1), t[1301160:1302360])


@real_twitter
def test_segment_stats_table_is_what_the_trace_says():
    for name, stats in traces.SEGMENT_STATS.items():
        got = workloads.rate_stats(traces.ipa_segment(name))
        for k, v in stats.items():
            assert got[k] == pytest.approx(v, abs=0.01), (name, k)


@pytest.mark.parametrize("name", list(traces.SEGMENTS))
def test_synthetic_segments_resemble_the_real_ones(name):
    """The tolerances promised in synthetic_segment's docstring, over seeds 0-9."""
    target = traces.SEGMENT_STATS[name]
    for seed in range(10):
        s = traces.synthetic_segment(name, seed=seed)
        assert len(s) == 1200 and s.dtype == np.int64
        got = workloads.rate_stats(s)
        assert abs(got["min"] - target["min"]) <= 1
        assert abs(got["max"] - target["max"]) <= 4
        assert got["mean"] == pytest.approx(target["mean"], rel=0.08)
        assert abs(got["cv"] - target["cv"]) <= 0.05 + 0.2 * target["cv"]
        assert abs(got["ac1"] - target["ac1"]) <= 0.1


def test_synthetic_is_seeded():
    a = traces.synthetic_segment("bursty", seed=5)
    assert np.array_equal(a, traces.synthetic_segment("bursty", seed=5))
    assert not np.array_equal(a, traces.synthetic_segment("bursty", seed=6))


def test_segment_source_choice():
    assert traces.segment("fluctuating", source="synthetic").source == "synthetic"
    with pytest.raises(KeyError, match="unknown segment"):
        traces.segment("nope")
