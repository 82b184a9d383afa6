"""IPA benchmarks: the MILP against brute force, and the four systems on the Twitter patterns.

Run from the repository root:

    SSLOSERVE_DATA=/work/shared/data nice .venv/bin/python benchmarks/bench_ipa.py

Prints markdown (recorded in benchmarks/ipa.md). ``--quick`` runs fewer instances and the
first 300 s of each pattern. Times are medians on this shared, noisy machine; read them as
ratios within the run.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pandas as pd

from ssloserve.errors import InfeasibleError
from ssloserve.ipa import (
    as_menu,
    brute_force,
    changes,
    evaluate,
    on_patterns,
    random_instance,
    solve_chain,
)
from ssloserve.ipa.pipelines import PIPELINES

SIZES = [(2, 3, 3), (3, 3, 3), (3, 4, 4), (4, 4, 3), (4, 4, 4), (5, 4, 4), (5, 6, 8), (8, 6, 8)]
BRUTE_LIMIT = 1_100_000  # plans; brute force beyond this takes too long here


def _run(f, args, kw):
    t = time.perf_counter()
    try:
        out = f(*args, **kw)
    except InfeasibleError:
        out = None
    return out, time.perf_counter() - t


def solve_times(n: int, seed: int = 0) -> pd.DataFrame:
    """Median solve time per size, with and without a current plan, against brute force."""
    rng = np.random.default_rng(seed)
    _run(solve_chain, random_instance(np.random.default_rng(seed + 1), 2, 2, 2), {})  # warm up
    rows = []
    for S, V, B in SIZES:
        plans = (V * B) ** S
        brute = plans <= BRUTE_LIMIT
        t_milp, t_tie, t_bf, same, infeasible = [], [], [], 0, 0
        for _ in range(n):
            stages, lam, sla, a, b, g = random_instance(rng, S, V, B)
            sla *= 1.5
            current = [(st[int(rng.integers(len(st)))]["name"], 1, 1) for st in stages]
            args = (stages, lam, sla, a, b, g)
            x, t1 = _run(solve_chain, args, {})
            y, t2 = _run(solve_chain, args, {"current": current})
            t_milp.append(t1)
            t_tie.append(t2)
            infeasible += x is None
            if brute:
                z, t3 = _run(brute_force, args, {"current": current})
                t_bf.append(t3)
                if x is None or z is None:
                    same += x is None and z is None
                else:
                    menu = as_menu(stages)
                    vy = evaluate(menu, y, lam, a, b, g)["objective"]
                    vz = evaluate(menu, z, lam, a, b, g)["objective"]
                    same += math.isclose(vy, vz, rel_tol=1e-7, abs_tol=1e-7) and changes(
                        y, current
                    ) == changes(z, current)
        row = {
            "stages x variants x batches": f"{S} x {V} x {B}",
            "plans": f"{plans:.3g}",
            "infeasible": infeasible,
            "MILP median ms": 1000 * float(np.median(t_milp)),
            "MILP max ms": 1000 * float(np.max(t_milp)),
            "with tie-break median ms": 1000 * float(np.median(t_tie)),
        }
        if brute:
            row["brute force median ms"] = 1000 * float(np.median(t_bf))
            row["brute / MILP (tie-break)"] = float(np.median(t_bf) / np.median(t_tie))
            row["same optimum and changes %"] = 100.0 * same / n
        rows.append(row)
    return pd.DataFrame(rows)


def headline(t: pd.DataFrame) -> pd.DataFrame:
    """Per pattern: IPA's accuracy gain over FA2-low, its cost against FA2-high, violations."""
    rows = []
    for pat, g in t.groupby("pattern", sort=False):
        g = g.set_index("system")
        ipa, low, high = g.loc["IPA"], g.loc["FA2-low"], g.loc["FA2-high"]
        rows.append(
            {
                "pattern": pat,
                "IPA accuracy vs FA2-low %": 100 * (ipa.accuracy / low.accuracy - 1),
                "IPA cores vs FA2-high %": 100 * (ipa.mean_cores / high.mean_cores - 1),
                "IPA cores vs FA2-low %": 100 * (ipa.mean_cores / low.mean_cores - 1),
                "violations IPA / FA2-low / FA2-high %": (
                    f"{ipa.violation_pct:.2f} / {low.violation_pct:.2f} / {high.violation_pct:.2f}"
                ),
                "holds": bool(ipa.accuracy > low.accuracy and ipa.mean_cores <= high.mean_cores),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--pipelines", default="video,nlp")
    ns = ap.parse_args()
    n = 5 if ns.quick else 20
    duration = 300 if ns.quick else None

    print("# IPA benchmarks (issue 12, chapter 03_ipa)\n")
    print("Command (from the repository root):\n")
    print("    SSLOSERVE_DATA=/work/shared/data nice .venv/bin/python benchmarks/bench_ipa.py\n")
    print(
        f"Output of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        + (" (--quick)" if ns.quick else "")
        + ".\n"
    )

    t0 = time.perf_counter()
    st = solve_times(n)
    print(f"## solve_chain (HiGHS via cvxpy) against brute force, {n} random chains per size\n")
    print(
        "Random instances of ssloserve.ipa.random_instance with the SLA at 1.5 x the drawn one;"
        " times include building the cvxpy problem. Brute force only up to "
        f"{BRUTE_LIMIT:,} plans.\n"
    )
    print(st.to_markdown(index=False, floatfmt=".3g"))
    print(f"\n({time.perf_counter() - t0:.0f} s)\n")

    for name in ns.pipelines.split(","):
        ipa = PIPELINES[name]()
        t0 = time.perf_counter()
        t = on_patterns(ipa, duration_s=duration)
        src = ", ".join(sorted(set(t.source)))
        print(
            f"## {name} pipeline on the four load patterns, simulator ({src} trace"
            + (f", first {duration} s" if duration else ", 20 min each")
            + ")\n"
        )
        print(
            f"SLA {ipa.sla_ms:g} ms, weights alpha {ipa.alpha:g}, beta {ipa.beta:g}, gamma "
            f"{ipa.gamma:g}; every system replans every 10 s for IPA's LSTM prediction x 1.2 "
            "against 0.8 x the SLA, 60 s scale-in stabilisation. accuracy = mean PAS of the "
            "requests served in time.\n"
        )
        print(t.drop(columns=["source"]).to_markdown(index=False, floatfmt=".4g"))
        print()
        print(headline(t).to_markdown(index=False, floatfmt=".3g"))
        print(f"\n({time.perf_counter() - t0:.0f} s)\n")


if __name__ == "__main__":
    main()
