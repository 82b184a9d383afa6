"""Chapters a learner can run, copy and trust (issue 10), checked on the notebook files.

- Each chapter runs to the end with an empty data folder (the synthetic fallbacks), in
  quick mode: executed with nbclient, any error fails (outputs differ there, so they are
  not compared; nbval compares them with the real data).
- Its code can be copied: no hidden setup cell, no test marker in a cell's source (nbval
  reads ``nbval-ignore-output`` from the cell's tags), lines that fit the column.
- It opens with learning objectives, prerequisites and a time estimate in quick mode.
- Every exercise has a hint (a dropdown admonition) and a worked solution: a code cell
  tagged ``hide-cell`` that asserts its answer (nbval runs it with the chapter).

:data:`CHAPTERS` lists the chapters converted to this template so far.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CHAPTERS = ("00_tour", "01_fa2", "02_sponge", "03_ipa", "04_biscale", "05_netnn")
#: widest code line, in characters, that the book's code column shows without a scroll bar
#: (measured in Chromium by tests/test_book_chapters.py; notebooks/ruff.toml formats to it)
MAX_CODE_LINE = 77
HIDDEN = {"remove-cell", "remove-input", "hide-input"}


def _cells(name: str) -> list[dict]:
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf8"))["cells"]


def _src(cell: dict) -> str:
    s = cell["source"]
    return s if isinstance(s, str) else "".join(s)


def _tags(cell: dict) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


@pytest.mark.slow
@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_runs_without_the_data(name, tmp_path, monkeypatch):
    """Quick mode, ``$SSLOSERVE_DATA`` an empty folder and no cache: every cell runs."""
    import nbformat
    from nbclient import NotebookClient

    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("SSLOSERVE_DATA", str(empty))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("SSLOSERVE_QUICK", "1")
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", path.rstrip(os.pathsep))
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    out = "\n".join(
        o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"])
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
    )
    assert "synthetic" in out, "the chapter must say on screen that it used synthetic data"


@pytest.mark.parametrize("name", CHAPTERS)
def test_code_is_shown_and_fits_the_column(name):
    cells = _cells(name)
    for i, c in enumerate(cells):
        if c["cell_type"] != "code":
            continue
        assert not _tags(c) & HIDDEN, f"{name} cell {i} hides its code: {_tags(c) & HIDDEN}"
        src = _src(c)
        assert "NBVAL" not in src.upper(), f"{name} cell {i}: a test marker in the source"
        for line in src.splitlines():
            assert len(line) <= MAX_CODE_LINE, f"{name} cell {i}: {len(line)} chars: {line}"


@pytest.mark.parametrize("name", CHAPTERS)
def test_printed_lines_fit_the_column(name):
    for i, c in enumerate(_cells(name)):
        for o in c.get("outputs", []):
            if o.get("output_type") != "stream":
                continue
            text = o["text"] if isinstance(o["text"], str) else "".join(o["text"])
            for line in text.splitlines():
                assert len(line) <= MAX_CODE_LINE, f"{name} cell {i} prints {len(line)}: {line}"


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_opens_with_objectives_prerequisites_and_time(name):
    head = _src(_cells(name)[0])
    assert head.startswith("# "), "the first cell is the title"
    assert "**You will learn to**" in head
    assert "**Prerequisites**" in head
    m = re.search(r"\*\*Time\*\*:(.*?)(\n\n|$)", head, re.S)
    assert m and "quick mode" in m.group(1) and re.search(r"\d+ s", m.group(1)), head


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_exercise_has_a_hint_and_a_tested_solution(name):
    cells = _cells(name)
    start = next(i for i, c in enumerate(cells) if _src(c).lstrip().startswith("## Exercises"))
    numbered = [
        i
        for i, c in enumerate(cells[start:], start)
        if c["cell_type"] == "markdown" and re.match(r"\d+\. ", _src(c))
    ]
    assert len(numbered) >= 3, f"{name}: exercises should be one markdown cell each"
    for k, i in enumerate(numbered, start=1):
        md = _src(cells[i])
        assert md.startswith(f"{k}. "), f"{name}: exercise {k} out of order"
        assert re.search(r"```\{admonition\} Hint\n:class: dropdown\n", md), (name, k)
        sol = cells[i + 1]
        assert sol["cell_type"] == "code" and "hide-cell" in _tags(sol), (name, k)
        assert re.search(r"^\s*assert ", _src(sol), re.M), f"{name}: solution {k} asserts"
        assert sol.get("outputs") is not None and sol.get("execution_count"), (
            f"{name}: solution {k} was not executed (nbval runs it with the chapter)"
        )
