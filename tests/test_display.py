"""Figures display as pictures in a plain kernel; widgets carry a static picture (issue 15)."""

from __future__ import annotations

import base64

import nbformat
import pytest
from matplotlib.figure import Figure
from nbclient import NotebookClient

from closp_lite.display import WithFallback, figure_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


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
    import importlib.util
    from pathlib import Path

    from docutils import nodes
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser
    from docutils.utils import new_document

    path = Path(__file__).resolve().parents[1] / "book" / "_ext" / "progress_bars.py"
    spec = importlib.util.spec_from_file_location("progress_bars", path)
    assert spec is not None and spec.loader is not None
    extension = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(extension)
    document = new_document("chapter", get_default_settings(Parser))
    texts = ["embedding images:   0%|          | 0/76 [00:00<?, ?img/s]", "(True, 0)", "100%|##########| 12/12"]
    for text in texts:
        document += nodes.literal_block(text, text, classes=["output", "text_plain"])
    extension.drop_progress_bars(None, document)
    assert [block.astext() for block in document.findall(nodes.literal_block)] == ["(True, 0)"]


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
