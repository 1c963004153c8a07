"""Shared helpers for the benchmark scripts: every result file records the command, the machine
and the date beside the numbers, so the book can quote it honestly.

Usage inside a benchmark script::

    from common import write_result
    write_result("training_speed", {"samples_per_s": 123.4})
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """Describe this machine: CPU model and count, memory, OS, Python and torch versions."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
        memory_gib = round(kib / 2**20, 1)
    info: dict[str, Any] = {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "memory_gib": memory_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:  # pragma: no cover
        pass
    return info


def write_result(name: str, payload: dict[str, Any]) -> Path:
    """Write ``results/<name>.json`` with the command, machine and date added; return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = {
        "command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "results": payload,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2, default=str) + "\n")
    return path


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (timings on a shared machine are upper bounds when it is high)."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def corpus_queries(root: Path) -> tuple[list[dict[str, Any]], dict[str, dict[str, int]]]:
    """The library's query set and graded qrels of the corpus in ``root`` (built into a temporary folder)."""
    import tempfile

    from closp_lite.experiments import load_queries
    from closp_lite.queries import build_queries

    folder = Path(tempfile.mkdtemp(prefix="closp-queries-"))
    build_queries(root, folder)
    return load_queries(folder)
