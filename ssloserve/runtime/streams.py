"""The random streams of a run, each derived from the run's seed and a name of its own.

Chapter: 00_tour. ``np.random.default_rng([seed, k])`` is the same generator as
``default_rng(seed)`` for ``k = 0`` (``SeedSequence([seed, 0]) == SeedSequence(seed)``),
so a user who draws a workload with ``default_rng(1)`` and runs with ``seed=1`` would get
service times from the very stream of the arrival gaps. Every stream of a runtime is
therefore ``SeedSequence(seed, spawn_key=(PURPOSE, k))``: a spawn key that no plain
``default_rng(seed)`` (spawn key ``()``) and no ``SeedSequence(seed).spawn(n)`` child
(spawn key ``(i,)``) has.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SERVICE", "run_stream"]

#: Spawn-key purpose of the simulator's service-time noise (one stream per stage).
SERVICE = 0x5E41CE


def run_stream(seed: int, purpose: int, k: int) -> np.random.Generator:
    """The generator of stream ``k`` of ``purpose`` in a run seeded ``seed``.

    Examples
    --------
    >>> a = run_stream(1, SERVICE, 0).random(3)
    >>> bool((a == run_stream(1, SERVICE, 0).random(3)).all())   # reproducible
    True
    >>> bool((a == np.random.default_rng(1).random(3)).any())   # not the user's stream
    False
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(purpose, k)))
