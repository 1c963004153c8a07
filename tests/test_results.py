"""Benchmark results are found from the package, whatever the working folder (issue 15)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from closp_lite.results import read_result, result_path


def test_reads_json_csv_and_markdown_from_any_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a chapter converted to a notebook and run elsewhere
    assert "results" in read_result("chapters.json")
    assert isinstance(read_result("caption_audit.csv"), pd.DataFrame)
    assert read_result("calibration.md").strip()
    assert os.getcwd() == str(tmp_path)


def test_unknown_result_names_the_known_ones() -> None:
    with pytest.raises(FileNotFoundError, match="chapters.json"):
        result_path("no_such_result.json")
