"""IPA's MILP against the exhaustive oracle; PAS; the tie-break; the errors (chapter 03_ipa)."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ssloserve.errors import InfeasibleError, ProfileError
from ssloserve.ipa import (
    as_menu,
    brute_force,
    changes,
    evaluate,
    is_tie,
    pas,
    rank_normalised,
    solve_chain,
    stage_options,
)
from ssloserve.latency import LatencyModel, batch_delay_ms
from ssloserve.latency_table import LatencyTable
from ssloserve.pipeline import Config, Pipeline, Stage, StageConfig, Variant, pipeline_accuracy

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------------ instances


@st.composite
def instances(draw):
    """2-3 stages, 2-4 variants, 1-4 batch sizes. Grid values make ties common; floats rare.
    The SLA ranges from below the fastest plan (infeasible) to three times it."""
    S = draw(st.integers(2, 3))
    grid = draw(st.booleans())
    stages = []
    for _ in range(S):
        V = draw(st.integers(2, 4))
        bs = sorted(draw(st.sets(st.sampled_from([1, 2, 4, 8, 16]), min_size=1, max_size=4)))
        stage = []
        for m in range(V):
            if grid:
                acc = draw(st.sampled_from([0.5, 0.6, 0.8, 0.9]))
                lat = {b: float(draw(st.sampled_from([10, 20, 40]))) * b for b in bs}
                cores = draw(st.sampled_from([1.0, 2.0]))
            else:
                acc = draw(st.floats(0.05, 1.0))
                lat = {b: draw(st.floats(1.0, 300.0)) for b in bs}
                cores = draw(st.floats(0.25, 4.0))
            stage.append({"name": f"v{m}", "accuracy": acc, "cores": cores, "latency_ms": lat})
        stages.append(stage)
    rate = float(draw(st.sampled_from([5, 10, 20, 50]))) if grid else draw(st.floats(0.5, 150.0))
    fastest = sum(
        min(ms + batch_delay_ms(b, rate) for v in stage for b, ms in v["latency_ms"].items())
        for stage in stages
    )
    sla = fastest * draw(st.sampled_from([0.9, 1.0, 1.3, 1.6, 2.0, 3.0]))
    alpha = draw(st.sampled_from([0.0, 1.0, 2.0, 10.0]))
    beta = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
    gamma = draw(st.sampled_from([0.0, 1e-6, 0.01, -0.01]))
    max_replicas = draw(st.sampled_from([1, 3, 100, 100, 100]))
    method = draw(st.sampled_from(["multiply", "multiply", "sum", "normalized_sum"]))
    current = None
    if draw(st.booleans()):
        current = []
        for stage in stages:
            v = draw(st.sampled_from(stage))
            current.append((v["name"], draw(st.sampled_from(sorted(v["latency_ms"]))), 1))
    return stages, rate, sla, alpha, beta, gamma, max_replicas, method, current


def _value(stages, plan, rate, a, b, g, method="multiply"):
    return evaluate(as_menu(stages), plan, rate, a, b, g, method)["objective"]


@SETTINGS
@given(instances())
def test_solve_chain_equals_brute_force(inst):
    stages, rate, sla, a, b, g, max_rep, method, current = inst
    kw = dict(max_replicas=max_rep, current=current, pas_method=method)
    try:
        want = brute_force(stages, rate, sla, a, b, g, **kw)
    except InfeasibleError as e:
        event(f"infeasible: {e.constraint}")
        with pytest.raises(InfeasibleError) as got:
            solve_chain(stages, rate, sla, a, b, g, **kw)
        assert got.value.constraint == e.constraint
        assert got.value.nearest_feasible == pytest.approx(e.nearest_feasible)
        return
    got = solve_chain(stages, rate, sla, a, b, g, **kw)
    menu = as_menu(stages)
    event("current given" if current is not None else "no current")
    ev_got = evaluate(menu, got, rate, a, b, g, method)
    ev_want = evaluate(menu, want, rate, a, b, g, method)
    assert ev_got["latency_ms"] <= sla + 1e-6 and ev_got["throughput_ok"]
    assert all(1 <= n <= max_rep for _, _, n in got)
    assert ev_got["objective"] == pytest.approx(ev_want["objective"], rel=1e-7, abs=1e-7)
    # the tie-break: as few changes from the current plan as the oracle's choice
    assert changes(got, current) == changes(want, current)


@SETTINGS
@given(instances())
def test_tie_break_prefers_current_optimal_plan(inst):
    """Make the current plan one of the optimal plans (the last one enumerated): the solver
    must return it unchanged, whichever optimal plan it would find on its own."""
    stages, rate, sla, a, b, g, max_rep, method, _ = inst
    menu = as_menu(stages)
    opts = [stage_options(items, rate, max_rep) for items in menu]
    plans = []
    for combo in itertools.product(*opts):
        if sum(o.latency_ms for o in combo) <= sla + 1e-6:
            plan = [o.choice for o in combo]
            plans.append((evaluate(menu, plan, rate, a, b, g, method)["objective"], plan))
    if not plans:
        return
    best = max(v for v, _ in plans)
    optimal = [p for v, p in plans if is_tie(v, best)]
    event(f"{'several' if len(optimal) > 1 else 'one'} optimal plan(s)")
    got = solve_chain(stages, rate, sla, a, b, g, max_rep, current=optimal[-1], pas_method=method)
    assert changes(got, optimal[-1]) == 0
    assert _value(stages, got, rate, a, b, g, method) == pytest.approx(best, rel=1e-7, abs=1e-7)


def test_tie_break_on_a_hand_made_tie():
    """Two identical variants: without ``current`` either is optimal; with it, the current one."""

    def v(n):
        return {"name": n, "accuracy": 0.8, "cores": 1, "latency_ms": {1: 50.0, 2: 60.0}}

    stages = [[v("a"), v("b")], [v("c"), v("d")]]
    for cur in ([("a", 1, 1), ("d", 1, 1)], [("b", 1, 1), ("c", 1, 1)]):
        got = solve_chain(stages, 10.0, 500.0, 1.0, 0.1, 0.0, current=cur)
        assert [(x.variant, x.batch) for x in got] == [(c[0], c[1]) for c in cur]
    # batch 2 is as good as batch 1 when gamma = 0 (one replica either way): stay at 2
    got = solve_chain(stages, 10.0, 500.0, 1.0, 0.1, 0.0, current=[("a", 2, 1), ("c", 2, 1)])
    assert [(x.variant, x.batch) for x in got] == [("a", 2), ("c", 2)]
    # gamma > 0 breaks the tie toward the smaller batch whatever the current plan
    got = solve_chain(stages, 10.0, 500.0, 1.0, 0.1, 1e-6, current=[("a", 2, 1), ("c", 2, 1)])
    assert [(x.variant, x.batch) for x in got] == [("a", 1), ("c", 1)]


# ---------------------------------------------------------------- exact product PAS


def test_product_is_exact_where_log_accuracy_is_not():
    """A low-accuracy first stage: maximising alpha log PAS - beta cores buys the accurate
    classifier, the stated objective (alpha PAS - beta cores) does not. The MILP must agree
    with the exact product, by enumeration here."""
    first = [{"name": "weak", "accuracy": 0.1, "cores": 1, "latency_ms": {1: 10.0}}]
    second = [
        {"name": "cheap", "accuracy": 0.5, "cores": 1, "latency_ms": {1: 10.0}},
        {"name": "good", "accuracy": 0.9, "cores": 2, "latency_ms": {1: 10.0}},
    ]
    alpha, beta = 2.0, 0.5

    def best(score):
        plans = [(m["name"], m["accuracy"], m["cores"]) for m in second]
        return max(plans, key=lambda p: alpha * score(0.1 * p[1]) - beta * (1 + p[2]))[0]

    assert best(lambda x: x) == "cheap" and best(math.log) == "good"
    got = solve_chain([first, second], 10.0, 100.0, alpha, beta, 0.0)
    assert got[1].variant == best(lambda x: x)


@pytest.mark.parametrize("seed", range(5))
def test_solver_pas_is_the_product_on_long_chains(seed):
    """Five stages (the chained products of the formulation four deep): the MILP's plan
    scores the brute-force optimum (1,024 plans) under the exact product."""
    import numpy as np

    from ssloserve.ipa import random_instance

    rng = np.random.default_rng(seed)
    stages, rate, sla, a, b, g = random_instance(rng, 5, 2, 2)
    sla = 3 * sla
    want = brute_force(stages, rate, sla, 10.0, 0.2, g)
    got = solve_chain(stages, rate, sla, 10.0, 0.2, g)
    assert _value(stages, got, rate, 10.0, 0.2, g) == pytest.approx(
        _value(stages, want, rate, 10.0, 0.2, g), abs=1e-9
    )


def test_scipy_solver_agrees_with_highs():
    import numpy as np

    from ssloserve.ipa import random_instance

    rng = np.random.default_rng(3)
    for _ in range(5):
        stages, rate, sla, a, b, g = random_instance(rng, 3, 3, 3)
        sla *= 3
        x = solve_chain(stages, rate, sla, a, b, g, solver="HIGHS")
        y = solve_chain(stages, rate, sla, a, b, g, solver="SCIPY")
        assert _value(stages, x, rate, a, b, g, "multiply") == pytest.approx(
            _value(stages, y, rate, a, b, g, "multiply"), abs=1e-9
        )


# ---------------------------------------------------------------- errors and inputs


def test_infeasible_sla_names_the_smallest_feasible_sla():
    det = [{"name": "n", "accuracy": 0.5, "cores": 1, "latency_ms": {1: 50.0, 4: 120.0}}]
    cls = [{"name": "r", "accuracy": 0.7, "cores": 1, "latency_ms": {1: 30.0, 2: 40.0}}]
    # fastest: 50 + 30 ms at batch 1 (at 20 RPS, 1000/50 = 20 RPS per detector replica)
    with pytest.raises(InfeasibleError) as e:
        solve_chain([det, cls], 20.0, 79.0, 1.0, 0.1, 0.0)
    assert e.value.constraint == "sla_ms" and e.value.nearest_feasible == pytest.approx(80.0)
    assert "smallest feasible SLA is 80 ms" in str(e.value)
    plan = solve_chain([det, cls], 20.0, e.value.nearest_feasible, 1.0, 0.1, 0.0)
    assert [(c.variant, c.batch) for c in plan] == [("n", 1), ("r", 1)]


def test_infeasible_replicas():
    slow = [{"name": "x", "accuracy": 0.5, "cores": 1, "latency_ms": {1: 1000.0}}]  # 1 RPS each
    with pytest.raises(InfeasibleError) as e:
        solve_chain([slow, slow], 5.0, 1e6, 1.0, 0.1, 0.0, max_replicas=4)
    assert e.value.constraint == "max_replicas" and e.value.nearest_feasible == 5
    assert solve_chain([slow, slow], 5.0, 1e6, 1.0, 0.1, 0.0, max_replicas=5)[0].replicas == 5
    with pytest.raises(InfeasibleError) as e:
        solve_chain([slow, slow], 5.0, 1e6, 1.0, 0.1, 0.0, replicas=3)
    assert e.value.constraint == "replicas"


def test_fixed_replicas_switch_variants_only():
    stage = [
        {"name": "fast", "accuracy": 0.5, "cores": 1, "latency_ms": {1: 50.0}},  # 20 RPS
        {"name": "slow", "accuracy": 0.9, "cores": 1, "latency_ms": {1: 200.0}},  # 5 RPS
    ]
    # two slow replicas carry 10 RPS: the accurate variant up to there, the fast one beyond
    assert solve_chain([stage], 10.0, 1000, 1.0, 0.1, 0, replicas=2)[0] == ("slow", 1, 2)
    assert solve_chain([stage], 11.0, 1000, 1.0, 0.1, 0, replicas=2)[0] == ("fast", 1, 2)


def test_bad_arguments():
    st1 = [[{"name": "x", "accuracy": 0.5, "cores": 1, "latency_ms": {1: 10.0}}]] * 2
    for kw in (dict(rate_rps=0.0), dict(sla_ms=-1.0), dict(beta=-1.0), dict(solver="gurobi")):
        args = dict(rate_rps=5.0, sla_ms=100.0, alpha=1.0, beta=0.1, gamma=0.0) | kw
        with pytest.raises(ValueError):
            solve_chain(st1, **args)
    bad = [[{"name": "x", "accuracy": 1.5, "cores": 1, "latency_ms": {1: 10.0}}]]
    with pytest.raises(ProfileError, match="accuracy"):
        solve_chain(bad, 5.0, 100.0, 1.0, 0.1, 0.0)


def test_variants_and_tables_as_input():
    """A Variant is read at its own cores; a LatencyTable offers its measured batches only."""
    m = LatencyModel(10.0, 2.0, 20.0, 5.0)
    v = Variant("m", 0.7, m, cores=2.0)
    t = Variant("t", 0.6, LatencyTable([1, 4], [1, 1], [30.0, 60.0], name="t"), cores=1.0)
    menu = as_menu([[v, t]])
    assert menu[0][0].latency_ms[4] == pytest.approx(m.latency(4, 2.0))
    assert sorted(menu[0][1].latency_ms) == [1, 4]
    got = solve_chain([[v, t]], 10.0, 500.0, 1.0, 0.1, 0.0)
    want = brute_force([[v, t]], 10.0, 500.0, 1.0, 0.1, 0.0)
    assert got == want


def test_callable_latency_and_batches():
    stage = [{"name": "f", "accuracy": 0.5, "cores": 1, "latency_ms": lambda b: 10.0 + 5 * b}]
    assert sorted(as_menu([stage], batches=[1, 3])[0][0].latency_ms) == [1, 3]
    assert solve_chain([stage], 50.0, 1000.0, 1.0, 1.0, 0.0, batches=[1, 3])[0].replicas == 1


def test_no_solver_banner_in_a_fresh_process():
    code = (
        "from ssloserve.ipa import solve_chain\n"
        "s=[[{'name':'a','accuracy':0.5,'cores':1,'latency_ms':{1:10.0}},"
        "{'name':'b','accuracy':0.6,'cores':2,'latency_ms':{1:10.0}}]]*2\n"
        "solve_chain(s, 5.0, 100.0, 1.0, 0.1, 0.0)\n"
        "solve_chain(s, 5.0, 100.0, 1.0, 0.1, 0.0, current=[('a',1,1)]*2)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "" and "HiGHS" not in out.stderr


# ---------------------------------------------------------------------------- PAS


def test_pas_product_is_pipeline_accuracy():
    m = LatencyModel(0, 0, 0, 1.0)
    p = Pipeline.chain(
        Stage("a", (Variant("x", 0.568, m),)), Stage("b", (Variant("y", 0.7613, m),))
    )
    cfg = Config({"a": StageConfig("x"), "b": StageConfig("y")})
    assert pas([0.568, 0.7613]) == cfg.accuracy(p) == pipeline_accuracy([0.568, 0.7613])
    assert pas([0.568, 0.7613]) == pytest.approx(0.568 * 0.7613)


def test_pas_sums():
    menus = [[0.457, 0.568, 0.641, 0.673, 0.689], [0.6975, 0.7831]]
    assert pas([0.689, 0.6975], "normalized_sum", menus) == 1.0  # 1 + 0
    assert pas([0.641, 0.7831], "normalized_sum", menus) == 1.5  # 0.5 + 1
    assert pas([0.5, 0.25], "sum") == 0.75
    assert rank_normalised([0.3, 0.1, 0.2, 0.1]) == [1.0, 0.0, 0.5, 0.0]
    with pytest.raises(ValueError, match="menus"):
        pas([0.5], "normalized_sum")
    with pytest.raises(ValueError, match="not in"):
        pas([0.5], "normalized_sum", [[0.4, 0.6]])
    with pytest.raises(ValueError, match="unknown"):
        pas([0.5], "max")


def test_fixed_replicas_per_stage_match_the_oracle():
    import numpy as np

    from ssloserve.ipa import random_instance

    rng = np.random.default_rng(7)
    for _ in range(10):
        stages, rate, sla, a, b, g = random_instance(rng, 3, 3, 3)
        reps = [int(x) for x in rng.integers(1, 6, size=3)]
        try:
            want = brute_force(stages, rate, 3 * sla, a, b, g, replicas=reps)
        except InfeasibleError as e:
            with pytest.raises(InfeasibleError) as got:
                solve_chain(stages, rate, 3 * sla, a, b, g, replicas=reps)
            assert got.value.constraint == e.constraint
            continue
        got = solve_chain(stages, rate, 3 * sla, a, b, g, replicas=reps)
        assert [c.replicas for c in got] == reps
        assert _value(stages, got, rate, a, b, g) == pytest.approx(
            _value(stages, want, rate, a, b, g), abs=1e-9
        )
