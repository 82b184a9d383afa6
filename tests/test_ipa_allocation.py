"""IPA's base allocation R(m) (PAPERS.md 3; chapter 03_ipa)."""

from __future__ import annotations

import pytest

from ssloserve.errors import InfeasibleError
from ssloserve.ipa.allocation import base_allocation, with_cores
from ssloserve.latency import LatencyModel
from ssloserve.latency_table import LatencyTable
from ssloserve.pipeline import Variant


def _flat(name, acc, ms_at_1_core):
    """A variant taking ``ms_at_1_core * b / c``: perfectly parallel, no gain from batching."""
    return Variant(name, acc, LatencyModel(ms_at_1_core, 0.0, 0.0, 0.0))


def test_smallest_core_count_meeting_share_and_throughput():
    # 400 ms on 1 core: 2 cores give 200 ms (5 RPS at batch 1) <= 250 ms share
    assert base_allocation([_flat("a", 0.5, 400.0)], 250.0) == {"a": 2}
    # a threshold of 6 RPS needs 1000 / 6 = 167 ms or less: 4 cores (100 ms)
    assert base_allocation([_flat("a", 0.5, 400.0)], 250.0, min_throughput_rps=6) == {"a": 4}


def test_more_accurate_never_gets_fewer_cores():
    slow_weak = _flat("weak", 0.5, 800.0)  # needs 4 cores for a 250 ms share
    fast_strong = _flat("strong", 0.9, 100.0)  # 1 core would do on its own
    got = base_allocation([fast_strong, slow_weak], 250.0)
    assert got == {"strong": 4, "weak": 4}
    assert list(got) == ["strong", "weak"]  # the caller's order
    assert [v.cores for v in with_cores([slow_weak, fast_strong], got)] == [4, 4]


def test_measured_table_uses_its_profiled_cores():
    t = LatencyTable([1, 1, 1], [1, 3, 6], [600.0, 240.0, 120.0], name="t")
    assert base_allocation([Variant("t", 0.7, t)], 250.0, batches=(1,)) == {"t": 3}


def test_infeasible_names_the_binding_constraint():
    with pytest.raises(InfeasibleError) as e:
        base_allocation([_flat("a", 0.5, 400.0)], 20.0, cores=(1, 2, 4, 8, 16))
    assert e.value.constraint == "latency_share_ms"
    assert e.value.nearest_feasible == pytest.approx(25.0)  # 400 / 16 cores
    slow = Variant("s", 0.5, LatencyModel(0.0, 0.0, 0.0, 1000.0))  # 1 RPS whatever the cores
    with pytest.raises(InfeasibleError) as e:
        base_allocation([slow], 5000.0, batches=(1,))
    assert e.value.constraint == "min_throughput_rps" and e.value.nearest_feasible == 1.0
