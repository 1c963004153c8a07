"""Keeping a GPU fed at full scale: streaming loaders, mixed precision, published splits (chapter 10).

* **Loaders** (:func:`loader`): DataLoader worker processes read patches ahead of the model. Each
  worker opens its own HDF5 shard handles, lazily, on first read
  (:class:`closp_lite.data.format.CrisisLandMark` drops handles inherited from another process), so
  no handle is shared across a fork. Persistent workers skip the restart cost between passes over
  one loader, ``prefetch_factor`` batches wait per worker, and on a GPU batches go to pinned memory
  so the copy to the device overlaps compute.
* **Mixed precision** (:func:`autocast`): bfloat16 autocast on GPUs (no loss scaling needed:
  bfloat16 keeps float32's exponent range); float32 on CPUs, where bfloat16 is slower.
* **Published splits** (:func:`published_splits`): full mode trains on the whole ``train`` split
  (20 % of CrisisLandMark) and validates on a small seeded sample of the ``test`` split (the
  80 % corpus), as upstream did (0.2 %).
* **Large batches in small memory** (:func:`cached_backward`): the gradient cache of Gao et al.
  (2021). Plain gradient accumulation would change a contrastive loss (each micro-batch would only
  see its own negatives); instead the image features of the whole batch are computed without
  activations, the loss of the whole batch gives their gradients, and each micro-batch is
  recomputed with activations and back-propagated with its share. Exact, for towers without
  batch-dependent layers (batch normalisation sees micro-batches).
* **Throughput** (:func:`loader_throughput`, :func:`model_throughput`, :func:`fabric_throughput`):
  patches per second of the loader alone and of the model alone (optionally ``torch.compile``-d),
  in one process or in several under Lightning Fabric's DDP, to tell which one is the bottleneck.

The settings come from the scale mode (:func:`stream_config`): ``num_workers`` from the settings
table, pinned memory and bfloat16 when the device is a GPU.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from closp_lite.config import DEFAULT_SEED, settings

if TYPE_CHECKING:
    import torch
    from torch.utils.data import DataLoader, Dataset

Precision = Literal["fp32", "bf16"]

__all__ = [
    "Features",
    "StreamConfig",
    "autocast",
    "cached_backward",
    "fabric_throughput",
    "gradient_cache",
    "loader",
    "loader_throughput",
    "model_throughput",
    "published_splits",
    "step_seconds",
    "stream_config",
]


@dataclass(frozen=True)
class StreamConfig:
    """How batches reach the model (chapter 10)."""

    workers: int = 0
    prefetch_factor: int = 4
    persistent_workers: bool = True
    pin_memory: bool = False
    precision: Precision = "fp32"


def stream_config(mode: str | None = None, device: torch.device | None = None, workers: int | None = None) -> StreamConfig:
    """The mode's loader workers (at most one per CPU core), with pinned memory and bfloat16 on a GPU (chapter 10).

    ``workers`` overrides the mode's ``num_workers`` (e.g. a full-mode run on a 2 GB machine).

    Raises:
        ValueError: for a negative ``workers``.
    """
    if workers is not None and workers < 0:
        raise ValueError(f"workers must be 0 (read in this process) or more, got {workers}")
    cuda = device is not None and device.type == "cuda"
    workers = min(settings(mode).num_workers if workers is None else workers, os.cpu_count() or 1)
    return StreamConfig(workers=workers, pin_memory=cuda, precision="bf16" if cuda else "fp32")


def loader(
    dataset: Dataset, batches: int | Sequence[Sequence[int]], stream: StreamConfig | None = None, collate_fn: Callable | None = None
) -> DataLoader:
    """A DataLoader of ``dataset`` in batches of ``batches`` samples, or over the given index lists (chapter 10).

    Samples are merged with :func:`closp_lite.data.datasets.collate` unless ``collate_fn`` is given.
    """
    from torch.utils.data import DataLoader

    from closp_lite.data.module import collate

    stream = stream or StreamConfig()
    options: dict[str, Any] = {"num_workers": stream.workers, "pin_memory": stream.pin_memory, "collate_fn": collate_fn or collate}
    if stream.workers:
        options |= {"persistent_workers": stream.persistent_workers, "prefetch_factor": stream.prefetch_factor}
    if isinstance(batches, int):
        return DataLoader(dataset, batch_size=batches, shuffle=False, **options)
    return DataLoader(dataset, batch_sampler=[list(b) for b in batches], **options)


def autocast(device: torch.device, precision: Precision) -> contextlib.AbstractContextManager:
    """bfloat16 autocast for ``precision="bf16"``, nothing for ``"fp32"`` (chapter 10)."""
    import torch

    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    if precision != "fp32":
        raise ValueError(f"unknown precision {precision!r}: choose fp32 or bf16")
    return contextlib.nullcontext()


def published_splits(config: Any, val_fraction: float) -> dict[str, tuple[Any, Any]]:
    """Per modality: the whole ``train`` split, and a seeded ``val_fraction`` sample (at least 2) of the ``test`` split (chapter 10).

    ``config`` is a :class:`closp_lite.training.TrainConfig` (``data``, ``modalities``, ``text_style``, ``seed``).

    Raises:
        ValueError: without a corpus folder (full mode has no simulated default), or when a split is empty.
    """
    from closp_lite.data.module import CrisisLandMarkDataModule, held_out

    if config.data is None:
        raise ValueError(
            "full mode trains on a corpus folder: pass --data PATH (the real corpus from "
            "`closp-lite data download --out PATH`, or any folder in the CrisisLandMark layout)"
        )
    data = CrisisLandMarkDataModule(config.data, text_style=config.text_style, seed=config.seed)
    out: dict[str, tuple[Any, Any]] = {}
    for modality in config.modalities:
        _, val_keys = held_out(data.keys("test", modality), val_fraction, config.seed)
        out[modality] = (data.dataset("train", modality), data.dataset("test", modality, val_keys))
    return out


Features = dict[str, tuple["torch.Tensor", ...]]  # per modality: (image, text[, location]) features of a batch


def gradient_cache(
    encode: Callable[[int], Features], chunks: int, loss_of: Callable[[Features], torch.Tensor],
    backward: Callable[[torch.Tensor, bool], None] | None = None,
) -> torch.Tensor:  # fmt: skip
    """The gradient cache over ``chunks`` micro-batches: the gradients of the whole batch's loss, one micro-batch of activations at a time (chapter 10).

    ``encode(i)`` returns the features of micro-batch ``i`` (the same inputs, flips included, every
    time it is called); ``loss_of`` takes the features of the whole batch (concatenated in chunk
    order) and returns its loss. The features are first computed without activations, the loss
    gives their gradients, then each micro-batch is encoded again and back-propagated with its
    share through ``backward(surrogate, last)`` (default ``surrogate.backward()``; ``last`` marks
    the final micro-batch, where a DDP wrapper synchronises). Parameters of ``loss_of`` itself
    (the logit scale) get their gradient from the loss. Returns the (detached) loss.
    """
    import torch

    if chunks < 1:
        raise ValueError(f"the gradient cache needs at least one micro-batch, got {chunks}")
    with torch.no_grad():
        parts = [encode(i) for i in range(chunks)]
    whole = {m: tuple(torch.cat([p[m][j] for p in parts]).float().requires_grad_(True) for j in range(len(fs))) for m, fs in parts[0].items()}
    loss = loss_of(whole)
    loss.backward()
    sizes = {m: [len(p[m][0]) for p in parts] for m in whole}
    grads = {m: [None if f.grad is None else f.grad.split(sizes[m]) for f in fs] for m, fs in whole.items()}
    for i in range(chunks):
        shares = [(f, g[i]) for m, fs in encode(i).items() for f, g in zip(fs, grads[m]) if f.requires_grad and g is not None]
        surrogate = torch.stack([(f.float() * g).sum() for f, g in shares]).sum()
        if backward is None:
            surrogate.backward()
        else:
            backward(surrogate, i == chunks - 1)
    return loss.detach()


def cached_backward(
    encode: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, texts: torch.Tensor,
    loss_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], micro_batch: int,
) -> float:  # fmt: skip
    """Back-propagate the loss of a whole batch, holding the activations of ``micro_batch`` images at a time (chapter 10).

    ``encode`` maps images to features (e.g. one image tower), ``texts`` are the (frozen) caption
    features and ``loss_of(image_features, texts)`` the batch loss (e.g. a modality's CLOSP loss).
    The gradients left in ``encode``'s parameters equal those of one backward pass over the whole
    batch. Returns the loss. One tower's case of :func:`gradient_cache`, which full-mode training uses.
    """
    if micro_batch < 1:
        raise ValueError(f"micro_batch must be a positive integer, got {micro_batch}")
    chunks = images.split(micro_batch)
    loss = gradient_cache(lambda i: {"x": (encode(chunks[i]),)}, len(chunks), lambda f: loss_of(f["x"][0], texts))
    return float(loss)


def loader_throughput(batches: Iterable[dict[str, Any]], max_batches: int | None = None) -> float:
    """Patches per second of a loader alone, no model (chapter 10)."""
    start, patches = time.perf_counter(), 0
    for number, batch in enumerate(batches):
        patches += len(batch["key"])
        if max_batches is not None and number + 1 >= max_batches:
            break
    return patches / max(time.perf_counter() - start, 1e-9)


def _synthetic_steps(arch: str, batch: int, device: torch.device, precision: Precision, compile_model: bool) -> Iterator[float]:
    """Yield the seconds of successive training steps of one S2 tower on random patches with the CLOSP loss."""
    import torch

    from closp_lite.losses import ClospLoss
    from closp_lite.models.image import ImageTower, tower_for

    torch.manual_seed(DEFAULT_SEED)
    tower: Any = ImageTower(tower_for("s2", arch)).to(device)  # type: ignore[arg-type]
    optimizer = torch.optim.AdamW(tower.parameters(), lr=1e-4)
    if compile_model:
        tower = torch.compile(tower)
    images = torch.rand(batch, 13, 120, 120, device=device) * 0.3
    texts = torch.nn.functional.normalize(torch.randn(batch, 384, device=device), dim=-1)
    loss_fn = ClospLoss().to(device)
    while True:
        start = time.perf_counter()
        with autocast(device, precision):
            loss, _ = loss_fn({"s2": (tower(images), texts)})
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        yield time.perf_counter() - start


def step_seconds(arch: str, batch: int, steps: int, device: str = "cpu", precision: Precision = "fp32", compile_model: bool = False) -> list[float]:
    """Seconds of each of ``steps`` training steps of one S2 tower on random patches, the first included (with ``torch.compile``, it compiles) (chapter 10)."""
    import torch

    timer = _synthetic_steps(arch, batch, torch.device(device), precision, compile_model)
    return [next(timer) for _ in range(steps)]


def model_throughput(arch: str, batch: int, steps: int, device: str = "cpu", precision: Precision = "fp32", compile_model: bool = False) -> float:
    """Training patches per second of one S2 tower alone (no loader), after 3 warm-up steps (chapter 10)."""
    return batch * steps / sum(step_seconds(arch, batch, steps + 3, device, precision, compile_model)[3:])


def _fabric_worker(fabric: Any, arch: str, batch: int, steps: int) -> float:
    import torch

    from closp_lite.losses import ClospLoss
    from closp_lite.models.image import ImageTower, tower_for

    torch.manual_seed(DEFAULT_SEED + fabric.global_rank)
    tower = ImageTower(tower_for("s2", arch))  # type: ignore[arg-type]
    optimizer = torch.optim.AdamW(tower.parameters(), lr=1e-4)
    tower, optimizer = fabric.setup(tower, optimizer)
    images = torch.rand(batch, 13, 120, 120, device=fabric.device) * 0.3
    texts = torch.nn.functional.normalize(torch.randn(batch, 384, device=fabric.device), dim=-1)
    loss_fn = ClospLoss().to(fabric.device)
    seconds = 0.0
    for step in range(steps + 3):
        fabric.barrier()
        start = time.perf_counter()
        loss, _ = loss_fn({"s2": (tower(images), texts)})  # features all-gathered across processes
        optimizer.zero_grad(set_to_none=True)
        fabric.backward(loss)
        optimizer.step()
        fabric.barrier()
        seconds += (time.perf_counter() - start) if step >= 3 else 0.0
    return batch * fabric.world_size * steps / seconds


def fabric_throughput(arch: str, batch: int, steps: int, devices: int = 2, accelerator: str = "cuda", precision: str = "bf16-mixed") -> float:
    """Global training patches per second of one S2 tower in ``devices`` processes under Lightning Fabric DDP (chapter 10).

    Each process takes ``batch`` patches per step; the CLOSP loss all-gathers the features as in
    :mod:`closp_lite.training`, and DDP averages the gradients.
    """
    from lightning.fabric import Fabric

    fabric = Fabric(accelerator=accelerator, devices=devices, strategy="ddp_spawn", precision=precision)  # type: ignore[arg-type]
    from functools import partial

    return float(fabric.launch(partial(_fabric_worker, arch=arch, batch=batch, steps=steps)))
