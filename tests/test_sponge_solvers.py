"""Sponge's solvers against the exhaustive scans of (c, b) (ssloserve.sponge.oracle), on random
instances that include infeasible ones and ties; the infeasibility messages' nearest feasible
values checked against the oracle; a case where the two solvers disagree."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ssloserve.errors import InfeasibleError
from ssloserve.latency import LatencyModel, throughput_rps
from ssloserve.sponge import (
    edf_excess_ms,
    solve,
    solve_edf,
    solve_edf_exhaustive,
    solve_exhaustive,
    worst_case_ms,
)

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
HALVES = st.integers(0, 400).map(lambda x: x / 2)  # multiples of 0.5 ms: many exact ties


@st.composite
def instances(draw):
    """A model (possibly with l increasing in c for small b: epsilon < 0), caps, a core grid
    (integers or fractions) and a (b0, c0) cell to build ties on."""
    gamma, delta = draw(HALVES), draw(HALVES)
    epsilon = draw(st.one_of(HALVES, st.integers(-80, 0).map(float)))
    eta = draw(st.one_of(HALVES, st.just(100.0)))
    c_max, b_max = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    cores = draw(
        st.one_of(
            st.none(),
            st.lists(
                st.sampled_from([0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 3.0]), min_size=1, max_size=5
            ),
        )
    )
    grid = sorted(set(cores)) if cores is not None else list(range(1, c_max + 1))
    m = LatencyModel(gamma, delta, epsilon, eta)
    lat = np.asarray(m.latency(np.arange(1, b_max + 1)[:, None], np.asarray(grid, float)[None, :]))
    assume((lat > 0).all())
    b0 = draw(st.integers(1, b_max))
    c0 = draw(st.sampled_from(grid))
    return m, c_max, b_max, cores, b0, float(c0)


def _call(f, *a, **kw):
    try:
        return f(*a, **kw)
    except InfeasibleError as e:
        return e


def _same(fast, slow):
    if isinstance(slow, InfeasibleError):
        assert isinstance(fast, InfeasibleError), f"solver found {fast}, the oracle nothing"
    else:
        assert fast == slow
        assert all(type(x) is type(y) for x, y in zip(fast, slow, strict=True))


@SETTINGS
@given(
    instances(),
    st.one_of(st.integers(0, 200).map(float), st.just("tie")),
    st.one_of(HALVES.map(lambda x: 4 * x), st.just("tie")),
    HALVES,
    st.sampled_from([0.5, 0.9, 1.0]),
)
def test_solve_equals_exhaustive_scan(inst, rate, slo, cl_max, margin):
    m, c_max, b_max, cores, b0, c0 = inst
    l0 = float(m.latency(b0, c0))
    if rate == "tie":  # the (b0, c0) replica exactly keeps up
        rate = float(throughput_rps(b0, l0))
    if slo == "tie":  # (b0, c0) exactly meets the SLO
        slo = (math.ceil(rate / b0) * l0 + cl_max) / margin
    args = (m, rate, slo, cl_max, c_max, b_max, margin)
    got = _call(solve, *args, cores=cores)
    _same(got, _call(solve_exhaustive, *args, cores=cores))
    if not isinstance(got, InfeasibleError):
        return
    near = got.nearest_feasible
    if got.constraint == "slo_ms":  # the smallest SLO: it fits, and 1e-6 ms less does not
        assert near > slo
        solve_exhaustive(m, rate, near, cl_max, c_max, b_max, margin, cores=cores)
        with pytest.raises(InfeasibleError):
            solve_exhaustive(m, rate, near - 1e-6, cl_max, c_max, b_max, margin, cores=cores)
    else:  # no SLO helps: the highest rate one replica serves, and no more
        assert got.constraint == "rate_rps" and near < rate
        solve_exhaustive(m, near, math.inf, cl_max, c_max, b_max, margin, cores=cores)
        with pytest.raises(InfeasibleError):
            solve_exhaustive(m, near + 1e-6, math.inf, cl_max, c_max, b_max, margin, cores=cores)


@SETTINGS
@given(
    instances(),
    st.lists(st.integers(0, 4000).map(lambda x: x / 2), max_size=40),
    st.lists(st.integers(1, 40), max_size=4),
    st.one_of(st.integers(0, 120).map(float), st.just("tie")),
    st.booleans(),
)
def test_solve_edf_equals_exhaustive_scan(inst, budgets, tie_positions, rate, with_slo):
    m, c_max, b_max, cores, b0, c0 = inst
    l0 = float(m.latency(b0, c0))
    if rate == "tie":
        rate = float(throughput_rps(b0, l0))
    # ties: the request at position k of the sorted budgets gets exactly ceil(k / b0) l0
    budgets = sorted(budgets)
    for k in tie_positions:
        if k <= len(budgets):
            budgets[k - 1] = math.ceil(k / b0) * l0
    slo = 1000.0 if with_slo else None
    got = _call(solve_edf, m, budgets, rate, c_max, b_max, cores=cores, slo_ms=slo)
    oracle = _call(solve_edf_exhaustive, m, budgets, rate, c_max, b_max, cores=cores)
    _same(got, oracle)
    if not isinstance(got, InfeasibleError):
        return
    near = got.nearest_feasible
    if got.constraint == "rate_rps":
        assert near < rate
        solve_edf_exhaustive(m, [], near, c_max, b_max, cores=cores)
        with pytest.raises(InfeasibleError):
            solve_edf_exhaustive(m, [], near + 1e-6, c_max, b_max, cores=cores)
        return
    assert got.constraint == ("slo_ms" if with_slo else "budgets_ms")
    shift = near - 1000.0 if with_slo else near
    assert shift > 0
    longer = np.asarray(budgets) + shift  # every budget longer by the shift: it fits
    solve_edf_exhaustive(m, longer, rate, c_max, b_max, cores=cores)
    with pytest.raises(InfeasibleError):
        solve_edf_exhaustive(m, longer - 1e-6, rate, c_max, b_max, cores=cores)


@settings(max_examples=100, deadline=None)
@given(instances(), st.lists(st.integers(0, 3000).map(float), max_size=25), HALVES)
def test_excess_and_worst_case_tables_are_the_equations(inst, budgets, cl_max):
    m, c_max, b_max, cores, _, _ = inst
    ex = edf_excess_ms(m, budgets, b_max, c_max, cores=cores)
    wc = worst_case_ms(m, 17.0, cl_max, b_max, c_max, cores=cores)
    grid = sorted(set(cores)) if cores is not None else range(1, c_max + 1)
    d = sorted(budgets)
    for j, c in enumerate(grid):
        for b in range(1, b_max + 1):
            lat = float(m.latency(b, c))
            late = [math.ceil(k / b) * lat - x for k, x in enumerate(d, start=1)]
            assert ex[b - 1, j] == (max(late) if late else -math.inf)
            assert wc[b - 1, j] == pytest.approx(math.ceil(17.0 / b) * lat + cl_max)


# The model fitted to Sponge's YOLOv5 grid (catalog.sponge_grid; PAPERS.md 0.1).
YOLO = LatencyModel(18.3, 4.5, 45.7, 1.5)


def test_the_two_solvers_disagree_when_uploads_differ():
    # 20 requests in a second; 15 had a fast upload (50 ms: budget 950 ms), 5 the slowest of
    # the Belgium log (474 ms: budget 526 ms). The worst-case solver assumes all 20 had the
    # slowest upload, all queued at once, and keeps 10% of the SLO in reserve, so it wants
    # ceil(20 / b) l(b, c) <= 0.9 x 1000 - 474 = 426 ms: 2 cores. In deadline order the 5
    # urgent requests go first (2 batches of 2 and one of 1 end at 3 l(2, 1) = 305.7 ms <= 526)
    # and the 15 relaxed ones have 950 ms: 1 core is enough.
    budgets = [950.0] * 15 + [526.0] * 5
    worst = solve(YOLO, 20.0, 1000.0, 474.0)
    edf = solve_edf(YOLO, budgets, 20.0)
    assert worst == (2, 4) and edf == (1, 2)
    assert worst == solve_exhaustive(YOLO, 20.0, 1000.0, 474.0)
    assert edf == solve_edf_exhaustive(YOLO, budgets, 20.0)
    # the reverse: a backlog of 60 requests queued behind a slow second, only 10 RPS coming.
    # The worst case sees the rate (10) and no backlog: ceil(10 / b) l <= 900 - 474. Per
    # request, the 60th waits for ceil(60 / b) batches within its 800 ms: more cores.
    backlog = list(np.linspace(500.0, 800.0, 60))
    assert solve(YOLO, 10.0, 1000.0, 474.0)[0] < solve_edf(YOLO, backlog, 10.0)[0]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="rate_rps"):
        solve(YOLO, -1.0, 1000.0, 0.0)
    with pytest.raises(ValueError, match="margin"):
        solve(YOLO, 1.0, 1000.0, 0.0, margin=0.0)
    with pytest.raises(ValueError, match="NaN"):
        solve_edf(YOLO, [1.0, float("nan")], 1.0)
    with pytest.raises(ValueError, match="cores"):
        solve_edf(YOLO, [], 1.0, cores=[0.0, 1.0])
    with pytest.raises(ValueError, match="b_max"):
        solve(YOLO, 1.0, 1000.0, 0.0, b_max=0)


def test_fractional_cores_and_an_empty_queue():
    grid = [0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
    c, b = solve_edf(YOLO, [], 10.0, cores=grid)
    assert (c, b) == solve_edf_exhaustive(YOLO, [], 10.0, cores=grid)
    assert isinstance(c, float) and YOLO.throughput(b, c) >= 10.0
