"""Sphinx extension of the closp-lite book: MathJax from a local copy when there is one.

Sphinx loads MathJax from a CDN, which is right for readers online (the published HTML book, Binder).
A book opened without a network would show raw LaTeX instead of formulas. So `make book` unpacks
MathJax 3 from npm into ``book/_build/mathjax/`` (git-ignored, never committed; skipped with a note
when npm or the network is missing), and when that folder exists this extension copies it into the
build (``_static/mathjax/``) and points ``mathjax_path`` at it. ``CLOSP_LITE_MATHJAX`` names another
unpacked MathJax 3 ``es5`` folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

ENTRY = "tex-mml-chtml.js"  # the bundle Sphinx's default CDN URL names
TARGET = "mathjax"  # the folder under _static


def local_mathjax(srcdir: str | Path) -> Path | None:
    """The unpacked MathJax folder for this build, or None when there is none (then the CDN is used)."""
    folder = Path(os.environ.get("CLOSP_LITE_MATHJAX") or Path(srcdir) / "_build" / "mathjax")
    return folder if (folder / ENTRY).is_file() else None


def use_local_mathjax(app: Any, config: Any) -> None:
    """Point ``mathjax_path`` (relative to ``_static``) at the local copy, if there is one."""
    if local_mathjax(app.srcdir):
        config.mathjax_path = f"{TARGET}/{ENTRY}"


def copy_local_mathjax(app: Any, exception: Exception | None) -> None:
    """Copy the local MathJax into the HTML build's ``_static`` folder."""
    folder = local_mathjax(app.srcdir)
    if folder and exception is None and app.builder.format == "html":
        shutil.copytree(folder, Path(app.outdir) / "_static" / TARGET, dirs_exist_ok=True)


def setup(app: Any) -> dict[str, bool]:
    """Register the two steps (Sphinx entry point)."""
    app.connect("config-inited", use_local_mathjax)
    app.connect("build-finished", copy_local_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
