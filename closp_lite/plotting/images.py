"""Plotting of patches (chapters 0-2); every function returns a Figure.

Samples are sample dicts (model-ready ``image``, see CONTRIBUTING.md) or stored
:class:`closp_lite.data.format.Patch` objects; both are shown in stored units.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from closp_lite.data.bands import from_model_input, modality_from_bands
from closp_lite.physics.optical import TRUE_COLOUR_LIMITS, robust_stretch, true_colour
from closp_lite.physics.optical import false_colour as false_colour_composite
from closp_lite.physics.sar import cross_pol_ratio_db
from closp_lite.plotting.physics import PANEL_IN, PANELS_PER_ROW

__all__ = ["plot_composite_pairs", "plot_composites", "plot_polarisations", "plot_real_and_simulated", "plot_sample", "plot_samples", "s1_rgb", "sample_rgb"]

VV_DISPLAY_DB: tuple[float, float] = (-25.0, 0.0)
"""Fixed grey scale of VV backscatter pictures (dB): calm water black, towns white."""

VH_DISPLAY_DB: tuple[float, float] = (-30.0, -5.0)
"""Fixed grey scale of VH pictures (dB): cross-polarised returns are about 5 to 10 dB weaker than VV."""


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


def _patch_picture(ax: Any, image: np.ndarray, second_view: bool = False) -> None:
    """Draw one stored image on a fixed scale: S2 in true colour (``second_view``: false colour),
    S1 as VV in dB (``second_view``: VH)."""
    image = np.asarray(image, dtype=np.float32)
    if modality_from_bands(image.shape[0]) == "s2":
        ax.imshow(false_colour_composite(image) if second_view else true_colour(image, limits=TRUE_COLOUR_LIMITS))
    else:
        low, high = VH_DISPLAY_DB if second_view else VV_DISPLAY_DB
        ax.imshow(image[1 if second_view else 0], cmap="gray", vmin=low, vmax=high)
    ax.set_xticks([])
    ax.set_yticks([])


def _wrapped(title: str, width: int = 32) -> str:
    """``title`` with each line wrapped at ``width`` characters, so it stays within its panel."""
    return "\n".join(textwrap.fill(line, width) or line for line in title.split("\n"))


def _paired_blocks(
    top: Sequence[np.ndarray],
    bottom: Sequence[np.ndarray],
    titles: Sequence[str],
    row_names: tuple[str, str],
    second_view_bottom: bool = False,
) -> Figure:
    """Patches in blocks of at most :data:`PANELS_PER_ROW`: each block a row of ``top`` images
    above the matching row of ``bottom`` images, the row names on the left of each block; with
    ``second_view_bottom`` the bottom row shows each image's second view (false colour, VH)."""
    if not top or not (len(top) == len(bottom) == len(titles)):
        raise ValueError(f"give as many {row_names[0]} as {row_names[1]} images and titles (at least one), got {len(top)}, {len(bottom)}, {len(titles)}")
    ncols = min(PANELS_PER_ROW, len(top))
    blocks = -(-len(top) // ncols)
    # A fixed panel size and at most three across: the figure is never wider than the text column,
    # so the book never scales it (and its titles) down, however many patches there are.
    fig = Figure(figsize=(PANEL_IN * ncols + 0.5, blocks * (2 * PANEL_IN + 0.9)), layout="constrained")
    axes = fig.subplots(2 * blocks, ncols, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for i, (upper, lower, title) in enumerate(zip(top, bottom, titles, strict=True)):
        block, column = divmod(i, ncols)
        for row, image in ((2 * block, upper), (2 * block + 1, lower)):
            ax = axes[row, column]
            ax.set_axis_on()
            _patch_picture(ax, image, second_view=second_view_bottom and row == 2 * block + 1)
            if column == 0:
                ax.set_ylabel(row_names[row - 2 * block], fontsize=10)
        axes[2 * block, column].set_title(_wrapped(title), fontsize=8)
    return fig


def plot_real_and_simulated(real: Sequence[np.ndarray], simulated: Sequence[np.ndarray], titles: Sequence[str]) -> Figure:
    """Real patches above their simulated counterparts, in blocks of at most three patches (chapters 1, 2).

    Stored images, all of one modality: S2 in true colour with the fixed 0-0.3 reflectance
    stretch, S1 as VV on the fixed grey scale :data:`VV_DISPLAY_DB`, so brightness can be
    compared across patches and between real and simulated data. Each block is a row of real
    patches over the row of their simulated counterparts, each panel :data:`PANEL_IN` wide.

    Raises:
        ValueError: if the lists are empty or of different lengths.
    """
    return _paired_blocks(real, simulated, titles, ("real", "simulated"))


def plot_composite_pairs(images: Sequence[np.ndarray], titles: Sequence[str]) -> Figure:
    """True colour (fixed 0-0.3 stretch) above false colour (B8, B4, B3) of each S2 patch, in blocks
    of at most three patches (chapter 1).

    Raises:
        ValueError: if ``images`` is empty or ``titles`` has another length.
    """
    return _paired_blocks(images, images, titles, ("true colour", "false colour"), second_view_bottom=True)


def plot_polarisations(images: Sequence[np.ndarray], titles: Sequence[str]) -> Figure:
    """VV above VH of each S1 patch (stored dB, fixed grey scales :data:`VV_DISPLAY_DB` and
    :data:`VH_DISPLAY_DB`), in blocks of at most three patches (chapter 2).

    Raises:
        ValueError: if ``images`` is empty, ``titles`` has another length, or an image is not S1.
    """
    for image in images:
        if modality_from_bands(np.shape(image)[0]) != "s1":
            raise ValueError(f"plot_polarisations draws S1 patches (2 bands, VV and VH), got {np.shape(image)[0]} bands")
    return _paired_blocks(images, images, titles, ("VV", "VH"), second_view_bottom=True)


def plot_composites(
    images: Sequence[np.ndarray],
    titles: Sequence[str],
    false_colour: bool = False,
    limits: tuple[float, float] = TRUE_COLOUR_LIMITS,
) -> Figure:
    """S2 composites of several stored images on one scale, at most three per row (chapter 1).

    True colour with the fixed stretch ``limits`` (stored units, shared by all panels so they
    compare), or with ``false_colour`` the B8, B4, B3 composite stretched by percentiles. Four
    images make a 2 x 2 grid rather than a row of three and one alone.

    Raises:
        ValueError: if ``images`` is empty or ``titles`` has another length.
    """
    if not images or len(images) != len(titles):
        raise ValueError(f"give one title per image (at least one image), got {len(images)} images and {len(titles)} titles")
    ncols = 2 if len(images) == 4 else min(PANELS_PER_ROW, len(images))
    nrows = -(-len(images) // ncols)
    fig = Figure(figsize=(PANEL_IN * ncols + 0.3, nrows * (PANEL_IN + 0.6)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, image, title in zip(axes, images, titles, strict=False):
        image = np.asarray(image, dtype=np.float32)
        ax.imshow(false_colour_composite(image) if false_colour else true_colour(image, limits=limits))
        ax.set_title(_wrapped(title), fontsize=9)
    return fig
