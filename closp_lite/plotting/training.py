"""Plotting for training (chapter 5); every function returns a Figure.

* :func:`plot_loss_curves` - train and validation loss per epoch from a run's ``log.csv`` rows.
* :func:`live_loss_curves` - a callback for ``train(on_epoch=...)`` that redraws them in a notebook.
* :func:`plot_similarity` - a similarity matrix (images x captions) as a heatmap.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

__all__: list[str] = ["live_loss_curves", "plot_loss_curves", "plot_similarity"]

# Tick labels longer than this are cut (whole words, "..."): full captions as rotated labels took
# most of the figure and left the heatmap a few pixels wide.
TICK_LABEL_CHARS = 30


def plot_loss_curves(log: Sequence[Mapping[str, float]], title: str | None = None) -> Figure:
    """Train/validation loss per epoch, overall with the chance levels (left) and per modality (right) (chapter 5).

    ``log`` is what :func:`closp_lite.training.read_log` returns (or ``TrainResult.log``).

    Raises:
        ValueError: if the log is empty.
    """
    if not log:
        raise ValueError("the training log is empty: train at least one epoch")
    epochs = [row["epoch"] for row in log]
    fig = Figure(figsize=(9, 3.5))
    left, right = fig.subplots(1, 2)
    left.plot(epochs, [r["train_loss"] for r in log], "o-", label="train")
    left.plot(epochs, [r["val_loss"] for r in log], "s--", label="validation")
    # log(B) is what a model that knows nothing scores; batches of different sizes have different levels.
    for name, style in (("train_chance", ":"), ("val_chance", "-.")):
        if all(name in r and np.isfinite(r[name]) for r in log):
            left.plot(epochs, [r[name] for r in log], style, color="grey", label=f"chance, {name.split('_')[0]} (log B)")
    left.set(xlabel="epoch", ylabel="CLOSP loss", title="step loss (mean over modalities)")
    for modality, colour in (("s1", "tab:purple"), ("s2", "tab:green")):
        right.plot(epochs, [r[f"train_{modality}"] for r in log], "o-", color=colour, label=f"{modality.upper()} train")
        right.plot(epochs, [r[f"val_{modality}"] for r in log], "s--", color=colour, label=f"{modality.upper()} validation")
    right.set(xlabel="epoch", title="per modality")
    for ax in (left, right):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def live_loss_curves(title: str | None = None) -> Callable[[Sequence[Mapping[str, float]]], Figure]:
    """Return a callback for ``train(on_epoch=...)`` that redraws the loss curves after every epoch (chapter 5).

    In a notebook the figure is updated in place (one output, not one per epoch); elsewhere the
    callback only builds the Figure. Each call returns the Figure it drew.
    """
    handle = None

    def update(log: Sequence[Mapping[str, float]]) -> Figure:
        nonlocal handle
        fig = plot_loss_curves(log, title)
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:  # pragma: no cover - IPython comes with Jupyter
            return fig
        if get_ipython() is not None:
            if handle is None:
                handle = display(fig, display_id=True)
            else:
                handle.update(fig)
        return fig

    return update


def plot_similarity(
    similarity: np.ndarray, row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None,
    title: str = "image-caption similarity",
) -> Figure:  # fmt: skip
    """Heatmap of a similarity matrix (rows: images, columns: captions); the diagonal holds the pairs (chapter 5).

    Raises:
        ValueError: if the matrix is not 2-D or the labels do not match its shape.
    """
    similarity = np.asarray(similarity, dtype=float)
    if similarity.ndim != 2:
        raise ValueError(f"a similarity matrix is 2-D, got shape {similarity.shape}")
    for labels, size, name in ((row_labels, similarity.shape[0], "row"), (col_labels, similarity.shape[1], "column")):
        if labels is not None and len(labels) != size:
            raise ValueError(f"{len(labels)} {name} labels for {size} {name}s")
    # at least 6.5 x 5 inches: rendered at the page width, smaller heatmaps had unreadable labels
    fig = Figure(figsize=(max(6.5, 2.5 + 0.45 * similarity.shape[1]), max(5.0, 2.0 + 0.4 * similarity.shape[0])))
    ax = fig.subplots()
    image = ax.imshow(similarity, cmap="viridis")
    fig.colorbar(image, ax=ax, label="cosine similarity")
    if row_labels is not None:
        ax.set_yticks(range(len(row_labels)), _tick_labels(row_labels), fontsize=8)
    if col_labels is not None:
        ax.set_xticks(range(len(col_labels)), _tick_labels(col_labels), rotation=60, ha="right", fontsize=8)
    ax.set(xlabel="captions", ylabel="images", title=title)
    fig.tight_layout()
    return fig


def _tick_labels(labels: Sequence[str]) -> list[str]:
    return [textwrap.shorten(str(label), TICK_LABEL_CHARS, placeholder=" ...") for label in labels]
