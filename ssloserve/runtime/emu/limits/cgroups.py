"""CFS bandwidth quotas in cgroups v1 and v2: find, probe, write, remove.

A replica limited to ``c`` cores runs in its own cgroup whose quota lets its threads run
``c x period`` microseconds per period: ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``
in cgroup v1, ``cpu.max`` in v2. Every emulator cgroup is named
``ssloserve-<owner pid>-<random>``, so the cgroups of a process that was SIGKILLed can be
found (:func:`stale_cgroups`) and removed by the next run. Needs a writable cgroup (root,
or a delegated subtree); :func:`probe_cgroup` says whether there is one.
Chapter: 00_tour ("the emulator").

Examples
--------
>>> emulator_cgroups(os.getpid())
[]
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from pathlib import Path

__all__ = [
    "PREFIX",
    "cgroup_base",
    "probe_cgroup",
    "enable_cpu_controller",
    "new_cgroup",
    "write_quota",
    "cgroup_usage_s",
    "remove_cgroup",
    "emulator_cgroups",
    "stale_cgroups",
    "remove_stale_cgroups",
]

#: Name prefix of every emulator cgroup (followed by the owner's pid).
PREFIX = "ssloserve-"


def _mounts():
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 4:
                yield parts[1], parts[2], set(parts[3].split(","))


def _own_cgroup(controller: str | None) -> str:
    """This process's cgroup path in the hierarchy of ``controller`` (None: the v2 one)."""
    with open("/proc/self/cgroup") as f:
        for line in f:
            hid, ctrls, path = line.rstrip("\n").split(":", 2)
            if controller is None and hid == "0" and ctrls == "":
                return path
            if controller is not None and controller in ctrls.split(","):
                return path
    raise FileNotFoundError(f"no cgroup for controller {controller!r}")


def _v1_base() -> Path | None:
    for mnt, fstype, opts in _mounts():
        if fstype == "cgroup" and "cpu" in opts:
            try:
                own = _own_cgroup("cpu").lstrip("/")
            except FileNotFoundError:
                own = ""
            base = Path(mnt) / own
            if (base / "cpu.cfs_quota_us").exists() or (Path(mnt) / "cpu.cfs_period_us").exists():
                return base
    return None


def _v2_base() -> Path | None:
    for mnt, fstype, _ in _mounts():
        if fstype == "cgroup2":
            try:
                own = _own_cgroup(None).lstrip("/")
            except FileNotFoundError:
                continue
            base = Path(mnt) / own
            try:
                ctrls = (base / "cgroup.controllers").read_text().split()
            except OSError:
                continue
            if "cpu" in ctrls:
                return base
    return None


def cgroup_base(version: int) -> Path | None:
    """This process's own cgroup folder in the v1 ``cpu`` or the v2 hierarchy (None when
    there is no such hierarchy with a cpu controller)."""
    return _v1_base() if version == 1 else _v2_base()


def enable_cpu_controller(base: Path) -> None:
    """cgroup v2: let the children of ``base`` use the cpu controller."""
    sub = base / "cgroup.subtree_control"
    if "cpu" not in sub.read_text().split():
        sub.write_text("+cpu")


def probe_cgroup(version: int) -> Path | None:
    """Create and remove a test cgroup; return the base folder when that works."""
    base = cgroup_base(version)
    if base is None:
        return None
    probe = base / f"{PREFIX}probe-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    try:
        if version == 2:
            enable_cpu_controller(base)
        probe.mkdir()
        try:
            f = "cpu.cfs_quota_us" if version == 1 else "cpu.max"
            if not (probe / f).exists():
                return None
            (probe / f).write_text("50000" if version == 1 else "50000 100000")
        finally:
            probe.rmdir()
    except OSError:
        return None
    return base


def new_cgroup(base: Path) -> Path:
    """A new emulator cgroup below ``base``, named after this process."""
    d = base / f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    d.mkdir()
    return d


def write_quota(d: Path, version: int, cores: float, period_us: int) -> None:
    """Limit cgroup ``d`` to ``cores`` cores: a quota of ``cores x period_us`` (at least
    1 ms, the kernel's minimum) per period."""
    quota = max(1000, round(cores * period_us))
    if version == 1:
        # lower the quota before the period so that quota/period never overshoots
        (d / "cpu.cfs_quota_us").write_text("-1")
        (d / "cpu.cfs_period_us").write_text(str(period_us))
        (d / "cpu.cfs_quota_us").write_text(str(quota))
    else:
        (d / "cpu.max").write_text(f"{quota} {period_us}")


def cgroup_usage_s(d: Path) -> float | None:
    """CPU seconds used by the members of v2 cgroup ``d`` (``cpu.stat``; None in v1)."""
    try:
        lines = (d / "cpu.stat").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        k, v = line.split()
        if k == "usage_usec":
            return int(v) / 1e6
    return None


def remove_cgroup(d: Path, tries: int = 50) -> bool:
    """Remove cgroup ``d`` and its children, killing leftover members; True when gone."""
    if not d.exists():
        return True
    for child in [c for c in d.iterdir() if c.is_dir()]:
        remove_cgroup(child, tries)
    for _ in range(tries):
        try:
            d.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError:
            try:
                pids = [int(x) for x in (d / "cgroup.procs").read_text().split()]
            except OSError:
                pids = []
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGCONT)
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)
    return False


def emulator_cgroups(owner: int | None = None) -> list[Path]:
    """Every emulator cgroup on the machine (only those of process ``owner`` if given)."""
    out = []
    for base in (_v1_base(), _v2_base()):
        if base is None or not base.is_dir():
            continue
        pat = f"{PREFIX}{owner}-*" if owner is not None else f"{PREFIX}*"
        out += [d for d in base.glob(pat) if d.is_dir()]
    return out


def stale_cgroups() -> list[Path]:
    """Emulator cgroups left by processes that no longer exist (e.g. a SIGKILLed parent)."""
    out = []
    for d in emulator_cgroups():
        try:
            owner = int(d.name[len(PREFIX) :].split("-")[0])
        except ValueError:
            continue
        if not Path(f"/proc/{owner}").exists():
            out.append(d)
    return out


def remove_stale_cgroups() -> int:
    """Remove :func:`stale_cgroups`; returns how many were removed."""
    return sum(remove_cgroup(d) for d in stale_cgroups())
