"""Simulator against emulator on the same experiment: how faithful is the simulator?

Chapter: 00_tour ("simulator and emulator side by side"). The same pipeline, workload and
policy go to ``run(..., runtime="sim")`` and ``run(..., runtime="emu")``; :func:`fidelity_errors`
compares their p50 and p99 latency (relative error) and SLO violation % (difference in
points). :data:`SETTINGS` are the four settings of the fidelity table (sleep and burn
models, one stage and a two-stage chain), sized to run in a few seconds on two cores.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..latency import LatencyModel
from ..pipeline import Config, Pipeline, Stage, StageConfig, Variant
from ..policy import Static
from ..workloads import Workload
from .api import run
from .emu.limits import machine_busy_s

__all__ = [
    "Setting",
    "SETTINGS",
    "setting",
    "fidelity_errors",
    "compare",
    "fidelity_table",
    "read_recorded_table",
    "RECORDED_TABLE",
    "recorded_or_live_table",
    "background_cores",
    "own_cpu_s",
]


@dataclass(frozen=True)
class Setting:
    """One fidelity experiment: a pipeline, a static config and a workload.

    ``model`` is ``"sleep"`` or ``"burn"``; ``stages`` 1 or 2.
    """

    name: str
    model: str
    stages: int
    rate_rps: float
    seconds: int
    slo_ms: float
    seed: int = 0

    def build(self):
        """(pipeline, policy, workload) of this setting."""
        if self.model == "sleep":  # l_a(1, 2) = 50 ms, l_b(1, 1) = 25 ms
            lat = [LatencyModel(20.0, 5.0, 60.0, 5.0), LatencyModel(7.5, 1.25, 15.0, 1.25)]
            cores = [2.0, 1.0]
            reps = [2, 1]
        else:  # burn: l_a(1, 1) = 40 ms; l_b(1, 0.5) = 48 ms, all of it parallel, because
            # a quota below one core slows the serial part too (the model says it does not)
            lat = [LatencyModel(17.0, 3.0, 17.0, 3.0), LatencyModel(12.0, 0.0, 12.0, 0.0)]
            cores = [1.0, 0.5]  # 1.5 of the 2 cores: the router and load generator need some
            reps = [1, 1]
        stages, cfg = [], {}
        for k in range(self.stages):
            name = "ab"[k]
            v = Variant(f"{self.model}{k}", 0.9 - 0.1 * k, lat[k], cores[k], model=self.model)
            stages.append(Stage(name, (v,)))
            cfg[name] = StageConfig(v.name, reps[k], cores[k], 4)
        p = Pipeline.chain(*stages)
        w = Workload.from_rates([self.rate_rps] * self.seconds, seed=self.seed, slo_ms=self.slo_ms)
        return p, Static(Config(cfg), interval_s=1.0), w


#: The fidelity table's settings: moderate load (each replica busy a quarter to 40% of
#: the time), so the median request meets an idle replica in both runtimes; with
#: deterministic service the latency distribution has an atom at l(1, c), and a median
#: that sits on the edge of that atom would turn a 1 ms difference into a 30% error.
SETTINGS = (
    Setting("sleep, 1 stage", "sleep", 1, 16, 6, 150.0),
    Setting("sleep, 2 stages", "sleep", 2, 12, 8, 190.0),
    Setting("burn, 1 stage", "burn", 1, 8, 10, 120.0),
    Setting("burn, 2 stages", "burn", 2, 8, 10, 220.0),
)


def setting(name: str) -> Setting:
    """The setting of :data:`SETTINGS` called ``name``."""
    for s in SETTINGS:
        if s.name == name:
            return s
    raise KeyError(f"no setting {name!r}; settings are {[s.name for s in SETTINGS]}")


def fidelity_errors(sim, emu) -> dict:
    """Errors of the simulator against the emulator (taken as the truth).

    Returns
    -------
    dict: ``p50_err``, ``p99_err`` (relative, ``|sim - emu| / emu``), ``violation_diff``
    (``|sim - emu|`` in percentage points) and both summaries' values.

    Examples
    --------
    >>> class R:
    ...     def __init__(self, p50, p99, v): self.s = dict(p50_ms=p50, p99_ms=p99, violation_pct=v)
    ...     def summary(self): return self.s
    >>> e = fidelity_errors(R(10.0, 30.0, 1.0), R(10.5, 30.0, 2.5))
    >>> round(e["p50_err"], 4), e["p99_err"], e["violation_diff"]
    (0.0476, 0.0, 1.5)
    """
    s, e = sim.summary(), emu.summary()
    return {
        "p50_sim_ms": s["p50_ms"],
        "p50_emu_ms": e["p50_ms"],
        "p50_err": abs(s["p50_ms"] - e["p50_ms"]) / e["p50_ms"],
        "p99_sim_ms": s["p99_ms"],
        "p99_emu_ms": e["p99_ms"],
        "p99_err": abs(s["p99_ms"] - e["p99_ms"]) / e["p99_ms"],
        "violation_sim_pct": s["violation_pct"],
        "violation_emu_pct": e["violation_pct"],
        "violation_diff": abs(s["violation_pct"] - e["violation_pct"]),
    }


def own_cpu_s() -> float:
    """CPU seconds used by this process and its reaped children (``os.times``)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def background_cores(fn):
    """Call ``fn()``; return (its result, the cores that *other* programs on the machine
    used meanwhile on average): machine-wide busy time from ``/proc/stat`` minus this
    process and its (reaped) children. The emulator's timing is only as good as the
    machine is quiet; this says how quiet it was."""
    b0, o0, t0 = machine_busy_s(), own_cpu_s(), time.monotonic()
    out = fn()
    b1, o1, t1 = machine_busy_s(), own_cpu_s(), time.monotonic()
    return out, max(0.0, ((b1 - b0) - (o1 - o0)) / max(t1 - t0, 1e-9))


def compare(st: Setting, **options) -> tuple[dict, object, object]:
    """Run ``st`` in the simulator and in the emulator; (errors, sim result, emu result).

    The errors include ``background_cores``: what other programs used during the emulator
    run (see :func:`background_cores`)."""
    options.setdefault("progress", False)  # a table of short runs: no bar per run
    p, policy, w = st.build()
    sim = run(p, w, policy, runtime="sim", **options)
    emu, bg = background_cores(lambda: run(p, w, policy, runtime="emu", **options))
    return fidelity_errors(sim, emu) | {"background_cores": bg}, sim, emu


def fidelity_table(settings=SETTINGS, **options) -> pd.DataFrame:
    """The fidelity table: one row per setting with :func:`fidelity_errors`' columns."""
    rows = []
    for st in settings:
        err, _, emu = compare(st, **options)
        rows.append(
            {
                "setting": st.name,
                "requests": len(emu),
                **err,
                "loadgen_lag_ms_max": emu.meta.get("loadgen_lag_ms_max"),
            }
        )
    return pd.DataFrame(rows)


def read_recorded_table(path) -> pd.DataFrame:
    r"""The first Markdown table of a recorded benchmark file (e.g. ``benchmarks/fidelity.md``,
    written by ``benchmarks/bench_emu.py --fidelity``), as strings, with spaces in the
    column names turned into underscores.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.md"
    >>> _ = p.write_text("text\n\n| setting | p50 err |\n|---|---|\n| sleep | 0.02 |\n")
    >>> read_recorded_table(p)
      setting p50_err
    0   sleep    0.02
    """
    rows = []
    for line in open(path, encoding="utf-8").read().splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif rows:
            break
    if len(rows) < 3:
        raise ValueError(f"{path}: no Markdown table (header, rule, rows) found")
    header = [c.replace(" ", "_") for c in rows[0]]
    return pd.DataFrame(rows[2:], columns=header)


#: Where ``python benchmarks/bench_emu.py --fidelity`` records the table, in a source checkout.
RECORDED_TABLE = Path(__file__).resolve().parents[2] / "benchmarks" / "fidelity.md"


def recorded_or_live_table(quick: bool, record=RECORDED_TABLE) -> tuple[pd.DataFrame, str]:
    """The fidelity table for chapter 00_tour: the recorded one in quick mode, else live.

    Four live runs take about 40 s, too long for a quick run of the chapter, so in quick
    mode the table recorded in ``record`` is read (when that file exists).

    Parameters
    ----------
    quick : the chapter's quick setting (``$SSLOSERVE_QUICK``)
    record : the recorded table (default: ``benchmarks/fidelity.md`` of the checkout)

    Returns
    -------
    ``(table, where)``: the table (as :func:`read_recorded_table` or
    :func:`fidelity_table` gives it) and a sentence saying where it came from.

    Examples
    --------
    >>> t, where = recorded_or_live_table(True)
    >>> where.startswith("read from benchmarks/fidelity.md"), "setting" in t.columns
    (True, True)
    """
    record = Path(record)
    if quick and record.is_file():
        return (
            read_recorded_table(record),
            f"read from benchmarks/{record.name} (python benchmarks/bench_emu.py --fidelity)",
        )
    return fidelity_table(progress=False), "computed now by fidelity_table()"
