"""Sentinel-2 surface reflectance of the simulated land covers, with phenology and clouds (chapter 1).

Every class has two end-member spectra (12 L2A bands, reflectance x 10,000, stored band order):
its **active** state (full green canopy) and its **dormant** state (leafless trees, dry grass,
stubble or bare soil after harvest). A greenness ``g`` in [0, 1] that follows the season of the
region mixes them: ``r = g * active + (1 - g) * dormant``. Classes without phenology (water,
built, bare, snow) have equal end-members.

The values are typical L2A reflectances of these surfaces, consistent with spectral libraries
(USGS splib07, Kokaly et al. 2017; ECOSTRESS, Meerdink et al. 2019) resampled to the Sentinel-2
bands, and were adjusted against the real BigEarthNet example patches
(``benchmarks/calibration.py``; B1 and B9 follow the BigEarthNet L2A statistics, B1 a little
below B2 and B9 close to B8A).

Intra-class variability comes in three scales: a brightness factor per class and scene
(moisture, illumination; for water a wide one, from dark humic boreal lakes to turbid rivers), per object (field parcel, urban block, forest stand) a brightness and
a greenness offset (crops sown at different dates), and per pixel a multiplicative noise plus,
for trees, canopy texture. Bands with 20 m and 60 m native resolution are averaged over 2 x 2 and
6 x 6 pixel blocks, as a 10 m resampling of the real product would show them.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from closp_lite.data.bands import S2_BANDS, S2_SCALE
from closp_lite.labels import DW_CLASSES
from closp_lite.physics.optical import S2_BAND_TABLE, cloud_effect
from closp_lite.simulate.geography import CLIMATES
from closp_lite.simulate.landcover import CROPS, GRASS, STREET_ID, TREES, WATER, Layout, noise_fields

#                                 B1    B2    B3    B4    B5    B6    B7    B8    B8A   B9    B11   B12
ACTIVE_SPECTRA: dict[str, tuple[int, ...]] = {
    "Water":              (160,  240,  310,  200,  180,  160,  150,  130,  140,  200,  100,   70),
    "Trees":              (210,  250,  430,  250,  650, 1750, 2200, 2400, 2500, 2470, 1200,  560),
    "Grass":              (340,  390,  780,  480, 1350, 3500, 4300, 4500, 4700, 4650, 2350, 1200),
    "Flooded Vegetation": (250,  290,  490,  340,  760, 1700, 2050, 2200, 2300, 2270, 1200,  560),
    "Crops":              (300,  340,  740,  450, 1250, 3250, 4050, 4250, 4350, 4300, 1850,  950),
    "Shrub and Scrub":    (340,  400,  620,  600, 1000, 1650, 1900, 2050, 2200, 2180, 2200, 1350),
    "Built":              (850, 1000, 1080, 1150, 1300, 1450, 1550, 1650, 1700, 1680, 1900, 1700),
    "Bare":               (1000, 1250, 1550, 1850, 2050, 2250, 2400, 2500, 2650, 2620, 3300, 2700),
    "Snow and Ice":       (5000, 5000, 4800, 4750, 4850, 4900, 4850, 4900, 4700, 4450,  550,  560),
}  # fmt: skip
"""Reflectance x 10,000 of each Dynamic World class at full greenness (stored band order)."""

DORMANT_SPECTRA: dict[str, tuple[int, ...]] = {
    **ACTIVE_SPECTRA,
    "Trees":              (300,  380,  520,  560,  800, 1250, 1400, 1500, 1600, 1580, 1600,  950),
    "Grass":              (560,  700,  950, 1150, 1400, 1700, 1850, 1950, 2100, 2100, 3000, 2300),
    "Flooded Vegetation": (350,  420,  560,  600,  800, 1050, 1150, 1200, 1250, 1200, 1300,  800),
    "Crops":              (740,  900, 1150, 1350, 1550, 1750, 1900, 2000, 2150, 2150, 2900, 2300),
    "Shrub and Scrub":    (500,  600,  820,  950, 1200, 1500, 1650, 1750, 1900, 1880, 2600, 1900),
}  # fmt: skip
"""Reflectance x 10,000 of each class when dormant (leafless, dry, harvested; stored band order)."""

EVENT_SPECTRA: dict[str, tuple[int, ...]] = {
    "flood water":  (700,  800, 1100, 1150, 1100,  700,  600,  550,  480,  400,  250,  180),
    "burned":       (330,  360,  420,  480,  650,  850,  950, 1050, 1150, 1150, 1900, 1700),
    "street":       (700,  750,  800,  850,  950, 1050, 1100, 1150, 1200, 1150, 1400, 1300),
}  # fmt: skip
"""Surfaces that only events and towns create: sediment-laden flood water (brighter red and
green than a clear lake), a fresh burn scar (NIR down, SWIR up: NBR below zero) and asphalt."""

_ACTIVE = np.array([ACTIVE_SPECTRA[c] for c in DW_CLASSES], dtype=np.float32) / S2_SCALE
_DORMANT = np.array([DORMANT_SPECTRA[c] for c in DW_CLASSES], dtype=np.float32) / S2_SCALE
_EVENT = {name: np.array(v, dtype=np.float32) / S2_SCALE for name, v in EVENT_SPECTRA.items()}
_BLOCK = {10: 1, 20: 2, 60: 6}
_BAND_BLOCKS = np.array([_BLOCK[band.resolution_m] for band in S2_BAND_TABLE])
assert [band.name for band in S2_BAND_TABLE] == list(S2_BANDS)  # the tables above use this order


def greenness(
    date: dt.date, climate: str, southern: bool = False, shift_days: float | np.ndarray = 0.0
) -> np.ndarray:
    """Return the seasonal greenness in [0, 1] of vegetation on ``date`` in a ``climate`` (chapter 1).

    A Gaussian bell around the climate's day of peak greenness (shifted by half a year in the
    southern hemisphere, and by ``shift_days`` - a scalar or an array - for early or late crops)
    on top of a dormant floor. NDVI follows it: about 0.8 at the peak, 0.2-0.4 when dormant.

    Raises:
        ValueError: for an unknown climate.
    """
    if climate not in CLIMATES:
        raise ValueError(f"unknown climate {climate!r}: choose one of {sorted(CLIMATES)}")
    params = CLIMATES[climate]
    peak = params["peak_doy"] + (182.5 if southern else 0.0) + np.asarray(shift_days, dtype=float)
    delta = (date.timetuple().tm_yday - peak + 182.5) % 365.0 - 182.5
    return params["floor"] + (1 - params["floor"]) * np.exp(-0.5 * (delta / params["width"]) ** 2)


def class_spectrum(name: str, green: float = 1.0) -> np.ndarray:
    """Return the mean reflectance (0-1, 12 bands) of Dynamic World class ``name`` at greenness ``green`` (chapter 1)."""
    if name not in DW_CLASSES:
        raise ValueError(f"unknown Dynamic World class {name!r}: choose one of {DW_CLASSES}")
    i = DW_CLASSES.index(name)
    return green * _ACTIVE[i] + (1 - green) * _DORMANT[i]


def pixel_greenness(
    layout: Layout, date: dt.date, climate: str, rng: np.random.Generator, southern: bool = False
) -> np.ndarray:
    """Return the greenness (H, W) of every pixel of ``layout`` on ``date`` (chapters 1, 2).

    The season of the climate, shifted per crop parcel (sowing dates differ), varied per pasture,
    and mostly evergreen for trees in conifer-rich climates. Sentinel-1 uses it too: a green
    canopy adds volume scattering.
    """
    evergreen = CLIMATES[climate]["evergreen"]
    n_ids = int(layout.parcels.max()) + 1
    # Sowing dates differ by parcel: winter and summer crops, early and late fields.
    shifts = rng.choice([-75.0, -25.0, 0.0, 30.0], size=n_ids) + rng.normal(0, 12, size=n_ids)
    per_parcel = greenness(date, climate, southern, shifts)
    base = float(greenness(date, climate, southern))
    green = np.full(layout.mask.shape, base, dtype=np.float32)
    crops = layout.mask == CROPS
    green[crops] = per_parcel[layout.parcels[crops]]
    grass = layout.mask == GRASS
    green[grass] = np.clip(base + rng.normal(0, 0.08, size=n_ids)[layout.parcels[grass]], 0, 1)
    trees = layout.mask == TREES
    green[trees] = evergreen + (1 - evergreen) * base
    return green


def reflectance(
    layout: Layout,
    date: dt.date,
    climate: str,
    rng: np.random.Generator,
    *,
    southern: bool = False,
    overrides: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Return cloud-free surface reflectance (12, H, W), 0-1, of a land-cover ``layout`` on ``date`` (chapter 1).

    ``overrides`` maps an :data:`EVENT_SPECTRA` name to a boolean (H, W) map of pixels that show
    that surface instead of their land cover (flood water, burn scars); crisis events use it.
    """
    mask = layout.mask
    green = pixel_greenness(layout, date, climate, rng, southern)[None]
    dormant = _DORMANT.T[:, mask]
    image = dormant + green * (_ACTIVE.T[:, mask] - dormant)
    streets = layout.parcels == STREET_ID
    image[:, streets] = _EVENT["street"][:, None]
    for name, where in (overrides or {}).items():
        if name not in _EVENT:
            raise ValueError(f"unknown surface {name!r}: choose one of {sorted(_EVENT)}")
        image[:, where] = _EVENT[name][:, None]
    return _variability(image, layout, rng)


def _variability(image: np.ndarray, layout: Layout, rng: np.random.Generator) -> np.ndarray:
    """Scene, object and pixel variability, canopy texture, then the native band resolutions."""
    mask = layout.mask
    brightness = np.full(len(DW_CLASSES), 0.08)
    brightness[WATER] = 0.4  # clear, green, humic or turbid: water colour varies most between scenes
    scene = rng.lognormal(0.0, brightness)[mask]
    n_ids = int(layout.parcels.max()) + 1
    objects = rng.lognormal(0.0, 0.07, size=n_ids)[layout.parcels]
    texture = noise_fields(rng, [1.0], mask.shape[0])[0]
    canopy = np.where(mask == TREES, 0.10, 0.03) * texture
    pixel = rng.normal(0.0, 0.02, size=mask.shape)
    factor = (scene * objects * (1 + canopy + pixel)).astype(np.float32)
    return _native_resolution(image * factor[None])


def _native_resolution(image: np.ndarray) -> np.ndarray:
    """Average 20 m bands over 2 x 2 and 60 m bands over 6 x 6 pixels, in place (sizes divisible by 6)."""
    size = image.shape[1]
    for block in (2, 6):
        bands = np.flatnonzero(_BAND_BLOCKS == block)
        n = size // block
        cells = image[bands, : n * block, : n * block].reshape(len(bands), n, block, n, block)
        cells[...] = cells.mean(axis=(2, 4), keepdims=True)
        image[bands, : n * block, : n * block] = cells.reshape(len(bands), n * block, n * block)
    return image


def cloud_maps(
    rng: np.random.Generator, fraction: float, size: int, shadow_offset: tuple[int, int] = (8, -10)
) -> tuple[np.ndarray, np.ndarray]:
    """Return (opacity, shadow) maps (H, W) in [0, 1] covering about ``fraction`` of the patch (chapter 1).

    Clouds are thresholded smooth noise with soft edges; the shadow is the cloud displaced away
    from the sun (``shadow_offset`` rows, columns: Sentinel-2 passes at 10:30, the sun stands in
    the south-east) where it is not hidden by the cloud itself.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"cloud fraction must lie in [0, 1], got {fraction}")
    if fraction == 0:
        zero = np.zeros((size, size))
        return zero, zero
    blobs, detail = noise_fields(rng, [12.0, 3.0], size)
    field = blobs + 0.35 * detail
    threshold = np.quantile(field, 1 - fraction)
    opacity = np.clip((field - threshold) / 0.6 + 0.5, 0, 1) ** 0.7
    shadow = np.roll(opacity, shadow_offset, axis=(0, 1)) * 0.9
    return opacity, np.clip(shadow * (1 - opacity), 0, 1)


def s2_image(
    layout: Layout,
    date: dt.date,
    climate: str,
    rng: np.random.Generator,
    *,
    southern: bool = False,
    cloud_fraction: float = 0.0,
    overrides: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Return a stored Sentinel-2 L2A image (12, H, W) float32, reflectance x 10,000 (integers) (chapter 1).

    Clouds and their shadows (``cloud_fraction`` of the patch) are added with
    :func:`closp_lite.physics.optical.cloud_effect`; the class map does not change under them,
    which is what makes optical retrieval hard on cloudy days.
    """
    surface = reflectance(layout, date, climate, rng, southern=southern, overrides=overrides)
    if cloud_fraction > 0:
        opacity, shadow = cloud_maps(rng, cloud_fraction, layout.mask.shape[0])
        surface = cloud_effect(surface, opacity, shadow)
    # L2A products store integers; rounding also makes the files compress well.
    return np.clip(np.round(surface * S2_SCALE), 1, 20000).astype(np.float32)
