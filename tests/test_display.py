"""Figures display as pictures in a plain kernel; widgets carry a static picture (issue 15)."""

from __future__ import annotations

import base64
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import nbformat
import pytest
from matplotlib.figure import Figure
from nbclient import NotebookClient

from closp_lite.display import WithFallback, figure_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _book_extension(name: str) -> ModuleType:
    """A Sphinx extension of the book (book/_ext/NAME.py), imported from its file."""
    path = Path(__file__).resolve().parents[1] / "book" / "_ext" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    extension = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(extension)
    return extension


def _figure() -> Figure:
    fig = Figure(figsize=(3, 2))
    fig.add_subplot().plot([0, 1], [1, 0])
    return fig


def test_figure_png_is_a_png() -> None:
    assert figure_png(_figure()).startswith(PNG_MAGIC)


def test_widget_bundle_has_a_picture_beside_the_view() -> None:
    ipywidgets = pytest.importorskip("ipywidgets")
    bundle = WithFallback(ipywidgets.Label("hello"), _figure())._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]).startswith(PNG_MAGIC)


def test_without_widget_only_the_picture() -> None:
    bundle = WithFallback(None, _figure())._repr_mimebundle_()
    assert set(bundle) == {"image/png", "text/plain"}


@pytest.mark.slow
def test_plain_kernel_shows_figures_as_png(monkeypatch: pytest.MonkeyPatch) -> None:
    """No pyplot, no %matplotlib: a bare Figure as the last expression must become a picture."""
    monkeypatch.delenv("MPLBACKEND", raising=False)
    source = "import closp_lite\nfrom matplotlib.figure import Figure\nfig = Figure()\nfig.add_subplot().plot([1, 2])\nfig"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    (output,) = notebook.cells[0].outputs
    # text/plain stays as the alternative for terminals; every notebook front end prefers the PNG
    assert base64.b64decode(output["data"]["image/png"]).startswith(PNG_MAGIC)


def test_html_book_leaves_out_frozen_progress_bars() -> None:
    """book/_ext/progress_bars.py drops a bar's text (frozen at 0 %) but keeps other text outputs."""
    from docutils import nodes
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser
    from docutils.utils import new_document

    extension = _book_extension("progress_bars")
    document = new_document("chapter", get_default_settings(Parser))
    texts = ["embedding images:   0%|          | 0/76 [00:00<?, ?img/s]", "(True, 0)", "100%|##########| 12/12"]
    for text in texts:
        document += nodes.literal_block(text, text, classes=["output", "text_plain"])
    extension.drop_progress_bars(None, document)
    assert [block.astext() for block in document.findall(nodes.literal_block)] == ["(True, 0)"]


@pytest.mark.parametrize("local", [True, False])
def test_html_book_loads_mathjax_from_a_local_copy_if_any(local: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """book/_ext/offline_mathjax.py: formulas need MathJax; a local copy (offline) or the CDN (online)."""
    mathjax = tmp_path / "mathjax"
    if local:
        (mathjax / "output" / "chtml" / "fonts").mkdir(parents=True)
        (mathjax / "tex-mml-chtml.js").write_text("// MathJax")
        (mathjax / "output" / "chtml" / "fonts" / "tex.js").write_text("// fonts")
    monkeypatch.setenv("CLOSP_LITE_MATHJAX", str(mathjax))
    source = tmp_path / "src"
    source.mkdir()
    (source / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(Path(__file__).resolve().parents[1] / 'book' / '_ext')!r})\n"
        "extensions = ['sphinx.ext.mathjax', 'offline_mathjax']\n"
    )
    (source / "index.rst").write_text("Maths\n=====\n\n:math:`\\tau = 0.07`\n")
    out = tmp_path / "html"
    # a fresh interpreter: a second Sphinx application in one process warns about re-registered nodes
    subprocess.run([sys.executable, "-m", "sphinx", "-q", "-W", str(source), str(out)], check=True)
    page = (out / "index.html").read_text()
    if local:
        assert 'src="_static/mathjax/tex-mml-chtml.js"' in page and "cdn.jsdelivr" not in page
        assert (out / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "tex.js").is_file()
    else:
        assert "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js" in page
        assert not (out / "_static" / "mathjax").exists()


def test_formatter_registers_with_a_shell_and_not_without() -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from closp_lite.display import register_figure_formatter

    assert register_figure_formatter() is False  # pytest is no IPython kernel
    shell = InteractiveShell.instance()
    try:
        assert register_figure_formatter(shell) is True
        data, _ = shell.display_formatter.format(_figure())
        png = data["image/png"]
        assert (base64.b64decode(png) if isinstance(png, str) else png).startswith(PNG_MAGIC)
    finally:
        InteractiveShell.clear_instance()
