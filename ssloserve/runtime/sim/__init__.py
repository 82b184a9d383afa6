"""The discrete-event simulator behind ``run(..., runtime="sim")``.

Chapter: 00_tour (and every chapter's paper-scale runs). Deterministic for a seed.

How it works, in one paragraph: arrivals are read in order from the workload (no event per
arrival); a binary heap holds the other events (a batch finishes, a replica is ready after
its cold start, a resize takes effect, a batch-delay timer fires, the policy's tick).
Each stage has a queue from :mod:`ssloserve.queues` and a heap of idle replicas (the one
idle longest goes first). A free replica takes up to ``b`` requests and is busy for the
service time l(k, c) of the ``k`` it took (deterministic, exponential or log-normal around
l). A finished batch moves its requests to the next stages; a stage with several upstream
stages (a join) starts a request once all of them finished it. Records are kept per batch
and written into the columnar :class:`~ssloserve.runtime.result.RequestLog` in chunks.

Ties: at equal times events go before arrivals and events keep the order they were
scheduled in. A ``Static`` policy on a chain with no batch delay takes a faster route with
the same semantics: each stage in one pass over its arrivals, batch by batch (the Lindley
recursion in closed form for one server and batch 1), the next stage's arrivals being this
stage's completions in the order the event loop would process them
(``tests/test_sim_fast.py`` checks the two agree record for record).

Actuation follows DESIGN.md, planned by :mod:`ssloserve.runtime.actuation` (the same
planner as the emulator's): a vertical resize happens in place after ``resize_delay_ms``
(the batch in progress keeps its speed); a new replica (scale-out or a variant switch)
serves after ``cold_start_s``; scale-in drains (a busy replica finishes its batch); a
variant switch is a rolling replacement (an old replica retires as each new one is ready;
replicas ready at the same instant are ready together); a batch-size change applies to the
next batch. A change that needs more cores than ``node_cores`` free is infeasible: it is
recorded and the replica keeps its cores.

What a policy sees (:class:`~ssloserve.observation.Observation`) includes each
stage's measured utilisation over the last interval: the replica-seconds its ready (active
or draining) replicas spent serving batches, over the replica-seconds they were ready.

The parts: :mod:`.state` (stages, replicas, records, observation, end of a run),
:mod:`.service` (service times and their random streams), :mod:`.actuate` (carries out the
actuation plans), :mod:`.fast` (the fast path) and :mod:`.loop` (the event loop, the
reference, and :func:`simulate`).

Ctrl-C stops a run at the next safe point (within about a thousand events) and returns what
was measured: requests that arrived are accounted for (the unfinished ones dropped with
reason ``interrupted``), the others are left out. Every result's accounting is checked
(:meth:`~ssloserve.runtime.result.Result.check_accounting`) before it is returned.
"""

from .loop import simulate

__all__ = ["simulate"]
