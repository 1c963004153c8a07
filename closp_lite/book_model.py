"""The book's trained model: trained once (by chapter 5), reused by chapter 6 and the benchmarks (chapter 5).

A run folder is cached under ``data_dir()/models/`` by a hash of the training settings and of the
corpus it is trained on (its ``metadata.parquet`` and ``captions.parquet``), so a change of either
trains a new model and an unchanged pair is never trained twice. A folder is only reused once its
training finished (``book_model.json`` is written last); an interrupted one is trained again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from closp_lite.config import DEFAULT_SEED, data_dir, settings

if TYPE_CHECKING:
    from closp_lite.training import TrainConfig

DONE_FILE = "book_model.json"

__all__ = ["DONE_FILE", "cached_run", "corpus_fingerprint", "default_config", "is_cached", "run_folder"]


def default_config(mode: str | None = None, **overrides: Any) -> TrainConfig:
    """The training settings of the book's model in ``mode``: the library defaults on the simulated corpus (chapter 5).

    ``overrides`` replace fields of :class:`closp_lite.training.TrainConfig` (e.g. ``seed``,
    ``modalities``). The corpus folder is filled in (the corpus of the default seed, whatever the
    training seed), so the config names what it trains on.
    """
    from closp_lite.simulate import sample_corpus
    from closp_lite.training import TrainConfig

    config = replace(TrainConfig(mode=settings(mode).mode), **overrides)
    if config.data is None:
        config = replace(config, data=str(sample_corpus(config.mode, seed=DEFAULT_SEED, progress=False)))
    return config.resolved()


def corpus_fingerprint(root: str | Path) -> str:
    """A short sha256 of a corpus' ``metadata.parquet`` and ``captions.parquet`` (chapter 5).

    Raises:
        FileNotFoundError: if ``root`` holds no ``metadata.parquet``.
    """
    from closp_lite.data.format import CAPTIONS, METADATA

    root = Path(root)
    if not (root / METADATA).is_file():
        raise FileNotFoundError(f"{root} has no {METADATA}: not a CrisisLandMark corpus folder")
    digest = hashlib.sha256()
    for name in (METADATA, CAPTIONS):
        if (root / name).is_file():
            digest.update((root / name).read_bytes())
    return digest.hexdigest()[:16]


def run_folder(config: TrainConfig) -> Path:
    """Where the run of ``config`` (a resolved ``TrainConfig`` with ``data`` set) is cached (chapter 5).

    Raises:
        ValueError: if ``config.data`` is not set (build it with :func:`default_config`).
    """
    if config.data is None:
        raise ValueError("the training config names no corpus folder (data): build it with book_model.default_config()")
    settings_json = json.dumps({k: v for k, v in config.to_dict().items() if k != "data"}, sort_keys=True, default=str)
    key = hashlib.sha256((settings_json + corpus_fingerprint(config.data)).encode()).hexdigest()[:12]
    return data_dir() / "models" / f"{config.mode}-{key}"


def cached_run(
    config: TrainConfig | None = None, on_epoch: Callable[[list[dict[str, float]]], None] | None = None, progress: bool = False
) -> Path:
    """The run folder of ``config`` (default: :func:`default_config`), training it first if it is not cached (chapter 5).

    ``on_epoch`` receives the log rows after every epoch of a fresh training (live curves); a
    cached run is returned at once, and its curves are read from ``log.csv``. The run's
    ``calibration.json`` (the ``calibrate`` remedy of :mod:`closp_lite.fusion`, fitted on the
    validation hold-out) is written after training, so :func:`closp_lite.experiments.run_encoders`
    loads it with the model.
    """
    from closp_lite.training import train

    config = config or default_config()
    folder = run_folder(config)
    if (folder / DONE_FILE).is_file():
        _calibrate(folder, config)  # runs cached before the calibrated remedy existed
        return folder
    if folder.exists():  # an interrupted training: start again rather than trust a partial folder
        shutil.rmtree(folder)
    result = train(config, folder, progress=progress, on_epoch=on_epoch)
    _calibrate(folder, config)
    summary = {"best_epoch": result.best_epoch, "best_val_loss": result.best_val_loss, "steps": result.steps,
               "seconds": round(result.seconds, 1), "config": config.to_dict()}  # fmt: skip
    (folder / DONE_FILE).write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return folder


def _calibrate(folder: Path, config: TrainConfig) -> None:
    """Fit the ``calibrate`` remedy of a trained run on its validation hold-out, once (chapter 6)."""
    from closp_lite.experiments import CALIBRATION_FILE, run_encoders, validation_calibration

    if not (folder / CALIBRATION_FILE).is_file():
        calibration = validation_calibration(run_encoders(folder), config.data or "", config.seed)
        (folder / CALIBRATION_FILE).write_text(json.dumps(calibration.to_dict(), indent=2) + "\n")


def is_cached(config: TrainConfig | None = None) -> bool:
    """Whether the run of ``config`` (default: :func:`default_config`) is trained and cached (chapter 5)."""
    return (run_folder(config or default_config()) / DONE_FILE).is_file()
