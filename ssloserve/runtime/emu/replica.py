"""The replica process: load a model, then serve batches sent over a pipe.

Runs in a process started with the ``spawn`` context, so it executes library code only
(never a notebook's). Protocol, one tuple per message (times from ``time.monotonic``,
which is one clock for every process of the machine):

=====================================  ==============================================
router -> replica                      replica -> router
=====================================  ==============================================
(start)                                ``("ready", t_loaded, pid, load_s)``
``("batch", batch_id, n, payloads)``   ``("done", batch_id, t_start, t_finish)``
``("cores", c, token)``                ``("cores_ok", token, t_applied)``
``("stop",)``                          (exits)
=====================================  ==============================================

The replica ignores SIGINT (the parent decides when to stop), asks the kernel to kill it
when its parent dies (``PR_SET_PDEATHSIG``) and exits when the pipe closes, so it can
never outlive the run. Chapter: 00_tour ("the emulator").
"""

from __future__ import annotations

import os
import time

from .child import become_child

__all__ = ["replica_main"]


def replica_main(conn, spec, cores: float, parent_pid: int, realtime: bool = False) -> None:
    """Entry point of a replica process (``multiprocessing`` target).

    Parameters
    ----------
    conn : this end of a duplex ``multiprocessing.Pipe``
    spec : the :class:`~ssloserve.runtime.emu.models.ModelSpec` to load
    cores : the initial core limit (the model's threads follow it)
    parent_pid : the router's pid (the replica dies with it)
    realtime : once loaded, run in the (bounded) real-time class, so that waits end on
        time on a busy machine (for the sleep model only, which uses almost no CPU;
        loading happens before, at normal priority, so it never starves other processes;
        see :func:`~ssloserve.runtime.emu.limits.boost_child_process`)
    """
    become_child(parent_pid)
    from .models import load_model

    t0 = time.monotonic()
    model = load_model(spec)
    model.set_cores(cores)
    model.load()
    if realtime:
        from .limits.priority import boost_child_process

        boost_child_process()
    conn.send(("ready", time.monotonic(), os.getpid(), time.monotonic() - t0))
    try:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                break
            op = msg[0]
            if op == "batch":
                _, bid, n, payloads = msg
                t_start = time.monotonic()
                model.infer(n, payloads)
                conn.send(("done", bid, t_start, time.monotonic()))
            elif op == "cores":
                model.set_cores(msg[1])
                conn.send(("cores_ok", msg[2], time.monotonic()))
            elif op == "stop":
                break
    finally:
        model.close()
