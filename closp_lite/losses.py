"""The CLOSP loss: text as the bridge between Sentinel-1 and Sentinel-2 (chapter 5).

For each modality m, the images of that modality and their captions form one B x B similarity
matrix ``S_m = scale * img_m @ txt_m.T``; the loss is the symmetric cross-entropy
``(CE(S_m, T) + CE(S_m.T, T)) / 2``. S1 and S2 never share a matrix: the text tower is the only
bridge between them. The step loss is the mean over the modalities present.

* Faithful default: fixed logit scale 1.0 and diagonal targets ``T = I`` (upstream CLOSP).
* ``learnable_scale=True``: CLIP's learnable temperature, initialised at 1/0.07 and clamped at 100.
* ``label_aware=True``: multi-positive targets, where every pair with the same caption (or label set)
  counts as a positive and each target row is normalised to sum to 1.

GeoCLOSP (:class:`GeoClospLoss`, chapter 7) adds two location terms per modality:
``1/4 [CE(img->txt) + CE(txt->img) + CE(loc->img) + CE(img->loc)]``.

Features are all-gathered across processes before the matrices are built, so a multi-GPU run
compares every image with every caption of the global batch; with one process nothing changes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import nn

CLIP_INIT_SCALE = 1 / 0.07
CLIP_MAX_SCALE = 100.0


def gather_features(features: torch.Tensor) -> torch.Tensor:
    """Concatenate ``features`` from all processes along dim 0, keeping the local gradient (chapter 5).

    With no process group (or world size 1) the input is returned unchanged. The local slice is
    put back in place so gradients flow to this process's own features (the others' are constants).
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return features
    parts = [torch.zeros_like(features) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, features.contiguous())
    parts[dist.get_rank()] = features
    return torch.cat(parts, dim=0)


def gather_keys(keys: Sequence[str]) -> list[str]:
    """All-gather a list of strings (captions) across processes; unchanged with one process (chapter 5)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return list(keys)
    parts: list[list[str] | None] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, list(keys))
    return [k for part in parts for k in (part or [])]


def positive_targets(keys: Sequence[str] | None, n: int, device: torch.device | None = None) -> torch.Tensor:
    """Return the (n, n) target matrix: identity, or rows over equal keys normalised to 1 (chapter 5).

    ``keys`` are captions or joined label sets; ``None`` gives diagonal (faithful) targets.
    """
    if keys is None:
        return torch.eye(n, device=device)
    if len(keys) != n:
        raise ValueError(f"got {len(keys)} caption keys for {n} images: pass one key per image")
    ids = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    codes = torch.tensor([ids[k] for k in keys], device=device)
    same = (codes[:, None] == codes[None, :]).float()
    return same / same.sum(dim=1, keepdim=True)


def contrastive_loss(
    image: torch.Tensor, text: torch.Tensor, scale: torch.Tensor | float = 1.0, targets: torch.Tensor | None = None
) -> torch.Tensor:
    """Symmetric InfoNCE between matched rows of ``image`` and ``text`` (N, D) (chapter 5).

    ``targets`` (N, N) are soft labels (rows summing to 1); ``None`` means the diagonal.
    """
    if image.shape != text.shape:
        raise ValueError(f"image features {tuple(image.shape)} and text features {tuple(text.shape)} must match")
    logits = scale * image @ text.T
    if targets is None:
        labels = torch.arange(len(image), device=image.device)
        return (nn.functional.cross_entropy(logits, labels) + nn.functional.cross_entropy(logits.T, labels)) / 2
    # Equal keys make the target matrix symmetric, so its transpose serves the text->image direction.
    return (nn.functional.cross_entropy(logits, targets) + nn.functional.cross_entropy(logits.T, targets.T)) / 2


class ClospLoss(nn.Module):
    """Per-modality symmetric InfoNCE, averaged over modalities (chapter 5).

    Args:
        learnable_scale: learn the logit scale (CLIP: init 1/0.07, clamped at 100) instead of the
            fixed 1.0 of upstream CLOSP.
        label_aware: treat samples with the same key (caption) as positives.
    """

    def __init__(self, learnable_scale: bool = False, label_aware: bool = False) -> None:
        super().__init__()
        self.learnable_scale = learnable_scale
        self.label_aware = label_aware
        # Stored as a log so the optimiser works on an unconstrained number, as CLIP does.
        init = math.log(CLIP_INIT_SCALE if learnable_scale else 1.0)
        self.log_scale = nn.Parameter(torch.tensor(init), requires_grad=learnable_scale)

    @property
    def scale(self) -> torch.Tensor:
        """The current logit scale (``exp(log_scale)`` clamped at 100)."""
        return self.log_scale.exp().clamp(max=CLIP_MAX_SCALE)

    def modality_loss(
        self, image: torch.Tensor, text: torch.Tensor, keys: Sequence[str] | None = None, gather: bool = True
    ) -> torch.Tensor:
        """Loss of one modality's images against their captions, gathered across processes unless ``gather=False``."""
        if gather:
            image, text = gather_features(image), gather_features(text)
        targets = None
        if self.label_aware:
            if keys is None:
                raise ValueError("label_aware=True needs the captions (keys) of every image")
            targets = positive_targets(gather_keys(keys) if gather else list(keys), len(image), image.device)
        return contrastive_loss(image, text, self.scale, targets)

    def features_loss(self, features: tuple[torch.Tensor, ...], keys: Sequence[str] | None = None, gather: bool = True) -> torch.Tensor:
        """Loss of one modality's feature tuple: ``(image, text)`` here, ``(image, text, location)`` for GeoCLOSP."""
        if len(features) != 2:
            raise ValueError(f"ClospLoss takes (image, text) features, got {len(features)}: use GeoClospLoss for GeoCLOSP")
        return self.modality_loss(features[0], features[1], keys, gather)

    def forward(
        self,
        features: Mapping[str, tuple[torch.Tensor, ...]],
        keys: Mapping[str, Sequence[str]] | None = None,
        gather: bool = True,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Return the step loss and the per-modality values.

        ``features`` maps a modality (``"s1"``, ``"s2"``) to ``(image_features, text_features)``
        (GeoCLOSP: ``(image, text, location)``);
        ``keys`` maps it to the captions (needed when ``label_aware``). ``gather=False`` keeps each
        process's features to itself (validation, where every process sees the whole set).
        """
        if not features:
            raise ValueError("no modality in the batch: pass at least one of s1, s2")
        losses = {m: self.features_loss(feats, (keys or {}).get(m), gather) for m, feats in features.items()}
        total = torch.stack(list(losses.values())).mean()
        return total, {m: float(v.detach()) for m, v in losses.items()}


class GeoClospLoss(ClospLoss):
    """The GeoCLOSP loss per modality: ``1/4 [CE(img->txt) + CE(txt->img) + CE(loc->img) + CE(img->loc)]`` (chapter 7).

    The image <-> text half is :class:`ClospLoss`'s (same scale and targets options); the
    location <-> image half uses the same logit scale and diagonal targets, because every patch
    has its own place (label-aware targets describe captions, not places). The faithful default is
    scale 1.0 with diagonal targets, as upstream.
    """

    def features_loss(self, features: tuple[torch.Tensor, ...], keys: Sequence[str] | None = None, gather: bool = True) -> torch.Tensor:
        """Four-term loss of one modality's ``(image, text, location)`` features."""
        if len(features) != 3:
            raise ValueError("GeoClospLoss needs (image, text, location) features: train a GeoCLOSP model (ModelConfig(kind='geoclosp'))")
        image, text, location = features
        semantic = self.modality_loss(image, text, keys, gather)
        if gather:
            image, location = gather_features(image), gather_features(location)
        return (semantic + contrastive_loss(location, image, self.scale)) / 2


def make_loss(kind: str = "closp", learnable_scale: bool = False, label_aware: bool = False) -> ClospLoss:
    """The loss of a model kind: :class:`ClospLoss` or :class:`GeoClospLoss` (chapters 5, 7)."""
    if kind not in ("closp", "geoclosp"):
        raise ValueError(f"unknown model kind {kind!r}: choose closp or geoclosp")
    return (GeoClospLoss if kind == "geoclosp" else ClospLoss)(learnable_scale, label_aware)
