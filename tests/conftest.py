"""Fixtures and report hooks shared by the test modules.

- ``default_sigint``: Python's own SIGINT handler during a test, whatever the caller set
  (a shell that ignores SIGINT, as ``nohup`` and background jobs do, would otherwise make
  a Ctrl-C test pass or fail by how it was started).
- Load-based skips: the emulator's measuring tests (core limits, fidelity) may skip when
  other programs took the machine's cores; such a skip's reason starts with
  :data:`LOAD_SKIP` and carries the background cores it measured. The terminal summary
  counts and lists them, so a run that skipped them is visible.
"""

from __future__ import annotations

import signal

import pytest

#: How the reason of a load-based skip starts (the measured load follows).
LOAD_SKIP = "load-based skip"


@pytest.fixture
def default_sigint():
    """Python's own SIGINT handler (KeyboardInterrupt) during the test, whatever the runner
    installed; the runner's is put back afterwards."""
    prev = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, prev)


def _skip_reason(report) -> str:
    lr = report.longrepr
    if isinstance(lr, tuple) and len(lr) == 3:
        return str(lr[2]).removeprefix("Skipped: ")
    return str(lr)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """After a run that ran emulator tests: ``load-based skips: N`` and each one's reason."""
    reports = [r for reps in terminalreporter.stats.values() for r in reps if hasattr(r, "when")]
    if not any("emu" in r.keywords for r in reports):
        return
    skips = [
        (r.nodeid, _skip_reason(r))
        for r in terminalreporter.stats.get("skipped", [])
        if _skip_reason(r).startswith(LOAD_SKIP)
    ]
    terminalreporter.write_sep("-", f"load-based skips: {len(skips)}")
    for nodeid, reason in skips:
        terminalreporter.write_line(f"{nodeid}: {reason}")
