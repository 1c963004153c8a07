"""Sentinel-2 surface reflectance of the simulated land covers, with phenology and clouds (chapter 1).

Every class has two end-member spectra (12 L2A bands, reflectance x 10,000, stored band order):
its **active** state (full green canopy) and its **dormant** state (leafless trees, dry grass,
stubble or bare soil after harvest). A greenness ``g`` in [0, 1] that follows the season of the
region mixes them: ``r = g * active + (1 - g) * dormant``. Classes without phenology (water,
built, bare, snow) have equal end-members.

The values are typical L2A reflectances of these surfaces, consistent with spectral libraries
(USGS splib07, Kokaly et al. 2017; ECOSTRESS, Meerdink et al. 2019) resampled to the Sentinel-2
bands, and were calibrated (``benchmarks/calibration.py``) against per-label medians of real
BigEarthNet patches held aside for issue 10, the six real example patches and the published
BigEarthNet band means (B1 a little below B2 and B9 close to B8A, as in the L2A statistics).

Crops follow crop calendars (:data:`CROP_CALENDARS`: bare soil, straw stubble or a catch crop
after the harvest), pastures stay green longer than the climate's season. Variability comes in
three scales: a brightness factor per class and scene (for water a wide one, from dark humic
boreal lakes to turbid rivers), per object (field parcel, urban block, forest stand) a brightness
and a greenness offset, and per pixel noise plus the texture of :mod:`closp_lite.simulate.texture`
(rows, crowns, houses and gardens, hedgerows, banks, terrain shading). The 10 m bands are blurred
by the instrument's point spread (mixed pixels at edges), bands with 20 m and 60 m native
resolution are averaged over 2 x 2 and 6 x 6 pixel blocks, and a thin residual haze is added.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from scipy import ndimage

from closp_lite.data.bands import S2_BANDS, S2_SCALE
from closp_lite.labels import DW_CLASSES
from closp_lite.physics.optical import S2_BAND_TABLE, cloud_effect, haze_effect
from closp_lite.simulate.geography import CLIMATES
from closp_lite.simulate.landcover import (
    BUILT,
    CROPS,
    GRASS,
    STREET_ID,
    TREES,
    WATER,
    Layout,
    noise_fields,
)
from closp_lite.simulate.texture import (
    TOWN_KINDS,
    bank_rim,
    brightness_texture,
    hedgerows,
    relief,
    terrain_shading,
    town_cells,
)

#                                 B1    B2    B3    B4    B5    B6    B7    B8    B8A   B9    B11   B12
ACTIVE_SPECTRA: dict[str, tuple[int, ...]] = {
    "Water":              (150,  210,  270,  160,  150,  130,  120,  110,  120,  180,   80,   55),
    "Trees":              (140,  190,  380,  190,  620, 2500, 3300, 3650, 3750, 3700, 1550,  620),
    "Grass":              (250,  310,  640,  310, 1150, 3550, 4450, 4800, 4950, 4900, 2300, 1050),
    "Flooded Vegetation": (200,  250,  450,  320,  720, 1800, 2200, 2350, 2450, 2420, 1250,  580),
    "Crops":              (215,  265,  550,  180,  920, 3150, 4000, 4300, 4450, 4400, 1950,  810),
    "Shrub and Scrub":    (230,  290,  480,  380,  850, 2100, 2550, 2700, 2850, 2820, 1400,  700),
    "Built":              (850, 1000, 1080, 1150, 1300, 1450, 1550, 1650, 1700, 1680, 1900, 1700),
    "Bare":               (1000, 1250, 1550, 1850, 2050, 2250, 2400, 2500, 2650, 2620, 3300, 2700),
    "Snow and Ice":       (5000, 5000, 4800, 4750, 4850, 4900, 4850, 4900, 4700, 4450,  550,  560),
}  # fmt: skip
"""Reflectance x 10,000 of each Dynamic World class at full greenness (stored band order)."""

DORMANT_SPECTRA: dict[str, tuple[int, ...]] = {
    **ACTIVE_SPECTRA,
    "Trees":              (220,  280,  420,  380,  700, 1750, 2100, 2300, 2400, 2350, 1650,  880),
    "Grass":              (420,  520,  780,  820, 1300, 2200, 2600, 2800, 2950, 2950, 2800, 1800),
    "Flooded Vegetation": (330,  400,  540,  580,  780, 1100, 1200, 1250, 1300, 1260, 1350,  850),
    "Crops":              (620,  780, 1020, 1080, 1400, 1850, 2050, 2200, 2350, 2350, 2800, 2200),
    "Shrub and Scrub":    (450,  550,  750,  700, 1050, 1600, 1800, 2000, 2150, 2130, 1900, 1200),
}  # fmt: skip
"""Reflectance x 10,000 of each class when dormant (leafless, dry, harvested; stored band order)."""

EVENT_SPECTRA: dict[str, tuple[int, ...]] = {
    "flood water":  (520,  600,  820,  860,  820,  540,  460,  410,  370,  320,  190,  140),
    "burned":       (330,  360,  420,  480,  650,  850,  950, 1050, 1150, 1150, 1900, 1700),
    "street":       (700,  750,  800,  850,  950, 1050, 1100, 1150, 1200, 1150, 1400, 1300),
}  # fmt: skip
"""Surfaces that only events and towns create: sediment-laden flood water (brighter red and
green than a clear lake), a fresh burn scar (NIR down, SWIR up: NBR below zero) and asphalt."""

_ACTIVE = np.array([ACTIVE_SPECTRA[c] for c in DW_CLASSES], dtype=np.float32) / S2_SCALE
_DORMANT = np.array([DORMANT_SPECTRA[c] for c in DW_CLASSES], dtype=np.float32) / S2_SCALE
SURFACE_SPECTRA: dict[str, tuple[int, ...]] = {
    "red tile roof": (700,  800, 1000, 1500, 1750, 1900, 2000, 2100, 2200, 2200, 2800, 2300),
    "grey roof":     (1100, 1200, 1300, 1400, 1500, 1550, 1600, 1650, 1700, 1700, 1900, 1750),
    "bright roof":   (2000, 2200, 2350, 2450, 2500, 2550, 2600, 2650, 2700, 2650, 2800, 2500),
    "dark roof":     (450,  500,  550,  600,  650,  700,  750,  800,  850,  850, 1000,  900),
    "stubble":       (900, 1100, 1400, 1750, 2000, 2250, 2400, 2550, 2700, 2700, 3400, 2800),
    "wet mud":       (500,  600,  800,  900, 1050, 1200, 1300, 1400, 1450, 1450, 1500, 1100),
    "sand":          (900, 1100, 1450, 1750, 1950, 2100, 2250, 2350, 2450, 2450, 3000, 2500),
    "riparian trees": (200, 250,  450,  260,  700, 2000, 2600, 2850, 2950, 2900, 1450,  650),
}  # fmt: skip
"""Town, field and shore surfaces (reflectance x 10,000): terracotta tiles (red), concrete and metal
roofs, tar or shaded roofs, the dry straw of a harvested cereal field, and the mud, sand or trees
that line rivers and lakes."""

_SURFACE = {name: np.array(v, dtype=np.float32) / S2_SCALE for name, v in (EVENT_SPECTRA | SURFACE_SPECTRA).items()}
_BLOCK = {10: 1, 20: 2, 60: 6}
_BAND_BLOCKS = np.array([_BLOCK[band.resolution_m] for band in S2_BAND_TABLE])
assert [band.name for band in S2_BAND_TABLE] == list(S2_BANDS)  # the tables above use this order


CATCH_CROP_SHARE = 0.6
"""Share of harvested parcels that carry a catch crop or volunteer regrowth instead of bare soil."""
CATCH_CROP_GREENNESS = 0.3
"""Greenness of a catch crop: a sparse green cover over soil."""


STUBBLE_SHARE = 0.5
"""Share of bare harvested parcels still covered by bright straw stubble (the others are ploughed soil)."""

GRASS_SEASON_SCALE = 2.0
"""Pastures and meadows stay green longer than the climate's crops and broadleaf trees."""


HEDGE_SHARE: dict[str, float] = {"atlantic": 0.7, "temperate": 0.2, "mediterranean": 0.3}
"""Share of field parcels with a hedgerow along their edges, per climate (bocage in Ireland)."""
HEDGE_SHARE_DEFAULT = 0.15

BANK_SURFACES = ("wet mud", "sand", "riparian trees")
"""What a water body's rim shows in a scene (one kind per scene)."""


PSF_SIGMA_PX = 0.45
"""Gaussian sigma (pixels) of the MSI point spread at 10 m: neighbouring pixels share about a fifth
of their signal, which blends the two sides of every edge into mixed pixels."""


def greenness(
    date: dt.date,
    climate: str,
    southern: bool = False,
    shift_days: float | np.ndarray = 0.0,
    width_scale: float | np.ndarray = 1.0,
) -> np.ndarray:
    """Return the seasonal greenness in [0, 1] of vegetation on ``date`` in a ``climate`` (chapter 1).

    A Gaussian bell around the climate's day of peak greenness (shifted by half a year in the
    southern hemisphere, and by ``shift_days`` - a scalar or an array - for early or late crops;
    its width times ``width_scale``) on top of a dormant floor. NDVI follows it: about 0.8 at
    the peak, 0.2-0.4 when dormant.

    Raises:
        ValueError: for an unknown climate.
    """
    if climate not in CLIMATES:
        raise ValueError(f"unknown climate {climate!r}: choose one of {sorted(CLIMATES)}")
    params = CLIMATES[climate]
    delta = _days_from_peak(date, climate, southern, shift_days)
    width = params["width"] * np.asarray(width_scale, dtype=float)
    return params["floor"] + (1 - params["floor"]) * np.exp(-0.5 * (delta / width) ** 2)


def _days_from_peak(date: dt.date, climate: str, southern: bool, shift_days: float | np.ndarray) -> np.ndarray:
    """Signed days from the (shifted) peak of greenness, wrapped to [-182.5, 182.5)."""
    peak = CLIMATES[climate]["peak_doy"] + (182.5 if southern else 0.0) + np.asarray(shift_days, dtype=float)
    return (date.timetuple().tm_yday - peak + 182.5) % 365.0 - 182.5


CROP_CALENDARS: dict[str, tuple[float, float, float, float]] = {
    "winter cereal": (0.45, -45.0, 1.3, 70.0),
    "spring crop": (0.15, 0.0, 1.2, 60.0),
    "summer crop": (0.15, 35.0, 1.0, 55.0),
    "fodder": (0.25, 0.0, 1.6, 400.0),
}
"""Crop calendars of European arable land: (share of parcels, shift of the peak from the climate's
peak in days, width factor of the green season, harvest in days after the peak). Winter cereals
are sown in autumn and green from spring on, summer crops (maize, sunflower) peak in August; after
the harvest a field shows stubble or ploughed soil until it greens again (fodder is never bare)."""

_CALENDAR = np.array([v for v in CROP_CALENDARS.values()])


def crop_greenness(
    date: dt.date, climate: str, rng: np.random.Generator, n_parcels: int, southern: bool = False
) -> np.ndarray:
    """Return the greenness (n_parcels,) of crop parcels that follow :data:`CROP_CALENDARS` (chapter 1).

    Each parcel draws a calendar and a few weeks of sowing-date jitter; a harvested parcel has
    greenness 0 (bare soil or stubble) or, with a catch crop, :data:`CATCH_CROP_GREENNESS`, until
    its days from the peak wrap around.
    """
    kind = rng.choice(len(_CALENDAR), size=n_parcels, p=_CALENDAR[:, 0])
    shift = _CALENDAR[kind, 1] + rng.normal(0, 12, size=n_parcels)
    green = greenness(date, climate, southern, shift, _CALENDAR[kind, 2])
    harvested = _days_from_peak(date, climate, southern, shift) > _CALENDAR[kind, 3]
    # After the harvest a field is ploughed (bare) or carries a catch crop (green cover, required
    # on much of the EU's arable land in autumn and winter).
    cover = np.where(rng.random(n_parcels) < CATCH_CROP_SHARE, CATCH_CROP_GREENNESS, 0.0)
    return np.where(harvested, cover, green)


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

    Crop parcels follow their own calendars (:func:`crop_greenness`), pastures stay green
    longer than the climate's season and vary per parcel, and trees are mostly evergreen in
    conifer-rich climates. Sentinel-1 uses it too: a green canopy adds volume scattering.
    """
    evergreen = CLIMATES[climate]["evergreen"]
    n_ids = int(layout.parcels.max()) + 1
    base = float(greenness(date, climate, southern))
    green = np.full(layout.mask.shape, base, dtype=np.float32)
    crops = layout.mask == CROPS
    green[crops] = crop_greenness(date, climate, rng, n_ids, southern)[layout.parcels[crops]]
    grass = layout.mask == GRASS
    pasture = float(greenness(date, climate, southern, width_scale=GRASS_SEASON_SCALE))
    green[grass] = np.clip(pasture + rng.normal(0, 0.12, size=n_ids)[layout.parcels[grass]], 0, 1)
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

    Class spectra mixed by greenness (with uneven growth inside fields), houses and gardens in
    towns, banks along the water, then texture, terrain shading and the sensor's blur
    (:mod:`closp_lite.simulate.texture` draws the patterns). ``overrides`` maps an
    :data:`EVENT_SPECTRA` name to a boolean (H, W) map of pixels that show that surface instead
    of their land cover (flood water, burn scars); crisis events use it.
    """
    mask = layout.mask
    fine, patches, growth = noise_fields(rng, [0.7, 3.0, 8.0], mask.shape[0])
    green = pixel_greenness(layout, date, climate, rng, southern)
    n_ids = int(layout.parcels.max()) + 1
    stubble = (mask == CROPS) & (green == 0) & (rng.random(n_ids) < STUBBLE_SHARE)[layout.parcels]
    uneven = np.isin(mask, (CROPS, GRASS))
    green[uneven] = np.clip(green[uneven] + 0.05 * growth[uneven], 0, 1)
    dormant = _DORMANT.T[:, mask]
    image = dormant + green[None] * (_ACTIVE.T[:, mask] - dormant)
    image[:, stubble] = _SURFACE["stubble"][:, None]
    _draw_land_features(image, layout, green, climate, rng)
    for name, where in (overrides or {}).items():
        if name not in EVENT_SPECTRA:
            raise ValueError(f"unknown surface {name!r}: choose one of {sorted(EVENT_SPECTRA)}")
        image[:, where] = _SURFACE[name][:, None]
    factor = _variability(layout, rng) * brightness_texture(layout, fine, patches, rng)
    factor *= terrain_shading(layout.elevation, relief(climate))
    return _sensor(image * factor[None])


def _draw_land_features(image: np.ndarray, layout: Layout, green: np.ndarray, climate: str, rng: np.random.Generator) -> None:
    """Hedgerows, towns and water banks, in place."""
    hedges = hedgerows(layout, rng, HEDGE_SHARE.get(climate, HEDGE_SHARE_DEFAULT))
    image[:, hedges] = 0.4 * image[:, hedges] + 0.6 * _ACTIVE[TREES][:, None]
    _draw_towns(image, layout, green, rng)
    rim = bank_rim(layout) & (layout.mask != BUILT)
    bank = _SURFACE[str(rng.choice(BANK_SURFACES))]
    image[:, rim] = 0.65 * image[:, rim] + 0.35 * bank[:, None]


def _draw_towns(image: np.ndarray, layout: Layout, green: np.ndarray, rng: np.random.Generator) -> None:
    """Houses, gardens and streets on built pixels, in place."""
    kinds = town_cells(layout, rng)
    gardens = kinds == 0
    if gardens.any():
        lawn = _DORMANT[GRASS][:, None] + green[gardens] * (_ACTIVE[GRASS] - _DORMANT[GRASS])[:, None]
        image[:, gardens] = 0.7 * lawn + 0.3 * _ACTIVE[TREES][:, None]
    for k, name in enumerate(TOWN_KINDS[1:], start=1):
        image[:, kinds == k] = _SURFACE[name][:, None]
    image[:, layout.parcels == STREET_ID] = _SURFACE["street"][:, None]


def _variability(layout: Layout, rng: np.random.Generator) -> np.ndarray:
    """Brightness factor (H, W) per class and scene, per object and per pixel."""
    mask = layout.mask
    spread = np.full(len(DW_CLASSES), 0.08)
    spread[WATER] = 0.4  # clear, green, humic or turbid: water colour varies most between scenes
    scene = rng.lognormal(0.0, spread)[mask]
    n_ids = int(layout.parcels.max()) + 1
    # water lies over whatever parcel ids the land would have had: one surface, no parcels
    objects = np.where(mask == WATER, 1.0, rng.lognormal(0.0, 0.09, size=n_ids)[layout.parcels])
    pixel = rng.standard_normal(size=mask.shape, dtype=np.float32)
    return (scene * objects).astype(np.float32) * (1 + 0.02 * pixel)


def _sensor(image: np.ndarray) -> np.ndarray:
    """The MSI's point spread on the 10 m bands (mixed pixels at edges), then the native band resolutions."""
    ten = np.flatnonzero(_BAND_BLOCKS == 1)
    image[ten] = ndimage.gaussian_filter(image[ten], sigma=(0, PSF_SIGMA_PX, PSF_SIGMA_PX), mode="nearest")
    return _native_resolution(image)


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


HAZE_MEAN_490 = 0.004
"""Mean residual path reflectance at 490 nm left in L2A products (a thin haze; 0.004 = 40 in stored units)."""


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

    A thin residual haze (:func:`closp_lite.physics.optical.haze_effect`, about
    :data:`HAZE_MEAN_490` in the blue) lies over every scene. Clouds and their shadows
    (``cloud_fraction`` of the patch) are added with
    :func:`closp_lite.physics.optical.cloud_effect`; the class map does not change under them,
    which is what makes optical retrieval hard on cloudy days.
    """
    surface = reflectance(layout, date, climate, rng, southern=southern, overrides=overrides)
    # What atmospheric correction leaves behind: a thin, uneven haze, more in the blue.
    (unevenness,) = noise_fields(rng, [20.0], layout.mask.shape[0])
    path = rng.gamma(1.5, HAZE_MEAN_490 / 1.5) * np.clip(1 + 0.3 * unevenness, 0, None).astype(np.float32)
    surface = haze_effect(surface, path)
    if cloud_fraction > 0:
        opacity, shadow = cloud_maps(rng, cloud_fraction, layout.mask.shape[0])
        surface = cloud_effect(surface, opacity, shadow)
    # L2A products store integers; rounding also makes the files compress well.
    return np.clip(np.round(surface * S2_SCALE), 1, 20000).astype(np.float32)
