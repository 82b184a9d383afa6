"""Held-out attack families (chapter 05): the split, and recall on a synthetic case whose
answer is known by construction."""

import os

import numpy as np
import pytest

from ssloserve.data import has_data
from ssloserve.netnn.data import FlowData
from ssloserve.netnn.evaluate import (
    cap_per_family,
    families,
    family_holdout,
    holdout_data,
    holdout_report,
    holdout_split,
    summarize,
)

needs_data = pytest.mark.skipif(not has_data("nids"), reason="needs $SSLOSERVE_DATA/nids")


@pytest.fixture(autouse=True)
def _quick(monkeypatch):
    monkeypatch.setenv("SSLOSERVE_QUICK", os.environ.get("SSLOSERVE_QUICK", "1"))


def synthetic(n_benign=600, n_attack=200, seed=0) -> FlowData:
    """Benign flows have every feature in [0, 60]. Family ``loud`` sets feature 0 in [200, 255];
    ``loud twin`` is drawn from the same distribution as ``loud``; ``quiet`` is drawn from the
    benign distribution, so no detector on these features can tell it from benign traffic."""
    rng = np.random.default_rng(seed)

    def rows(n, loud):
        x = rng.integers(0, 61, (n, 4))
        if loud:
            x[:, 0] = rng.integers(200, 256, n)
        return x

    x = np.concatenate(
        [
            rows(n_benign, False),
            rows(n_attack, True),
            rows(n_attack, True),
            rows(n_attack // 4, False),
        ]
    ).astype(np.uint8)
    groups = ["benign"] * n_benign + ["loud"] * n_attack + ["loud twin"] * n_attack
    groups += ["quiet"] * (n_attack // 4)
    y = (np.array(groups) != "benign").astype(int)
    g = np.array(groups)
    return FlowData("synthetic", x, y, g.copy(), ("a", "b", "c", "d"), "made up", {}, g)


def test_holdout_split_keeps_the_family_out_of_training():
    d = synthetic()
    tr, te = holdout_split(d, "loud twin", test_frac=0.3, seed=1)
    assert "loud twin" not in set(tr.groups)
    assert (te.groups == "loud twin").sum() == 200  # every row of it is tested
    assert len(tr) + len(te) == len(d)
    assert abs((te.groups == "benign").sum() - 180) <= 1  # the rest split 70/30
    none_tr, none_te = holdout_split(d, None, test_frac=0.3, seed=1)
    assert {"loud", "loud twin", "quiet", "benign"} <= set(none_tr.groups)
    with pytest.raises(ValueError, match="not an attack family"):
        holdout_split(d, "benign")


def test_cap_per_family_keeps_small_families_whole():
    d = synthetic()
    c = cap_per_family(d, 100, seed=0)
    counts = {f: int((c.groups == f).sum()) for f in set(c.groups)}
    assert counts == {"benign": 100, "loud": 100, "loud twin": 100, "quiet": 50}
    assert cap_per_family(d, None) is d


def test_recall_on_held_out_families_is_what_the_construction_says():
    d = synthetic()
    assert families(d) == ["loud", "loud twin", "quiet"]
    t = family_holdout(d, seeds=(0, 1), held_out=["loud twin", "quiet"], hidden=(8,), epochs=40)
    assert len(t) == 4 and t["switch = int8"].all()
    twin, quiet = t[t["held out"] == "loud twin"], t[t["held out"] == "quiet"]
    # held out, the twin is still caught: the detector learned its signature from "loud"
    assert (twin[["float", "int8", "switch"]] >= 0.95).all().all()
    assert (twin["test rows"] == 200).all()
    # held out, the quiet family looks benign: caught about as often as benign rows are flagged
    assert (quiet[["float", "int8", "switch"]] <= 0.1).all().all()
    assert (quiet["false alarms"] <= 0.1).all() and (quiet["other attacks"] >= 0.95).all()
    # and even seen in training it is not caught: no feature separates it
    assert (quiet["random split"] <= 0.2).all()
    s = summarize(t).set_index("held out")
    assert s.loc["quiet", "seeds"] == 2
    assert s.loc["loud twin", "switch min"] <= s.loc["loud twin", "switch"] <= 1.0


@needs_data
def test_nsl_kdd_families_and_the_int8_switch_parity():
    d = holdout_data("NSL-KDD")
    assert families(d) == ["dos", "probe", "r2l", "u2r"]
    assert (d.groups == "u2r").sum() == 11 and (d.groups == "r2l").sum() == 209  # kept whole
    t = family_holdout(d, seeds=(0,), held_out=["u2r"])
    assert t["switch = int8"].all() and t.loc[0, "test rows"] == 11
    assert 0.9 < t.loc[0, "random-split accuracy"] <= 1.0


def test_without_data_the_report_uses_synthetic_flows(monkeypatch, tmp_path):
    monkeypatch.setenv("SSLOSERVE_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    t = holdout_report(seeds=(0,))
    assert set(t["data set"]) == {"synthetic flows"}
    assert set(t["held out"]) == {"SYN flood", "covert timing channel", "port scan"}
    assert t["switch = int8"].all() and (t["test rows"] > 0).all()
