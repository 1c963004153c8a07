"""Zero-shot open_clip baselines: a whole pretrained CLIP model on RGB composites (chapter 6).

The baselines the paper compares against (RemoteCLIP, SkyCLIP) are open_clip CLIP models
fine-tuned on RGB remote-sensing images. Each brings an image tower *and* its own text tower and
tokenizer, so it searches in its own embedding space, not MiniLM's, and nothing is trained here.
:class:`OpenClipRGB` makes such a model take closp_lite's model-ready batches:

batch (S1: 2 channels in dB; S2: 13 channels, reflectance / 10,000) -> routed by channel count
(:func:`~closp_lite.models.closp.route`) -> :func:`~closp_lite.models.closp.to_rgb` -> a fixed
stretch to [0, 1] (:func:`rgb_composite`) -> resized to the model's image size -> normalised with
the model's mean and std (open_clip's preprocess configuration, ``OPENAI_DATASET_MEAN``/``STD``
unless the pretrained tag says otherwise) -> ``model.encode_image`` -> L2-normalised.

The stretch is the same for every patch (no per-image contrast), so a brightness means the same
reflectance or backscatter everywhere:

* S2 true colour: B4, B3, B2 reflectance x :data:`S2_TRUE_COLOUR_GAIN` (2.5), clipped to [0, 1]:
  reflectance 0.4 and above is white, the usual gain of Sentinel-2 true-colour pictures.
* S1 pseudo-RGB: VV in [-25, 0] dB, VH in [-30, -5] dB and VV - VH in [0, 15] dB
  (:data:`S1_PSEUDO_RGB_DB`) mapped linearly to [0, 1] and clipped. Each range covers about
  2.5 standard deviations either side of the BigEarthNet mean
  (:data:`~closp_lite.models.image.CHANNEL_STATS` ``s1_rgb``), rounded to whole dB.

Weights (``pretrained``) come from, in the order they are recognised:

* ``None``: random weights (tests and teaching only);
* ``hf-hub:org/repo/file.pt`` (one file of a Hugging Face repository, e.g.
  ``hf-hub:chendelong/RemoteCLIP/RemoteCLIP-ViT-B-32.pt`` with ``model_name="ViT-B-32"``) or
  ``hf-hub:org/repo`` (its ``open_clip_pytorch_model.bin``), downloaded once (online only);
* an ``http(s)://`` URL of a checkpoint, downloaded once (online only);
* an open_clip pretrained tag of ``model_name`` (``open_clip.list_pretrained_tags_by_model``),
  downloaded once (online only);
* anything else is a local checkpoint file (a state dict, read with ``weights_only=True``): the
  offline way. ``model_name`` must then be the architecture the checkpoint was trained with.

A failed download raises :class:`ConnectionError` that says to pass a local file instead.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from closp_lite.models.closp import route, to_rgb

S2_TRUE_COLOUR_GAIN = 2.5
# (low, high) dB of the pseudo-RGB channels VV, VH and VV - VH.
S1_PSEUDO_RGB_DB: tuple[tuple[float, float], ...] = ((-25.0, 0.0), (-30.0, -5.0), (0.0, 15.0))
HF_HUB_PREFIX = "hf-hub:"
# Suffixes that make an unrecognised ``pretrained`` string a (missing) file rather than a mistyped tag.
_CHECKPOINT_SUFFIXES: tuple[str, ...] = (".pt", ".pth", ".bin", ".safetensors", ".ckpt")


def rgb_composite(images: torch.Tensor, modality: str | None = None) -> torch.Tensor:
    """Turn model-ready S1 or S2 images (N, 2 or 13, H, W) into RGB pictures (N, 3, H, W) in [0, 1] (chapter 6).

    S2: true colour (B4, B3, B2) x 2.5, clipped. S1: VV, VH, VV - VH stretched over fixed dB ranges
    (:data:`S1_PSEUDO_RGB_DB`), clipped.
    """
    modality = route(images, modality)
    rgb = to_rgb(images, modality)
    if modality == "s2":
        return (rgb * S2_TRUE_COLOUR_GAIN).clamp(0.0, 1.0)
    low, high = (torch.tensor(bound, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1) for bound in zip(*S1_PSEUDO_RGB_DB))
    return ((rgb - low) / (high - low)).clamp(0.0, 1.0)


def _download_source(model_name: str, pretrained: str) -> dict[str, Any] | None:
    """The open_clip download configuration of ``pretrained``, or None for a local file."""
    import open_clip

    if pretrained.startswith(HF_HUB_PREFIX):
        repo = pretrained[len(HF_HUB_PREFIX) :].strip("/")
        # open_clip reads "org/repo/file" as a file of a repository and "org/repo/" as its default file.
        return {"hf_hub": repo if repo.count("/") >= 2 else repo + "/"}
    if pretrained.startswith(("http://", "https://")):
        return {"url": pretrained}
    return open_clip.get_pretrained_cfg(model_name, pretrained) or None


def checkpoint_file(model_name: str, pretrained: str | Path, cache_dir: str | Path | None = None) -> tuple[str, dict[str, Any]]:
    """Return a local checkpoint file for ``pretrained`` and its open_clip configuration (chapter 6).

    Tags, ``hf-hub:`` ids and URLs are downloaded once into ``cache_dir`` (default: the data
    directory's ``weights`` folder); a local file is returned as it is, with an empty configuration.

    Raises:
        ConnectionError: when a download fails (offline machine): pass a local file instead.
        FileNotFoundError: for a local path that does not exist.
        ValueError: for a string that is neither a file nor a tag of ``model_name``.
    """
    import open_clip

    text = str(pretrained)
    source = _download_source(model_name, text)
    if source is None:
        path = Path(text).expanduser()
        if path.is_file():
            return str(path), {}
        if path.suffix in _CHECKPOINT_SUFFIXES or len(path.parts) > 1:
            raise FileNotFoundError(
                f"no checkpoint file at {path}: check the path (a Hugging Face repository needs the prefix "
                f"{HF_HUB_PREFIX}, e.g. {HF_HUB_PREFIX}org/repo/file.pt)"
            )
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(model_name)) or "none"
        raise ValueError(
            f"{text!r} is neither a checkpoint file nor an open_clip pretrained tag of {model_name!r} "
            f"(its tags: {tags}): pass the path of a local checkpoint file"
        )
    if cache_dir is None:
        from closp_lite.config import data_dir

        cache_dir = data_dir() / "weights"
    try:
        return open_clip.download_pretrained(source, cache_dir=str(cache_dir)), source
    except (OSError, RuntimeError) as error:
        raise ConnectionError(
            f"could not download the open_clip weights {text!r} for {model_name!r} ({error}); on an offline machine "
            f"download the checkpoint elsewhere and pass its local file path as pretrained"
        ) from error


def create_openclip(
    model_name: str, pretrained: str | Path | None = None, device: str | torch.device = "cpu", cache_dir: str | Path | None = None
) -> nn.Module:
    """Build an open_clip model ``model_name`` with the weights of ``pretrained``, in eval mode and frozen (chapter 6).

    See the module docstring for what ``pretrained`` may be.

    Raises:
        ValueError: for a model name open_clip does not know, or a checkpoint that does not fit it.
        ConnectionError, FileNotFoundError: see :func:`checkpoint_file`.
    """
    import open_clip

    if model_name not in open_clip.list_models():
        raise ValueError(
            f"open_clip has no model {model_name!r}: choose one of open_clip.list_models() (e.g. ViT-B-32) "
            f"or register its JSON configuration with open_clip.add_model_config"
        )
    if pretrained is None:
        model = open_clip.create_model(model_name, pretrained=None, device=device)
    else:
        path, config = checkpoint_file(model_name, pretrained, cache_dir)
        try:
            model = open_clip.create_model(
                model_name,
                pretrained=path,
                device=device,
                weights_only=True,
                # A tag knows its weights' activation and image statistics; open_clip only warns
                # when the activation does not match, which silently degrades the embeddings.
                force_quick_gelu=bool(config.get("quick_gelu", False)),
                force_preprocess_cfg=config,
            )
        except (RuntimeError, pickle.UnpicklingError) as error:
            raise ValueError(
                f"the checkpoint {path} does not fit the open_clip model {model_name!r} ({str(error)[:500]}): pass the "
                f"model_name it was trained with, and a plain state dict"
            ) from error
    return model.eval().requires_grad_(False)


class OpenClipRGB:
    """A whole open_clip CLIP model (image tower, text tower, tokenizer) on RGB composites (chapter 6).

    ``encode_image`` takes closp_lite's model-ready S1 or S2 batches, ``encode_text`` any texts;
    both return L2-normalised ``(N, D)`` tensors (D: the model's embedding size) on the model's
    device, without gradients.
    """

    def __init__(
        self, model_name: str, pretrained: str | Path | None = None, device: str | torch.device = "cpu", cache_dir: str | Path | None = None
    ) -> None:
        import open_clip

        self.model_name = model_name
        self.model: Any = create_openclip(model_name, pretrained, device, cache_dir)
        self.device = next(self.model.parameters()).device
        config = open_clip.get_model_preprocess_cfg(self.model)
        size = config["size"]
        self.image_size: tuple[int, int] = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
        self.interpolation: str = config.get("interpolation", "bicubic")
        self.mean = torch.tensor(config["mean"], dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(config["std"], dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self.tokenizer = open_clip.get_tokenizer(model_name)

    def preprocess(self, images: torch.Tensor, modality: str | None = None) -> torch.Tensor:
        """Model-ready S1/S2 images -> the CLIP model's input (N, 3, *image_size) (chapter 6).

        RGB composite in [0, 1] -> resized (the preprocess configuration's interpolation,
        antialiased like open_clip's PIL resize) -> ``(x - mean) / std``. Patches are square, so
        the resize-and-centre-crop of open_clip is a plain resize here.
        """
        pixels = rgb_composite(images.to(self.device, torch.float32), modality)
        if tuple(pixels.shape[-2:]) != self.image_size:
            pixels = nn.functional.interpolate(pixels, size=self.image_size, mode=self.interpolation, antialias=True, align_corners=False)
            # open_clip resizes 8-bit pictures, which cannot overshoot; bicubic on floats can.
            pixels = pixels.clamp(0.0, 1.0)
        return (pixels - self.mean) / self.std

    @torch.no_grad()
    def encode_image(self, images: torch.Tensor, modality: str | None = None) -> torch.Tensor:
        """Embed model-ready S1 (2 channels) or S2 (13 channels) images to (N, D) unit vectors (chapter 6)."""
        return nn.functional.normalize(self.model.encode_image(self.preprocess(images, modality)), dim=-1)

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """Embed texts with the model's own tokenizer and text tower to (N, D) unit vectors (chapter 6)."""
        tokens = self.tokenizer([texts] if isinstance(texts, str) else list(texts)).to(self.device)
        return nn.functional.normalize(self.model.encode_text(tokens), dim=-1)
