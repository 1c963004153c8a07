"""The main job runs end to end in tiny mode and the trained model is the one that is searched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from closp_lite.cli import main


@pytest.mark.slow
def test_tour_runs_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("CLOSP_LITE_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "outputs"
    assert main(["tour", "--mode", "tiny", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["mode"] == "tiny"
    for path in summary["outputs"].values():
        assert Path(path).exists(), path
    assert (out / "run" / "model.pt").is_file() and (out / "search.png").stat().st_size > 10_000
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert set(evaluation) == {"untrained", "closp-lite"}
    for by_corpus in evaluation.values():
        assert set(by_corpus) == {"s1", "s2", "mixed"}
    # The trained model must rank better than the untrained reference, on average over the corpora.
    mean = {name: sum(m["ndcg@1000"] for m in by.values()) / 3 for name, by in evaluation.items()}
    assert mean["closp-lite"] > mean["untrained"], mean
    hits = json.loads((out / "search.json").read_text())
    assert len(hits) == 12 and [h["rank"] for h in hits] == list(range(1, 13))
    assert hits == sorted(hits, key=lambda h: -h["score"])
