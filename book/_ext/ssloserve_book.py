"""Sphinx extension for the ssloserve book: serve vendored JavaScript, never a CDN.

- Copies the vendored folder (``ssloserve_vendor_dir``, filled by ``book/build.py``) to
  ``_static/vendor/`` of the built site when the build finishes. It is deliberately not
  under the source ``_static/``: Jupyter Book adds every ``.js``/``.css`` it finds there
  to every page.
- Adds the Vega bundle only to pages that hold a Vega chart (an Altair HTML output or a
  ``div[data-vega-spec]`` written by ``build.py`` from a Vega-Lite mimetype output).
"""

from __future__ import annotations

import shutil
from pathlib import Path

VEGA_JS = "vendor/vega/vega-bundle.js"
VEGA_MARKERS = ("data-vega-spec", "altair-viz-", "vegaEmbed(")


def _add_vega(app, pagename, templatename, context, doctree):
    body = context.get("body") or ""
    if any(marker in body for marker in VEGA_MARKERS):
        # After require.js (priority 500), so the bundle can register AMD modules.
        app.add_js_file(VEGA_JS, priority=600)


def _copy_vendor(app, exc):
    if exc is not None or app.builder is None or app.builder.format != "html":
        return
    src = app.config.ssloserve_vendor_dir
    if not src:
        return
    src = Path(src)
    if not src.is_dir():
        raise FileNotFoundError(f"vendored JavaScript folder {src} is missing; run book/build.py")
    dest = Path(app.outdir) / "_static" / "vendor"
    shutil.copytree(src, dest, dirs_exist_ok=True)


def setup(app):
    app.add_config_value("ssloserve_vendor_dir", "", "html")
    app.connect("html-page-context", _add_vega)
    app.connect("build-finished", _copy_vendor)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
