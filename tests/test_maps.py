"""Maps: interactive when asked, a static Figure otherwise; bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from closp_lite.maps import locations_map, static_map

LONLATS = np.array([[14.0, 47.5], [-8.0, 53.3], [25.0, 62.0]])
NAMES = ["austria", "ireland", "finland"]


def test_static_fallback_outside_notebooks() -> None:
    fig = locations_map(LONLATS, NAMES, ["s1", "s2", "s2"])
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    offsets = ax.collections[0].get_offsets()
    np.testing.assert_allclose(offsets, LONLATS)
    assert [t.get_text() for t in ax.texts] == NAMES


def test_interactive_map_has_one_marker_per_point() -> None:
    import ipyleaflet

    shown = locations_map(LONLATS, NAMES, interactive=True)
    world = shown.widget
    assert isinstance(world, ipyleaflet.Map)
    bundle = shown._repr_mimebundle_()
    assert bundle["image/png"] and "application/vnd.jupyter.widget-view+json" in bundle  # picture for the HTML book
    markers = [layer for layer in world.layers if isinstance(layer, ipyleaflet.CircleMarker)]
    assert sorted(tuple(m.location) for m in markers) == sorted((lat, lon) for lon, lat in LONLATS)


@pytest.mark.parametrize("bad", [np.zeros((3, 3)), np.array([[0.0, 95.0]]), np.array([[np.nan, 0.0]])])
def test_bad_coordinates_are_refused(bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        static_map(bad, ["x"] * len(bad))


def test_geoclosp_maps_static_and_interactive() -> None:
    import ipyleaflet

    from closp_lite.maps import (
        CRISIS_COLOURS,
        guesses_map,
        label_colour,
        labels_map,
        results_map,
    )

    assert label_colour(["Crops", "Flooded Area"]) == (
        "Flooded Area",
        CRISIS_COLOURS["Flooded Area"],
    )
    assert label_colour(["Trees"])[1] == "#397d49"  # Dynamic World palette
    labels = [["Trees"], ["Grass"], ["Burned Area", "Shrub and Scrub"]]
    fig = labels_map(LONLATS, labels, NAMES)
    assert isinstance(fig, Figure) and len(fig.axes[0].collections[0].get_offsets()) == 3
    assert {t.get_text() for t in fig.axes[0].get_legend().get_texts()} == {
        "Trees",
        "Grass",
        "Burned Area",
    }
    rows = [{"rank": 1, "key": "a", "labels": ["Trees"], "lon": 25.0, "lat": 62.0}]
    fig = results_map(LONLATS, rows, "forest")
    np.testing.assert_allclose(fig.axes[0].collections[0].get_offsets()[-1], [25.0, 62.0])
    guesses = [
        {"rank": 1, "lon": 10.0, "lat": 50.0, "error_km": 300.0},
        {"rank": 2, "lon": 0.0, "lat": 40.0, "error_km": 900.0},
    ]
    fig = guesses_map((14.0, 47.5), guesses)
    assert len(fig.axes[0].lines) == 2  # one line from the truth to each guess
    shown = guesses_map((14.0, 47.5), guesses, interactive=True)
    world = shown.widget
    assert isinstance(world, ipyleaflet.Map) and isinstance(shown.figure, Figure)  # the HTML book shows the figure
    assert sum(isinstance(layer, ipyleaflet.CircleMarker) for layer in world.layers) == 3
    assert sum(isinstance(layer, ipyleaflet.Polyline) for layer in world.layers) == 2
