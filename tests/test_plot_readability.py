"""Figures stay readable at the page width: distinct lines, legends outside the data, panels in
rows, minimum sizes (issue 15)."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import to_hex

from closp_lite import plotting
from closp_lite.physics import sar

NAMES = [f"experiment {i}" for i in range(13)]


def test_thirteen_ndcg_curves_are_all_distinct_and_the_legend_is_outside() -> None:
    fig = plotting.plot_ndcg_curves({name: {1: i, 10: 2 * i, 100: 3 * i} for i, name in enumerate(NAMES)})
    ax = fig.axes[0]
    styles = {(to_hex(line.get_color()), line.get_linestyle(), line.get_marker()) for line in ax.lines}
    assert len(styles) == 13
    assert len({to_hex(line.get_color()) for line in ax.lines}) == 13  # not only the dashes differ
    fig.canvas.draw()
    legend, axes_box = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend.x0 >= axes_box.x1  # right of the plot, never over a line


def test_ablation_bars_give_every_experiment_a_readable_row() -> None:
    results = {name: {"s1": {"ndcg@1000": 40.0}, "s2": {"ndcg@1000": 50.0}, "mixed": {"ndcg@1000": 45.0}} for name in NAMES}
    fig = plotting.plot_ablation_bars(results)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == NAMES
    assert fig.get_size_inches()[1] >= 0.5 * len(NAMES)  # grows with the experiments
    assert all(t.get_fontsize() >= 8 for t in ax.texts)  # bar values


def test_speckle_filter_panels_wrap_in_rows_of_three() -> None:
    rng = np.random.default_rng(0)
    noisy = rng.gamma(4.0, 0.25, (40, 40))
    filters = {name: sar.boxcar_filter(noisy, 5) for name in ("a", "b", "c", "d", "e")}
    fig = plotting.plot_speckle_filters(noisy, filters)
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 6
    assert len({round(ax.get_position().y0, 3) for ax in images}) == 2  # two rows of three
    assert fig.get_size_inches()[0] <= 10


def test_similarity_heatmap_has_a_minimum_size() -> None:
    fig = plotting.plot_similarity(np.eye(3), ["a", "b", "c"], ["a", "b", "c"])
    width, height = fig.get_size_inches()
    assert width >= 6.5 and height >= 5.0
