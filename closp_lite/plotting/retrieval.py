"""Plotting for retrieval (chapter 6); every function returns a Figure.

* :func:`plot_ablation_bars` - one metric per experiment and corpus (S1-only, S2-only, mixed).
* :func:`plot_ndcg_curves` - nDCG@k against the cut-off k, one line per experiment.
* :func:`plot_search_results` - the images a query found, with rank, score and labels.

Thumbnails reuse the composites of :mod:`closp_lite.physics`: S2 in true colour (B4, B3, B2),
S1 as (VV, VH, VV - VH) each with a robust percentile stretch.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

__all__: list[str] = ["line_style", "plot_ablation_bars", "plot_ndcg_curves", "plot_search_results", "thumbnail"]

CORPUS_NAMES = {"s1": "S1-only corpus", "s2": "S2-only corpus", "mixed": "mixed corpus"}


def plot_ablation_bars(
    results: Mapping[str, Mapping[str, Mapping[str, float]]],
    metric: str = "ndcg@1000",
    corpora: Sequence[str] = ("s1", "s2", "mixed"),
    title: str | None = None,
) -> Figure:
    """Horizontal grouped bars of ``metric``: one row per experiment, one colour per corpus (chapter 6).

    ``results[experiment][corpus][metric]`` is a percentage, as written by
    :func:`closp_lite.experiments.run_experiments`. A missing corpus is drawn as no bar.
    """
    if not results:
        raise ValueError("no experiments to plot: results is empty")
    names = list(results)
    # horizontal bars, one row per experiment: with a dozen experiments, vertical groups shrank to
    # unreadable labels at the page width
    fig = Figure(figsize=(8.0, 1.2 + 0.55 * len(names) * max(1, len(corpora)) / 2), layout="constrained")
    ax = fig.add_subplot()
    height = 0.8 / len(corpora)
    for j, corpus in enumerate(corpora):
        values = [results[name].get(corpus, {}).get(metric, np.nan) for name in names]
        y = np.arange(len(names)) + (j - (len(corpora) - 1) / 2) * height
        bars = ax.barh(y, values, height, label=CORPUS_NAMES.get(corpus, corpus))
        ax.bar_label(bars, fmt="%.1f", fontsize=8, padding=2)
    ax.set_yticks(np.arange(len(names)), names, fontsize=9)
    ax.invert_yaxis()  # first experiment on top, as in the results table
    ax.set_xlabel(f"{metric} (%)")
    ax.set_xlim(0, 105)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(title or f"{metric} per experiment and corpus (simulated data)")
    return fig


def line_style(i: int) -> tuple[Any, str, str]:
    """Colour, dash and marker of the ``i``-th line, distinct for the first 40 lines (chapter 6).

    Twenty colours (tab20) are crossed with two dash patterns and markers, so a dozen
    experiments never share a colour and style.
    """
    from matplotlib import colormaps

    return colormaps["tab20"](i % 20), ("-", "--")[(i // 20) % 2], "osd^v<>ph*"[i % 10]


def plot_ndcg_curves(curves: Mapping[str, Mapping[int, float]], title: str | None = None) -> Figure:
    """nDCG@k (percent) against k on a log axis, one line per experiment (chapter 6).

    ``curves[experiment][k]``; ``k`` may be an int or its string (as read back from JSON).
    """
    if not curves:
        raise ValueError("no curves to plot: curves is empty")
    fig = Figure(figsize=(8.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for i, (name, curve) in enumerate(curves.items()):
        ks = sorted(int(k) for k in curve)
        values = [curve[k] if k in curve else curve[str(k)] for k in ks]  # type: ignore[index]
        colour, dash, marker = line_style(i)
        ax.plot(ks, values, color=colour, linestyle=dash, marker=marker, ms=4, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("cut-off k")
    ax.set_ylabel("nDCG@k (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: never over the lines
    ax.set_title(title or "nDCG@k against the cut-off (simulated data)")
    return fig


def thumbnail(image: np.ndarray) -> np.ndarray:
    """An (H, W, 3) RGB view in [0, 1] of a stored or model-ready S1 or S2 image (chapter 6).

    S2 (12 or 13 bands): true colour. S1 (VV, VH in dB): VV, VH and the VV - VH ratio as red,
    green and blue, each stretched between its 2nd and 98th percentile.
    """
    from closp_lite.physics import optical
    from closp_lite.plotting.images import s1_rgb

    image = np.asarray(image)
    if image.ndim != 3 or image.shape[0] not in (2, 12, 13):
        raise ValueError(f"a thumbnail needs an S1 (2, H, W) or S2 (12 or 13, H, W) image, got shape {image.shape}")
    if image.shape[0] != 2:
        return optical.true_colour(image)
    return s1_rgb(image)


def plot_search_results(
    query: str, hits: Sequence[Mapping[str, Any]], images: Sequence[np.ndarray], ncols: int = 4
) -> Figure:
    """A grid of the images found for ``query``: rank, modality, score and labels above each (chapter 6).

    ``hits`` are the rows of :func:`closp_lite.experiments.search_text` (``rank``, ``key``,
    ``modality``, ``score``, ``labels``) and ``images[i]`` the stored image of ``hits[i]``.
    """
    if not hits:
        raise ValueError(f"nothing to show: the search for {query!r} returned no images")
    if len(images) != len(hits):
        raise ValueError(f"need one image per hit: {len(images)} images for {len(hits)} hits")
    ncols = min(ncols, len(hits))
    nrows = -(-len(hits) // ncols)
    fig = Figure(figsize=(2.6 * ncols, 3.4 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, hit, image in zip(axes.flat, hits, images):
        ax.imshow(thumbnail(image))
        labels = textwrap.fill(", ".join(str(label) for label in hit["labels"]) or "(no label)", width=28)
        ax.set_title(f"#{hit['rank']} {str(hit['modality']).upper()}  {hit['score']:.3f}\n{labels}", fontsize=9)
    fig.suptitle(f"\u201c{query}\u201d", fontsize=10)
    return fig
