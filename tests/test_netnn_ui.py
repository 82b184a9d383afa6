"""NetNN widget: headless, set a slider and check ``.result``."""

from ssloserve.netnn.models import paper_architecture
from ssloserve.netnn.ui import mapper_widget, mapping_outcome


def test_widget_defaults_equal_function_defaults():
    box = mapper_widget(paper_architecture())
    assert box.result["layout"] == mapping_outcome(paper_architecture())["layout"]
    assert box.result["switches"] == 18


def test_slider_changes_result():
    box = mapper_widget(paper_architecture())
    header = box.children[0]
    header.value = 1200
    assert box.result["ok"] and box.result["layout"] == "1 -> 5 -> 5 -> 5 -> 5 -> 1"
    header.value = 600
    assert not box.result["ok"]
    assert box.result["resource"] == "header bytes" and box.result["layer"] == "input"
