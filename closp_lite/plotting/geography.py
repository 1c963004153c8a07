"""How the simulator makes location informative (chapter 7); every function returns a Figure."""

from __future__ import annotations

import datetime as dt

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from closp_lite.labels import DW_CLASSES

__all__ = ["plot_geography", "plot_harmonics"]

_EVENT_COLOURS = {"": "#7f7f7f", "flood": "#08306b", "burned": "#d400d4", "earthquake": "#000000"}


def plot_geography(date: dt.date = dt.date(2017, 8, 1)) -> Figure:
    """Simulator regions on a lon/lat map (boxes coloured by crisis event) and their land-cover priors on ``date`` (chapter 7).

    Top: every region's bounding box (grey: land cover only; coloured: where a crisis event is
    simulated). Bottom: the normalised Dynamic World class weights of each region, the prior the
    simulated scenes are drawn from (winter adds snow in snowy regions).
    """
    from closp_lite.simulate.geography import REGIONS, class_priors

    regions = list(REGIONS.values())
    # one above the other at the page width: side by side (13 inches) the labels shrank to 4 px
    fig = Figure(figsize=(9, 11), layout="constrained")
    # sub-figures: the map keeps the full width instead of aligning with the heatmap's long row labels
    grid = fig.add_gridspec(2, 1, height_ratios=[1, 1.25])
    top, bottom = fig.add_subfigure(grid[0]), fig.add_subfigure(grid[1])
    world, heat = top.subplots(), bottom.subplots()
    for region in regions:
        event = region.events[0] if region.events else ""
        colour = _EVENT_COLOURS[event]
        world.add_patch(
            Rectangle((region.lon[0], region.lat[0]), np.ptp(region.lon), np.ptp(region.lat), fc=colour, ec=colour, alpha=0.45)
        )
        east = region.lon[1] > 60  # labelled on their left, so that no name runs off the map
        world.annotate(
            region.name.split(" (")[0], (region.lon[0] if east else region.lon[1], region.lat[1]), fontsize=8,
            xytext=(-1 if east else 1, 1), textcoords="offset points", ha="right" if east else "left",
        )  # fmt: skip
    world.set(xlim=(-130, 100), ylim=(-30, 70), xlabel="longitude (deg)", ylabel="latitude (deg)", title="simulated regions")
    world.grid(True, alpha=0.4)
    for event, colour in _EVENT_COLOURS.items():
        world.add_patch(Rectangle((0, 0), 0, 0, fc=colour, alpha=0.45, label=event or "land cover only"))
    world.legend(loc="lower left", fontsize=9)
    priors = np.array([class_priors(region, date) for region in regions])
    image = heat.imshow(priors, cmap="Greens", vmin=0, aspect="auto")
    heat.set_xticks(range(len(DW_CLASSES)), DW_CLASSES, rotation=45, ha="right", fontsize=9)
    heat.set_yticks(range(len(regions)), [r.name for r in regions], fontsize=9)
    heat.set_title(f"land-cover prior per region ({date:%B})")
    bottom.colorbar(image, ax=heat, shrink=0.7, label="share of weight")
    return fig


def plot_harmonics(pairs: tuple[tuple[int, int], ...] = ((1, 0), (2, 1), (3, -2), (9, 4)), step_deg: float = 2.0) -> Figure:
    """Real spherical harmonics ``Y_l^m`` of :mod:`closp_lite.models.location` on a lon/lat grid of the globe (chapter 7).

    Red is positive, blue negative; ``l`` counts the nodal lines, ``|m|`` of them are meridians.
    """
    import torch

    from closp_lite.models.location import harmonic_index, spherical_harmonics

    lon, lat = np.meshgrid(np.arange(-180, 180 + step_deg, step_deg), np.arange(-90, 90 + step_deg, step_deg))
    degree = max(level for level, _ in pairs) + 1
    values = spherical_harmonics(torch.tensor(np.c_[lon.ravel(), lat.ravel()]), degree).numpy()
    index = harmonic_index(degree)
    fig = Figure(figsize=(3.2 * len(pairs), 2.2), layout="constrained")
    for ax, (level, m) in zip(np.atleast_1d(fig.subplots(1, len(pairs))), pairs, strict=True):
        grid = values[:, index.index((level, m))].reshape(lon.shape)
        limit = float(np.abs(grid).max())
        ax.pcolormesh(lon, lat, grid, cmap="RdBu_r", vmin=-limit, vmax=limit, shading="auto")
        ax.set(title=f"$Y_{{{level}}}^{{{m}}}$", xticks=[-180, 0, 180], yticks=[-90, 0, 90])
        ax.set_aspect("equal")
    return fig
