"""Child processes of the emulator: a fresh Python running a library entry point.

Each worker is a ``python -c`` calling :func:`main` with a file descriptor, started with ``subprocess``
and connected to the parent by a socket pair wrapped in a
``multiprocessing.connection.Connection`` (pickled messages). Compared with
``multiprocessing``'s spawn context this never re-imports the caller's ``__main__`` (a
notebook or a script without a ``__main__`` guard works), starts no resource-tracker
process that would outlive the run, and puts the worker in its own session, so a Ctrl-C
in the terminal reaches only the parent, which then stops its workers itself. A Linux
``pidfd`` is the process's sentinel: it becomes readable when the process exits, so the
router's ``wait`` notices a SIGKILLed replica at once.

Entry points (the first message says which): ``"replica"`` runs
:func:`~ssloserve.runtime.emu.replica.replica_main`, ``"loadgen"`` runs
:func:`~ssloserve.runtime.emu.loadgen.loadgen_main`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from multiprocessing.connection import Connection

__all__ = ["Worker", "main"]

_BOOT = "import sys; from ssloserve.runtime.emu.worker import main; main(sys.argv[1:])"


class Worker:
    """A child process running ``target`` (``"replica"`` or ``"loadgen"``) with ``args``.

    Attributes
    ----------
    conn : the parent's end of the duplex connection
    pid : the child's process id
    sentinel : a file descriptor readable once the child has exited (pidfd), or None
    """

    def __init__(self, target: str, args: tuple, name: str = ""):
        parent_sock, child_sock = socket.socketpair()
        fd = child_sock.fileno()
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, str(fd), name],
            pass_fds=(fd,),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
        child_sock.close()
        self.conn = Connection(parent_sock.detach())
        self.pid = self.proc.pid
        self.sentinel = None
        with contextlib.suppress(AttributeError, OSError):
            self.sentinel = os.pidfd_open(self.pid)
        self.conn.send((target, args))

    @property
    def exitcode(self) -> int | None:
        """None while running; the exit status (negative: killed by that signal) after."""
        return self.proc.poll()

    def is_alive(self) -> bool:
        return self.proc.poll() is None

    def join(self, timeout: float | None = None) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout)

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()

    def close(self) -> None:
        """Close the connection and the sentinel (the process must have exited)."""
        with contextlib.suppress(OSError):
            self.conn.close()
        if self.sentinel is not None:
            with contextlib.suppress(OSError):
                os.close(self.sentinel)
            self.sentinel = None


def main(argv=None) -> None:
    """Worker entry: ``argv = [FD, NAME]``; reads ``(target, args)`` and runs the target."""
    argv = sys.argv[1:] if argv is None else argv
    conn = Connection(int(argv[0]))
    target, args = conn.recv()
    if target == "replica":
        from .replica import replica_main

        replica_main(conn, *args)
    elif target == "loadgen":
        from .loadgen import loadgen_main

        loadgen_main(conn, *args)
    else:  # pragma: no cover - programming error
        raise SystemExit(f"unknown worker target {target!r}")
