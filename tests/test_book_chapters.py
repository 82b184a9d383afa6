"""The chapters of issue 10's template, as a learner sees them on the website (Chromium).

On each page of :data:`tests.test_chapters.CHAPTERS`:

- a Vega-Lite slider (a parameter bound to a range input) changes its chart when moved,
  with no kernel;
- no code block, table, chart or equation is wider than the text column (nothing cut off
  on the right or hidden behind a scroll bar), and the code column holds
  :data:`tests.test_chapters.MAX_CODE_LINE` characters;
- no test marker (``# NBVAL_IGNORE_OUTPUT`` and the like) is visible;
- each exercise's solution is collapsed (Jupyter Book's ``hide-cell`` toggle) until asked.

On every chapter page (all ``notebooks/NN_*.ipynb``): the line under the title that says
when, where and in which mode the outputs were made, as recorded in the notebook
(``book/execute.py``, ``make notebooks``).

The book is built, served and opened with the fixtures and helpers of
``tests/test_book.py`` (``site``, ``server``, ``browser``, ``_PageLog``).
"""

from __future__ import annotations

import json
import re

import pytest
from test_book import _PageLog, browser, build_mod, server, site  # noqa: F401 - fixtures
from test_chapters import CHAPTERS, MAX_CODE_LINE

#: the elements that must fit the text column
BLOCKS = "pre, table, img, svg, div.output, div.vega-embed, mjx-container[display='true']"

_OVERFLOW_JS = """(sel) => {
  const art = document.querySelector('article.bd-article') || document.querySelector('main');
  const right = art.getBoundingClientRect().right;
  const out = [];
  for (const el of art.querySelectorAll(sel)) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || el.closest('.tag_hide-cell, details')) continue;  // collapsed
    const scrolls = el.scrollWidth > el.clientWidth + 1;
    if (r.right > right + 1 || scrolls) {
      out.push(`${el.tagName.toLowerCase()} ${Math.round(r.right)}px > ${Math.round(right)}px`
               + ` (scroll ${el.scrollWidth} / ${el.clientWidth}): `
               + (el.innerText || el.getAttribute('alt') || '').slice(0, 80));
    }
  }
  return out;
}"""


def _open(browser, server, name):  # noqa: F811 - fixtures passed in
    log = _PageLog(browser, server)
    page = log.open(f"chapters/{name}.html")
    page.wait_for_load_state("networkidle")
    for i in range(page.locator("div[data-vega-spec]").count()):
        page.locator("div[data-vega-spec]").nth(i).locator("svg").first.wait_for(timeout=20_000)
    return log, page


@pytest.mark.browser
@pytest.mark.parametrize("name", CHAPTERS)
def test_vega_lite_slider_changes_its_chart(server, browser, name):  # noqa: F811
    log, page = _open(browser, server, name)
    try:
        charts = page.locator("div[data-vega-spec]:has(input[type='range'])")
        assert charts.count() >= 1, f"{name}: no chart with a Vega-Lite slider"
        for i in range(charts.count()):
            chart = charts.nth(i)
            svg = chart.locator("svg").first
            for k in range(chart.locator("input[type='range']").count()):
                slider = chart.locator("input[type='range']").nth(k)
                before = svg.inner_html()
                target = slider.evaluate(
                    # within half a step, not ===: in floating point 0.9 - 0.2 != 0.7
                    "el => { const s = Number(el.step || 1); const v = Number(el.max) - s;"
                    " return String(Math.abs(v - Number(el.value)) < s / 2"
                    " ? Number(el.min) : v); }"
                )
                slider.evaluate(
                    "(el, v) => { el.value = v;"
                    " el.dispatchEvent(new Event('input', {bubbles: true})); }",
                    target,
                )
                page.wait_for_function(
                    "([el, b]) => el.innerHTML !== b",
                    arg=[svg.element_handle(), before],
                    timeout=10_000,
                )
                assert svg.inner_html() != before, f"{name}: slider {k} changed nothing"
        log.assert_clean()
    finally:
        log.close()


@pytest.mark.browser
@pytest.mark.parametrize("name", CHAPTERS)
def test_nothing_is_wider_than_the_column(server, browser, name):  # noqa: F811
    log, page = _open(browser, server, name)
    try:
        page.wait_for_selector("mjx-container", state="attached", timeout=20_000)
        too_wide = page.evaluate(_OVERFLOW_JS, BLOCKS)
        assert not too_wide, f"{name}: cut off on the right:\n" + "\n".join(too_wide)
        # the code column holds MAX_CODE_LINE characters of its monospace font
        chars = page.evaluate(
            """() => { const p = document.querySelector('div.cell_input pre');
              const s = document.createElement('span'); s.textContent = 'x'.repeat(100);
              p.appendChild(s); const w = s.getBoundingClientRect().width / 100; s.remove();
              const cs = getComputedStyle(p);
              const inner = p.clientWidth - parseFloat(cs.paddingLeft)
                            - parseFloat(cs.paddingRight);
              return Math.floor(inner / w); }"""
        )
        assert chars >= MAX_CODE_LINE, f"the code column holds {chars} characters"
        log.assert_clean()
    finally:
        log.close()


@pytest.mark.browser
@pytest.mark.parametrize("name", CHAPTERS)
def test_no_test_marker_and_solutions_collapsed(server, browser, name):  # noqa: F811
    log, page = _open(browser, server, name)
    try:
        text = page.locator("article").first.inner_text()
        marker = re.search(r"NBVAL_[A-Z]+", text)
        assert not marker, f"{name}: a test marker is visible: {marker.group(0)}"
        solutions = page.locator(".cell.tag_hide-cell")
        assert solutions.count() >= 3, f"{name}: exercise solutions (hide-cell) missing"
        for i in range(solutions.count()):
            code = solutions.nth(i).locator("div.cell_input pre").first
            assert not code.is_visible(), f"{name}: solution {i + 1} is not collapsed"
        # a learner can open one
        solutions.first.locator("button.toggle-button, summary").first.click()
        solutions.first.locator("div.cell_input pre").first.wait_for(timeout=5_000)
        log.assert_clean()
    finally:
        log.close()


_PROVENANCE_JS = """() => {
  const art = document.querySelector('article.bd-article') || document.querySelector('main');
  const p = [...art.querySelectorAll('p')].find(e => e.innerText.includes('Outputs made in'));
  const h1 = art.querySelector('h1'), code = art.querySelector('div.cell_input');
  if (!p) return null;
  const after = (a, b) => !!(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
  return {text: p.innerText, underTitle: after(h1, p) && (!code || after(p, code))};
}"""


@pytest.mark.browser
@pytest.mark.parametrize("name", [p.stem for p in build_mod.chapters()])
def test_provenance_line_under_the_title(server, browser, name):  # noqa: F811
    nb = json.loads((build_mod.NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf8"))
    rec = nb["metadata"].get("ssloserve")
    assert rec, f"{name}: no record of how its outputs were made: run make notebooks NB={name}"
    log, page = _open(browser, server, name)
    try:
        found = page.evaluate(_PROVENANCE_JS)
        assert found, f"{name}: no provenance line on the page"
        text = " ".join(found["text"].split())
        m = re.search(r"Outputs made in (\w+) mode on (\S+ \S+) UTC, on (\d+) cores", text)
        assert m, f"{name}: the provenance line reads {text!r}"
        when = rec["executed_utc"][:16].replace("T", " ")
        assert m.groups() == (rec["mode"], when, str(rec["machine"]["cores"])), text
        assert rec["machine"]["cpu"] in text and rec["commit"][:10] in text, text
        assert found["underTitle"], f"{name}: the provenance line is not under the title"
        log.assert_clean()
    finally:
        log.close()
