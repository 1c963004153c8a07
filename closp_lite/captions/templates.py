"""Annotation-to-caption templates with seeded, controlled variety (chapter 4).

A label set becomes one sentence: a modality-aware opening ("A Sentinel-1 radar image of ...",
"A Sentinel-2 scene of ..."), then the labels in a shuffled order, each written with one of a few
nouns from the mention lexicon. Variety is controlled: the same key, style and seed always give
the same caption (:func:`caption_rng`), different keys give different paraphrases.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from closp_lite.labels import CRISIS_LABELS

NOUNS: dict[str, tuple[str, ...]] = {
    "Water": ("water", "open water", "water bodies"),
    "Trees": ("trees", "forest", "woodland"),
    "Grass": ("grassland", "meadows", "pasture"),
    "Flooded Vegetation": ("flooded vegetation", "wetlands", "marshland"),
    "Crops": ("cropland", "farmland", "agricultural fields"),
    "Shrub and Scrub": ("shrubland", "scrub", "bushland"),
    "Built": ("built-up areas", "buildings", "a settlement"),
    "Bare": ("bare ground", "bare soil", "exposed soil"),
    "Snow and Ice": ("snow and ice", "snow", "glacier ice"),
    "Flooded Area": ("flooded areas", "floodwater", "inundated land"),
    "Earthquake Damage": ("earthquake damage", "collapsed buildings", "rubble"),
    "Burned Area": ("a burned area", "a burn scar", "burnt land"),
}
"""Neutral nouns per label (no colours, so they suit both sensors); each contains a lexicon phrase."""

OPENINGS: dict[str, tuple[str, ...]] = {
    "s1": ("A Sentinel-1 radar image of", "A SAR scene showing", "Radar backscatter over", "A C-band SAR patch with"),
    "s2": ("A Sentinel-2 scene of", "A multispectral satellite image of", "An optical image showing", "A Sentinel-2 patch with"),
}
"""Modality-aware openings."""

CRISIS_CLAUSES: dict[str, tuple[str, ...]] = {
    "Flooded Area": ("during a flood", "after flooding"),
    "Earthquake Damage": ("after an earthquake", "hit by an earthquake"),
    "Burned Area": ("after a wildfire", "scarred by a wildfire"),
}
"""How a crisis is attached to the land-cover list ("... during a flood")."""

STYLE_CODES: dict[str, int] = {"closp": 0, "template": 1, "segmentation": 2, "sar-rewrite": 3}
"""Caption styles and the number each mixes into its random stream."""


def caption_rng(key: str, style: str, seed: int) -> np.random.Generator:
    """The random stream of one caption: fixed by sample key, style and seed (chapter 4).

    ``zlib.crc32`` is used because Python's ``hash`` of a string changes between processes.
    """
    if style not in STYLE_CODES:
        raise ValueError(f"unknown caption style {style!r}; choose one of {', '.join(STYLE_CODES)}")
    return np.random.default_rng([seed, zlib.crc32(key.encode("utf-8")), STYLE_CODES[style]])


def check_modality(modality: str) -> str:
    """Return ``modality`` if it is ``"s1"`` or ``"s2"``, else raise ``ValueError`` (chapter 4)."""
    if modality not in OPENINGS:
        raise ValueError(f"modality must be 's1' or 's2', got {modality!r}")
    return modality


def join_phrases(phrases: Sequence[str]) -> str:
    """Join phrases as English: "a", "a and b", "a, b and c" (chapter 4)."""
    if not phrases:
        raise ValueError("nothing to join: a caption needs at least one phrase")
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def pick(options: Sequence[str], rng: np.random.Generator) -> str:
    """One of ``options``, drawn from ``rng`` (chapter 4)."""
    return options[int(rng.integers(len(options)))]


def template_caption(labels: Sequence[str], modality: str, rng: np.random.Generator) -> str:
    """Write one caption from harmonized labels: opening + shuffled land-cover nouns + crisis clause (chapter 4).

    A crisis label without land cover is written as the subject ("... of floodwater").
    """
    check_modality(modality)
    cover = [label for label in labels if label not in CRISIS_LABELS]
    crises = [label for label in labels if label in CRISIS_LABELS]
    if not labels:
        raise ValueError("cannot write a template caption for an empty label set")
    order = rng.permutation(len(cover))
    phrases = [pick(NOUNS[cover[i]], rng) for i in order] or [pick(NOUNS[crises.pop(0)], rng)]
    clauses = [pick(CRISIS_CLAUSES[label], rng) for label in crises]
    return " ".join([pick(OPENINGS[modality], rng), join_phrases(phrases), *([join_phrases(clauses)] if clauses else [])]) + "."
