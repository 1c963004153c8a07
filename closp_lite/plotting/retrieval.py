"""Plotting for retrieval (chapter 6); every function returns a Figure.

* :func:`plot_ablation_bars` - one metric per experiment and corpus (S1-only, S2-only, mixed).
* :func:`plot_ndcg_curves` - nDCG@k against the cut-off k, one line per experiment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

__all__: list[str] = ["plot_ablation_bars", "plot_ndcg_curves"]

CORPUS_NAMES = {"s1": "S1-only corpus", "s2": "S2-only corpus", "mixed": "mixed corpus"}


def plot_ablation_bars(
    results: Mapping[str, Mapping[str, Mapping[str, float]]],
    metric: str = "ndcg@1000",
    corpora: Sequence[str] = ("s1", "s2", "mixed"),
    title: str | None = None,
) -> Figure:
    """Grouped bars of ``metric`` for every experiment (groups) and corpus (colours) (chapter 6).

    ``results[experiment][corpus][metric]`` is a percentage, as written by
    :func:`closp_lite.experiments.run_experiments`. A missing corpus is drawn as no bar.
    """
    if not results:
        raise ValueError("no experiments to plot: results is empty")
    names = list(results)
    fig = Figure(figsize=(max(6.0, 1.3 * len(names)), 4.0), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / len(corpora)
    for j, corpus in enumerate(corpora):
        values = [results[name].get(corpus, {}).get(metric, np.nan) for name in names]
        x = np.arange(len(names)) + (j - (len(corpora) - 1) / 2) * width
        bars = ax.bar(x, values, width, label=CORPUS_NAMES.get(corpus, corpus))
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
    ax.set_xticks(np.arange(len(names)), names, rotation=20, ha="right")
    ax.set_ylabel(f"{metric} (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8, ncols=len(corpora), loc="upper left")
    ax.set_title(title or f"{metric} per experiment and corpus (simulated data)")
    return fig


def plot_ndcg_curves(curves: Mapping[str, Mapping[int, float]], title: str | None = None) -> Figure:
    """nDCG@k (percent) against k on a log axis, one line per experiment (chapter 6).

    ``curves[experiment][k]``; ``k`` may be an int or its string (as read back from JSON).
    """
    if not curves:
        raise ValueError("no curves to plot: curves is empty")
    fig = Figure(figsize=(6.0, 4.0), layout="constrained")
    ax = fig.add_subplot()
    for name, curve in curves.items():
        ks = sorted(int(k) for k in curve)
        ax.plot(ks, [curve[k] if k in curve else curve[str(k)] for k in ks], marker="o", ms=3, label=name)  # type: ignore[index]
    ax.set_xscale("log")
    ax.set_xlabel("cut-off k")
    ax.set_ylabel("nDCG@k (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "nDCG@k against the cut-off (simulated data)")
    return fig
