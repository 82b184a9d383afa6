"""The experiment API: run(), RunOptions, exports, and the emu runtime's entry point."""

from __future__ import annotations

import re

import numpy as np
import pytest

import ssloserve
from ssloserve.errors import ConfigError, PipelineError
from ssloserve.latency import LatencyModel
from ssloserve.observation import Observation
from ssloserve.pipeline import Config, Pipeline, Stage, StageConfig, Variant
from ssloserve.runtime import RunOptions, run
from ssloserve.runtime.inputs import initial_config, workload_arrays
from ssloserve.workloads import Workload


def _p():
    return Pipeline.chain(Stage("a", (Variant("x", 0.7, LatencyModel(1, 1, 1, 1)),)))


def test_exports():
    assert ssloserve.run is run and ssloserve.RunOptions is RunOptions


def test_summary_has_every_figure_the_issue_names():
    w = Workload.from_rates([30] * 5, seed=0, slo_ms=50.0)
    s = run(_p(), w, Config.default(_p())).summary()
    for key in (
        "violation_pct",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "core_seconds",
        "dropped_pct",
        "mean_accuracy",
        "served",
        "late",
        "dropped",
        "requests",
    ):
        assert key in s
    assert s["requests"] == len(w) and s["mean_accuracy"] == pytest.approx(0.7)


def test_options_validate_each_field():
    for bad, says in (
        (dict(k_slo=0), "k_slo=0 is out of range: it must be a positive number"),
        (dict(k_slo=float("nan")), "k_slo=nan"),
        (dict(k_slo="2"), "k_slo='2'"),
        (dict(max_batch_delay_ms=-1), "max_batch_delay_ms=-1"),
        (dict(node_cores=0), "node_cores=0 is out of range: it must be None or positive"),
        (dict(cold_start_s=-1), "cold_start_s=-1"),
        (dict(service="uniform"), "unknown service 'uniform'"),
        (dict(history_s=0), "history_s=0 is out of range: it must be an integer >= 1"),
        (dict(history_s=1.5), "history_s=1.5"),
        (dict(seed=-1), "seed=-1 is out of range: it must be an integer >= 0"),
        (dict(progress="yes"), "progress='yes'"),
    ):
        with pytest.raises(ConfigError, match=re.escape(says)):
            RunOptions(**bad).validate()
    assert RunOptions().resolved_node_cores("sim") >= 1e6
    assert RunOptions(node_cores=3).resolved_node_cores("emu") == 3.0


def test_run_checks_its_arguments():
    w = Workload.from_rates([1], seed=0)
    with pytest.raises(PipelineError):
        run("not a pipeline", w, Config.default(_p()))
    with pytest.raises(ConfigError, match="unknown runtime"):
        run(_p(), w, Config.default(_p()), runtime="ray2")


def test_initial_config_prefers_initial_then_decide():
    p = _p()
    cfg = Config({"a": StageConfig("x", 3)})

    class DecideOnly:
        interval_s = 1.0

        def decide(self, obs):
            return cfg

    o = Observation(0.0, np.zeros(0), Config({}), pipeline=p)
    assert initial_config(DecideOnly(), p, 100.0, o) == cfg


def test_workload_arrays_duck_typed_and_cut():
    w = Workload.from_rates([2, 2, 2], seed=1, slo_ms=250.0)
    a, d, pay, h = workload_arrays(w, duration_s=2.0)
    assert len(a) == 4 and h == 2.0
    np.testing.assert_allclose(d - a, 0.25)


def test_emu_runtime_runs_the_emulator():
    """run(..., runtime="emu") starts real replica processes: a sleep model of 20 ms serves
    every request in about 20 ms (a simulator would give exactly 20.0), the result says
    it came from the emulator and carries what only the emulator measures."""
    p = Pipeline.chain(Stage("a", (Variant("x", 0.8, LatencyModel(0, 0, 0, 20.0)),)))
    w = Workload(np.arange(10) * 0.1, 500.0, 0)
    r = run(p, w, Config.default(p), runtime="emu", progress=False)
    assert r.runtime == "emu" and r.meta["interrupted"] is False
    assert r.counts() == {"served": 10, "late": 0, "dropped": 0}
    svc_ms = (r.stage_records["a"]["finish_s"] - r.stage_records["a"]["start_s"]) * 1000
    assert (svc_ms >= 20.0 - 0.5).all() and (svc_ms < 200.0).all()
    assert not np.allclose(svc_ms, 20.0, rtol=0, atol=1e-9)  # measured, not computed
    assert len(r.meta["cold_start_s"]) == 1 and r.meta["cold_start_s"][0] > 0
    assert r.requests["accuracy"].tolist() == [0.8] * 10


def test_actuation_defaults_are_the_emulator_measurements():
    """RunOptions' cold start and resize delay are what data/emu_costs.json recorded (read
    here with json, not through the library): the slowest torch-model cold start and the
    median resize delay."""
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "data" / "emu_costs.json"
    if not path.exists():
        pytest.skip("data/emu_costs.json has not been measured in this checkout")
    raw = json.loads(path.read_text())
    torch_kinds = {k: v for k, v in raw["cold_start_s"].items() if k not in ("sleep", "burn")}
    assert torch_kinds, "emu_costs.json has no torch model's cold start"
    o = RunOptions()
    assert o.cold_start_s == max(torch_kinds.values())
    assert o.resize_delay_ms == raw["resize_delay_ms"]["median"]


def test_missing_emulator_costs_are_asked_for_not_invented(monkeypatch, tmp_path):
    """Without data/emu_costs.json the defaults are NaN and validate() names the file."""
    import ssloserve.data
    from ssloserve.runtime import options

    monkeypatch.setattr(ssloserve.data, "project_data_path", lambda name: tmp_path / name)
    cold, resize, source = options._measured_costs()
    assert np.isnan(cold) and np.isnan(resize) and source == "missing: data/emu_costs.json"
    monkeypatch.setattr(options, "EMU_COSTS_SOURCE", source)
    with pytest.raises(ConfigError, match="bench_emu.py --costs"):
        RunOptions(cold_start_s=cold, resize_delay_ms=resize).validate()
    assert RunOptions(cold_start_s=2.0, resize_delay_ms=0.2).validate().cold_start_s == 2.0


@pytest.mark.parametrize(
    "corrupt,says",
    [
        (lambda log: log.status.__setitem__(1, 7), "request 1 has no final status"),
        (lambda log: log.status.__setitem__(2, 0), "request 2 is served but finished at 0.9 s"),
        (lambda log: log.status.__setitem__(0, 1), "request 0 is late but finished at 0.2 s"),
        (lambda log: log.finish_s.__setitem__(3, 0.3), "request 3 is dropped but has a finish"),
        (lambda log: log.reason.__setitem__(3, 0), "request 3 is dropped with no reason"),
        (lambda log: log.reason.__setitem__(0, 2), "request 0 is not dropped but has reason 2"),
    ],
)
def test_every_result_is_checked_for_lost_or_inconsistent_requests(corrupt, says):
    """RequestLog.to_result (every runtime's last step) refuses a result whose accounting is
    wrong, naming the first bad request; a consistent one passes."""
    from ssloserve.runtime.result import RequestLog

    def log4():
        log = RequestLog(np.zeros(4), np.array([0.5, 0.5, 0.5, 0.5]), ["a"])
        log.finish(0, 0.2)  # served
        log.finish(1, 0.4)  # served
        log.finish(2, 0.9)  # late
        log.drop(3, "cannot_finish", 0.1)
        return log

    assert log4().to_result("sim").check_accounting() == {"served": 2, "late": 1, "dropped": 1}
    log = log4()
    corrupt(log)
    with pytest.raises(RuntimeError, match=re.escape(says)):
        log.to_result("sim")


def test_emulator_only_options_pass_through_run():
    """run(..., runtime="emu") takes the emulator's own options; "sim" refuses them by name."""
    import pytest

    from ssloserve import run
    from ssloserve.errors import ConfigError
    from ssloserve.latency import LatencyModel
    from ssloserve.pipeline import Config, Pipeline, Stage, Variant
    from ssloserve.workloads import Workload

    p = Pipeline.chain(Stage("a", (Variant("x", 0.9, LatencyModel(0, 0, 0, 5.0)),)))
    w = Workload.from_rates([20, 20], seed=0, slo_ms=200.0)
    with pytest.raises(ConfigError, match="core_limit"):
        run(p, w, Config.default(p), runtime="sim", core_limit="throttle")
    with pytest.raises(ConfigError, match="colour"):
        run(p, w, Config.default(p), runtime="emu", colour="red")
    r = run(p, w, Config.default(p), runtime="emu", core_limit="throttle", drain_s=5.0)
    assert r.meta["core_limit"] == "throttle"
    s = r.summary()
    assert s["requests"] == len(w.arrival_s) == s["served"] + s["late"] + s["dropped"]
