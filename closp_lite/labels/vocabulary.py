"""The 12-label vocabulary shared by every source of CrisisLandMark (chapter 3).

Nine Dynamic World land-cover classes plus three crisis labels. The Dynamic World palette is
the official one and is used by every plot of a class map.
"""

from __future__ import annotations

DW_CLASSES: tuple[str, ...] = (
    "Water",
    "Trees",
    "Grass",
    "Flooded Vegetation",
    "Crops",
    "Shrub and Scrub",
    "Built",
    "Bare",
    "Snow and Ice",
)
"""Dynamic World classes in their official index order (0 = water ... 8 = snow and ice)."""

CRISIS_LABELS: tuple[str, ...] = ("Flooded Area", "Earthquake Damage", "Burned Area")

VOCABULARY: tuple[str, ...] = DW_CLASSES + CRISIS_LABELS
"""All 12 labels: index i < 9 is the Dynamic World class i, then the crisis labels."""

DW_PALETTE: dict[str, str] = {
    "Water": "#419bdf",
    "Trees": "#397d49",
    "Grass": "#88b053",
    "Flooded Vegetation": "#7a87c6",
    "Crops": "#e49635",
    "Shrub and Scrub": "#dfc35a",
    "Built": "#c4281b",
    "Bare": "#a59b8f",
    "Snow and Ice": "#b39fe1",
}
"""The official Dynamic World visualisation palette."""
