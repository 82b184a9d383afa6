"""Connecting to Ray for one run, and leaving no Ray process behind.

:func:`ray_session` starts a local Ray (``ray.init(num_cpus=...)``) or joins a running
cluster (``address=``); it reuses a Ray the caller already initialised and then leaves it
as it was. A Ray it started itself is shut down on every exit path (normal end,
exception, Ctrl-C: a second Ctrl-C does not cut the shutdown short), and the processes
it had started on this machine (GCS server, raylet, workers, agents: the descendants of
this process) are waited for, and the stragglers killed by their pid. :func:`leftovers`
says what is still alive. Chapter: 00_tour.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass, field

from ...errors import ToolNotFoundError

__all__ = ["RaySession", "require_ray", "ray_session", "leftovers", "descendants"]

#: The Ray release the ``ssloserve[ray]`` extra installs.
RAY_VERSION = "2.60.0"


def require_ray():
    """The ``ray`` module, or :class:`~ssloserve.errors.ToolNotFoundError` saying how to
    install it."""
    try:
        import ray
    except ImportError as e:
        raise ToolNotFoundError(
            'runtime="ray" needs Ray, which is not installed: '
            f"pip install 'ssloserve[ray]' (or pip install 'ray=={RAY_VERSION}')"
        ) from e
    return ray


def descendants(pid: int | None = None) -> list[int]:
    """Live (non-zombie) processes below ``pid`` (default: this one), from ``/proc``."""
    pid = os.getpid() if pid is None else pid
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if rest[0] != "Z":
            children.setdefault(int(rest[1]), []).append(int(d))
    out, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return sorted(out)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _mentions(text: str) -> list[int]:
    """Live processes whose command line contains ``text``."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    if text.encode() in f.read() and _alive(int(d)):
                        out.append(int(d))
            except OSError:
                pass
    return out


@dataclass
class RaySession:
    """The Ray a run used.

    Attributes
    ----------
    address : the cluster joined, or ``"local"`` for one started here
    started_here : this session started Ray (and shuts it down)
    session_name : Ray's session (its ``/tmp/ray/session_*`` directory name)
    node_id : this driver's Ray node
    cpus : the cluster's logical CPUs
    processes : pids of the processes this session's Ray ran on this machine (recorded
        just before shutdown)
    """

    address: str
    started_here: bool
    session_name: str = ""
    node_id: str = ""
    cpus: float = 0.0
    processes: list = field(default_factory=list)

    def as_meta(self) -> dict:
        return {
            "address": self.address,
            "started_here": self.started_here,
            "session_name": self.session_name,
            "cpus": self.cpus,
            "processes": list(self.processes),
        }


def leftovers(session: RaySession | dict) -> list[int]:
    """Processes of a Ray ``session`` started here that are still alive: the recorded
    ones, and any whose command line names its session. Empty after every run.
    ``session``: a :class:`RaySession` or ``Result.meta["ray"]``."""
    s = session.as_meta() if isinstance(session, RaySession) else session
    if not s["started_here"]:
        return []
    alive = {p for p in s["processes"] if _alive(p)}
    if s["session_name"]:
        alive.update(_mentions(s["session_name"]))
    return sorted(alive - {os.getpid()})


def _shutdown(ray, session: RaySession, wait_s: float = 10.0) -> None:
    session.processes = descendants()
    before = set(session.processes)
    ray.shutdown()
    t_end = time.monotonic() + wait_s
    while time.monotonic() < t_end and any(_alive(p) for p in before):
        time.sleep(0.05)
    for p in before:  # ours (started by this session's Ray): end what did not exit
        if _alive(p):
            with contextlib.suppress(OSError):
                os.kill(p, signal.SIGKILL)


def _token_auth_if_available() -> None:
    """Joining a cluster: Ray 2.60 clusters use token authentication, and a driver sends
    its token only in token mode. Where ``RAY_AUTH_MODE`` is unset and this machine has a
    token (``~/.ray/auth_token`` or ``RAY_AUTH_TOKEN``), turn token mode on, as Ray does
    for a cluster it starts (Ray's own helper; absent in other Ray releases: nothing)."""
    with contextlib.suppress(ImportError, AttributeError):
        from ray._private.authentication import authentication_token_setup as auth

        auth.maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


@contextlib.contextmanager
def _token_notice_silenced():
    """Ray 2.60 starts a local cluster in token mode (where ``RAY_AUTH_MODE`` is unset)
    and logs a 240-character notice saying so at every start; the mode is unchanged,
    only that notice is held back while this session starts Ray."""
    log = logging.getLogger("ray._private.authentication.authentication_token_setup")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = 2):
    """Ray for one run (see the module docstring); yields a :class:`RaySession`."""
    ray = require_ray()
    if ray.is_initialized():
        session = RaySession("existing", False)
    else:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no network call from a run
        kw = {"include_dashboard": False, "log_to_driver": False}
        session = RaySession(address or "local", True)
        try:
            if address:
                _token_auth_if_available()
                ray.init(address=address, **kw)
                session.started_here = False  # joined: the cluster outlives the run
            else:
                with _token_notice_silenced():
                    ray.init(num_cpus=num_cpus, **kw)
        except BaseException:
            with contextlib.suppress(Exception):
                ray.shutdown()
            raise
    ctx = ray.get_runtime_context()
    session.node_id = ctx.get_node_id()
    with contextlib.suppress(Exception):
        session.session_name = os.path.basename(
            ray._private.worker._global_node.get_session_dir_path()
        )
    session.cpus = float(ray.cluster_resources().get("CPU", 0.0))
    try:
        yield session
    finally:
        pending = None
        for _ in range(10):  # a Ctrl-C meanwhile does not cut the shutdown short
            try:
                if session.started_here:
                    _shutdown(ray, session)
                elif address:
                    ray.shutdown()  # disconnect from the cluster we joined
                break
            except (KeyboardInterrupt, SystemExit) as e:
                pending = pending or e
        if pending is not None:
            raise pending
