"""Staged fine-tuning of the heads that talk about SAR: captioner and VQA model (chapter 9).

SAR-TEXT trains its captioner and its question-answering model *progressively*: natural images,
then optical remote sensing, then SAR. This module holds what both heads share:

* **schedules** (:data:`SCHEDULES`), the stages of chapter 8's transfer schedules
  (:data:`SCHEDULE_STAGES`, :mod:`closp_lite.transfer`): ``sar`` (the S1 tower from scratch, SAR
  data only), ``direct`` (natural -> SAR: the ImageNet EfficientNet-Lite0 tower of
  :mod:`closp_lite.models.efficientnet`, stem extended to VV/VH, then SAR) and ``progressive``
  (natural -> optical -> SAR: the ImageNet tower with a 13-band stem learns S2 data first; its
  weights are then carried into the S1 tower, see :func:`transplant`, and the language side -
  decoder or answer classifier - carries on as it is). Every schedule uses the same tower
  architecture (:data:`HEAD_ARCH`), so the schedules differ only in where training starts;
* **splits** (:func:`task_splits`): a patch the retrieval model trained on never lands in the test
  split, so a tower taken from a CLOSP run (``--init``) has not seen the test images;
* **run folders** (:class:`RunFolder`): ``config.json``, ``model.pt``, ``log.json`` and a checkpoint
  after every epoch, so an interrupted run resumes where it stopped (:func:`train_stages`).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypeVar

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from closp_lite.config import DEFAULT_SEED, head_settings
from closp_lite.models.image import IMAGENET, Arch, ImageTower, init_from

SCHEDULE_STAGES: dict[str, str] = {"sar": "sar", "direct": "natural,sar", "progressive": "natural,optical,sar"}
"""Head schedule -> its stages, as :data:`closp_lite.transfer.SCHEDULES` names them (chapters 8 and 9)."""
SCHEDULES: tuple[str, ...] = tuple(SCHEDULE_STAGES)
HEAD_ARCH: Arch = "efficientnet_lite0"
"""Image tower of the heads: the one architecture with a natural-image (ImageNet) start offline."""
TASK_STYLES: dict[str, str] = {"s1": "sar-rewrite", "s2": "segmentation"}
"""Caption style each modality learns: rewritten radar descriptions for S1, class-map captions for S2."""

HELD_OUT: dict[str, float] = {"val": 0.1, "test": 0.4}
"""Shares of the corpus ``test`` split that become validation and test patches; the rest trains."""

CONFIG_FILE, WEIGHTS_FILE, STATE_FILE, LOG_FILE = "config.json", "model.pt", "checkpoint.pt", "log.json"


def _stages(schedule: str) -> tuple[str, ...]:
    from closp_lite.transfer import parse_schedule

    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}: choose one of {', '.join(SCHEDULES)}")
    return parse_schedule(SCHEDULE_STAGES[schedule])


def schedule_modalities(schedule: str) -> list[str]:
    """Return the modality of each trained stage of a schedule (chapter 9): SAR last, optical first when progressive."""
    from closp_lite.transfer import STAGE_MODALITY

    return [STAGE_MODALITY[stage] for stage in _stages(schedule) if stage != "natural"]


def schedule_start(schedule: str, init: str | Path | None = None) -> str | Path | None:
    """Weights the first trained tower of ``schedule`` starts from: ``init``, else ImageNet after a natural stage (chapter 9).

    ``None`` means random weights (the ``sar`` schedule).

    Raises:
        ValueError: for ``init`` with the ``sar`` schedule, which trains from scratch by definition.
    """
    natural = _stages(schedule)[0] == "natural"
    if init is not None and not natural:
        raise ValueError(f"the {schedule!r} schedule trains its tower from scratch: drop --init or choose direct / progressive")
    return init if init is not None else IMAGENET if natural else None


def task_splits(metadata: pd.DataFrame, seed: int = DEFAULT_SEED) -> pd.Series:
    """Return ``train``/``val``/``test`` per key (chapter 9).

    Corpus ``train`` patches (which a CLOSP retrieval run may have trained on) always train; corpus
    ``test`` patches are hashed with the seed into train, validation and test by :data:`HELD_OUT`.
    """
    splits = []
    for key, split in zip(metadata["key"], metadata["split"], strict=True):
        u = zlib.crc32(f"{seed}:{key}".encode()) / 2**32
        held = "test" if u < HELD_OUT["test"] else "val" if u < HELD_OUT["test"] + HELD_OUT["val"] else "train"
        splits.append("train" if split == "train" else held)
    return pd.Series(splits, index=metadata["key"].to_numpy(), name="task_split")


def task_keys(root: str | Path, modality: str, split: str, mode: str | None = None, seed: int = DEFAULT_SEED) -> list[str]:
    """Keys of one modality and task split, capped by the mode's ``patches`` per modality (chapter 9)."""
    from closp_lite.data.format import CrisisLandMark

    with CrisisLandMark(root) as corpus:
        meta = corpus.metadata
    meta = meta[meta["modality"] == modality]
    cap = head_settings(mode).patches
    if cap is not None and len(meta) > cap:
        meta = meta.sample(cap, random_state=seed).sort_index()
    splits = task_splits(meta, seed)
    keys = [key for key in meta["key"] if splits[key] == split]
    if not keys:
        raise ValueError(f"{root}: no {modality} patch falls in the {split!r} split: the corpus is too small")
    return keys


def load_images(root: str | Path, keys: Sequence[str], size: int, progress: bool = True) -> torch.Tensor:
    """Read patches as model inputs average-pooled to ``size`` x ``size``: (N, C, size, size) float32 (chapter 9)."""
    from closp_lite.data.bands import to_model_input
    from closp_lite.data.format import CrisisLandMark

    images = []
    with CrisisLandMark(root) as corpus:
        for key in tqdm(keys, desc="reading patches", unit="patch", disable=not progress):
            patch = corpus.read(key)
            image = torch.from_numpy(to_model_input(patch.image, patch.modality)).unsqueeze(0)
            images.append(nn.functional.adaptive_avg_pool2d(image, size))
    return torch.cat(images)


def task_captions(root: str | Path) -> pd.Series:
    """Caption of each key in its modality's :data:`TASK_STYLES` style, building missing styles once (chapter 9)."""
    from closp_lite.captions import build_captions
    from closp_lite.data.format import CrisisLandMark, read_captions

    table = read_captions(root)
    if table is None or not set(TASK_STYLES.values()) <= set(table.columns):
        table = build_captions(root, styles=sorted(set(TASK_STYLES.values())), progress=False)
    with CrisisLandMark(root) as corpus:
        modality = corpus.metadata.set_index("key")["modality"]
    style = modality.reindex(table["key"]).map(TASK_STYLES).to_numpy()
    texts = [row[s] for row, s in zip(table.to_dict("records"), style, strict=True)]
    return pd.Series(texts, index=table["key"].to_numpy(), name="caption")


# ---------------------------------------------------------------- towers


def init_tower(tower: ImageTower, source: str | Path, modality: str = "s1") -> None:
    """Initialise a tower from a CLOSP run folder's ``modality`` tower, ``"imagenet"``, a state-dict file or a torchgeo enum name (chapter 9).

    Raises:
        ValueError: if the run's tower has another architecture or width.
    """
    folder = Path(source)
    if (folder / "config.json").is_file() and (folder / "model.pt").is_file():
        from closp_lite.models.closp import CLOSP

        pretrained = CLOSP.load(folder).towers[modality]
        if pretrained.config != tower.config:
            raise ValueError(f"{folder}: its {modality} tower is {pretrained.config}, the head needs {tower.config}")
        tower.load_state_dict(pretrained.state_dict())
        return
    init_from(tower, source)


def transplant(source: nn.Module, target: nn.Module) -> int:
    """Copy every same-named tensor from ``source`` into ``target``; return how many were copied (chapter 9).

    The first convolution (13 S2 bands in, 2 S1 channels in) is handed over by chapter 8's rule,
    :func:`closp_lite.models.efficientnet.optical_stem_to_sar`; normalisation statistics stay the
    target's own; other tensors of different shapes are skipped.
    """
    from closp_lite.data.bands import N_MODEL_CHANNELS
    from closp_lite.models.efficientnet import optical_stem_to_sar

    own = target.state_dict()
    copied = 0
    channels = (N_MODEL_CHANNELS["s2"], N_MODEL_CHANNELS["s1"])
    for name, value in source.state_dict().items():
        if name not in own or name.startswith("normalize."):
            continue
        if own[name].shape == value.shape:
            own[name] = value.clone()
        elif value.ndim == 4 and (value.shape[1], own[name].shape[1]) == channels and value.shape[0] == own[name].shape[0]:
            own[name] = optical_stem_to_sar(value)
        else:
            continue
        copied += 1
    target.load_state_dict(own)
    return copied


# ---------------------------------------------------------------- run folders and the staged loop


class RunFolder:
    """A head's run folder: ``config.json`` written once, ``model.pt``, ``log.json``, a per-epoch ``checkpoint.pt`` (chapter 9).

    Use it as a context manager: it holds the lock of :class:`closp_lite.runfolder.RunFolder`
    (which refuses an existing run without ``resume``/``overwrite`` and a folder another process
    writes) and, on ``resume``, refuses settings that differ from the saved ones.
    """

    def __init__(self, path: str | Path, config: dict[str, Any], resume: bool = False, overwrite: bool = False) -> None:
        from closp_lite.runfolder import RunFolder as Guard

        self.path = Path(path)
        self.config = config
        self.resume = resume
        self.guard = Guard(path, resume=resume, overwrite=overwrite)

    def __enter__(self) -> Self:
        from closp_lite.runfolder import check_same_settings

        self.guard.__enter__()
        try:
            stored = self.path / CONFIG_FILE
            if self.resume:
                check_same_settings(stored, self.config)
            else:
                stored.write_text(json.dumps(self.config, indent=2, sort_keys=True) + "\n")
        except BaseException as err:
            self.guard.__exit__(type(err), err, None)
            raise
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.guard.__exit__(exc_type, *exc)

    def state(self) -> dict[str, Any] | None:
        """The last checkpoint, or ``None`` for a fresh run."""
        from closp_lite.runfolder import load_torch_file

        path = self.path / STATE_FILE
        return load_torch_file(path, "checkpoint", "start again with --overwrite") if path.is_file() else None

    def checkpoint(self, state: dict[str, Any]) -> None:
        """Write the checkpoint atomically."""
        from closp_lite.models.closp import atomic_save

        atomic_save(state, self.path / STATE_FILE)

    def finish(self, model: nn.Module, log: list[dict[str, Any]]) -> None:
        """Write the final weights and the log."""
        from closp_lite.models.closp import atomic_save

        atomic_save(model.state_dict(), self.path / WEIGHTS_FILE)
        (self.path / LOG_FILE).write_text(json.dumps(log, indent=2) + "\n")


def read_run(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Return (config, weights) of a finished head run folder (chapter 9).

    Raises:
        FileNotFoundError: if ``config.json`` or ``model.pt`` is missing (an unfinished run).
    """
    folder = Path(path)
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"no {name} in {folder}: train it first (or finish it with --resume)")
    weights = torch.load(folder / WEIGHTS_FILE, map_location="cpu", weights_only=True)
    return json.loads((folder / CONFIG_FILE).read_text()), weights


# A TypeVar rather than 3.12's `def load_head[M: nn.Module]`: the Binder-like benchmark environment
# (benchmarks/cpu_torch_env.sh) is Python 3.11, and this is the only 3.12-only syntax in the package.
M = TypeVar("M", bound=nn.Module)


def load_head(run: str | Path, task: str, build: Callable[[dict[str, Any]], M]) -> tuple[M, dict[str, Any]]:  # noqa: UP047
    """Rebuild the ``task`` model (``"captioner"`` or ``"vqa"``) of a finished run folder (chapter 9).

    ``build`` turns the stored model settings into an empty model; returns it in eval mode with the
    run's settings.

    Raises:
        ValueError: if the run folder holds another task's model.
    """
    settings, weights = read_run(run)
    if settings.get("task") != task:
        raise ValueError(f"{run} is a {settings.get('task')!r} run, not a {task} run")
    model = build(settings["model"])
    model.load_state_dict(weights)
    return model.eval(), settings


@dataclass
class Stage:
    """One stage of a schedule: ``n`` training items, a loss of a batch of item indices, an optional start hook.

    ``batch_size`` (items per optimiser step) replaces the run's for this stage.
    """

    name: str
    n: int
    loss: Callable[[torch.Tensor], torch.Tensor]
    epochs: int
    on_start: Callable[[], None] | None = None
    evaluate: Callable[[], float] | None = None
    batch_size: int | None = None


def train_stages(
    model: nn.Module, stages: Sequence[Stage], run: RunFolder, batch_size: int, lr: float = 1e-3,
    seed: int = DEFAULT_SEED, progress: bool = True,
) -> list[dict[str, Any]]:  # fmt: skip
    """Train ``model`` through ``stages`` in order with AdamW, checkpointing after every epoch into the entered ``run`` (chapter 9).

    A run folder with a checkpoint resumes at the stage and epoch after it; a stage's start hook
    (e.g. :func:`transplant`) runs only when the stage really starts. Returns the log: one row per
    epoch (stage, epoch, mean training loss, validation score when the stage has one).
    """
    saved = run.state()
    log: list[dict[str, Any]] = list(saved["log"]) if saved else []
    start = (saved["stage"], saved["epoch"] + 1) if saved else (0, 0)
    if saved:
        model.load_state_dict(saved["model"])
        torch.set_rng_state(saved["torch_rng"])
    for index, stage in enumerate(stages):
        if index < start[0]:
            continue
        first = 0 if index > start[0] else start[1]
        if first == 0 and stage.on_start is not None:
            stage.on_start()
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
        if saved and first > 0:
            optimizer.load_state_dict(saved["optimizer"])
        for epoch in range(first, stage.epochs):
            generator = torch.Generator().manual_seed(seed * 1000 + index * 100 + epoch)
            order = torch.randperm(stage.n, generator=generator)
            model.train()
            losses = []
            size = stage.batch_size or batch_size
            # A last batch of one item is dropped: BatchNorm cannot normalise a single 1 x 1 feature map.
            batches = range(0, stage.n - 1 if stage.n % size == 1 else stage.n, size)
            for i in tqdm(batches, desc=f"{stage.name} epoch {epoch + 1}", unit="batch", disable=not progress):
                loss = stage.loss(order[i : i + size])
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                losses.append(float(loss.detach()))
            row: dict[str, Any] = {"stage": stage.name, "epoch": epoch + 1, "loss": float(np.mean(losses))}
            if stage.evaluate is not None:
                model.eval()
                row["val"] = stage.evaluate()
            log.append(row)
            run.checkpoint({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "stage": index,
                            "epoch": epoch, "log": log, "torch_rng": torch.get_rng_state()})  # fmt: skip
    model.eval()
    run.finish(model, log)
    return log
