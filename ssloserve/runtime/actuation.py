"""Actuation: from (the replicas of a stage, the target config) to the steps that reach it.

Chapter: 00_tour. DESIGN.md "Actuation semantics", written once for every runtime. The
functions here are pure: they read a snapshot of the stage (:class:`ReplicaView` per live
replica) and return steps; the runtime executes them (the simulator with events on its
heap, the emulator with processes and pipes) and records each change's states
(requested, in progress, done, infeasible).

Each change, the steps that make it and what it costs:

- **replicas up**: :class:`Start` new replicas of the target variant and cores. Cost: a
  cold start.
- **replicas down**: :class:`Stop` starting and idle replicas (newest first), then
  :class:`Drain` busy ones (they finish their batch, then stop). Cost: none.
- **cores**: :class:`Resize` each replica of the target variant, in place. Cost: the
  resize delay.
- **variant**: :class:`Start` the new replicas; each old one is marked :class:`Retire` and
  keeps serving; :func:`on_ready` says which old replica goes as each new one becomes
  ready (one per new replica, the rest once none is still starting: a rolling
  replacement, as Kubernetes does); old replicas still starting are stopped at once.
  Cost: a cold start.
- **batch size**: :class:`SetBatch` (the next batch uses it). Cost: none.

A change that needs more cores than are free is :class:`Infeasible` (recorded, nothing
else happens for the replicas that do not fit): new replicas that do not fit are not
started, replicas that cannot grow keep their cores, and a variant switch of which no new
replica fits leaves the old variant serving (the plan's ``config`` keeps the old variant).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..pipeline import StageConfig

__all__ = [
    "ReplicaView",
    "Start",
    "Stop",
    "Drain",
    "Resize",
    "Retire",
    "SetBatch",
    "Infeasible",
    "Change",
    "Plan",
    "plan_stage",
    "on_ready",
    "in_force",
    "REPLICA_STATES",
]

#: States of a live replica as the planner sees it (a stopped one is not listed).
REPLICA_STATES = ("starting", "idle", "busy", "draining")

_EPS = 1e-9


@dataclass(frozen=True)
class ReplicaView:
    """What the planner needs to know of one live replica.

    Attributes
    ----------
    rid : the replica's id within its stage
    variant : the variant it serves (or loads)
    cores : the cores it serves with now
    state : one of :data:`REPLICA_STATES`
    retiring : an old variant's replica that serves until its replacement is ready
    resizing_to : the cores a resize in progress gives it (None: no resize in progress)
    held : cores it holds on the node now (None: ``cores``; during a resize the runtime
        holds the larger of the old and the new)
    """

    rid: int
    variant: str
    cores: float
    state: str
    retiring: bool = False
    resizing_to: float | None = None
    held: float | None = None

    @property
    def live(self) -> bool:
        """Counts toward the stage's target: not draining, not retiring."""
        return self.state != "draining" and not self.retiring

    @property
    def goal(self) -> float:
        """The cores it will have once the resize in progress (if any) is done."""
        return self.cores if self.resizing_to is None else self.resizing_to

    @property
    def holds(self) -> float:
        """Cores it holds on the node now."""
        return self.cores if self.held is None else self.held


@dataclass(frozen=True)
class Start:
    """Start a replica of ``variant`` with ``cores`` (it serves after its cold start)."""

    variant: str
    cores: float


@dataclass(frozen=True)
class Stop:
    """Stop replica ``rid`` now (it is starting or idle: nothing is lost)."""

    rid: int


@dataclass(frozen=True)
class Drain:
    """Replica ``rid`` takes no new batch and stops once its batch is done."""

    rid: int


@dataclass(frozen=True)
class Resize:
    """Give replica ``rid`` ``cores``, in place (after the resize delay if it is serving)."""

    rid: int
    cores: float


@dataclass(frozen=True)
class Retire:
    """Replica ``rid`` of the old variant keeps serving until :func:`on_ready` lets it go."""

    rid: int


@dataclass(frozen=True)
class SetBatch:
    """The stage's batch size is ``batch`` from its next batch on."""

    batch: int


@dataclass(frozen=True)
class Infeasible:
    """Part of a change does not fit on the node; ``detail`` says what and why."""

    detail: str


@dataclass(frozen=True)
class Change:
    """One requested change of a stage and the steps that make it.

    ``kind`` is ``"batch"``, ``"variant"``, ``"scale_out"``, ``"scale_in"`` or ``"resize"``
    (the ``kind`` column of ``Result.events``); ``detail`` describes it.
    """

    kind: str
    detail: str
    steps: tuple = ()

    @property
    def launched(self) -> bool:
        """Something of it happens (not every step is :class:`Infeasible`)."""
        return not self.steps or any(not isinstance(s, Infeasible) for s in self.steps)


@dataclass(frozen=True)
class Plan:
    """The changes for one stage, in the order to execute them, and the stage's config
    once they are made (``config``: what the runtime records as the stage's target)."""

    config: StageConfig
    changes: tuple = ()

    @property
    def steps(self) -> list:
        """Every step of every change, in order."""
        return [s for c in self.changes for s in c.steps]


def _starts(n: int, variant: str, cores: float, free: float) -> tuple[list, int, float]:
    """Up to ``n`` :class:`Start` steps that fit in ``free`` cores: (steps, how many did
    not fit, free cores left)."""
    steps = []
    for _ in range(n):
        if free + _EPS < cores:
            break
        steps.append(Start(variant, cores))
        free -= cores
    return steps, n - len(steps), free


def _no_room(bad: int, n: int, cores: float, free: float) -> Infeasible:
    return Infeasible(
        f"{bad} of {n} new replica(s) of {cores:g} cores do not fit: "
        f"{max(free, 0.0):g} node cores free"
    )


def _rid(r: ReplicaView) -> int:
    return r.rid


def _go(r: ReplicaView):
    """Stop a starting or idle replica at once; drain a busy one."""
    return Drain(r.rid) if r.state == "busy" else Stop(r.rid)


def plan_stage(
    current: StageConfig,
    target: StageConfig,
    replicas,
    free_cores: float,
    *,
    initial: bool = False,
) -> Plan:
    """The steps that take a stage from its replicas to ``target``.

    Parameters
    ----------
    current : the stage's config as last planned (its variant and batch size)
    target : the config asked for
    replicas : a :class:`ReplicaView` per live replica of the stage
    free_cores : node cores not held by any replica (``math.inf``: no limit)
    initial : the first config of a run (its scale-out is labelled ``"initial"``)

    Returns
    -------
    :class:`Plan`: its ``changes`` in order (batch, variant or scale-out / scale-in, then
    resize), its ``config`` the stage's target once they are made.

    Examples
    --------
    Scale out by two, one of which does not fit:

    >>> cur = StageConfig("m", 1, 1.0, 1)
    >>> reps = [ReplicaView(0, "m", 1.0, "busy")]
    >>> p = plan_stage(cur, StageConfig("m", 3, 1.0, 1), reps, free_cores=1.5)
    >>> [(c.kind, c.detail) for c in p.changes]
    [('scale_out', 'replicas 1->3')]
    >>> p.steps
    [Start(variant='m', cores=1.0), Infeasible(detail='1 of 2 new replica(s) of 1 cores do not fit: 0.5 node cores free')]

    Scale in: the idle replica stops at once, the busy one drains:

    >>> reps = [ReplicaView(0, "m", 1.0, "busy"), ReplicaView(1, "m", 1.0, "idle"),
    ...         ReplicaView(2, "m", 1.0, "busy")]
    >>> plan_stage(cur, StageConfig("m", 1, 1.0, 1), reps, 8.0).steps
    [Stop(rid=1), Drain(rid=2)]

    A variant switch: new replicas start, the old one retires when they are ready:

    >>> p = plan_stage(cur, StageConfig("n", 1, 2.0, 4), [ReplicaView(0, "m", 1.0, "idle")], 8.0)
    >>> [c.kind for c in p.changes], p.steps, p.config
    (['batch', 'variant'], [SetBatch(batch=4), Start(variant='n', cores=2.0), Retire(rid=0)], StageConfig(variant='n', replicas=1, cores=2.0, batch=4))
    """
    changes = []
    free = float(free_cores)
    if target.batch != current.batch:
        changes.append(
            Change("batch", f"batch {current.batch}->{target.batch}", (SetBatch(target.batch),))
        )
    live = [r for r in replicas if r.live]
    if target.variant != current.variant:
        detail = f"{current.variant}->{target.variant}"
        starts, bad, free = _starts(target.replicas, target.variant, target.cores, free)
        if target.replicas and not starts:  # nothing fits: the old variant keeps serving
            no_room = _no_room(bad, target.replicas, target.cores, free)
            changes.append(Change("variant", detail, (no_room,)))
            return Plan(replace(current, batch=target.batch), tuple(changes))
        steps = list(starts)
        if bad:
            steps.append(_no_room(bad, target.replicas, target.cores, free))
        for r in sorted(live, key=lambda r: r.rid):
            if r.state == "starting" or not starts:  # serves nothing yet / nothing to wait for
                steps.append(_go(r))
            else:
                steps.append(Retire(r.rid))
        changes.append(Change("variant", detail, tuple(steps)))
        return Plan(target, tuple(changes))

    cur = [r for r in live if r.variant == target.variant]
    m, want = len(cur), target.replicas
    if m < want:
        detail = "initial" if initial else f"replicas {m}->{want}"
        starts, bad, free = _starts(want - m, target.variant, target.cores, free)
        steps = starts + ([_no_room(bad, want - m, target.cores, free)] if bad else [])
        changes.append(Change("scale_out", detail, tuple(steps)))
    elif m > want:
        order = sorted(cur, key=lambda r: (r.state != "starting", r.state == "busy", -r.rid))
        gone, cur = order[: m - want], order[m - want :]
        if not any(r.state == "starting" for r in cur):
            # no replacement is still starting: old replicas still retiring have nothing
            # left to wait for (their replacements were just scaled in) and go too
            gone += sorted((r for r in replicas if r.retiring and r.state != "draining"), key=_rid)
        steps = tuple(_go(r) for r in gone)
        free += sum(r.holds for r in gone if r.state != "busy")
        changes.append(Change("scale_in", f"replicas {m}->{want}", steps))
    todo = [r for r in cur if abs(r.goal - target.cores) > _EPS]
    if todo:
        steps, bad = [], 0
        for r in todo:
            # a serving replica holds the larger of its old and new cores until the resize
            # is done; a starting one takes the new cores at once
            hold = target.cores if r.state == "starting" else max(r.cores, target.cores)
            if hold - r.holds > free + _EPS:
                bad += 1
                continue
            free -= hold - r.holds
            steps.append(Resize(r.rid, target.cores))
        if bad:
            steps.append(
                Infeasible(
                    f"{bad} replica(s) cannot grow to {target.cores:g} cores: "
                    f"{max(free, 0.0):g} node cores free; they keep their cores"
                )
            )
        detail = f"cores {todo[0].goal:g}->{target.cores:g}"
        changes.append(Change("resize", detail, tuple(steps)))
    return Plan(target, tuple(changes))


def on_ready(replicas, variant: str) -> list:
    """A replica of ``variant`` (the stage's target) has become ready: which retiring
    replicas go now. One per new replica ready, and all that are left once no replica of
    ``variant`` is still starting; idle ones first (they stop at once), then busy ones
    (they drain), oldest first.

    Parameters
    ----------
    replicas : a :class:`ReplicaView` per live replica, the new one already ``"idle"``
    variant : the stage's target variant

    Returns
    -------
    list of :class:`Stop` and :class:`Drain` steps (empty when nothing is retiring)

    Examples
    --------
    >>> reps = [ReplicaView(0, "m", 1.0, "busy", retiring=True),
    ...         ReplicaView(1, "m", 1.0, "idle", retiring=True),
    ...         ReplicaView(2, "n", 1.0, "idle"), ReplicaView(3, "n", 1.0, "starting")]
    >>> on_ready(reps, "n")
    [Stop(rid=1)]
    >>> on_ready(reps[:3], "n")   # no new replica still starting: every old one goes
    [Stop(rid=1), Drain(rid=0)]
    """
    old = sorted(
        (r for r in replicas if r.retiring and r.state != "draining"),
        key=lambda r: (r.state == "busy", r.rid),
    )
    if not old:
        return []
    starting = any(r.live and r.variant == variant and r.state == "starting" for r in replicas)
    return [_go(r) for r in (old[:1] if starting else old)]


def in_force(replicas, current: StageConfig) -> StageConfig:
    """The config a stage serves with now: its serving (idle or busy) replicas of the
    target variant, or of the variant still serving when none of the target's is ready.

    Parameters
    ----------
    replicas : a :class:`ReplicaView` per live replica
    current : the stage's target (its variant, and the cores and batch size when no
        replica serves)

    Examples
    --------
    >>> reps = [ReplicaView(0, "m", 1.0, "busy", retiring=True), ReplicaView(1, "n", 2.0, "starting")]
    >>> in_force(reps, StageConfig("n", 1, 2.0, 4))
    StageConfig(variant='m', replicas=1, cores=1.0, batch=4)
    >>> in_force([], StageConfig("n", 1, 2.0, 4))
    StageConfig(variant='n', replicas=0, cores=2.0, batch=4)
    """
    serving = [r for r in replicas if r.state in ("idle", "busy")]
    variant = current.variant
    if serving and not any(r.variant == variant for r in serving):
        variant = serving[0].variant
    mine = [r for r in serving if r.variant == variant]
    cores = max((r.cores for r in mine), default=current.cores)
    return StageConfig(variant, len(mine), cores, current.batch)
