"""Label taxonomies and harmonization to the 12-label vocabulary (chapter 3)."""

from closp_lite.labels.harmonize import SCHEMES, Harmonized, harmonize
from closp_lite.labels.vocabulary import CRISIS_LABELS, DW_CLASSES, DW_PALETTE, VOCABULARY

__all__ = ["CRISIS_LABELS", "DW_CLASSES", "DW_PALETTE", "SCHEMES", "VOCABULARY", "Harmonized", "harmonize"]
