"""Widgets for chapter 05 (NetNN): thin wrappers over pure functions.

:func:`mapping_outcome` is the pure function; :func:`mapper_widget` puts sliders on its
arguments (defaults equal the function's) and keeps the latest outcome in ``.result``.
"""

from __future__ import annotations

import pandas as pd

from ..errors import MappingError
from .mapper import partition
from .switch import BMV2

__all__ = ["mapping_outcome", "mapper_widget"]


def mapping_outcome(
    model,
    header_bytes: int = BMV2.header_bytes,
    ops_per_action: int = BMV2.ops_per_action,
    register_kib: int = BMV2.register_bytes // 1024,
    stages: int = BMV2.stages,
    sample_slots: int = BMV2.sample_slots,
    widths: str = "uniform",
) -> dict:
    """Map ``model`` onto BMv2-like switches with some limits changed (chapter 05).

    Returns
    -------
    dict with ``ok``, ``layout``, ``switches``, ``binding`` (resource per layer) and ``table``
    when it fits, else ``ok`` False with the error's ``resource``, ``layer`` and ``message``.

    Examples
    --------
    >>> from ssloserve.netnn.models import paper_architecture
    >>> mapping_outcome(paper_architecture())["layout"]
    '1 -> 4 -> 4 -> 4 -> 4 -> 1'
    >>> mapping_outcome(paper_architecture(), header_bytes=1200)["layout"]
    '1 -> 5 -> 5 -> 5 -> 5 -> 1'
    >>> r = mapping_outcome(paper_architecture(), header_bytes=600)
    >>> r["ok"], r["resource"], r["layer"]
    (False, 'header bytes', 'input')
    """
    spec = BMV2.with_(
        header_bytes=int(header_bytes),
        ops_per_action=int(ops_per_action),
        register_bytes=int(register_kib) * 1024,
        stages=int(stages),
        sample_slots=int(sample_slots),
    )
    try:
        plan = partition(model, spec, widths=widths)
    except MappingError as e:
        return {"ok": False, "resource": e.resource, "layer": e.layer, "message": str(e)}
    return {
        "ok": True,
        "layout": plan.layout,
        "switches": plan.n_switches,
        "binding": plan.binding(),
        "table": plan.table(),
        "plan": plan,
    }


def mapper_widget(model):
    """Sliders over :func:`mapping_outcome` for ``model``; ``.result`` holds the latest outcome."""
    import ipywidgets as w
    from IPython.display import display

    sliders = {
        "header_bytes": w.IntSlider(
            value=BMV2.header_bytes, min=100, max=1486, step=10, description="header B"
        ),
        "ops_per_action": w.IntSlider(
            value=BMV2.ops_per_action, min=8, max=2048, step=8, description="ops/action"
        ),
        "register_kib": w.IntSlider(
            value=BMV2.register_bytes // 1024, min=16, max=16384, step=16, description="regs KiB"
        ),
        "stages": w.IntSlider(value=BMV2.stages, min=12, max=8192, step=4, description="stages"),
        "sample_slots": w.Dropdown(
            options=[1, 2, 4, 8, 16, 32, 64], value=BMV2.sample_slots, description="slots"
        ),
        "widths": w.Dropdown(options=["uniform", "free"], value="uniform", description="widths"),
    }
    out = w.Output()
    box = w.VBox([*sliders.values(), out])

    def update(_=None):
        r = mapping_outcome(model, **{k: s.value for k, s in sliders.items()})
        box.result = r
        out.clear_output(wait=True)
        with out:
            if r["ok"]:
                display(pd.DataFrame({"layout": [r["layout"]], "switches": [r["switches"]]}))
                display(r["table"].drop_duplicates("layer"))
            else:
                display(pd.DataFrame({"does not fit": [r["message"]]}))

    for s in sliders.values():
        s.observe(update, names="value")
    update()
    return box
