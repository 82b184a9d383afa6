"""What a burn replica really takes on this machine below one core (chapter 02_sponge).

The latency model l(b, c) = (gamma b + epsilon) / c + delta b + eta (PAPERS.md 0.1) says
that more cores speed up only the parallel part. A burn replica (:mod:`ssloserve.runtime.emu`)
spends ``gamma b + epsilon`` CPU-ms over ``max(1, ceil(c))`` threads and then ``delta b + eta``
CPU-ms on one thread, under a CPU quota of ``c`` cores. Above one core the serial thread
runs at full speed, so l(b, c) holds. Below one core the quota slows *every* thread,
the serial one too: a thread allowed ``c`` of a core needs ``1 / c`` times its CPU time.
So on ``c < 1`` cores the replica takes

    l_q(b, c) = (gamma b + epsilon) / c + (delta b + eta) / min(c, 1)

:class:`SubCoreModel` is that latency, with the same four parameters (a burn replica of it
spends exactly the CPU of the plain model): given to the solvers, the simulator and the
horizontal planner, it makes them plan for what the emulator will measure.
:func:`measure_replica` times a burn replica of a model on this machine, to check it.

Examples
--------
>>> from ssloserve.latency import LatencyModel
>>> plain = LatencyModel(10.0, 20.0, 0.0, 0.0)          # 10 ms parallel, 20 ms serial
>>> q = SubCoreModel.of(plain)
>>> float(plain.latency(1, 0.5)), float(q.latency(1, 0.5))  # the serial part halves too
(40.0, 60.0)
>>> float(plain.latency(1, 2.0)) == float(q.latency(1, 2.0))  # from one core on: equal
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..latency import LatencyModel
from ..pipeline import Variant

__all__ = ["SubCoreModel", "measure_replica"]


@dataclass(frozen=True)
class SubCoreModel(LatencyModel):
    """l(b, c) of a replica whose serial part also slows down below one core (module
    docstring): ``(gamma b + epsilon) / c + (delta b + eta) / min(c, 1)``.

    It is a :class:`~ssloserve.latency.LatencyModel` (same parameters, same CPU per batch),
    so a :class:`~ssloserve.pipeline.Variant` holding it runs as the same burn replica.
    """

    @classmethod
    def of(cls, model: LatencyModel) -> SubCoreModel:
        """The sub-core form of ``model`` (same four parameters)."""
        return cls(model.gamma, model.delta, model.epsilon, model.eta)

    def latency(self, b, c):
        """Latency in ms of one batch of ``b`` on ``c`` cores (vectorised)."""
        b = np.asarray(b, dtype=float)
        c = np.asarray(c, dtype=float)
        par = (self.gamma * b + self.epsilon) / c
        out = par + (self.delta * b + self.eta) / np.minimum(c, 1.0)
        return out if out.ndim else float(out)


def measure_replica(
    model: LatencyModel, batches=(1, 4), cores=(0.25, 0.5, 1.0, 1.5), repeats: int = 3
):
    """Time a burn replica of ``model`` on this machine over ``batches`` x ``cores``
    (real CPU under real core limits, resized in place between core counts), with
    :func:`ssloserve.runtime.emu.profile.profile_model`.

    Returns
    -------
    Its :class:`~ssloserve.runtime.emu.profile.ProfileResult`: ``.table`` has ``batch,
    cores, latency_ms`` (median of ``repeats``), ``.backend`` the core-limit mechanism.
    """
    from ..runtime.emu.profile import profile_model

    v = Variant("burn", 0.5, LatencyModel(*model.params), model="burn")
    return profile_model(v, batches, cores, repeats=repeats, warmup=1)
