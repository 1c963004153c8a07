"""Maps of where patches are (chapter 0).

Interactive maps use ipyleaflet inside Jupyter. Every map has a static matplotlib fallback,
used outside a notebook, when ipyleaflet cannot be imported, when ``interactive=False``, or when
``CLOSP_LITE_STATIC_MAPS=1`` (tile servers need a network; the static map needs nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from closp_lite.display import WithFallback

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MODALITY_COLOURS = {"s1": "#d62728", "s2": "#1f77b4"}


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


def _want_interactive(interactive: bool | None) -> bool:
    if interactive is not None:
        return interactive
    from closp_lite.config import resolve

    return not resolve().static_maps and _in_notebook()


def _check(lonlats: np.ndarray, names: Sequence[str], modalities: Sequence[str] | None) -> None:
    if lonlats.ndim != 2 or lonlats.shape[1] != 2:
        raise ValueError(f"lonlats must have shape (N, 2), got {lonlats.shape}")
    if len(names) != len(lonlats) or (modalities is not None and len(modalities) != len(lonlats)):
        raise ValueError("lonlats, names and modalities must have the same length")
    if not np.all(np.isfinite(lonlats)) or np.any(np.abs(lonlats[:, 1]) > 90) or np.any(np.abs(lonlats[:, 0]) > 180):
        raise ValueError("lonlats must be finite (lon, lat) degrees with |lon| <= 180 and |lat| <= 90")


def static_map(lonlats: np.ndarray, names: Sequence[str], modalities: Sequence[str] | None = None) -> Figure:
    """Plot patch locations on a plain lon/lat graticule (the static fallback) and return the Figure."""
    from matplotlib.figure import Figure

    lonlats = np.asarray(lonlats, dtype=float)
    _check(lonlats, names, modalities)
    fig = Figure(figsize=(6, 5), layout="constrained")
    ax = fig.add_subplot()
    colours = [MODALITY_COLOURS.get(m, "k") for m in modalities] if modalities else "k"
    ax.scatter(lonlats[:, 0], lonlats[:, 1], c=colours, s=30, zorder=3)
    for (lon, lat), name in zip(lonlats, names, strict=True):
        ax.annotate(name, (lon, lat), xytext=(4, 4), textcoords="offset points", fontsize=7)
    pad = max(2.0, 0.15 * float(np.ptp(lonlats, axis=0).max(initial=0.0)))
    ax.set_xlim(lonlats[:, 0].min() - pad, lonlats[:, 0].max() + pad)
    ax.set_ylim(lonlats[:, 1].min() - pad, lonlats[:, 1].max() + pad)
    ax.set_aspect(1 / np.cos(np.deg2rad(lonlats[:, 1].mean())))  # equal distances at the mean latitude
    ax.grid(True, alpha=0.4)
    ax.set_xlabel("longitude (deg)")
    ax.set_ylabel("latitude (deg)")
    if modalities:
        for modality, colour in MODALITY_COLOURS.items():
            ax.scatter([], [], c=colour, label=modality.upper())
        ax.legend(loc="best", fontsize=8)
    return fig


def locations_map(
    lonlats: np.ndarray,
    names: Sequence[str],
    modalities: Sequence[str] | None = None,
    interactive: bool | None = None,
) -> Any:
    """Return an ipyleaflet ``Map`` with its static picture in Jupyter, else the static Figure (chapter 0).

    In a notebook the result is a :class:`closp_lite.display.WithFallback`: JupyterLab shows the
    interactive map (its ``.widget``), the HTML book the picture (its ``.figure``).

    Args:
        lonlats: (N, 2) longitude, latitude in degrees.
        names: a label per point (shown in a popup or next to the point).
        modalities: optional ``"s1"``/``"s2"`` per point, used for the colour.
        interactive: force (True) or refuse (False) the ipyleaflet map; None decides automatically.
    """
    lonlats = np.asarray(lonlats, dtype=float)
    _check(lonlats, names, modalities)
    if not _want_interactive(interactive):
        return static_map(lonlats, names, modalities)
    try:
        import ipyleaflet
    except ImportError:
        return static_map(lonlats, names, modalities)
    centre = (float(lonlats[:, 1].mean()), float(lonlats[:, 0].mean()))
    world = ipyleaflet.Map(center=centre, zoom=3, scroll_wheel_zoom=True)
    for i, ((lon, lat), name) in enumerate(zip(lonlats, names, strict=True)):
        colour = MODALITY_COLOURS.get(modalities[i], "black") if modalities else "black"
        marker = ipyleaflet.CircleMarker(location=(lat, lon), radius=6, color=colour, fill_color=colour, title=name)
        world.add(marker)
    return WithFallback(world, static_map(lonlats, names, modalities))
