"""Plotting of patches (chapter 0); every function returns a Figure.

Samples are sample dicts (model-ready ``image``, see CONTRIBUTING.md) or stored
:class:`closp_lite.data.format.Patch` objects; both are shown in stored units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from closp_lite.data.bands import from_model_input, modality_from_bands
from closp_lite.physics.optical import TRUE_COLOUR_LIMITS, robust_stretch, true_colour
from closp_lite.physics.optical import false_colour as false_colour_composite
from closp_lite.physics.sar import cross_pol_ratio_db

__all__ = ["plot_real_and_simulated", "plot_sample", "plot_samples", "s1_rgb", "sample_rgb"]

VV_DISPLAY_DB: tuple[float, float] = (-25.0, 0.0)
"""Fixed grey scale of VV backscatter pictures (dB): calm water black, towns white."""


def _stored(sample: Any) -> tuple[np.ndarray, str, str, list[str]]:
    """(stored image, modality, key, labels) of a sample dict or a Patch."""
    if isinstance(sample, dict):
        image = np.asarray(sample["image"], dtype=np.float32)
        modality = sample.get("modality") or modality_from_bands(image.shape[0])
        return from_model_input(image, modality), modality, str(sample.get("key", "")), list(sample.get("labels", []))
    return np.asarray(sample.image, dtype=np.float32), sample.modality, sample.key, list(sample.labels)


def sample_rgb(sample: Any, false_colour: bool = False) -> np.ndarray:
    """An (H, W, 3) picture in [0, 1] (chapter 0).

    S2: true colour (B4, B3, B2) with the standard fixed stretch (reflectance 0-0.3,
    :data:`closp_lite.physics.optical.TRUE_COLOUR_LIMITS`), so every patch is shown on the same
    scale and looks as Sentinel-2 browse images do; or, with ``false_colour``, colour infrared
    (B8, B4, B3), each band stretched between its 2nd and 98th percentiles. S1: VV, VH and the
    VV - VH ratio (dB) as red, green and blue, each stretched by percentiles.
    """
    image, modality, _, _ = _stored(sample)
    if modality == "s2":
        return false_colour_composite(image) if false_colour else true_colour(image, limits=TRUE_COLOUR_LIMITS)
    return s1_rgb(image)


def s1_rgb(image: np.ndarray) -> np.ndarray:
    """An (H, W, 3) picture of an S1 image (VV, VH in dB) in [0, 1] (chapter 2).

    VV, VH and the VV - VH ratio as red, green and blue, each stretched between its 2nd and 98th
    percentiles: the one S1 pseudo-RGB of the plots.
    """
    vv, vh = image[0], image[1]
    return np.stack([robust_stretch(vv), robust_stretch(vh), robust_stretch(cross_pol_ratio_db(vv, vh))], axis=-1)


def _title(key: str, labels: list[str]) -> str:
    return f"{key}\n{', '.join(labels) or '(no labels)'}"


def plot_sample(sample: Any, false_colour: bool = False) -> Figure:
    """Show one sample (chapter 0): S2 as one composite; S1 as the composite plus VV and VH in dB.

    The title holds the key and the labels.
    """
    image, modality, key, labels = _stored(sample)
    if modality == "s2":
        fig = Figure(figsize=(4.5, 4.8), layout="constrained")
        ax = fig.subplots()
        ax.imshow(sample_rgb(sample, false_colour))
        ax.set_title("B8, B4, B3 (colour infrared)" if false_colour else "B4, B3, B2 (true colour)", fontsize=9)
        ax.set_axis_off()
    else:
        fig = Figure(figsize=(12, 4.4), layout="constrained")
        axes = fig.subplots(1, 3)
        axes[0].imshow(sample_rgb(sample))
        axes[0].set_title("VV, VH, VV - VH (dB)", fontsize=9)
        for ax, band, name in zip(axes[1:], image, ("VV", "VH")):
            low, high = np.nanpercentile(band, [2, 98])
            shown = ax.imshow(band, cmap="gray", vmin=low, vmax=high)
            fig.colorbar(shown, ax=ax, label=f"{name} (dB)", shrink=0.8)
            ax.set_title(name, fontsize=9)
        for ax in axes:
            ax.set_axis_off()
    fig.suptitle(_title(key, labels), fontsize=9)
    return fig


def plot_samples(samples: list[Any], ncols: int = 4, false_colour: bool = False) -> Figure:
    """A grid of composites (chapter 0), one panel per sample, titled by labels.

    Raises:
        ValueError: for an empty list or ``ncols < 1``.
    """
    if not samples or ncols < 1:
        raise ValueError(f"plot_samples needs at least one sample and ncols >= 1, got {len(samples)} and {ncols}")
    ncols = min(ncols, len(samples))
    nrows = -(-len(samples) // ncols)
    fig = Figure(figsize=(3 * ncols, 3.3 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, sample in zip(axes, samples):
        _, modality, key, labels = _stored(sample)
        ax.imshow(sample_rgb(sample, false_colour))
        ax.set_title(f"{modality.upper()} {key[:24]}\n{', '.join(labels)}", fontsize=7)
    return fig


def plot_real_and_simulated(real: Sequence[np.ndarray], simulated: Sequence[np.ndarray], titles: Sequence[str]) -> Figure:
    """Real patches (top row) above simulated counterparts (bottom row), on fixed scales (chapters 1, 2).

    Stored images, all of one modality: S2 in true colour with the fixed 0-0.3 reflectance
    stretch, S1 as VV on the fixed grey scale :data:`VV_DISPLAY_DB`, so brightness can be
    compared across patches and between real and simulated data.

    Raises:
        ValueError: if the lists are empty or of different lengths.
    """
    if not real or not (len(real) == len(simulated) == len(titles)):
        raise ValueError(f"give as many real as simulated images and titles (at least one), got {len(real)}, {len(simulated)}, {len(titles)}")
    fig = Figure(figsize=(2.2 * len(real), 4.9), layout="constrained")
    axes = fig.subplots(2, len(real), squeeze=False)
    for j, (top, bottom, title) in enumerate(zip(real, simulated, titles, strict=True)):
        for ax, image in ((axes[0, j], top), (axes[1, j], bottom)):
            image = np.asarray(image, dtype=np.float32)
            if modality_from_bands(image.shape[0]) == "s2":
                ax.imshow(true_colour(image, limits=TRUE_COLOUR_LIMITS))
            else:
                ax.imshow(image[0], cmap="gray", vmin=VV_DISPLAY_DB[0], vmax=VV_DISPLAY_DB[1])
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, j].set_title(title, fontsize=7)
    axes[0, 0].set_ylabel("real", fontsize=9)
    axes[1, 0].set_ylabel("simulated", fontsize=9)
    return fig
