"""The replica as a Ray actor: load a model, then serve batches (runs inside Ray's worker).

This is the body of :func:`~ssloserve.runtime.emu.replica.replica_main` as methods that
Ray calls remotely: the same models (:mod:`ssloserve.runtime.emu.models`: sleep, burn,
torch), loaded once in ``__init__`` (the cold start), then ``infer`` per batch and
``set_cores`` to change the thread count in place. The class is made a Ray actor class
by :func:`actor_class`, with ``max_concurrency=3``: ``watch`` blocks for the actor's whole
life (its failure is how the router learns that the actor died, even an idle one), next
to ``infer``/``set_cores``, which a lock keeps one at a time, in the order they arrive,
as the emulator's replica process handles its pipe. Chapter: 00_tour.
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["ReplicaActor", "actor_class"]


class ReplicaActor:
    """One replica: its model, its cores. Times are ``time.monotonic`` of its node.

    Parameters
    ----------
    spec : the :class:`~ssloserve.runtime.emu.models.ModelSpec` to load
    cores : the initial cores (the model's threads follow them)
    """

    def __init__(self, spec, cores: float):
        from ..emu.models import load_model

        t0 = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.model = load_model(spec)
        self.model.set_cores(cores)
        self.model.load()
        self.t_ready = time.monotonic()
        self.load_s = self.t_ready - t0

    def ready(self) -> tuple:
        """``(t_ready, pid, load_s, node_id)``: when the model was loaded, where."""
        import ray

        node = ray.get_runtime_context().get_node_id()
        return self.t_ready, os.getpid(), self.load_s, node

    def infer(self, n: int, payloads) -> tuple:
        """Run a batch of ``n`` requests; ``(t_start, t_finish)``."""
        with self._lock:
            t_start = time.monotonic()
            self.model.infer(n, payloads)
            return t_start, time.monotonic()

    def set_cores(self, cores: float) -> float:
        """Change the thread count in place; the time it was applied."""
        with self._lock:
            self.model.set_cores(cores)
            return time.monotonic()

    def watch(self) -> None:
        """Block until the actor is killed (then the caller gets ``ActorDiedError``)."""
        self._stop.wait()


def actor_class(ray):
    """``ReplicaActor`` as a Ray actor class (each replica declares its CPUs with
    ``.options(num_cpus=...)``), never restarted by Ray: the router replaces a dead replica
    itself, as in the emulator."""
    return ray.remote(max_concurrency=3, max_restarts=0)(ReplicaActor)
