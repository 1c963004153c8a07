"""benchmarks/chapters.py records what a reader needs to trust a chapter's cost - CPU seconds, load
at start and end, torch threads, the heavy packages of the kernel's environment - and records a
chapter its environment cannot run as skipped, not failed (issue 15). Tested on fake rows and one
tiny fake notebook: the real chapters are measured by the benchmark itself, not here."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import chapter_needs
import chapters

NO_CPU_TORCHVISION = ["open_clip", "timm", "torchgeo", "torchvision"]  # the Binder-like environment without the wheel


def _row(name: str, status: str = "ok", seconds: float = 10.0, peak_gb: float = 0.5, **extra: object) -> dict:
    return chapters.build_row(
        name,
        seconds=seconds,
        peak_gb=peak_gb,
        kernel_peak_gb=peak_gb,
        status=status,
        cpu_seconds=extra.pop("cpu_seconds", 8.0),  # type: ignore[arg-type]
        load_start=1.04,
        load_end=2.26,
        torch_threads=2,
        packages=["torchvision", "torch"],
        measured="2026-12-03T08:00+00:00",
        failure=extra or None,  # type: ignore[arg-type]
    )


def test_a_row_records_cpu_load_threads_and_packages() -> None:
    row = _row("01-optical")
    assert row["cpu_seconds"] == 8.0 and row["torch_threads"] == 2
    assert (row["load_average_start"], row["load_average_end"]) == (1.0, 2.3)
    assert row["packages"] == ["torch", "torchvision"]  # sorted: the set, comparable between files
    assert row["within_budget"] is True
    assert _row("x", seconds=chapters.BUDGET_S + 1)["within_budget"] is False
    assert _row("x", peak_gb=chapters.BUDGET_GB + 0.1)["within_budget"] is False
    assert _row("x", status="error: CellExecutionError")["within_budget"] is False
    failed = _row("x", status="error: CellExecutionError", failed_cell=3, error="ValueError: no")
    assert failed["failed_cell"] == 3 and failed["error"] == "ValueError: no"


def test_a_skipped_row_is_neither_within_nor_over_budget() -> None:
    assert _row("08-transfer", status="skipped: needs torchvision (no CPU wheel)")["within_budget"] is None


def test_tree_cpu_seconds_counts_waited_children_and_processes_seen_running() -> None:
    live = [(3.0, 1.0, 2.0, 0.5), (0.4, 0.1, 0.0, 0.0)]  # kernel (with an ended, waited-for worker), a live worker
    assert chapters.tree_cpu_seconds(live) == 7.0
    assert chapters.tree_cpu_seconds(live, seen=[4.0, 0.5, 5.0]) == 9.5  # an unwaited worker was seen with 5 s
    assert chapters.tree_cpu_seconds([], seen=[]) == 0.0


def test_skip_status_names_torchvision_when_there_is_no_cpu_wheel() -> None:
    assert chapters.skip_status(["timm"], NO_CPU_TORCHVISION) == "skipped: needs torchvision (no CPU wheel)"
    assert chapters.skip_status(["torchgeo"], NO_CPU_TORCHVISION) == "skipped: needs torchvision (no CPU wheel)"
    assert chapters.skip_status([], NO_CPU_TORCHVISION) is None
    assert chapters.skip_status(["timm"], []) is None  # the project environment has everything
    assert chapters.skip_status(["open_clip"], ["open_clip"]) == "skipped: needs open_clip_torch (not installed)"


def test_a_chapter_stopped_by_a_missing_package_is_reclassified_as_skipped() -> None:
    stopped = _row("08-transfer", status="error: CellExecutionError", needs="timm", error="ModuleNotFoundError: No module named 'timm'")
    row = chapters.reclassify(stopped, NO_CPU_TORCHVISION)
    assert row["status"] == "skipped: needs torchvision (no CPU wheel)" and row["within_budget"] is None
    assert row["error"].startswith("ModuleNotFoundError")  # where it stopped stays on record
    other = _row("05-training", status="error: CellExecutionError", error="ValueError: bad")
    assert chapters.reclassify(other, NO_CPU_TORCHVISION) == other  # a real failure stays a failure
    assert chapters.reclassify(stopped, []) == stopped  # the package is there: something else went wrong


def test_summary_reads_old_and_new_rows() -> None:
    old = {"chapter": "00-tour", "seconds": 83.2, "peak_memory_gb": 1.7, "status": "ok", "within_budget": True, "load_average": 1.2}
    rows = [
        old,
        _row("01-optical"),
        _row("05-training", seconds=chapters.BUDGET_S + 20),
        _row("08-transfer", status="skipped: needs torchvision (no CPU wheel)"),
        _row("09-sar-talk", status="error: CellExecutionError"),
    ]
    summary = chapters.summarize(rows)
    assert (summary["chapters"], summary["ok"]) == (5, 3)
    assert summary["skipped"] == ["08-transfer"] and summary["failed"] == ["09-sar-talk"]
    assert summary["over_budget"] == ["05-training"]
    assert summary["seconds_ok"] == pytest.approx(83.2 + 10.0 + chapters.BUDGET_S + 20)
    assert summary["cpu_seconds_ok"] == 16.0 and summary["rows_without_cpu_seconds"] == ["00-tour"]
    assert summary["load_average_range"] == [1.0, 2.3]
    assert summary["package_sets"] == ["torch, torchvision", "unknown"]


FAKE_PACKAGE = {
    "__init__.py": "",
    "models.py": (
        "def pretrained(name):\n    from torchgeo import models\n    return models\n\n"
        "def url(name):\n    return pretrained(name).url\n\n"
        "class Model:\n    def __init__(self, arch):\n        self.tower = pretrained(arch) if arch == 'geo' else None\n\n"
        "def light():\n    return 1\n"
    ),
    "use.py": "from closp_lite.models import url\n\ndef show():\n    return url('x')\n",
}


def test_library_needs_follow_calls_but_not_into_classes(tmp_path: Path) -> None:
    package = tmp_path / "closp_lite"  # the reading follows closp_lite names: a small fake of it
    package.mkdir()
    for name, text in FAKE_PACKAGE.items():
        (package / name).write_text(text)
    needs = chapter_needs.library_needs(package, chapter_needs.HEAVY)
    assert needs["closp_lite.models.pretrained"] == {"torchgeo"}
    assert needs["closp_lite.models.url"] == {"torchgeo"}  # through the function it calls
    assert needs["closp_lite.use.show"] == {"torchgeo"}  # across modules
    assert needs["closp_lite.models.Model"] == set()  # a class picks its tower at run time
    assert needs["closp_lite.models.light"] == set()
    code = chapter_needs.code_needs("from closp_lite.use import show\nimport timm.data\nshow()\n", needs)
    assert code == {"direct": ["timm"], "through_closp_lite": ["torchgeo"]}
    assert chapter_needs.code_needs("from closp_lite.models import light\nlight()\n", needs) == {"direct": [], "through_closp_lite": []}


def test_the_book_chapter_that_imports_timm_itself_is_found() -> None:
    library = chapter_needs.library_needs()
    assert "timm" in chapter_needs.code_needs(chapter_needs.chapter_code("08-transfer"), library)["direct"]
    assert chapter_needs.code_needs(chapter_needs.chapter_code("01-optical"), library) == {"direct": [], "through_closp_lite": []}
    ast.parse(chapter_needs.chapter_code("00-tour"))  # magics dropped: every chapter's code parses


FAKE_CHAPTER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A fake chapter

```{code-cell} ipython3
import subprocess, sys
import torch
subprocess.run([sys.executable, "-c", "sum(range(10**5))"], check=True)
```

```{code-cell} ipython3
raise ModuleNotFoundError("No module named 'torchvision'")
```
"""


@pytest.mark.slow
def test_run_chapter_measures_a_fake_chapter_in_a_real_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "99-fake.md").write_text(FAKE_CHAPTER)
    monkeypatch.setattr(chapters, "BOOK", tmp_path)
    row = chapters.run_chapter("99-fake", detail=True, packages=["torch"])
    assert row["status"] == "error: CellExecutionError" and row["failed_cell"] == 2 and row["needs"] == "torchvision"
    assert isinstance(row["cpu_seconds"], float) and row["cpu_seconds"] >= 0
    assert isinstance(row["torch_threads"], int) and row["torch_threads"] >= 1  # asked of the kernel, which imported torch
    assert row["load_average_start"] >= 0 and row["load_average_end"] >= 0
    assert row["packages"] == ["torch"]
    skipped = chapters.reclassify(row, NO_CPU_TORCHVISION)
    assert skipped["status"] == "skipped: needs torchvision (no CPU wheel)"


def test_a_chapter_importing_a_missing_package_itself_is_skipped_without_running() -> None:
    row = chapters.skipped_row("08-transfer", ["timm"], NO_CPU_TORCHVISION, ["torch"])
    assert row is not None
    assert row["status"] == "skipped: needs torchvision (no CPU wheel)" and row["needs"] == "timm"
    assert row["within_budget"] is None and row["cpu_seconds"] is None and row["packages"] == ["torch"]
    assert chapters.skipped_row("08-transfer", ["timm"], [], ["torch", "timm"]) is None  # the project environment runs it
    assert chapters.skipped_row("01-optical", [], NO_CPU_TORCHVISION, ["torch"]) is None
