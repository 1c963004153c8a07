"""Execute every chapter of the book from a fresh kernel and record its wall time and the
kernel's peak memory (VmHWM), in the default ``sample`` mode unless ``--mode`` says otherwise.

    .venv/bin/python benchmarks/chapters.py [--mode sample] [--chapter 00-tour ...]

Writes ``benchmarks/results/chapters.json`` (or ``chapters_<mode>.json`` for other modes).
The budget a chapter must meet on a Binder-like machine: < 180 s and < 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import jupytext
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write_result  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from test_book import BOOK, notebook_chapters  # noqa: E402

BUDGET_S = 180
BUDGET_GB = 1.5


def _peak_rss_gb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    raise RuntimeError(f"no VmHWM for process {pid}")


def run_chapter(name: str) -> dict[str, float | str | bool]:
    """Execute one chapter in a fresh kernel; return its time, peak memory and status."""
    notebook = jupytext.read(BOOK / f"{name}.md")
    client = NotebookClient(notebook, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(BOOK)}})
    start = time.perf_counter()
    status = "ok"
    with client.setup_kernel():
        pid = client.km.provisioner.process.pid
        try:
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)
        except Exception as err:  # a failing chapter is recorded, not hidden
            status = f"error: {type(err).__name__}"
        peak = _peak_rss_gb(pid)
    seconds = time.perf_counter() - start
    return {
        "chapter": name,
        "seconds": round(seconds, 1),
        "peak_memory_gb": round(peak, 3),
        "status": status,
        "within_budget": status == "ok" and seconds < BUDGET_S and peak < BUDGET_GB,
    }


def main() -> None:
    """Parse arguments, run the chapters, write the result file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", default="sample", choices=["tiny", "sample", "full"])
    parser.add_argument("--chapter", nargs="*", help="chapter file stems (default: all in the table of contents)")
    args = parser.parse_args()
    os.environ.update({"CLOSP_LITE_MODE": args.mode, "TQDM_DISABLE": "1", "MPLBACKEND": "Agg"})
    rows = []
    for name in args.chapter or notebook_chapters():
        row = run_chapter(name)
        print(row, flush=True)
        rows.append(row)
    name = "chapters" if args.mode == "sample" else f"chapters_{args.mode}"
    print(write_result(name, {"mode": args.mode, "budget_s": BUDGET_S, "budget_gb": BUDGET_GB, "chapters": _merged(name, rows)}))


def _merged(name: str, rows: list[dict]) -> list[dict]:
    """Keep earlier rows of chapters not re-run this time (``--chapter`` measures a few)."""
    path = RESULTS / f"{name}.json"
    earlier = json.loads(path.read_text())["results"]["chapters"] if path.exists() else []
    fresh = {row["chapter"] for row in rows}
    return sorted([row for row in earlier if row["chapter"] not in fresh] + rows, key=lambda row: row["chapter"])


if __name__ == "__main__":
    main()
