"""Simulator against emulator on the same workload (sleep and burn models, one stage and a
two-stage chain): p50 and p99 latency within 10%, SLO violation % within 2 points, and
every request accounted for in both runtimes.

The emulator runs in wall-clock time on a machine that may be shared. A setting that
misses the bounds is run once more; if it misses again *and* other programs used at
least half a core during the emulator run (measured from ``/proc/stat``), the comparison
says nothing about the simulator and the test is skipped with the numbers; on a quiet
machine a miss fails.
"""

from __future__ import annotations

import pytest

from ssloserve.runtime.emu.fidelity import SETTINGS, compare

pytestmark = pytest.mark.emu

P_TOL = 0.10
V_TOL = 2.0


def _accounted(r):
    c = r.counts()
    assert c["served"] + c["late"] + c["dropped"] == len(r)


def _ok(err) -> bool:
    return err["p50_err"] <= P_TOL and err["p99_err"] <= P_TOL and err["violation_diff"] <= V_TOL


@pytest.mark.parametrize("st", SETTINGS, ids=[s.name for s in SETTINGS])
def test_simulator_matches_emulator(st):
    tries = []
    for _ in range(2):
        err, sim, emu = compare(st)
        _accounted(sim)
        _accounted(emu)
        assert len(sim) == len(emu)
        tries.append({k: round(v, 3) for k, v in err.items()})
        if _ok(err):
            return
    busy = min(t["background_cores"] for t in tries)
    if busy >= 0.5:
        pytest.skip(f"other programs used >= {busy:.2f} cores during every emulator run: {tries}")
    pytest.fail(f"simulator and emulator disagree on a quiet machine: {tries}")
