"""Plotting for full scale (chapter 10); every function returns a Figure.

* :func:`plot_search_tradeoff` - speed against quality of exact and approximate search.
* :func:`plot_cost_curves` - time and throughput of each stage against corpus size.

Both read the sections of ``benchmarks/results/scale.json`` (``search`` and ``cost``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from matplotlib.figure import Figure

__all__: list[str] = ["plot_cost_curves", "plot_search_tradeoff"]


def plot_search_tradeoff(search: Mapping[str, Any], target_ms: float = 5.0) -> Figure:
    """ms per single query (log scale) against recall@10 and nDCG@10, one point per method and setting (chapter 10).

    Raises:
        ValueError: if the section holds no methods.
    """
    rows = list(search.get("methods", []))
    if not rows:
        raise ValueError("the search results hold no methods: run `benchmarks/scale.py search`")
    fig = Figure(figsize=(10, 4), layout="constrained")
    axes = fig.subplots(1, 2, sharex=True)
    families = dict.fromkeys(r["method"] for r in rows)
    markers = ["s", "D", "o", "^", "v"]
    for ax, metric, label in ((axes[0], "recall_at_10", "recall@10 against exact"), (axes[1], "ndcg_at_10", "nDCG@10 (graded qrels)")):
        for marker, family in zip(markers, families):
            points = [r for r in rows if r["method"] == family]
            ax.plot([p["ms_per_query_batch1"] for p in points], [p[metric] for p in points], marker=marker, linestyle="-", label=family)
            for p in points:
                knob = p.get("nprobe", p.get("ef_search"))
                if knob is not None:
                    ax.annotate(str(knob), (p["ms_per_query_batch1"], p[metric]), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.axvline(target_ms, color="grey", linestyle=":", label=f"target {target_ms:g} ms")
        if metric == "ndcg_at_10":
            exact = search.get("exact_ndcg_at_10")
            if exact is not None:
                ax.axhspan(exact - 0.01, exact + 0.01, color="grey", alpha=0.15, label="exact nDCG@10 +/- 1 point")
        ax.set(xscale="log", xlabel="ms per query (one at a time)", ylabel=label)
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(f"Search over {search.get('n_vectors', 0):,} vectors: speed against quality (numbers: nprobe / efSearch)")
    return fig


def plot_cost_curves(cost: Mapping[str, Any]) -> Figure:
    """Seconds (log-log) and patches per second of each stage against the corpus size (chapter 10).

    Where the rows record their CPU seconds, these are drawn dashed in the stage's colour: on a
    shared machine the wall time grows with the load, the CPU time does not.

    Raises:
        ValueError: if the section holds no stages.
    """
    rows = list(cost.get("stages", []))
    if not rows:
        raise ValueError("the cost results hold no stages: run `benchmarks/scale.py cost`")
    fig = Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    for stage in dict.fromkeys(r["stage"] for r in rows):
        points = sorted((r for r in rows if r["stage"] == stage), key=lambda r: r["size"])
        sizes = [p["size"] for p in points]
        if all("seconds" in p for p in points):
            (line,) = left.plot(sizes, [p["seconds"] for p in points], "o-", label=f"{stage} (wall)")
            if all("cpu_seconds" in p for p in points):
                left.plot(sizes, [p["cpu_seconds"] for p in points], "o--", color=line.get_color(), alpha=0.6, label=f"{stage} (CPU)")
        right.plot(sizes, [p["patches_per_s"] for p in points], "o-", label=stage)
    left.set(xscale="log", yscale="log", xlabel="corpus size (patches)", ylabel="seconds", title="time per stage")
    left.legend(fontsize=8, ncols=2)
    right.set(xscale="log", xlabel="corpus size (patches)", ylabel="patches per second", title="throughput per stage")
    right.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    return fig
