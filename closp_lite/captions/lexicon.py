"""Which words mention which label: the lexicon shared by the caption writers and the audit (chapter 4).

Every caption style writes labels only with phrases from :data:`MENTIONS`, and the audit finds
mentions with the same table, so "faithful" has one definition. Phrases are matched whole-word,
case-insensitively, longest first: "flooded vegetation" is one mention of *Flooded Vegetation*,
not a flood plus some vegetation, and "collapsed buildings" is earthquake damage, not *Built*.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

MENTIONS: dict[str, tuple[str, ...]] = {
    "Water": ("water", "open water", "a river", "river", "lake", "water body", "water bodies"),
    "Trees": ("trees", "forest", "woodland", "tree cover", "wooded land"),
    "Grass": ("grass", "grassland", "meadows", "pasture", "pastures"),
    "Flooded Vegetation": ("flooded vegetation", "wetland", "wetlands", "marsh", "marshland", "swamp"),
    "Crops": ("crops", "cropland", "farmland", "fields", "arable land", "agricultural fields"),
    "Shrub and Scrub": ("shrub and scrub", "shrubland", "scrub", "shrubs", "bushland"),
    "Built": ("built", "built-up area", "built-up areas", "built-up land", "buildings", "houses", "town", "urban area", "settlement"),
    "Bare": ("bare", "bare ground", "bare soil", "bare land", "sand", "rock", "exposed soil"),
    "Snow and Ice": ("snow and ice", "snow", "ice", "glacier"),
    "Flooded Area": ("flooded area", "flooded", "flood", "flooding", "floodwater", "inundated", "inundation"),
    "Earthquake Damage": ("earthquake damage", "earthquake", "collapsed buildings", "damaged buildings", "rubble"),
    "Burned Area": ("burned area", "burned", "burnt", "burn scar", "fire scar", "wildfire"),
}
"""Label -> the phrases that mention it (lower case). Caption writers draw their nouns from here."""


@cache
def _pattern() -> re.Pattern[str]:
    phrases = sorted({p for ps in MENTIONS.values() for p in ps}, key=len, reverse=True)
    return re.compile(r"(?<![\w-])(" + "|".join(re.escape(p) for p in phrases) + r")(?![\w-])", re.IGNORECASE)


@cache
def _owner() -> dict[str, str]:
    owner: dict[str, str] = {}
    for label, phrases in MENTIONS.items():
        for phrase in phrases:
            if owner.setdefault(phrase, label) != label:
                raise ValueError(f"lexicon phrase {phrase!r} mentions both {owner[phrase]!r} and {label!r}")
    return owner


def mentioned_labels(text: str) -> set[str]:
    """Return the vocabulary labels a caption mentions, by the lexicon :data:`MENTIONS` (chapter 4)."""
    owner = _owner()
    return {owner[match.group(1).lower()] for match in _pattern().finditer(text)}


def faithfulness(text: str, labels: Iterable[str]) -> tuple[bool, bool]:
    """Return (every label mentioned, no absent label mentioned) for one caption (chapter 4)."""
    wanted, found = set(labels), mentioned_labels(text)
    return wanted <= found, found <= wanted
