"""Pages of the ssloserve book that are generated from what exists, so they cannot drift.

Used by ``book/build.py`` while it assembles the book source:

- :func:`public_modules` walks the ``ssloserve`` package on disk (``pkgutil``, no list
  typed in here) and :func:`probe_modules` imports each module in the build's Python,
  refusing one that fails to import or starts a process when imported;
  :func:`write_api_pages` writes one Sphinx autodoc page per public module plus an index.
  Each name is documented once, on the page of the module that defines it; a package
  that re-exports names from its submodules links to them.
- :func:`chapter_entries` reads each chapter's title and subtitle (the first markdown
  cell), :func:`status` says which techniques and runtimes exist (a chapter notebook, a
  library module) and :func:`fill_intro` puts both into ``intro.md``'s ``{{ ... }}``
  fields.
- :func:`data_sources_table` renders ``ssloserve.data.SOURCES``, the origin of every real
  data file the library reads, for the "Run it yourself" page, and
  :func:`run_times_table` each chapter's measured quick and full wall times, from the
  record ``book/execute.py`` writes into the notebook when it makes its outputs.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
import re
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "ssloserve"
#: (key, name): a technique exists as code when ``ssloserve.<key>`` does, and as a chapter
#: when a notebook ``NN_<key>.ipynb`` does. The five techniques of the thesis.
TECHNIQUES = (
    ("fa2", "FA2"),
    ("sponge", "Sponge"),
    ("ipa", "IPA"),
    ("biscale", "Biscale"),
    ("netnn", "NetNN"),
)
#: runtime names of ``run(..., runtime=...)``; one exists when ``ssloserve.runtime.<name>`` does
RUNTIMES = ("sim", "emu", "ray")
FIELD_RE = re.compile(r"\{\{\s*([a-z0-9_]+)\s*\}\}")

__all__ = [
    "PACKAGE",
    "TECHNIQUES",
    "RUNTIMES",
    "ModuleReport",
    "public_modules",
    "probe_modules",
    "write_api_pages",
    "chapter_entries",
    "status",
    "fill_intro",
    "fill",
    "data_sources_table",
    "duration",
    "run_times_table",
]


# --------------------------------------------------------------------------- API reference


def public_modules(root: Path, package: str = PACKAGE) -> list[str]:
    """Dotted names of the public modules of ``package`` found under ``root``, sorted.

    Walks the folders (``pkgutil.iter_modules``), so nothing is imported. A module or
    package whose name starts with ``_`` is private and skipped with everything under it,
    as is ``__main__`` (importing it would run the program).
    """
    top = Path(root) / package
    if not (top / "__init__.py").is_file():
        raise FileNotFoundError(f"no package {package!r} under {root}")
    found = [package]

    def walk(folder: Path, prefix: str) -> None:
        for info in pkgutil.iter_modules([str(folder)]):
            if info.name.startswith("_"):
                continue
            name = f"{prefix}.{info.name}"
            found.append(name)
            if info.ispkg:
                walk(folder / info.name, name)

    walk(top, package)
    return sorted(found)


def _children() -> set[int]:
    """Process ids of this process's live children (Linux ``/proc``; empty elsewhere)."""
    pids: set[int] = set()
    tasks = Path(f"/proc/{os.getpid()}/task")
    if not tasks.is_dir():
        return pids
    for t in tasks.iterdir():
        try:
            pids |= {int(p) for p in (t / "children").read_text().split()}
        except OSError:
            pass
    return pids


@dataclass
class ModuleReport:
    """What importing the public modules found: those to document, and those refused."""

    ok: list[str] = field(default_factory=list)
    #: module name -> why it is not documented
    refused: dict[str, str] = field(default_factory=dict)

    def missing_dependency(self, name: str) -> str | None:
        """The third-party package a refused module needs, if that is why it was refused."""
        m = re.match(r"needs the package '([^']+)'", self.refused.get(name, ""))
        return m.group(1) if m else None


def probe_modules(names: list[str]) -> ModuleReport:
    """Import each module here, as autodoc will; refuse one that fails or starts a process.

    A module that needs a third-party package which is not installed (an optional extra)
    is refused with ``needs the package 'X'``; any other import error is refused with the
    error. Importing must not start a process: a module whose import leaves a new child
    process is refused too (its children are left alone: they are the module's).
    """
    report = ModuleReport()
    for name in names:
        before = _children()
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:
            missing = (e.name or "").split(".")[0]
            if missing and missing != PACKAGE:
                report.refused[name] = f"needs the package '{missing}', which is not installed"
            else:
                report.refused[name] = f"import failed: {type(e).__name__}: {e}"
            continue
        except Exception as e:  # noqa: BLE001 - any failure is reported, not raised
            report.refused[name] = f"import failed: {type(e).__name__}: {e}"
            continue
        started = _children() - before
        if started:
            report.refused[name] = f"importing it started process(es) {sorted(started)}"
            continue
        report.ok.append(name)
    return report


def _exported(mod) -> list[str]:
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n in vars(mod) if not n.startswith("_")]
        names = [
            n for n in names if getattr(vars(mod)[n], "__module__", mod.__name__) == mod.__name__
        ]
    return [n for n in names if n != "__version__" and hasattr(mod, n)]


def _home(mod, name: str, documented: set[str]) -> str:
    """The module whose page documents ``mod.name``: where a class or function was
    defined when that module is documented, else ``mod`` itself."""
    obj = getattr(mod, name)
    if inspect.ismodule(obj):
        return obj.__name__
    origin = getattr(obj, "__module__", None) if (inspect.isclass(obj) or callable(obj)) else None
    if origin and origin != mod.__name__ and origin in documented:
        there = importlib.import_module(origin)
        if getattr(there, name, None) is obj and name in _exported(there):
            return origin
    if origin is None:  # data: a package re-exports it from the submodule that defines it
        for sub in sorted(documented, key=len, reverse=True):
            if sub.startswith(mod.__name__ + "."):
                there = importlib.import_module(sub)
                if getattr(there, name, None) is obj and name in _exported(there):
                    return sub
    return mod.__name__


def _directive(module: str, name: str, obj) -> list[str]:
    """The autodoc directive that documents ``module.name`` (one object)."""
    full = f"{module}.{name}"
    if inspect.isclass(obj):
        kind = "autoexception" if issubclass(obj, BaseException) else "autoclass"
        # No :undoc-members:: numpydoc "Attributes" sections already document the fields
        # (twice would be a Sphinx warning); _ext/ssloserve_api.py links an undocumented one.
        return [f".. {kind}:: {full}", "   :members:", "   :show-inheritance:", ""]
    if inspect.isroutine(obj):
        return [f".. autofunction:: {full}", ""]
    out = [f".. autodata:: {full}"]
    if len(repr(obj)) > 80:  # a long table reads better in its source than as one line
        out.append("   :no-value:")
    return out + [""]


def _title(name: str) -> str:
    return f"``{name}``\n" + "=" * (len(name) + 4) + "\n"


def write_api_pages(folder: Path, report: ModuleReport) -> list[str]:
    """Write ``folder/index.md`` and one ``folder/<module>.rst`` per documented module.

    Returns the page names (without suffix, relative to ``folder``), index first.
    """
    folder.mkdir(parents=True, exist_ok=True)
    documented = set(report.ok)
    pages = []
    rows = []
    for name in report.ok:
        mod = importlib.import_module(name)
        own, elsewhere = [], []
        for n in _exported(mod):
            home = _home(mod, n, documented)
            (own if home == name else elsewhere).append((n, home))
        summary = (inspect.getdoc(mod) or "").strip().split("\n\n")[0].replace("\n", " ")
        lines = [
            f".. This page is generated by book/build.py from the module {name}; do not edit.",
            "",
            _title(name),
            f".. automodule:: {name}",
            "",
        ]
        for n, _ in own:
            lines += _directive(name, n, getattr(mod, n))
        if elsewhere:
            lines += ["Also importable from here, documented where they are defined:", ""]
            for n, home in elsewhere:
                obj = getattr(mod, n)
                target = home if inspect.ismodule(obj) else f"{home}.{n}"
                role = "mod" if inspect.ismodule(obj) else "obj"
                lines.append(f"- ``{name}.{n}``: :py:{role}:`{target}`")
            lines.append("")
        (folder / f"{name}.rst").write_text("\n".join(lines), encoding="utf8")
        pages.append(name)
        rows.append(f"| [`{name}`]({name}.rst) | {_md_cell(summary)} |")
    index = [
        "# API reference",
        "",
        "Generated by `book/build.py` from the docstrings of the library, with Sphinx's autodoc "
        "and napoleon (numpydoc style): one page per public module, found by walking the "
        f"`{PACKAGE}` package when the book is built. Private modules (`_name`) are left out.",
        "",
        "| module | what it holds |",
        "|---|---|",
        *rows,
        "",
    ]
    if report.refused:
        index += [
            "## Modules not documented in this build",
            "",
            "Importing them in the build's Python failed or started a process:",
            "",
            *[f"- `{n}`: {why}" for n, why in sorted(report.refused.items())],
            "",
        ]
    (folder / "index.md").write_text("\n".join(index), encoding="utf8")
    return ["index", *pages]


def _md_cell(text: str) -> str:
    """A docstring's first paragraph as a Markdown table cell: rst roles and literals
    become code spans, pipes are escaped."""
    text = re.sub(r":[a-z]+(?::[a-z]+)?:`~?([^`]+)`", r"`\1`", text)
    text = text.replace("``", "`").replace("|", "\\|")
    return text


# --------------------------------------------------------------------------- intro


def chapter_entries(paths: list[Path]) -> list[tuple[str, str, str]]:
    """(stem, title, subtitle) of each chapter notebook: the first markdown cell's ``#``
    heading and the paragraph after it (one line, without pictures and link targets).

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "07_x.ipynb"
    >>> _ = p.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": [
    ...     "# 7. X\\n", "\\n", "*Why [X](a.md)\\n", "matters.* ![p](f.svg)\\n", "\\n", "More."]}]}))
    >>> chapter_entries([p])
    [('07_x', '7. X', '*Why X matters.*')]
    """
    out = []
    for p in paths:
        nb = json.loads(Path(p).read_text(encoding="utf8"))
        cells = [c for c in nb.get("cells", []) if c.get("cell_type") == "markdown"]
        text = "".join(cells[0]["source"]) if cells else ""
        paras = [s.strip() for s in re.split(r"\n\s*\n", text) if s.strip()]
        title = p.stem
        if paras and paras[0].startswith("# "):
            title = paras.pop(0)[2:].strip()
        subtitle = " ".join(paras[0].split()) if paras else ""
        # pictures and links are relative to the chapter, not to the intro: keep the words
        subtitle = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", subtitle)
        subtitle = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", subtitle).strip()
        out.append((p.stem, title, subtitle))
    return out


def status(chapter_stems: list[str], modules: list[str]) -> dict[str, dict[str, bool]]:
    """Which techniques have code and a chapter, and which runtimes exist.

    ``{"techniques": {"fa2": {"code": True, "chapter": True}, ...}, "runtimes": {"sim":
    True, ...}}``, from the chapter notebooks and the modules found.
    """
    mods = set(modules)
    tech = {
        key: {
            "code": f"{PACKAGE}.{key}" in mods,
            "chapter": any(re.fullmatch(rf"\d\d_{key}", s) for s in chapter_stems),
        }
        for key, _ in TECHNIQUES
    }
    rt = {name: f"{PACKAGE}.runtime.{name}" in mods for name in RUNTIMES}
    return {"techniques": tech, "runtimes": rt}


def fill_intro(text: str, chapters: list[tuple[str, str, str]], modules: list[str]) -> str:
    """Replace the ``{{ field }}`` marks of ``intro.md``.

    Fields: ``chapters`` (a list linking each chapter with its subtitle),
    ``status_<key>`` for each technique, ``runtime_<name>`` for each runtime,
    ``not_built`` (one sentence naming what does not exist yet). An unknown field is an
    error, so a typo cannot reach the page.
    """
    st = status([c[0] for c in chapters], modules)
    fields: dict[str, str] = {}
    if chapters:
        fields["chapters"] = "\n".join(
            f"- [{title}](chapters/{stem}.ipynb){': ' + sub if sub else ''}"
            for stem, title, sub in chapters
        )
    else:
        fields["chapters"] = "No chapter has been published yet."
    for key, _ in TECHNIQUES:
        s = st["techniques"][key]
        if s["chapter"]:
            stem = next(c[0] for c in chapters if re.fullmatch(rf"\d\d_{key}", c[0]))
            fields[f"status_{key}"] = f"[chapter {int(stem[:2])}](chapters/{stem}.ipynb)"
        elif s["code"]:
            fields[f"status_{key}"] = f"library code (`{PACKAGE}.{key}`); chapter not built yet"
        else:
            fields[f"status_{key}"] = "planned: not built yet"
    for name in RUNTIMES:
        fields[f"runtime_{name}"] = (
            ""
            if st["runtimes"][name]
            else "**Planned, not built yet**: this version has no "
            f"`{PACKAGE}.runtime.{name}` and `run()` does not accept it."
        )
    missing_t = [n for k, n in TECHNIQUES if not st["techniques"][k]["chapter"]]
    missing_r = [f'the `"{n}"` runtime' for n in RUNTIMES if not st["runtimes"][n]]
    parts = []
    if missing_t:
        parts.append(f"the {_join(missing_t)} chapter" + ("s" if len(missing_t) > 1 else ""))
    parts += missing_r
    fields["not_built"] = f"Not built yet: {_join(parts)}." if parts else ""
    return fill(text, fields, "intro.md")


def fill(text: str, fields: dict[str, str], where: str) -> str:
    """Replace each ``{{ name }}`` in ``text`` by ``fields[name]``; an unknown name is an
    error naming ``where``, so a typo cannot reach a page.

    >>> fill("a {{ x }} b", {"x": "1"}, "t.md")
    'a 1 b'
    """

    def sub(m: re.Match) -> str:
        if m.group(1) not in fields:
            raise KeyError(
                f"{where}: unknown field {{{{ {m.group(1)} }}}}; known: {sorted(fields)}"
            )
        return fields[m.group(1)]

    return FIELD_RE.sub(sub, text)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# --------------------------------------------------------------------------- data sources


def data_sources_table() -> str:
    """A Markdown table of ``ssloserve.data.SOURCES``: data folder -> public origin."""
    from ssloserve import data

    rows = [f"| `{key}` | {_md_cell(src)} |" for key, src in data.SOURCES.items()]
    return "\n".join(["| under `$SSLOSERVE_DATA/` | public origin |", "|---|---|", *rows])


# --------------------------------------------------------------------------- run times


def duration(seconds: float | None) -> str:
    """A wall time as the pages show it.

    >>> duration(45.4), duration(183.6), duration(None)
    ('45 s', '3 min 4 s', 'not measured')
    """
    if seconds is None:
        return "not measured"
    s = round(seconds)
    return f"{s // 60} min {s % 60} s" if s >= 60 else f"{s} s"


def run_times_table(paths: list[Path]) -> str:
    """A Markdown table of each chapter's measured wall times in quick and full mode.

    Read from the record ``book/execute.py`` (``make notebooks``) writes into each
    notebook's ``metadata["ssloserve"]`` when it makes the outputs: when and on which
    machine, with the load average when the run started. A chapter without a record says
    how to make one.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "07_x.ipynb"
    >>> _ = p.write_text(json.dumps({"cells": [], "metadata": {}}))
    >>> print(run_times_table([p]).splitlines()[-1])
    | `07_x` | not measured | not measured | not yet: `make notebooks NB=07_x` | |
    """
    rows = [
        "| chapter | quick mode | full mode | measured (UTC) | machine |",
        "|---|---|---|---|---|",
    ]
    for p in paths:
        meta = json.loads(Path(p).read_text(encoding="utf8")).get("metadata", {})
        rec = meta.get(PACKAGE)
        if not rec:
            rows.append(
                f"| `{p.stem}` | not measured | not measured "
                f"| not yet: `make notebooks NB={p.stem}` | |"
            )
            continue
        walls, m = rec.get("wall_s", {}), rec["machine"]
        when = rec["executed_utc"][:16].replace("T", " ")
        where = f"{m['cores']} cores, {m['cpu']}, load {m['load_avg_1min']:g}"
        rows.append(
            f"| `{p.stem}` | {duration(walls.get('quick'))} | {duration(walls.get('full'))} "
            f"| {when} | {_md_cell(where)} |"
        )
    return "\n".join(rows)
