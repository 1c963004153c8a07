"""The book's trained model is cached by settings + corpus and trained again only when needed (closp_lite.book_model)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from closp_lite import book_model
from closp_lite.data.format import CorpusWriter
from closp_lite.models.closp import ModelConfig
from closp_lite.training import TrainConfig, read_log

LABELS = [["Pastures"], ["Water bodies"], ["Coniferous forest"]]


@pytest.fixture
def corpus(tmp_path: Path, make_patch, monkeypatch: pytest.MonkeyPatch) -> Path:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CLOSP_LITE_DATA_DIR", str(tmp_path / "cache"))
    root = tmp_path / "corpus"
    with CorpusWriter(root) as writer:
        for modality in ("s1", "s2"):
            for i in range(14):
                patch = make_patch(f"{modality}_{i}", modality, LABELS[i % 3], seed=i)
                writer.add(patch, shard=f"shard_{modality}", split="train" if i < 12 else "test")
    return root


def _config(root: Path, **kw) -> TrainConfig:  # type: ignore[no-untyped-def]
    return TrainConfig(**{"mode": "tiny", "data": str(root), "epochs": 1, "batch_size": 2, "model": ModelConfig(width=4), **kw}).resolved()


def test_cached_run_trains_once_and_retrains_when_interrupted(corpus: Path, tmp_path: Path) -> None:
    config = _config(corpus)
    folder = book_model.cached_run(config)
    assert folder.parent == tmp_path / "cache" / "models" and (folder / book_model.DONE_FILE).is_file()
    assert len(read_log(folder)) == 1
    # The calibrated modality-gap remedy is fitted on the validation hold-out and loaded with the model.
    from closp_lite.experiments import CALIBRATION_FILE, run_encoders

    calibration = run_encoders(folder).calibration
    assert (folder / CALIBRATION_FILE).is_file() and calibration is not None and set(calibration.weights) == {"s1", "s2"}
    weights = (folder / "model.pt").stat().st_mtime_ns
    seen = []
    assert book_model.cached_run(config, on_epoch=seen.append) == folder
    assert (folder / "model.pt").stat().st_mtime_ns == weights and seen == []  # reused, not trained again
    (folder / book_model.DONE_FILE).unlink()  # as if the training had been killed
    (folder / "stale.txt").write_text("left by an interrupted run")
    assert book_model.cached_run(config, on_epoch=seen.append) == folder
    assert not (folder / "stale.txt").exists() and len(seen) == 1 and (folder / book_model.DONE_FILE).is_file()


def test_run_folder_depends_on_settings_and_corpus(corpus: Path) -> None:
    config = _config(corpus)
    first = book_model.run_folder(config)
    assert book_model.run_folder(_config(corpus)) == first
    assert book_model.run_folder(replace(config, lr=1e-4)) != first
    assert book_model.run_folder(replace(config, seed=7)) != first
    pd.DataFrame({"key": ["s1_0"], "closp": ["pastures"]}).to_parquet(corpus / "captions.parquet")
    assert book_model.run_folder(config) != first  # new captions: a new model
    with pytest.raises(ValueError, match="names no corpus"):
        book_model.run_folder(replace(config, data=None))
    with pytest.raises(FileNotFoundError, match="metadata.parquet"):
        book_model.corpus_fingerprint(corpus / "nowhere")
