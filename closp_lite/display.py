"""How closp-lite's figures and widgets appear in notebooks and in the HTML book (chapter 0).

The plotting functions build :class:`matplotlib.figure.Figure` objects without pyplot, so that no
global figure state leaks between cells. IPython only knows how to draw pyplot-managed figures
(through the inline backend), so a bare ``Figure`` left as the last expression of a cell would
print as ``<Figure size 450x480 with 1 Axes>``. :func:`register_figure_formatter` teaches the
running kernel to render every Figure as a PNG; ``import closp_lite`` calls it, so a plain kernel,
JupyterLab and the executed HTML book all show pictures.

Interactive outputs (ipyleaflet maps, the search explorer) are blank in a static HTML page,
which has no kernel. :class:`WithFallback` bundles a widget with a picture of the same content in
one output: JupyterLab shows the widget, the HTML book (``nb_mime_priority_overrides`` in
``book/_config.yml``) shows the picture.
"""

from __future__ import annotations

import base64
import io
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["WithFallback", "figure_png", "register_figure_formatter"]

PNG_DPI = 100


def figure_png(fig: Figure, dpi: int = PNG_DPI) -> bytes:
    """The PNG bytes of a Figure, cropped to its content (chapter 0)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def register_figure_formatter(shell: Any = None) -> bool:
    """Make the IPython kernel render every matplotlib Figure as a PNG (chapter 0).

    ``shell`` defaults to the running IPython shell. Registered by type *name*, so matplotlib is
    not imported before a Figure exists. Returns False (and does nothing) outside IPython.
    """
    if shell is None:
        if "IPython" not in sys.modules:  # a plain Python process: nothing to register with
            return False
        from IPython import get_ipython

        shell = get_ipython()
    if shell is None:
        return False
    png = shell.display_formatter.formatters["image/png"]
    png.for_type_by_name("matplotlib.figure", "Figure", figure_png)
    return True


class WithFallback:
    """One output holding an interactive widget and a static picture of the same content (chapter 0).

    Front ends with a widget manager (JupyterLab, Notebook, VS Code) show the widget; the HTML
    book, which prefers ``image/png`` over widget views, shows the picture. ``widget`` may be
    None (ipywidgets or ipyleaflet missing): then only the picture is shown.
    """

    def __init__(self, widget: Any, figure: Figure) -> None:
        self.widget = widget
        self.figure = figure

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {}
        if self.widget is not None:
            bundle.update(self.widget._repr_mimebundle_(include=include, exclude=exclude) or {})
        bundle["image/png"] = base64.b64encode(figure_png(self.figure)).decode("ascii")
        bundle["text/plain"] = f"<{type(self.widget).__name__ if self.widget is not None else 'Figure'} with a static picture>"
        return bundle
