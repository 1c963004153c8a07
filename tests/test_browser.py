"""The HTML book as a student sees it, in a real browser (issue 15).

The chapters are executed in tiny mode (reusing what tests/test_book.py executed in the same
session), the HTML book is built offline from them, and Debian's headless Chromium, driven by
Playwright through ``executable_path``, opens every chapter page and checks: every image loads,
no output shows ``<Figure size ...>`` or a traceback, no widget is left without its picture
(maps, the search explorer, progress bars), hidden solutions really are hidden, and the Binder
launch link is there.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from test_book import BOOK, build_html, execute_chapter, notebook_chapters, numbered_chapters

CHROMIUM = Path("/usr/bin/chromium")
# MathJax unpacked by `make mathjax` (book/_ext/offline_mathjax.py); without it formulas need the CDN
MATHJAX = BOOK / "_build" / "mathjax"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="no Debian chromium at /usr/bin/chromium (apt-get install chromium; .ci/run does it)"
    ),
]


@pytest.fixture(scope="module")
def html_book(kernel_env: dict[str, str], executed_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML book built from chapters executed in tiny mode (executed here only if not yet)."""
    executed = {}
    for name in notebook_chapters():
        done = executed_dir / f"{name}.ipynb"
        if done.is_file():
            executed[name] = nbformat.read(done, as_version=4)
        else:
            # a failing chapter keeps its traceback, so only its own page test fails
            executed[name] = execute_chapter(name, kernel_env, tmp_path_factory.mktemp("elsewhere"), allow_errors=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CLOSP_LITE_MATHJAX", str(MATHJAX))  # used only if `make mathjax` unpacked it
        return build_html(tmp_path_factory.mktemp("browser") / "book", executed)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Debian Chromium with a fresh profile."""
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True,
            viewport={"width": 1280, "height": 900},
        )  # fmt: skip
        yield context
        context.close()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.mark.parametrize("chapter", notebook_chapters())
def test_chapter_page_in_a_real_browser(chapter: str, html_book: Path, browser: Any) -> None:
    page = browser.new_page()
    page.goto((html_book / f"{chapter}.html").as_uri(), wait_until="load")
    images = page.eval_on_selector_all(
        "article img", "imgs => imgs.map(i => ({src: i.src.slice(0, 80), ok: i.complete && i.naturalWidth > 0}))"
    )
    outputs = page.eval_on_selector_all("div.cell_output", "nodes => nodes.map(n => n.innerText)")
    widget_views = page.eval_on_selector_all('script[type="application/vnd.jupyter.widget-view+json"]', "n => n.length")
    solutions = page.eval_on_selector_all(
        "div.tag_hide-cell", "cells => cells.map(c => c.querySelector('details') ? !c.querySelector('details').open : false)"
    )
    binder = page.eval_on_selector_all('a[href*="mybinder.org/v2/gh/"]', "links => links.map(a => a.href)")
    page.close()
    chapter_proper = chapter in numbered_chapters()  # not the instructor guide
    assert images or not chapter_proper, f"{chapter}: no pictures at all"
    assert all(image["ok"] for image in images), f"{chapter}: images that do not load: {[i for i in images if not i['ok']]}"
    shown = "\n".join(outputs)
    assert "<Figure size" not in shown, f"{chapter}: a figure printed as text instead of a picture"
    assert "Traceback" not in shown and "Error:" not in shown, f"{chapter}: an output shows an error"
    assert widget_views == 0, f"{chapter}: {widget_views} widget(s) shown as a blank view instead of their picture"
    assert "Map(" not in shown, f"{chapter}: a map printed as text (no static picture)"
    assert not re.search(r"\d+%\|", shown), f"{chapter}: a progress bar shown as frozen text"
    assert all(solutions) and (solutions or not chapter_proper), f"{chapter}: exercise solutions not hidden behind a toggle"
    assert binder, f"{chapter}: no Binder launch link"


@pytest.mark.skipif(not (MATHJAX / "tex-mml-chtml.js").is_file(), reason="no local MathJax: `make mathjax` unpacks it (needs npm)")
def test_formulas_render_without_a_network(html_book: Path, browser: Any) -> None:
    page = browser.new_page()
    page.goto((html_book / "05-training.html").as_uri(), wait_until="load")
    page.wait_for_selector("mjx-container", timeout=30_000)  # MathJax typesets after the page loads
    rendered = page.eval_on_selector_all("article mjx-container", "nodes => nodes.length")
    text = page.inner_text("article")
    page.close()
    assert rendered >= 3, "formulas not typeset"
    assert "\\log B" not in text, "a formula is still raw LaTeX"
