"""Plots of chapter 9 (captioning and question answering); every function returns a Figure."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from closp_lite.plotting.images import sample_rgb

__all__ = ["plot_captioned", "plot_decoding", "plot_grouped_bars"]


def plot_decoding(steps: Sequence[Mapping[str, Any]], max_steps: int = 16) -> Figure:
    """Greedy decoding step by step: each row a step, its candidates ranked by probability, the chosen one first (chapter 9)."""
    steps = list(steps)[:max_steps]
    top = len(steps[0]["candidates"])
    probs = np.array([[p for _, p in step["candidates"]] for step in steps])
    fig = Figure(figsize=(1.7 * top + 1.5, 0.5 * len(steps) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(probs, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for i, step in enumerate(steps):
        for j, (word, p) in enumerate(step["candidates"]):
            ax.text(j, i, f"{word}\n{p:.2f}", ha="center", va="center", fontsize=10, color="white" if p > 0.6 else "black")
    ax.set_xticks(range(top), [f"rank {j + 1}" for j in range(top)])
    ax.set_yticks(range(len(steps)), [f"step {i + 1}" for i in range(len(steps))])
    ax.set_title("Greedy decoding: next-word candidates at every step (the chosen word is rank 1)")
    return fig


def plot_captioned(samples: Sequence[Any], texts: Sequence[Mapping[str, str]], width: int = 70) -> Figure:
    """Patches beside their captions: one row per sample, ``texts`` maps a name ("reference", "greedy", ...) to a caption (chapter 9)."""
    bodies = ["\n\n".join(f"{name}: " + "\n".join(textwrap.wrap(text, width)) for name, text in captions.items()) for captions in texts]
    # each row as tall as its text (10 pt lines) and never less than the picture: long captions did overlap the next row
    heights = [max(2.4, 0.19 * body.count("\n") + 0.5) for body in bodies]
    fig = Figure(figsize=(9.5, sum(heights)), layout="constrained")
    axes = fig.subplots(len(samples), 2, width_ratios=[1, 3], height_ratios=heights, squeeze=False)
    for (image_ax, text_ax), sample, body in zip(axes, samples, bodies, strict=True):
        image_ax.imshow(sample_rgb(sample))
        image_ax.set_title(str(sample.get("key", "")) if isinstance(sample, dict) else str(sample.key), fontsize=9)
        image_ax.axis("off")
        text_ax.text(0, 1, body, va="top", fontsize=10, family="monospace")
        text_ax.axis("off")
    return fig


def plot_grouped_bars(values: Mapping[str, Mapping[str, Sequence[float]]], ylabel: str, title: str) -> Figure:
    """Grouped bars with error bars: ``values[series][group] = (mean, std)`` (chapter 9)."""
    series = list(values)
    groups = list(dict.fromkeys(g for s in series for g in values[s]))
    # at most 9.5 inches: wider figures are shrunk to the page width and their labels with them
    fig = Figure(figsize=(min(9.5, max(6.0, 0.25 * len(groups) * len(series) + 2.5)), 4.0), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / len(series)
    for i, name in enumerate(series):
        means = [values[name].get(g, (np.nan, 0.0))[0] for g in groups]
        stds = [values[name].get(g, (np.nan, 0.0))[1] for g in groups]
        ax.bar(np.arange(len(groups)) + (i - (len(series) - 1) / 2) * width, means, width, yerr=stds, label=name, capsize=2)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)
    return fig
