"""Execute every chapter of the book from a fresh kernel and record its wall time and the peak
memory of the kernel's whole process tree, in the default ``sample`` mode unless ``--mode`` says
otherwise.

    .venv/bin/python benchmarks/chapters.py [--mode sample] [--env cpu-torch] [--chapter 00-tour ...]

Writes ``benchmarks/results/chapters.json`` (or ``chapters_<mode>.json`` for other modes).
The budget a chapter must meet on Binder: <= 180 s and <= 2 GB. Binder limits the memory of the
whole session, so the peak is the largest *sum* of resident memory over the kernel and every
process it started (data-loader workers, corpus simulation processes), sampled every 0.1 s, and
never less than the kernel's own high-water mark (VmHWM). Chapters run in a temporary folder
outside ``book/``, as a notebook a student downloaded would.

``--env cpu-torch`` runs the chapters in the kernel of ``.venv-cpu-torch/`` (built by
``benchmarks/cpu_torch_env.sh``: Python 3.11, CPU-only torch as on Binder, without torchvision,
torchgeo and open_clip) and writes ``chapters_cpu_torch.json`` with the kernel's Python and
torch, and for a failed chapter the cell and error that stopped it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Self

import jupytext
import psutil
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from test_book import BOOK, notebook_chapters  # noqa: E402

BUDGET_S = 180
BUDGET_GB = 2.0

# The Binder-like environment of benchmarks/cpu_torch_env.sh (same defaults as that script).
CPU_TORCH_ENV = Path(os.environ.get("CPU_TORCH_ENV", ROOT / ".venv-cpu-torch"))
CPU_TORCH_KERNEL = "closp-lite-cpu-torch"
# module -> package; timm is no dependency of its own but comes with open_clip_torch (and needs torchvision)
CPU_TORCH_LEFT_OUT = {"torchvision": "torchvision", "torchgeo": "torchgeo", "open_clip": "open_clip_torch", "timm": "timm"}
CPU_TORCH_WHY = (
    "CPU-only torch, as on Binder (environment.yml installs conda-forge pytorch-cpu): the project venv's "
    "PyPI torch is the CUDA build, whose import alone takes more resident memory. Python and torch "
    "versions are the kernel's (the only CPU-only torch wheel at hand is for Python 3.11), not the project's "
    "3.12 / requirements.lock; machine.python and machine.torch describe this script's own interpreter. "
    "torchvision, torchgeo and open_clip_torch (with its timm) are not installed (they need a different torch)."
)


def _peak_rss_gb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    raise RuntimeError(f"no VmHWM for process {pid}")


class TreeMemory:
    """Samples the summed resident memory of a process and all its descendants in a thread."""

    def __init__(self, pid: int, interval_s: float = 0.1) -> None:
        self.root, self.interval_s, self.peak_bytes = psutil.Process(pid), interval_s, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            total = 0
            try:
                for process in [self.root, *self.root.children(recursive=True)]:
                    try:
                        total += process.memory_info().rss
                    except psutil.NoSuchProcess:  # a worker that just ended
                        pass
            except psutil.NoSuchProcess:
                return
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_chapter(name: str, kernel_name: str = "python3", detail: bool = False) -> dict[str, float | str | bool]:
    """Execute one chapter in a fresh kernel started outside ``book/``; return its time, peak memory and status.

    With ``detail`` a failed chapter also records the cell that stopped it and the error, and
    ``needs`` names the left-out package when that error is its missing import.
    """
    notebook = jupytext.read(BOOK / f"{name}.md")
    workdir = tempfile.mkdtemp(prefix=f"closp-{name}-")
    client = NotebookClient(notebook, timeout=1800, kernel_name=kernel_name, resources={"metadata": {"path": workdir}})
    start = time.perf_counter()
    status = "ok"
    failure: dict[str, str | int] = {}
    with client.setup_kernel():
        pid = client.km.provisioner.process.pid
        with TreeMemory(pid) as tree:
            try:
                for index, cell in enumerate(notebook.cells):
                    client.execute_cell(cell, index)
            except Exception as err:  # a failing chapter is recorded, not hidden
                status = f"error: {type(err).__name__}"
                failure = _failure(err, index, cell.source)
        kernel_peak = _peak_rss_gb(pid)
    seconds = time.perf_counter() - start
    peak = max(kernel_peak, tree.peak_bytes / 2**30)
    row = {
        "chapter": name,
        "seconds": round(seconds, 1),
        "peak_memory_gb": round(peak, 3),
        "kernel_peak_gb": round(kernel_peak, 3),
        "status": status,
        "within_budget": status == "ok" and seconds <= BUDGET_S and peak <= BUDGET_GB,
        # rows of chapters not re-run are kept from earlier runs: each row says when it was measured
        "measured": dt.datetime.now(dt.UTC).isoformat(timespec="minutes"),
        "load_average": round(os.getloadavg()[0], 1),
    }
    return {**row, **failure} if detail else row


def _failure(err: Exception, index: int, source: str) -> dict[str, str | int]:
    """Describe the cell that stopped a chapter; name the left-out package if it was the cause."""
    ename, evalue = getattr(err, "ename", type(err).__name__), getattr(err, "evalue", str(err))
    failure: dict[str, str | int] = {"failed_cell": index, "error": f"{ename}: {evalue}", "failed_source": source}
    if ename == "ModuleNotFoundError":
        module = evalue.split("'")[1].split(".")[0] if "'" in evalue else ""
        if module in CPU_TORCH_LEFT_OUT:
            failure["needs"] = CPU_TORCH_LEFT_OUT[module]
    return failure


def cpu_torch_kernel() -> dict[str, str | list[str] | None]:
    """Make the kernelspec of ``.venv-cpu-torch`` findable; return the kernel's Python and torch.

    The versions come from the kernel's own interpreter, not from this script's.
    """
    kernels = CPU_TORCH_ENV / "share" / "jupyter"
    spec = kernels / "kernels" / CPU_TORCH_KERNEL / "kernel.json"
    if not spec.exists():
        raise FileNotFoundError(f"no kernelspec {spec}: build the environment with `bash benchmarks/cpu_torch_env.sh`")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(kernels), os.environ.get("JUPYTER_PATH")]))
    python = json.loads(spec.read_text())["argv"][0]
    probe = "import json, platform, torch; print(json.dumps([platform.python_version(), torch.__version__, torch.version.cuda]))"
    version, torch_version, cuda = json.loads(subprocess.run([python, "-c", probe], check=True, capture_output=True, text=True).stdout)
    return {
        "env": "cpu-torch",
        "kernel_name": CPU_TORCH_KERNEL,
        "kernel_python_executable": python,
        "python": version,
        "torch": torch_version,
        "torch_cuda": cuda,
        "not_installed": sorted(CPU_TORCH_LEFT_OUT.values()),
        "why": CPU_TORCH_WHY,
    }


def main() -> None:
    """Parse arguments, run the chapters, write the result file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", default="sample", choices=["tiny", "sample", "full"])
    parser.add_argument("--chapter", nargs="*", help="chapter file stems (default: all in the table of contents)")
    parser.add_argument(
        "--env",
        default="project",
        choices=["project", "cpu-torch"],
        help="project: this venv's python3 kernel (default); cpu-torch: the kernel of .venv-cpu-torch (benchmarks/cpu_torch_env.sh)",
    )
    args = parser.parse_args()
    kernel = cpu_torch_kernel() if args.env == "cpu-torch" else None
    os.environ.update({"CLOSP_LITE_MODE": args.mode, "TQDM_DISABLE": "1", "MPLBACKEND": "Agg"})
    rows = []
    for name in args.chapter or notebook_chapters():
        row = run_chapter(name, CPU_TORCH_KERNEL, detail=True) if kernel else run_chapter(name)
        print(row, flush=True)
        rows.append(row)
    name = ("chapters" if args.mode == "sample" else f"chapters_{args.mode}") + ("_cpu_torch" if kernel else "")
    payload = {
        "mode": args.mode,
        "budget_s": BUDGET_S,
        "budget_gb": BUDGET_GB,
        "peak_memory": "largest summed RSS of the kernel process tree (0.1 s samples), at least the kernel's VmHWM",
        "load_average_at_end": os.getloadavg(),
    } | ({"kernel": kernel} if kernel else {})
    print(write_result(name, payload | {"chapters": _merged(name, rows)}))


def _merged(name: str, rows: list[dict]) -> list[dict]:
    """Keep earlier rows of chapters not re-run this time (``--chapter`` measures a few)."""
    path = RESULTS / f"{name}.json"
    earlier = json.loads(path.read_text())["results"]["chapters"] if path.exists() else []
    fresh = {row["chapter"] for row in rows}
    return sorted([row for row in earlier if row["chapter"] not in fresh] + rows, key=lambda row: row["chapter"])


if __name__ == "__main__":
    main()
