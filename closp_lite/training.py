"""The one training loop of closp-lite, used by chapter 5 and ``closp-lite train`` (chapter 5).

Each step draws one S2 mini-batch and one S1 mini-batch (the shorter loader cycles), embeds the
images with their own tower and the captions with the (frozen, cached) text tower, and applies the
CLOSP loss per modality. AdamW + OneCycle (10 % warm-up), random flips on training batches only,
a validation loss every epoch and best-model selection.

A run folder holds ``config.json`` + ``model.pt`` (the best model, readable by
:meth:`closp_lite.models.closp.CLOSP.load`), ``train_config.json``, ``log.csv`` (one row per epoch)
and ``checkpoint.pt`` (model, optimiser, scheduler, loss, RNG states, step). Checkpoints are written
atomically. All randomness (data order, flips) is derived from ``(seed, epoch, step)``, so a run
interrupted after any step and resumed gives exactly the weights of an uninterrupted run.

The loop is plain PyTorch. Started under ``torchrun`` the same function trains on several GPUs or
nodes (:mod:`closp_lite.distributed`): each process takes its share of every global
batch, the loss all-gathers features, gradients are all-reduced and rank 0 writes the run folder.
Each step back-propagates one modality at a time (:func:`backward_step`), so only one modality's
activations are held at once, without changing a single gradient.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from closp_lite import distributed
from closp_lite.config import get_device, seed_everything, settings
from closp_lite.distributed import Context, shard
from closp_lite.losses import ClospLoss
from closp_lite.models.closp import CLOSP, ModelConfig, atomic_save
from closp_lite.streaming import StreamConfig, autocast, stream_config

CHECKPOINT = "checkpoint.pt"
LOG = "log.csv"
TRAIN_CONFIG = "train_config.json"
LOG_FIELDS = ("epoch", "step", "train_loss", "train_s1", "train_s2", "train_chance", "val_loss", "val_s1", "val_s2",
              "val_chance", "lr", "scale", "data_s", "compute_s")  # fmt: skip


@dataclass
class TrainConfig:
    """Settings of one training run (chapter 5). ``None`` sizes come from the scale mode."""

    mode: str | None = None
    data: str | None = None  # corpus folder; None = the simulated corpus of the mode
    epochs: int | None = None
    batch_size: int | None = None
    lr: float = 3e-3
    text_lr: float = 2e-5  # only used with model.train_text=True
    weight_decay: float = 0.01
    warmup: float = 0.1
    seed: int = 42
    val_fraction: float = 0.1
    modalities: tuple[str, ...] = ("s1", "s2")
    text_style: str = "closp"
    learnable_scale: bool = False
    label_aware: bool = False
    model: ModelConfig = field(default_factory=ModelConfig)

    def resolved(self) -> TrainConfig:
        """Return a copy with the mode's epochs and batch size filled in."""
        scale = settings(self.mode)
        return TrainConfig(**{**self._flat(), "mode": scale.mode, "epochs": self.epochs or scale.epochs,
                              "batch_size": self.batch_size or scale.batch_size, "model": self.model})  # fmt: skip

    def _flat(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {**asdict(self), "modalities": list(self.modalities)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a dict (e.g. a JSON or TOML file); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown training settings {sorted(unknown)}: known are {sorted(known)}")
        values = dict(values)
        if "model" in values:
            values["model"] = ModelConfig(**values["model"])
        if "modalities" in values:
            values["modalities"] = tuple(values["modalities"])
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        """Read a ``.json`` or ``.toml`` config file (chapter 5).

        Raises:
            FileNotFoundError: if the file is missing. ValueError: for another suffix or unknown keys.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no training config at {path}")
        if path.suffix == ".json":
            return cls.from_dict(json.loads(path.read_text()))
        if path.suffix == ".toml":
            import tomllib

            return cls.from_dict(tomllib.loads(path.read_text()))
        raise ValueError(f"{path}: a training config is a .json or .toml file")


@dataclass
class TrainResult:
    """What :func:`train` returns (chapter 5)."""

    out_dir: Path
    best_epoch: int
    best_val_loss: float
    steps: int
    log: list[dict[str, float]]
    seconds: float
    samples_per_second: float


Split = dict[str, tuple[Dataset, Dataset]]  # modality -> (train, validation)


def corpus_splits(config: TrainConfig) -> Split:
    """Train/validation datasets per modality from the corpus' ``train`` split (chapter 5).

    A fixed, seeded fraction of the training keys is held out for validation (upstream used a
    random 0.2 % of the corpus split, which the evaluation searches; holding out training keys keeps
    the evaluation corpus untouched).
    """
    from closp_lite.data.datasets import CrisisLandMarkDataset

    corpus_val = settings(config.mode).corpus_val_fraction
    if corpus_val is not None:  # full mode: the published splits (chapter 10)
        from closp_lite.streaming import published_splits

        return published_splits(config, corpus_val)
    root = config.data
    if root is None:
        from closp_lite.simulate import sample_corpus

        root = str(sample_corpus(config.mode))
    out: Split = {}
    for modality in config.modalities:
        full = CrisisLandMarkDataset(root, modality=modality, split="train", text_style=config.text_style)
        keys = list(full.metadata["key"])
        order = torch.randperm(len(keys), generator=torch.Generator().manual_seed(config.seed)).tolist()
        n_val = max(2, round(config.val_fraction * len(keys)))  # one sample would give a loss of 0
        val_keys = [keys[i] for i in sorted(order[:n_val])]
        train_keys = [keys[i] for i in sorted(order[n_val:])]
        make = lambda ks: CrisisLandMarkDataset(root, modality=modality, split="train", text_style=config.text_style, keys=ks)  # noqa: E731
        out[modality] = (make(train_keys), make(val_keys))
    return out


def _global_batches(n: int, batch_size: int, seed: int | None) -> list[list[int]]:
    """Index lists of one pass over ``n`` samples: shuffled by ``seed`` with full batches only (training), or in order."""
    if seed is None:
        return [list(range(i, min(i + batch_size, n))) for i in range(0, n, batch_size)]
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    # Drop the last, smaller batch (as drop_last) unless it is all there is.
    return [b for b in batches if len(b) == batch_size] or batches[:1]


def _loader(dataset: Dataset, batch_size: int, seed: int | None, ctx: Context = Context(), stream: StreamConfig | None = None) -> DataLoader:
    """A loader over this process's share of every global batch of ``batch_size x world_size`` samples."""
    batches = [shard(b, ctx) for b in _global_batches(len(dataset), batch_size * ctx.world_size, seed)]
    from closp_lite.streaming import loader

    return loader(dataset, batches, stream)


def _epoch_batches(splits: Split, batch_size: int, seed: int, epoch: int, ctx: Context = Context(), stream: StreamConfig | None = None) -> Iterator[dict[str, dict]]:
    """Yield ``{modality: batch}`` per step; the shorter modality's loader cycles with a new order."""
    loaders = {m: _loader(train, batch_size, seed * 1000 + epoch, ctx, stream) for m, (train, _) in splits.items()}
    steps = max(len(loader) for loader in loaders.values())
    iterators = {m: iter(loader) for m, loader in loaders.items()}
    for _ in range(steps):
        batch = {}
        for m, loader in loaders.items():
            try:
                batch[m] = next(iterators[m])
            except StopIteration:
                iterators[m] = iter(loader)
                batch[m] = next(iterators[m])
        yield batch


def steps_per_epoch(splits: Split, batch_size: int, world_size: int = 1) -> int:
    """Number of steps in one epoch: the longer modality's count of global batches (chapter 5)."""
    return max(len(_global_batches(len(train), batch_size * world_size, 0)) for train, _ in splits.values())


def random_flips(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each image horizontally and/or vertically with probability 1/2 (training only) (chapter 5)."""
    flip_h, flip_v = torch.rand(2, len(images), generator=generator) < 0.5
    # One copy of the batch, and flipped copies of the chosen images only (a batch of S2 is 48 MB).
    out = images.clone()
    out[flip_h] = out[flip_h].flip(-1)
    out[flip_v] = out[flip_v].flip(-2)
    return out


def batch_features(model: CLOSP, batch: dict[str, dict], generator: torch.Generator | None, device: torch.device) -> tuple[dict, dict]:
    """Image and text features per modality, and the label keys for label-aware targets (chapter 5)."""
    features, keys = {}, {}
    for modality, part in batch.items():
        images = part["image"] if generator is None else random_flips(part["image"], generator)
        images = images.to(device)
        features[modality] = (model.encode_image(images, modality), model.encode_text(part["text"]))
        keys[modality] = [". ".join(labels) for labels in part["labels"]]
    return features, keys


def backward_step(
    model: CLOSP, loss_fn: ClospLoss, batch: dict[str, dict], generator: torch.Generator, device: torch.device
) -> dict[str, float]:
    """Forward and backward one training step, one modality at a time; return the losses (chapter 5).

    The step loss is the mean of the modality losses and no term mixes S1 with S2, so
    back-propagating each modality's share on its own gives exactly the gradients of the whole
    step while holding only one modality's activations in memory at a time.
    """
    values: dict[str, float] = {}
    for modality, part in batch.items():
        features, keys = batch_features(model, {modality: part}, generator, device)
        loss, parts = loss_fn(features, keys)
        (loss / len(batch)).backward()
        values.update(parts)
    return {"loss": sum(values.values()) / len(values), **values}


def evaluate_loss(model: CLOSP, loss_fn: ClospLoss, splits: Split, batch_size: int, device: torch.device) -> dict[str, float]:
    """Mean validation loss per modality and overall, without flips; ``chance`` is the mean log batch size (chapter 5).

    A model that knows nothing scores about ``log B`` on a batch of B, so losses of batches of
    different sizes are compared through their distance to ``chance``. Every process evaluates the
    whole validation set on its own (no gathering), so all processes agree.
    """
    model.eval()
    out, chances = {}, []
    with torch.no_grad():
        for modality, (_, val) in splits.items():
            values = []
            for part in _loader(val, batch_size, None):
                features, keys = batch_features(model, {modality: part}, None, device)
                values.append(float(loss_fn(features, keys, gather=False)[0]))
                chances.append(math.log(len(part["text"])))
            out[modality] = sum(values) / len(values)
    out["loss"] = sum(out[m] for m in splits) / len(splits)
    out["chance"] = sum(chances) / len(chances)
    return out


def _write_log(rows: list[dict[str, float]], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LOG_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def read_log(run_dir: str | Path) -> list[dict[str, float]]:
    """Read ``log.csv`` of a run as a list of dicts of floats (chapter 5)."""
    path = Path(run_dir) / LOG
    if not path.is_file():
        raise FileNotFoundError(f"no {LOG} in {run_dir}: train a model first (closp-lite train --out {run_dir})")
    with path.open() as handle:
        return [{k: float(v) if v not in ("", None) else float("nan") for k, v in row.items()} for row in csv.DictReader(handle)]


def train(
    config: TrainConfig, out_dir: str | Path, resume: bool = False, splits: Split | None = None,
    stop_after: int | None = None, progress: bool = True, on_epoch: Callable[[list[dict[str, float]]], None] | None = None,
) -> TrainResult:  # fmt: skip
    """Train CLOSP-lite and write the run folder ``out_dir``; return a :class:`TrainResult` (chapter 5).

    Under ``torchrun`` every process runs this function on its share of each global batch of
    ``batch_size x world_size`` samples (:mod:`closp_lite.distributed`); rank 0 writes
    the run folder.

    Args:
        config: the settings (mode defaults filled in by :meth:`TrainConfig.resolved`).
        out_dir: the run folder.
        resume: continue from ``out_dir/checkpoint.pt`` (the result equals an uninterrupted run).
        splits: datasets per modality (default: :func:`corpus_splits` of the config's corpus).
        stop_after: stop after this many optimiser steps in total (simulates an interruption).
        progress: show tqdm bars (on rank 0).
        on_epoch: called on rank 0 with the log rows so far after every epoch (live loss curves,
            :func:`closp_lite.plotting.training.live_loss_curves`).

    Raises:
        FileNotFoundError: if ``resume`` is set but there is no checkpoint.
    """
    from tqdm.auto import tqdm

    config = config.resolved()
    out = Path(out_dir)
    device = get_device()
    ctx = distributed.context(device)
    if ctx.distributed and device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
    seed_everything(config.seed)
    splits = splits or corpus_splits(config)  # before the run folder exists: a bad corpus leaves no empty folder
    if ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
    model = distributed.sync_batchnorm(CLOSP(config.model), ctx, device).to(device)
    loss_fn = ClospLoss(config.learnable_scale, config.label_aware).to(device)
    scale_params = [p for p in loss_fn.parameters() if p.requires_grad]
    optimizer, max_lrs = _optimizer(model, scale_params, config)
    per_epoch = steps_per_epoch(splits, config.batch_size, ctx.world_size)
    total = per_epoch * config.epochs
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lrs, total_steps=total, pct_start=_warmup(config.warmup, total))
    state = {"step": 0, "best_val": float("inf"), "best_epoch": -1, "log": [], "seconds": 0.0}
    if resume:
        state = _restore(out, model, loss_fn, optimizer, scheduler)
    if ctx.is_main:
        (out / TRAIN_CONFIG).write_text(json.dumps(config.to_dict(), indent=2))
    stream = stream_config(config.mode, device)
    start, data_s, compute_s, samples = time.perf_counter(), 0.0, 0.0, 0
    for epoch in range(state["step"] // per_epoch, config.epochs):
        model.train()
        sums: dict[str, float] = {}
        first = state["step"] - epoch * per_epoch  # steps of this epoch already done before a resume
        bar = tqdm(total=per_epoch, initial=first, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not (progress and ctx.is_main), leave=False)
        tick = time.perf_counter()
        for index, batch in enumerate(_epoch_batches(splits, config.batch_size, config.seed, epoch, ctx, stream)):
            if index < first:
                continue  # replaying the data order is cheap next to recomputing the step
            loaded = time.perf_counter()
            generator = torch.Generator().manual_seed(config.seed * 1_000_003 + state["step"] * ctx.world_size + ctx.rank)
            optimizer.zero_grad(set_to_none=True)
            with autocast(device, stream.precision):  # bfloat16 on GPUs (chapter 10)
                values = backward_step(model, loss_fn, batch, generator, device)
            distributed.reduce_gradients(model.image_parameters(), ctx)
            distributed.reduce_gradients(scale_params, ctx, average=True)
            optimizer.step()
            scheduler.step()
            state["step"] += 1
            global_sizes = [len(part["text"]) * ctx.world_size for part in batch.values()]
            values["chance"] = sum(math.log(n) for n in global_sizes) / len(global_sizes)
            for name, value in values.items():
                sums[name] = sums.get(name, 0.0) + value
            samples += sum(global_sizes)
            data_s, compute_s, tick = data_s + loaded - tick, compute_s + time.perf_counter() - loaded, time.perf_counter()
            bar.update(1)
            bar.set_postfix(loss=f"{values['loss']:.3f}")
            # At an epoch's last step, fall through so the epoch is validated and logged before stopping.
            if stop_after is not None and state["step"] >= stop_after and index + 1 < per_epoch:
                bar.close()
                state["epoch_sums"] = sums
                _checkpoint(out, model, loss_fn, optimizer, scheduler, state, ctx)
                return _result(out, state, time.perf_counter() - start, samples)
        bar.close()
        sums = _merge_sums(state.pop("epoch_sums", {}), sums)
        val = evaluate_loss(model, loss_fn, splits, config.batch_size, device)
        row = {"epoch": epoch + 1, "step": state["step"], "train_loss": sums["loss"] / per_epoch,
               **{f"train_{m}": sums.get(m, float("nan")) / per_epoch for m in ("s1", "s2")},
               "train_chance": sums["chance"] / per_epoch, "val_loss": val["loss"],
               **{f"val_{m}": val.get(m, float("nan")) for m in ("s1", "s2")}, "val_chance": val["chance"],
               "lr": scheduler.get_last_lr()[0], "scale": float(loss_fn.scale.detach()), "data_s": data_s, "compute_s": compute_s}  # fmt: skip
        state["log"].append(row)
        if val["loss"] < state["best_val"]:
            state["best_val"], state["best_epoch"] = val["loss"], epoch + 1
            if ctx.is_main:
                model.save(out)
        if ctx.is_main:
            _write_log(state["log"], out / LOG)
            if on_epoch is not None:
                on_epoch(list(state["log"]))
        _checkpoint(out, model, loss_fn, optimizer, scheduler, state, ctx)
        if stop_after is not None and state["step"] >= stop_after:
            return _result(out, state, time.perf_counter() - start, samples)
    return _result(out, state, time.perf_counter() - start, samples)


def _optimizer(model: CLOSP, scale_params: list[nn.Parameter], config: TrainConfig) -> tuple[torch.optim.Optimizer, list[float]]:
    """AdamW with the image towers (and logit scale) at ``lr`` and a fine-tuned text tower at ``text_lr``."""
    text = [p for name, p in model.named_parameters() if p.requires_grad and name.startswith("text.")]
    images = [p for name, p in model.named_parameters() if p.requires_grad and not name.startswith("text.")]
    # A pretrained text tower is destroyed by the learning rate that suits towers trained from scratch.
    groups = [(images + scale_params, config.lr)] + ([(text, config.text_lr)] if text else [])
    optimizer = torch.optim.AdamW([{"params": ps, "lr": lr} for ps, lr in groups], weight_decay=config.weight_decay)
    return optimizer, [lr for _, lr in groups]


def _warmup(fraction: float, total: int) -> float:
    # OneCycle divides by the warm-up length in steps, so very short runs need at least 2 warm-up steps.
    return min(max(fraction, 2.0 / total), 0.5)


def _merge_sums(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: before.get(k, 0.0) + after.get(k, 0.0) for k in set(before) | set(after)}


def _checkpoint(out: Path, model: CLOSP, loss_fn: ClospLoss, optimizer: Any, scheduler: Any, state: dict, ctx: Context) -> None:
    if not ctx.is_main:
        distributed.barrier(ctx)  # the others wait until rank 0 has written the checkpoint
        return
    atomic_save({"model": model.trainable_state(), "loss": loss_fn.state_dict(), "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict(), "torch_rng": torch.get_rng_state(), "state": state}, out / CHECKPOINT)  # fmt: skip
    distributed.barrier(ctx)


def _restore(out: Path, model: CLOSP, loss_fn: ClospLoss, optimizer: Any, scheduler: Any) -> dict:
    path = out / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"cannot resume: no {CHECKPOINT} in {out} (start without --resume)")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(saved["model"], strict=False)
    loss_fn.load_state_dict(saved["loss"])
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    torch.set_rng_state(saved["torch_rng"])
    return saved["state"]


def _result(out: Path, state: dict, seconds: float, samples: int) -> TrainResult:
    return TrainResult(out, state["best_epoch"], state["best_val"], state["step"], list(state["log"]), seconds,
                       samples / seconds if seconds > 0 else 0.0)  # fmt: skip

