"""NetNN widget: headless, set a slider and check ``.result``."""

from ssloserve.netnn.models import paper_architecture
from ssloserve.netnn.ui import mapper_widget, mapping_outcome


def test_widget_defaults_equal_function_defaults():
    import inspect

    box = mapper_widget(paper_architecture())
    assert box.result["layout"] == mapping_outcome(paper_architecture())["layout"]
    assert box.result["switches"] == 18
    params = list(inspect.signature(mapping_outcome).parameters.values())[1:]
    controls = box.children[:-1]
    assert len(controls) == len(params)
    for control, param in zip(controls, params, strict=True):
        assert control.value == param.default, param.name


def test_slider_changes_result():
    box = mapper_widget(paper_architecture())
    header = box.children[0]
    header.value = 1200
    assert box.result["ok"] and box.result["layout"] == "1 -> 5 -> 5 -> 5 -> 5 -> 1"
    header.value = 600
    assert not box.result["ok"]
    assert box.result["resource"] == "header bytes" and box.result["layer"] == "input"
