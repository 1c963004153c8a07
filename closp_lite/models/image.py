"""Image towers: Sentinel-1 / Sentinel-2 patches -> 384-d unit vectors (chapter 5).

Three families:

* ``small_cnn``: four strided convolutions, global average pooling and a linear projection.
  It trains in minutes on 2 CPU cores, which is what the ``sample`` mode needs.
* ``openclip_vit``: open_clip's own ``VisionTransformer`` (the image tower of CLIP models), small
  enough for the ``sample`` mode and trained from scratch. It takes 3 channels only, so it is the
  tower of the trained RGB-only baseline (``rgb=True``, chapter 6); the zero-shot baselines with a
  whole pretrained open_clip model live in :mod:`closp_lite.models.openclip`.
* ``efficientnet_lite0``: timm's EfficientNet-Lite0 (4.6 M parameters), random or, with the weights
  name ``"imagenet"``, the ImageNet network of :mod:`closp_lite.models.efficientnet` with its stem
  extended to the tower's channels: the natural-image start of progressive transfer (chapter 8).
* ``resnet50`` and ``vit_small``: torchgeo's (timm) backbones used by CLOSP-RN and CLOSP-VS in
  ``full`` mode, initialised from SSL4EO-S12 or the released CLOSP encoders through torchgeo's
  weight enums (online) or from a local state-dict file (offline).

Every tower ends with ``Linear(features, 384)`` and an L2 normalisation. Upstream CLOSP keeps
timm's randomly initialised 1000-way head and projects 1000 -> 384; here the head is dropped and the
pooled features are projected directly (one random layer fewer, same embedding size). The
open_clip ViT likewise loses its own projection matrix; its pooled class token is projected.

Input normalisation (``normalize=True``, the default of the towers trained from scratch: the small
CNN and the open_clip ViT) uses the fixed statistics
:data:`CHANNEL_STATS`, the published BigEarthNet band statistics: S1 in dB, S2 reflectance in the
model-input scale (divided by 10,000; B10 is all zero and keeps mean 0, std 1), and for RGB inputs
the same statistics of B4, B3, B2 or of VV, VH, VV - VH. Pretrained
backbones keep upstream's inputs (S2 / 10,000, S1 dB) and use ``normalize=False``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, cast

import torch
from torch import nn

from closp_lite.data.bands import N_MODEL_CHANNELS, S2_MODEL_BANDS
from closp_lite.models.text import EMBED_DIM  # image towers project into the text tower's space

Arch = Literal["small_cnn", "openclip_vit", "efficientnet_lite0", "resnet50", "vit_small"]
ARCHS: tuple[str, ...] = ("small_cnn", "openclip_vit", "efficientnet_lite0", "resnet50", "vit_small")
# Towers that normalise their inputs with CHANNEL_STATS: those trained from scratch, and
# EfficientNet, whose ImageNet inputs were scaled to about [-1, 1] (torchgeo's pretrained
# backbones keep upstream's raw inputs).
SCRATCH_ARCHS: tuple[str, ...] = ("small_cnn", "openclip_vit", "efficientnet_lite0")
# The weights name that initialises an EfficientNet tower from ImageNet (chapter 8).
IMAGENET = "imagenet"
# The open_clip ViT of the RGB baseline. A 12 px patch cuts a 120 px patch into 10 x 10 = 100
# tokens (plus the class token) without resizing; width 128 with 4 layers of 4 heads (32 dims a
# head) keeps it near 0.9 M parameters, the same order as the small CNN (0.5 M), and a training step
# about twice as long, so that it trains on 2 CPU cores in sample mode. ViT-B/32's image tower
# (width 768, 12 layers) is about 100 times larger.
OPENCLIP_VIT: dict[str, int] = {"image_size": 120, "patch_size": 12, "width": 128, "layers": 4, "heads": 4}
# ViTs have a fixed token grid, so their inputs are resized to this side (others take any size).
INPUT_SIZE: dict[str, int] = {"vit_small": 224, "openclip_vit": OPENCLIP_VIT["image_size"]}

# Published BigEarthNet statistics (S2 L2A mean/std x 10,000 per band; S1 VV/VH mean/std in dB).
_S2_STATS_X10000: dict[str, tuple[float, float]] = {
    "B1": (340.77, 554.81), "B2": (429.94, 572.42), "B3": (614.22, 582.88), "B4": (590.24, 675.89),
    "B5": (950.68, 729.90), "B6": (1792.46, 1096.01), "B7": (2075.47, 1273.45), "B8": (2218.95, 1365.46),
    "B8A": (2266.46, 1356.14), "B9": (2246.06, 1302.33), "B10": (0.0, 10_000.0),
    "B11": (1594.43, 1079.19), "B12": (1009.33, 818.87),
}  # fmt: skip
_S1_STATS_DB: dict[str, tuple[float, float]] = {"VV": (-12.62, 5.12), "VH": (-19.29, 5.46)}
CHANNEL_STATS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "s1": (tuple(m for m, _ in _S1_STATS_DB.values()), tuple(s for _, s in _S1_STATS_DB.values())),
    "s2": (
        tuple(_S2_STATS_X10000[b][0] / 10_000 for b in S2_MODEL_BANDS),
        tuple(_S2_STATS_X10000[b][1] / 10_000 for b in S2_MODEL_BANDS),
    ),
    # RGB baseline inputs (chapter 6): S2 B4, B3, B2 and S1 pseudo-RGB VV, VH, VV - VH.
    "s2_rgb": tuple(tuple(_S2_STATS_X10000[b][i] / 10_000 for b in ("B4", "B3", "B2")) for i in (0, 1)),  # type: ignore[dict-item]
    "s1_rgb": ((-12.62, -19.29, 6.67), (5.12, 5.46, 3.0)),
}

# Layers that the checkpoints leave out on purpose: the classification heads.
_HEAD_PREFIXES: tuple[str, ...] = ("fc.", "head.", "fc_norm.")


@dataclass(frozen=True)
class TowerConfig:
    """How to build one image tower (chapter 5).

    ``stats`` names an entry of :data:`CHANNEL_STATS` (default: the modality) and must match
    ``in_channels``; ``width`` is the first layer's channel count of the small CNN (the other
    architectures have fixed sizes); ``input_size`` resizes every input to that side first
    (``None``: the architecture's own size, :data:`INPUT_SIZE`, or none).
    """

    arch: Arch = "small_cnn"
    in_channels: int = 13
    stats: str = "s2"
    normalize: bool = True
    width: int = 32
    input_size: int | None = None

    def to_dict(self) -> dict:
        """Return a JSON-ready dict."""
        return asdict(self)


class Normalize(nn.Module):
    """Per-channel ``(x - mean) / std`` with fixed (non-trainable) statistics (chapter 5)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise a batch (N, C, H, W)."""
        return (x - self.mean) / self.std


def small_cnn(in_channels: int, width: int = 32) -> tuple[nn.Module, int]:
    """Return a small CNN backbone (N, C, 120, 120) -> (N, 8 * width) and its feature size (chapter 5)."""
    widths = [width, 2 * width, 4 * width, 8 * width]
    layers: list[nn.Module] = []
    previous = in_channels
    for channels in widths:
        # Stride-2 convolutions shrink 120 px to 8 px in four steps: cheap on a CPU.
        layers += [nn.Conv2d(previous, channels, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
        previous = channels
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers), previous


def openclip_vit(in_channels: int) -> tuple[nn.Module, int]:
    """Return open_clip's VisionTransformer sized by :data:`OPENCLIP_VIT`, without its projection, and its feature size (chapter 6).

    Raises:
        ValueError: for anything but 3 input channels (open_clip image towers are RGB towers).
    """
    if in_channels != 3:
        raise ValueError(
            f"the openclip_vit tower takes 3 (RGB) channels, not {in_channels}: open_clip image towers are "
            f"RGB towers, so use it for the RGB baseline with ModelConfig(arch='openclip_vit', rgb=True)"
        )
    from open_clip.transformer import VisionTransformer

    backbone = VisionTransformer(**OPENCLIP_VIT, mlp_ratio=4.0, output_dim=OPENCLIP_VIT["width"])
    # Dropped like timm's head (forward skips a None projection): the tower's Linear projects instead.
    backbone.proj = None
    return backbone, OPENCLIP_VIT["width"]


def torchgeo_backbone(arch: Arch, in_channels: int) -> tuple[nn.Module, int]:
    """Return a randomly initialised torchgeo ResNet-50 or ViT-S/16 without its head, and its feature size (chapter 5)."""
    from torchgeo import models

    if arch == "resnet50":
        backbone = models.resnet50(weights=None, in_chans=in_channels, num_classes=0)
    elif arch == "vit_small":
        backbone = models.vit_small_patch16_224(weights=None, in_chans=in_channels, num_classes=0)
    else:
        raise ValueError(f"unknown torchgeo backbone {arch!r}: choose resnet50 or vit_small")
    return backbone, int(cast(Any, backbone).num_features)


class ImageTower(nn.Module):
    """Normalise -> backbone -> Linear(features, 384) -> L2 normalise (chapter 5).

    ViT backbones get their input resized to their token grid's size (:data:`INPUT_SIZE`: 224 x 224
    for ``vit_small`` as upstream, 120 x 120 for ``openclip_vit``); ResNets and the small CNN take
    any size.
    """

    def __init__(self, config: TowerConfig) -> None:
        super().__init__()
        self.config = config
        if config.arch not in ARCHS:
            raise ValueError(f"unknown image tower {config.arch!r}: choose one of {', '.join(ARCHS)}")
        if config.stats not in CHANNEL_STATS:
            raise ValueError(f"unknown channel statistics {config.stats!r}: choose one of {', '.join(CHANNEL_STATS)}")
        mean, std = CHANNEL_STATS[config.stats]
        if len(mean) != config.in_channels:
            raise ValueError(f"statistics {config.stats!r} have {len(mean)} channels but the tower takes {config.in_channels}")
        self.normalize = Normalize(mean, std) if config.normalize else nn.Identity()
        if config.arch == "small_cnn":
            self.backbone, features = small_cnn(config.in_channels, config.width)
        elif config.arch == "openclip_vit":
            self.backbone, features = openclip_vit(config.in_channels)
        elif config.arch == "efficientnet_lite0":
            from closp_lite.models import efficientnet

            self.backbone, features = efficientnet.backbone(0, config.in_channels), efficientnet.FEATURES
        else:
            self.backbone, features = torchgeo_backbone(config.arch, config.in_channels)
        self.proj = nn.Linear(features, EMBED_DIM)

    @property
    def in_channels(self) -> int:
        """Number of input channels."""
        return self.config.in_channels

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Embed images (N, C, H, W) to (N, 384) unit vectors."""
        if images.ndim != 4 or images.shape[1] != self.in_channels:
            raise ValueError(f"this tower takes (N, {self.in_channels}, H, W) images, got {tuple(images.shape)}")
        x = resize(self.normalize(images), self.config.input_size or INPUT_SIZE.get(self.config.arch))
        return nn.functional.normalize(self.proj(self.backbone(x)), dim=-1)


def resize(images: torch.Tensor, size: int | None) -> torch.Tensor:
    """Resize a batch (N, C, H, W) to ``size`` x ``size`` (bilinear, anti-aliased when shrinking); ``None`` keeps it (chapter 5)."""
    if size is None or tuple(images.shape[-2:]) == (size, size):
        return images
    # Without anti-aliasing a shrunk SAR patch keeps single speckle pixels instead of their average.
    shrink = size < min(images.shape[-2:])
    return nn.functional.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)


def tower_for(modality: str, arch: Arch = "small_cnn", width: int = 32, rgb: bool = False, input_size: int | None = None) -> TowerConfig:
    """Return the :class:`TowerConfig` of a modality (``s1``/``s2``), optionally for RGB inputs (chapter 5)."""
    if modality not in N_MODEL_CHANNELS:
        raise ValueError(f"unknown modality {modality!r}: choose s1 or s2")
    channels = 3 if rgb else N_MODEL_CHANNELS[modality]
    # Pretrained backbones expect upstream's raw inputs, so only the towers trained from scratch normalise.
    return TowerConfig(arch, channels, f"{modality}_rgb" if rgb else modality, arch in SCRATCH_ARCHS, width, input_size)


# ---------------------------------------------------------------- pretrained weights (full mode)


def weights_enum(arch: Arch, name: str) -> object:
    """Return torchgeo's weight enum member ``name`` (e.g. ``SENTINEL1_GRD_CLOSP``) for ``arch`` (chapter 5).

    Raises:
        ValueError: if torchgeo has no such member (the message lists the Sentinel ones).
    """
    from torchgeo import models

    enum: Any = {"resnet50": models.ResNet50_Weights, "vit_small": models.ViTSmall16_Weights}.get(arch)
    if enum is None:
        raise ValueError(f"no torchgeo weights for the {arch!r} tower: use resnet50 or vit_small")
    if name not in enum.__members__:
        known = ", ".join(n for n in enum.__members__ if "SENTINEL" in n)
        raise ValueError(f"torchgeo has no {enum.__name__}.{name}; Sentinel weights are: {known}")
    return enum[name]


def weights_url(arch: Arch, name: str) -> str:
    """Return the download URL of a torchgeo weight enum member (chapter 5)."""
    return str(weights_enum(arch, name).url)  # type: ignore[attr-defined]


def fetch_weights(arch: Arch, name: str, cache_dir: str | Path) -> dict[str, torch.Tensor]:
    """Download (once, into ``cache_dir``) and return the state dict of a torchgeo weight enum member (chapter 5).

    Raises:
        ConnectionError: when the file cannot be downloaded (offline machine): pass a local file instead.
    """
    from urllib.error import URLError

    url = weights_url(arch, name)
    try:
        return torch.hub.load_state_dict_from_url(url, model_dir=str(cache_dir), map_location="cpu", progress=False, weights_only=True)
    except (URLError, OSError) as error:
        raise ConnectionError(
            f"could not download {arch} weights {name} from {url} ({error}); on an offline machine download "
            f"the file elsewhere and pass its path instead"
        ) from error


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a local state-dict file safely (``weights_only=True``) (chapter 5).

    Raises:
        FileNotFoundError: if the file does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weight file at {path}: check the path or fetch it with fetch_weights()")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state dict (got {type(state).__name__})")
    return state


def load_backbone_weights(tower: ImageTower, state: dict[str, torch.Tensor], source: str = "weights") -> None:
    """Load backbone weights into a tower, checking every layer's shape first (chapter 5).

    Only classification heads may be absent or extra; anything else is an error.

    Raises:
        ValueError: naming the layer on a shape mismatch, a missing layer or an unexpected layer.
    """
    own = tower.backbone.state_dict()
    for key, value in state.items():
        if key in own and tuple(own[key].shape) != tuple(value.shape):
            raise ValueError(
                f"{source}: layer {key!r} has shape {tuple(value.shape)} but the {tower.config.arch} tower "
                f"with {tower.in_channels} input channels needs {tuple(own[key].shape)} (wrong modality or model?)"
            )
    missing = [k for k in own if k not in state and not k.startswith(_HEAD_PREFIXES)]
    unexpected = [k for k in state if k not in own and not k.startswith(_HEAD_PREFIXES)]
    if missing or unexpected:
        raise ValueError(f"{source}: missing layers {missing[:5]}, unexpected layers {unexpected[:5]} for a {tower.config.arch} tower")
    tower.backbone.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)


def init_from(tower: ImageTower, weights: str | Path, cache_dir: str | Path | None = None) -> None:
    """Initialise a tower's backbone from a local file path or a torchgeo enum member name (chapter 5).

    A name such as ``SENTINEL2_ALL_MOCO`` or ``SENTINEL1_GRD_CLOSP`` is downloaded through torchgeo's
    URL (online only); ``"imagenet"`` gives an ``efficientnet_lite0`` tower the ImageNet weights of
    the offline package, stem extended to the tower's channels (chapter 8); anything that looks like
    a path is read locally.
    """
    text = str(weights)
    if text == IMAGENET:
        if tower.config.arch != "efficientnet_lite0":
            raise ValueError(f"ImageNet weights exist for the efficientnet_lite0 tower only, not for {tower.config.arch!r}")
        from closp_lite.models import efficientnet

        state = efficientnet.imagenet_backbone(tower.in_channels).state_dict()
    elif text.isupper() and "/" not in text and "." not in text:
        from closp_lite.config import data_dir

        state = fetch_weights(tower.config.arch, text, cache_dir or data_dir() / "weights")
    else:
        state = read_state_dict(weights)
    load_backbone_weights(tower, state, source=text)
