"""Benchmark results as the chapters read them, from any working folder (chapters 5-10).

``benchmarks/results/<name>.json`` files hold ``command``, ``machine``, ``date`` and ``results``
(written by ``benchmarks/common.py``). They are found beside the package (a repository checkout).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parents[1] / "benchmarks" / "results"

__all__ = ["RESULTS_DIR", "read_result"]


def read_result(name: str) -> dict[str, Any]:
    """The whole record of ``benchmarks/results/<name>.json`` (chapters 5-10).

    Raises:
        FileNotFoundError: naming the file and the benchmark that writes it.
    """
    path = RESULTS_DIR / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `python benchmarks/{name}.py` from the repository root")
    return dict(json.loads(path.read_text()))
