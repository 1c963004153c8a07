"""Chapter 10's figures."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from closp_lite.plotting.scale import plot_cost_curves, plot_search_tradeoff

SEARCH = {"n_vectors": 1000, "exact_ndcg_at_10": 0.7, "methods": [
    {"method": "exact", "ms_per_query_batch1": 100.0, "recall_at_10": 1.0, "ndcg_at_10": 0.7},
    {"method": "ivf", "nprobe": 1, "ms_per_query_batch1": 0.5, "recall_at_10": 0.6, "ndcg_at_10": 0.65},
    {"method": "ivf", "nprobe": 16, "ms_per_query_batch1": 2.0, "recall_at_10": 0.95, "ndcg_at_10": 0.7},
]}  # fmt: skip
COST = {"sizes": [1000, 5000], "stages": [
    {"stage": "train", "size": 1000, "seconds": 10.0, "patches_per_s": 20.0},
    {"stage": "train", "size": 5000, "seconds": 40.0, "patches_per_s": 25.0},
    {"stage": "loader", "size": 1000, "patches_per_s": 90.0},
]}  # fmt: skip


def test_search_tradeoff_draws_one_line_per_method() -> None:
    fig = plot_search_tradeoff(SEARCH)
    assert isinstance(fig, Figure)
    left, right = fig.axes[:2]
    assert [line.get_label() for line in left.get_lines()][:2] == ["exact", "ivf"]
    assert list(right.get_lines()[1].get_ydata()) == [0.65, 0.7]
    with pytest.raises(ValueError, match="no methods"):
        plot_search_tradeoff({"methods": []})


def test_cost_curves_skip_stages_without_times() -> None:
    fig = plot_cost_curves(COST)
    left, right = fig.axes[:2]
    assert [line.get_label() for line in left.get_lines()] == ["train (wall)"]  # the loader has no seconds
    assert len(right.get_lines()) == 2
    with pytest.raises(ValueError, match="no stages"):
        plot_cost_curves({})


def test_cost_curves_draw_cpu_time_beside_wall_time() -> None:
    rows = [{**r, "cpu_seconds": r["seconds"] / 2} for r in COST["stages"] if r["stage"] == "train"]
    left = plot_cost_curves({"stages": rows}).axes[0]
    wall, cpu = left.get_lines()
    assert cpu.get_label() == "train (CPU)" and list(cpu.get_ydata()) == [5.0, 20.0]
    assert cpu.get_color() == wall.get_color() and cpu.get_linestyle() == "--"
