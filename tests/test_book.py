"""Every chapter in the table of contents executes from a fresh kernel in tiny mode, from a
folder outside ``book/`` (as a notebook downloaded anywhere), and the book builds to HTML offline
(issues: foundation, 15)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
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


def numbered_chapters() -> list[str]:
    """Return the chapters proper (``NN-name``), which follow the skeleton; guides do not."""
    return [name for name in notebook_chapters() if re.match(r"\d\d-", name)]


def test_toc_and_chapter_files_agree() -> None:
    listed = set(toc_files())
    present = {p.stem for p in BOOK.glob("*.md") if p.name not in NON_CHAPTERS}
    assert listed == present, f"only in _toc.yml: {sorted(listed - present)}; only on disk: {sorted(present - listed)}"


def test_every_chapter_follows_the_skeleton() -> None:
    for name in numbered_chapters():
        text = (BOOK / f"{name}.md").read_text()
        for heading in ("## Overview", "## Prerequisites", "## Summary", "## Exercises", "## References"):
            assert heading in text, f"{name}.md lacks '{heading}'"


# a MyST dropdown fenced by backticks or colons: ````{dropdown} ... ```` or :::{dropdown} ... :::
DROPDOWN = re.compile(r"^(`{3,}|:{3,})\{dropdown\}.*?^\1\s*$", re.DOTALL | re.MULTILINE)


def exercises_section(text: str) -> str:
    """The ``## Exercises`` section of a chapter, up to the next ``## `` heading."""
    return text.split("\n## Exercises", 1)[1].split("\n## ", 1)[0]


def test_exercise_solutions_are_hidden_until_clicked() -> None:
    """Solution cells hide their output too (an answer printed under a hidden input is visible),
    and answers in words sit inside a ``{dropdown}``."""
    for name in numbered_chapters():
        section = exercises_section((BOOK / f"{name}.md").read_text())
        cells = re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", section, re.DOTALL)
        assert cells, f"{name}.md: no solution cells under '## Exercises'"
        for cell in cells:
            tags = set(re.findall(r"[\w-]+", (re.findall(r":tags: \[(.*?)\]", cell) or [""])[0]))
            hidden = "hide-cell" in tags or {"hide-input", "hide-output"} <= tags or "remove-cell" in tags
            assert hidden, f"{name}.md: a solution cell shows its output; tag it hide-cell:\n{cell[:200]}"
        prose = DROPDOWN.sub("", re.sub(r"```\{code-cell\}.*?```", "", section, flags=re.DOTALL))
        answers = [line for line in prose.splitlines() if re.match(r"\W*(answer|solution)", line, re.IGNORECASE)]
        assert not answers, f"{name}.md: put answers in a ````{{dropdown}} block: {answers}"


def test_chapters_read_files_through_the_package() -> None:
    """A chapter converted to a notebook runs from any folder: no ``../`` paths into the repository."""
    for name in notebook_chapters():
        text = (BOOK / f"{name}.md").read_text()
        assert not re.search(r"""["']\.\./|Path\(["']\.\.["']\)""", text), (
            f"{name}.md reads a file by a relative path; use closp_lite.results.read_result(NAME)"
        )


def execute_chapter(name: str, env: dict[str, str], workdir: Path, allow_errors: bool = False) -> nbformat.NotebookNode:
    """Execute one chapter in a fresh kernel started in ``workdir`` (not ``book/``); return it with outputs.

    With ``allow_errors`` a failing cell keeps its traceback as output and execution goes on.
    """
    notebook = jupytext.read(BOOK / f"{name}.md")
    workdir.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(
        notebook, timeout=900, kernel_name="python3", allow_errors=allow_errors, resources={"metadata": {"path": str(workdir)}}
    )
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)  # the kernel inherits the test process's environment
        client.execute()
    return notebook


@pytest.mark.slow
@pytest.mark.parametrize("chapter", notebook_chapters())
def test_chapter_executes(chapter: str, kernel_env: dict[str, str], executed_dir: Path, tmp_path: Path) -> None:
    notebook = execute_chapter(chapter, kernel_env, tmp_path / "elsewhere")  # raises CellExecutionError, naming the cell
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code), f"{chapter}: cells that did not run"
    nbformat.write(notebook, executed_dir / f"{chapter}.ipynb")  # reused by tests/test_browser.py


def build_html(book: Path, executed: dict[str, nbformat.NotebookNode] | None = None) -> Path:
    """Copy ``book/`` to ``book``, put the ``executed`` chapters in place of their ``.md``, build the
    HTML offline (Jupyter Book 1, no execution) and return the ``_build/html`` folder."""
    shutil.copytree(BOOK, book, ignore=shutil.ignore_patterns("_build"))
    for name, notebook in (executed or {}).items():
        (book / f"{name}.md").unlink()
        nbformat.write(notebook, book / f"{name}.ipynb")
    config = yaml.safe_load((book / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"  # execution is covered by test_chapter_executes
    (book / "_config.yml").write_text(yaml.safe_dump(config))
    jb = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run([str(jb), "build", str(book), "--warningiserror"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return book / "_build" / "html"


@pytest.mark.slow
def test_html_book_builds_offline(tmp_path: Path) -> None:
    html = build_html(tmp_path / "book")
    for name in toc_files():
        assert (html / f"{name}.html").is_file()
