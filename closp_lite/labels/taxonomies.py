"""Land-cover taxonomies as data: CORINE, BigEarthNet-19, Dynamic World and crisis labels (chapter 3).

Every table here is plain data, so the book can print it and the tests can enumerate it:

* :data:`CORINE_LEVEL1`, :data:`CORINE_LEVEL2`, :data:`CORINE_LEVEL3`: the CORINE Land Cover
  nomenclature (5 / 15 / 44 classes) with codes; level 3 carries its Dynamic World target as in
  the CLOSP mapping (``closp.md`` section 2).
* :data:`BIGEARTHNET19`: the 19-class BigEarthNet nomenclature (Sumbul et al. 2021), each with
  the CORINE level-3 codes it groups and its Dynamic World target. Where the group mixes targets
  the choice is a *judgment call* and the row says why.
* :data:`DYNAMIC_WORLD` and :data:`CRISIS`: the classes of the 12-label vocabulary itself, with
  the alternative spellings the crisis sources use.

CORINE level-3 names follow BigEarthNet v1 (e.g. "Bare rock", "Peatbogs"); the official CLC
spellings ("Bare rocks", "Peat bogs", "Transitional woodland-shrub", "Natural grasslands") are
accepted as aliases.
"""

from __future__ import annotations

from dataclasses import dataclass

CORINE_LEVEL1: dict[int, str] = {
    1: "Artificial surfaces",
    2: "Agricultural areas",
    3: "Forest and semi natural areas",
    4: "Wetlands",
    5: "Water bodies",
}
"""CORINE level 1: code -> name."""

CORINE_LEVEL2: dict[int, str] = {
    11: "Urban fabric",
    12: "Industrial, commercial and transport units",
    13: "Mine, dump and construction sites",
    14: "Artificial, non-agricultural vegetated areas",
    21: "Arable land",
    22: "Permanent crops",
    23: "Pastures",
    24: "Heterogeneous agricultural areas",
    31: "Forests",
    32: "Scrub and/or herbaceous vegetation associations",
    33: "Open spaces with little or no vegetation",
    41: "Inland wetlands",
    42: "Maritime wetlands",
    51: "Inland waters",
    52: "Marine waters",
}
"""CORINE level 2: code -> name (the first digit is the level-1 parent)."""


@dataclass(frozen=True)
class CorineClass:
    """One CORINE level-3 class: code, name, Dynamic World target and accepted aliases (chapter 3)."""

    code: int
    name: str
    target: str
    aliases: tuple[str, ...] = ()

    @property
    def level2(self) -> str:
        """Name of the level-2 parent (the first two digits of the code)."""
        return CORINE_LEVEL2[self.code // 10]

    @property
    def level1(self) -> str:
        """Name of the level-1 parent (the first digit of the code)."""
        return CORINE_LEVEL1[self.code // 100]


CORINE_LEVEL3: tuple[CorineClass, ...] = (
    CorineClass(111, "Continuous urban fabric", "Built"),
    CorineClass(112, "Discontinuous urban fabric", "Built"),
    CorineClass(121, "Industrial or commercial units", "Built"),
    CorineClass(122, "Road and rail networks and associated land", "Built"),
    CorineClass(123, "Port areas", "Built"),
    CorineClass(124, "Airports", "Built"),
    CorineClass(131, "Mineral extraction sites", "Bare"),
    CorineClass(132, "Dump sites", "Bare"),
    CorineClass(133, "Construction sites", "Bare"),
    CorineClass(141, "Green urban areas", "Grass"),
    CorineClass(142, "Sport and leisure facilities", "Grass"),
    CorineClass(211, "Non-irrigated arable land", "Crops"),
    CorineClass(212, "Permanently irrigated land", "Crops"),
    CorineClass(213, "Rice fields", "Flooded Vegetation"),
    CorineClass(221, "Vineyards", "Crops"),
    CorineClass(222, "Fruit trees and berry plantations", "Crops"),
    CorineClass(223, "Olive groves", "Crops"),
    CorineClass(231, "Pastures", "Grass"),
    CorineClass(241, "Annual crops associated with permanent crops", "Crops"),
    CorineClass(242, "Complex cultivation patterns", "Crops"),
    CorineClass(243, "Land principally occupied by agriculture, with significant areas of natural vegetation", "Crops"),
    CorineClass(244, "Agro-forestry areas", "Trees"),
    CorineClass(311, "Broad-leaved forest", "Trees"),
    CorineClass(312, "Coniferous forest", "Trees"),
    CorineClass(313, "Mixed forest", "Trees"),
    CorineClass(321, "Natural grassland", "Grass", ("Natural grasslands",)),
    CorineClass(322, "Moors and heathland", "Shrub and Scrub"),
    CorineClass(323, "Sclerophyllous vegetation", "Shrub and Scrub"),
    CorineClass(324, "Transitional woodland/shrub", "Shrub and Scrub", ("Transitional woodland-shrub",)),
    CorineClass(331, "Beaches, dunes, sands", "Bare"),
    CorineClass(332, "Bare rock", "Bare", ("Bare rocks",)),
    CorineClass(333, "Sparsely vegetated areas", "Bare"),
    CorineClass(334, "Burnt areas", "Burned Area"),
    CorineClass(335, "Glaciers and perpetual snow", "Snow and Ice"),
    CorineClass(411, "Inland marshes", "Flooded Vegetation"),
    CorineClass(412, "Peatbogs", "Flooded Vegetation", ("Peat bogs",)),
    CorineClass(421, "Salt marshes", "Flooded Vegetation"),
    CorineClass(422, "Salines", "Bare"),
    CorineClass(423, "Intertidal flats", "Bare"),
    CorineClass(511, "Water courses", "Water"),
    CorineClass(512, "Water bodies", "Water"),
    CorineClass(521, "Coastal lagoons", "Water"),
    CorineClass(522, "Estuaries", "Water"),
    CorineClass(523, "Sea and ocean", "Water"),
)
"""All 44 CORINE level-3 classes with their Dynamic World target (the CLOSP mapping)."""


@dataclass(frozen=True)
class BigEarthNetClass:
    """One BigEarthNet-19 class: name, the CORINE level-3 codes it groups, target and reason (chapter 3)."""

    name: str
    corine_codes: tuple[int, ...]
    target: str
    note: str


BIGEARTHNET19: tuple[BigEarthNetClass, ...] = (
    BigEarthNetClass("Urban fabric", (111, 112), "Built", "both members map to Built"),
    BigEarthNetClass("Industrial or commercial units", (121,), "Built", "same as CORINE 121"),
    BigEarthNetClass(
        "Arable land", (211, 212, 213), "Crops",
        "judgment call: 213 Rice fields alone would be Flooded Vegetation, but 211 and 212 are Crops "
        "and rice is rare in Europe; the rice signal is lost",
    ),
    BigEarthNetClass(
        "Permanent crops", (221, 222, 223, 241), "Crops",
        "judgment call: orchards and olive groves have tree-like canopies, but CLOSP maps every member "
        "to Crops, so the 19-class label does too",
    ),
    BigEarthNetClass("Pastures", (231,), "Grass", "same as CORINE 231"),
    BigEarthNetClass("Complex cultivation patterns", (242,), "Crops", "same as CORINE 242"),
    BigEarthNetClass(
        "Land principally occupied by agriculture, with significant areas of natural vegetation", (243,), "Crops",
        "same as CORINE 243 (the natural vegetation part is not labelled)",
    ),
    BigEarthNetClass("Agro-forestry areas", (244,), "Trees", "same as CORINE 244"),
    BigEarthNetClass("Broad-leaved forest", (311,), "Trees", "same as CORINE 311"),
    BigEarthNetClass("Coniferous forest", (312,), "Trees", "same as CORINE 312"),
    BigEarthNetClass("Mixed forest", (313,), "Trees", "same as CORINE 313"),
    BigEarthNetClass(
        "Natural grassland and sparsely vegetated areas", (321, 333), "Grass",
        "judgment call: 321 is Grass but 333 is Bare; grassland is the larger member in Europe and "
        "Dynamic World's Grass admits sparse cover, so Grass (sparse mountain patches lose Bare)",
    ),
    BigEarthNetClass(
        "Moors, heathland and sclerophyllous vegetation", (322, 323), "Shrub and Scrub",
        "both members map to Shrub and Scrub",
    ),
    BigEarthNetClass("Transitional woodland, shrub", (324,), "Shrub and Scrub", "same as CORINE 324"),
    BigEarthNetClass("Beaches, dunes, sands", (331,), "Bare", "same as CORINE 331"),
    BigEarthNetClass(
        "Inland wetlands", (411, 412), "Flooded Vegetation",
        "judgment call: marshes and peat bogs are vegetation on waterlogged ground, which is what "
        "Dynamic World calls Flooded Vegetation (both members agree)",
    ),
    BigEarthNetClass(
        "Coastal wetlands", (421, 422), "Flooded Vegetation",
        "judgment call: 421 Salt marshes is Flooded Vegetation, 422 Salines is Bare; salt marshes "
        "dominate the group, so Flooded Vegetation (salt pans lose Bare)",
    ),
    BigEarthNetClass("Inland waters", (511, 512), "Water", "both members map to Water"),
    BigEarthNetClass("Marine waters", (521, 522, 523), "Water", "all members map to Water"),
)
"""The 19 BigEarthNet classes (official names), the CORINE codes they group and their target."""

BIGEARTHNET19_DROPPED: tuple[int, ...] = (122, 123, 124, 131, 132, 133, 141, 142, 332, 334, 335, 423)
"""CORINE level-3 codes that the 19-class nomenclature drops (hard to see at 10 m or too rare)."""

DYNAMIC_WORLD: dict[str, tuple[str, ...]] = {
    "Water": (),
    "Trees": (),
    "Grass": (),
    "Flooded Vegetation": ("Flooded vegetation",),
    "Crops": (),
    "Shrub and Scrub": ("Shrub & Scrub", "Shrub and scrub", "Shrub"),
    "Built": ("Built Area", "Built-up"),
    "Bare": ("Bare Ground",),
    "Snow and Ice": ("Snow & Ice",),
}
"""Dynamic World classes -> accepted alternative spellings (Earth Engine band names use ``_``)."""

CRISIS: dict[str, tuple[str, ...]] = {
    "Flooded Area": ("Flood", "Flooded", "Flooding", "Flooded Areas"),
    "Earthquake Damage": ("Earthquake", "Earthquake Damaged", "Damaged Buildings"),
    "Burned Area": ("Burned", "Burnt Area", "Burned Areas", "Wildfire"),
}
"""Crisis labels -> the spellings crisis sources use for the same event."""
