"""Maps of where patches are (chapter 0), of labels, search results and location guesses (chapter 7).

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


# ---------------------------------------------------------------- GeoCLOSP maps (chapter 7)

CRISIS_COLOURS = {
    "Flooded Area": "#08306b",
    "Earthquake Damage": "#000000",
    "Burned Area": "#d400d4",
}
RESULT_COLOUR, CONTEXT_COLOUR, TRUTH_COLOUR = "#d62728", "#b0b0b0", "#2ca02c"


def label_colour(labels: Sequence[str]) -> tuple[str, str]:
    """(label, colour) that represents a patch: its crisis label if any, else its first land-cover label (chapter 7).

    Land-cover colours are the Dynamic World palette.
    """
    from closp_lite.labels.vocabulary import DW_PALETTE

    for label in labels:
        if label in CRISIS_COLOURS:
            return label, CRISIS_COLOURS[label]
    first = next((label for label in labels if label in DW_PALETTE), None)
    return (first, DW_PALETTE[first]) if first else ("none", "#000000")


def points_map(
    lonlats: np.ndarray,
    colours: Sequence[str],
    names: Sequence[str],
    sizes: Sequence[float] | None = None,
    lines: Sequence[tuple[tuple[float, float], tuple[float, float]]] = (),
    legend: dict[str, str] | None = None,
    title: str = "",
    interactive: bool | None = None,
) -> Any:
    """Coloured points (and optional lines between (lon, lat) pairs) on a map (chapter 7).

    In a notebook: a :class:`closp_lite.display.WithFallback` of the ipyleaflet map and its static
    picture (JupyterLab shows the map, the HTML book the picture); elsewhere the static Figure.
    ``sizes`` are marker radii in pixels (default 5); ``legend`` maps a name to a colour.
    """
    lonlats = np.asarray(lonlats, dtype=float)
    _check(lonlats, names, None)
    sizes = list(sizes) if sizes is not None else [5.0] * len(lonlats)
    if len(colours) != len(lonlats) or len(sizes) != len(lonlats):
        raise ValueError("lonlats, colours, names and sizes must have the same length")
    if _want_interactive(interactive):
        try:
            world = _leaflet(lonlats, colours, names, sizes, lines, legend, title)
            return WithFallback(world, _static_points(lonlats, colours, names, sizes, lines, legend, title))
        except ImportError:
            pass
    return _static_points(lonlats, colours, names, sizes, lines, legend, title)


def _leaflet(lonlats: np.ndarray, colours: Sequence[str], names: Sequence[str], sizes: Sequence[float],
             lines: Sequence[Any], legend: dict[str, str] | None, title: str) -> Any:  # fmt: skip
    import ipyleaflet
    from ipywidgets import HTML

    world = ipyleaflet.Map(
        center=(float(lonlats[:, 1].mean()), float(lonlats[:, 0].mean())),
        zoom=3,
        scroll_wheel_zoom=True,
    )
    for (lon, lat), colour, name, size in zip(lonlats, colours, names, sizes, strict=True):
        marker = ipyleaflet.CircleMarker(
            location=(lat, lon),
            radius=int(size),
            color=colour,
            fill_color=colour,
            fill_opacity=0.8,
            weight=1,
        )
        marker.popup = HTML(value=name)
        world.add(marker)
    for (lon0, lat0), (lon1, lat1) in lines:
        world.add(
            ipyleaflet.Polyline(
                locations=[(lat0, lon0), (lat1, lon1)],
                color="#555555",
                weight=1,
                fill=False,
            )
        )
    if legend:
        world.add(ipyleaflet.LegendControl(legend, title=title or "legend", position="bottomright"))
    return world


def _static_points(lonlats: np.ndarray, colours: Sequence[str], names: Sequence[str], sizes: Sequence[float],
                   lines: Sequence[Any], legend: dict[str, str] | None, title: str) -> Figure:  # fmt: skip
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 5), layout="constrained")
    ax = fig.add_subplot()
    for (lon0, lat0), (lon1, lat1) in lines:
        ax.plot([lon0, lon1], [lat0, lat1], color="#555555", lw=0.7, zorder=2)
    ax.scatter(
        lonlats[:, 0],
        lonlats[:, 1],
        c=list(colours),
        s=np.square(sizes) * 1.5,
        edgecolors="k",
        linewidths=0.3,
        zorder=3,
    )
    pad = max(2.0, 0.1 * float(np.ptp(lonlats, axis=0).max(initial=0.0)))
    ax.set_xlim(lonlats[:, 0].min() - pad, lonlats[:, 0].max() + pad)
    ax.set_ylim(max(lonlats[:, 1].min() - pad, -90), min(lonlats[:, 1].max() + pad, 90))
    ax.set_aspect(1 / max(np.cos(np.deg2rad(lonlats[:, 1].mean())), 0.2))  # equal distances at the mean latitude
    ax.grid(True, alpha=0.4)
    ax.set(xlabel="longitude (deg)", ylabel="latitude (deg)", title=title)
    for name, colour in (legend or {}).items():
        ax.scatter([], [], c=colour, label=name, edgecolors="k", linewidths=0.3)
    if legend:
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7, frameon=False)
    return fig


def labels_map(
    lonlats: np.ndarray,
    labels: Sequence[Sequence[str]],
    keys: Sequence[str],
    interactive: bool | None = None,
) -> Any:
    """Patches as markers coloured by their label (crisis label first, else Dynamic World class) (chapter 7)."""
    picked = [label_colour(ls) for ls in labels]
    legend = dict(sorted({name: colour for name, colour in picked}.items()))
    names = [f"{key}: {', '.join(ls)}" for key, ls in zip(keys, labels, strict=True)]
    return points_map(
        lonlats,
        [c for _, c in picked],
        names,
        legend=legend,
        title="patches by label",
        interactive=interactive,
    )


def results_map(
    context: np.ndarray,
    results: Sequence[dict[str, Any]],
    query: str,
    interactive: bool | None = None,
) -> Any:
    """The corpus (grey) and the top results of ``query`` (red, larger for better ranks) (chapter 7).

    ``results`` are search rows with ``lon``, ``lat``, ``rank``, ``key`` and ``labels``
    (:func:`closp_lite.geolocation.search_near` adds the coordinates).
    """
    context = np.asarray(context, dtype=float).reshape(-1, 2)
    hits = np.array([[r["lon"], r["lat"]] for r in results], dtype=float).reshape(-1, 2)
    lonlats = np.concatenate([context, hits])
    names = [""] * len(context) + [f"#{r['rank']} {r['key']}: {', '.join(r['labels'])}" for r in results]
    colours = [CONTEXT_COLOUR] * len(context) + [RESULT_COLOUR] * len(hits)
    sizes = [2.5] * len(context) + [max(3.0, 9.0 - 0.5 * r["rank"]) for r in results]
    legend = {
        "corpus": CONTEXT_COLOUR,
        f"top {len(results)} for '{query}'": RESULT_COLOUR,
    }
    return points_map(
        lonlats,
        colours,
        names,
        sizes,
        legend=legend,
        title=f"results: {query}",
        interactive=interactive,
    )


def guesses_map(
    true_lonlat: Sequence[float],
    guesses: Sequence[dict[str, Any]],
    interactive: bool | None = None,
) -> Any:
    """The true location (green) and the ranked guesses of :func:`closp_lite.geolocation.locate_key` (red), joined by lines (chapter 7)."""
    true = (float(true_lonlat[0]), float(true_lonlat[1]))
    lonlats = np.array([true] + [(g["lon"], g["lat"]) for g in guesses], dtype=float)
    names = ["true location"] + [f"guess {g['rank']}: {g['error_km']:.0f} km off" for g in guesses]
    colours = [TRUTH_COLOUR] + [RESULT_COLOUR] * len(guesses)
    sizes = [9.0] + [max(3.0, 8.0 - g["rank"]) for g in guesses]
    lines = [(true, (g["lon"], g["lat"])) for g in guesses]
    legend = {"true location": TRUTH_COLOUR, "guesses": RESULT_COLOUR}
    return points_map(lonlats, colours, names, sizes, lines, legend, "where on Earth?", interactive)
