"""Benchmark results, found from the package wherever a chapter runs (chapter 0).

Chapters quote numbers measured by the scripts in ``benchmarks/``, which write
``benchmarks/results/<name>.{json,csv,md}`` at the repository root. Reading them through
:func:`read_result` instead of a relative path (``../benchmarks/...``) lets a chapter run as a
notebook from any folder: the files are located from this package's own location.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["read_result", "result_path", "results_dir"]


def results_dir() -> Path:
    """The ``benchmarks/results`` folder of the repository this package was installed from (chapter 0)."""
    folder = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no benchmark results at {folder}: closp_lite was not installed from a clone of the repository; "
            "install it with `pip install -e .` from the repository root"
        )
    return folder


def result_path(name: str) -> Path:
    """The path of one result file, ``name`` with its extension, e.g. ``"chapters.json"`` (chapter 0)."""
    path = results_dir() / name
    if not path.is_file():
        known = ", ".join(sorted(p.name for p in results_dir().iterdir() if p.is_file()))
        raise FileNotFoundError(f"no benchmark result {path}; the results are: {known}")
    return path


def read_result(name: str, **read_options: Any) -> Any:
    """Read a benchmark result file by name (chapter 0).

    ``.json`` returns the record (``command``, ``machine``, ``date``, ``results``); ``.csv`` a
    pandas DataFrame (``read_options`` go to :func:`pandas.read_csv`); ``.md`` the text.
    """
    path = result_path(name)
    if path.suffix == ".json":
        return json.loads(path.read_text())
    if path.suffix == ".csv":
        import pandas as pd

        return pd.read_csv(path, **read_options)
    if path.suffix == ".md":
        return path.read_text()
    raise ValueError(f"cannot read {path}: only .json, .csv and .md results exist")
