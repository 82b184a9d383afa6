"""The ``ssloserve`` command."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from ssloserve.cli import main, summary_table, trace_by_name


def _table(out: str) -> dict:
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^(\w+)\s+(\S+)$", line)
        if m:
            rows[m.group(1)] = m.group(2)
    return rows


def test_run_with_every_default_prints_the_summary(capsys):
    assert main(["run", "--no-progress"]) == 0
    out = capsys.readouterr().out
    rows = _table(out)
    assert {
        "violation_pct",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "core_seconds",
        "dropped_pct",
        "mean_accuracy",
    } <= set(rows)
    assert int(rows["requests"]) == int(rows["served"]) + int(rows["late"]) + int(rows["dropped"])
    assert "sim: video pipeline" in out


@pytest.mark.parametrize("policy", ["static", "hpa", "inferline"])
def test_run_each_policy_and_queue_options(capsys, policy):
    argv = [
        "run",
        "--policy",
        policy,
        "--trace",
        "step",
        "--duration",
        "120",
        "--queue",
        "edf",
        "--drop",
        "cannot_finish",
        "--batch",
        "2",
        "--service",
        "exponential",
    ]
    assert main(argv) == 0
    rows = _table(capsys.readouterr().out)
    assert int(rows["requests"]) > 0


def test_bad_input_is_a_clean_error(capsys, tmp_path):
    assert main(["run", "--classifier", "resnet9000"]) == 2
    assert "no variant 'resnet9000'" in capsys.readouterr().err
    bad = tmp_path / "counts.txt"
    bad.write_text("3 4 x 5\n")
    assert main(["run", "--trace", str(bad)]) == 2
    assert "counts.txt" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv,says",
    [
        (["--duration", "-5"], "--duration must be a positive number of seconds, got -5.0"),
        (["--duration", "0"], "--duration must be a positive"),
        (["--damping", "0"], "--damping must be an integer >= 1, got 0"),
        (["--trace", "no/such/counts.txt"], "unknown trace 'no/such/counts.txt'"),
        (["--slo-ms", "-3"], "--slo-ms must be positive"),
        (["--seed", "-1"], "--seed must be >= 0"),
        (["--rate-scale", "-1"], "negative rate"),
        (["--batch", "0"], "batch size must be an integer >= 1"),
        (["--cores", "0"], "cores per replica must be positive"),
    ],
)
def test_bad_run_flags_are_clean_errors_that_say_what_was_wrong(capsys, argv, says):
    """A bad flag exits with status 2 and one line naming it, never a traceback (a negative
    --duration used to cut seconds off the end of the trace and run anyway)."""
    assert main(["run", "--no-progress", "--trace", "step", *argv]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


def test_trace_file_is_damped(tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("16 17 31\n")
    rates, label = trace_by_name(str(f), damping=8)
    assert rates.tolist() == [2, 2, 3] and "/ 8" in label


def test_summary_table_aligns():
    lines = summary_table({"a": 1.0, "bbb": 22}).splitlines()
    assert len({len(x) for x in lines}) == 1


def test_console_entry_point_runs():
    out = subprocess.run(
        [sys.executable, "-m", "ssloserve.cli", "run", "--duration", "30", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "violation_pct" in out


@pytest.mark.emu
def test_profile_measures_and_fits(capsys):
    assert main(["profile", "--batches", "1,2", "--cores", "0.5,1", "--repeats", "1"]) == 0
    rows = _table(capsys.readouterr().out)
    assert {"gamma", "delta", "epsilon", "eta", "mape_pct", "core_limit"} <= set(rows)


def test_profile_bad_grid_is_a_clean_error(capsys):
    assert main(["profile", "--batches", "1,two"]) == 2
    assert "comma-separated numbers" in capsys.readouterr().err
