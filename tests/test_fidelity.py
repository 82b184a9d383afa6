"""Simulator against emulator on the same workload (sleep and burn models, one stage and a
two-stage chain): p50 and p99 latency within 10%, SLO violation % within 2 points, and
every request accounted for in both runtimes.

The emulator runs in wall-clock time on a machine that may be shared. A setting that
misses the bounds is run once more. If it misses again, the test is skipped (with every
number) only when the miss is one that other programs' load can explain: during each
try they used at least half a core (measured from ``/proc/stat``, this process and its
children excluded) *and* the emulator was the slower one on every bound it missed (load
can only make real processes slower). A miss on a quiet machine, or one where the
emulator was faster than the simulator, fails.
"""

from __future__ import annotations

import pytest

from ssloserve.runtime.emu import nothing_left
from ssloserve.runtime.fidelity import SETTINGS, compare

pytestmark = pytest.mark.emu

P_TOL = 0.10
V_TOL = 2.0
BUSY_CORES = 0.5


@pytest.fixture(scope="module", autouse=True)
def nothing_left_by_the_module():
    """After the whole module: no child process, no cgroup of this process, no router."""
    with nothing_left():
        yield


def _accounted(r, n):
    """arrivals = served + late + dropped, for every one of the workload's n requests."""
    c = r.counts()
    assert len(r) == n
    assert c["served"] + c["late"] + c["dropped"] == n


def _misses(err) -> dict:
    """The bounds missed: name -> True when the emulator was the slower (or worse) one."""
    out = {}
    for p in ("p50", "p99"):
        if err[f"{p}_err"] > P_TOL:
            out[p] = err[f"{p}_emu_ms"] > err[f"{p}_sim_ms"]
    if err["violation_diff"] > V_TOL:
        out["violation"] = err["violation_emu_pct"] > err["violation_sim_pct"]
    return out


@pytest.mark.parametrize("st", SETTINGS, ids=[s.name for s in SETTINGS])
def test_simulator_matches_emulator(st):
    tries = []
    for _ in range(2):
        err, sim, emu = compare(st)
        n = len(st.build()[2])
        _accounted(sim, n)
        _accounted(emu, n)
        misses = _misses(err)
        tries.append({k: round(v, 3) for k, v in err.items()} | {"missed": misses})
        if not misses:
            return
    explained = all(
        t["background_cores"] >= BUSY_CORES and all(t["missed"].values()) for t in tries
    )
    if explained:
        pytest.skip(  # the reason's start is counted by tests/conftest.py
            f"load-based skip: background cores {[t['background_cores'] for t in tries]} "
            f"(>= {BUSY_CORES} during both emulator runs) and the emulator was the slower "
            f"one on every bound it missed: {tries}"
        )
    pytest.fail(f"simulator and emulator disagree, and load does not explain it: {tries}")
