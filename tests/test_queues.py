"""Queues: FIFO/EDF order, batch pop, drop rules and conservation (property tests)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssloserve.errors import ConfigError
from ssloserve.outcomes import REASONS
from ssloserve.queues import (
    EdfQueue,
    FifoQueue,
    drop_threshold_s,
    make_queue,
)


def test_fifo_and_edf_orders():
    d = [5.0, 1.0, 3.0, 2.0]
    f, e = FifoQueue(d), EdfQueue(d)
    for i in range(4):
        f.push(i)
        e.push(i)
    assert f.take(3, 0.0) == [0, 1, 2] and f.ids() == [3]
    assert e.take(3, 0.0) == [1, 3, 2] and e.ids() == [0]
    assert e.deadlines().tolist() == [5.0]


def test_cannot_finish_uses_the_service_time_of_the_batch_it_would_join():
    d = [1.0, 1.04, 1.2, 2.0]
    q = FifoQueue(d, drop="cannot_finish")
    for i in range(4):
        q.push(i)
    # 4 queued, b = 2: the batch would have 2 requests, 0.15 s of service; now = 0.9
    assert q.take(2, 0.9, service_s=[0.0, 0.1, 0.15]) == [2, 3]
    assert q.dropped == [0, 1]
    assert [REASONS[r] for r in q.dropped_reason] == ["cannot_finish", "cannot_finish"]
    q2 = FifoQueue([0.5, 2.0], drop="cannot_finish")
    q2.push(0)
    q2.push(1)
    assert q2.take(1, 0.9, service_s=0.1) == [1]
    assert REASONS[q2.dropped_reason[0]] == "deadline_passed"


def test_k_slo_threshold_and_errors():
    thr = drop_threshold_s("k_slo", [0.0, 1.0], [0.1, 1.5], k_slo=2.0)
    np.testing.assert_allclose(thr, [0.2, 2.0])
    q = EdfQueue([0.1, 1.5], drop="k_slo", threshold_s=thr)
    q.push(0)
    q.push(1)
    assert q.take(5, 0.5) == [1] and REASONS[q.dropped_reason[0]] == "k_slo"
    with pytest.raises(ConfigError, match="needs threshold_s"):
        FifoQueue([1.0], drop="k_slo")
    with pytest.raises(ConfigError, match="unknown drop rule"):
        FifoQueue([1.0], drop="maybe")


@settings(max_examples=200, deadline=None)
@given(
    deadlines=st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=40),
    kind=st.sampled_from(["fifo", "edf"]),
    drop=st.sampled_from(["never", "deadline", "cannot_finish"]),
    b=st.integers(1, 6),
    steps=st.lists(st.floats(0, 12, allow_nan=False), min_size=1, max_size=10),
)
def test_every_request_is_taken_dropped_or_still_queued_once(deadlines, kind, drop, b, steps):
    d = np.asarray(deadlines)
    for q in [make_queue(kind, d, drop)]:
        for i in range(len(d)):
            q.push(i)
        taken = []
        for now in sorted(steps):
            got = q.take(b, now, service_s=0.5)
            assert len(got) <= b
            if drop != "never":  # nothing taken is hopeless
                limit = now + (0.5 if drop == "cannot_finish" else 0.0)
                assert all(d[i] >= limit for i in got)
            if kind == "edf" and got and len(q):
                assert max(d[got]) <= min(q.deadlines()) + 1e-12
            taken += got
        left = q.ids()
        everyone = sorted(taken + q.dropped + left)
        assert everyone == list(range(len(d)))
        assert len(q) == len(left)
