"""The upstream CLOSP caption: the harmonized label set as text (chapters 3 and 4)."""

from __future__ import annotations

from collections.abc import Iterable

from closp_lite.labels.harmonize import harmonize

__all__ = ["closp_text"]


def closp_text(labels: Iterable[str]) -> str:
    """Return the CLOSP text of a label set: harmonized, sorted, lower-cased, joined with ". " (chapter 4).

    Upstream iterates a Python set, so its order is arbitrary; sorting makes the text (and its
    embedding) deterministic. Source labels are harmonized first; a label that cannot be mapped
    raises ``ValueError`` instead of leaking into the text.
    """
    result = harmonize(labels)
    if result.unmapped:
        raise ValueError(f"cannot write a CLOSP text: unknown labels {result.unmapped}; harmonize or fix them first")
    return ". ".join(sorted(label.lower() for label in result.labels))
