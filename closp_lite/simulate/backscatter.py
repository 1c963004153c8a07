"""Sentinel-1 C-band backscatter of the simulated land covers (chapter 2).

Per class the table :data:`BACKSCATTER` gives VV and VH sigma0 in dB at the reference incidence
angle (:data:`closp_lite.physics.sar.REFERENCE_INCIDENCE_DEG`) for a green and a dormant canopy,
the slope of sigma0 with incidence angle (dB per degree) and the shape of the texture (the
heterogeneity of the scatterers; a K-distribution's order parameter: small = heterogeneous).

Indicative values, +- 2-3 dB in the literature (they depend on moisture, roughness, wind, growth
stage), consistent with the Sentinel-1 User Guide, Ulaby & Long (2014, ch. 10-11), Abdikan et
al. (2016, land cover from Sentinel-1 in Turkey), Twele et al. (2016, floods: open water below
about -18 dB VV) and Dostalova et al. (2018, forests), and with the typical CrisisLandMark means
(VV about -12 dB, VH about -20 dB); adjusted against the real BigEarthNet examples by
``benchmarks/calibration.py``.

An image is made in linear power: class means -> scene, object, incidence-angle and terrain-slope
variation, plus a few isolated strong scatterers -> blurred to the ~20 m resolution of IW GRD ->
times the texture -> plus a residual noise floor -> times Gamma speckle with the equivalent number
of looks of GRD IW (about 4.4) and the ~2-pixel grain of the resolution cell -> dB.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from closp_lite.labels import DW_CLASSES
from closp_lite.physics.sar import REFERENCE_INCIDENCE_DEG, from_db, speckle, to_db
from closp_lite.simulate.landcover import BUILT, STREET_ID, WATER, Layout
from closp_lite.simulate.spectra import pixel_greenness
from closp_lite.simulate.texture import relief

GRD_IW_LOOKS = 4.4
"""Equivalent number of looks of Sentinel-1 IW GRD high-resolution products (ESA Sentinel-1 Product Definition)."""

NESZ_DB = -28.0
"""Residual noise floor in dB. IW mode has a noise-equivalent sigma0 of about -22 to -26 dB (Sentinel-1
User Guide); BigEarthNet-S1 and CrisisLandMark products had thermal noise removed, which leaves a
weaker residual floor - what keeps calm water and VH over smooth surfaces from going arbitrarily dark."""

INCIDENCE_RANGE_DEG = (30.0, 45.5)
"""Incidence angles of the IW swath (29.1 - 46.0 degrees), near to far range."""


@dataclass(frozen=True)
class ClassBackscatter:
    """C-band backscatter model of one land cover (chapter 2): dB at the reference angle."""

    vv_db: float
    vh_db: float
    vv_dormant_db: float
    vh_dormant_db: float
    slope_db_per_deg: float
    texture_shape: float


BACKSCATTER: dict[str, ClassBackscatter] = {
    "Water":              ClassBackscatter(-22.0, -28.0, -22.0, -28.0, -0.40, 30.0),
    "Trees":              ClassBackscatter(-8.5, -14.0, -9.0, -14.8, -0.05, 12.0),
    "Grass":              ClassBackscatter(-10.0, -15.5, -12.5, -20.0, -0.20, 20.0),
    "Flooded Vegetation": ClassBackscatter(-6.0, -16.0, -7.5, -18.0, -0.10, 8.0),
    "Crops":              ClassBackscatter(-11.0, -17.0, -13.0, -20.5, -0.18, 15.0),
    "Shrub and Scrub":    ClassBackscatter(-10.0, -16.5, -11.0, -18.0, -0.12, 12.0),
    "Built":              ClassBackscatter(-4.5, -12.0, -4.5, -12.0, -0.08, 2.5),
    "Bare":               ClassBackscatter(-14.0, -22.5, -14.0, -22.5, -0.25, 20.0),
    "Snow and Ice":       ClassBackscatter(-9.5, -17.0, -9.5, -17.0, -0.15, 20.0),
}  # fmt: skip
"""VV/VH dB (green, dormant), incidence slope and texture shape per Dynamic World class."""

_TABLE = np.array(
    [[b.vv_db, b.vh_db, b.vv_dormant_db, b.vh_dormant_db, b.slope_db_per_deg, b.texture_shape]
     for b in (BACKSCATTER[c] for c in DW_CLASSES)]
)  # fmt: skip

# Earthquake damage: collapsed walls lose the wall-ground double bounce (VV drops) and rubble adds
# a little depolarised volume scattering (VH rises); debris makes the texture more irregular.
DAMAGE_VV_DB = -4.0
DAMAGE_VH_DB = 1.0
DAMAGE_TEXTURE_SHAPE = 1.2
# Streets aligned with the satellite track face the radar with whole walls (cardinal effect).
CARDINAL_GAIN_DB = 4.0
STREET_DB = -4.0


OBJECT_SPREAD_DB = 2.0
"""Standard deviation (dB) of the backscatter of one object (field, urban block, stand) around its class."""


def mean_backscatter_db(
    layout: Layout,
    green: np.ndarray,
    incidence_deg: np.ndarray,
    rng: np.random.Generator,
    damage: np.ndarray | None = None,
) -> np.ndarray:
    """Return the speckle-free mean backscatter (2, H, W) in dB: VV, VH (chapter 2).

    Mixes the green and dormant class values by ``green``, adds scene (moisture, wind over water)
    and object (field, block) variation, the incidence-angle slope of each class, the cardinal
    effect of street grids facing the radar and, where ``damage`` (0-1) is set, the loss of
    double bounce of collapsed buildings.
    """
    mask = layout.mask
    table = _TABLE[mask]
    db = np.stack([green * table[..., 0] + (1 - green) * table[..., 2], green * table[..., 1] + (1 - green) * table[..., 3]])
    scene = rng.normal(0.0, 1.0, size=len(DW_CLASSES))
    scene[WATER] = rng.normal(0.0, 1.5)  # wind roughens water: the most variable class
    # fields differ by crop, row direction and soil moisture: a few dB from parcel to parcel
    objects = rng.normal(0.0, OBJECT_SPREAD_DB, size=int(layout.parcels.max()) + 1)
    db += (scene[mask] + np.where(mask == WATER, 0.0, objects[layout.parcels]))[None]  # one water surface
    db += (table[..., 4] * (incidence_deg - REFERENCE_INCIDENCE_DEG))[None]
    built = mask == BUILT
    db[:, built & (layout.parcels == STREET_ID)] += STREET_DB
    db[:, built] += cardinal_gain_db(layout.street_grid[0])
    if damage is not None:
        hit = built & (damage > 0)
        db[0, hit] += DAMAGE_VV_DB * damage[hit]
        db[1, hit] += DAMAGE_VH_DB * damage[hit]
    return db


def cardinal_gain_db(grid_angle: float) -> float:
    """Return the extra dB of a town whose street grid is rotated by ``grid_angle`` radians from the track (chapter 2).

    Walls parallel to the flight direction act as corner reflectors with the ground: the
    gain peaks at 0 and 90 degrees and fades within about 10 degrees.
    """
    off = np.degrees(grid_angle) % 90.0
    off = min(off, 90.0 - off)
    return float(CARDINAL_GAIN_DB * np.exp(-0.5 * (off / 8.0) ** 2))


def incidence_map(near_deg: float, size: int) -> np.ndarray:
    """Return the incidence angle (H, W) of a patch whose first column sees ``near_deg`` (chapter 2).

    The IW swath spans 16 degrees over 250 km, so the angle grows by 0.00064 degrees per 10 m
    pixel across the range direction (columns here).
    """
    if not 0.0 < near_deg < 90.0:
        raise ValueError(f"incidence angle must lie between 0 and 90 degrees, got {near_deg}")
    step = (INCIDENCE_RANGE_DEG[1] - INCIDENCE_RANGE_DEG[0]) / 25_000.0
    return np.broadcast_to(near_deg + step * np.arange(size), (size, size))


def terrain_db(elevation: np.ndarray, steepness: float, incidence_deg: np.ndarray) -> np.ndarray:
    """Return the change of backscatter (H, W) in dB caused by slopes of the terrain (chapter 2).

    The radar looks from the side of column 0 (near range). A slope tilted towards it by an
    angle alpha sees the beam at the local incidence ``theta - alpha`` and packs more ground
    into each range cell (foreshortening): sigma0 in ground geometry grows by
    ``sin(theta) / sin(theta - alpha)``. Slopes facing away darken; radar shadow (local incidence
    beyond 85 degrees) is clipped.
    """
    _, d_col = np.gradient(steepness * elevation.astype(np.float64))
    alpha = np.degrees(np.arctan(d_col))  # height growing away from the radar faces it
    theta = np.radians(incidence_deg)
    local = np.radians(np.clip(incidence_deg - alpha, 5.0, 85.0))
    return (10.0 * np.log10(np.sin(theta) / np.sin(local))).astype(np.float32)


def s1_image(
    layout: Layout,
    date: dt.date,
    climate: str,
    rng: np.random.Generator,
    *,
    southern: bool = False,
    incidence_deg: float | None = None,
    looks: float = GRD_IW_LOOKS,
    damage: np.ndarray | None = None,
) -> np.ndarray:
    """Return a stored Sentinel-1 GRD image (2, H, W) float32: VV, VH in dB (chapter 2).

    ``incidence_deg`` defaults to a random angle of the IW swath; ``looks`` sets the speckle
    (Gamma with mean 1 and variance 1/looks, :func:`closp_lite.physics.sar.speckle`).
    """
    size = layout.mask.shape[0]
    near = rng.uniform(*INCIDENCE_RANGE_DEG) if incidence_deg is None else incidence_deg
    green = pixel_greenness(layout, date, climate, rng, southern)
    incidence = incidence_map(near, size)
    mean_db = mean_backscatter_db(layout, green, incidence, rng, damage)
    mean_db += terrain_db(layout.elevation, relief(climate), incidence)[None]
    _add_point_targets(mean_db, layout.mask != WATER, rng)
    # IW GRD resolves ~20 x 22 m: neighbouring 10 m pixels share signal.
    power = ndimage.gaussian_filter(from_db(mean_db), sigma=(0, 0.7, 0.7), mode="nearest")
    shape = _TABLE[layout.mask, 5]
    if damage is not None:
        shape = np.where((layout.mask == BUILT) & (damage > 0), DAMAGE_TEXTURE_SHAPE, shape)
    texture = rng.gamma(shape, 1.0 / shape)  # the same scatterers in both polarisations
    power = power * texture[None] + from_db(NESZ_DB)
    power = power * grd_speckle(power.shape, looks, rng)
    return to_db(power).astype(np.float32)


POINT_TARGETS_PER_PATCH = 8.0
"""Mean number of isolated strong scatterers (farm buildings, pylons, fences facing the radar) per
1.2 x 1.2 km patch outside towns and water: the bright dots of rural Sentinel-1 scenes."""
POINT_TARGET_DB = (16.0, 10.0)
"""Their extra VV and VH backscatter (dB): dihedral corners return mostly co-polarised power."""


def _add_point_targets(mean_db: np.ndarray, land: np.ndarray, rng: np.random.Generator) -> None:
    """Add isolated strong scatterers at random land pixels, in place."""
    n = int(rng.poisson(POINT_TARGETS_PER_PATCH))
    rows, cols = rng.integers(0, land.shape[0], size=(2, n))
    keep = land[rows, cols]
    for band, gain in enumerate(POINT_TARGET_DB):
        mean_db[band, rows[keep], cols[keep]] += gain


SPECKLE_GRAIN_PX = 0.7
"""Gaussian sigma (pixels) of the speckle correlation: IW GRD resolves ~20 x 22 m on a 10 m grid,
so a speckle grain spans about two pixels."""


def grd_speckle(shape: tuple[int, ...], looks: float, rng: np.random.Generator) -> np.ndarray:
    """Draw speckle (mean 1, variance 1/``looks`` per pixel) with the ~2-pixel grain of GRD products (chapter 2).

    Gamma speckle with fewer looks is smoothed over the resolution cell
    (:data:`SPECKLE_GRAIN_PX`); the smoothing divides the variance by the sum of the squared
    kernel weights, so drawing ``looks * sum(w^2)`` looks gives variance ``1/looks`` afterwards.
    """
    kernel = np.exp(-0.5 * (np.arange(-3, 4) / SPECKLE_GRAIN_PX) ** 2)
    kernel /= kernel.sum()
    reduction = float((kernel**2).sum() ** 2)  # separable: rows times columns
    grains = speckle(shape, looks * reduction, rng)
    return ndimage.gaussian_filter(grains, sigma=(0,) * (len(shape) - 2) + (SPECKLE_GRAIN_PX,) * 2, mode="wrap", truncate=3 / SPECKLE_GRAIN_PX)
