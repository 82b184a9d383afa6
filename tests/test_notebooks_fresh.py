"""A committed chapter is fresh: its outputs were made in full mode from the library and
data as they are now (``book/execute.py``, ``make notebooks``).

Each chapter's ``metadata["ssloserve"]`` records the sha256 of every library module the
kernel imported and every data file it read. A chapter is stale when the record is
missing, was made in quick mode, or any recorded file changed or is gone; the failure
names the file and the command that refreshes the chapter. Data files are compared when
``$SSLOSERVE_DATA`` holds them; otherwise the data test is skipped, naming the files it
could not compare.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(
        f"ssloserve_book_{name}", ROOT / "book" / f"{name}.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


execute = _load("execute")
CHAPTERS = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def _data_dir() -> Path | None:
    d = os.environ.get("SSLOSERVE_DATA")
    return Path(d) if d and Path(d).is_dir() else None


def _nb(name: str) -> dict:
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf8"))


@pytest.mark.parametrize("name", CHAPTERS)
def test_committed_chapter_is_fresh(name):
    reasons, _ = execute.stale_reasons(_nb(name), name, ROOT, _data_dir())
    library = [r for r in reasons if "data file" not in r]
    assert not library, "stale notebook:\n" + "\n".join(library)


@pytest.mark.parametrize("name", CHAPTERS)
def test_committed_chapter_data_is_fresh(name):
    reasons, unchecked = execute.stale_reasons(_nb(name), name, ROOT, _data_dir())
    data = [r for r in reasons if "data file" in r]
    assert not data, "stale notebook:\n" + "\n".join(data)
    if unchecked:
        pytest.skip(
            f"{name}: {len(unchecked)} recorded data file(s) not compared, absent from "
            f"$SSLOSERVE_DATA={os.environ.get('SSLOSERVE_DATA', '(unset)')}: "
            + ", ".join(unchecked[:5])
            + (" ..." if len(unchecked) > 5 else "")
        )


# --------------------------------------------------------------------------- the check fails


def _tree(tmp: Path) -> tuple[Path, Path, dict]:
    """A copy of two library files and one data file, and a record made from them."""
    root, data = tmp / "root", tmp / "data"
    mods = []
    for rel in ("ssloserve/__init__.py", "ssloserve/latency.py"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, root / rel)
        mods.append(str(root / rel))
    (data / "network").mkdir(parents=True)
    (data / "network" / "t.log").write_text("1 2\n3 4\n")
    used = [["data", "network", str(data / "network")]]
    meta = {
        "executed_utc": "2026-12-03T17:00:00Z",
        "mode": "full",
        "machine": execute.machine(),
        "wall_s": {"full": 100.0, "quick": 20.0},
        "commit": "0" * 40,
        "dirty": False,
        **execute.file_record(root, mods, used),
    }
    cell = {"id": execute.CELL_ID, "cell_type": "markdown", "metadata": {}}
    cell["source"] = execute.provenance_line(meta)
    nb = {
        "metadata": {execute.KEY: meta},
        "cells": [{"cell_type": "markdown", "source": "# T"}, cell],
    }
    return root, data, nb


def test_the_check_passes_on_the_files_it_recorded(tmp_path):
    root, data, nb = _tree(tmp_path)
    assert set(nb["metadata"]["ssloserve"]["data"]) == {"network/t.log"}
    assert execute.stale_reasons(nb, "07_x", root, data) == ([], [])


def test_the_check_fails_on_a_changed_or_missing_module(tmp_path):
    root, data, nb = _tree(tmp_path)
    with open(root / "ssloserve" / "latency.py", "a") as f:
        f.write("\n# an edit\n")
    (root / "ssloserve" / "__init__.py").unlink()
    reasons, _ = execute.stale_reasons(nb, "07_x", root, data)
    assert len(reasons) == 2, reasons
    assert (
        "ssloserve/latency.py changed" in reasons[0] or "ssloserve/latency.py changed" in reasons[1]
    )
    assert any("ssloserve/__init__.py, which no longer exists" in r for r in reasons)
    assert all(r.endswith("run make notebooks NB=07_x") for r in reasons)


def test_the_check_fails_on_changed_data_and_names_data_it_cannot_compare(tmp_path):
    root, data, nb = _tree(tmp_path)
    (data / "network" / "t.log").write_text("1 2\n3 5\n")
    reasons, unchecked = execute.stale_reasons(nb, "07_x", root, data)
    assert reasons == [
        "07_x: data file network/t.log changed since the outputs were made: "
        "run make notebooks NB=07_x"
    ]
    assert execute.stale_reasons(nb, "07_x", root, tmp_path / "elsewhere") == (
        [],
        ["network/t.log"],
    )
    assert execute.stale_reasons(nb, "07_x", root, None) == ([], ["network/t.log"])


def test_the_check_fails_without_a_record_in_quick_mode_or_with_a_wrong_line(tmp_path):
    root, data, nb = _tree(tmp_path)
    bare = {"metadata": {}, "cells": nb["cells"]}
    (reason,), _ = execute.stale_reasons(bare, "07_x", root, data)
    assert "no provenance record" in reason and "make notebooks NB=07_x" in reason
    nb["metadata"]["ssloserve"]["mode"] = "quick"
    reasons, _ = execute.stale_reasons(nb, "07_x", root, data)
    assert any("'quick' mode, not full" in r for r in reasons)
    # the cell still says full mode: it no longer states the record
    assert any("provenance cell" in r for r in reasons)


@pytest.mark.slow
def test_execute_records_the_modules_and_data_a_kernel_used(tmp_path, monkeypatch):
    """A real kernel: the record holds what it imported and read; a rerun replaces the line."""
    import nbformat

    monkeypatch.setenv("SSLOSERVE_DATA", str(tmp_path / "data"))
    (tmp_path / "data" / "network").mkdir(parents=True)
    (tmp_path / "data" / "network" / "t.log").write_text("1 2\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 7. X"),
        nbformat.v4.new_code_cell(
            "import os\n"
            "from ssloserve.data import data_path\n"
            "import ssloserve.latency\n"
            "print(data_path('network/t.log').read_text(), os.environ['SSLOSERVE_QUICK'])"
        ),
    ]
    path = tmp_path / "07_x.ipynb"
    nbformat.write(nb, path)
    for _ in range(2):
        meta = execute.execute(path, mode="quick")
    out = nbformat.read(path, as_version=4)
    assert out.metadata["ssloserve"] == meta
    assert meta["mode"] == "quick" and set(meta["wall_s"]) == {"quick"}
    assert "ssloserve/latency.py" in meta["library"] and "ssloserve/data.py" in meta["library"]
    assert meta["data"] == {
        "network/t.log": execute.sha256(tmp_path / "data" / "network" / "t.log")
    }
    assert [c.get("id") for c in out.cells].count(execute.CELL_ID) == 1
    assert (
        out.cells[1].source == execute.provenance_line(meta) and "quick mode" in out.cells[1].source
    )
    assert out.cells[2].outputs[0]["text"].split() == ["1", "2", "1"]
    reasons, _ = execute.stale_reasons(
        json.loads(path.read_text()), "07_x", ROOT, tmp_path / "data"
    )
    assert reasons == ["07_x: outputs made in 'quick' mode, not full: run make notebooks NB=07_x"]
