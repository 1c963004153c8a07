"""Land-cover layouts: a per-pixel Dynamic World class map with realistic spatial structure (chapter 1).

A layout is built in three steps:

1. **How much of each class**: fractions drawn from the region's priors (a few classes per patch).
2. **Where each class may go**: one *score field* per class that encodes its typical shape -
   a meandering river or a lake in the lowest land, snow and bare rock on the highest land,
   urban blocks on a rotated street grid, crops and pastures in strip-shaped field parcels,
   forests as large smooth blobs, shrub as smaller patches, wetlands on the water's edge.
3. **Allocation**: classes take, in a fixed order, the pixels where their score is highest
   until they reach their fraction. The boundaries follow the score fields, so they are smooth
   where nature is smooth and straight where people drew them.

Everything is NumPy and SciPy on 120 x 120 pixels; one layout takes about a millisecond.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import fft as sp_fft
from scipy import ndimage

from closp_lite.data.bands import PATCH_SIZE
from closp_lite.labels import DW_CLASSES

LABEL_MIN_FRACTION = 0.05
"""A class becomes a label of the patch when it covers at least 5% of its pixels."""

CLASS_INDEX: dict[str, int] = {name: i for i, name in enumerate(DW_CLASSES)}
WATER, TREES, GRASS, FLOODED_VEG, CROPS, SHRUB, BUILT, BARE, SNOW = range(len(DW_CLASSES))

# Who chooses first: water and snow follow the terrain, towns are placed before the fields
# around them, wetlands hug the water, and the natural classes fill what is left.
URBAN_ID_OFFSET = 4096
"""Urban block ids start here; field parcels stay below (ids are small so per-id tables stay small)."""
STREET_ID = URBAN_ID_OFFSET - 1
"""Parcel id of street pixels inside towns (asphalt between the blocks)."""
_ID_STRIDE = 64
_ALLOCATION_ORDER = (WATER, SNOW, BUILT, FLOODED_VEG, CROPS, GRASS, TREES, SHRUB, BARE)
_FFT_SIZE = 128


@dataclass
class Layout:
    """A simulated land-cover layout (chapter 1).

    ``mask`` uint8 (H, W) Dynamic World class index; ``elevation`` float32 (H, W) relative
    terrain height (zero mean, unit spread; low land floods first); ``water_distance`` float32
    (H, W) distance in pixels to the nearest water pixel (large if there is none);
    ``parcels`` int32 (H, W) field-parcel / urban-block / natural-patch id, used for
    per-object spectral variability; ``street_grid`` (angle in radians, block size in pixels);
    ``field_angle`` the direction (radians) of the field strips, which tillage rows follow.
    """

    mask: np.ndarray
    elevation: np.ndarray
    water_distance: np.ndarray
    parcels: np.ndarray
    street_grid: tuple[float, float]
    field_angle: float = 0.0


def noise_fields(rng: np.random.Generator, scales: list[float], size: int = PATCH_SIZE) -> np.ndarray:
    """Return smooth Gaussian random fields (len(scales), size, size), float32, each with zero mean and unit std.

    Each field is white noise low-pass filtered in the Fourier domain with a Gaussian of
    correlation length ``scale`` pixels - the cheapest way to get natural-looking blobs (chapter 1).
    Smooth fields are drawn on a coarser grid (4x coarser from 6 pixels on, 2x from 2 pixels on)
    and interpolated, which looks the same and costs a fraction.
    """
    if size > _FFT_SIZE:
        raise ValueError(f"noise fields are at most {_FFT_SIZE} pixels wide, got size={size}")
    fields = np.empty((len(scales), size, size), dtype=np.float32)
    tiers = [_coarsening(s) for s in scales]
    for factor in sorted(set(tiers)):
        chosen = [i for i, tier in enumerate(tiers) if tier == factor]
        if chosen:
            grid = _filtered_noise(rng, [scales[i] / factor for i in chosen], _FFT_SIZE // factor)
            if factor > 1:
                grid = _upsample(grid, factor, size)
            fields[chosen] = grid[:, :size, :size]
    fields -= fields.mean(axis=(1, 2), keepdims=True)
    fields /= fields.std(axis=(1, 2), keepdims=True) + 1e-12
    return fields


def _coarsening(scale: float) -> int:
    return 4 if scale >= 6.0 else 2 if scale >= 2.0 else 1


def _upsample(grid: np.ndarray, factor: int, size: int) -> np.ndarray:
    """Bilinear, periodic upsampling of (k, n, n) fields by ``factor``, cropped to ``size``."""
    n = grid.shape[-1]
    position = (np.arange(size) + 0.5) / factor - 0.5
    low = np.floor(position).astype(int)
    weight = (position - low).astype(np.float32)
    low, high = low % n, (low + 1) % n
    rows = grid[:, low, :] * (1 - weight)[:, None] + grid[:, high, :] * weight[:, None]
    return rows[:, :, low] * (1 - weight) + rows[:, :, high] * weight


def _filtered_noise(rng: np.random.Generator, scales: list[float], n: int) -> np.ndarray:
    white = rng.standard_normal((len(scales), n, n), dtype=np.float32)
    freq2 = np.fft.fftfreq(n)[:, None] ** 2 + np.fft.rfftfreq(n)[None, :] ** 2
    sigma = np.asarray(scales, dtype=float)[:, None, None]
    spectrum = sp_fft.rfft2(white) * np.exp(-2 * (np.pi * sigma) ** 2 * freq2).astype(np.float32)
    return sp_fft.irfft2(spectrum, s=(n, n))


def sample_fractions(priors: np.ndarray, rng: np.random.Generator, max_classes: int = 5) -> np.ndarray:
    """Draw the class fractions (9,) of one patch from the class ``priors`` (chapter 1).

    A patch holds 1 to ``max_classes`` classes (mostly 2-4, like BigEarthNet patches), drawn
    without replacement by prior weight; their shares follow a Dirichlet distribution tilted
    towards the more likely classes.
    """
    priors = np.asarray(priors, dtype=float)
    if priors.shape != (len(DW_CLASSES),) or priors.min() < 0 or priors.sum() <= 0:
        raise ValueError(f"priors must be 9 non-negative weights (one per Dynamic World class), got {priors}")
    available = int((priors > 0).sum())
    k = min(int(rng.choice([1, 2, 3, 4, 5], p=[0.1, 0.25, 0.3, 0.22, 0.13])), max_classes, available)
    chosen = rng.choice(len(priors), size=k, replace=False, p=priors / priors.sum())
    shares = rng.dirichlet(np.full(k, 1.5)) * np.sqrt(priors[chosen])
    shares = np.maximum(shares / shares.sum(), 0.02)
    fractions = np.zeros(len(priors))
    fractions[chosen] = shares / shares.sum()
    return fractions


def _river(rng: np.random.Generator, size: int) -> np.ndarray:
    """Return the distance (pixels) to a meandering river centre line crossing the patch."""
    angle = rng.uniform(0, 2 * np.pi)
    centre = rng.uniform(0.3 * size, 0.7 * size, size=2)
    steps = np.arange(-1.2 * size, 1.2 * size, 1.0)
    wavelength, amplitude = rng.uniform(40, 110), rng.uniform(0.3, 0.9)
    heading = angle + amplitude * np.sin(2 * np.pi * steps / wavelength + rng.uniform(0, 2 * np.pi))
    heading += np.cumsum(rng.normal(0, 0.04, size=steps.size))
    path = np.cumsum(np.stack([np.cos(heading), np.sin(heading)]), axis=1)
    path += (centre - path[:, path.shape[1] // 2])[:, None]
    rows, cols = np.round(path).astype(int)
    inside = (rows >= 0) & (rows < size) & (cols >= 0) & (cols < size)
    line = np.ones((size, size), dtype=bool)
    line[rows[inside], cols[inside]] = False
    if line.all():  # the meander left the patch: fall back to a straight crossing
        line[size // 2, :] = False
    return ndimage.distance_transform_edt(line)


@lru_cache(maxsize=4)
def _pixel_grid(size: int) -> np.ndarray:
    return np.mgrid[0:size, 0:size].astype(float)


def rotated_coordinates(size: int, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Return pixel coordinates (u, v) rotated by ``angle`` radians, both starting at 0 (chapter 1).

    Field strips, street grids and the tillage rows of the scene texture share them.
    """
    rows, cols = _pixel_grid(size)
    u = cols * np.cos(angle) + rows * np.sin(angle)
    v = -cols * np.sin(angle) + rows * np.cos(angle)
    return u - u.min(), v - v.min()


def field_parcels(rng: np.random.Generator, size: int = PATCH_SIZE, angle: float | None = None) -> np.ndarray:
    """Return an int32 (size, size) map of field parcels: strips cut into plots on a rotated grid (chapter 1).

    European fields are mostly long rectangles side by side; a strip partition of rotated
    coordinates reproduces that pattern (100-400 m wide, 100-600 m long).
    """
    angle = rng.uniform(0, np.pi) if angle is None else angle
    u, v = rotated_coordinates(size, angle)
    strip_edges = np.cumsum(rng.uniform(10, 40, size=int(u.max() / 10) + 2))
    strips = np.searchsorted(strip_edges, u)
    parcels = np.zeros((size, size), dtype=np.int32)
    for strip in range(int(strips.max()) + 1):
        cut = np.cumsum(rng.uniform(10, 60, size=int(v.max() / 10) + 2))
        inside = strips == strip
        parcels[inside] = strip * _ID_STRIDE + np.searchsorted(cut, v[inside])
    return parcels


def _urban_blocks(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Return (block id map, street mask, grid angle, block size) of a rotated street grid."""
    angle, block = rng.uniform(0, np.pi / 2), rng.uniform(6, 14)
    u, v = rotated_coordinates(size, angle)
    blocks = (np.floor(u / block) * _ID_STRIDE + np.floor(v / block)).astype(np.int32)
    street = ((u % block) < 1.5) | ((v % block) < 1.5)
    return blocks, street, angle, block


def _score_fields(
    rng: np.random.Generator, fractions: np.ndarray, size: int
) -> tuple[dict[int, np.ndarray], np.ndarray, np.ndarray, tuple[float, float], float]:
    """Return the score field of every present class, the elevation, the object ids, the street grid and the field angle."""
    terrain, blobs, patches, texture, town = noise_fields(rng, [22.0, 14.0, 6.0, 2.0, 10.0], size)
    elevation = terrain + 0.15 * texture
    river = _river(rng, size) if 0 < fractions[WATER] < 0.15 and rng.random() < 0.75 else None
    if river is not None:
        elevation = elevation - 2.0 * np.exp(-river / 15.0)  # the river runs in its valley
    farmland = fractions[CROPS] + fractions[GRASS] > 0
    field_angle = float(rng.uniform(0, np.pi))
    ids = field_parcels(rng, size, field_angle) if farmland else np.zeros((size, size), dtype=np.int32)
    per_parcel = rng.random(int(ids.max()) + 1)[ids]
    grid = (0.0, 0.0)
    built = None
    if fractions[BUILT] > 0:
        blocks, street, angle, block = _urban_blocks(rng, size)
        grid = (angle, block)
        # the last term breaks ties inside a block smoothly (a cut block would otherwise be striped)
        built = _block_mean(town, blocks) + 0.3 * rng.random(int(blocks.max()) + 1)[blocks] + 0.01 * town
        in_town = built > np.quantile(built, 1 - fractions[BUILT])
        ids = np.where(in_town, np.where(street, STREET_ID, blocks + URBAN_ID_OFFSET), ids)
    makers = {
        WATER: lambda: -river + 0.8 * texture if river is not None else -elevation,
        SNOW: lambda: elevation + 0.3 * texture,
        BUILT: lambda: built,
        CROPS: lambda: per_parcel + 0.4 * blobs,
        GRASS: lambda: (1 - per_parcel) + 0.4 * blobs,
        TREES: lambda: blobs + 0.2 * texture,
        SHRUB: lambda: patches + 0.3 * texture,
        BARE: lambda: 0.6 * elevation + 0.6 * patches + 0.2 * texture,
        FLOODED_VEG: lambda: -elevation + 0.5 * patches,
    }
    return {c: makers[c]() for c in _ALLOCATION_ORDER if fractions[c] > 0}, elevation, ids, grid, field_angle


def _block_mean(field: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """Average ``field`` over each urban block so that town edges follow the street grid."""
    sums = np.bincount(blocks.ravel(), weights=field.ravel())
    counts = np.maximum(np.bincount(blocks.ravel()), 1)
    return (sums / counts)[blocks]


def _allocate(scores: dict[int, np.ndarray], fractions: np.ndarray, size: int) -> np.ndarray:
    """Let each class, in allocation order, take its share of the free pixels with the highest score."""
    mask = np.full(size * size, 255, dtype=np.uint8)
    counts = np.round(fractions * size * size).astype(int)
    present = [c for c in _ALLOCATION_ORDER if c in scores]
    for cls in present[:-1]:
        free = np.flatnonzero(mask == 255)
        take = min(counts[cls], free.size)
        if take:
            order = np.argpartition(-scores[cls].ravel()[free], take - 1)[:take]
            mask[free[order]] = cls
    mask[mask == 255] = present[-1]
    return mask.reshape(size, size)


def _wetland_scores(scores: dict[int, np.ndarray], mask_water: np.ndarray) -> None:
    """Wetlands hug the water once the water is placed: re-score flooded vegetation by distance."""
    if FLOODED_VEG in scores and mask_water.any():
        distance = ndimage.distance_transform_edt(~mask_water)
        scores[FLOODED_VEG] = -distance / 10.0 + 0.5 * scores[FLOODED_VEG]


def make_layout(fractions: np.ndarray, rng: np.random.Generator, size: int = PATCH_SIZE) -> Layout:
    """Return a :class:`Layout` whose class map holds the given class ``fractions`` (9,) (chapter 1).

    Raises:
        ValueError: if ``fractions`` is not 9 non-negative numbers summing to 1.
    """
    fractions = np.asarray(fractions, dtype=float)
    if fractions.shape != (len(DW_CLASSES),) or fractions.min() < 0 or not np.isclose(fractions.sum(), 1.0):
        raise ValueError(f"fractions must be 9 non-negative shares summing to 1, got {fractions}")
    scores, elevation, parcels, grid, field_angle = _score_fields(rng, fractions, size)
    if WATER in scores and FLOODED_VEG in scores:
        water_only = {WATER: scores[WATER], BARE: np.zeros((size, size))}
        water_share = np.zeros(len(DW_CLASSES))
        water_share[WATER], water_share[BARE] = fractions[WATER], 1 - fractions[WATER]
        _wetland_scores(scores, _allocate(water_only, water_share, size) == WATER)
    mask = _allocate(scores, fractions, size)
    water = mask == WATER
    distance = ndimage.distance_transform_edt(~water) if water.any() else np.full((size, size), 10.0 * size)
    return Layout(mask, elevation.astype(np.float32), distance.astype(np.float32), parcels, grid, field_angle)


def mask_labels(mask: np.ndarray, min_fraction: float = LABEL_MIN_FRACTION) -> list[str]:
    """Return the Dynamic World names of the classes covering at least ``min_fraction`` of ``mask`` (chapter 3).

    Names come in the official Dynamic World order.
    """
    shares = np.bincount(np.asarray(mask).ravel(), minlength=len(DW_CLASSES))[: len(DW_CLASSES)] / mask.size
    return [DW_CLASSES[i] for i in np.flatnonzero(shares >= min_fraction)]
