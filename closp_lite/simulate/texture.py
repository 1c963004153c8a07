"""Texture inside the class outlines of a simulated scene: what makes a field, a forest or a town look real (chapter 1).

A land-cover map says *what* covers each pixel; a real Sentinel-2 image also shows how that cover
varies within itself at 10 m. This module draws those patterns as plain maps that the spectral
renderer (:mod:`closp_lite.simulate.spectra`) turns into reflectance:

* **fields**: tillage and tramline rows along the field strips, soil moisture patches, and
  hedgerows along some parcel edges;
* **forests**: crowns and the gaps between them (fine, strong brightness texture);
* **towns**: houses (roofs of a few kinds) and gardens on the street grid;
* **river and lake banks**: a rim of sand, mud or riparian trees where land meets water;
* **terrain**: slopes facing the sun are brighter, slopes facing away darker.

Everything is vectorised NumPy over the 120 x 120 patch and drawn from the scene's random stream,
so the same seed gives the same texture.
"""

from __future__ import annotations

import numpy as np

from closp_lite.simulate.landcover import (
    BARE,
    BUILT,
    CROPS,
    GRASS,
    SHRUB,
    STREET_ID,
    TREES,
    Layout,
    rotated_coordinates,
)

TOWN_KINDS: tuple[str, ...] = ("garden", "red tile roof", "grey roof", "bright roof", "dark roof")
"""What a house cell of a town shows, in the order of :func:`town_cells` (gardens are vegetation)."""

SUN_AZIMUTH_DEG = 150.0
"""Azimuth of the sun at the Sentinel-2 overpass (10:30 local time, mid-latitudes): south-south-east."""

SUN_ELEVATION_DEG = 40.0
"""A typical mid-latitude sun elevation at the overpass (lower in winter, higher in summer)."""


def brightness_texture(layout: Layout, fine: np.ndarray, patches: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return a multiplicative brightness map (H, W) for the texture inside each class (chapter 1).

    ``fine`` (correlation about one pixel) gives forest crowns and gaps; ``patches`` (a few
    pixels) gives soil moisture and uneven growth in fields, pastures, scrub and bare land.
    Crop parcels get rows along the field strips with a period and strength of their own
    (tramlines every 20-50 m; some parcels show none).
    """
    mask = layout.mask
    factor = np.ones(mask.shape, dtype=np.float32)
    open_land = np.isin(mask, (CROPS, GRASS, SHRUB, BARE))
    factor[open_land] += 0.05 * patches[open_land]
    shrub = mask == SHRUB
    factor[shrub] += 0.15 * fine[shrub]  # bushes and the soil between them
    grass = mask == GRASS
    factor[grass] += 0.03 * fine[grass]
    trees = mask == TREES
    # Crowns: bright sunlit tops, dark gaps (skewed towards shadow: gaps are darker than crowns are bright)
    crowns = np.where(fine > 0, 0.10 * fine, 0.18 * fine)
    factor[trees] += crowns[trees]
    crops = mask == CROPS
    if crops.any():
        u, _ = rotated_coordinates(mask.shape[0], layout.field_angle)
        n_ids = int(layout.parcels.max()) + 1
        period = rng.uniform(2.2, 5.0, size=n_ids)[layout.parcels[crops]]
        strength = (rng.random(n_ids) < 0.6) * rng.uniform(0.02, 0.08, size=n_ids)
        factor[crops] += strength[layout.parcels[crops]] * np.cos(2 * np.pi * u[crops] / period)
    return factor


RELIEF: dict[str, float] = {"alpine": 1.2, "mediterranean": 0.35, "semiarid": 0.35}
"""Height change (pixels) per pixel step for a unit step of a layout's elevation field, per climate (steep Alps)."""
RELIEF_DEFAULT = 0.12


def relief(climate: str) -> float:
    """Return how steep the terrain of a ``climate`` is (:data:`RELIEF`, else :data:`RELIEF_DEFAULT`) (chapters 1, 2)."""
    return RELIEF.get(climate, RELIEF_DEFAULT)


def terrain_shading(elevation: np.ndarray, relief: float) -> np.ndarray:
    """Return the illumination factor (H, W) of the terrain for the overpass sun, about 1 on flat land (chapter 1).

    Lambert's law on the slopes of ``elevation`` scaled by ``relief`` (height change per pixel
    for a unit elevation step): ``cos(incidence) / cos(solar zenith)``, clipped so that slopes
    facing away from the sun keep some sky light.
    """
    d_row, d_col = np.gradient(relief * elevation.astype(np.float64))
    azimuth, elevation_angle = np.radians(SUN_AZIMUTH_DEG), np.radians(SUN_ELEVATION_DEG)
    # rows grow southwards and columns eastwards; the slope's normal is (-dz/dx, -dz/dy, 1)
    east, north = np.sin(azimuth), np.cos(azimuth)
    sun = np.array([east * np.cos(elevation_angle), north * np.cos(elevation_angle), np.sin(elevation_angle)])
    normal_x, normal_y = -d_col, d_row  # north is minus rows
    cos_incidence = (normal_x * sun[0] + normal_y * sun[1] + sun[2]) / np.sqrt(normal_x**2 + normal_y**2 + 1)
    return np.clip(cos_incidence / sun[2], 0.25, 1.6).astype(np.float32)


def town_cells(layout: Layout, rng: np.random.Generator) -> np.ndarray:
    """Return an int8 map (H, W): the :data:`TOWN_KINDS` index of each built pixel, -1 elsewhere (chapter 1).

    House cells of 2-4 pixels (20-40 m: a house and its yard) sit on the town's street grid;
    each is a garden or a roof of a kind. The share of gardens varies between towns (dense
    centres, green suburbs).
    """
    mask = layout.mask
    kinds = np.full(mask.shape, -1, dtype=np.int8)
    built = (mask == BUILT) & (layout.parcels != STREET_ID)
    if not built.any():
        return kinds
    u, v = rotated_coordinates(mask.shape[0], layout.street_grid[0])
    cell = rng.uniform(2.0, 4.0)
    ids = (np.floor(u[built] / cell) * 1000 + np.floor(v[built] / cell)).astype(np.int64)
    unique, inverse = np.unique(ids, return_inverse=True)
    gardens = rng.uniform(0.35, 0.6)
    roofs = np.array([0.35, 0.35, 0.12, 0.18])
    weights = np.concatenate([[gardens], (1 - gardens) * roofs])
    kinds[built] = rng.choice(len(TOWN_KINDS), size=unique.size, p=weights)[inverse]
    return kinds


def hedgerows(layout: Layout, rng: np.random.Generator, share: float) -> np.ndarray:
    """Return a boolean (H, W) map of hedgerow pixels: parcel edges of fields and pastures that carry a hedge (chapter 1).

    Each parcel keeps a hedge along its edges with probability ``share`` (high in Atlantic
    bocage such as Ireland, low in open arable plains).
    """
    parcels = layout.parcels
    farmland = np.isin(layout.mask, (CROPS, GRASS))
    edge = np.zeros(parcels.shape, dtype=bool)
    edge[:, 1:] |= parcels[:, 1:] != parcels[:, :-1]
    edge[1:, :] |= parcels[1:, :] != parcels[:-1, :]
    hedged = rng.random(int(parcels.max()) + 1) < share
    return edge & farmland & hedged[parcels]


def bank_rim(layout: Layout, width: float = 1.5) -> np.ndarray:
    """Return a boolean (H, W) map of land pixels within ``width`` pixels of water: the banks (chapter 1)."""
    return (layout.water_distance > 0) & (layout.water_distance <= width)
