"""Build the ssloserve book offline: ``python book/build.py [--out DIR]``.

Steps, each idempotent:

1. Vendor the JavaScript the pages need into ``book/_static/vendor/`` (git-ignored; a
   cache keyed by versions in ``VERSIONS.json``): require.js and
   ``@jupyter-widgets/html-manager`` from the npm registry (``npm pack``, needs network
   the first time only) and the Vega, Vega-Lite and Vega-Embed bundle from
   ``vl-convert-python`` (wrapped in a function scope so it cannot clash with
   require.js). MathJax comes from the ``sphinx-mathjax-offline`` package at build time.
2. Assemble the book source in ``OUT/src``: ``_config.yml``, the extension in ``_ext/``,
   a copy of every ``notebooks/NN_*.ipynb`` as ``chapters/NN_*.ipynb`` (with
   ``notebooks/figures/`` and similar picture folders, see ``ASSET_DIRS``) and the back
   matter (``BACK_MATTER``); write ``_toc.yml`` from the chapters found, so a new chapter
   needs no edit here. Generated from what exists (``book/backmatter.py``): the intro's
   chapter list and the status of each technique and runtime, the data sources of the
   "Run it yourself" page with each chapter's measured run times (from the record
   ``book/execute.py`` leaves in the notebook), and the API reference, one autodoc page per public module of
   ``ssloserve`` found by walking the package of this checkout.
3. Run Sphinx through Jupyter Book v1 (notebooks are not executed: committed outputs;
   autodoc imports the library) and write the site to ``OUT/html`` (default
   ``book/_build/html``).

Nothing is fetched from a CDN when a page is viewed: ``tests/test_book.py`` checks the
HTML and opens it in headless Chromium.
"""

from __future__ import annotations

import argparse
import html
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

BOOK = Path(__file__).resolve().parent
ROOT = BOOK.parent
# The book documents the library of this checkout (autodoc imports it), not an installed one.
for _p in (str(BOOK), str(ROOT)):
    if _p in sys.path:
        sys.path.remove(_p)
    sys.path.insert(0, _p)

import backmatter  # noqa: E402 - book/backmatter.py, found through the path set above

NOTEBOOKS = ROOT / "notebooks"
VENDOR = BOOK / "_static" / "vendor"
DEFAULT_OUT = BOOK / "_build"

REQUIREJS = "requirejs@2.3.8"
HTML_MANAGER = "@jupyter-widgets/html-manager@1.0.15"  # the manager for ipywidgets 8.1
UNWANTED_EXTENSIONS = ("sphinx_thebe",)
ASSET_DIRS = ("figures", "images", "img", "assets", "media")
CHAPTER_RE = re.compile(r"^\d\d_[A-Za-z0-9_]+\.ipynb$")
#: pages after the chapters, in this order; their ``{{ field }}`` marks are filled at build
BACK_MATTER = ("run", "glossary", "references")
VEGA_MIME_RE = re.compile(r"^application/vnd\.vega(lite)?\.v\d+[.+]json$")

__all__ = ["build", "vendor", "assemble", "chapters", "docstring_problems", "main"]


def _log(msg: str) -> None:
    print(f"[book] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- vendoring


def _versions() -> dict[str, str]:
    import altair as alt
    import vl_convert as vlc

    return {
        "requirejs": REQUIREJS,
        "html-manager": HTML_MANAGER,
        "vl-convert-python": vlc.__version__,
        "altair": alt.__version__,
        "bundle-format": "4",
    }


def _npm_pack(spec: str, tmp: Path) -> Path:
    """Download one npm package tarball (no dependencies) and unpack it; return its dir."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"npm is needed once to vendor {spec} (install Node.js)")
    proc = subprocess.run(
        [npm, "pack", "--loglevel=error", spec], cwd=tmp, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"npm pack {spec} failed (the npm registry is needed once, to fill "
            f"{VENDOR}):\n{proc.stderr.strip()}"
        )
    out = proc.stdout.split()
    tgz = tmp / out[-1]
    dest = tmp / tgz.stem
    with tarfile.open(tgz) as tf:
        tf.extractall(dest, filter="data")
    return dest / "package"


WIDGETS_CONFIG = """/* ssloserve: the widget manager's fonts and styles live next to it in
   _static/vendor/html-manager/, not under the page's folder or a CDN. Loaded after
   require.js and before html-manager/embed-amd.js. */
(function () {
  var here = document.currentScript.src;
  var base = here.slice(0, here.lastIndexOf("/") + 1) + "html-manager/";
  window.__jupyter_widgets_assets_path__ = base;
  /* The bundle finds its assets next to each AMD module's URI: put them all there. */
  var paths = { "@jupyter-widgets/html-manager/dist": base.slice(0, -1) };
  ["base", "base7", "controls", "controls7", "html-manager"].forEach(function (m) {
    paths["@jupyter-widgets/" + m] = base + m;
  });
  if (window.requirejs) {
    window.requirejs.config({ paths: paths });
  }
  /* The widget manager typesets labels with MathJax 2's MathJax.Hub.Queue; the book loads
     MathJax 3, which has no Hub ("Cannot read properties of undefined (reading 'Queue')").
     Give every object that becomes window.MathJax (the config, then MathJax 3 itself) a
     hidden Hub whose Queue forwards to MathJax 3's typesetPromise. */
  function withHub(mj) {
    if (mj && typeof mj === "object" && !mj.Hub) {
      Object.defineProperty(mj, "Hub", {
        configurable: true,
        enumerable: false,
        value: {
          Queue: function (cmd) {
            var m = window.MathJax, el = cmd && cmd[2];
            if (m && typeof m.typesetPromise === "function" && el) {
              m.typesetPromise([el]).catch(function () {});
            }
          },
        },
      });
    }
    return mj;
  }
  var mathjax = withHub(window.MathJax);
  try {
    Object.defineProperty(window, "MathJax", {
      configurable: true,
      enumerable: true,
      get: function () { return mathjax; },
      set: function (v) { mathjax = withHub(v); },
    });
  } catch (e) {}
})();
"""

VEGA_GLUE = """
/* ssloserve: make the bundle usable by Altair's HTML output and by data-vega-spec divs. */
(function (versions) {
  "use strict";
  var vegaEmbed = window.vegaEmbed;
  /* Altair's HTML template loads a library from a CDN unless VEGA_DEBUG records that
     the version it wants is present: record what this bundle holds. */
  var dbg = (window.VEGA_DEBUG = window.VEGA_DEBUG || {});
  Object.keys(versions).forEach(function (k) { dbg[k] = versions[k]; });
  /* With require.js on the page Altair asks AMD for "vega-embed": answer locally. */
  if (typeof window.define === "function" && window.define.amd) {
    window.define("vega-embed", [], function () { return vegaEmbed; });
  }
  function renderAll() {
    document.querySelectorAll("div[data-vega-spec]").forEach(function (el) {
      if (el.getAttribute("data-vega-rendered")) { return; }
      el.setAttribute("data-vega-rendered", "1");
      var spec = JSON.parse(el.getAttribute("data-vega-spec"));
      var mode = el.getAttribute("data-vega-mode") || "vega-lite";
      vegaEmbed(el, spec, { mode: mode, renderer: "svg" }).catch(function (err) {
        el.textContent = "Chart failed to render: " + err.message;
        console.error(err);
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", renderAll);
  } else {
    renderAll();
  }
})(%s);
"""


def _vega_bundle() -> str:
    """The Vega bundle from vl-convert, function-scoped, plus the glue above.

    The Vega-Lite in the bundle is the minor version the installed Altair writes, so
    Altair's HTML outputs find the version they ask for.
    """
    import altair as alt
    import vl_convert as vlc

    vl_full = alt.VEGALITE_VERSION  # e.g. "6.4.1"
    vl_minor = ".".join(vl_full.split(".")[:2])
    if vl_minor not in vlc.get_vegalite_versions():
        raise RuntimeError(
            f"vl-convert-python {vlc.__version__} has no Vega-Lite {vl_minor} "
            f"(Altair {alt.__version__} writes it); upgrade vl-convert-python"
        )
    vega, embed = vlc.get_vega_version(), vlc.get_vega_embed_version()
    # vl-convert's default snippet sets window.vega and window.vegaLite to null (it takes
    # their default exports, which are null); only vegaEmbed is needed and exported.
    bundle = vlc.javascript_bundle("window.vegaEmbed = vegaEmbed;", vl_version=vl_minor)
    header = (
        f"/* Vega {vega}, Vega-Lite {vl_minor} and Vega-Embed {embed}, bundled by "
        f"vl_convert.javascript_bundle() of vl-convert-python {vlc.__version__}. Wrapped "
        "in a function scope: its top-level names stay private and it cannot see "
        "require.js's define. Licenses: BSD-3-Clause. */\n"
    )
    wrapped = (
        "(function (define, require, requirejs, module, exports) {\n"
        + bundle
        + "\n}).call(window);\n"
    )
    versions = {
        "vega_version": vega.split(".")[0],
        "vegalite_version": vl_full,
        "vegaembed_version": embed.split(".")[0],
    }
    return header + wrapped + VEGA_GLUE % json.dumps(versions)


def vendor(dest: Path = VENDOR, force: bool = False) -> Path:
    """Fill ``dest`` with the page JavaScript unless it already holds these versions."""
    versions = _versions()
    stamp = dest / "VERSIONS.json"
    if not force and stamp.is_file() and json.loads(stamp.read_text()) == versions:
        # our own glue is not versioned by npm: keep it current without re-vendoring
        (dest / "widgets-config.js").write_text(WIDGETS_CONFIG, encoding="utf8")
        return dest
    _log(f"vendoring JavaScript into {dest}")
    final, dest = dest, Path(tempfile.mkdtemp(prefix="ssloserve-vendor-")) / "vendor"
    (dest / "vega").mkdir(parents=True)
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        req = _npm_pack(REQUIREJS, tmp)
        shutil.copy2(req / "require.js", dest / "require.js")
        mgr = _npm_pack(HTML_MANAGER, tmp)
        shutil.copytree(
            mgr / "dist",
            dest / "html-manager",
            ignore=shutil.ignore_patterns("*.map", "embed.js", "libembed-amd.js"),
        )
        for lic in ("LICENSE", "LICENSE.md"):
            if (mgr / lic).is_file():
                shutil.copy2(mgr / lic, dest / "html-manager" / "LICENSE")
    (dest / "widgets-config.js").write_text(WIDGETS_CONFIG, encoding="utf8")
    (dest / "vega" / "vega-bundle.js").write_text(_vega_bundle(), encoding="utf8")
    (dest / "npm").mkdir()
    (dest / "npm" / "README.txt").write_text(
        "Third-party widget modules would be looked up here; none are vendored.\n"
    )
    (dest / "VERSIONS.json").write_text(json.dumps(versions, indent=1))
    # Swap the finished folder in, so a reader never sees a half-written one.
    if final.exists():
        shutil.rmtree(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(dest, final)
    shutil.rmtree(dest.parent, ignore_errors=True)
    return final


# --------------------------------------------------------------------------- source


def chapters(notebooks: Path = NOTEBOOKS) -> list[Path]:
    """The chapter notebooks ``NN_topic.ipynb`` in ``notebooks``, in order."""
    if not notebooks.is_dir():
        return []
    return sorted(p for p in notebooks.iterdir() if CHAPTER_RE.match(p.name))


def _vega_div(mime: str, spec: object) -> str:
    mode = "vega-lite" if "vegalite" in mime else "vega"
    if isinstance(spec, (str, list)):  # nbformat stores non-"+json" mimetypes as text
        spec = json.loads(spec if isinstance(spec, str) else "".join(spec))
    data = html.escape(json.dumps(spec), quote=True)
    return f'<div class="vega-embed ssloserve-vega" data-vega-mode="{mode}" data-vega-spec="{data}"></div>'


def _prepare_notebook(src: Path, dest: Path) -> None:
    """Copy a chapter, turning Vega(-Lite) mimetype outputs into divs the bundle renders."""
    nb = json.loads(src.read_text(encoding="utf8"))
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []) or []:
            data = out.get("data")
            if not data or "text/html" in data or "image/svg+xml" in data:
                continue
            for mime in list(data):
                if VEGA_MIME_RE.match(mime):
                    data["text/html"] = _vega_div(mime, data[mime])
                    break
    dest.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf8")


def _toc(names: list[str], api_pages: list[str] = ()) -> str:
    lines = [
        "# Generated by book/build.py from notebooks/NN_*.ipynb and the package; do not edit.",
        "format: jb-book",
        "root: intro",
        "parts:",
    ]
    if names:
        lines += ["  - caption: Chapters", "    chapters:"]
        lines += [f"      - file: chapters/{n}" for n in names]
    lines += ["  - caption: Reference", "    chapters:"]
    lines += [f"      - file: {n}" for n in BACK_MATTER]
    if api_pages:
        lines.append("      - file: api/index")
        rest = [p for p in api_pages if p != "index"]
        if rest:
            lines.append("        sections:")
            lines += [f"          - file: api/{p}" for p in rest]
    return "\n".join(lines) + "\n"


def _readme_commands(readme: Path = ROOT / "README.md") -> str:
    """The README's first fenced code block (its two commands), fence included."""
    m = re.search(r"^```[a-z]*\n.*?^```$", readme.read_text(encoding="utf8"), re.M | re.S)
    if m is None:
        raise ValueError(f"{readme} has no fenced code block with its commands")
    return m.group(0)


def _back_matter_fields(notebooks: Path = NOTEBOOKS) -> dict[str, str]:
    from ssloserve import data

    lookup = (data.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    return {
        "readme_commands": _readme_commands(),
        "data_lookup": backmatter._md_cell(lookup).rstrip(".") + ".",
        "data_sources": backmatter.data_sources_table(),
        "run_times": backmatter.run_times_table(chapters(notebooks)),
    }


def assemble(src: Path, notebooks: Path = NOTEBOOKS) -> list[str]:
    """Write the book source into ``src`` (replacing it); return the chapter names."""
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    shutil.copy2(BOOK / "_config.yml", src / "_config.yml")
    shutil.copytree(BOOK / "_ext", src / "_ext", ignore=shutil.ignore_patterns("__pycache__"))
    static = BOOK / "_static"
    if static.is_dir():
        # Everything but the vendored cache: Jupyter Book loads every .js/.css found here.
        shutil.copytree(static, src / "_static", ignore=shutil.ignore_patterns("vendor"))
    (src / "chapters").mkdir()
    names = []
    for nb in chapters(notebooks):
        _prepare_notebook(nb, src / "chapters" / nb.name)
        names.append(nb.stem)
    for name in ASSET_DIRS:  # pictures a chapter's markdown refers to, e.g. figures/x.png
        if (notebooks / name).is_dir():
            shutil.copytree(notebooks / name, src / "chapters" / name)
    # The API reference: every public module of this checkout's package, imported here.
    report = backmatter.probe_modules(backmatter.public_modules(ROOT))
    for mod, why in sorted(report.refused.items()):
        _log(f"WARNING: API reference leaves out {mod}: {why}")
    api_pages = backmatter.write_api_pages(src / "api", report)
    modules = report.ok + list(report.refused)
    intro = (BOOK / "intro.md").read_text(encoding="utf8")
    entries = backmatter.chapter_entries(chapters(notebooks))
    (src / "intro.md").write_text(backmatter.fill_intro(intro, entries, modules), encoding="utf8")
    fields = _back_matter_fields(notebooks)
    for name in BACK_MATTER:
        text = (BOOK / f"{name}.md").read_text(encoding="utf8")
        (src / f"{name}.md").write_text(
            backmatter.fill(text, fields, f"{name}.md"), encoding="utf8"
        )
    (src / "_toc.yml").write_text(_toc(names, api_pages))
    _log(f"API reference: {len(report.ok)} module(s), {len(report.refused)} left out")
    return names


# --------------------------------------------------------------------------- build


def build(
    out: Path = DEFAULT_OUT,
    notebooks: Path = NOTEBOOKS,
    strict: bool = False,
    quiet: bool = True,
) -> Path:
    """Build the site into ``out/html`` and return that folder.

    Raises ``RuntimeError`` when Sphinx reports failure (with ``strict``, any warning).
    """
    out = Path(out).resolve()
    vendor_dir = vendor()
    src = out / "src"
    names = assemble(src, notebooks)
    _log(f"{len(names)} chapter(s): {', '.join(names) or 'none yet'}")
    html_dir = out / "html"
    if html_dir.exists():
        shutil.rmtree(html_dir)
    sys.path.insert(0, str(src / "_ext"))
    from jupyter_book.config import get_final_config
    from jupyter_book.sphinx import build_sphinx

    overrides = {
        "external_toc_path": str(src / "_toc.yml"),
        "latex_individualpages": False,
        "ssloserve_vendor_dir": str(vendor_dir),
    }
    config, _ = get_final_config(
        user_yaml=src / "_config.yml", cli_config=dict(overrides), sourcedir=src
    )
    # Jupyter Book always loads sphinx_thebe, which points every page at unpkg.com for
    # live code; a static offline book has no kernel to connect to.
    overrides["extensions"] = [e for e in config["extensions"] if e not in UNWANTED_EXTENSIONS]
    tee, stderr = _Tee(sys.stderr), sys.stderr
    sys.stderr = tee  # Jupyter Book hands sys.stderr to Sphinx as its warning stream
    try:
        result = build_sphinx(
            str(src),
            str(html_dir),
            noconfig=True,
            path_config=str(src / "_config.yml"),
            confoverrides=overrides,
            doctreedir=str(out / "doctrees"),
            builder="html",
            freshenv=True,
            warningiserror=strict,
            keep_going=strict,
            quiet=quiet,
        )
    finally:
        sys.stderr = stderr
    if result != 0:
        raise RuntimeError(f"Sphinx failed ({result!r}); see the messages above")
    bad = docstring_problems(tee.lines)
    if bad:
        _log(
            f"WARNING: {len(bad)} docstring(s) of the library are not valid reStructuredText "
            "(their API pages show the problem):\n  " + "\n  ".join(bad)
        )
    return html_dir


ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


def docstring_problems(lines: list[str]) -> list[str]:
    """Sphinx's warnings and errors about the library's docstrings (not about references:
    ``tests/test_book.py`` fails on those), one line each."""
    out = []
    for line in lines:
        line = ANSI_RE.sub("", line)
        if "docstring of" in line and re.search(r"\b(WARNING|ERROR)\b", line):
            if "reference target not found" not in line:
                out.append(line.strip())
    return out


class _Tee(io.TextIOBase):
    """A text stream that passes everything on and keeps the lines (Sphinx's warnings)."""

    def __init__(self, stream):
        self.stream, self.lines, self._part = stream, [], ""

    def write(self, s: str) -> int:
        self.stream.write(s)
        *done, self._part = (self._part + s).split("\n")
        self.lines += done
        return len(s)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="writes OUT/html")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS)
    parser.add_argument("--strict", action="store_true", help="fail on Sphinx warnings")
    parser.add_argument("--vendor-only", action="store_true")
    args = parser.parse_args(argv)
    if args.vendor_only:
        vendor()
        return 0
    html_dir = build(args.out, args.notebooks, strict=args.strict, quiet=True)
    _log(f"site written to {html_dir} (open {html_dir / 'index.html'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
