"""The Ray runtime (``runtime="ray"``): the emulator's experiment on a Ray cluster.

Replicas are **Ray actors** with their CPUs declared, not Ray Serve deployments. Why:
the experiment *is* the serving system's control plane. The policy decides replicas,
cores, batch and variant every interval, and the router must keep the emulator's
semantics (EDF queues, batching, the drop rules, one status per request, the actuation
log of the shared planner). Ray Serve brings its own router, queueing, batching and
autoscaler; using it would replace exactly the mechanisms the chapters study, and its
replica changes go through its own reconciliation (no in-place thread change, no
per-replica control of which one drains). A plain actor is one replica process whose
start-up Ray measures as a real cold start, which Ray places by its declared CPUs, and
which dies visibly (``ActorDiedError``), so the emulator's router drives it unchanged.

How a run goes (:func:`serve_on_ray`): :func:`~ssloserve.runtime.ray.session.ray_session`
starts a local Ray (``num_cpus=2`` by default) or joins ``address=``; the emulator's
runner (:func:`ssloserve.runtime.emu.emulate`, with its Ctrl-C and SIGTERM handling) runs
:class:`~ssloserve.runtime.ray.router.RayRouter`; the open-loop load generator is the
emulator's, in its own process on the driver's machine. A killed actor is noticed at
once (its blocked ``watch`` call fails), its batch is retried (``max_retries``) or
dropped with reason ``replica_crash``, and a replacement actor starts. A Ray started
here is shut down on every exit path and its processes waited for; ``Result.meta["ray"]``
records them, and :func:`~ssloserve.runtime.ray.session.leftovers` checks that none is
left. Without Ray installed, ``runtime="ray"`` raises
:class:`~ssloserve.errors.ToolNotFoundError` naming ``pip install 'ssloserve[ray]'``.
Chapter: 00_tour.
"""

from __future__ import annotations

import functools

from .options import RayOptions
from .session import RaySession, leftovers, ray_session, require_ray

__all__ = ["serve_on_ray", "RayOptions", "RaySession", "leftovers", "ray_session", "require_ray"]


def serve_on_ray(pipeline, workload, policy, options=None, ray_options=None):
    """Serve ``workload`` on ``pipeline`` with Ray actors, adapting with ``policy``.

    Parameters
    ----------
    pipeline, workload, policy, options : as for
        :func:`ssloserve.runtime.emu.emulate`
    ray_options : :class:`RayOptions` (None: the defaults, a local Ray with 2 CPUs)

    Returns
    -------
    :class:`~ssloserve.runtime.result.Result` with ``runtime="ray"``;
    ``meta["ray"]`` describes the Ray used (address, session, its local processes),
    ``meta["cold_start_s"]`` the measured actor start-ups.
    """
    from ..emu import emulate
    from .router import RayRouter

    ropt = (ray_options or RayOptions()).validate()
    with ray_session(ropt.address, ropt.num_cpus) as session:
        router = functools.partial(RayRouter, session=session)
        result = emulate(pipeline, workload, policy, options, ropt.emu_options(), router=router)
    result.meta["ray"] = session.as_meta()
    return result
