"""Several processes, one training run: the process group, data sharding, gradient averaging (chapter 5).

``torchrun --nproc_per_node 4 $(which closp-lite) train --mode full --out RUN`` starts one process
per GPU and sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``;
:func:`context` reads them and joins the process group (NCCL on GPUs, Gloo on CPUs). Multi-node
runs work the same way (``torchrun --nnodes ...``) as long as the run folder is on a file system
every node sees. Without those variables everything here is a no-op, so the single-process loop of
chapter 5 is the same code.

How the pieces fit (open_clip does the same):

* Every process draws the same global batch order (same seed) and keeps every ``world_size``-th
  sample of each global batch (:func:`shard`): a step sees ``batch_size x world_size`` samples.
* The loss all-gathers features (:func:`closp_lite.losses.gather_features`), so each process
  computes the loss of the *global* batch, with gradients through its own features only.
* :func:`reduce_gradients` adds the towers' gradients of all processes, which is then exactly the
  gradient of the global-batch loss; the optimiser steps are identical everywhere, so the weights
  stay equal.
* Batch normalisation becomes ``SyncBatchNorm`` on GPUs (:func:`sync_batchnorm`); PyTorch has no
  CPU version, so on CPUs each process normalises with its own part of the batch.
* Only rank 0 writes files (:attr:`Context.is_main`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["Context", "barrier", "context", "reduce_gradients", "shard", "sync_batchnorm"]


@dataclass(frozen=True)
class Context:
    """Where this process stands in a (possibly one-process) run (chapter 5)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """True for the process that writes the run folder (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when several processes train together."""
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError as error:
        raise ValueError(f"${name}={value!r} is not an integer (torchrun sets it; unset it for a single-process run)") from error


def context(device: torch.device | None = None) -> Context:
    """Read torchrun's variables and join the process group if there are several processes (chapter 5).

    Joins with NCCL when ``device`` is a CUDA device, else Gloo; a group that is already initialised
    is reused (its rank and size win over the variables).

    Raises:
        ValueError: if the variables are inconsistent (e.g. ``RANK`` >= ``WORLD_SIZE``).
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return Context(dist.get_rank(), dist.get_world_size(), _env_int("LOCAL_RANK", dist.get_rank()))
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"RANK={rank} and WORLD_SIZE={world} do not fit: need 0 <= RANK < WORLD_SIZE")
    ctx = Context(rank, world, _env_int("LOCAL_RANK", rank))
    if ctx.distributed:
        cuda = device is not None and device.type == "cuda"
        if cuda:
            torch.cuda.set_device(ctx.local_rank)  # one GPU per process, before NCCL picks one
        dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world)
    return ctx


def shard(indices: Sequence[int], ctx: Context) -> list[int]:
    """This process's part of a global batch: every ``world_size``-th index from ``rank`` (chapter 5).

    The global batch is first cut to a multiple of the world size, so that every process gets the
    same number of samples (all-gather needs equal sizes).
    """
    usable = len(indices) - len(indices) % ctx.world_size
    if usable == 0:
        raise ValueError(f"a batch of {len(indices)} samples cannot be split over {ctx.world_size} processes")
    return list(indices[:usable][ctx.rank :: ctx.world_size])


def reduce_gradients(parameters: Iterable[nn.Parameter], ctx: Context, average: bool = False) -> None:
    """All-reduce the gradients of ``parameters`` across processes, in one flat buffer (chapter 5).

    Tower parameters are *summed*: each process's gradient is its share of the gradient of the
    global-batch loss, because the loss was computed on gathered features with gradients through
    the local ones only. Parameters that act on the whole gathered matrix (the logit scale) already
    have the full gradient on every process and are *averaged* (``average=True``).
    """
    if not ctx.distributed:
        return
    import torch.distributed as dist

    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    if average:
        flat /= ctx.world_size
    offset = 0
    for grad in grads:
        grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
        offset += grad.numel()


def sync_batchnorm(module: nn.Module, ctx: Context, device: torch.device) -> nn.Module:
    """Batch norm over the global batch (``SyncBatchNorm``) on multi-GPU runs; unchanged otherwise (chapter 5)."""
    if ctx.distributed and device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return module


def barrier(ctx: Context) -> None:
    """Wait for every process (e.g. until rank 0 has written a checkpoint) (chapter 5)."""
    if ctx.distributed:
        import torch.distributed as dist

        dist.barrier()
