"""Plotting for optical and radar physics (chapters 1-2); every function returns a Figure.

* :func:`plot_spectral_signatures` - reflectance against wavelength, one line per class.
* :func:`plot_composites_and_indices` - true/false colour and spectral index maps of one patch.
* :func:`plot_db_histograms` - backscatter histograms (dB) per class, VV and VH.
* :func:`plot_speckle_filters` - a speckled image and its filtered versions, with a profile.
* :func:`plot_flood_map` - a flood map over the S1 image, with the histogram and threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from closp_lite.labels.vocabulary import DW_PALETTE
from closp_lite.physics import optical, sar

__all__: list[str] = [
    "plot_composites_and_indices",
    "plot_db_histograms",
    "plot_flood_map",
    "plot_speckle_filters",
    "plot_spectral_signatures",
]


PANELS_PER_ROW = 3
"""Panels side by side at most: three of :data:`PANEL_IN` fill the book's text column."""

PANEL_IN = 2.3
"""Side of one image panel in inches, drawn at the page width without scaling (issue 15)."""


def _colour(name: str, i: int) -> str:
    return DW_PALETTE.get(name, f"C{i}")


def plot_spectral_signatures(
    spectra: Mapping[str, np.ndarray],
    spread: Mapping[str, np.ndarray] | None = None,
    title: str = "Spectral signatures",
) -> Figure:
    """Reflectance (0-1) against the centre wavelength of the 12 stored bands, one line per class (chapter 1).

    ``spread`` (optional, same keys) gives a per-band standard deviation drawn as a band around
    the line. Dynamic World classes get their official colours.
    """
    if not spectra:
        raise ValueError("no spectra to plot: spectra is empty")
    wavelengths = optical.S2_WAVELENGTHS_NM
    fig = Figure(figsize=(8.0, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for i, (name, values) in enumerate(spectra.items()):
        values = np.asarray(values, dtype=np.float64)
        if values.shape != wavelengths.shape:
            raise ValueError(f"spectrum {name!r} needs {wavelengths.size} values (stored band order), got {values.shape}")
        ax.plot(wavelengths, values, marker="o", ms=3, color=_colour(name, i), label=name)
        if spread is not None and name in spread:
            ax.fill_between(wavelengths, values - spread[name], values + spread[name], color=_colour(name, i), alpha=0.15)
    for band in optical.S2_BAND_TABLE:
        ax.axvspan(band.wavelength_nm - band.bandwidth_nm / 2, band.wavelength_nm + band.bandwidth_nm / 2, color="0.9", zorder=0)
    secondary = ax.secondary_xaxis("top")
    secondary.set_xticks(wavelengths, [b.name for b in optical.S2_BAND_TABLE], fontsize=7, rotation=90)
    ax.set_xlabel("wavelength (nm)")
    ax.set_ylabel("surface reflectance")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, ncols=2)
    ax.set_title(title)
    return fig


def plot_composites_and_indices(
    image: np.ndarray,
    indices: Sequence[str] = ("NDVI", "NDWI", "NBR"),
    title: str = "",
) -> Figure:
    """True colour, false colour (NIR) and spectral index maps of one Sentinel-2 image (chapter 1).

    ``image`` is (12, H, W) stored layout (true colour uses the fixed 0-0.3 reflectance stretch;
    the false colour is stretched by percentiles). The two composites fill the top row and the
    index maps the row below, which shares the colour scale -1..1 (brown low, green high).
    """
    # Two rows of panels at most 3 wide fit the text column (7.8 in) without being scaled down;
    # one long row of five was shrunk to about 1.4 in per panel, too small to see fields in.
    width = PANEL_IN * max(2, len(indices)) + 0.9  # room for the colour bar
    fig = Figure(figsize=(width, 2 * PANEL_IN + 1.2), layout="constrained")
    top, bottom = fig.subfigures(2, 1, squeeze=False).ravel()
    composites = top.subplots(1, 2)
    composites[0].imshow(optical.true_colour(image, limits=optical.TRUE_COLOUR_LIMITS))
    composites[0].set_title("true colour (B4, B3, B2)\nreflectance 0-0.3", fontsize=10)
    composites[1].imshow(optical.false_colour(image))
    composites[1].set_title("false colour\n(B8, B4, B3)", fontsize=10)
    for ax in composites:
        ax.set_axis_off()
    if indices:
        index_axes = np.atleast_1d(bottom.subplots(1, len(indices)))
        mappable = None
        for ax, name in zip(index_axes, indices, strict=True):
            mappable = ax.imshow(optical.spectral_index(image, name), cmap="BrBG", vmin=-1, vmax=1)
            ax.set_title(name, fontsize=10)
            ax.set_axis_off()
        bottom.colorbar(mappable, ax=list(index_axes), shrink=0.8, label="index")
    if title:
        fig.suptitle(title)
    return fig


def plot_db_histograms(
    vv_by_class: Mapping[str, np.ndarray],
    vh_by_class: Mapping[str, np.ndarray] | None = None,
    bins: np.ndarray | None = None,
    title: str = "",
) -> Figure:
    """Histograms (densities) of backscatter in dB per class: VV, and VH if given (chapter 2).

    Each mapping holds the dB values of one class (any shape; non-finite values are dropped).
    """
    if not vv_by_class:
        raise ValueError("no classes to plot: vv_by_class is empty")
    bins = np.arange(-35.0, 10.5, 0.5) if bins is None else bins
    channels = {"VV": vv_by_class} | ({"VH": vh_by_class} if vh_by_class else {})
    fig = Figure(figsize=(5.0 * len(channels), 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(channels), sharey=True))
    for ax, (pol, by_class) in zip(axes, channels.items(), strict=True):
        for i, (name, values) in enumerate(by_class.items()):
            values = np.asarray(values, dtype=np.float64).ravel()
            values = values[np.isfinite(values)]
            if values.size:
                ax.hist(values, bins=bins, density=True, histtype="step", lw=1.5, color=_colour(name, i), label=name)
        ax.set_xlabel(f"{pol} backscatter (dB)")
        ax.set_title(pol)
    axes[0].set_ylabel("density")
    axes[-1].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_speckle_filters(
    intensity: np.ndarray,
    filtered: Mapping[str, np.ndarray],
    clean: np.ndarray | None = None,
    region: tuple[slice, slice] | None = None,
    row: int | None = None,
    title: str = "",
) -> Figure:
    """A speckled intensity image and its filtered versions in dB, with the ENL and a profile (chapter 2).

    The ENL printed in each title is measured in ``region`` (rows, columns; default the whole
    image, outlined in yellow), which should be homogeneous; the bottom panel shows one row
    (default: the middle) of every image.
    """
    region = region if region is not None else (slice(None), slice(None))
    images = ({"noise-free": clean} if clean is not None else {}) | {"speckled": intensity} | dict(filtered)
    row = intensity.shape[0] // 2 if row is None else row
    # panels in rows of at most three: side by side, five or more became too small to read
    ncols = min(PANELS_PER_ROW, len(images))
    nrows = -(-len(images) // ncols)
    fig = Figure(figsize=(3.2 * ncols, 3.2 * nrows + 2.6), layout="constrained")
    grid = fig.add_gridspec(nrows + 1, ncols, height_ratios=[1.2] * nrows + [1])
    db = {name: sar.to_db(np.maximum(np.asarray(img, dtype=np.float64), 1e-6)) for name, img in images.items()}
    low, high = np.percentile(db["speckled"], [2, 98])
    for j, (name, values) in enumerate(db.items()):
        ax = fig.add_subplot(grid[j // ncols, j % ncols])
        ax.imshow(values, cmap="gray", vmin=low, vmax=high)
        ax.axhline(row, color="C3", lw=0.8)
        rows, cols = (range(values.shape[k])[region[k]] for k in (0, 1))
        ax.add_patch(Rectangle((cols[0], rows[0]), len(cols) - 1, len(rows) - 1, fill=False, ec="yellow", lw=0.8))
        patch = np.asarray(images[name])[region]
        enl_text = f"\nENL {sar.enl(patch):.1f}" if np.var(patch) > 0 else ""
        ax.set_title(f"{name}{enl_text}", fontsize=9)
        ax.set_axis_off()
    profile = fig.add_subplot(grid[nrows, :])
    for name, values in db.items():
        profile.plot(values[row], lw=1.5 if name != "speckled" else 0.6, label=name)
    profile.set_xlabel("column")
    profile.set_ylabel("dB")
    # beside the profile, not over it: the speckled line fills the whole axis
    profile.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if title:
        fig.suptitle(title)
    return fig


def plot_flood_map(
    post_vv_db: np.ndarray,
    flood: np.ndarray,
    threshold_db: float,
    pre_vv_db: np.ndarray | None = None,
    truth: np.ndarray | None = None,
    title: str = "",
) -> Figure:
    """A flood (or water) mask in blue over the post-event VV image, with the VV histogram and threshold (chapter 2).

    ``truth`` (optional boolean mask) is outlined in red for comparison.
    """
    flood = np.asarray(flood, dtype=bool)
    images = ({"pre-event VV (dB)": pre_vv_db} if pre_vv_db is not None else {}) | {"post-event VV (dB)": post_vv_db}
    panels = len(images) + 2
    fig = Figure(figsize=(3.2 * panels, 3.4), layout="constrained")
    axes = fig.subplots(1, panels)
    low, high = np.nanpercentile(post_vv_db, [2, 98])
    for ax, (name, values) in zip(axes, images.items(), strict=False):
        ax.imshow(values, cmap="gray", vmin=low, vmax=high)
        ax.set_title(name, fontsize=9)
    overlay = axes[len(images)]
    overlay.imshow(post_vv_db, cmap="gray", vmin=low, vmax=high)
    overlay.imshow(np.ma.masked_where(~flood, flood), cmap="winter", alpha=0.6, vmin=0, vmax=1)
    if truth is not None:
        overlay.contour(np.asarray(truth, dtype=float), levels=[0.5], colors="red", linewidths=0.8)
    overlay.set_title(f"mapped water/flood: {flood.mean():.0%}", fontsize=9)
    for ax in axes[:-1]:
        ax.set_axis_off()
    hist = axes[-1]
    values = np.asarray(post_vv_db, dtype=np.float64)
    hist.hist(values[np.isfinite(values)], bins=80, color="0.5")
    hist.axvline(threshold_db, color="C3", label=f"threshold {threshold_db:.1f} dB")
    hist.set_xlabel("post-event VV (dB)")
    hist.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig
