"""Execute the chapters in place: ``python book/execute.py [NAME ...] [--mode full|quick]``.

``make notebooks`` runs it (``make notebooks NB=02_sponge`` for one chapter). Each
``notebooks/NN_*.ipynb`` (or each one named) is executed with nbclient in **full mode**
(``SSLOSERVE_QUICK`` unset) with the real data of ``$SSLOSERVE_DATA``, and saved with its
new outputs. Then a copy runs once in quick mode (``SSLOSERVE_QUICK=1``, not saved) to
measure the quick wall time. ``--mode quick`` saves a quick-mode run instead (for trying
the script; ``tests/test_notebooks_fresh.py`` rejects such a notebook).

What the outputs were made from is written to the notebook's ``metadata["ssloserve"]``:
the UTC time, the machine (CPU model, cores, OS; no host name), the mode, the full and
quick wall times (each from starting the kernel to its last cell), the git commit, and
the sha256 of every ``ssloserve`` module the kernel had imported and of every data file
it resolved (:func:`ssloserve.data.files_used`, asked in the kernel after the last cell).
A markdown cell under the title (id and tag ``ssloserve-provenance``, replaced on each
run) states in one line when, where and in which mode the outputs were made.

:func:`stale_reasons` compares that record with the files as they are now: the test of
stale notebooks and ``book/backmatter.py`` (the run-time table of the "Run it yourself"
page) read it.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BOOK = Path(__file__).resolve().parent
ROOT = BOOK.parent
if str(BOOK) not in sys.path:
    sys.path.insert(0, str(BOOK))

from backmatter import duration  # noqa: E402 - book/backmatter.py, found through the path set above

NOTEBOOKS = ROOT / "notebooks"
KEY = "ssloserve"  # notebook metadata key of the record
CELL_ID = "ssloserve-provenance"  # id and tag of the provenance cell
TIMEOUT_S = 1800  # per cell
_MARK = "SSLOSERVE-PROVENANCE "
#: run in the kernel after the last cell: the library modules and data files it used
PROBE = f"""import json, sys
from ssloserve.data import files_used
mods = sorted({{
    m.__file__ for n, m in list(sys.modules.items())
    if (n == "ssloserve" or n.startswith("ssloserve."))
    and getattr(m, "__file__", None)
}})
used = [[k, r, str(p)] for k, r, p in files_used()]
print({_MARK!r} + json.dumps({{"modules": mods, "data": used}}))
"""

__all__ = [
    "execute",
    "stale_reasons",
    "provenance_line",
    "file_record",
    "machine",
    "main",
]


def _log(msg: str) -> None:
    print(f"[notebooks] {msg}", file=sys.stderr, flush=True)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def machine() -> dict:
    """The machine, without its host name: CPU model, cores, OS, Python, load average."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": " ".join(cpu.split()),
        "cores": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }


def _git(*args: str, root: Path = ROOT) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def file_record(root: Path, modules: list[str], data: list[list[str]]) -> dict:
    """sha256 of the library files and data files a run used.

    ``modules``: absolute paths of module files, all under ``root``; ``data``: ``[kind,
    relpath, path]`` from :func:`ssloserve.data.files_used`. A folder counts as every file
    under it. Returns ``{"library": {repo path: sha}, "data": {data relpath: sha}}``; a
    file of the project's ``data/`` folder belongs to the library (it is in the repository).
    """
    root = Path(root).resolve()
    lib, dat = {}, {}
    for m in modules:
        p = Path(m).resolve()
        if not p.is_relative_to(root):
            raise RuntimeError(f"the kernel imported {p}, not this checkout's library ({root})")
        lib[p.relative_to(root).as_posix()] = sha256(p)
    for kind, rel, path in data:
        path = Path(path)
        files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
        for f in files:
            sub = Path(rel, f.relative_to(path)).as_posix() if path.is_dir() else rel
            if kind == "project":
                lib[f.resolve().relative_to(root).as_posix()] = sha256(f)
            else:
                dat[sub] = sha256(f)
    return {"library": dict(sorted(lib.items())), "data": dict(sorted(dat.items()))}


def provenance_line(meta: dict) -> str:
    """The one line a chapter shows under its title, from its ``metadata["ssloserve"]``."""
    m = meta["machine"]
    when = meta["executed_utc"][:16].replace("T", " ")
    mode = meta["mode"]
    walls = meta["wall_s"]
    other = "quick" if mode == "full" else "full"
    dirty = " with uncommitted changes" if meta.get("dirty") else ""
    return (
        f"*Outputs made in **{mode} mode** on {when} UTC, on {m['cores']} cores of "
        f"{m['cpu']} ({m['os']}), library at commit `{meta['commit'][:10]}`{dirty}: "
        f"{duration(walls.get(mode))} ({other} mode: {duration(walls.get(other))}). "
        "See [Run it yourself](../run.md).*"
    )


def _run(nb, quick: bool) -> tuple[float, dict]:
    """Execute ``nb`` in place in a fresh kernel; return the wall time and the probe."""
    import nbformat
    from nbclient import NotebookClient

    env = {"SSLOSERVE_QUICK": "1" if quick else "0"}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    probe = nbformat.v4.new_code_cell(PROBE)
    nb.cells.append(probe)
    try:
        client = NotebookClient(
            nb,
            timeout=TIMEOUT_S,
            kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOKS)}},
        )
        t0 = time.perf_counter()
        client.execute()
        wall = time.perf_counter() - t0
    finally:
        nb.cells.remove(probe)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    text = "".join(o.get("text", "") for o in probe.outputs if o.get("output_type") == "stream")
    line = next(ln for ln in text.splitlines() if ln.startswith(_MARK))
    return wall, json.loads(line[len(_MARK) :])


def _set_provenance_cell(nb, meta: dict) -> None:
    import nbformat

    nb.cells = [c for c in nb.cells if c.get("id") != CELL_ID]
    cell = nbformat.v4.new_markdown_cell(provenance_line(meta))
    cell["id"] = CELL_ID
    cell.metadata["tags"] = [CELL_ID]
    nb.cells.insert(1, cell)  # cell 0 is the title


def execute(path: Path, mode: str = "full", quick_timing: bool = True) -> dict:
    """Execute one chapter in place in ``mode``; return the record written to its metadata.

    Raises ``nbclient.exceptions.CellExecutionError`` (the notebook is then left as it was).
    """
    import nbformat

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if c.get("id") != CELL_ID]
    started = datetime.now(UTC)
    host = machine()
    wall, used = _run(nb, quick=mode == "quick")
    walls = {mode: round(wall, 1)}
    if mode == "full" and quick_timing:
        _log(f"{path.stem}: full mode {duration(wall)}; timing quick mode")
        walls["quick"] = round(_run(copy.deepcopy(nb), quick=True)[0], 1)
    meta = {
        "executed_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "mode": mode,
        "machine": host,
        "wall_s": walls,
        "commit": _git("rev-parse", "HEAD"),
        # the library or its data/ differ from the commit (the notebooks themselves do not
        # count: each one run makes the tree dirty for the next)
        "dirty": bool(_git("status", "--porcelain", "--", "ssloserve", "data")),
        "data_dir": os.environ.get("SSLOSERVE_DATA", ""),
        **file_record(ROOT, used["modules"], used["data"]),
    }
    nb.metadata[KEY] = meta
    _set_provenance_cell(nb, meta)
    nbformat.write(nb, path)
    return meta


def stale_reasons(nb: dict, name: str, root: Path = ROOT, data_dir: Path | None = None):
    """Why a committed notebook's outputs no longer match the code and data they came from.

    Returns ``(reasons, unchecked)``: each reason names the file (or says that the record is
    missing or not full mode) and ends with the command that refreshes the notebook;
    ``unchecked`` lists the recorded data files that ``data_dir`` does not hold (their hash
    could not be compared). ``nb`` is the notebook as a dict (its JSON).
    """
    again = f"run make notebooks NB={name}"
    meta = nb.get("metadata", {}).get(KEY)
    if not meta:
        return [f"{name}: no provenance record (metadata['{KEY}']): {again}"], []
    reasons, unchecked = [], []
    if meta.get("mode") != "full":
        reasons.append(f"{name}: outputs made in {meta.get('mode')!r} mode, not full: {again}")
    cells = [c for c in nb.get("cells", []) if c.get("id") == CELL_ID]
    line = provenance_line(meta)
    if len(cells) != 1 or "".join(cells[0].get("source", "")) != line:
        reasons.append(f"{name}: the provenance cell does not state the record: {again}")
    for rel, digest in meta.get("library", {}).items():
        p = Path(root) / rel
        if not p.is_file():
            reasons.append(f"{name}: ran on {rel}, which no longer exists: {again}")
        elif sha256(p) != digest:
            reasons.append(f"{name}: {rel} changed since the outputs were made: {again}")
    for rel, digest in meta.get("data", {}).items():
        p = Path(data_dir) / rel if data_dir else None
        if p is None or not p.is_file():
            unchecked.append(rel)
        elif sha256(p) != digest:
            reasons.append(f"{name}: data file {rel} changed since the outputs were made: {again}")
    return reasons, unchecked


def _select(names: list[str]) -> list[Path]:
    from build import chapters  # book/build.py: what counts as a chapter

    found = {p.stem: p for p in chapters(NOTEBOOKS)}
    if not names:
        return list(found.values())
    out = []
    for n in (x for arg in names for x in arg.replace(",", " ").split()):
        stem = Path(n).stem
        if stem not in found:
            raise SystemExit(f"no chapter {n!r}; chapters: {', '.join(found)}")
        out.append(found[stem])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="chapters, e.g. 02_sponge (default: all)")
    parser.add_argument("--mode", choices=("full", "quick"), default="full")
    parser.add_argument(
        "--no-quick-timing", action="store_true", help="skip the quick-mode timing run"
    )
    args = parser.parse_args(argv)
    data = os.environ.get("SSLOSERVE_DATA")
    if not data or not Path(data).is_dir():
        raise SystemExit(f"SSLOSERVE_DATA must name the real data folder (it is {data!r})")
    paths = _select(args.names)
    failed = []
    for i, path in enumerate(paths, start=1):
        _log(f"[{i}/{len(paths)}] {path.stem}: executing in {args.mode} mode")
        try:
            meta = execute(path, args.mode, quick_timing=not args.no_quick_timing)
        except Exception as e:  # noqa: BLE001 - report, keep the old notebook, go on
            _log(f"[{i}/{len(paths)}] {path.stem}: FAILED, left unchanged: {e}")
            failed.append(path.stem)
            continue
        walls = ", ".join(f"{k} {duration(v)}" for k, v in meta["wall_s"].items())
        _log(
            f"[{i}/{len(paths)}] {path.stem}: {walls}; {len(meta['library'])} library "
            f"file(s), {len(meta['data'])} data file(s) recorded"
        )
    if failed:
        _log(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
