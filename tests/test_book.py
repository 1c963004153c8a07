"""Every chapter in the table of contents executes from a fresh kernel in tiny mode, and the
book builds to HTML offline (issue: foundation)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest
import yaml
from nbclient import NotebookClient

BOOK = Path(__file__).resolve().parents[1] / "book"
NON_CHAPTERS = {"README.md"}


def toc_files() -> list[str]:
    """Return the files listed in ``book/_toc.yml`` (root first), without extension."""
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def notebook_chapters() -> list[str]:
    """Return the toc entries that contain code cells (the ones to execute)."""
    return [name for name in toc_files() if "{code-cell}" in (BOOK / f"{name}.md").read_text()]


def test_toc_and_chapter_files_agree() -> None:
    listed = set(toc_files())
    present = {p.stem for p in BOOK.glob("*.md") if p.name not in NON_CHAPTERS}
    assert listed == present, f"only in _toc.yml: {sorted(listed - present)}; only on disk: {sorted(present - listed)}"


def test_every_chapter_follows_the_skeleton() -> None:
    for name in notebook_chapters():
        text = (BOOK / f"{name}.md").read_text()
        for heading in ("## Overview", "## Prerequisites", "## Summary", "## Exercises", "## References"):
            assert heading in text, f"{name}.md lacks '{heading}'"
        assert "hide-input" in text, f"{name}.md has no hidden solutions"


@pytest.fixture(scope="session")
def kernel_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for chapter kernels: tiny mode, a data directory shared by the whole session."""
    env = {
        "CLOSP_LITE_MODE": "tiny",
        "CLOSP_LITE_DATA_DIR": os.environ.get("CLOSP_LITE_DATA_DIR") or str(tmp_path_factory.mktemp("data")),
        "TQDM_DISABLE": "1",
        "MPLBACKEND": "Agg",
        "HF_HUB_OFFLINE": "1",
    }
    return env


@pytest.mark.slow
@pytest.mark.parametrize("chapter", notebook_chapters())
def test_chapter_executes(chapter: str, kernel_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in kernel_env.items():
        monkeypatch.setenv(key, value)  # the kernel inherits the test process's environment
    notebook = jupytext.read(BOOK / f"{chapter}.md")
    client = NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(BOOK)}})
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code), f"{chapter}: cells that did not run"


@pytest.mark.slow
def test_html_book_builds_offline(tmp_path: Path) -> None:
    book = tmp_path / "book"
    shutil.copytree(BOOK, book, ignore=shutil.ignore_patterns("_build"))
    config = yaml.safe_load((book / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"  # execution is covered by test_chapter_executes
    (book / "_config.yml").write_text(yaml.safe_dump(config))
    jb = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run([str(jb), "build", str(book), "--warningiserror"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    html = book / "_build" / "html"
    for name in toc_files():
        assert (html / f"{name}.html").is_file()
