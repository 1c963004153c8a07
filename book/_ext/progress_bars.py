"""Sphinx extension of the closp-lite book: leave out progress bars from the static pages.

In JupyterLab a progress bar (tqdm) is a live widget. A static page has no kernel, so myst-nb
falls back to the bar's text, captured when the bar was created: "embedding images: 0%| | 0/76".
That says the work never started, so the HTML book drops these outputs instead.
"""

from __future__ import annotations

import re
from typing import Any

from docutils import nodes

# tqdm's text: "desc: 12%|###     | 9/76 [00:01<00:08, 8.1img/s]" (desc optional)
PROGRESS = re.compile(r"^[^\n|]*\d+%\|[^|]*\|\s*\d+/\d*\S*")


def drop_progress_bars(_app: Any, doctree: nodes.document) -> None:
    """Remove plain-text cell outputs that are a progress bar's text."""
    for block in list(doctree.findall(nodes.literal_block)):
        if "output" in block.get("classes", []) and PROGRESS.match(block.astext().strip()):
            block.parent.remove(block)


def setup(app: Any) -> dict[str, bool]:
    """Register the transform (Sphinx entry point)."""
    app.connect("doctree-read", drop_progress_bars)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
