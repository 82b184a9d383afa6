"""Biscale's switching rule: when to scale vertically, when to go back to horizontal (PAPERS.md 4).

Chapter 04_biscale. A pure function of the state and what the policy observed, so the rule
can be read, and tested, apart from the planners and the runtime:
:class:`~ssloserve.biscale.policy.BiscalePolicy` computes the :class:`Signals`, calls
:func:`switch`, and applies the plan the branch names (:data:`BRANCHES`).

The rule, in the order it is checked:

1. the demand now (``rise``) or the predicted demand (``predicted_rise``) exceeds what the
   ready replicas carry: scale *vertically* at once (a resize is in place, no cold start);
   if that puts a stage at its core cap (``at_cap``), scale *out* at once as well (vertical
   scaling cannot go further);
2. in vertical mode, while new replicas are still starting (``starting``), stay vertical;
3. once the horizontal plan's replicas are ready and the load has been stable for ``K``
   decisions (or replicas were already asked for), go back to the cheaper horizontal plan
   (``to_horizontal``: the vertical cores shrink in place);
4. stable for fewer than ``K`` decisions: stay vertical (``hold``); for ``K``: ask for the
   horizontal plan's replicas (``stable``; they start, vertical carries the load meanwhile);
5. in horizontal mode, scale in only when every recommendation of the stabilisation window
   agrees (``scale_in``), not when only the latest does (``scale_in_wait``); otherwise
   nothing changes (``steady``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["BRANCHES", "VERTICAL_BRANCHES", "SwitchRule", "Signals", "SwitchState", "switch"]

#: Every branch of :func:`switch`, in the order the rule checks them.
BRANCHES = (
    "rise",
    "predicted_rise",
    "at_cap",
    "starting",
    "to_horizontal",
    "hold",
    "stable",
    "scale_in",
    "scale_in_wait",
    "steady",
)
#: The branches after which the plan in force is vertical.
VERTICAL_BRANCHES = ("rise", "predicted_rise", "at_cap", "starting", "hold", "stable")


@dataclass(frozen=True)
class SwitchRule:
    """The thresholds of the rule.

    Attributes
    ----------
    k_stable : K, the stable decisions before going back to horizontal (PAPERS.md 4: 5-10)
    rise_tolerance : the demand must exceed the ready capacity by more than this fraction to
        count as a rise (0: any excess)
    """

    k_stable: int = 5
    rise_tolerance: float = 0.0

    def __post_init__(self):
        if not (isinstance(self.k_stable, int) and self.k_stable >= 1):
            raise ValueError(f"k_stable must be an integer >= 1, got {self.k_stable!r}")
        if not self.rise_tolerance >= 0:
            raise ValueError(f"rise_tolerance must be >= 0, got {self.rise_tolerance!r}")


@dataclass(frozen=True)
class Signals:
    """What the policy observed at one decision.

    Attributes
    ----------
    demand_rps : the rate to carry now (recent rate x headroom)
    predicted_rps : the rate the predictor expects (x headroom)
    capacity_rps : what the ready replicas carry now (the smallest over the stages)
    vertical_at_cap : the vertical plan for the demand puts a stage at its core cap
    starting : some stage has replicas still starting (cold start)
    horizontal_ready : every stage has at least the horizontal plan's replicas ready
    cheaper_now : the horizontal plan for the latest rate is cheaper than the plan in force
    cheaper_stable : so is every recommendation of the stabilisation window
    """

    demand_rps: float
    predicted_rps: float
    capacity_rps: float
    vertical_at_cap: bool = False
    starting: bool = False
    horizontal_ready: bool = True
    cheaper_now: bool = False
    cheaper_stable: bool = False


@dataclass(frozen=True)
class SwitchState:
    """The rule's memory between decisions.

    Attributes
    ----------
    mode : ``"horizontal"`` or ``"vertical"`` (the kind of plan in force)
    stable : consecutive decisions without a rise since the last vertical scaling
    scaled_out : the horizontal plan's replicas were asked for in this vertical episode
    """

    mode: str = "horizontal"
    stable: int = 0
    scaled_out: bool = False


def switch(
    state: SwitchState, sig: Signals, rule: SwitchRule | None = None
) -> tuple[str, SwitchState]:
    """One decision of Biscale's switching rule (PAPERS.md 4; chapter 04_biscale).

    Parameters
    ----------
    state : the rule's state after the previous decision
    sig : what the policy observed now
    rule : the thresholds (default :class:`SwitchRule`)

    Returns
    -------
    (branch, new state)
        ``branch`` is one of :data:`BRANCHES`; the plan is vertical after the branches of
        :data:`VERTICAL_BRANCHES`, horizontal after the others.

    Examples
    --------
    A load step: vertical at once, then K = 2 stable decisions, replicas asked for, their
    cold start, and back to horizontal once they are ready.

    >>> rule = SwitchRule(k_stable=2)
    >>> s = SwitchState()
    >>> seen = []
    >>> for sig in [Signals(10, 10, 12), Signals(30, 30, 12), Signals(30, 30, 31),
    ...             Signals(30, 30, 31, horizontal_ready=False),
    ...             Signals(30, 30, 31, starting=True, horizontal_ready=False),
    ...             Signals(30, 30, 31)]:
    ...     branch, s = switch(s, sig, rule)
    ...     seen.append(branch)
    >>> seen
    ['steady', 'rise', 'hold', 'stable', 'starting', 'to_horizontal']
    >>> s
    SwitchState(mode='horizontal', stable=0, scaled_out=False)
    """
    rule = SwitchRule() if rule is None else rule
    limit = sig.capacity_rps * (1.0 + rule.rise_tolerance)
    up, up_predicted = sig.demand_rps > limit, sig.predicted_rps > limit
    if up or up_predicted:
        if sig.vertical_at_cap:
            return "at_cap", SwitchState("vertical", 0, True)
        return ("rise" if up else "predicted_rise"), SwitchState("vertical", 0, state.scaled_out)
    if state.mode == "vertical":
        stable = state.stable + 1
        if sig.starting:
            return "starting", replace(state, stable=stable)
        if sig.horizontal_ready and (stable >= rule.k_stable or state.scaled_out):
            return "to_horizontal", SwitchState()
        if stable < rule.k_stable:
            return "hold", replace(state, stable=stable)
        return "stable", SwitchState("vertical", stable, True)
    if sig.cheaper_stable:
        return "scale_in", state
    if sig.cheaper_now:
        return "scale_in_wait", state
    return "steady", state
