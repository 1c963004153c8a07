"""Simulated Sentinel-1 and Sentinel-2 scenes, crisis events, geography and corpora (chapters 0-2).

Everything produced here is **simulated**: land-cover layouts over the 9 Dynamic World classes,
Sentinel-2 L2A reflectance with crop calendars, texture (fields, forests, towns, banks, terrain),
haze and clouds, Sentinel-1 GRD backscatter with incidence angle, terrain slopes, texture and
speckle, floods, burned areas and earthquake damage, placed at realistic
locations and dates. :func:`simulate_scene` is the experimenting API of the physics chapters;
:func:`sample_corpus` returns the cached simulated corpus of the current scale mode, and
:func:`generate_corpus` writes one of any size in the CrisisLandMark layout.
"""

from closp_lite.simulate.corpus import GENERATOR_VERSION, SOURCES, generate_corpus, sample_corpus
from closp_lite.simulate.geography import REGIONS, Region, get_region
from closp_lite.simulate.landcover import LABEL_MIN_FRACTION, mask_labels
from closp_lite.simulate.scene import Scene, simulate_scene

__all__ = [
    "GENERATOR_VERSION",
    "LABEL_MIN_FRACTION",
    "REGIONS",
    "SOURCES",
    "Region",
    "Scene",
    "generate_corpus",
    "get_region",
    "mask_labels",
    "sample_corpus",
    "simulate_scene",
]
