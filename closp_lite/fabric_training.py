"""Full-mode training steps through Lightning Fabric: DDP from torchrun, bfloat16, the gradient cache (chapter 10).

Chapter 5's loop reduces the gradients of several processes itself, to show how
(:mod:`closp_lite.distributed`). Full mode hands that to a maintained wrapper: Lightning Fabric's
DDP strategy, set up from the variables ``torchrun`` exports (one process per GPU, any number of
nodes), which also broadcasts rank 0's weights at the start and applies the precision (bfloat16
autocast on GPUs). The loss is unchanged: :class:`closp_lite.losses.ClospLoss` all-gathers the
features of every process with gradients through the local ones, so each process holds *its
share* of the gradient of the global batch's loss. DDP *averages* gradients, so each process
back-propagates ``world_size x`` its loss: the average of the scaled shares is their sum, exactly
chapter 5's reduction. The logit scale lives in the loss, outside DDP, and every process already
has its whole gradient.

With ``accumulation > 1`` a step runs the gradient cache (:func:`closp_lite.streaming.gradient_cache`)
over that many micro-batches: plain accumulation would give each micro-batch only its own
negatives, the cache keeps the loss of the whole batch. DDP synchronises once, on the last
micro-batch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from closp_lite.losses import ClospLoss
from closp_lite.models.closp import CLOSP
from closp_lite.streaming import Features, Precision, gradient_cache

__all__ = ["FabricStep", "StepFeatures", "fabric_from_env"]

FABRIC_PRECISION = {"fp32": "32-true", "bf16": "bf16-mixed"}


class StepFeatures(nn.Module):
    """The model's features of every modality of a step in one ``forward``, the call DDP wraps (chapter 10).

    ``forward(images, parts)`` maps ``{modality: images}`` (flipped, on the device) and
    ``{modality: collated batch}`` to ``{modality: (image, text[, location]) features}``.
    """

    def __init__(self, model: CLOSP) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: Mapping[str, torch.Tensor], parts: Mapping[str, Mapping[str, Any]]) -> Features:
        """Features per modality (:meth:`closp_lite.models.closp.CLOSP.features`)."""
        return {m: self.model.features(images[m], parts[m], m) for m in images}


def fabric_from_env(device: torch.device, precision: Precision, find_unused: bool = False) -> Any:
    """A launched Lightning Fabric for this process: DDP over ``torchrun``'s processes, or one device without torchrun (chapter 10).

    ``torchrun`` exports ``WORLD_SIZE`` and ``LOCAL_WORLD_SIZE``; Fabric reads the ranks and the
    rendezvous from the same variables (and reuses a process group that is already joined).
    ``find_unused`` lets DDP accept parameters a step does not use (training one modality only).
    """
    from lightning.fabric import Fabric
    from lightning.fabric.strategies import DDPStrategy

    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    options: dict[str, Any] = {"accelerator": device.type, "precision": FABRIC_PRECISION[precision]}
    if world > 1:
        if world % local:
            raise ValueError(f"WORLD_SIZE={world} is not a multiple of LOCAL_WORLD_SIZE={local}: start every node with the same --nproc_per_node")
        options |= {"strategy": DDPStrategy(find_unused_parameters=find_unused), "devices": local, "num_nodes": world // local}
    else:
        options |= {"devices": [device.index or 0] if device.type == "cuda" else 1}
    fabric = Fabric(**options)
    fabric.launch()
    return fabric


def _part(batch: Mapping[str, Any], rows: torch.Tensor) -> dict[str, Any]:
    """The ``rows`` of a collated batch: tensors indexed, lists picked."""
    index = rows.tolist()
    return {name: value[rows] if isinstance(value, torch.Tensor) else [value[i] for i in index] for name, value in batch.items()}


@dataclass
class FabricStep:
    """Forward and backward of one full-mode step under Fabric (chapter 10).

    ``features`` is the plain :class:`StepFeatures`, ``wrapped`` the same module after
    ``fabric.setup_module`` (DDP with several processes).
    """

    fabric: Any
    features: StepFeatures
    wrapped: Any
    loss_fn: ClospLoss
    accumulation: int = 1

    @classmethod
    def setup(cls, fabric: Any, model: CLOSP, loss_fn: ClospLoss, accumulation: int = 1, compile_model: bool = False) -> FabricStep:
        """Wrap ``model`` for ``fabric`` (DDP broadcasts rank 0's weights to every process), ``torch.compile``-d if asked.

        Fabric compiles after wrapping in DDP, as DDP needs; the gradient cache's pass without
        activations runs the plain module.

        Raises:
            ValueError: for ``accumulation`` < 1.
        """
        if accumulation < 1:
            raise ValueError(f"accumulation must be 1 (no gradient cache) or more micro-batches per step, got {accumulation}")
        features = StepFeatures(model)
        module: Any = features
        if compile_model:
            # The frozen text tower's cache lookup branches on the caption strings: traced, it guards the
            # step on them and recompiles for every new batch of captions until dynamo gives up. It is
            # excluded here, not by a decorator in models/text.py, whose import of torch._dynamo would
            # cost every kernel about 150 MB even when nothing is compiled.
            model.text.encode = torch.compiler.disable(model.text.encode)  # type: ignore[method-assign]
            module = torch.compile(features)
        return cls(fabric, features, fabric.setup_module(module), loss_fn, accumulation)

    def _scaled_backward(self, tensor: torch.Tensor, sync: bool = True) -> None:
        # DDP averages over processes; each holds its share of the global loss's gradient, so W x shares average to their sum.
        with self.fabric.no_backward_sync(self.wrapped, enabled=not sync):
            self.fabric.backward(tensor * self.fabric.world_size)

    def backward(self, images: Mapping[str, torch.Tensor], batch: Mapping[str, Mapping[str, Any]], keys: Mapping[str, list[str]]) -> dict[str, float]:
        """Back-propagate the step loss of ``{modality: images}`` (already flipped, on the device); return the losses.

        Leaves the gradients of the global batch in the model (towers) and the loss (logit scale),
        with ``accumulation`` micro-batches of activations at a time.
        """
        values: dict[str, float] = {}

        def loss_of(features: Features) -> torch.Tensor:
            loss, parts = self.loss_fn(features, keys)
            values.update(parts)
            return loss

        if self.accumulation == 1:
            loss = loss_of(self.wrapped(images, batch))
            self._scaled_backward(loss)
            for p in self.loss_fn.parameters():
                if p.grad is not None:
                    p.grad /= self.fabric.world_size  # outside DDP: the loss already gave every process the whole gradient
        else:
            rows = {m: torch.arange(len(x)).tensor_split(self.accumulation) for m, x in images.items()}
            if min(len(x) for x in images.values()) < self.accumulation:
                raise ValueError(f"a batch of {min(len(x) for x in images.values())} samples cannot be cut into {self.accumulation} micro-batches")

            def encode(i: int) -> Features:
                with self.fabric.autocast():
                    module = self.wrapped if torch.is_grad_enabled() else self.features  # no DDP hooks for the pass without activations
                    return module({m: x[rows[m][i]] for m, x in images.items()}, {m: _part(batch[m], rows[m][i]) for m in images})

            loss = gradient_cache(encode, self.accumulation, loss_of, self._scaled_backward)
        return {"loss": sum(values.values()) / len(values), **values}
