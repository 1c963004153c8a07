"""Harmonize source labels (CORINE, BigEarthNet-19, Dynamic World, crisis) to the 12-label vocabulary (chapter 3).

Unlike the upstream mapping, which silently passes unknown labels through, :func:`harmonize`
returns every label it could not map in :attr:`Harmonized.unmapped`, so a caller can decide to
fail, warn or count them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from closp_lite.labels.taxonomies import BIGEARTHNET19, CORINE_LEVEL3, CRISIS, DYNAMIC_WORLD
from closp_lite.labels.vocabulary import VOCABULARY

SCHEMES: tuple[str, ...] = ("auto", "corine", "bigearthnet19", "dynamicworld")
"""Accepted values of ``scheme``; ``dynamicworld`` includes the crisis labels (as the crisis sources do)."""


@dataclass(frozen=True)
class Harmonized:
    """Result of :func:`harmonize` (chapter 3): ``labels`` sorted vocabulary names, ``unmapped`` inputs it could not map."""

    labels: list[str]
    unmapped: list[str]


def normalize_name(name: str) -> str:
    """Return the lookup key of a label name: case-folded, ``_`` as space, single spaces (chapter 3)."""
    return re.sub(r"\s+", " ", name.replace("_", " ")).strip().casefold()


def _table(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {normalize_name(name): target for name, target in pairs}


def _with_aliases(table: dict[str, tuple[str, ...]]) -> Iterable[tuple[str, str]]:
    for target, aliases in table.items():
        yield target, target
        for alias in aliases:
            yield alias, target


@cache
def scheme_table(scheme: str) -> dict[str, str]:
    """Return the lookup table ``normalized source name -> vocabulary label`` of one scheme (chapter 3).

    ``auto`` is the union of all schemes; the tests check that no name means two things.
    """
    if scheme == "corine":
        return _table((alias, c.target) for c in CORINE_LEVEL3 for alias in (c.name, *c.aliases, str(c.code)))
    if scheme == "bigearthnet19":
        return _table((c.name, c.target) for c in BIGEARTHNET19)
    if scheme == "dynamicworld":
        return _table([*_with_aliases(DYNAMIC_WORLD), *_with_aliases(CRISIS)])
    if scheme == "auto":
        return {key: target for name in SCHEMES[1:] for key, target in scheme_table(name).items()}
    raise ValueError(f"unknown label scheme {scheme!r}; use one of {', '.join(SCHEMES)}")


def harmonize(labels: Iterable[str], scheme: str = "auto") -> Harmonized:
    """Map source labels to the 12-label vocabulary, reporting what cannot be mapped (chapter 3).

    ``labels`` are CORINE level-3 names (or codes), BigEarthNet-19 names, Dynamic World names or
    crisis labels, matched case-insensitively. A bare string is rejected because iterating it
    would harmonize single characters.
    """
    if isinstance(labels, str):
        raise ValueError(f"harmonize expects a list of labels, got the string {labels!r}; wrap it in a list")
    table = scheme_table(scheme)
    found: set[str] = set()
    unmapped: list[str] = []
    for label in labels:
        target = table.get(normalize_name(str(label)))
        if target is None:
            unmapped.append(str(label))
        else:
            found.add(target)
    return Harmonized(labels=sorted(found), unmapped=unmapped)


def vocabulary_index(label: str) -> int:
    """Index of a vocabulary label (0-8 Dynamic World, 9-11 crisis), for multi-hot vectors (chapter 3)."""
    try:
        return VOCABULARY.index(label)
    except ValueError:
        raise ValueError(f"{label!r} is not one of the 12 vocabulary labels; harmonize it first") from None
