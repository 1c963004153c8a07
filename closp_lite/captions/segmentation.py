"""Segmentation-guided captions: what covers the scene, how much of it, and where (chapter 4).

The per-pixel Dynamic World class map (``mask``, uint8, indices in the order of
:data:`closp_lite.labels.DW_CLASSES`) becomes sentences:

* **proportions -> quantifiers** (:data:`QUANTIFIERS`): "dominated by", "a large area of",
  "some", "a small patch of";
* **layout -> positions** on a 3 x 3 grid (:data:`GRID`) or relations: "along the northern
  edge", "in the south-west corner", "mostly in the north", "a river crosses the scene from west
  to east through the centre" (a thin connected band joining two opposite edges);
* **crisis extents** from a boolean extent map: "About a third of the scene is flooded."

Row 0 of a patch is its northern edge (patches are stored north-up). Only harmonized labels are
written, so a class covering less than the labelling threshold is not mentioned and the caption
stays faithful to the labels.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from closp_lite.captions.templates import check_modality, pick
from closp_lite.labels import CRISIS_LABELS, DW_CLASSES

QUANTIFIERS: tuple[tuple[float, tuple[str, ...]], ...] = (
    (0.5, ("The scene is dominated by {noun}, {where}.", "{Noun} dominates the scene, {where}.")),
    (0.3, ("A large area of {noun} lies {where}.", "Much of the scene is {noun}, {where}.")),
    (0.12, ("Some {noun} lies {where}.", "There is some {noun} {where}.")),
    (0.0, ("A small patch of {noun} lies {where}.", "There is a small patch of {noun} {where}.")),
)
"""Cover share thresholds (descending) -> sentence templates; the first threshold reached wins."""

GRID: tuple[tuple[str, ...], ...] = (
    ("in the north-west corner", "in the north", "in the north-east corner"),
    ("in the west", "in the centre", "in the east"),
    ("in the south-west corner", "in the south", "in the south-east corner"),
)
"""Phrases of the 3 x 3 grid cells (row 0 = north)."""

EDGES: dict[str, str] = {
    "row0": "along the northern edge", "row2": "along the southern edge",
    "col0": "along the western edge", "col2": "along the eastern edge",
}
"""Phrases for a class concentrated in one outer row or column of the grid."""

EXTENT_WORDS: tuple[tuple[float, str], ...] = (
    (0.1, "about a tenth"), (0.2, "about a fifth"), (0.25, "about a quarter"), (1 / 3, "about a third"),
    (0.5, "about half"), (2 / 3, "about two thirds"), (0.75, "about three quarters"), (0.95, "almost all"),
)
"""Fractions a crisis extent is rounded to (the nearest one is used; below 7% "a small part")."""

CRISIS_STATES: dict[str, str] = {
    "Flooded Area": "is flooded",
    "Burned Area": "is burned",
    "Earthquake Damage": "shows earthquake damage",
}
"""How each crisis completes "<fraction> of the scene ..."."""

COVER_NOUNS: dict[str, tuple[str, ...]] = {
    "Water": ("water", "open water"),
    "Trees": ("forest", "woodland", "tree cover"),
    "Grass": ("grassland", "pasture"),
    "Flooded Vegetation": ("flooded vegetation", "marshland"),
    "Crops": ("cropland", "farmland", "arable land"),
    "Shrub and Scrub": ("shrubland", "scrub", "bushland"),
    "Built": ("built-up land",),
    "Bare": ("bare ground", "bare soil", "exposed soil"),
    "Snow and Ice": ("snow", "snow and ice"),
}
"""Mass nouns per land-cover class, so that "some ...", "a small patch of ..." read well."""

LEADS: dict[str, tuple[str, ...]] = {
    "s1": ("Sentinel-1 radar view.", "SAR image."),
    "s2": ("Sentinel-2 optical view.", "Multispectral image."),
}
"""The modality-aware first sentence."""

CONCENTRATION = 0.7
"""Share of a class's pixels that the grid cells named for it must hold."""

WHOLE = 0.6
"""A class covering at least this share is everywhere: no position is given."""

BAND_WIDTH = 25
"""Mean width (pixels) below which a piece joining opposite edges is a band (a river, a road of fields)."""

DENSE = 1.6
"""A grid cell holding this many times its even share of a class is where the class "mostly" lies."""


def _cell_shares(region: np.ndarray) -> np.ndarray:
    """Share of the region's pixels in each of the 3 x 3 grid cells."""
    rows = np.array_split(np.arange(region.shape[0]), 3)
    cols = np.array_split(np.arange(region.shape[1]), 3)
    counts = np.array([[region[np.ix_(r, c)].sum() for c in cols] for r in rows], dtype=float)
    return counts / max(counts.sum(), 1.0)


def _band(region: np.ndarray) -> str | None:
    """Relation phrase if the largest connected piece of ``region`` is a thin band joining opposite edges."""
    pieces, count = ndimage.label(region)
    if count == 0:
        return None
    largest = pieces == (np.argmax(np.bincount(pieces.ravel())[1:]) + 1)
    through = " through the centre" if _cell_shares(largest)[1, 1] > 0 else ""
    if largest[:, 0].any() and largest[:, -1].any() and largest.sum() / region.shape[1] <= BAND_WIDTH:
        return f"in a band from west to east{through}"
    if largest[0, :].any() and largest[-1, :].any() and largest.sum() / region.shape[0] <= BAND_WIDTH:
        return f"in a band from north to south{through}"
    return None


def describe_position(region: np.ndarray) -> str:
    """Where a boolean region lies: a band, an edge, a grid cell, mostly somewhere, or spread out (chapter 4).

    Returns ``""`` for a region covering most of the scene (position says nothing then).
    """
    share = float(region.mean())
    if share == 0.0:
        return "somewhere in the scene"
    if share >= WHOLE:
        return ""
    if (band := _band(region)) is not None:
        return band
    cells = _cell_shares(region)
    order = np.argsort(cells.ravel())[::-1]
    chosen = order[: int(np.searchsorted(np.cumsum(cells.ravel()[order]), CONCENTRATION) + 1)]
    rows, cols = {int(i) // 3 for i in chosen}, {int(i) % 3 for i in chosen}
    if len(chosen) == 1:
        return GRID[rows.pop()][cols.pop()]
    for axis, values in (("row", rows), ("col", cols)):
        if len(values) == 1 and (edge := EDGES.get(f"{axis}{next(iter(values))}")):
            return edge
    if cells.max() * cells.size >= DENSE:
        densest = int(np.argmax(cells))
        return "mostly " + GRID[densest // 3][densest % 3]
    return "spread across the scene"


def extent_phrase(fraction: float) -> str:
    """A fraction of the scene in words: 0.31 -> "about a third" (chapter 4)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"an extent fraction must lie in [0, 1], got {fraction}")
    if fraction < 0.07:
        return "a small part"
    return min(EXTENT_WORDS, key=lambda item: abs(item[0] - fraction))[1]


def _cover_sentence(label: str, region: np.ndarray | None, rng: np.random.Generator) -> str:
    share = 0.0 if region is None else float(region.mean())
    where = "in the scene" if region is None else describe_position(region)
    if label == "Water" and where.startswith("in a band"):
        return f"A river crosses the scene{where.removeprefix('in a band')}."
    noun = pick(COVER_NOUNS[label], rng)
    template = pick(next(options for threshold, options in QUANTIFIERS if share >= threshold), rng)
    return re.sub(r"[\s,]+\.", ".", template.format(noun=noun, Noun=noun[0].upper() + noun[1:], where=where))


def _crisis_sentence(label: str, extent: np.ndarray | None) -> str:
    amount = "part" if extent is None else extent_phrase(float(np.asarray(extent, dtype=bool).mean()))
    return f"{amount[0].upper() + amount[1:]} of the scene {CRISIS_STATES[label]}."


def segmentation_caption(
    labels: Sequence[str],
    modality: str,
    rng: np.random.Generator,
    mask: np.ndarray | None = None,
    extent: np.ndarray | None = None,
) -> str:
    """Describe a patch from its class map: quantities, positions and the crisis extent (chapter 4).

    ``labels`` are harmonized labels (only these are written). Without ``mask`` the land cover is
    written without quantities or positions; without ``extent`` a crisis is "part of the scene".

    Raises:
        ValueError: for a mask that is not a 2-D array of Dynamic World indices.
    """
    check_modality(modality)
    if mask is not None and (mask.ndim != 2 or int(mask.max(initial=0)) >= len(DW_CLASSES)):
        raise ValueError(f"mask must be a 2-D map of Dynamic World indices 0-{len(DW_CLASSES) - 1}")
    if extent is not None and mask is not None and np.shape(extent) != mask.shape:
        raise ValueError(f"extent shape {np.shape(extent)} differs from mask shape {mask.shape}")
    cover = [label for label in labels if label not in CRISIS_LABELS]
    regions = {label: None if mask is None else mask == DW_CLASSES.index(label) for label in cover}
    cover.sort(key=lambda label: -(0.0 if (region := regions[label]) is None else float(region.mean())))
    sentences = [pick(LEADS[modality], rng)]
    sentences += [_cover_sentence(label, regions[label], rng) for label in cover]
    sentences += [_crisis_sentence(label, extent) for label in labels if label in CRISIS_LABELS]
    return " ".join(sentences)
