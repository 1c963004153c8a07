"""Execute every chapter of the book from a fresh kernel and record its wall time and the peak
memory of the kernel's whole process tree, in the default ``sample`` mode unless ``--mode`` says
otherwise. Each row also says what a reader needs to trust the time: the CPU seconds of the
kernel's process tree (a time far above them was spent waiting for a busy machine), the 1-minute
load average at its start and end, the kernel's torch thread count, and which heavy packages
(torch, torchvision, torchgeo, open_clip, timm) the kernel's environment can import, which tells
the two environments apart.

    .venv/bin/python benchmarks/chapters.py [--mode sample] [--env cpu-torch] [--chapter 00-tour ...]

Writes ``benchmarks/results/chapters.json`` (or ``chapters_<mode>.json`` for other modes).
The budget a chapter must meet on Binder: <= 180 s and <= 2 GB. Binder limits the memory of the
whole session, so the peak is the largest *sum* of resident memory over the kernel and every
process it started (data-loader workers, corpus simulation processes), sampled every 0.1 s, and
never less than the kernel's own high-water mark (VmHWM). Chapters run in a temporary folder
outside ``book/``, as a notebook a student downloaded would.

``--env cpu-torch`` runs the chapters in the kernel of ``.venv-cpu-torch/`` (built by
``benchmarks/cpu_torch_env.sh``: Python 3.11, CPU-only torch as on Binder; torchvision, torchgeo
and open_clip only if a CPU torchvision wheel was at hand) and writes ``chapters_cpu_torch.json``
with the kernel's Python and torch, and for a failed chapter the cell and error that stopped it.
A chapter that imports a package the environment lacks (``benchmarks/chapter_needs.py``), or
stops on its import, is recorded as ``skipped: needs torchvision (no CPU wheel)``, not as failed.
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
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import jupytext
import nbformat
import psutil
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chapter_needs import chapter_code, code_needs, library_needs
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
HEAVY_PACKAGES = {"torch": "torch", "torchvision": "torchvision", "torchgeo": "torchgeo", "open_clip": "open_clip_torch", "timm": "timm"}
CPU_TORCH_WHY = (
    "CPU-only torch, as on Binder (environment.yml installs conda-forge pytorch-cpu): the project venv's "
    "PyPI torch is the CUDA build, whose import alone takes more resident memory. Python and torch "
    "versions are the kernel's (the only CPU-only torch wheel at hand is for Python 3.11), not the project's "
    "3.12 / requirements.lock; machine.python and machine.torch describe this script's own interpreter. "
    "torchvision, torchgeo and open_clip_torch (with its timm) are installed only from a CPU torchvision wheel "
    "(PyPI's torchvision for this torch is the CUDA build); not_installed lists what the kernel cannot import."
)
# Run in the kernel's own interpreter: a package counts only if it imports there (a CUDA
# torchvision beside a CPU torch is installed but fails to import).
PACKAGES_PROBE = """
import importlib, json, sys
found = {}
for module in sys.argv[1:]:
    try:
        found[module] = str(getattr(importlib.import_module(module), "__version__", "?"))
    except Exception:
        found[module] = None
print(json.dumps(found))
"""
# Run in the kernel after the chapter: the threads torch used, without importing it if the chapter did not.
THREADS_PROBE = "import sys as _s; print('torch_threads', _s.modules['torch'].get_num_threads() if 'torch' in _s.modules else None)"


def _peak_rss_gb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    raise RuntimeError(f"no VmHWM for process {pid}")


class TreeMemory:
    """Samples the summed resident memory of a process and all its descendants in a thread, and
    the CPU seconds each descendant was last seen with."""

    def __init__(self, pid: int, interval_s: float = 0.1) -> None:
        self.root, self.interval_s, self.peak_bytes = psutil.Process(pid), interval_s, 0
        self.cpu_seen: dict[tuple[int, float], float] = {}  # (pid, create time) -> user + system seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            total = 0
            try:
                for process in [self.root, *self.root.children(recursive=True)]:
                    try:
                        total += process.memory_info().rss
                        times = process.cpu_times()
                        self.cpu_seen[(process.pid, process.create_time())] = times.user + times.system
                    except psutil.NoSuchProcess:  # a worker that just ended
                        pass
            except psutil.NoSuchProcess:
                return
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(self.interval_s)

    def cpu_seconds(self) -> float:
        """CPU seconds of the tree so far; call while the root process is alive (see :func:`tree_cpu_seconds`)."""
        live = []
        for process in [self.root, *self.root.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            live.append((times.user, times.system, times.children_user, times.children_system))
        return tree_cpu_seconds(live, self.cpu_seen.values())

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def tree_cpu_seconds(live: Iterable[tuple[float, float, float, float]], seen: Iterable[float] = ()) -> float:
    """CPU seconds of a process tree (chapter cost benchmark).

    ``live``: (user, system, children_user, children_system) of each process alive at the end;
    the children's part holds every descendant that ended and was waited for. ``seen``: the last
    user + system seen of every process sampled while it ran, which also holds descendants that
    ended unwaited (up to one sampling interval short). Both undercount in different ways, so the
    larger is the better estimate.
    """
    return round(max(sum(sum(times) for times in live), sum(seen)), 1)


def build_row(
    name: str,
    *,
    seconds: float,
    peak_gb: float,
    kernel_peak_gb: float,
    status: str,
    cpu_seconds: float | None,
    load_start: float,
    load_end: float,
    torch_threads: int | None,
    packages: Iterable[str],
    measured: str,
    failure: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One row of ``chapters*.json`` (chapter cost benchmark): time, memory and what qualifies them.

    ``within_budget`` is None for a skipped chapter (not measured), else whether it ran and met
    :data:`BUDGET_S` and :data:`BUDGET_GB`. ``failure`` (the cell and error that stopped it) is
    merged in.
    """
    skipped = status.startswith("skipped")
    row: dict[str, Any] = {
        "chapter": name,
        "seconds": round(seconds, 1),
        "peak_memory_gb": round(peak_gb, 3),
        "kernel_peak_gb": round(kernel_peak_gb, 3),
        "status": status,
        "within_budget": None if skipped else (status == "ok" and seconds <= BUDGET_S and peak_gb <= BUDGET_GB),
        # CPU far below wall time means the kernel waited: for the machine (see the load) or for I/O
        "cpu_seconds": cpu_seconds,
        "load_average_start": round(load_start, 1),
        "load_average_end": round(load_end, 1),
        "torch_threads": torch_threads,
        "packages": sorted(packages),
        # rows of chapters not re-run are kept from earlier runs: each row says when it was measured
        "measured": measured,
    }
    return {**row, **(failure or {})}


def skip_status(needed: Iterable[str], missing: Iterable[str]) -> str | None:
    """``skipped: ...`` if a needed package is missing from the kernel's environment, else None (chapter cost benchmark).

    torchgeo, open_clip and timm all import torchvision, and the only reason the Binder-like
    environment lacks them is that no CPU torchvision wheel was at hand, so the status says that.
    """
    lacking = sorted(set(needed) & set(missing))
    if not lacking:
        return None
    if "torchvision" in set(missing):
        return "skipped: needs torchvision (no CPU wheel)"
    return f"skipped: needs {', '.join(HEAVY_PACKAGES.get(m, m) for m in lacking)} (not installed)"


def skipped_row(name: str, direct: Sequence[str], missing: Iterable[str], present: Iterable[str]) -> dict[str, Any] | None:
    """The row of a chapter not run because its own code imports ``direct`` modules its
    environment lacks, or None if it can run (chapter cost benchmark)."""
    status = skip_status(direct, missing)
    if status is None:
        return None
    load = os.getloadavg()[0]
    lacking = [HEAVY_PACKAGES.get(module, module) for module in direct if module in set(missing)]
    return build_row(
        name,
        seconds=0.0,
        peak_gb=0.0,
        kernel_peak_gb=0.0,
        status=status,
        cpu_seconds=None,
        load_start=load,
        load_end=load,
        torch_threads=None,
        packages=present,
        measured=dt.datetime.now(dt.UTC).isoformat(timespec="minutes"),
        failure={"needs": ", ".join(lacking)},
    )


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What the rows add up to (chapter cost benchmark): counts by outcome, chapters over budget,
    total wall and CPU seconds of the chapters that ran, the load range, and the package sets seen
    (one set per environment measured; rows from before these were recorded count as unknown)."""
    ran = [row for row in rows if row.get("status") == "ok"]
    loads = [row[key] for row in rows for key in ("load_average_start", "load_average_end", "load_average") if row.get(key) is not None]
    with_cpu = [row for row in ran if row.get("cpu_seconds") is not None]
    return {
        "chapters": len(rows),
        "ok": len(ran),
        "skipped": sorted(row["chapter"] for row in rows if str(row.get("status", "")).startswith("skipped")),
        "failed": sorted(row["chapter"] for row in rows if str(row.get("status", "")).startswith("error")),
        "over_budget": sorted(row["chapter"] for row in ran if row.get("within_budget") is False),
        "seconds_ok": round(sum(row["seconds"] for row in ran), 1),
        "cpu_seconds_ok": round(sum(row["cpu_seconds"] for row in with_cpu), 1) if with_cpu else None,
        "rows_without_cpu_seconds": sorted(row["chapter"] for row in rows if row.get("cpu_seconds") is None),
        "load_average_range": [min(loads), max(loads)] if loads else None,
        "package_sets": sorted({", ".join(row["packages"]) if "packages" in row else "unknown" for row in rows}),
    }


def importable_packages(python: str = sys.executable) -> dict[str, str | None]:
    """Module -> version of each heavy package the interpreter ``python`` can import, None if it cannot (chapter cost benchmark)."""
    result = subprocess.run([python, "-c", PACKAGES_PROBE, *HEAVY_PACKAGES], check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _kernel_torch_threads(client: NotebookClient) -> int | None:
    """The kernel's torch thread count after the chapter, or None if it never imported torch."""
    cell = nbformat.v4.new_code_cell(THREADS_PROBE)
    client.nb.cells.append(cell)  # nbclient stores the executed cell at its index in the notebook
    try:
        client.execute_cell(cell, len(client.nb.cells) - 1)
    except Exception:  # a dead kernel: nothing to ask
        return None
    finally:
        client.nb.cells.pop()
    text = "".join(out.get("text", "") for out in cell.outputs if out.get("output_type") == "stream")
    value = text.split("torch_threads", 1)[-1].strip()
    return int(value) if value.isdigit() else None


def run_chapter(name: str, kernel_name: str = "python3", detail: bool = False, packages: Iterable[str] = ()) -> dict[str, Any]:
    """Execute one chapter in a fresh kernel started outside ``book/``; return its row (see :func:`build_row`).

    With ``detail`` a failed chapter also records the cell that stopped it and the error, and
    ``needs`` names the left-out package when that error is its missing import. ``packages``
    are the heavy packages the kernel's environment can import.
    """
    notebook = jupytext.read(BOOK / f"{name}.md")
    workdir = tempfile.mkdtemp(prefix=f"closp-{name}-")
    client = NotebookClient(notebook, timeout=1800, kernel_name=kernel_name, resources={"metadata": {"path": workdir}})
    load_start = os.getloadavg()[0]
    start = time.perf_counter()
    status = "ok"
    failure: dict[str, str | int] = {}
    index = 0
    with client.setup_kernel():
        pid = client.km.provisioner.process.pid
        with TreeMemory(pid) as tree:
            try:
                for index, cell in enumerate(notebook.cells):
                    client.execute_cell(cell, index)
            except Exception as err:  # a failing chapter is recorded, not hidden
                status = f"error: {type(err).__name__}"
                failure = _failure(err, index, cell.source)
            cpu_seconds = tree.cpu_seconds()
        kernel_peak = _peak_rss_gb(pid)  # before the probe, which must not count
        torch_threads = _kernel_torch_threads(client)
    seconds = time.perf_counter() - start
    return build_row(
        name,
        seconds=seconds,
        peak_gb=max(kernel_peak, tree.peak_bytes / 2**30),
        kernel_peak_gb=kernel_peak,
        status=status,
        cpu_seconds=cpu_seconds,
        load_start=load_start,
        load_end=os.getloadavg()[0],
        torch_threads=torch_threads,
        packages=packages,
        measured=dt.datetime.now(dt.UTC).isoformat(timespec="minutes"),
        failure=failure if detail else None,
    )


def _failure(err: Exception, index: int, source: str) -> dict[str, str | int]:
    """Describe the cell that stopped a chapter; name the left-out package if it was the cause."""
    ename, evalue = getattr(err, "ename", type(err).__name__), getattr(err, "evalue", str(err))
    failure: dict[str, str | int] = {"failed_cell": index, "error": f"{ename}: {evalue}", "failed_source": source}
    if ename == "ModuleNotFoundError":
        module = evalue.split("'")[1].split(".")[0] if "'" in evalue else ""
        if module in HEAVY_PACKAGES:
            failure["needs"] = HEAVY_PACKAGES[module]
    return failure


def cpu_torch_kernel() -> dict[str, Any]:
    """Make the kernelspec of ``.venv-cpu-torch`` findable; return the kernel's Python, torch and heavy packages.

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
    packages = importable_packages(python)
    return {
        "env": "cpu-torch",
        "kernel_name": CPU_TORCH_KERNEL,
        "kernel_python_executable": python,
        "python": version,
        "torch": torch_version,
        "torch_cuda": cuda,
        "packages": packages,
        "not_installed": sorted(HEAVY_PACKAGES[m] for m, v in packages.items() if v is None),
        "why": CPU_TORCH_WHY,
    }


def project_kernel() -> dict[str, Any]:
    """The project environment's kernel (this interpreter, as nbclient's ``python3`` kernel is): its heavy packages."""
    return {"env": "project", "kernel_name": "python3", "kernel_python_executable": sys.executable, "packages": importable_packages()}


def reclassify(row: dict[str, Any], missing: Iterable[str]) -> dict[str, Any]:
    """A row whose chapter stopped on importing a package its environment lacks becomes ``skipped``
    (chapter cost benchmark): it did not fail, it cannot run there; its time and memory are
    those of the cells before the import, so it is no longer within (or over) budget."""
    by_package = {package: module for module, package in HEAVY_PACKAGES.items()}
    needs = row.get("needs")
    status = skip_status([by_package.get(needs, needs)], missing) if needs and str(row.get("status")).startswith("error") else None
    return row | {"status": status, "within_budget": None} if status else row


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
    cpu_torch = args.env == "cpu-torch"
    kernel = cpu_torch_kernel() if cpu_torch else project_kernel()
    present = sorted(module for module, version in kernel["packages"].items() if version is not None)
    missing = sorted(set(HEAVY_PACKAGES) - set(present))
    library = library_needs()
    os.environ.update({"CLOSP_LITE_MODE": args.mode, "TQDM_DISABLE": "1", "MPLBACKEND": "Agg"})
    rows = []
    for name in args.chapter or notebook_chapters():
        # a chapter that imports a missing package itself cannot run: record it without starting a kernel
        row = skipped_row(name, code_needs(chapter_code(name), library)["direct"], missing, present)
        if row is None and cpu_torch:
            row = reclassify(run_chapter(name, CPU_TORCH_KERNEL, detail=True, packages=present), missing)
        elif row is None:
            row = run_chapter(name, packages=present)
        print(row, flush=True)
        rows.append(row)
    name = ("chapters" if args.mode == "sample" else f"chapters_{args.mode}") + ("_cpu_torch" if cpu_torch else "")
    chapters = _merged(name, rows)
    payload = {
        "mode": args.mode,
        "budget_s": BUDGET_S,
        "budget_gb": BUDGET_GB,
        "peak_memory": "largest summed RSS of the kernel process tree (0.1 s samples), at least the kernel's VmHWM",
        "cpu_seconds": "user + system seconds of the kernel process tree, children included, from kernel start to the last cell",
        "load_average_at_end": os.getloadavg(),
        "kernel": kernel,
        "summary": summarize(chapters),
    }
    print(write_result(name, payload | {"chapters": chapters}))


def _merged(name: str, rows: list[dict]) -> list[dict]:
    """Keep earlier rows of chapters not re-run this time (``--chapter`` measures a few)."""
    path = RESULTS / f"{name}.json"
    earlier = json.loads(path.read_text())["results"]["chapters"] if path.exists() else []
    fresh = {row["chapter"] for row in rows}
    return sorted([row for row in earlier if row["chapter"] not in fresh] + rows, key=lambda row: row["chapter"])


if __name__ == "__main__":
    main()
