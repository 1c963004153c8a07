"""Simulated Sentinel-1 and Sentinel-2 scenes, crisis events and geography (chapters 1 and 2).

Everything produced here is **simulated**: land-cover layouts over the 9 Dynamic World classes,
Sentinel-2 L2A reflectance with phenology and clouds, Sentinel-1 GRD backscatter with incidence
angle, texture and speckle, floods, burned areas and earthquake damage, placed at realistic
locations and dates. :func:`simulate_scene` is the experimenting API of the physics chapters.
"""

from closp_lite.simulate.geography import REGIONS, Region, get_region
from closp_lite.simulate.landcover import LABEL_MIN_FRACTION, mask_labels
from closp_lite.simulate.scene import Scene, simulate_scene

__all__ = ["LABEL_MIN_FRACTION", "REGIONS", "Region", "Scene", "get_region", "mask_labels", "simulate_scene"]
