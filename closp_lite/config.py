"""The one place where closp-lite reads its configuration (chapter 0).

* The scale switch ``CLOSP_LITE_MODE``: ``tiny`` (tests, seconds), ``sample`` (default,
  a Binder machine with 2 cores and 2 GB) or ``full`` (the real corpus on GPUs).
* The data directory ``CLOSP_LITE_DATA_DIR`` (default ``~/.cache/closp_lite``).
* The device ``CLOSP_LITE_DEVICE`` (default: CUDA if available, else CPU).
* Seeding for Python, NumPy and PyTorch.

Every size that depends on the scale lives in :class:`ScaleSettings`, so no other module
branches on the mode string.
"""

from __future__ import annotations

import os
import random
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
    num_workers: int
    embed_batch_size: int
    # None: validate on held-out training keys; a fraction: validate on that share of the test split
    # (the published 20/80 splits; upstream validated on 0.2 % of the corpus split).
    corpus_val_fraction: float | None = None


_SETTINGS: dict[str, ScaleSettings] = {
    "tiny": ScaleSettings("tiny", n_s1=48, n_s2=48, epochs=1, batch_size=16, num_workers=0, embed_batch_size=32),
    "sample": ScaleSettings(
        "sample", n_s1=1500, n_s2=1500, epochs=6, batch_size=64, num_workers=0, embed_batch_size=128
    ),
    "full": ScaleSettings(
        "full", n_s1=None, n_s2=None, epochs=30, batch_size=64, num_workers=8, embed_batch_size=512, corpus_val_fraction=0.002
    ),
}


def get_mode(mode: str | None = None) -> Mode:
    """Return the scale mode: ``mode`` if given, else ``$CLOSP_LITE_MODE``, else ``sample``.

    Raises:
        ValueError: if the mode is not one of ``tiny``, ``sample``, ``full``.
    """
    value = (mode or os.environ.get("CLOSP_LITE_MODE") or DEFAULT_MODE).strip().lower()
    if value not in MODES:
        raise ValueError(f"unknown closp-lite mode {value!r}: choose one of {', '.join(MODES)} (CLOSP_LITE_MODE)")
    return value  # type: ignore[return-value]


def settings(mode: str | None = None) -> ScaleSettings:
    """Return the :class:`ScaleSettings` of ``mode`` (default: :func:`get_mode`)."""
    return _SETTINGS[get_mode(mode)]


def data_dir(create: bool = True) -> Path:
    """Return the data directory (``$CLOSP_LITE_DATA_DIR`` or ``~/.cache/closp_lite``).

    Generated corpora, converted example patches and downloads are cached here.
    """
    path = Path(os.environ.get("CLOSP_LITE_DATA_DIR") or Path.home() / ".cache" / "closp_lite").expanduser()
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def get_device(prefer: str | None = None) -> torch.device:
    """Return the torch device: ``prefer``, else ``$CLOSP_LITE_DEVICE``, else CUDA if available, else CPU."""
    import torch

    name = prefer or os.environ.get("CLOSP_LITE_DEVICE")
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
