"""Image tokens for the heads that talk about images: captioner and VQA model (chapter 9).

A retrieval tower squeezes a patch into one 384-d vector; a captioner that must say *where* the
water is needs the spatial grid before the pooling. :class:`TokenEncoder` holds one image tower
per modality (built by :mod:`closp_lite.models.image` from a :class:`TowerConfig`, so any tower
works) and returns a sequence of ``d_model``-wide tokens:

* the small CNN gives its last feature map, one token per cell (8 x 8 at 120 px, 4 x 4 at 60 px);
* EfficientNet-Lite0 gives its last feature map too (timm's ``forward_features``: 1280 channels,
  stride 32, so 2 x 2 cells at 60 px);
* any other tower gives its 384-d embedding as a single token (no spatial grid to read).

A learned position embedding tells the decoder which cell a token came from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

import torch
from torch import nn

from closp_lite.models.image import Arch, ImageTower, resize, tower_for

MAX_TOKENS = 256


def feature_grid(tower: ImageTower) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The part of the tower's backbone that ends at its last feature map (N, C, h, w), or ``None`` (chapter 9).

    A small CNN ends in (pool, flatten): everything before them; an EfficientNet: timm's
    ``forward_features`` (everything before its pooling).
    """
    backbone = tower.backbone
    if isinstance(backbone, nn.Sequential) and isinstance(backbone[-1], nn.Flatten) and isinstance(backbone[-2], nn.AdaptiveAvgPool2d):
        return backbone[:-2]
    if tower.config.arch == "efficientnet_lite0":
        return cast(Callable[[torch.Tensor], torch.Tensor], backbone.forward_features)
    return None


def image_tokens(tower: ImageTower, images: torch.Tensor) -> torch.Tensor:
    """Return the tower's tokens of a batch (N, C, H, W): (N, cells, features) or (N, 1, 384) (chapter 9)."""
    grid = feature_grid(tower)
    if grid is None:
        return tower(images).unsqueeze(1)
    return grid(resize(tower.normalize(images), tower.config.input_size)).flatten(2).transpose(1, 2)


class TokenEncoder(nn.Module):
    """One image tower per modality, its tokens projected to ``d_model`` plus a position embedding (chapter 9)."""

    def __init__(self, modalities: Sequence[str], d_model: int, arch: Arch = "small_cnn", width: int = 32) -> None:
        super().__init__()
        if not modalities:
            raise ValueError("a token encoder needs at least one modality (s1 and/or s2)")
        self.towers = nn.ModuleDict({m: ImageTower(tower_for(m, arch, width)) for m in modalities})
        sizes = {m: self._token_size(self.tower(m)) for m in self.towers}
        self.proj = nn.ModuleDict({m: nn.Linear(size, d_model) for m, size in sizes.items()})
        self.position = nn.Parameter(torch.randn(MAX_TOKENS, d_model) * 0.02)

    def tower(self, modality: str) -> ImageTower:
        """The image tower of ``modality``."""
        if modality not in self.towers:
            raise ValueError(f"this model has no {modality!r} tower (it has {', '.join(self.towers)})")
        tower = self.towers[modality]
        assert isinstance(tower, ImageTower)
        return tower

    @staticmethod
    def _token_size(tower: ImageTower) -> int:
        was_training = tower.training
        tower.eval()
        with torch.no_grad():
            size = image_tokens(tower, torch.zeros(1, tower.in_channels, 32, 32)).shape[-1]
        tower.train(was_training)
        return int(size)

    def forward(self, images: torch.Tensor, modality: str) -> torch.Tensor:
        """Tokens (N, T, d_model) of a batch of one modality."""
        tower = self.tower(modality)
        tokens = self.proj[modality](image_tokens(tower, images))
        if tokens.shape[1] > MAX_TOKENS:
            raise ValueError(f"{tokens.shape[1]} image tokens exceed {MAX_TOKENS}: use smaller images")
        return tokens + self.position[: tokens.shape[1]]

    def carry_over(self, source: str = "s2", target: str = "s1") -> None:
        """Progressive transfer: start the ``target`` tower and projection from the ``source`` ones (chapter 9)."""
        from closp_lite.finetune import transplant

        transplant(self.towers[source], self.towers[target])
        transplant(self.proj[source], self.proj[target])
