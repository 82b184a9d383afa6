"""FA2 planner against exhaustive oracles (chapter 01_fa2; PAPERS.md 1)."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ssloserve import fa2
from ssloserve.errors import InfeasibleError, PipelineError
from ssloserve.latency import LatencyModel, batch_delay_ms
from ssloserve.observation import Observation
from ssloserve.pipeline import Config, Pipeline, Stage, StageConfig, Variant

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------- chain instances


@st.composite
def chains(draw):
    """Random small chains; integer latencies make ties common, floats make them rare."""
    S = draw(st.integers(1, 4))
    integer = draw(st.booleans())
    lat = []
    for _ in range(S):
        bs = draw(st.sets(st.integers(1, 8), min_size=1, max_size=5))
        if integer:
            lat.append({b: float(draw(st.integers(1, 60))) for b in sorted(bs)})
        else:
            lat.append({b: draw(st.floats(0.5, 120.0)) for b in sorted(bs)})
    rate = float(draw(st.integers(1, 200))) if integer else draw(st.floats(0.5, 300.0))
    cores = draw(
        st.one_of(st.just(1), st.lists(st.sampled_from([0.5, 1.0, 2.0]), min_size=S, max_size=S))
    )
    # an SLO anywhere (often infeasible), or exactly the latency of some configuration (a tie)
    if draw(st.booleans()):
        slo = draw(st.floats(0.0, 700.0))
    else:
        slo = 0.0
        for table in lat:
            b = draw(st.sampled_from(sorted(table)))
            slo += table[b] + batch_delay_ms(b, rate)
    return lat, rate, slo, cores


def _check_chain_plan(p, lat, rate, slo, cores):
    """The plan is what it claims: replicas by the formula, its cost and latency, within the SLO."""
    cs = [cores] * len(lat) if np.ndim(cores) == 0 else list(cores)
    total_lat, total_cost = 0.0, 0.0
    for (b, n), table, c in zip(p, lat, cs, strict=True):
        assert b in table
        assert n == max(1, math.ceil(rate * table[b] / (1000 * b) - 1e-9))
        assert n * 1000 * b / table[b] >= rate * (1 - 1e-9)  # enough throughput
        total_lat += table[b] + 1000 * (b - 1) / rate
        total_cost += n * c
    assert total_lat <= slo + 1e-6
    assert p.latency_ms == pytest.approx(total_lat)
    assert p.cost == pytest.approx(total_cost)


@SETTINGS
@given(chains())
def test_solve_chain_equals_brute_force(inst):
    lat, rate, slo, cores = inst
    try:
        want = fa2.brute_force_chain(lat, rate, slo, cores)
    except InfeasibleError as e:
        with pytest.raises(InfeasibleError) as got:
            fa2.solve_chain(lat, rate, slo, cores)
        assert got.value.constraint == "slo_ms"
        assert got.value.nearest_feasible == pytest.approx(e.nearest_feasible)
        assert got.value.nearest_feasible > slo
        # the reported SLO is indeed the smallest feasible one
        fa2.solve_chain(lat, rate, got.value.nearest_feasible, cores)
        return
    got = fa2.solve_chain(lat, rate, slo, cores)
    _check_chain_plan(got, lat, rate, slo, cores)
    assert got.cost == pytest.approx(want.cost)
    assert got.latency_ms == pytest.approx(
        want.latency_ms
    )  # same tie-break: fastest of the cheapest


@st.composite
def boundary_chains(draw):
    """Adversarial chains: latencies in thirds and eighths of a millisecond, rates whose
    batch formation delays 1000 (b - 1) / lam are not whole (nor binary) numbers, few
    distinct costs (many equally cheap plans), and an SLO within a hair of some plan's
    latency summed in another order (within, just above or well above EPS_MS of it)."""
    S = draw(st.integers(1, 4))
    den = draw(st.sampled_from([3.0, 8.0]))
    lat = []
    for _ in range(S):
        bs = draw(st.sets(st.integers(1, 6), min_size=1, max_size=4))
        lat.append({b: draw(st.integers(1, 900)) / den for b in sorted(bs)})
    rate = draw(st.sampled_from([3.0, 7.0, 12.5, 30.0, 1000.0 / 3.0, 0.7]))
    cores = draw(
        st.one_of(st.just(1), st.lists(st.sampled_from([0.5, 1.0, 2.0]), min_size=S, max_size=S))
    )
    picks = [draw(st.sampled_from(sorted(t))) for t in lat]
    total = 0.0
    for t, b in reversed(list(zip(lat, picks, strict=True))):
        total += t[b] + batch_delay_ms(b, rate)
    nudge = draw(st.sampled_from(["-5e-9", "-1e-10", "-ulp", "0", "+ulp", "+1e-10", "+5e-9"]))
    if nudge.endswith("ulp"):
        slo = math.nextafter(total, -math.inf if nudge[0] == "-" else math.inf)
    else:
        slo = total + float(nudge)
    return lat, rate, slo, cores


def _exact_oracle(lat, rate, slo, cores):
    """Brute force in exact rational arithmetic, independent of fa2: (cost, latency) of the
    cheapest plan (then the fastest), or None; feasibility within fa2.EPS_MS of the SLO."""
    from fractions import Fraction as F

    cs = [cores] * len(lat) if np.ndim(cores) == 0 else list(cores)
    best = None
    for combo in itertools.product(*(sorted(t.items()) for t in lat)):
        L, cost = F(0), F(0)
        for (b, l_ms), c in zip(combo, cs, strict=True):
            q = F(rate) * F(l_ms) / (1000 * b)
            n = max(1, math.ceil(q - F(1, 10**9)))  # ssloserve.latency.replicas_needed's tolerance
            L += F(l_ms) + F(1000 * (b - 1)) / F(rate)
            cost += n * F(c)
        if L <= F(slo) + F(fa2.EPS_MS) and (best is None or (cost, L) < best):
            best = (cost, L)
    return best


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(boundary_chains())
def test_solve_chain_exact_at_the_slo_boundary(inst):
    lat, rate, slo, cores = inst
    want = _exact_oracle(lat, rate, slo, cores)
    if want is None:
        with pytest.raises(InfeasibleError) as e:
            fa2.solve_chain(lat, rate, slo, cores)
        fastest = sum(min(t[b] + batch_delay_ms(b, rate) for b in t) for t in lat)
        assert e.value.nearest_feasible == pytest.approx(fastest, rel=1e-12)
        fa2.solve_chain(lat, rate, e.value.nearest_feasible, cores)
        return
    got = fa2.solve_chain(lat, rate, slo, cores)
    _check_chain_plan(got, lat, rate, slo, cores)
    assert got.cost == pytest.approx(float(want[0]), abs=1e-12)
    assert got.latency_ms == pytest.approx(float(want[1]), rel=1e-12)


@SETTINGS
@given(chains())
def test_grid_dp_is_feasible_never_better_and_exact_on_integer_grids(inst):
    lat, rate, slo, cores = inst
    try:
        opt = fa2.solve_chain(lat, rate, slo, cores)
    except InfeasibleError:
        with pytest.raises(InfeasibleError):
            fa2.solve_chain_grid(lat, rate, slo, cores)
        return
    try:
        g = fa2.solve_chain_grid(lat, rate, slo, cores)
    except InfeasibleError:
        return  # the grid lost every feasible plan; allowed, and counted in the benchmark
    _check_chain_plan(g, lat, rate, slo, cores)
    assert g.cost >= opt.cost - 1e-9
    integral = all(
        float(v + batch_delay_ms(b, rate)).is_integer() for t in lat for b, v in t.items()
    )
    if integral:
        assert g.cost == pytest.approx(opt.cost)


def test_solve_chain_tie_and_boundary():
    # two stages, SLO exactly equal to the cheap plan's latency: that plan must be chosen
    lat = [{1: 10.0, 2: 15.0}, {1: 10.0, 2: 15.0}]
    rate = 200.0  # b=1: 2 instances; b=2: 2 instances at 15 ms (1.5 -> 2); batch delay 5 ms
    slo = 10.0 + 10.0
    p = fa2.solve_chain(lat, rate, slo)
    assert list(p) == [(1, 2), (1, 2)] and p.cost == 4
    # at the boundary of the batched plan (15 + 5) * 2 = 40 ms: equal cost, the faster one wins
    p = fa2.solve_chain(lat, rate, 40.0)
    assert p.cost == 4 and p.latency_ms == 20.0


def test_solve_chain_infeasible_reports_smallest_slo():
    lat = [{1: 30.0, 4: 45.0}, {2: 12.5}]
    with pytest.raises(InfeasibleError) as e:
        fa2.solve_chain(lat, 100.0, 40.0)
    need = 30.0 + 12.5 + 10.0
    assert e.value.nearest_feasible == pytest.approx(need)
    assert "smallest feasible SLO" in str(e.value)
    assert fa2.solve_chain(lat, 100.0, need).latency_ms == pytest.approx(need)


def test_solve_chain_rejects_bad_input():
    with pytest.raises(ValueError, match="rate_rps"):
        fa2.solve_chain([{1: 1.0}], 0.0, 10.0)
    with pytest.raises(ValueError, match="latency must be positive"):
        fa2.solve_chain([{1: -1.0}], 1.0, 10.0)
    with pytest.raises(ValueError, match="cores_per_instance"):
        fa2.solve_chain([{1: 1.0}], 1.0, 10.0, cores_per_instance=[1, 2])


def test_every_planner_refuses_a_nan_slo():
    """A NaN SLO compares false with everything: the oracles would ignore it, the planners
    would call it infeasible; all say what is wrong instead."""
    lat = [{1: 10.0}]
    for f in (fa2.solve_chain, fa2.solve_chain_grid, fa2.brute_force_chain):
        with pytest.raises(ValueError, match="slo_ms"):
            f(lat, 10.0, math.nan)
    p = Pipeline.chain(_stage("a"), _stage("b"))
    for f in (fa2.plan, fa2.brute_force, fa2.slo_split_plan):
        with pytest.raises(ValueError, match="slo_ms"):
            f(p, 10.0, math.nan)


def test_ten_stage_chain_matches_brute_force_on_a_sample():
    """A longer chain than hypothesis draws: 10 stages x 3 batch sizes (59,049 plans)."""
    rng = np.random.default_rng(7)
    lat = [{b: float(rng.uniform(5, 40) * b**0.6) for b in (1, 2, 4)} for _ in range(10)]
    for slo in (300.0, 450.0, 700.0):
        assert fa2.solve_chain(lat, 60.0, slo).cost == fa2.brute_force_chain(lat, 60.0, slo).cost


# ---------------------------------------------------------------- pipelines (DAGs)


@st.composite
def _block(draw, depth, force=False):
    """A stage, or parallel branches, usually followed by a join stage; without the join
    the next block's stages take every branch's end as predecessor (fan-outs in a row)."""
    if depth == 0 or (not force and draw(st.integers(0, 2)) == 0):
        return ["stage"]
    branches = []
    for _ in range(draw(st.integers(2, 3))):
        br = draw(_block(depth - 1))
        if draw(st.booleans()):
            br = br + ["stage"]
        branches.append(br)
    return [("par", branches)] + (["stage"] if draw(st.booleans()) else [])


@st.composite
def pipelines(draw, max_stages=7, fanouts_in_a_row=False):
    """Random series-parallel pipelines; ``fanouts_in_a_row``: two parallel blocks with no
    join between them (every end of the first feeds every start of the second)."""
    if fanouts_in_a_row:
        struct = [draw(_block(1, force=True))[0], draw(_block(1, force=True))[0]]
    else:
        struct = draw(_block(draw(st.integers(1, 2)), force=draw(st.integers(0, 4)) > 0))
    if draw(st.booleans()):
        struct += draw(_block(1, force=True))
    if struct[-1] != "stage":
        struct.append("stage")  # one sink
    names, edges = [], []

    def build(chain, preds):
        for it in chain:
            if it == "stage":
                name = f"s{len(names)}"
                names.append(name)
                edges.extend((p, name) for p in preds)
                preds = [name]
            else:
                outs = []
                for br in it[1]:
                    outs.extend(build(br, preds))
                preds = outs
        return preds

    build(["stage"] + struct, [])
    assume(len(names) <= max_stages)
    integer = draw(st.booleans())
    num = st.integers(0, 30).map(float) if integer else st.floats(0.0, 30.0)
    stages = []
    for n in names:
        m = LatencyModel(draw(num), draw(num), draw(num), draw(num) + 1.0)
        cores = draw(st.sampled_from([1.0, 2.0]))
        stages.append(Stage(n, (Variant("v", 1.0, m, cores),), max_batch=draw(st.integers(1, 3))))
    # sometimes a redundant edge implied by a longer path (it adds no constraint)
    if draw(st.booleans()) and len(names) > 2:
        edges.append((names[0], names[-1]))
    p = Pipeline(stages, edges)
    rate = float(draw(st.integers(1, 150))) if integer else draw(st.floats(0.5, 200.0))
    slo = draw(st.floats(0.0, 900.0))
    return p, rate, slo


def _config_ok(p, cfg, rate, slo):
    cfg.validate(p)
    assert fa2.path_latency_ms(p, cfg, rate) <= slo + 1e-6
    for s in p.order:
        sc = cfg[s]
        v = p.stage(s).variant(sc.variant)
        assert sc.replicas * v.throughput_rps(sc.batch, sc.cores) >= rate * (1 - 1e-9)


def _plan_equals_brute_force(inst):
    p, rate, slo = inst
    try:
        want = fa2.brute_force(p, rate, slo)
    except InfeasibleError as e:
        with pytest.raises(InfeasibleError) as got:
            fa2.plan(p, rate, slo)
        assert got.value.nearest_feasible == pytest.approx(e.nearest_feasible)
        assert got.value.nearest_feasible > slo
        fa2.plan(p, rate, got.value.nearest_feasible)  # feasible at the reported SLO
        return
    got = fa2.plan(p, rate, slo)
    _config_ok(p, got, rate, slo)
    assert got.cost == pytest.approx(want.cost)
    assert fa2.path_latency_ms(p, got, rate) == pytest.approx(fa2.path_latency_ms(p, want, rate))


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(pipelines())
def test_plan_equals_brute_force_on_dags(inst):
    """to_chain + the Pareto DP give the optimum of the DAG (every path constrained)."""
    _plan_equals_brute_force(inst)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(pipelines(max_stages=8, fanouts_in_a_row=True))
def test_plan_equals_brute_force_with_fanouts_in_a_row(inst):
    """Two parallel blocks with no join between them: to_chain still preserves the optimum."""
    p = inst[0]
    assert any(
        isinstance(a, fa2.Parallel) and isinstance(b, fa2.Parallel)
        for a, b in zip(fa2.to_chain(p)[:-1], fa2.to_chain(p)[1:], strict=True)
    )
    _plan_equals_brute_force(inst)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(pipelines())
def test_to_chain_covers_every_stage_once_and_keeps_path_latencies(inst):
    p, _, _ = inst
    chain = fa2.to_chain(p)
    flat = []
    for blk in chain:
        flat.extend(blk.stages if isinstance(blk, fa2.Parallel) else [blk])
    assert sorted(flat) == sorted(p.order)
    # with random stage latencies, the chain's (series sum, parallel max) equals the worst path
    rng = np.random.default_rng(len(flat))
    lat = {s: float(rng.uniform(1, 10)) for s in p.order}

    def value(ch):
        tot = 0.0
        for blk in ch:
            tot += (
                max(value(br) for br in blk.branches) if isinstance(blk, fa2.Parallel) else lat[blk]
            )
        return tot

    assert value(chain) == pytest.approx(max(sum(lat[s] for s in path) for path in p.paths()))


_M = LatencyModel(2.0, 3.0, 10.0, 5.0)


def _stage(name, m=_M, max_batch=4):
    return Stage(name, (Variant("v", 1.0, m),), max_batch=max_batch)


def test_to_chain_rejects_non_series_parallel():
    p = Pipeline(
        [_stage(x) for x in "sabcdt"],
        [("s", "a"), ("s", "b"), ("a", "c"), ("a", "d"), ("b", "d"), ("c", "t"), ("d", "t")],
    )
    with pytest.raises(PipelineError, match="not series-parallel"):
        fa2.to_chain(p)
    with pytest.raises(PipelineError, match="not series-parallel"):
        fa2.plan(p, 10.0, 500.0)
    fa2.brute_force(p, 10.0, 500.0)  # the oracle handles any DAG


def test_to_chain_nested_and_chain():
    p = Pipeline.chain(*[_stage(x) for x in "abc"])
    assert fa2.to_chain(p) == ("a", "b", "c")
    q = Pipeline(
        [_stage(x) for x in "abcdefg"],
        [
            ("a", "b"),
            ("a", "c"),
            ("c", "d"),
            ("c", "e"),
            ("d", "f"),
            ("e", "f"),
            ("b", "g"),
            ("f", "g"),
        ],
    )
    assert fa2.chain_str(fa2.to_chain(q)) == "a -> (b | c -> (d | e) -> f) -> g"
    assert fa2.plan(q, 30.0, 400.0).cost == fa2.brute_force(q, 30.0, 400.0).cost


def test_plan_with_cores_options_matches_brute_force():
    p = Pipeline.chain(
        _stage("a", LatencyModel(20, 2, 30, 3)), _stage("b", LatencyModel(8, 1, 10, 2))
    )
    for slo in (60.0, 120.0, 250.0):
        kw = dict(cores_options=(1, 2, 4))
        assert fa2.plan(p, 40.0, slo, **kw).cost == fa2.brute_force(p, 40.0, slo, **kw).cost


def test_configuration_graph_paths_are_plans():
    p = Pipeline.chain(_stage("a", max_batch=3), _stage("b", LatencyModel(1, 4, 2, 8), max_batch=3))
    rate, slo = 60.0, 120.0
    g = fa2.configuration_graph(p, rate)
    assert g.number_of_nodes() == 3 + 3 + 2
    for node, d in g.nodes(data=True):
        if node not in ("source", "sink"):
            assert d["replicas"] == max(
                1, math.ceil(rate * d["service_ms"] / (1000 * d["batch"]) - 1e-9)
            )
            assert d["latency_ms"] == pytest.approx(
                d["service_ms"] + 1000 * (d["batch"] - 1) / rate
            )
            assert d["cost"] == d["replicas"] * d["cores"]
    best = min(
        sum(g.nodes[n]["cost"] for n in path)
        for path in nx.all_simple_paths(g, "source", "sink")
        if nx.path_weight(g, path, "latency_ms") <= slo
    )
    assert fa2.plan(p, rate, slo).cost == best


def test_slo_split_is_feasible_and_never_cheaper():
    rng = np.random.default_rng(3)
    for _ in range(30):
        ms = [LatencyModel(*rng.uniform(0, 30, 3), rng.uniform(1, 30)) for _ in range(3)]
        p = Pipeline.chain(*[_stage(f"s{i}", m, 8) for i, m in enumerate(ms)])
        rate = float(rng.uniform(1, 100))
        l1 = sum(m.latency(1, 1) for m in ms)
        slo = float(l1 * rng.uniform(1.0, 4.0))
        split = fa2.slo_split_plan(p, rate, slo)
        _config_ok(p, split, rate, slo)
        assert split.cost >= fa2.plan(p, rate, slo).cost
    with pytest.raises(InfeasibleError):
        fa2.slo_split_plan(p, rate, 0.5 * l1)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(pipelines(), st.sampled_from([None, [2, 3], [1, 3]]), st.sampled_from([None, (1, 2)]))
def test_slo_split_follows_batch1_shares_and_reports_its_smallest_slo(inst, batches, cores):
    """Shares proportional to the batch-1 latency (PAPERS.md 1); the InfeasibleError names the
    smallest SLO at which splitting works, checked by bisection-free brackets around it."""
    p, rate, slo = inst
    kw = dict(batches=batches, cores_options=cores)
    try:
        cfg = fa2.slo_split_plan(p, rate, slo, **kw)
    except InfeasibleError as e:
        need = e.nearest_feasible
        assert need > slo and "smallest feasible SLO" in str(e)
        fa2.slo_split_plan(p, rate, need, **kw)  # feasible there
        with pytest.raises(InfeasibleError):
            fa2.slo_split_plan(p, rate, need * (1 - 1e-7), **kw)  # and not just below
        # a split plan is a plan, so splitting never needs a smaller SLO than FA2
        fa2.plan(p, rate, need, **kw)
        return
    _config_ok(p, cfg, rate, slo)
    assert cfg.cost >= fa2.plan(p, rate, slo, **kw).cost
    l1 = {s: p.stage(s).variant().latency_ms(1, p.stage(s).variant().cores) for s in p.order}
    for s in p.order:
        share = min(slo * l1[s] / sum(l1[x] for x in path) for path in p.paths() if s in path)
        sc = cfg[s]
        lat = p.stage(s).variant().latency_ms(sc.batch, sc.cores) + batch_delay_ms(sc.batch, rate)
        assert lat <= share + 1e-6  # each stage within its own share
        # and it is the cheapest configuration of the stage within that share
        cheaper = [
            o
            for o in fa2.stage_options(p, s, rate, **kw)
            if o["latency_ms"] <= share - 1e-6 and o["cost"] < sc.cost
        ]
        assert not cheaper


def test_static_peak_plan_serves_the_peak():
    p = Pipeline.chain(_stage("a"), _stage("b"))
    cfg = fa2.static_peak_plan(p, [3, 50, 20], 300.0)
    assert cfg == fa2.plan(p, 50.0, 300.0)
    _config_ok(p, cfg, 50.0, 300.0)


def _obs(t, rates):
    return Observation(t_s=t, rates_rps=np.asarray(rates, dtype=float), config=Config({}))


def test_fa2_policy_scales_out_at_once_and_in_after_the_window():
    p = Pipeline.chain(_stage("a"), _stage("b"))
    pol = fa2.FA2Policy(
        p, slo_ms=300.0, interval_s=5, stabilisation_s=20, headroom=1.0, slo_safety=1.0
    )
    c0 = pol.initial(p, 300.0)
    high = pol.decide(_obs(5, [2, 400]))
    assert high == fa2.plan(p, 400.0, 300.0) and high.cost > c0.cost
    costs = [pol.decide(_obs(t, [2] * 10)).cost for t in (10, 15, 20, 25, 30)]
    low = fa2.plan(p, 2.0, 300.0).cost
    pol2 = fa2.FA2Policy(p, slo_ms=300.0, headroom=1.5, slo_safety=0.5)
    assert pol2.decide(_obs(1, [40])) == fa2.plan(p, 60.0, 150.0)
    assert costs[:3] == [high.cost] * 3  # within 20 s of the high recommendation
    assert costs[3:] == [low, low]


def test_policies_fall_back_to_fastest_when_infeasible():
    p = Pipeline.chain(_stage("a"), _stage("b"))
    for cls in (fa2.FA2Policy, fa2.SLOSplitPolicy):
        pol = cls(p, slo_ms=1.0)
        cfg = pol.decide(_obs(1, [40]))
        assert all(cfg[s].batch == 1 for s in cfg)
        _config_ok(p, cfg, 40.0, math.inf)


def test_plan_table_columns():
    p = Pipeline.chain(_stage("a"), _stage("b"))
    cfg = fa2.plan(p, 30.0, 200.0)
    t = fa2.plan_table(p, cfg, 30.0)
    assert list(t.index) == ["a", "b"]
    assert t["cost"].sum() == cfg.cost
    assert t["latency_ms"].sum() == pytest.approx(fa2.path_latency_ms(p, cfg, 30.0), abs=1e-2)
    assert isinstance(cfg["a"], StageConfig)


def test_p99_batch_delay_is_stricter_and_planned_exactly():
    from scipy.stats import gamma

    for b, lam in [(2, 10.0), (5, 40.0), (16, 3.0)]:
        p99 = batch_delay_ms(b, lam, "p99")
        assert p99 == pytest.approx(1000 * gamma.ppf(0.99, b - 1) / lam)
        assert p99 > batch_delay_ms(b, lam)
    with pytest.raises(ValueError, match="p99"):
        batch_delay_ms(2, 1.0, "p50")
    p = Pipeline.chain(
        _stage("a", LatencyModel(20, 2, 30, 3), 6), _stage("b", LatencyModel(8, 1, 10, 2), 6)
    )
    for slo in (80.0, 200.0, 400.0):
        kw = dict(batch_delay="p99")
        got, want = fa2.plan(p, 40.0, slo, **kw), fa2.brute_force(p, 40.0, slo, **kw)
        assert got.cost == want.cost
        assert fa2.path_latency_ms(p, got, 40.0, "p99") <= slo + 1e-9
        assert got.cost >= fa2.plan(p, 40.0, slo).cost  # a stricter delay never makes it cheaper


def test_to_chain_handles_back_to_back_fanouts_without_a_join():
    edges = [("s", "a"), ("s", "b"), ("a", "c"), ("a", "d"), ("b", "c"), ("b", "d")]
    edges += [("c", "t"), ("d", "t")]
    p = Pipeline(
        [_stage(x, LatencyModel(2.0, 3.0, 10.0, 1.0 + ord(x) % 7)) for x in "sabcdt"], edges
    )
    chain = fa2.to_chain(p)
    assert fa2.chain_str(chain) == "s -> (a | b) -> (c | d) -> t"
    for slo in (60.0, 150.0, 400.0):
        try:
            want = fa2.brute_force(p, 30.0, slo)
        except InfeasibleError:
            with pytest.raises(InfeasibleError):
                fa2.plan(p, 30.0, slo)
            continue
        got = fa2.plan(p, 30.0, slo)
        assert got.cost == want.cost
        assert fa2.path_latency_ms(p, got, 30.0) == pytest.approx(
            fa2.path_latency_ms(p, want, 30.0)
        )


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(pipelines(max_stages=8), st.data())
def test_to_chain_refuses_exactly_the_n_shape(inst, data):
    """Adding an edge that makes an 'N' (a->c, a->d, b->d, b and c unordered) is refused;
    to_chain accepts every DAG the strategy builds (all series-parallel)."""
    p, _, _ = inst
    fa2.to_chain(p)
    tc = nx.transitive_closure_dag(p.graph)
    pairs = [(x, y) for x in p.order for y in p.order if x != y and not tc.has_edge(x, y)]
    pairs = [(x, y) for x, y in pairs if not tc.has_edge(y, x)]
    assume(pairs)
    x, y = data.draw(st.sampled_from(pairs))
    q = Pipeline([p.stage(s) for s in p.order], list(p.graph.edges) + [(x, y)])
    # the oracle: a partial order is series-parallel exactly when no four stages form an
    # induced N (Valdes, Tarjan and Lawler 1982)
    closure = nx.transitive_closure_dag(q.graph)
    has_n = any(
        closure.has_edge(a, c)
        and closure.has_edge(a, d)
        and closure.has_edge(b, d)
        and not closure.has_edge(b, c)
        and not closure.has_edge(a, b)
        and not closure.has_edge(b, a)
        and not closure.has_edge(c, d)
        and not closure.has_edge(d, c)
        for a in q.order
        for b in q.order
        for c in q.order
        for d in q.order
        if len({a, b, c, d}) == 4
    )
    if has_n:
        with pytest.raises(PipelineError, match="not series-parallel"):
            fa2.to_chain(q)
    else:
        fa2.to_chain(q)


def test_systems_builds_the_five_policies_alike():
    from ssloserve.policies import HPA, InferLine, Static

    p = Pipeline.chain(_stage("a"), _stage("b"))
    rates = [5, 30, 12]
    sys_ = fa2.systems(p, rates, 300.0, interval_s=2.0)
    assert list(sys_) == ["FA2", "SLO split", "static peak", "HPA-like", "InferLine-like"]
    assert isinstance(sys_["FA2"], fa2.FA2Policy) and sys_["FA2"].interval_s == 2.0
    assert isinstance(sys_["SLO split"], fa2.SLOSplitPolicy) and sys_["SLO split"].interval_s == 2.0
    assert isinstance(sys_["static peak"], Static)
    assert isinstance(sys_["HPA-like"], HPA) and isinstance(sys_["InferLine-like"], InferLine)
    # adaptive ones start from the first second's rate, static peak serves the peak
    assert sys_["FA2"].initial(p, 300.0) == fa2.plan(p, 5 * 1.2, 300.0 * 0.8)
    assert sys_["static peak"].config == fa2.plan(p, 30 * 1.2, 300.0 * 0.8)
    with pytest.raises(ValueError, match="unknown system"):
        fa2.systems(p, rates, 300.0, include=("FA3",))


def test_fa2_policy_accepts_a_predictor_object():
    from ssloserve.predictors import MaxWindow

    p = Pipeline.chain(_stage("a"), _stage("b"))
    pol = fa2.FA2Policy(p, 300.0, predictor=MaxWindow(window_s=3), headroom=1.0, slo_safety=1.0)
    assert pol.decide(_obs(3, [90, 10, 20, 15])) == fa2.plan(p, 20.0, 300.0)
    assert pol.decide(_obs(4, [])) == fa2.plan(p, 1.0, 300.0)  # no history: min_rate_rps


def test_plan_runs_on_the_configuration_graph_it_is_given():
    """plan is plan_on_graph on the chapter's configuration graph: a change to a node of that
    graph changes the plan (the DP reads its options from the graph's layers)."""
    p = Pipeline(
        [_stage(x, LatencyModel(2.0, 3.0, 10.0, 1.0 + ord(x) % 5), 4) for x in "abcd"],
        [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")],
    )
    rate, slo = 40.0, 300.0
    g = fa2.configuration_graph(p, rate)
    cfg = fa2.plan_on_graph(p, g, slo)
    assert cfg == fa2.plan(p, rate, slo)
    # make a configuration that the plan did not pick free: the plan must now take it
    node = next(n for n in fa2.graph.stage_nodes(g, "b") if n[1] != cfg["b"].batch)
    assert g.nodes[node]["latency_ms"] < slo / 3  # still fits next to the other stages' fastest
    g.nodes[node]["cost"] = 0.0
    assert fa2.plan_on_graph(p, g, slo)["b"].batch == node[1]
    # and a layer whose every node misses the SLO makes the pipeline infeasible
    for n in fa2.graph.stage_nodes(g, "c"):
        g.nodes[n]["latency_ms"] = slo + 1.0
    with pytest.raises(InfeasibleError) as e:
        fa2.plan_on_graph(p, g, slo)
    assert e.value.nearest_feasible > slo


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(1, 50), st.integers(1, 9)), min_size=1, max_size=5),
        min_size=2,
        max_size=3,
    ),
    st.integers(1, 60),
)
def test_parallel_super_stage_is_max_latency_sum_cost_pruned(branches, slo):
    """The rule against every combination of one option per branch (PAPERS.md 1, step 2)."""
    from ssloserve.fa2.dp import pareto_front

    fronts = [
        pareto_front([float(x[0]) for x in br], [float(x[1]) for x in br], [(x,) for x in br], slo)
        for br in branches
    ]
    assume(all(len(f) for f in fronts))
    got = fa2.parallel_super_stage(fronts, float(slo), lambda x, y: x + y)
    combos = [
        (max(o[0] for o in c), sum(o[1] for o in c))
        for c in itertools.product(*branches)
        if max(o[0] for o in c) <= slo
    ]
    want = sorted(
        {
            (lat, cost)
            for lat, cost in combos
            if not any((l2 <= lat and c2 < cost) or (l2 < lat and c2 <= cost) for l2, c2 in combos)
        }
    )
    assert list(zip(got.lat.tolist(), got.cost.tolist(), strict=True)) == want
    for (lat, cost), pay in zip(want, got.payload, strict=True):  # payloads name real combos
        assert max(o[0] for o in pay) == lat and sum(o[1] for o in pay) == cost


def test_fa2_policies_are_the_generic_replanning_loop():
    from ssloserve.policies import ReplanningPolicy

    p = Pipeline.chain(_stage("a"), _stage("b"))
    for cls in (fa2.FA2Policy, fa2.SLOSplitPolicy):
        assert isinstance(cls(p, 300.0), ReplanningPolicy)
    with pytest.raises(ValueError, match="slo_safety"):
        fa2.FA2Policy(p, 300.0, slo_safety=1.5)
    pol = fa2.FA2Policy(
        p, 300.0, headroom=1.0, slo_safety=1.0, options=fa2.PlanOptions(batches=[1])
    )
    assert pol.decide(_obs(1, [40])) == fa2.plan(p, 40.0, 300.0, batches=[1])
