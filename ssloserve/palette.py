"""One colour per system (policy, planner) across every chart of the book (issue 10).

Chart builders in :mod:`ssloserve.viz` and in the techniques' ``ui`` modules colour systems
with :func:`system_scale`, so FA2 is the same green in chapter 01 as in any later chapter.
This sits in the lowest layer (it imports only Altair), so that every chart builder, at any
layer, can use it.
"""

from __future__ import annotations

import altair as alt

__all__ = ["SYSTEM_COLORS", "system_scale"]

#: One colour per system, used by every chart of the book (Tableau 10, Vega's default).
#: ``"load"`` is the offered load drawn beside the systems.
SYSTEM_COLORS: dict[str, str] = {
    "load": "#9d9d9d",
    "static peak": "#e45756",
    "InferLine-like": "#f58518",
    "HPA-like": "#4c78a8",
    "FA2": "#54a24b",
    "SLO split": "#b279a2",
    "simulator": "#72b7b2",
    "emulator": "#eeca3b",
}


def system_scale(systems) -> alt.Scale:
    """The colour scale for ``systems``, each in its :data:`SYSTEM_COLORS` colour.

    Parameters
    ----------
    systems : the system names a chart shows, in legend order

    Returns
    -------
    An ``altair.Scale`` with that domain and the matching range.

    Raises
    ------
    KeyError
        For a system with no colour yet (add it to :data:`SYSTEM_COLORS`).

    Examples
    --------
    >>> system_scale(["FA2", "SLO split"]).to_dict()
    {'domain': ['FA2', 'SLO split'], 'range': ['#54a24b', '#b279a2']}
    >>> system_scale(["mine"])
    Traceback (most recent call last):
    ...
    KeyError: "no colour for system 'mine': add it to ssloserve.palette.SYSTEM_COLORS"
    """
    names = list(dict.fromkeys(systems))
    missing = [n for n in names if n not in SYSTEM_COLORS]
    if missing:
        raise KeyError(
            f"no colour for system {missing[0]!r}: add it to ssloserve.palette.SYSTEM_COLORS"
        )
    return alt.Scale(domain=names, range=[SYSTEM_COLORS[n] for n in names])
