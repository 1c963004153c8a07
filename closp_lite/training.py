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

Full mode (chapter 10) runs the same loop, but each step's forward and backward go through
Lightning Fabric (:mod:`closp_lite.fabric_training`): DDP set up from torchrun's variables,
bfloat16 on GPUs and the gradient cache for ``accumulation`` micro-batches per step. ``launch.json``
records the number of processes, the loop, the precision and the micro-batches.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from closp_lite import distributed
from closp_lite.config import DEFAULT_SEED, get_device, seed_everything, settings
from closp_lite.data.module import MapDataset
from closp_lite.distributed import Context, shard
from closp_lite.losses import ClospLoss, make_loss
from closp_lite.models.closp import CLOSP, ModelConfig, atomic_save, build_model
from closp_lite.runfolder import RunFolder, check_same_settings, load_torch_file
from closp_lite.streaming import StreamConfig, autocast, stream_config

CHECKPOINT = "checkpoint.pt"
LOG = "log.csv"
TRAIN_CONFIG = "train_config.json"
LAUNCH = "launch.json"  # how the run was started: world size, loop, precision
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
    seed: int = DEFAULT_SEED
    val_fraction: float = 0.1
    modalities: tuple[str, ...] = ("s1", "s2")
    text_style: str = "closp"
    learnable_scale: bool = True  # CLIP's temperature: the fixed 1.0 of upstream barely learns (benchmarks/results/sweep.md)
    label_aware: bool = False
    init: str | None = None  # a state-dict file the model starts from (a previous stage, chapter 8)
    workers: int | None = None  # DataLoader processes per loader; None: the mode's num_workers (changes no result)
    accumulation: int = 1  # micro-batches per step through the gradient cache (full mode, chapter 10)
    compile: bool = False  # torch.compile the model's step (full mode; pays after about a thousand steps on a CPU, chapter 10)
    model: ModelConfig = field(default_factory=ModelConfig)

    def __post_init__(self) -> None:
        """Refuse settings no run can train with, before anything is loaded or a run folder exists (chapter 5).

        Every way to build a config (the CLI's flags, a config file, code) passes here, so the
        message is the same everywhere. ``None`` sizes are checked once the mode fills them in.

        Raises:
            ValueError: naming each bad setting, its value and the allowed range.
        """
        problems = []
        for name, least in (("epochs", 1), ("batch_size", 1), ("workers", 0), ("accumulation", 1)):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
                problems.append(f"{name}={value!r} (--{name.replace('_', '-')}) must be a whole number of at least {least}")
        for name, positive in (("lr", True), ("text_lr", True), ("weight_decay", False)):
            value = getattr(self, name)
            # `not value > 0` also refuses NaN, which every comparison fails.
            if isinstance(value, bool) or not isinstance(value, int | float) or not (value > 0 if positive else value >= 0) or math.isinf(value):
                flag = " (--lr)" if name == "lr" else ""  # the others have no flag of `closp-lite train`
                problems.append(f"{name}={value!r}{flag} must be a finite number {'above' if positive else 'of at least'} 0")
        if problems:
            raise ValueError(f"bad training settings: {'; '.join(problems)}")

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


Split = dict[str, tuple[MapDataset, MapDataset]]  # modality -> (train, validation)


def corpus_splits(config: TrainConfig) -> Split:
    """Train/validation datasets per modality from the corpus' ``train`` split (chapter 5).

    A fixed, seeded fraction of the training keys is held out for validation
    (:meth:`closp_lite.data.module.CrisisLandMarkDataModule.train_val`; upstream used a random
    0.2 % of the corpus split, which the evaluation searches; holding out training keys keeps the
    evaluation corpus untouched).
    """
    from closp_lite.data.module import CrisisLandMarkDataModule

    corpus_val = settings(config.mode).corpus_val_fraction
    if corpus_val is not None:  # full mode: the published splits (chapter 10)
        from closp_lite.streaming import published_splits

        return published_splits(config, corpus_val)
    root = config.data
    if root is None:
        from closp_lite.simulate import sample_corpus

        root = str(sample_corpus(config.mode))
    data = CrisisLandMarkDataModule(root, text_style=config.text_style, seed=config.seed, val_fraction=config.val_fraction)
    return {modality: data.train_val(modality) for modality in config.modalities}


def _global_batches(n: int, batch_size: int, seed: int | None) -> list[list[int]]:
    """Index lists of one pass over ``n`` samples: shuffled by ``seed`` with full batches only (training), or in order."""
    if seed is None:
        return [list(range(i, min(i + batch_size, n))) for i in range(0, n, batch_size)]
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    # Drop the last, smaller batch (as drop_last) unless it is all there is.
    return [b for b in batches if len(b) == batch_size] or batches[:1]


def _loader(dataset: MapDataset, batch_size: int, seed: int | None, ctx: Context | None = None, stream: StreamConfig | None = None) -> DataLoader:
    """A loader over this process's share of every global batch of ``batch_size x world_size`` samples."""
    from closp_lite.streaming import loader

    ctx = ctx or Context()
    batches = [shard(b, ctx) for b in _global_batches(len(dataset), batch_size * ctx.world_size, seed)]
    return loader(cast("Dataset[dict[str, Any]]", dataset), batches, stream)


def _epoch_batches(splits: Split, batch_size: int, seed: int, epoch: int, ctx: Context, stream: StreamConfig | None = None) -> Iterator[dict[str, dict]]:
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


def step_inputs(batch: dict[str, dict], generator: torch.Generator | None, device: torch.device) -> tuple[dict, dict]:
    """Images per modality on ``device`` (flipped when a ``generator`` is given), and the label keys for label-aware targets (chapter 5)."""
    images, keys = {}, {}
    for modality, part in batch.items():
        images[modality] = (part["image"] if generator is None else random_flips(part["image"], generator)).to(device)
        keys[modality] = [". ".join(labels) for labels in part["labels"]]
    return images, keys


def batch_features(model: CLOSP, batch: dict[str, dict], generator: torch.Generator | None, device: torch.device) -> tuple[dict, dict]:
    """Image and text (GeoCLOSP: and location) features per modality, and the label keys for label-aware targets (chapter 5)."""
    images, keys = step_inputs(batch, generator, device)
    return {modality: model.features(images[modality], batch[modality], modality) for modality in batch}, keys


def backward_step(model: CLOSP, loss_fn: ClospLoss, batch: dict[str, dict], generator: torch.Generator, device: torch.device) -> dict[str, float]:
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


@dataclass
class TrainState:
    """What a training run has done so far; saved in every checkpoint (chapter 5)."""

    step: int = 0
    best_val: float = float("inf")
    best_epoch: int = -1
    log: list[dict[str, float]] = field(default_factory=list)
    epoch_sums: dict[str, float] = field(default_factory=dict)  # loss sums of an epoch cut short

    def to_dict(self) -> dict[str, Any]:
        """Plain values only, so the checkpoint loads with ``weights_only=True``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainState:
        """Rebuild from :meth:`to_dict`."""
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})


@dataclass
class Trainer:
    """The objects one training run works with (built by :func:`build_trainer`) (chapter 5)."""

    config: TrainConfig
    model: CLOSP
    loss_fn: ClospLoss
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    splits: Split
    ctx: Context
    device: torch.device
    per_epoch: int
    samples_seen: int = 0  # by this process's steps (for the speed), not saved
    fabric_step: Any = None  # a closp_lite.fabric_training.FabricStep in full mode (chapter 10), else chapter 5's loop

    @property
    def scale_params(self) -> list[nn.Parameter]:
        """The loss's trainable parameters (the learnable temperature)."""
        return [p for p in self.loss_fn.parameters() if p.requires_grad]


def build_trainer(config: TrainConfig, splits: Split | None = None) -> Trainer:
    """Model, loss, optimiser and OneCycle schedule of a resolved ``config`` (chapter 5); in full mode set up with Lightning Fabric (chapter 10).

    Raises:
        ValueError: for ``accumulation`` > 1 outside full mode.
    """
    scale = settings(config.mode)
    if (config.accumulation != 1 or config.compile) and not scale.fabric:
        raise ValueError(f"accumulation={config.accumulation} (the gradient cache) and compile={config.compile} are full-mode settings: train with --mode full")
    device = get_device()
    ctx = distributed.context(device)
    if ctx.distributed and device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
    seed_everything(config.seed)
    assert config.batch_size is not None and config.epochs is not None  # resolved
    splits = splits or corpus_splits(config)
    model = build_model(config.model)
    if config.init:
        model.warm_start(config.init)
    model = cast(CLOSP, distributed.sync_batchnorm(model, ctx, device).to(device))
    loss_fn = make_loss(config.model.kind, config.learnable_scale, config.label_aware).to(device)
    fabric_step = None
    if scale.fabric:
        from closp_lite.fabric_training import FabricStep, fabric_from_env

        fabric = fabric_from_env(device, stream_config(config.mode, device).precision, find_unused=len(splits) < len(model.towers))
        fabric_step = FabricStep.setup(fabric, model, loss_fn, config.accumulation, config.compile)
        ctx, device = Context(fabric.global_rank, fabric.world_size, fabric.local_rank), fabric.device
    optimizer, max_lrs = _optimizer(model, [p for p in loss_fn.parameters() if p.requires_grad], config)
    per_epoch = steps_per_epoch(splits, config.batch_size, ctx.world_size)
    total = per_epoch * config.epochs
    scheduler: torch.optim.lr_scheduler.LRScheduler
    if total >= 3:
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lrs, total_steps=total, pct_start=_warmup(config.warmup, total))
    else:  # OneCycle needs a warm-up step and a decay step besides the last one: a tiny run keeps lr constant
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _step: 1.0)
    return Trainer(config, model, loss_fn, optimizer, scheduler, splits, ctx, device, per_epoch, fabric_step=fabric_step)


def train_step(trainer: Trainer, batch: dict[str, dict], state: TrainState) -> dict[str, float]:
    """One optimiser step on ``{modality: batch}``; advances ``state.step``; returns the losses and chance (chapter 5).

    The flips of step ``s`` on rank ``r`` are drawn from ``(seed, s, r)`` alone, which is what
    makes a resumed run equal an uninterrupted one.
    """
    ctx, config = trainer.ctx, trainer.config
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + state.step * ctx.world_size + ctx.rank)
    trainer.optimizer.zero_grad(set_to_none=True)
    if trainer.fabric_step is not None:  # full mode: DDP, precision and gradient cache through Lightning Fabric (chapter 10)
        images, keys = step_inputs(batch, generator, trainer.device)
        values = trainer.fabric_step.backward(images, batch, keys)
    else:
        with autocast(trainer.device, stream_config(config.mode, trainer.device).precision):  # bfloat16 on GPUs (chapter 10)
            values = backward_step(trainer.model, trainer.loss_fn, batch, generator, trainer.device)
        distributed.reduce_gradients(trainer.model.image_parameters(), ctx)
        distributed.reduce_gradients(trainer.scale_params, ctx, average=True)
    trainer.optimizer.step()
    trainer.scheduler.step()
    state.step += 1
    global_sizes = [len(part["text"]) * ctx.world_size for part in batch.values()]
    values["chance"] = sum(math.log(n) for n in global_sizes) / len(global_sizes)
    trainer.samples_seen += sum(global_sizes)
    return values


def train_epoch(trainer: Trainer, state: TrainState, epoch: int, stop_after: int | None = None, progress: bool = True) -> dict[str, float] | None:
    """Train epoch ``epoch`` (0-based) from ``state.step`` on; return its log row, or ``None`` if cut short (chapter 5).

    A run resumed mid-epoch replays the epoch's data order and skips the steps already done. At
    ``stop_after`` steps (a simulated interruption) the epoch's loss sums stay in ``state``.
    """
    from tqdm.auto import tqdm

    config, per_epoch = trainer.config, trainer.per_epoch
    assert config.batch_size is not None and config.epochs is not None  # resolved
    trainer.model.train()
    first = state.step - epoch * per_epoch  # steps of this epoch already done before a resume
    sums, timing = dict(state.epoch_sums), {"data_s": 0.0, "compute_s": 0.0}
    state.epoch_sums = {}
    stream = stream_config(config.mode, trainer.device, config.workers)
    bar = tqdm(total=per_epoch, initial=first, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not (progress and trainer.ctx.is_main), leave=False)
    tick = time.perf_counter()
    for index, batch in enumerate(_epoch_batches(trainer.splits, config.batch_size, config.seed, epoch, trainer.ctx, stream)):
        if index < first:
            continue  # replaying the data order is cheap next to recomputing the step
        loaded = time.perf_counter()
        values = train_step(trainer, batch, state)
        for name, value in values.items():
            sums[name] = sums.get(name, 0.0) + value
        timing["data_s"] += loaded - tick
        timing["compute_s"] += time.perf_counter() - loaded
        tick = time.perf_counter()
        bar.update(1)
        bar.set_postfix(loss=f"{values['loss']:.3f}")
        # At an epoch's last step, fall through so the epoch is validated and logged before stopping.
        if stop_after is not None and state.step >= stop_after and index + 1 < per_epoch:
            bar.close()
            state.epoch_sums = sums
            return None
    bar.close()
    val = evaluate_loss(trainer.model, trainer.loss_fn, trainer.splits, config.batch_size, trainer.device)
    return {"epoch": epoch + 1, "step": state.step, "train_loss": sums["loss"] / per_epoch,
            **{f"train_{m}": sums.get(m, float("nan")) / per_epoch for m in ("s1", "s2")},
            "train_chance": sums["chance"] / per_epoch, "val_loss": val["loss"],
            **{f"val_{m}": val.get(m, float("nan")) for m in ("s1", "s2")}, "val_chance": val["chance"],
            "lr": float(trainer.scheduler.get_last_lr()[0]), "scale": float(trainer.loss_fn.scale.detach()), **timing}  # fmt: skip


def train(
    config: TrainConfig, out_dir: str | Path, resume: bool = False, splits: Split | None = None,
    stop_after: int | None = None, progress: bool = True, on_epoch: Callable[[list[dict[str, float]]], None] | None = None,
    overwrite: bool = False,
) -> TrainResult:  # fmt: skip
    """Train CLOSP-lite and write the run folder ``out_dir``; return a :class:`TrainResult` (chapter 5).

    Under ``torchrun`` every process runs this function on its share of each global batch of
    ``batch_size x world_size`` samples (:mod:`closp_lite.distributed`); rank 0 writes
    the run folder, locked while it writes (:class:`closp_lite.runfolder.RunFolder`).

    Args:
        config: the settings (mode defaults filled in by :meth:`TrainConfig.resolved`).
        out_dir: the run folder.
        resume: continue from ``out_dir/checkpoint.pt`` (the result equals an uninterrupted run);
            the settings must equal the saved ``train_config.json``.
        splits: datasets per modality (default: :func:`corpus_splits` of the config's corpus).
        stop_after: stop after this many optimiser steps in total (simulates an interruption).
        progress: show tqdm bars (on rank 0).
        on_epoch: called on rank 0 with the log rows so far after every epoch (live loss curves,
            :func:`closp_lite.plotting.training.live_loss_curves`).
        overwrite: replace an existing run in ``out_dir`` (only the run's own files).

    Raises:
        FileNotFoundError: if ``resume`` is set but there is no checkpoint.
        RunFolderError: for an existing run without ``resume``/``overwrite``, a folder locked by
            another process, or resuming with other settings.
    """
    config = config.resolved()
    out = Path(out_dir)
    is_main = distributed.context(get_device()).is_main
    splits = splits or corpus_splits(config)  # before the run folder exists: a bad corpus leaves no empty folder
    with RunFolder(out, resume=resume, overwrite=overwrite, enabled=is_main):
        if resume:
            check_same_settings(out / TRAIN_CONFIG, config.to_dict(), ignore=("workers",))
        trainer = build_trainer(config, splits)
        launch = launch_record(trainer)
        if resume:
            _check_launch(out / LAUNCH, launch)
        state = _restore(out, trainer) if resume else TrainState()
        fresh = trainer.ctx.is_main and not resume
        if fresh:
            (out / TRAIN_CONFIG).write_text(json.dumps(config.to_dict(), indent=2))
            (out / LAUNCH).write_text(json.dumps(launch, indent=2))
        try:
            return _run(trainer, state, out, stop_after, progress, on_epoch)
        except BaseException:
            if fresh and not (out / CHECKPOINT).exists():
                for name in (TRAIN_CONFIG, LAUNCH):  # nothing to resume: do not leave a run behind
                    (out / name).unlink(missing_ok=True)
            raise


def launch_record(trainer: Trainer) -> dict[str, Any]:
    """What ``launch.json`` of a run records: processes, the loop that trained, precision, micro-batches per step (chapters 5, 10)."""
    return {"world_size": trainer.ctx.world_size, "loop": "lightning-fabric" if trainer.fabric_step is not None else "closp_lite.training",
            "precision": stream_config(trainer.config.mode, trainer.device).precision, "accumulation": trainer.config.accumulation,
            "compile": trainer.config.compile}  # fmt: skip


def _check_launch(path: Path, now: dict[str, Any]) -> None:
    # Steps per epoch and every global batch depend on the number of processes.
    saved = json.loads(path.read_text()) if path.is_file() else {}
    if saved.get("world_size", now["world_size"]) != now["world_size"]:
        raise ValueError(f"{path.parent} was trained by {saved['world_size']} processes, this resume has {now['world_size']}: "
                         "resume with the same number of processes (torchrun --nnodes x --nproc_per_node)")  # fmt: skip


def _run(
    trainer: Trainer, state: TrainState, out: Path, stop_after: int | None, progress: bool,
    on_epoch: Callable[[list[dict[str, float]]], None] | None,
) -> TrainResult:  # fmt: skip
    assert trainer.config.epochs is not None
    start = time.perf_counter()
    for epoch in range(state.step // trainer.per_epoch, trainer.config.epochs):
        row = train_epoch(trainer, state, epoch, stop_after, progress)
        if row is None:
            _checkpoint(out, trainer, state)
            return _result(out, state, time.perf_counter() - start, trainer.samples_seen)
        state.log.append(row)
        if row["val_loss"] < state.best_val:
            state.best_val, state.best_epoch = row["val_loss"], epoch + 1
            if trainer.ctx.is_main:
                trainer.model.save(out)
        if trainer.ctx.is_main:
            _write_log(state.log, out / LOG)
            if on_epoch is not None:
                on_epoch(list(state.log))
        _checkpoint(out, trainer, state)
        if stop_after is not None and state.step >= stop_after:
            break
    return _result(out, state, time.perf_counter() - start, trainer.samples_seen)


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


def _checkpoint(out: Path, trainer: Trainer, state: TrainState) -> None:
    if not trainer.ctx.is_main:
        distributed.barrier(trainer.ctx)  # the others wait until rank 0 has written the checkpoint
        return
    atomic_save({"model": trainer.model.trainable_state(), "loss": trainer.loss_fn.state_dict(),
                 "optimizer": trainer.optimizer.state_dict(), "scheduler": trainer.scheduler.state_dict(),
                 "torch_rng": torch.get_rng_state(), "state": state.to_dict()}, out / CHECKPOINT)  # fmt: skip
    distributed.barrier(trainer.ctx)


def _restore(out: Path, trainer: Trainer) -> TrainState:
    path = out / CHECKPOINT
    saved = load_torch_file(path, "training checkpoint", f"start again without --resume (--overwrite replaces the run in {out})")
    try:
        # Checked by name and shape: a state that loaded nothing would restart from fresh weights unnoticed.
        trainer.model.load_trainable_state(saved["model"], "its model", "this run's model")
        trainer.loss_fn.load_state_dict(saved["loss"])
        trainer.optimizer.load_state_dict(saved["optimizer"])
        trainer.scheduler.load_state_dict(saved["scheduler"])
        torch.set_rng_state(saved["torch_rng"])
        return TrainState.from_dict(saved["state"])
    except (KeyError, RuntimeError, ValueError) as err:
        raise ValueError(f"{path} does not fit this run ({err}): start again without --resume") from err


def _result(out: Path, state: TrainState, seconds: float, samples: int) -> TrainResult:
    return TrainResult(out, state.best_epoch, state.best_val, state.step, list(state.log), seconds,
                       samples / seconds if seconds > 0 else 0.0)  # fmt: skip
