"""The tables and charts of chapter 03_ipa (ssloserve.ipa.ui) against the solver and oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ssloserve.ipa import as_menu, brute_force, evaluate, random_instance, solve_chain, ui
from ssloserve.ipa.pipelines import video

V = video(source="fallback")


@pytest.mark.parametrize("seed", range(6))
def test_plans_table_best_row_is_the_solvers_optimum(seed):
    stages, lam, sla, a, b, g = random_instance(np.random.default_rng(seed), 2, 3, 2)
    t = ui.plans_table(stages, lam, sla, a, b, g)
    if not t.feasible.any():
        return
    plan = solve_chain(stages, lam, sla, a, b, g)
    best = evaluate(as_menu(stages), plan, lam, a, b, g)["objective"]
    assert t.objective.max() == pytest.approx(best, abs=1e-6)
    # every feasible row's latency is within the SLA, every infeasible one above it
    assert (t[t.feasible].latency_ms <= sla + 1e-6).all()
    assert (t[~t.feasible].latency_ms > sla).all()


def test_linearisation_forces_the_product_at_every_plan():
    stages, lam, sla, *_ = random_instance(np.random.default_rng(3), 3, 3, 1)
    t = ui.plans_table(stages, lam, 1e9, 1.0, 0.0, 0.0)
    for label in t.plan:
        plan = [
            (p.split(" b=")[0], int(p.split(" b=")[1].split(" x")[0]), 1)
            for p in label.split(" + ")
        ]
        lin = ui.linearisation_table(stages, plan)
        accs = [
            next(v["accuracy"] for v in st if v["name"] == name)
            for st, (name, _, _) in zip(stages, plan, strict=True)
        ]
        later = lin[lin.stage > 1]
        assert (later.w_low == later.w_high).all()  # binary u: no room left
        assert lin.P.iloc[-1] == pytest.approx(math.prod(accs), abs=1e-6)


def test_pareto_front_is_non_dominated_and_complete():
    t = ui.plans_table(V.stages, 10.0, V.sla_ms, V.alpha, V.beta, V.gamma, batches=V.batches)
    f = ui.pareto_front(t)
    feas = t[t.feasible]
    for _, r in f.iterrows():  # nothing beats a front point in both
        assert not (
            (feas.pas >= r.pas)
            & (feas.cores <= r.cores)
            & ((feas.pas > r.pas) | (feas.cores < r.cores))
        ).any()
    for _, r in feas.iterrows():  # every feasible plan is matched or beaten by the front
        assert ((f.pas >= r.pas) & (f.cores <= r.cores)).any()


@pytest.mark.parametrize(("alpha", "beta"), [(2.0, 1.0), (40.0, 0.5), (100.0, 0.25), (0, 1)])
def test_weight_sweep_agrees_with_the_milp_and_the_oracle(alpha, beta):
    row = ui.weight_sweep(V, 10.0, [alpha], [beta]).iloc[0]
    menu = as_menu(V.stages, V.batches)
    for solve in (solve_chain, brute_force):
        plan = solve(V.stages, 10.0, V.sla_ms, alpha, beta, V.gamma, batches=V.batches)
        e = evaluate(menu, plan, 10.0, alpha, beta, V.gamma)
        assert alpha * row.pas - beta * row.cores == pytest.approx(
            e["objective"], abs=1e-4
        )  # gamma * batches is below 1e-4
    bf = brute_force(V.stages, 10.0, V.sla_ms, alpha, beta, V.gamma, batches=V.batches)
    assert row.plan == " + ".join(f"{c.variant} b={c.batch} x{c.replicas}" for c in bf)


def test_pareto_explorer_carries_every_slider_position():
    sc = ui.pareto_explorer(V, 10.0, alphas=[0, 50, 100], betas=[0.5, 1.0], alpha=50.0)
    spec = sc.to_dict()
    params = {p["name"]: p for p in spec["params"]}
    assert params["alpha"]["bind"]["step"] == 50 and params["beta"]["bind"]["step"] == 0.5
    rows = [r for d in spec["datasets"].values() for r in d if "alpha" in r]
    assert {(r["alpha"], r["beta"]) for r in rows} == {
        (a, b) for a in (0.0, 50.0, 100.0) for b in (0.5, 1.0)
    }
    with pytest.raises(ValueError, match="not one of its values"):
        ui.pareto_explorer(V, 10.0, alphas=[0, 50], betas=[1.0], alpha=2.0)
    with pytest.raises(ValueError, match="evenly spaced"):
        ui.pareto_explorer(V, 10.0, alphas=[0, 1, 5], betas=[1.0], alpha=0.0)
