"""Plotting for labels (chapters 3-4); every function returns a Figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch as LegendPatch

from closp_lite.labels.vocabulary import DW_CLASSES, DW_PALETTE, VOCABULARY

__all__ = ["plot_class_map", "plot_cooccurrence", "plot_label_frequencies"]

_CRISIS_COLOUR = "#404040"


def plot_cooccurrence(matrix: pd.DataFrame, title: str = "Label co-occurrence", fmt: str | None = None) -> Figure:
    """Seaborn heatmap of a label co-occurrence matrix from :func:`closp_lite.labels.statistics.cooccurrence` (chapter 3).

    Integer matrices are annotated as counts, others with two decimals (or ``fmt``).
    """
    import seaborn as sns

    values = matrix.to_numpy(dtype=float)
    fmt = fmt or (".0f" if np.allclose(values, np.round(values)) else ".2f")
    fig = Figure(figsize=(8, 6.5), layout="constrained")
    ax = fig.subplots()
    sns.heatmap(matrix, ax=ax, annot=True, fmt=fmt, cmap="viridis", square=True, annot_kws={"size": 7},
                cbar_kws={"shrink": 0.8})
    ax.set_title(title)
    ax.set_xlabel("label j")
    ax.set_ylabel("label i")
    return fig


def plot_label_frequencies(frequencies: pd.DataFrame, title: str = "Label frequencies", share: bool = False) -> Figure:
    """Grouped horizontal bars: one bar per label and group (rows of ``frequencies``) (chapter 3).

    ``frequencies`` comes from :func:`closp_lite.labels.statistics.label_frequencies`;
    ``share=True`` divides each group by its total label count, so groups of different sizes
    (S1 and S2, a large and a small source) can be compared.
    """
    table = frequencies.copy()
    table.index = [" / ".join(map(str, i)) if isinstance(i, tuple) else str(i) for i in table.index]
    if share:
        table = table.div(table.sum(axis=1).replace(0, 1), axis=0)
    labels = [label for label in VOCABULARY if label in table.columns]
    fig = Figure(figsize=(8, min(2.5 + 0.15 * len(labels) * len(table), 9)), layout="constrained")
    ax = fig.subplots()
    height = 0.8 / max(len(table), 1)
    positions = np.arange(len(labels))
    for i, (group, row) in enumerate(table[labels].iterrows()):
        ax.barh(positions + i * height, row.to_numpy(), height=height, label=group)
    ax.set_yticks(positions + height * (len(table) - 1) / 2, labels)
    ax.invert_yaxis()
    ax.set_xlabel("share of label occurrences" if share else "patches")
    ax.set_title(title)
    ax.legend(title=None, fontsize=8)
    return fig


def plot_class_map(mask: np.ndarray, title: str = "Dynamic World classes", legend: bool = True,
                   extent: np.ndarray | None = None) -> Figure:
    """Show a Dynamic World class map in the official palette, with a legend of the classes present (chapter 3).

    ``extent`` (boolean, same shape) outlines a crisis extent in dark grey hatching.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2 or (mask.size and int(mask.max()) >= len(DW_CLASSES)):
        raise ValueError(f"mask must be a 2-D map of Dynamic World indices 0-{len(DW_CLASSES) - 1}, got shape {mask.shape}")
    cmap = ListedColormap([DW_PALETTE[name] for name in DW_CLASSES])
    fig = Figure(figsize=(5.5 if legend else 4, 4), layout="constrained")
    ax = fig.subplots()
    ax.imshow(mask, cmap=cmap, vmin=-0.5, vmax=len(DW_CLASSES) - 0.5, interpolation="nearest")
    if extent is not None:
        ax.contourf(np.asarray(extent, dtype=float), levels=[0.5, 1.5], colors="none", hatches=["///"])
        ax.contour(np.asarray(extent, dtype=float), levels=[0.5], colors=_CRISIS_COLOUR, linewidths=1)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    if legend:
        present = [DW_CLASSES[i] for i in np.unique(mask)]
        handles = [LegendPatch(color=DW_PALETTE[name], label=name) for name in present]
        if extent is not None:
            handles.append(LegendPatch(facecolor="none", edgecolor=_CRISIS_COLOUR, hatch="///", label="crisis extent"))
        ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
    return fig
