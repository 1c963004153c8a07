"""Figures stay readable at the page width: distinct lines, legends outside the data, panels in
rows, minimum sizes (issue 15)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.text import Text

from closp_lite import plotting
from closp_lite.physics import sar
from closp_lite.plotting.images import VH_DISPLAY_DB, VV_DISPLAY_DB

NAMES = [f"experiment {i}" for i in range(13)]
PAGE_WIDTH_IN = 7.8  # the HTML book's text column, about 780 px at the 100 dpi of closp_lite.display
SMALLEST_PT = 6.5  # smaller text, once a wide figure is scaled down to the column, is hard to read


def smallest_text_on_the_page(fig: Figure) -> float:
    """The smallest text of ``fig`` in points as the book shows it: cropped, then scaled to the text column."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    scale = min(1.0, PAGE_WIDTH_IN / fig.get_tightbbox(renderer).width)
    return scale * min(t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip())


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


def test_similarity_heatmap_cuts_long_captions_so_the_heatmap_keeps_its_size() -> None:
    caption = "built. crops. flooded area. flooded vegetation. grass. trees. water"
    fig = plotting.plot_similarity(np.eye(2), None, [caption, "water"])
    fig.canvas.draw()  # layout done: the tick labels have their final size
    heatmap = fig.axes[0]
    labels = [label.get_text() for label in heatmap.get_xticklabels()]
    assert labels[1] == "water" and labels[0].endswith("...") and len(labels[0]) <= 30
    assert heatmap.get_position().height > 0.4  # of the figure: the matrix, not its labels, fills it


def _wide_figure(name: str) -> Figure:
    rng = np.random.default_rng(0)
    if name == "geography":
        return plotting.plot_geography()
    if name == "grouped bars":
        kinds = ["presence", "dominant", "counting", "position", "comparison", "crisis", "overall"]
        schedules = ["question-only", "sar", "direct", "progressive", "answer prior"]
        return plotting.plot_grouped_bars({s: {k: (0.5, 0.1) for k in kinds} for s in schedules}, "accuracy", "VQA")
    if name == "decoding":
        return plotting.plot_decoding([{"candidates": [("inundated", 0.04)] * 5} for _ in range(16)])
    if name == "captioned":
        sample = {"key": "sim_benv2s1_s1_000007", "modality": "s1", "image": rng.normal(-12, 3, (2, 32, 32))}
        caption = "a radar image of cropland and forest; the forest gives a grainy medium return " * 3
        return plotting.plot_captioned([sample] * 2, [{"reference": caption, "greedy": caption}] * 2)
    return plotting.plot_composites_and_indices(rng.integers(0, 3000, (12, 40, 40)).astype(np.float32))


@pytest.mark.parametrize("name", ["geography", "grouped bars", "decoding", "captioned", "composites"])
def test_wide_figures_keep_readable_text_at_the_page_width(name: str) -> None:
    assert smallest_text_on_the_page(_wide_figure(name)) >= SMALLEST_PT


def image_panels_on_the_page(fig: Figure) -> list[tuple[float, float]]:
    """(width, height) in inches of every image panel of ``fig`` as the book shows it: laid out,
    cropped, then scaled down to the text column if wider."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    scale = min(1.0, PAGE_WIDTH_IN / fig.get_tightbbox(renderer).width)
    boxes = [ax.get_window_extent(renderer) for ax in fig.axes if ax.images]
    return [(scale * box.width / fig.dpi, scale * box.height / fig.dpi) for box in boxes]


SMALLEST_PANEL_IN = 2.0  # on the page; the one-row layouts these replace gave about 1.4 in


def _s2(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    return [rng.integers(0, 3000, (12, 40, 40)).astype(np.float32) for _ in range(n)]


def test_chapter_1_composites_and_indices_lie_in_two_rows_of_readable_panels() -> None:
    fig = plotting.plot_composites_and_indices(_s2(np.random.default_rng(0), 1)[0], ("NDVI", "NDWI", "NBR"), title="patch")
    panels = image_panels_on_the_page(fig)
    assert len(panels) == 5
    assert min(min(side) for side in panels) >= SMALLEST_PANEL_IN
    rows = {round(ax.get_window_extent().y0) for ax in fig.axes if ax.images}
    assert len(rows) == 2  # composites above, index maps below
    assert fig.get_size_inches()[0] <= PAGE_WIDTH_IN  # never scaled down on the page


@pytest.mark.parametrize("n", [1, 3, 4, 6, 7])
def test_real_and_simulated_patches_come_in_blocks_of_at_most_three(n: int) -> None:
    rng = np.random.default_rng(0)
    titles = [f"Lithuania\nwater, trees, crops, built area, flooded vegetation {i}" for i in range(n)]
    fig = plotting.plot_real_and_simulated(_s2(rng, n), _s2(rng, n), titles)
    image_axes = [ax for ax in fig.axes if ax.images]
    assert len(image_axes) == 2 * n
    columns = {round(ax.get_window_extent().x0) for ax in image_axes}
    rows = {round(ax.get_window_extent().y0) for ax in image_axes}
    assert len(columns) == min(3, n) and len(rows) == 2 * -(-n // 3)  # a real row over a simulated row per block
    assert min(min(side) for side in image_panels_on_the_page(fig)) >= SMALLEST_PANEL_IN
    assert smallest_text_on_the_page(fig) >= SMALLEST_PT
    assert {ax.get_ylabel() for ax in image_axes} >= {"real", "simulated"}


def test_chapter_1_true_and_false_colour_pairs_come_in_blocks_of_three() -> None:
    fig = plotting.plot_composite_pairs(_s2(np.random.default_rng(0), 6), [f"2017-0{i}-01" for i in range(1, 7)])
    image_axes = [ax for ax in fig.axes if ax.images]
    assert len(image_axes) == 12
    assert len({round(ax.get_window_extent().x0) for ax in image_axes}) == 3
    assert min(min(side) for side in image_panels_on_the_page(fig)) >= SMALLEST_PANEL_IN
    assert smallest_text_on_the_page(fig) >= SMALLEST_PT


def test_chapter_2_polarisations_show_vv_over_vh_on_their_own_scales_in_blocks_of_three() -> None:
    rng = np.random.default_rng(0)
    images = [np.stack([np.full((8, 8), -12.0), np.full((8, 8), -19.0)]) + rng.normal(0, 1, (2, 8, 8)) for _ in range(6)]
    fig = plotting.plot_polarisations(images, [f"2017-0{i}-01" for i in range(1, 7)])
    image_axes = [ax for ax in fig.axes if ax.images]
    assert len(image_axes) == 12 and len({round(ax.get_window_extent().x0) for ax in image_axes}) == 3
    assert min(min(side) for side in image_panels_on_the_page(fig)) >= SMALLEST_PANEL_IN
    assert smallest_text_on_the_page(fig) >= SMALLEST_PT
    vv, vh = image_axes[0].images[0], image_axes[3].images[0]  # the first block: a VV row over a VH row
    assert (image_axes[0].get_ylabel(), image_axes[3].get_ylabel()) == ("VV", "VH")
    assert np.allclose(vv.get_array(), images[0][0]) and np.allclose(vh.get_array(), images[0][1])
    assert vv.get_clim() == VV_DISPLAY_DB and vh.get_clim() == VH_DISPLAY_DB
    with pytest.raises(ValueError, match="S1 patches"):
        plotting.plot_polarisations(_s2(rng, 1), ["optical"])


def test_real_and_simulated_refuses_lists_of_different_lengths() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="as many real as simulated"):
        plotting.plot_real_and_simulated(_s2(rng, 2), _s2(rng, 1), ["a", "b"])


@pytest.mark.parametrize("n, columns", [(1, 1), (3, 3), (4, 2), (5, 3)])
def test_chapter_1_composite_grids_keep_at_most_three_readable_panels_a_row(n: int, columns: int) -> None:
    fig = plotting.plot_composites(_s2(np.random.default_rng(0), n), [f"clouds {10 * i} %\nmean NDVI 0.41" for i in range(n)])
    image_axes = [ax for ax in fig.axes if ax.images]
    assert len({round(ax.get_window_extent().x0) for ax in image_axes}) == columns
    assert min(min(side) for side in image_panels_on_the_page(fig)) >= SMALLEST_PANEL_IN
    assert smallest_text_on_the_page(fig) >= SMALLEST_PT
