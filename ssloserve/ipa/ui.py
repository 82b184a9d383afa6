"""Tables and charts of chapter 03_ipa: the MILP worked by hand, the weights on a slider.

Builders return pandas tables or Altair charts and never display them.

- :func:`menu_chart` -- the variant menus: accuracy against latency and cores per replica;
- :func:`plans_table` -- every plan of a small chain, scored as IPA scores it (and with
  log-accuracy, the linearisation IPA does *not* use), to follow the MILP by hand;
- :func:`linearisation_table` -- the values the MILP's product constraints force for a plan;
- :func:`pareto_front` and :func:`weight_sweep` -- the accuracy-cost front at one rate and
  the plan the objective picks for each pair of weights (alpha, beta);
- :func:`pareto_explorer` -- both on one chart with alpha and beta sliders over the
  precomputed sweep (Vega-Lite parameters: it works on the static website);
- :func:`systems_chart` -- accuracy and cores of the four systems on the four patterns.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from ..charts import SliderChart, system_scale
from ..errors import InfeasibleError
from .pipelines import IPAPipeline
from .problem import EPS_MS, TIE_TOL, as_menu, objective, stage_options
from .scores import pas

__all__ = [
    "menu_chart",
    "plans_table",
    "linearisation_table",
    "pareto_front",
    "weight_sweep",
    "pareto_explorer",
    "systems_chart",
]


def menu_chart(ipa: IPAPipeline, batch: int = 1) -> alt.HConcatChart:
    """Each stage's variants: accuracy against latency and against cores (03_ipa).

    Latency is l(b, c) at ``batch`` on the variant's own cores (its base allocation R(m));
    the dots of a stage are joined in order of accuracy.

    Examples
    --------
    >>> from ssloserve.ipa.pipelines import video
    >>> ch = menu_chart(video(source="fallback"))
    >>> len(ch.to_dict()["hconcat"])
    2
    """
    rows = []
    for s in ipa.pipeline.order:
        for v in ipa.pipeline.stage(s).variants:
            rows.append(
                dict(
                    stage=s,
                    variant=v.name,
                    accuracy=v.accuracy,
                    cores=v.cores,
                    latency_ms=round(float(v.latency_ms(batch)), 1),
                )
            )
    df = pd.DataFrame(rows)
    y = alt.Y("accuracy:Q", scale=alt.Scale(zero=False), title="accuracy")
    color = alt.Color("stage:N", sort=list(ipa.pipeline.order))
    tip = ["stage", "variant", "accuracy", "cores", "latency_ms"]

    def panel(x, title):
        base = alt.Chart(df).encode(x=x, y=y, color=color, tooltip=tip)
        line = base.mark_line(point=True).encode(order="accuracy:Q")
        text = base.mark_text(align="left", dx=5, fontSize=9).encode(text="variant:N")
        return (line + text).properties(width=230, height=220, title=title)

    lat = alt.X("latency_ms:Q", title=f"latency at batch {batch} (ms)")
    cores = alt.X("cores:Q", title="cores per replica R(m)", scale=alt.Scale(zero=False))
    return alt.hconcat(panel(lat, "accuracy vs latency"), panel(cores, "accuracy vs cores"))


def _label(plan) -> str:
    return " + ".join(f"{v} b={b} x{n}" for v, b, n in plan)


def plans_table(
    stages: Sequence[Sequence],
    rate_rps: float,
    sla_ms: float,
    alpha: float,
    beta: float,
    gamma: float,
    max_replicas: int = 100,
    batches: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Every plan of a chain with what IPA's MILP weighs: a table to check it by hand.

    Each stage's options are :func:`~ssloserve.ipa.problem.stage_options` (replicas
    ``ceil(lam / h)``); a plan is one option per stage.

    Returns
    -------
    One row per plan, best first: ``plan``, ``latency_ms`` (service plus batch formation
    delay), ``feasible`` (within ``sla_ms``), ``pas`` (product), ``cores``,
    ``batch_sum``, ``objective`` (alpha PAS - beta cores - gamma batches; NaN when infeasible) and
    ``log_objective`` (the same with ``alpha * ln PAS``, the surrogate IPA does not use).

    Examples
    --------
    >>> a = [{"name": "a", "accuracy": 0.5, "cores": 1, "latency_ms": {1: 100}}]
    >>> b = [{"name": "b", "accuracy": 0.8, "cores": 1, "latency_ms": {1: 50, 2: 60}}]
    >>> t = plans_table([a, b], 10.0, 200.0, 1.0, 0.1, 0.0)
    >>> t[["plan", "latency_ms", "pas", "cores", "objective"]].values.tolist()
    [['a b=1 x1 + b b=1 x1', 150.0, 0.4, 2.0, 0.2], ['a b=1 x1 + b b=2 x1', 260.0, 0.4, 2.0, nan]]
    """
    menu = as_menu(stages, batches)
    opts = [stage_options(items, rate_rps, max_replicas) for items in menu]
    rows = []
    for combo in itertools.product(*opts):
        plan = [o.choice for o in combo]
        lat = sum(o.latency_ms for o in combo)
        ok = lat <= sla_ms + EPS_MS
        score = pas([o.accuracy for o in combo])
        cores = sum(o.cost for o in combo)
        bsum = sum(o.batch for o in combo)
        val = objective(score, cores, bsum, alpha, beta, gamma)
        log_val = objective(math.log(score), cores, bsum, alpha, beta, gamma)
        rows.append(
            dict(
                plan=_label(plan),
                latency_ms=round(lat, 3),
                feasible=ok,
                pas=round(score, 6),
                cores=cores,
                batch_sum=bsum,
                objective=round(val, 6) if ok else np.nan,
                log_objective=round(log_val, 6) if ok else np.nan,
            )
        )
    t = pd.DataFrame(rows)
    return t.sort_values("objective", ascending=False, na_position="last", kind="stable")


def linearisation_table(stages: Sequence[Sequence], plan: Sequence[Sequence]) -> pd.DataFrame:
    """What the MILP's product constraints force at one plan (see :mod:`~ssloserve.ipa.milp`).

    Stage 1 contributes ``P_1 = sum_m a[1, m] u[1, m]``. For a later stage ``s`` and each
    variant ``m``, ``w[s, m]`` stands for ``P_{s-1} * u[s, m]`` and is held by
    ``L u <= w <= U u``, ``w <= P_{s-1}`` and ``w >= P_{s-1} - U (1 - u)``; at a binary
    ``u`` the lower and upper bound meet. Then ``P_s = sum_m a[s, m] w[s, m]``.

    Returns
    -------
    One row per (stage, variant): ``a`` (accuracy), ``u`` (1 if chosen), ``P_prev``,
    ``L``, ``U``, ``w_low`` and ``w_high`` (the bounds the four inequalities leave; NaN at
    stage 1, which needs no ``w``) and ``P`` (the running product after the stage).

    Examples
    --------
    >>> a = [{"name": "x", "accuracy": 0.5, "cores": 1, "latency_ms": {1: 10}},
    ...      {"name": "y", "accuracy": 0.9, "cores": 1, "latency_ms": {1: 10}}]
    >>> t = linearisation_table([a, a], [("y", 1, 1), ("x", 1, 1)])
    >>> t[t.stage == 2][["variant", "u", "w_low", "w_high", "P"]].values.tolist()
    [['x', 1, 0.9, 0.9, 0.45], ['y', 0, 0.0, 0.0, 0.45]]
    """
    menu = as_menu(stages)
    rows, P, U, L = [], None, 1.0, 1.0
    for s, (items, choice) in enumerate(zip(menu, plan, strict=True), start=1):
        u = {it.name: int(it.name == choice[0]) for it in items}
        if P is None:
            new = sum(it.accuracy * u[it.name] for it in items)
            lo = hi = {it.name: np.nan for it in items}
        else:
            lo = {n: max(L * k, P - U * (1 - k)) for n, k in u.items()}
            hi = {n: min(U * k, P) for n, k in u.items()}
            new = sum(it.accuracy * hi[it.name] for it in items)
        for it in items:
            rows.append(
                dict(
                    stage=s,
                    variant=it.name,
                    a=it.accuracy,
                    u=u[it.name],
                    P_prev=np.nan if P is None else round(P, 6),
                    L=round(L, 6),
                    U=round(U, 6),
                    w_low=round(lo[it.name], 6),
                    w_high=round(hi[it.name], 6),
                    P=round(new, 6),
                )
            )
        P = new
        U *= max(it.accuracy for it in items)
        L *= min(it.accuracy for it in items)
    return pd.DataFrame(rows)


def pareto_front(plans: pd.DataFrame) -> pd.DataFrame:
    """The feasible plans no other plan beats in both PAS (higher) and cores (fewer).

    ``plans`` needs ``feasible``, ``pas`` and ``cores`` (as from :func:`plans_table`); of
    plans equal in both, the first is kept. Sorted by cores.

    Examples
    --------
    >>> t = pd.DataFrame(dict(plan=list("abcd"), feasible=[True, True, True, False],
    ...                       pas=[0.3, 0.5, 0.4, 0.9], cores=[1.0, 3.0, 3.0, 1.0]))
    >>> pareto_front(t).plan.tolist()
    ['a', 'b']
    """
    f = plans[plans.feasible].sort_values(["cores", "pas"], ascending=[True, False])
    keep, best = [], -np.inf
    for i, row in f.iterrows():
        if row.pas > best:
            keep.append(i)
            best = row.pas
    return f.loc[keep]


def weight_sweep(
    ipa: IPAPipeline, rate_rps: float, alphas: Sequence[float], betas: Sequence[float]
) -> pd.DataFrame:
    """The plan IPA's objective picks at ``rate_rps`` for every pair (alpha, beta).

    Exhaustive: every plan is scored once (:func:`plans_table`), then each pair of weights
    takes the best feasible one (the first in enumeration order among ties, as
    :func:`~ssloserve.ipa.oracle.brute_force` does); tests/test_ipa_ui.py checks pairs
    against :func:`~ssloserve.ipa.milp.solve_chain`. gamma is the pipeline's.

    Returns
    -------
    One row per pair: ``alpha``, ``beta``, ``plan``, ``pas``, ``cores``.

    Examples
    --------
    >>> from ssloserve.ipa.pipelines import video
    >>> t = weight_sweep(video(source="fallback"), 10.0, [2.0, 200.0], [1.0])
    >>> bool(t.pas.iloc[1] > t.pas.iloc[0]), bool(t.cores.iloc[1] > t.cores.iloc[0])
    (True, True)
    """
    t = plans_table(ipa.stages, rate_rps, ipa.sla_ms, 0.0, 0.0, 0.0, batches=ipa.batches)
    t = t[t.feasible].sort_index()  # enumeration order
    if t.empty:
        raise InfeasibleError(
            f"no plan meets the SLA {ipa.sla_ms:g} ms at {rate_rps:g} RPS", constraint="sla_ms"
        )
    pas_, cores, bsum = t.pas.to_numpy(), t.cores.to_numpy(), t.batch_sum.to_numpy()
    rows = []
    for a in alphas:
        for b in betas:
            val = a * pas_ - b * cores - ipa.gamma * bsum
            best = val.max()
            i = int(np.flatnonzero(val >= best - TIE_TOL * max(1.0, abs(best)))[0])
            rows.append(
                dict(
                    alpha=float(a),
                    beta=float(b),
                    plan=t.plan.iloc[i],
                    pas=float(pas_[i]),
                    cores=float(cores[i]),
                )
            )
    return pd.DataFrame(rows)


def _range(values) -> dict:
    v = sorted(float(x) for x in values)
    step = v[1] - v[0] if len(v) > 1 else 1.0
    if len(v) > 1 and not np.allclose(np.diff(v), step):
        raise ValueError(f"slider values must be evenly spaced, got {v}")
    return dict(min=v[0], max=v[-1], step=step)


def pareto_explorer(
    ipa: IPAPipeline,
    rate_rps: float = 10.0,
    alphas: Sequence[float] = tuple(range(0, 201, 2)),
    betas: Sequence[float] = tuple(round(0.2 * k, 1) for k in range(1, 11)),
    alpha: float = 2.0,
    beta: float = 1.0,
) -> SliderChart:
    """The accuracy-cost front at one rate, and the optimum for weights set by sliders.

    Grey dots: every feasible plan (:func:`plans_table`); the line: :func:`pareto_front`;
    the red dot and the text above: the plan :func:`weight_sweep` found for the sliders'
    alpha and beta. The sweep is precomputed, so the sliders work with no kernel.

    Parameters
    ----------
    ipa, rate_rps : the pipeline and the rate (RPS)
    alphas, betas : the values the sliders step through (evenly spaced)
    alpha, beta : where the sliders start (values of ``alphas`` and ``betas``)

    Examples
    --------
    >>> from ssloserve.ipa.pipelines import video
    >>> sc = pareto_explorer(video(source="fallback"), 10.0, [0, 2], [1.0], 2.0, 1.0)
    >>> [p["name"] for p in sc.to_dict()["params"]]
    ['alpha', 'beta']
    """
    for name, x, grid in (("alpha", alpha, alphas), ("beta", beta, betas)):
        if not np.isclose(list(grid), x).any():
            raise ValueError(f"the slider's start {name}={x} is not one of its values")
    plans = plans_table(
        ipa.stages, rate_rps, ipa.sla_ms, alpha, beta, ipa.gamma, batches=ipa.batches
    )
    feas = plans[plans.feasible][["plan", "pas", "cores"]]
    front = pareto_front(plans)[["plan", "pas", "cores"]]
    sweep = weight_sweep(ipa, rate_rps, alphas, betas)
    sweep = sweep.assign(
        alpha=sweep.alpha.round(4),
        beta=sweep.beta.round(4),
        text=[
            f"{p}: PAS {a:.3f}, {c:g} cores"
            for p, a, c in zip(sweep.plan, sweep.pas, sweep.cores, strict=True)
        ],
    )
    a = alt.param(
        name="alpha", value=float(alpha), bind=alt.binding_range(name="alpha ", **_range(alphas))
    )
    b = alt.param(
        name="beta", value=float(beta), bind=alt.binding_range(name="beta ", **_range(betas))
    )
    x = alt.X("cores:Q", title=f"cores at {rate_rps:g} RPS")
    y = alt.Y("pas:Q", title="PAS (product of accuracies)", scale=alt.Scale(zero=False))
    dots = alt.Chart(feas).mark_circle(color="#bbb", size=20).encode(x=x, y=y, tooltip=["plan"])
    line = alt.Chart(front).mark_line(point=True, color="#4c78a8").encode(x=x, y=y)
    pick = alt.Chart(sweep).transform_filter(
        "abs(datum.alpha - alpha) < 1e-6 && abs(datum.beta - beta) < 1e-6"
    )
    star = pick.mark_point(color="#e45756", size=220, filled=True).encode(
        x=x, y=y, tooltip=["plan", "pas", "cores"]
    )
    text = pick.mark_text(align="left", baseline="top", fontSize=10).encode(
        x=alt.value(8), y=alt.value(6), text="text:N"
    )
    chart = (
        (dots + line + star + text)
        .add_params(a, b)
        .properties(width=440, height=260, title="IPA's optimum for alpha, beta on the front")
    )
    return SliderChart(chart)


def systems_chart(table: pd.DataFrame) -> alt.HConcatChart:
    """Accuracy and mean cores per system and pattern (a table of
    :func:`~ssloserve.ipa.experiments.on_patterns`), one colour per system.

    Examples
    --------
    >>> t = pd.DataFrame(dict(pattern=["bursty"] * 2, system=["IPA", "FA2-low"],
    ...                       accuracy=[0.34, 0.32], mean_cores=[3.0, 3.0]))
    >>> len(systems_chart(t).to_dict()["hconcat"])
    2
    """
    names = list(dict.fromkeys(table.system))
    color = alt.Color(
        "system:N",
        title=None,
        scale=system_scale(names),
        sort=names,
        legend=alt.Legend(orient="bottom", direction="horizontal"),
    )

    def bars(col, title):
        return (
            alt.Chart(table)
            .mark_bar()
            .encode(
                x=alt.X("system:N", sort=names, title=None, axis=alt.Axis(labels=False)),
                y=alt.Y(f"{col}:Q", title=title),
                color=color,
                column=alt.Column("pattern:N", title=None, sort=list(dict.fromkeys(table.pattern))),
                tooltip=["pattern", "system", col],
            )
            .properties(width=40, height=150)
        )

    return alt.hconcat(bars("accuracy", "accuracy (PAS)"), bars("mean_cores", "mean cores"))
