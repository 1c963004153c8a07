"""The paper's released image encoders (CLOSP, GeoCLOSP) as closp-lite towers (chapter 10).

torchgeo registers the released encoders as weight enum members (``ResNet50_Weights.SENTINEL1_GRD_CLOSP``
and so on). They are **backbones only**: the 1000 -> 384 projections into the text space were not
released, so a model built here starts from the paper's backbones and needs a short training run
(``closp-lite train --mode full --data PATH --config released.toml``) before its embeddings can be
searched with text.

Online, :func:`released_config` names the enum members and torchgeo's URLs are downloaded once.
Offline, pass the downloaded files: each is checked against its tower layer by layer
(:func:`closp_lite.models.image.load_backbone_weights`), so an S1 file given for the S2 tower, or a
ViT file for a ResNet, fails with the layer that does not fit.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from closp_lite.data.bands import N_MODEL_CHANNELS
from closp_lite.models.closp import CLOSP, ModelConfig
from closp_lite.models.image import Arch, weights_enum

#: (variant, arch) -> modality -> torchgeo weight enum member.
RELEASED: dict[tuple[str, str], dict[str, str]] = {
    ("closp", "resnet50"): {"s1": "SENTINEL1_GRD_CLOSP", "s2": "SENTINEL2_ALL_CLOSP"},
    ("geoclosp", "resnet50"): {"s1": "SENTINEL1_GRD_GEOCLOSP", "s2": "SENTINEL2_ALL_GEOCLOSP"},
    ("closp", "vit_small"): {"s1": "SENTINEL1_GRD_CLOSP", "s2": "SENTINEL2_ALL_CLOSP"},
}

__all__ = ["RELEASED", "released_config", "released_model"]


def released_config(variant: str = "closp", arch: Arch = "resnet50", files: Mapping[str, str | Path] | None = None) -> ModelConfig:
    """A :class:`ModelConfig` whose towers start from the released encoders (chapter 10).

    Args:
        variant: ``closp`` or ``geoclosp`` (GeoCLOSP: ResNet-50 only).
        arch: ``resnet50`` (CLOSP-RN) or ``vit_small`` (CLOSP-VS).
        files: modality -> local weight file (offline); missing modalities use the enum name (online).

    Raises:
        ValueError: for an unreleased combination, or an enum member whose channel count does not
            match its modality.
    """
    names = RELEASED.get((variant, arch))
    if names is None:
        raise ValueError(f"no released {variant!r} encoders for {arch!r}: choose one of {sorted(RELEASED)}")
    for modality, name in names.items():
        channels = weights_enum(arch, name).meta["in_chans"]  # type: ignore[attr-defined]
        if channels != N_MODEL_CHANNELS[modality]:
            raise ValueError(f"{name} takes {channels} channels but {modality} inputs have {N_MODEL_CHANNELS[modality]}")
    weights = {m: str((files or {}).get(m, name)) for m, name in names.items()}
    return ModelConfig(arch=arch, weights=weights)


def released_model(variant: str = "closp", arch: Arch = "resnet50", files: Mapping[str, str | Path] | None = None) -> CLOSP:
    """A :class:`CLOSP` model with the released backbones loaded (shape-checked) and untrained projections (chapter 10)."""
    return CLOSP(released_config(variant, arch, files))
