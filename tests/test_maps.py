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
