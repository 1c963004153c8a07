"""Plotting for progressive transfer (chapter 8); every function returns a Figure.

* :func:`plot_stem_filters` - the first-layer filters of EfficientNet, per input channel.
* :func:`plot_transfer_curves` - SAR validation loss over the optimiser steps, one line per schedule.
* :func:`plot_data_size` - a metric against the share of SAR training data, one line per schedule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

__all__: list[str] = ["plot_data_size", "plot_stem_filters", "plot_transfer_curves"]

_STYLES = {"scratch": ("tab:grey", ":"), "direct": ("tab:blue", "--"), "optical": ("tab:green", "-."), "progressive": ("tab:red", "-")}


def _style(name: str, index: int) -> tuple[str, str]:
    return _STYLES.get(name, (f"C{index}", "-"))


def plot_stem_filters(weight: np.ndarray, channels: Sequence[str], n_filters: int = 8, title: str | None = None) -> Figure:
    """The first ``n_filters`` stem filters (rows) for each input channel (columns), one shared colour scale (chapter 8).

    ``weight`` is a convolution weight (out, in, k, k), e.g. ``model.conv_stem.weight``.

    Raises:
        ValueError: if ``channels`` does not name every input channel.
    """
    weight = np.asarray(weight)
    if weight.ndim != 4 or weight.shape[1] != len(channels):
        raise ValueError(f"a (out, {len(channels)}, k, k) weight is needed for channels {list(channels)}, got {weight.shape}")
    rows = min(n_filters, weight.shape[0])
    limit = float(np.abs(weight[:rows]).max()) or 1.0
    fig = Figure(figsize=(max(3.0, 0.55 * len(channels) + 1.0), 0.55 * rows + 0.9))
    axes = np.atleast_2d(fig.subplots(rows, len(channels), squeeze=False))
    for r in range(rows):
        for c, name in enumerate(channels):
            ax = axes[r, c]
            image = ax.imshow(weight[r, c], cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=8)
    fig.colorbar(image, ax=axes, shrink=0.6, label="weight")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_transfer_curves(curves: Mapping[str, Sequence[Sequence[float]]], title: str | None = None) -> Figure:
    """SAR validation loss divided by chance (log B) against the SAR step, one line per schedule (chapter 8).

    ``curves[name]`` holds ``(step, val_loss, chance)`` rows, e.g. the ``sar_curve`` of the benchmark
    runs or the S1 columns of a SAR stage's ``log.csv``.

    Raises:
        ValueError: if there are no curves.
    """
    if not curves:
        raise ValueError("no learning curves to plot")
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.subplots()
    for i, (name, rows) in enumerate(curves.items()):
        data = np.asarray(rows, dtype=float)
        colour, line = _style(name, i)
        ax.plot(data[:, 0], data[:, 1] / data[:, 2], line, color=colour, marker="o", markersize=3, label=name)
    ax.axhline(1.0, color="black", lw=0.8, alpha=0.5)
    ax.set(xlabel="SAR optimiser step", ylabel="validation loss / chance", title=title or "SAR stage: validation loss")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_data_size(
    summary: Mapping[str, Mapping[str, Sequence[float]]], metric: str = "mR", chance: float | None = None, title: str | None = None
) -> Figure:
    """A metric (mean +- std over seeds) against the share of SAR training data, one line per schedule (chapter 8).

    ``summary[schedule][fraction] = (mean, std, n)``, as ``benchmarks/transfer.py``'s ``summary`` writes it.
    """
    if not summary:
        raise ValueError("nothing to plot: the summary is empty")
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.subplots()
    for i, (name, fractions) in enumerate(summary.items()):
        keys = sorted(fractions, key=float)
        x = np.array([100 * float(k) for k in keys])
        mean = np.array([fractions[k][0] for k in keys])
        std = np.nan_to_num(np.array([fractions[k][1] for k in keys]))
        colour, line = _style(name, i)
        ax.errorbar(x, mean, yerr=std, fmt=line, color=colour, marker="o", capsize=3, label=name)
    if chance is not None:
        ax.axhline(chance, color="black", lw=0.8, ls=":", label="chance")
    ax.set_xscale("log")
    ax.set_xticks([10, 30, 100], labels=["10 %", "30 %", "100 %"])
    ax.set(xlabel="share of the S1 training set", ylabel=metric, title=title or f"{metric} on the S1 test corpus")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
