"""A Ray actor behind the emulator's process interface, so the emulator's router drives it.

The router (:mod:`ssloserve.runtime.emu.routing`, :mod:`~ssloserve.runtime.emu.lifecycle`)
talks to a replica through a handle with ``conn`` (``send``/``poll``/``recv``, and a
``fileno`` for ``multiprocessing.connection.wait``), a ``sentinel`` (a file descriptor
readable once the replica is gone), ``exitcode``, ``join``, ``kill`` and ``close``.
:class:`ActorHandle` is that handle for a :class:`~ssloserve.runtime.ray.actor.ReplicaActor`:

- ``conn.send(msg)`` becomes a remote call (``("batch", ...)`` -> ``infer``, ``("cores",
  ...)`` -> ``set_cores``, ``("stop",)`` -> ``ray.kill``);
- each call's result arrives, in a Ray thread, as a future's callback, which writes the
  emulator's reply (``("ready", ...)``, ``("done", ...)``, ``("cores_ok", ...)``) into a
  local socket pair: the router's ``wait`` wakes on it as on a replica's pipe;
- any call failing with ``RayActorError`` (the actor's process died or was killed), or the
  never-returning ``watch`` call failing, sets ``exitcode`` and makes the sentinel
  readable, so the router's death path (retry the batch, start a replacement) runs.

Times: an actor on this machine reports ``time.monotonic`` of this machine, used as is;
on another node its clock is not ours, so a batch is placed at the time its answer
arrived minus its measured duration. ``pid`` is None (the router neither limits nor
signals an actor itself); ``actor_pid`` and ``node_id`` say where it runs. Chapter: 00_tour.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from multiprocessing.connection import Connection

__all__ = ["ActorHandle"]

#: ``exitcode`` of an actor that died unasked (as a SIGKILLed process reports).
DIED = -9


class _Conn:
    """The router's side: sends become remote calls, replies come from a socket pair."""

    def __init__(self, handle: ActorHandle, rx: Connection):
        self._h, self._rx = handle, rx

    def fileno(self) -> int:
        return self._rx.fileno()

    def poll(self, timeout: float = 0.0) -> bool:
        return self._rx.poll(timeout)

    def recv(self):
        return self._rx.recv()

    def send(self, msg) -> None:
        self._h.call(msg)

    def close(self) -> None:
        self._rx.close()


class ActorHandle:
    """One replica actor, created now (its start-up and model load are the cold start).

    Parameters
    ----------
    ray : the ``ray`` module (imported by the caller: Ray is optional)
    actor_cls : :func:`~ssloserve.runtime.ray.actor.actor_class`'s result
    spec, cores : the model and its initial cores
    num_cpus : the logical CPUs the actor declares to Ray's scheduler
    local_node : this driver's Ray node id (an actor there shares our clock)
    name : a label for the actor
    """

    def __init__(self, ray, actor_cls, spec, cores, num_cpus, local_node, name=""):
        self.ray, self.name, self.local_node = ray, name, local_node
        a, b = socket.socketpair()
        self._tx = Connection(b.detach())
        self.conn = _Conn(self, Connection(a.detach()))
        self._sent_r, self._sent_w = os.pipe()
        self.sentinel = self._sent_r
        self._lock = threading.Lock()
        self.exitcode: int | None = None
        self.error = ""
        self.pid = None
        self.actor_pid: int | None = None
        self.node_id: str | None = None
        self._stopping = False
        self._closed = False
        self.actor = actor_cls.options(num_cpus=num_cpus, name=None).remote(spec, cores)
        self._on(self.actor.watch.remote(), lambda v: None)
        self._on(self.actor.ready.remote(), self._ready)

    # ------------------------------------------------------------------ replies

    def _put(self, msg) -> None:
        with self._lock, contextlib.suppress(OSError):
            if not self._closed:
                self._tx.send(msg)

    def _on(self, ref, reply) -> None:
        """When ``ref`` resolves: ``reply(value)`` (a message for the router), or death."""

        def done(fut):
            try:
                value = fut.result()
            except Exception as e:  # RayActorError, or the model's own error: it is gone
                self._died(e)
                return
            msg = reply(value)
            if msg is not None:
                self._put(msg)

        ref.future().add_done_callback(done)

    def _local(self) -> bool:
        return self.node_id is not None and self.node_id == self.local_node

    def _ready(self, value):
        t_ready, self.actor_pid, load_s, self.node_id = value
        if not self._local():
            t_ready = time.monotonic()
        return ("ready", t_ready, self.actor_pid, load_s)

    def _died(self, e: BaseException) -> None:
        with self._lock:
            if self.exitcode is not None:
                return
            self.exitcode = 0 if self._stopping else DIED
            self.error = f"{type(e).__name__}: {e}".splitlines()[0][:200]
            if not self._closed:
                with contextlib.suppress(OSError):
                    os.write(self._sent_w, b"x")

    # ------------------------------------------------------------------ calls

    def call(self, msg) -> None:
        """Carry out one of the router's messages (see the module docstring)."""
        op = msg[0]
        if self.exitcode is not None:
            raise BrokenPipeError(f"replica actor {self.name} is gone")
        if op == "batch":
            _, bid, n, payloads = msg
            self._on(self.actor.infer.remote(n, payloads), lambda v, bid=bid: self._done(bid, v))
        elif op == "cores":
            _, cores, tok = msg
            self._on(
                self.actor.set_cores.remote(cores),
                lambda t, tok=tok: ("cores_ok", tok, t if self._local() else time.monotonic()),
            )
        elif op == "stop":
            self.kill()

    def _done(self, bid, value):
        t_start, t_finish = value
        if not self._local():
            t_recv = time.monotonic()
            t_start, t_finish = t_recv - (t_finish - t_start), t_recv
        return ("done", bid, t_start, t_finish)

    # ------------------------------------------------------------------ process interface

    def is_alive(self) -> bool:
        return self.exitcode is None

    def kill(self) -> None:
        """End the actor now (asked: its ``exitcode`` will be 0)."""
        self._stopping = True
        with contextlib.suppress(Exception):
            self.ray.kill(self.actor, no_restart=True)

    def join(self, timeout: float | None = None) -> None:
        """Wait until Ray reports the actor gone (at most ``timeout`` seconds)."""
        t_end = None if timeout is None else time.monotonic() + timeout
        while self.exitcode is None and (t_end is None or time.monotonic() < t_end):
            time.sleep(0.005)

    def close(self) -> None:
        """Close the socket pair and the sentinel pipe (the actor must be gone)."""
        with self._lock:
            self._closed = True
        for c in (self.conn, self._tx):
            with contextlib.suppress(OSError):
                c.close()
        for fd in (self._sent_r, self._sent_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.sentinel = None
