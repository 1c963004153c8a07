"""Tests of verify(): each kind of broken corpus is built here and must be reported with file and key."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from closp_lite.cli import main
from closp_lite.data.format import MASTER, METADATA, Patch
from closp_lite.data.verify import verify


def _messages(root: Path, **kwargs) -> list[tuple[str, str, str]]:
    return verify(root, progress=False, **kwargs).problems


def _edit(root: Path, shard: str, key: str, edit) -> None:
    with h5py.File(root / shard, "r+") as handle:
        edit(handle[key])


def test_clean_corpus(tiny_corpus: tuple[Path, list[Patch]]) -> None:
    root, _ = tiny_corpus
    report = verify(root, progress=False)
    assert report.ok and report.checked == 6 and report.problems == []
    assert report.to_dict()["ok"] is True


def test_missing_master_or_metadata(tiny_corpus: tuple[Path, list[Patch]]) -> None:
    root, _ = tiny_corpus
    (root / MASTER).unlink()
    (problem,) = _messages(root)
    assert problem[0].endswith(MASTER) and "missing" in problem[2]
    (root / METADATA).unlink()
    assert len(_messages(root)) == 2


def test_missing_shard_behind_a_link(tiny_corpus: tuple[Path, list[Patch]]) -> None:
    root, _ = tiny_corpus
    (root / "tinys1.h5").unlink()
    problems = _messages(root)
    assert sorted(key for _, key, _ in problems) == ["s1_0", "s1_1", "s1_2"]
    assert all(file.endswith("tinys1.h5") and "missing" in message for file, _, message in problems)


def test_truncated_shard(tiny_corpus: tuple[Path, list[Patch]]) -> None:
    root, _ = tiny_corpus
    path = root / "tinys2.h5"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    report = verify(root, progress=False, skip_bad=True)
    files = {file for file, _, _ in report.problems}
    assert files == {str(path)} and not report.ok
    assert sorted(report.skipped) == ["s2_0", "s2_1", "s2_2"] and sorted(report.usable) == ["s1_0", "s1_1", "s1_2"]


@pytest.mark.parametrize(
    ("shard", "key", "edit", "expected"),
    [
        ("tinys2.h5", "s2_1", lambda g: (g.__delitem__("image"), g.create_dataset("image", data=np.zeros((3, 120, 120), np.float32))), "3 bands"),
        ("tinys2.h5", "s2_1", lambda g: (g.__delitem__("image"), g.create_dataset("image", data=np.zeros((12, 60, 60), np.float32))), "shape"),
        ("tinys1.h5", "s1_1", lambda g: g["image"].__setitem__(..., np.nan), "all NaN"),
        ("tinys1.h5", "s1_1", lambda g: g.attrs.__delitem__("crs"), "no 'crs' attribute"),
        ("tinys1.h5", "s1_1", lambda g: g.attrs.__setitem__("crs", 99999), "not an EPSG code"),
        ("tinys1.h5", "s1_1", lambda g: g.attrs.__setitem__("crs", "UTM 33N"), "not an EPSG code"),
        ("tinys1.h5", "s1_1", lambda g: (g.__delitem__("image"), g.create_dataset("image", data=np.zeros((12, 120, 120), np.float32))), "metadata says s1"),
    ],
    ids=["band-count", "shape", "nan-only", "missing-attribute", "unknown-crs", "crs-text", "modality-mismatch"],
)
def test_bad_sample_is_named(tiny_corpus: tuple[Path, list[Patch]], shard: str, key: str, edit, expected: str) -> None:
    root, _ = tiny_corpus
    _edit(root, shard, key, edit)
    report = verify(root, progress=False, skip_bad=True)
    assert [(Path(f).name, k) for f, k, _ in report.problems] == [(shard, key)]
    assert expected in report.problems[0][2]
    assert report.skipped == [key] and key not in report.usable and len(report.usable) == 5
    assert report.ok  # in skip mode a bad sample is reported and skipped, the rest is usable
    assert not verify(root, progress=False).ok


def test_metadata_key_not_in_the_files(tiny_corpus: tuple[Path, list[Patch]]) -> None:
    root, _ = tiny_corpus
    table = pd.read_parquet(root / METADATA)
    extra = table.iloc[[0]].assign(key="ghost")
    pd.concat([table, extra]).to_parquet(root / METADATA)
    (problem,) = _messages(root)
    assert problem[0].endswith(MASTER) and problem[1] == "ghost" and "no external link" in problem[2]



def test_data_info_counts(tiny_corpus: tuple[Path, list[Patch]], capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = tiny_corpus
    assert main(["data", "info", str(root), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["samples"] == 6 and info["modality"] == {"s1": 3, "s2": 3} and info["split"] == {"test": 4, "train": 2}
    assert info["labels"]["Water"] == 2 and info["labels"]["Built"] == 1 and info["source"]["tinys1"] == 3


def test_data_verify_exit_codes(tiny_corpus: tuple[Path, list[Patch]], capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = tiny_corpus
    assert main(["data", "verify", str(root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    with h5py.File(root / "tinys1.h5", "r+") as handle:
        del handle["s1_2"].attrs["labels"]
    assert main(["data", "verify", str(root)]) == 1
    out = capsys.readouterr().out
    assert "tinys1.h5 [s1_2]: no 'labels' attribute" in out
    assert main(["data", "verify", str(root), "--skip-bad", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["skipped"] == ["s1_2"]
    assert main(["data", "verify", str(root / "nowhere")]) == 1
