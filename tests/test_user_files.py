"""No command deletes or replaces a file it did not create (simulated corpora)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from closp_lite.cli import main
from closp_lite.data import format as fmt
from closp_lite.data.format import METADATA, STAGING, CrisisLandMark
from closp_lite.simulate.corpus import generate_corpus


def _user_files(folder: Path) -> None:
    (folder / "t").mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text("my notes")
    (folder / "t" / "r.csv").write_text("a,b\n1,2\n")


def _still_there(folder: Path) -> None:
    assert (folder / "notes.txt").read_text() == "my notes" and (folder / "t" / "r.csv").read_text() == "a,b\n1,2\n"


def test_data_samples_keeps_the_users_files_and_needs_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "samples"
    _user_files(out)
    assert main(["data", "samples", "--out", str(out), "--json"]) == 0
    _still_there(out)
    capsys.readouterr()
    assert main(["data", "samples", "--out", str(out)]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main(["data", "samples", "--out", str(out), "--overwrite", "--json"]) == 0
    _still_there(out)
    assert not (out / STAGING).exists()


def test_data_examples_refuses_to_replace_another_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generate_corpus(tmp_path / "c", 2, 2, progress=False)
    keys = CrisisLandMark(tmp_path / "c").keys()
    assert main(["data", "examples", "--out", str(tmp_path / "c")]) == 1
    assert "already holds a corpus" in capsys.readouterr().err
    assert CrisisLandMark(tmp_path / "c").keys() == keys


def test_simulate_overwrite_keeps_other_files_and_replaces_only_its_corpus(tmp_path: Path) -> None:
    root = tmp_path / "c"
    generate_corpus(root, 3, 3, seed=1, progress=False)
    _user_files(root)
    with pytest.raises(FileExistsError, match="overwrite"):
        generate_corpus(root, 2, 2, seed=2, progress=False)
    generate_corpus(root, 2, 2, seed=2, overwrite=True, progress=False)
    _still_there(root)
    assert len(CrisisLandMark(root)) == 4 and sorted(os.listdir(root)) == sorted(
        ["notes.txt", "t", *fmt.corpus_files(root)]
    )


def test_a_kill_at_any_rename_of_the_swap_leaves_the_old_or_the_new_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_replace = os.replace
    calls = {"n": 0, "kill_at": 0}

    def replace(src: object, dst: object) -> None:
        calls["n"] += 1
        if calls["n"] == calls["kill_at"]:
            raise KeyboardInterrupt("killed")  # the process dies here
        real_replace(src, dst)

    monkeypatch.setattr(fmt.os, "replace", replace)
    generate_corpus(tmp_path / "count", 2, 3, seed=2, progress=False)
    renames = calls["n"]
    assert renames >= 4  # journal, shards, master, metadata
    for kill_at in range(1, renames + 1):
        root = tmp_path / f"c{kill_at}"
        calls.update(n=0, kill_at=0)
        generate_corpus(root, 3, 3, seed=1, progress=False)
        old_keys = set(CrisisLandMark(root).keys())
        calls.update(n=0, kill_at=kill_at)
        with pytest.raises(KeyboardInterrupt):
            generate_corpus(root, 2, 3, seed=2, overwrite=True, progress=False)
        calls["kill_at"] = 0
        keys = set(CrisisLandMark(root).keys())  # the reader finishes a swap whose new corpus was complete
        assert keys == old_keys or len(keys) == 5, kill_at
        fmt.finish_swap(root)  # what the next writer does first
        assert set(CrisisLandMark(root).keys()) == keys
        assert not (root / STAGING).exists() and not list(root.glob("*.part")) and not (root / fmt.SWAP_JOURNAL).exists()
        assert set(pd.read_parquet(root / METADATA)["key"]) == keys


def test_queries_build_refuses_to_replace_a_query_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generate_corpus(tmp_path / "c", 4, 4, progress=False)
    assert main(["queries", "build", str(tmp_path / "c"), "--out", str(tmp_path / "q"), "--json"]) == 0
    (tmp_path / "q" / "queries.jsonl").write_text('{"id": "mine", "text": "my query"}\n')
    capsys.readouterr()
    assert main(["queries", "build", str(tmp_path / "c"), "--out", str(tmp_path / "q")]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "q" / "queries.jsonl").read_text() == '{"id": "mine", "text": "my query"}\n'
    assert main(["queries", "build", str(tmp_path / "c"), "--out", str(tmp_path / "q"), "--overwrite", "--json"]) == 0


def test_evaluate_refuses_judgements_of_another_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "c"
    generate_corpus(root, 6, 6, seed=1, progress=False)
    assert main(["queries", "build", str(root), "--out", str(root), "--json"]) == 0
    generate_corpus(root, 4, 4, seed=3, overwrite=True, progress=False)  # re-simulated: fewer keys
    capsys.readouterr()
    assert main(["evaluate", "untrained", "--data", str(root)]) == 1
    err = capsys.readouterr().err
    assert "stale" in err and "--overwrite" in err and "Traceback" not in err


@pytest.mark.parametrize("args", [["--n-s1", "0", "--n-s2", "0"], ["--n-s1", "2", "--n-s2", "2", "--cloud-rate", "5"]])
def test_simulate_refuses_impossible_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    assert main(["simulate", *args, "--out", str(tmp_path / "c")]) == 1
    assert capsys.readouterr().err.startswith("closp-lite: error:") and not (tmp_path / "c" / METADATA).exists()


def test_stale_judgements_name_missing_keys_and_changed_labels() -> None:
    from closp_lite.queries import stale_judgements

    queries = [{"id": "q1", "text": "water", "labels": ["Water"]}, {"id": "q2", "text": "free text"}]
    qrels = {"q1": {"a": 1, "b": 1, "gone": 1}, "q2": {"c": 1}}
    labels = {"a": ["Water"], "b": ["Crops"], "c": ["Trees"]}
    assert stale_judgements(queries, qrels, labels) == {"missing": ["gone"], "changed": ["b"]}
    assert stale_judgements(queries, {"q1": {"a": 2}}, labels) == {"missing": [], "changed": []}
