"""The Ray runtime's router: the emulator's router, with replicas that are Ray actors.

Everything a request meets is the emulator's code: the per-stage queues (FIFO or EDF),
batching, the drop rules (:mod:`ssloserve.queues`), the policy's ticks, the shared
observation (:mod:`ssloserve.runtime.observe`), the shared actuation planner
(:mod:`ssloserve.runtime.actuation`) and its executor, the retry of a dead replica's
batch and the end of the run (:func:`ssloserve.runtime.result.end_of_run`).
:class:`RayRouter` changes only what a replica *is*: :meth:`RayRouter._spawn_replica`
creates a :class:`~ssloserve.runtime.ray.actor.ReplicaActor` through Ray (its start-up
and model load are the cold start) behind :class:`~ssloserve.runtime.ray.handle.ActorHandle`.

Cores: a replica that spends CPU (burn, torch) declares its cores to Ray as logical
``num_cpus`` when it starts, so Ray places it on a node with room, and the planner's
node is the cluster's CPUs; a sleep replica declares none (it emulates its cores). A
resize is in place, as in the emulator: the actor's threads follow the new cores. Ray
cannot change a live actor's resources, so its logical reservation keeps the start
value; a ``reservation`` row in ``Result.events`` says so at each such resize (Ray's
CPUs are logical: Ray enforces no quota, so the OS does not hold a replica to its cores
as the emulator's cgroups do). Chapter: 00_tour.
"""

from __future__ import annotations

from ..emu.router import Router
from .actor import actor_class
from .handle import ActorHandle
from .session import RaySession, require_ray

__all__ = ["RayRouter", "RAY_CORE_LIMIT"]

#: How a Ray replica's cores are held (``Result.meta["core_limit"]``).
RAY_CORE_LIMIT = "ray num_cpus (logical, declared at start) + threads"


class RayRouter(Router):
    """One Ray run: the emulator's :class:`~ssloserve.runtime.emu.router.Router` whose
    replicas are actors of ``session``'s Ray (see the module docstring)."""

    RUNTIME = "ray"

    def __init__(self, pipeline, workload, policy, options=None, emu=None, *, session):
        super().__init__(pipeline, workload, policy, options, emu)
        self.ray = require_ray()
        self.session: RaySession = session
        self.machine = session.cpus  # the planner's node: the cluster's logical CPUs
        self._actor_cls = actor_class(self.ray)
        self.actor_pids: dict[int, int] = {}

    def _spawn_replica(self, spec, cores, realtime, name):
        num_cpus = float(cores) if spec.uses_cpu else 0.0
        return ActorHandle(
            self.ray, self._actor_cls, spec, cores, num_cpus, self.session.node_id, name
        )

    def _on_ready(self, r, msg) -> None:
        self.actor_pids[r.rid] = msg[2]
        super()._on_ready(r, msg)

    def _on_death(self, r) -> None:
        if r.state != "stopping" and r.proc.error:
            self._event(r.stage, "crash_cause", "done", f"replica {r.rid}: {r.proc.error}")
        super()._on_death(r)

    def _resize(self, r, cores, g) -> None:
        super()._resize(r, cores, g)
        if r.spec.uses_cpu:
            self._event(
                r.stage,
                "reservation",
                "done",
                f"replica {r.rid}: threads follow {cores:g} cores in place; Ray keeps its "
                f"logical reservation of {r.proc_cpus:g} CPUs (a live actor's resources "
                "cannot change)",
                replica=r.rid,
            )

    def _start_replica(self, stage, variant, cores):
        r = super()._start_replica(stage, variant, cores)
        r.proc_cpus = float(cores) if r.spec.uses_cpu else 0.0
        return r

    def finish(self):
        result = super().finish()
        by_stage = result.meta["core_limit_by_stage"]
        for s, how in by_stage.items():
            if not how.startswith("emulated"):
                by_stage[s] = RAY_CORE_LIMIT
        result.meta["core_limit"] = RAY_CORE_LIMIT
        result.meta["machine_cores"] = self.machine
        result.meta["actor_pids"] = dict(self.actor_pids)
        return result
