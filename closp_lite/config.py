"""The one place where closp-lite reads its configuration (chapter 0).

* The scale switch ``CLOSP_LITE_MODE``: ``tiny`` (tests, seconds), ``sample`` (default,
  a Binder machine with 2 cores and 2 GB) or ``full`` (the real corpus on GPUs).
* The data directory ``CLOSP_LITE_DATA_DIR`` (default ``~/.cache/closp_lite``).
* The device ``CLOSP_LITE_DEVICE`` (default: CUDA if available, else CPU).
* Static maps ``CLOSP_LITE_STATIC_MAPS=1`` (no tile server needed).
* Seeding for Python, NumPy and PyTorch.

:func:`resolve` reads these variables once into a typed :class:`Settings`; no other module reads
the environment for them.

Every size that depends on the scale lives in :class:`ScaleSettings`, so no other module
branches on the mode string.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np

if TYPE_CHECKING:
    import torch

Mode = Literal["tiny", "sample", "full"]
MODES: tuple[str, ...] = get_args(Mode)
DEFAULT_MODE: Mode = "sample"
DEFAULT_SEED = 42


@dataclass(frozen=True)
class ScaleSettings:
    """Sizes that change with the scale mode.

    ``None`` for a corpus size means "everything there is" (full mode).
    """

    mode: Mode
    n_s1: int | None  # S1 patches in the simulated corpus used by the chapters
    n_s2: int | None  # S2 patches in the simulated corpus used by the chapters
    epochs: int
    batch_size: int
    # DataLoader worker processes. 0 in tiny and sample mode: Binder has 2 cores and 2 GB, and
    # every forked worker holds its own copy of the process's memory (chapter 10).
    num_workers: int
    embed_batch_size: int
    transfer_steps: int  # optimiser steps of each stage of a transfer schedule (chapter 8)
    transfer_input_size: int | None  # image side of the transfer runs (None: the native 120 px)
    # None: validate on held-out training keys; a fraction: validate on that share of the test split
    # (the published 20/80 splits; upstream validated on 0.2 % of the corpus split).
    corpus_val_fraction: float | None = None
    # Train through Lightning Fabric (DDP, precision, gradient cache; chapter 10) instead of chapter 5's own loop.
    fabric: bool = False


_SETTINGS: dict[str, ScaleSettings] = {
    "tiny": ScaleSettings("tiny", n_s1=48, n_s2=48, epochs=2, batch_size=8, num_workers=0, embed_batch_size=32,
                          transfer_steps=3, transfer_input_size=32),
    "sample": ScaleSettings(
        "sample", n_s1=1500, n_s2=1500, epochs=6, batch_size=32, num_workers=0, embed_batch_size=128,
        transfer_steps=12, transfer_input_size=48,
    ),
    "full": ScaleSettings("full", n_s1=None, n_s2=None, epochs=30, batch_size=64, num_workers=8, embed_batch_size=512,
                          transfer_steps=3000, transfer_input_size=None, corpus_val_fraction=0.002,
                          fabric=True),
}


@dataclass(frozen=True)
class Settings:
    """Everything closp-lite takes from its environment, resolved once by :func:`resolve` (chapter 0).

    Pass this object (or its :attr:`scale`) down instead of reading the environment again, so a
    mode given on the command line reaches every function that depends on it.
    """

    scale: ScaleSettings
    data_dir: Path
    device: str | None  # None: CUDA if available, else CPU
    static_maps: bool

    @property
    def mode(self) -> Mode:
        """The scale mode (``tiny`` / ``sample`` / ``full``)."""
        return self.scale.mode


def _parse_mode(value: str) -> Mode:
    value = value.strip().lower()
    if value not in MODES:
        raise ValueError(f"unknown closp-lite mode {value!r}: choose one of {', '.join(MODES)} (CLOSP_LITE_MODE)")
    return value  # type: ignore[return-value]


def resolve(mode: str | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve the settings: arguments first, then ``CLOSP_LITE_*`` variables, then defaults (chapter 0).

    The only function of closp-lite that reads ``CLOSP_LITE_*`` environment variables.

    Raises:
        ValueError: if the mode is not one of ``tiny``, ``sample``, ``full``.
    """
    env = os.environ if environ is None else environ
    scale = _SETTINGS[_parse_mode(mode or env.get("CLOSP_LITE_MODE") or DEFAULT_MODE)]
    root = Path(env.get("CLOSP_LITE_DATA_DIR") or Path.home() / ".cache" / "closp_lite").expanduser()
    return Settings(scale, root, env.get("CLOSP_LITE_DEVICE") or None, env.get("CLOSP_LITE_STATIC_MAPS", "0") == "1")


def get_mode(mode: str | None = None) -> Mode:
    """Return the scale mode: ``mode`` if given, else ``$CLOSP_LITE_MODE``, else ``sample`` (chapter 0).

    Raises:
        ValueError: if the mode is not one of ``tiny``, ``sample``, ``full``.
    """
    return resolve(mode).mode


def settings(mode: str | None = None) -> ScaleSettings:
    """Return the :class:`ScaleSettings` of ``mode`` (default: :func:`get_mode`) (chapter 0)."""
    return resolve(mode).scale


def data_dir(create: bool = True) -> Path:
    """Return the data directory (``$CLOSP_LITE_DATA_DIR`` or ``~/.cache/closp_lite``) (chapter 0).

    Generated corpora, converted example patches and downloads are cached here.
    """
    path = resolve().data_dir
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def get_device(prefer: str | None = None) -> torch.device:
    """Return the torch device: ``prefer``, else ``$CLOSP_LITE_DEVICE``, else CUDA if available, else CPU (chapter 0)."""
    import torch

    name = prefer or resolve().device
    if name:
        device = torch.device(name)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {name!r} was requested but CUDA is not available on this machine")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int = DEFAULT_SEED) -> int:
    """Seed Python, NumPy and (if imported) PyTorch so that a run is reproducible; return the seed."""
    random.seed(seed)
    np.random.seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency, but config must not need it
        return seed
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return seed


@dataclass(frozen=True)
class HeadSettings:
    """Sizes of the captioning and question-answering heads of chapter 9 (fine-tuned on a CPU).

    ``patches`` caps the patches per modality (``None``: all); images are average-pooled to
    ``image_size`` pixels a side before the tower, which makes a step about four times cheaper at 60.
    """

    mode: Mode
    patches: int | None
    image_size: int
    epochs: int
    batch_size: int


_HEAD_SETTINGS: dict[str, HeadSettings] = {
    "tiny": HeadSettings("tiny", patches=None, image_size=32, epochs=1, batch_size=16),
    "sample": HeadSettings("sample", patches=600, image_size=60, epochs=3, batch_size=32),
    "full": HeadSettings("full", patches=None, image_size=120, epochs=20, batch_size=64),
}


def head_settings(mode: str | None = None) -> HeadSettings:
    """Return the :class:`HeadSettings` of ``mode`` (default: :func:`get_mode`) (chapter 9)."""
    return _HEAD_SETTINGS[get_mode(mode)]
