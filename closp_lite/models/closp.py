"""CLOSP-lite: three towers (text, Sentinel-1, Sentinel-2) meeting in one 384-d space (chapter 5).

Images are routed by channel count (2 -> S1 tower, 13 -> S2 tower) unless the modality is given.
The text tower is MiniLM, frozen by default (its embeddings are cached per caption, which makes
training on a CPU cheap) and fine-tunable with ``train_text=True``.

The RGB-only baseline (``rgb=True``, chapter 6) feeds each tower three channels instead of all the
bands: S2 -> B4, B3, B2 and S1 -> VV, VH, VV - VH (pseudo-RGB). With the default architecture it
differs from CLOSP-lite in the inputs only; ``arch="openclip_vit"`` trains open_clip's own vision
transformer (the image tower of CLIP models, RGB only, trained from scratch) instead. Either is
trained like CLOSP-lite, against the frozen MiniLM text tower. The zero-shot baselines of the
paper (RemoteCLIP, SkyCLIP: whole pretrained open_clip models with their own text tower) are
:class:`closp_lite.models.openclip.OpenClipRGB`, which reuses :func:`to_rgb` and :func:`route`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, cast, get_args

import torch
from torch import nn

from closp_lite.data.bands import S2_MODEL_BANDS, modality_from_bands
from closp_lite.models.image import Arch, ImageTower, TowerConfig, init_from, tower_for
from closp_lite.models.text import CLOSP_MAX_LENGTH, Pooling, TextEncoder

MODALITIES: tuple[str, ...] = ("s1", "s2")
ModelKind = Literal["closp", "geoclosp"]
MODEL_KINDS: tuple[str, ...] = get_args(ModelKind)
_RGB_S2 = [S2_MODEL_BANDS.index(b) for b in ("B4", "B3", "B2")]
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.pt"


@dataclass
class ModelConfig:
    """Everything needed to rebuild a :class:`CLOSP` model (chapter 5)."""

    arch: Arch = "small_cnn"
    width: int = 32
    rgb: bool = False
    pooling: Pooling = "cls"
    max_length: int = CLOSP_MAX_LENGTH
    train_text: bool = False
    weights: dict[str, str] = field(default_factory=dict)  # modality -> local file, torchgeo enum name or "imagenet"
    input_size: int | None = None  # resize images to this side first (None: each tower's own size)
    kind: ModelKind = "closp"  # "geoclosp" adds a location encoder (chapter 7)
    location_trainable: bool = False  # GeoCLOSP only: learn the SIREN too (default frozen, as upstream)

    def tower(self, modality: str) -> TowerConfig:
        """Return the tower configuration of ``modality``."""
        return tower_for(modality, self.arch, self.width, self.rgb, self.input_size)


def to_rgb(images: torch.Tensor, modality: str) -> torch.Tensor:
    """Reduce model-ready images to the RGB baseline's 3 channels (chapter 6).

    S2 (13 ch) -> B4, B3, B2; S1 (2 ch, dB) -> VV, VH, VV - VH.
    """
    if modality == "s2":
        return images[:, _RGB_S2]
    if modality == "s1":
        return torch.cat([images, images[:, :1] - images[:, 1:2]], dim=1)
    raise ValueError(f"unknown modality {modality!r}: choose s1 or s2")


def route(images: torch.Tensor, modality: str | None = None) -> str:
    """Return the modality of a model-ready batch: ``modality`` if given, else from the channel count (chapter 5).

    Raises:
        ValueError: for a non-batch, 12 channels (stored S2 bands, not model inputs), an unknown
            channel count, or a ``modality`` that contradicts the channel count.
    """
    if images.ndim != 4:
        raise ValueError(f"expected a batch (N, C, H, W), got shape {tuple(images.shape)}")
    if images.shape[1] == 12:
        raise ValueError("got 12 channels: S2 model inputs have 13 (bands.to_model_input inserts B10)")
    found = modality_from_bands(images.shape[1])
    if modality is not None and modality != found:
        raise ValueError(f"images have {images.shape[1]} channels ({found}) but modality={modality!r} was given")
    return found


class CLOSP(nn.Module):
    """Text, S1 and S2 towers in one 384-d space (chapter 5)."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        self.text = TextEncoder(self.config.pooling, self.config.max_length, trainable=self.config.train_text)
        self.towers = nn.ModuleDict({m: ImageTower(self.config.tower(m)) for m in MODALITIES})
        for modality, weights in self.config.weights.items():
            if modality not in self.towers:
                raise ValueError(f"weights given for unknown modality {modality!r}: use s1 or s2")
            init_from(cast(ImageTower, self.towers[modality]), weights)

    def image_parameters(self) -> list[nn.Parameter]:
        """Parameters the optimiser trains (image towers, plus the text tower when fine-tuned)."""
        return [p for p in self.parameters() if p.requires_grad]

    def route(self, images: torch.Tensor, modality: str | None = None) -> str:
        """Return the modality of a batch: ``modality`` if given, else from the channel count."""
        return route(images, modality)

    def encode_image(self, images: torch.Tensor, modality: str | None = None) -> torch.Tensor:
        """Embed model-ready images (N, 2 or 13, H, W) to (N, 384) unit vectors (chapter 5)."""
        modality = self.route(images, modality)
        if self.config.rgb:
            images = to_rgb(images, modality)
        return self.towers[modality](images)

    def features(self, images: torch.Tensor, batch: Mapping[str, Any], modality: str | None = None) -> tuple[torch.Tensor, ...]:
        """The training features of one modality's batch: (image, text) embeddings (chapter 5).

        ``batch`` is a collated sample dict (``text``, ``lonlat``, ...); ``images`` its (possibly
        flipped) images on the model's device. GeoCLOSP adds the location embedding (chapter 7).
        """
        return self.encode_image(images, modality), self.encode_text(batch["text"])

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """Embed captions or queries to (N, 384) unit vectors on the model's device (chapter 5).

        A frozen text tower uses its per-caption cache; a fine-tuned one keeps gradients.
        """
        device = next(self.towers.parameters()).device
        if self.config.train_text:
            return self.text(texts)
        return self.text.encode(texts).to(device)

    def save(self, folder: str | Path) -> Path:
        """Write ``config.json`` and ``model.pt`` (state dict) to ``folder``; return the folder (chapter 5)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CONFIG_FILE).write_text(json.dumps(asdict(self.config), indent=2))
        atomic_save(self.trainable_state(), folder / WEIGHTS_FILE)
        return folder

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """State dict without the frozen text tower (which always comes from the offline package)."""
        state = self.state_dict()
        if self.config.train_text:
            return state
        return {k: v for k, v in state.items() if not k.startswith("text.")}

    def load_trainable_state(
        self, state: Mapping[str, torch.Tensor], source: str = "the state", against: str = "this model", advice: str = "wrong architecture or settings?"
    ) -> None:
        """Load a state written by :meth:`trainable_state`, every tensor checked by name and shape (chapters 5, 10).

        The one check of a run folder's ``model.pt`` (:meth:`load`) and of a checkpoint that a run
        resumes from (:func:`closp_lite.training.train`). Names a wrapper adds are dropped first
        (:func:`unwrapped_name`: ``_orig_mod.`` of ``torch.compile``, a leading ``module.`` of DDP),
        so a state taken from a compiled or DDP-wrapped model loads into the plain one.

        Raises:
            ValueError: naming the missing, unexpected and misshapen tensors (``source`` does not
                match ``against``), e.g. a state of another architecture or width.
        """
        named: dict[str, torch.Tensor] = {}
        saved_as: dict[str, str] = {}
        for name, value in state.items():
            key = unwrapped_name(name)
            if key in named:
                raise ValueError(f"{source} does not match {against}: {saved_as[key]!r} and {name!r} are the same tensor {key!r}; {advice}")
            named[key], saved_as[key] = value, name
        expected = self.trainable_state()
        missing, unexpected = sorted(set(expected) - set(named)), sorted(set(named) - set(expected))
        shapes = [f"{k} {tuple(v.shape)} (model: {tuple(expected[k].shape)})" for k, v in named.items() if k in expected and v.shape != expected[k].shape]
        problems = [f"{what} {names[:5]}{f' and {len(names) - 5} more' if len(names) > 5 else ''}"
                    for what, names in (("missing", missing), ("unexpected", unexpected), ("layer shapes", shapes)) if names]  # fmt: skip
        if problems:
            raise ValueError(f"{source} does not match {against}: {'; '.join(problems)}; {advice}")
        # Every trainable tensor was checked above; strict=False only lets the frozen text tower (never saved) keep its weights.
        self.load_state_dict(named, strict=False)

    def warm_start(self, path: str | Path) -> None:
        """Start from the tensors of a state-dict file, e.g. a previous training stage (chapter 8).

        The file may hold a part of the model (e.g. one tower), but every tensor in it must exist
        in this model with the same shape.

        Raises:
            FileNotFoundError: if the file is missing. ValueError: naming the first unknown or misshapen tensor.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no initial weights at {path}: write them first (closp_lite.transfer) or drop the init setting")
        state = torch.load(path, map_location="cpu", weights_only=True)
        own = self.state_dict()
        for name, value in state.items():
            if name not in own or own[name].shape != value.shape:
                found = tuple(own[name].shape) if name in own else "no such tensor"
                raise ValueError(f"{path}: tensor {name!r} {tuple(value.shape)} does not fit this model ({found}): wrong architecture?")
        self.load_state_dict(state, strict=False)

    @classmethod
    def load(cls, folder: str | Path, map_location: str | torch.device = "cpu") -> CLOSP:
        """Rebuild a model saved with :meth:`save` (``weights_only=True``) (chapter 5).

        The model kind recorded in ``config.json`` decides the class (CLOSP or GeoCLOSP).

        Raises:
            FileNotFoundError: if ``config.json`` or ``model.pt`` is missing. ValueError: if they
                come from different runs (:meth:`load_trainable_state`).
        """
        folder = Path(folder)
        for name in (CONFIG_FILE, WEIGHTS_FILE):
            if not (folder / name).is_file():
                raise FileNotFoundError(f"no {name} in {folder}: is it a run folder written by `closp-lite train`?")
        settings = json.loads((folder / CONFIG_FILE).read_text())
        settings["weights"] = {}  # the saved state dict already holds the initial weights
        model = build_model(ModelConfig(**settings))
        from closp_lite.runfolder import load_torch_file

        state = load_torch_file(folder / WEIGHTS_FILE, "model", "train the model again (closp-lite train --overwrite)")
        model.load_trainable_state(state, str(folder / WEIGHTS_FILE), str(folder / CONFIG_FILE), "the files come from different runs")
        return model.to(map_location).eval()


def unwrapped_name(name: str) -> str:
    """A parameter name without the prefixes wrappers add: ``_orig_mod.`` (``torch.compile``), ``module.`` (DDP) (chapter 10).

    ``torch.compile`` may wrap any submodule, so ``_orig_mod.`` is dropped wherever it appears;
    DDP wraps the whole model only, so ``module.`` is dropped at the start (a layer may be named
    ``module``).
    """
    parts = [part for part in name.split(".") if part != "_orig_mod"]
    while len(parts) > 1 and parts[0] == "module":
        parts.pop(0)
    return ".".join(parts)


def build_model(config: ModelConfig) -> CLOSP:
    """Build the model of ``config.kind``: :class:`CLOSP` or GeoCLOSP (chapters 5, 7).

    Raises:
        ValueError: for an unknown kind.
    """
    if config.kind == "geoclosp":
        from closp_lite.models.geoclosp import GeoCLOSP

        return GeoCLOSP(config)
    if config.kind != "closp":
        raise ValueError(f"unknown model kind {config.kind!r}: choose one of {', '.join(MODEL_KINDS)}")
    return CLOSP(config)


def atomic_save(obj: object, path: str | Path) -> None:
    """``torch.save`` to a temporary file, then ``os.replace``: a crash never leaves half a file (chapter 5)."""
    import os

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
